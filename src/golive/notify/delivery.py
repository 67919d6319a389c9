"""Sending: a recipient's URLs, rendered with the run's secrets only now, through apprise.

A rendered URL lives only in this call: never in an event, a log line or an error. apprise's
own logger is kept off stderr (a message it logs may hold a URL), and the error recorded for a
failed delivery goes through the run's redactor first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from urllib.parse import quote

from golive.notify.rules import Notification, channel_url, is_channel
from golive.plan.models import Plan
from golive.plan.notify import EMAIL, quiet_apprise

PUBLIC_URL_VARIABLE = "GOLIVE_PUBLIC_URL"
Render = Callable[[str], str]


def public_url(plan: Plan) -> str | None:
    """Mission control's address for links: GOLIVE_PUBLIC_URL, else `notifications.public_url`."""
    given = os.environ.get(PUBLIC_URL_VARIABLE) or plan.notifications.public_url
    return given.rstrip("/") if given else None


def recipient_urls(plan: Plan, recipient: str) -> list[str]:
    """The (templated) apprise URLs of a person or a channel; [] if they cannot be reached."""
    if is_channel(recipient):
        url = channel_url(plan, recipient)
        return [url] if url is not None else []
    person = plan.people.get(recipient)
    if person is None:
        return []
    found = list(person.notify)
    email = plan.notifications.email
    if person.contact and EMAIL.match(person.contact.strip()) and email:
        joiner = "&" if "?" in email else "?"
        found.append(f"{email}{joiner}to={quote(person.contact.strip(), safe='@')}")
    return found


def message(
    plan: Plan, run_id: str, batch: Sequence[Notification], *, link: str | None
) -> tuple[str, str]:
    """(subject, body) of one message carrying a batch of notifications to one recipient."""
    subject = batch[0].subject if len(batch) == 1 else f"{plan.title}: {len(batch)} updates"
    parts: list[str] = []
    for item in batch:
        expected = item.expected.replace("{run}", run_id)
        parts.append(item.happened + (f"\n{expected}" if expected else ""))
    page = f"{link}/runs/{run_id}" if link else f"`golive status {run_id}`"
    parts.append(f"Run {run_id}: {page}")
    return subject, "\n\n".join(parts)


def refusing(problem: str) -> Render:
    """A render for a deliverer without the secrets (or the environment) to fill a URL's
    templates: a URL with a template fails with `problem`, one without passes as it is."""
    from golive.errors import GoliveError

    def render(text: str) -> str:
        if "{{" in text:
            raise GoliveError(problem)
        return text

    return render


def send(
    urls: Sequence[str], *, subject: str, body: str, render: Render, redact: Render
) -> str | None:
    """Deliver one message to every URL; None if all took it, else why not (masked)."""
    apprise = quiet_apprise()
    if not urls:
        return "no notification URL for this recipient"
    sender = apprise.Apprise()
    for url in urls:
        try:
            rendered = render(url)
        except Exception as exc:  # a template the run cannot fill: say which, not the URL
            return redact(f"cannot render a notification URL: {exc}")
        if not sender.add(rendered):
            return "apprise cannot use a notification URL of this recipient"
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = sender.notify(body=body, title=subject)
        log = captured.getvalue()
    if ok:
        return None
    lines = [line.split(" - ", 2)[-1] for line in log.splitlines() if line.strip()]
    return redact("; ".join(lines[-2:]) or "the service refused the message")[:500]
