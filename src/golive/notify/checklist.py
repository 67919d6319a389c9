"""Overdue checklist items: who is told, and the courier that tells them.

An item still open when its `due` passes is a `checklist_overdue` notification to its owner
(its row of `notifications.rules`, else the owner; the managers if it has no owner), once per
item and deadline; still open `notifications.checklist_grace` later (default 24 h), a reminder
goes to the managers. Like a run's rules, what is owed is a pure function (of the plan, the
item's marks and the time); the deliveries are rows of the checklist's outbox
(store/checklist_outbox.py), claimed before sending, so several deliverers send each once.
Marked done before the deadline, an item owes nothing; done while a delivery waits for its
retry, the delivery is dropped.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from golive.engine.checklist import ItemState, statuses
from golive.engine.clock import Clock, SystemClock
from golive.errors import GoliveError, UsageError
from golive.notify.delivery import Render, recipient_urls, refusing, send
from golive.notify.outbox import CLAIM_TTL, by_recipient, retry_at
from golive.notify.rules import managers, recipients
from golive.plan.models import ChecklistItem, NotificationRule, Plan
from golive.store import ChecklistMark, EventStore
from golive.store.checklist_outbox import ChecklistDelivery, ChecklistKey, ChecklistOutbox

OVERDUE = NotificationRule.checklist_overdue.value
REMINDER = "checklist_reminder"  # the managers', after the grace


@dataclass(frozen=True)
class ChecklistNotice:
    """One message owed about an overdue item to one recipient."""

    key: ChecklistKey
    item: ChecklistItem
    due_at: dt.datetime  # when it fell due (the deadline, or the end of the grace)

    @property
    def recipient(self) -> str:
        return self.key.recipient


def deadline(plan: Plan, item: ChecklistItem) -> dt.datetime | None:
    """The item's deadline as an aware UTC time (its `due` is local to the plan's timezone)."""
    if item.due is None:
        return None
    return item.due.end.replace(tzinfo=plan.zone).astimezone(dt.UTC)


def overdue_notices(
    plan: Plan, marks: Sequence[ChecklistMark], *, now: dt.datetime
) -> list[ChecklistNotice]:
    """Every notification the overdue items call for by `now`, in the plan's order."""
    muted = set(plan.notifications.mute)
    if OVERDUE in muted:
        return []
    grace = plan.notifications.checklist_grace
    owed: list[ChecklistNotice] = []
    for status in statuses(plan, marks, now=now):
        due = deadline(plan, status.item)
        if status.state is not ItemState.overdue or due is None:
            continue
        owner = status.item.owner
        concerned = [owner] if owner in plan.people else managers(plan)
        rule = NotificationRule.checklist_overdue
        for who in recipients(plan, rule, concerned=[p for p in concerned if p]):
            owed.append(_notice(plan, status.item, due, OVERDUE, who, due))
        if grace is not None and now >= due + grace:
            for who in managers(plan):
                if who not in muted:
                    owed.append(_notice(plan, status.item, due, REMINDER, who, due + grace))
    return owed


def _notice(
    plan: Plan, item: ChecklistItem, due: dt.datetime, rule: str, who: str, at: dt.datetime
) -> ChecklistNotice:
    key = ChecklistKey(plan.golive, item.id, due.isoformat(), rule, who)
    return ChecklistNotice(key, item, at)


def message(plan: Plan, batch: Sequence[ChecklistNotice]) -> tuple[str, str]:
    """(subject, body) of one message about overdue items to one recipient."""
    if len(batch) == 1:
        subject = f"{plan.title}: checklist item {batch[0].item.id} is overdue"
    else:
        subject = f"{plan.title}: {len(batch)} checklist items overdue"
    parts = []
    for notice in batch:
        item = notice.item
        parts.append(
            f"The checklist item {item.id} ({item.title}) was due {item.due} "
            f"({plan.timezone}) and is still open"
            + (f"; it is {item.owner}'s." if notice.key.rule == REMINDER and item.owner else ".")
        )
        parts.append(
            f"Do it, then mark it done: `golive checklist PLAN --done {item.id} --as YOU`."
            if notice.key.rule == OVERDUE
            else "Make sure it is done, or move its due date in the plan."
        )
    return subject, "\n\n".join(parts)


