"""`sentry:` checks: how many new issues (or error events) a release brought, from Sentry's API.

The documented endpoints of Sentry's web API (https://docs.sentry.io/api/), bearer auth:

- `GET /api/0/projects/{org}/{project}/`: the project, for its numeric id;
- new issues: `GET /api/0/organizations/{org}/issues/?project=ID&query=firstRelease:R ...`,
  followed page by page through the `Link` header (`rel="next"; results="true"; cursor=...`);
- events: `GET /api/0/organizations/{org}/events/?field=count()&dataset=errors&project=ID
  &query=release:R`, one row `{"count()": N}`.

The token is sent in a header only; summaries never quote it, nor Sentry's answer bodies.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from golive.checks.http import client, hide_userinfo
from golive.checks.outcome import CheckOutcome, Resources, redacted, shorten
from golive.plan.models import SentryCheck, SentryCount

PAGE_SIZE = 100
MAX_PAGES = 20  # 2,000 issues: more than enough to say a release is red
SHOWN_ISSUES = 10
_LINK = re.compile(r"<([^>]*)>\s*;([^,<]*)")
_PARAM = re.compile(r'(\w+)="([^"]*)"')


class SentryError(Exception):
    """Sentry did not answer what the check needs: the message says what to do next."""


@dataclass(frozen=True)
class _Api:
    http: httpx.AsyncClient
    base: str
    headers: dict[str, str]
    timeout: float

    async def get(self, path: str, params: list[tuple[str, str]]) -> httpx.Response:
        url = f"{self.base}/api/0/{path}"
        try:
            query = httpx.QueryParams(tuple(params))
            response = await self.http.get(
                url, params=query, headers=self.headers, timeout=self.timeout
            )
        except httpx.TimeoutException:
            raise SentryError(f"no answer within {self.timeout:g}s") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise SentryError(f"cannot reach Sentry: {type(exc).__name__}: {exc}") from None
        _raise_for_status(response)
        return response

    async def pages(self, path: str, params: list[tuple[str, str]]) -> tuple[list[Any], bool]:
        """Every item of a paginated list (at most MAX_PAGES pages), and whether more remain."""
        items: list[Any] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = params + ([("cursor", cursor)] if cursor else [])
            response = await self.get(path, page)
            body = _json(response)
            if not isinstance(body, list):
                raise SentryError(f"{path}: expected a list, got {type(body).__name__}")
            items.extend(body)
            cursor = next_cursor(response.headers.get("link", ""))
            if cursor is None:
                return items, False
        return items, True


def next_cursor(link: str) -> str | None:
    """The cursor of the next page from Sentry's Link header, or None on the last page.

    `<...?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"`: Sentry always sends a
    next link; `results="false"` says it is empty."""
    for _url, attributes in _LINK.findall(link):
        found = dict(_PARAM.findall(attributes))
        if found.get("rel") == "next":
            return found.get("cursor") if found.get("results") == "true" else None
    return None


async def check_sentry(
    check: SentryCheck,
    *,
    render: Callable[[str], str],
    redact: Callable[[str], str],
    resources: Resources,
    timeout: float,
) -> CheckOutcome:
    """Count the release's new issues (or events) and compare the count with the expectation."""
    slug = render(check.sentry)
    release = render(check.release)
    base = render(check.url).rstrip("/")
    shown = redact(f"sentry {hide_userinfo(base)} {slug} release {release}")
    token = render(check.token)
    if not token.strip():
        return CheckOutcome(False, f"{shown}: the token is empty; set the secret it comes from")
    api = _Api(
        client(resources, insecure=False),
        base,
        {"Authorization": f"Bearer {token.strip()}", "Accept": "application/json"},
        timeout,
    )
    organization, _, project = slug.partition("/")
    try:
        project_id = await _project_id(api, organization, project)
        terms = _terms(check, release, render)
        if check.measure is SentryCount.events:
            count, details = await _events(api, check, organization, project_id, terms)
        else:
            count, details = await _new_issues(api, check, organization, project_id, terms)
    except SentryError as exc:
        reason = str(exc).replace(token, "••••••") if len(token) >= 8 else str(exc)
        return CheckOutcome(False, f"{shown}: " + redact(reason))
    # an error's title may quote a secret: masked before it is cut, so no part of one survives
    details = redacted({"count": count, **details}, redact)
    for issue in details.get("issues", []):
        issue["title"] = shorten(issue["title"], 80)
    return _judge(check, count, details, shown=shown, redact=redact)


