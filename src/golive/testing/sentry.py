"""A fake Sentry for testing `sentry:` checks: a real HTTP server on a free loopback port serving
the part of Sentry's web API (https://docs.sentry.io/api/) golive uses, with Sentry's shapes.

    with SentryServer.start(token="sntrys_test") as sentry:
        sentry.add_project("gym", "booking")
        sentry.add_issue("gym", "booking", "TypeError: x is undefined", release="2.0.0")
        ...  # {sentry: gym/booking, url: sentry.url, release: 2.0.0, token: ..., below: 1}

Served (all need `Authorization: Bearer TOKEN`: 401 without it or with another token):

- `GET /api/0/projects/{org}/{project}/`: the project (404 for an unknown one);
- `GET /api/0/organizations/{org}/issues/`: `project` (id, repeatable), `query`, `environment`,
  `statsPeriod`, `limit` (at most 100), `cursor`; a query of `is:`, `firstRelease:`, `release:`,
  `level:` terms (quoted values too; any other key is a 400, as Sentry answers an invalid
  search); no query means `is:unresolved`; pages linked by a `Link` header as Sentry writes it;
- `GET /api/0/organizations/{org}/events/`: `field=count()` with the same filters, counting
  events; one row `{"count()": N}`.

`fail_next(status, retry_after=)` makes the next answers fail; `requests` lists what was asked.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

MAX_LIMIT = 100
_TERM = re.compile(r'(!?)([\w.]+):("(?:[^"\\]|\\.)*"|\S+)|(\S+)')
_PERIOD = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass
class FakeIssue:
    """One issue (error group) of a project, with its events per release."""

    id: int
    short_id: str
    title: str
    project: str
    first_release: str | None
    level: str = "error"
    status: str = "unresolved"
    environment: str = "production"
    first_seen: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    events: dict[str, int] = field(default_factory=dict)  # release -> count

    def shape(self, project_id: str, project_name: str) -> dict[str, Any]:
        seen = self.first_seen.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {
            "id": str(self.id),
            "shortId": self.short_id,
            "title": self.title,
            "culprit": "",
            "level": self.level,
            "status": self.status,
            "firstSeen": seen,
            "lastSeen": seen,
            "count": str(sum(self.events.values())),
            "userCount": 0,
            "assignedTo": None,
            "isBookmarked": False,
            "isSubscribed": False,
            "isPublic": False,
            "project": {"id": project_id, "name": project_name, "slug": self.project},
        }


class SentryServer:
    """The fake Sentry; use `start()` as a context manager."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.projects: dict[tuple[str, str], str] = {}  # (org, slug) -> id
        self.issues: list[FakeIssue] = []
        self.requests: list[str] = []
        self._failures: list[tuple[int, str | None]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @classmethod
    def start(cls, *, token: str) -> SentryServer:
        server = cls(token)
        server._thread.start()
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SentryServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests set up ---

    def add_project(self, organization: str, slug: str) -> str:
        with self._lock:
            project_id = str(len(self.projects) + 1)
            self.projects[(organization, slug)] = project_id
            return project_id

    def add_issue(
        self,
        organization: str,
        project: str,
        title: str,
        *,
        release: str | None,
        events: int = 1,
        level: str = "error",
        status: str = "unresolved",
        environment: str = "production",
        first_seen: dt.datetime | None = None,
    ) -> str:
        """An issue first seen in `release` with `events` events there; its short id."""
        if (organization, project) not in self.projects:
            raise KeyError(f"add_project({organization!r}, {project!r}) first")
        with self._lock:
            number = next(self._ids)
            issue = FakeIssue(
                id=1000 + number,
                short_id=f"{project.upper()}-{number}",
                title=title,
                project=project,
                first_release=release,
                level=level,
                status=status,
                environment=environment,
                events={release or "": events},
            )
            if first_seen is not None:
                issue.first_seen = first_seen
            self.issues.append(issue)
            return issue.short_id

    def add_events(self, short_id: str, *, release: str, count: int = 1) -> None:
        """More events of an existing issue, in `release`."""
        with self._lock:
            issue = next(i for i in self.issues if i.short_id == short_id)
            issue.events[release] = issue.events.get(release, 0) + count

    def fail_next(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` requests get `status` (429 with a Retry-After header, for instance)."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    # --- what the handler answers ---

    def answer(self, path: str, query: dict[str, list[str]], auth: str | None) -> _Answer:
        with self._lock:
            self.requests.append(path + ("?" + urlencode(query, doseq=True) if query else ""))
            if self._failures:
                status, retry_after = self._failures.pop(0)
                headers = {"Retry-After": retry_after} if retry_after else {}
                return _Answer(status, {"detail": "Request was throttled."}, headers)
            if auth is None:
                return _Answer(401, {"detail": "Authentication credentials were not provided."})
            if auth != f"Bearer {self.token}":
                return _Answer(401, {"detail": "Invalid token"})
            return self._route(path, query)

    def _route(self, path: str, query: dict[str, list[str]]) -> _Answer:
        parts = [p for p in path.split("/") if p]
        if len(parts) == 5 and parts[:3] == ["api", "0", "projects"]:
            project_id = self.projects.get((parts[3], parts[4]))
            if project_id is None:
                return _not_found()
            return _Answer(200, {"id": project_id, "slug": parts[4], "name": parts[4]})
        if len(parts) == 5 and parts[:3] == ["api", "0", "organizations"]:
            organization, resource = parts[3], parts[4]
            if not any(org == organization for org, _ in self.projects):
                return _not_found()
            if resource == "issues":
                return self._issues(organization, query, path)
            if resource == "events":
                return self._events(organization, query)
        return _not_found()

    def _selected(
        self, organization: str, query: dict[str, list[str]], *, default: str
    ) -> list[tuple[FakeIssue, int]] | _Answer:
        """The issues matching the request, each with its number of matching events."""
        ids = set(query.get("project", []))
        projects = {
            slug: pid
            for (org, slug), pid in self.projects.items()
            if org == organization and (not ids or pid in ids)
        }
        if ids - set(projects.values()):
            return _Answer(403, {"detail": "You do not have permission to perform this action."})
        search = query.get("query", [default])[0]
        terms = _parse(search)
        if terms is None:
            return _Answer(400, {"detail": f"Invalid search query: {search}"})
        since = _since(query.get("statsPeriod", ["14d"])[0])
        environment = query.get("environment", [None])[0]
        found = []
        for issue in self.issues:
            if issue.project not in projects or issue.first_seen < since:
                continue
            if environment and issue.environment != environment:
                continue
            events = _matching_events(issue, terms)
            if events is not None:
                found.append((issue, events))
        return found

    def _issues(self, organization: str, query: dict[str, list[str]], path: str) -> _Answer:
        selected = self._selected(organization, query, default="is:unresolved")
        if isinstance(selected, _Answer):
            return selected
        limit = min(int(query.get("limit", ["25"])[0]), MAX_LIMIT)
        cursor = query.get("cursor", ["0:0:0"])[0]
        try:
            offset = int(cursor.split(":")[1])
        except (IndexError, ValueError):
            return _Answer(400, {"detail": "Invalid cursor parameter."})
        page = selected[offset : offset + limit]
        body = [
            issue.shape(self.projects[(organization, issue.project)], issue.project)
            for issue, _ in page
        ]
        link = _link(self.url + path, query, offset, limit, more=offset + limit < len(selected))
        return _Answer(200, body, {"Link": link})

    def _events(self, organization: str, query: dict[str, list[str]]) -> _Answer:
        if query.get("field") != ["count()"]:
            return _Answer(400, {"detail": "this fake answers field=count() only"})
        selected = self._selected(organization, query, default="")
        if isinstance(selected, _Answer):
            return selected
        total = sum(events for _, events in selected)
        return _Answer(
            200, {"data": [{"count()": total}], "meta": {"fields": {"count()": "integer"}}}
        )


@dataclass(frozen=True)
class _Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _not_found() -> _Answer:
    return _Answer(404, {"detail": "The requested resource does not exist"})


def _parse(search: str) -> list[tuple[bool, str, str]] | None:
    terms = []
    for negated, key, value, bare in _TERM.findall(search):
        if bare or key not in ("is", "firstRelease", "release", "level"):
            return None
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        terms.append((bool(negated), key, value))
    return terms


def _matching_events(issue: FakeIssue, terms: list[tuple[bool, str, str]]) -> int | None:
    """How many of the issue's events match, or None when the issue itself does not."""
    releases = set(issue.events)
    for negated, key, value in terms:
        if key == "release":
            hit = value in issue.events
            releases = releases & {value} if not negated else releases - {value}
        else:
            hit = {
                "is": issue.status == value,
                "firstRelease": issue.first_release == value,
                "level": issue.level == value,
            }[key]
        if hit == negated:
            return None
    return sum(issue.events[r] for r in releases)


def _since(period: str) -> dt.datetime:
    found = _PERIOD.match(period)
    seconds = int(found.group(1)) * _UNITS[found.group(2)] if found else 14 * 86400
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)


def _link(base: str, query: dict[str, list[str]], offset: int, limit: int, *, more: bool) -> str:
    """Sentry's Link header: a previous and a next link, each saying whether it has results."""

    def one(cursor: str, rel: str, results: bool) -> str:
        params = {k: v for k, v in query.items() if k != "cursor"} | {"cursor": [cursor]}
        url = f"{base}?{urlencode(params, doseq=True)}"
        return f'<{url}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'

    previous = one(f"0:{max(offset - limit, 0)}:1", "previous", offset > 0)
    return previous + ", " + one(f"0:{offset + limit}:0", "next", more)


def _handler(sentry: SentryServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            answer = sentry.answer(
                parts.path,
                parse_qs(parts.query, keep_blank_values=True),
                self.headers.get("Authorization"),
            )
            body = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            return

    return Handler