class ChecklistCourier:
    """Delivers the overdue-item notifications of one plan's checklist."""

    def __init__(
        self,
        *,
        store: EventStore,
        plan: Plan,
        render: Render,
        redact: Render,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.plan = plan
        self.render = render
        self.redact = redact
        self.clock = clock or SystemClock()
        self.outbox = ChecklistOutbox(store)
        self.by = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    def due_soon(self, now: dt.datetime) -> bool:
        """Whether any item's deadline has passed (else there is nothing to read yet)."""
        return any(
            (d := deadline(self.plan, i)) is not None and d <= now for i in self.plan.checklist
        )

    def deliver(self) -> int:
        """One pass: send what is owed now and not sent yet; the number of messages sent."""
        now = self.clock.now()
        if not self.due_soon(now):
            return 0
        owed = overdue_notices(self.plan, self.store.checklist_marks(self.plan.golive), now=now)
        if not owed:
            return 0
        book = self.outbox.deliveries(self.plan.golive)
        owed = [n for n in owed if n.key not in book or book[n.key].deliverable(now)]
        return sum(self._deliver(batch, book) for batch in by_recipient(owed).values())

    def _deliver(
        self, batch: list[ChecklistNotice], book: dict[ChecklistKey, ChecklistDelivery]
    ) -> int:
        now = self.clock.now()
        won = set(
            self.outbox.claim([n.key for n in batch], by=self.by, now=now, until=now + CLAIM_TTL)
        )
        batch = [n for n in batch if n.key in won]
        if not batch:
            return 0
        keys = [n.key for n in batch]
        attempt = max((book[k].attempts if k in book else 0) for k in keys) + 1
        subject, body = message(self.plan, batch)
        error = send(
            recipient_urls(self.plan, batch[0].recipient),
            subject=subject,
            body=body,
            render=self.render,
            redact=self.redact,
        )
        if error is None:
            self.outbox.sent(keys, by=self.by, now=self.clock.now())
            return 1
        retry = retry_at(attempt, now)
        self.outbox.failed(keys, by=self.by, now=self.clock.now(), error=error, retry_at=retry)
        return 0


def renderers(plan: Plan, path: Path, *, env: str | None, strict: bool) -> tuple[Render, Render]:
    """(render, redact) for the checklist's URLs: the secrets of `env`, else of the production
    environment. With `strict`, a URL template that cannot be filled is a UsageError now;
    otherwise each delivery that needs it fails, saying why (e.g. in `golive serve`)."""
    from golive.engine.context import RunContext

    target = env or next((e for e in plan.environments if plan.is_production(e)), None)
    problem = "the checklist's notification URLs have templates: pass --env ENV to fill them"
    if target is not None:
        try:
            context = RunContext.build(
                plan, env=target, release=None, run_id="checklist", plan_path=path
            )
        except GoliveError as exc:
            if strict:
                raise
            problem = exc.message
        else:
            return context.render, context.redact
    urls = [u for person in plan.people.values() for u in person.notify] + list(plan.channels)
    urls += [plan.notifications.email] if plan.notifications.email else []
    if strict and any("{{" in url for url in urls):
        raise UsageError(problem)
    return refusing(problem), str


def failing_lines(deliveries: Sequence[ChecklistDelivery], *, open_items: set[str]) -> list[str]:
    """For `golive checklist`: how many notifications went out, and each one whose last
    delivery failed (of an item still open), with the masked reason and what happens next."""
    sent = sum(1 for d in deliveries if d.state == "sent")
    lines = [f"notifications: {sent} sent"] if deliveries else []
    for d in sorted(deliveries, key=lambda d: d.key):
        if d.state != "failed" or d.key.item not in open_items:
            continue
        then = f"retry at {d.retry_at:%H:%M:%S} UTC" if d.retry_at else "given up"
        lines.append(
            f"notification to {d.key.recipient} about {d.key.item} FAILING "
            f"(attempt {d.attempts}, {then}): {d.error}"
        )
    return lines