def _terms(check: SentryCheck, release: str, render: Callable[[str], str]) -> str:
    word = "firstRelease" if check.measure is SentryCount.new_issues else "release"
    terms = [f"{word}:{_quoted(release)}"]
    if check.query:
        terms.append(render(check.query))
    return " ".join(terms)


def _quoted(value: str) -> str:
    if re.fullmatch(r"[^\s\"]+", value):
        return value
    return '"' + value.replace('"', '\\"') + '"'


def stats_period(period: dt.timedelta) -> str:
    """A duration as Sentry's statsPeriod (14d, 24h, 90m, 30s)."""
    seconds = max(int(period.total_seconds()), 1)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


async def _project_id(api: _Api, organization: str, project: str) -> str:
    response = await api.get(f"projects/{organization}/{project}/", [])
    body = _json(response)
    if not isinstance(body, dict) or "id" not in body:
        raise SentryError("the project's answer has no id")
    return str(body["id"])


def _scope(check: SentryCheck, project_id: str, terms: str) -> list[tuple[str, str]]:
    params = [
        ("project", project_id),
        ("query", terms),
        ("statsPeriod", stats_period(check.period)),
    ]
    if check.environment:
        params.append(("environment", check.environment))
    return params


async def _new_issues(
    api: _Api, check: SentryCheck, organization: str, project_id: str, terms: str
) -> tuple[int, dict[str, Any]]:
    params = [*_scope(check, project_id, terms), ("limit", str(PAGE_SIZE))]
    issues, more = await api.pages(f"organizations/{organization}/issues/", params)
    listed = [
        {"id": str(i.get("shortId") or i.get("id")), "title": str(i.get("title", ""))}
        for i in issues
        if isinstance(i, dict)
    ]
    details: dict[str, Any] = {"issues": listed[:SHOWN_ISSUES]}
    if more:
        details["at_least"] = True
    return len(listed), details


async def _events(
    api: _Api, check: SentryCheck, organization: str, project_id: str, terms: str
) -> tuple[int, dict[str, Any]]:
    params = [*_scope(check, project_id, terms), ("field", "count()"), ("dataset", "errors")]
    body = _json(await api.get(f"organizations/{organization}/events/", params))
    try:
        return int(body["data"][0]["count()"]), {}
    except (KeyError, IndexError, TypeError, ValueError):
        raise SentryError("the events answer has no count() row") from None


def _judge(
    check: SentryCheck,
    count: int,
    details: dict[str, Any],
    *,
    shown: str,
    redact: Callable[[str], str],
) -> CheckOutcome:
    noun = "new issue" if check.measure is SentryCount.new_issues else "event"
    figure = f"{count}{'+' if details.get('at_least') else ''} {noun}{'' if count == 1 else 's'}"
    ids = [i["id"] for i in details.get("issues", [])]
    listed = f" ({redact(', '.join(ids[:3]))}{', ...' if len(ids) > 3 else ''})" if ids else ""
    if check.below is not None and count >= check.below:
        return CheckOutcome(
            False, f"{shown}: {figure}{listed}, expected below {check.below}", details
        )
    if check.equals is not None and count != check.equals:
        return CheckOutcome(False, f"{shown}: {figure}{listed}, expected {check.equals}", details)
    return CheckOutcome(True, f"{shown}: {figure}{listed}", details)


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    if status == 401:
        raise SentryError("Sentry refused the token (401): check the secret holds a valid token")
    if status == 403:
        raise SentryError(
            "the token may not read this project (403): give it the event:read, "
            "project:read and org:read scopes"
        )
    if status == 404:
        raise SentryError(
            "no such organization or project (404): check the slugs in `sentry: org/project`"
        )
    if status == 429:
        wait = response.headers.get("retry-after", "").strip()
        after = f"; Sentry asks to wait {wait}s" if wait.isdigit() else ""
        raise SentryError(f"rate limited by Sentry (429){after}: run the check less often")
    raise SentryError(f"Sentry answered {status} {response.reason_phrase}".strip())


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise SentryError(f"Sentry's answer is not JSON (HTTP {response.status_code})") from None
