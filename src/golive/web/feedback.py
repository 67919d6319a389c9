"""The public feedback form of a run in hypercare (`hypercare.feedback: true`): no account needed.

- `GET /feedback/{run}/{token}`: a small form (what went wrong, optional contact, optional
  severity), posted as an HTML form to the same address, which answers with a thank-you page;
- `POST /api/feedback/{run}/{token}`: the same as JSON, `{"what": ..., "contact": ...,
  "severity": "info" | "warning" | "critical"}`, answered `201 {"issue": SEQ, "message": ...}`.

The token is random, one per run (`golive.store.feedback`); `feedback_url()` gives the link
(and makes the token the first time). A wrong token, an unknown run, or a run whose plan does
not ask for feedback is a 404 with the body of any unknown address. Each client address may
send `REPORTS` reports per `WINDOW` seconds (the address is the one `golive.web.guard` believes:
a trusted proxy's X-Forwarded-For only); a body is at most `ANONYMOUS_MAX_BODY` (16 KiB, 413),
the text at most MAX_TEXT characters (400). Each report becomes an `IssueRaised` with
`source="feedback"`, `by="feedback"` and the contact given; a text longer than an issue's title
is kept whole in a first comment by "feedback".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from golive.engine.call import MAX_TEXT, MAX_TITLE
from golive.engine.events import IssueCommented, IssueRaised, Severity, encode
from golive.engine.operator import read_state, run_plan
from golive.errors import RunNotFound
from golive.store import EventStore
from golive.store.coordination import LoginFailures
from golive.store.feedback import feedback_token, token_matches
from golive.web.app import Mission, mission
from golive.web.auth import check_same_origin

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api")
REPORTS = 5
WINDOW = 600.0
MAX_CONTACT = 200
SOURCE = "feedback"


def feedback_url(*, store: EventStore, run_id: str, public_url: str) -> str | None:
    """The public feedback link of a run, e.g. https://golive.example/feedback/r-1/TOKEN, or None
    when the run's plan does not ask for feedback; the run's token is made on the first call.
    `public_url` is the address people reach `golive serve` at."""
    state = read_state(store, run_id)
    plan = run_plan(state, display=store.get_run(run_id).plan_path)
    if plan.hypercare is None or not plan.hypercare.feedback:
        return None
    token = feedback_token(store=store, run_id=run_id, create=True)
    return f"{public_url.rstrip('/')}/feedback/{run_id}/{token}"


@dataclass(frozen=True)
class Report:
    what: str
    contact: str | None
    severity: Severity


class Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def limiter(store: EventStore) -> LoginFailures:
    """The per-address limit on reports, counted in the store so that every replica of
    `golive serve` on it shares one count."""
    return LoginFailures(store, failures=REPORTS, window=WINDOW)


CLOSED = "this go-live's hypercare is over: reports are closed; reach the team another way"


def _open(m: Mission, run_id: str, token: str) -> str:
    """The plan's title if the link is good; else the 404 any unknown address gets. After
    hypercare ended (HypercareExited), a good link gets a 410: reports are closed."""
    try:
        entry = m.runs.entry(run_id)
        plan = m.runs.plan(entry)
    except RunNotFound:
        raise HTTPException(404, "Not Found") from None
    wanted = plan.hypercare is not None and plan.hypercare.feedback
    if not wanted or not token_matches(store=m.store, run_id=run_id, token=token):
        raise HTTPException(404, "Not Found")
    if m.store.events(run_id, types=["HypercareExited"]):
        raise HTTPException(410, CLOSED)
    return plan.title


def _report(fields: dict[str, Any]) -> Report:
    what = fields.get("what")
    if not isinstance(what, str) or not what.strip():
        raise Refused(400, "what: say what went wrong (a text of 1 to 4000 characters)")
    if len(what.strip()) > MAX_TEXT:
        raise Refused(400, f"what: {len(what.strip())} characters; at most {MAX_TEXT}")
    contact = fields.get("contact") or None
    if contact is not None and (not isinstance(contact, str) or len(contact) > MAX_CONTACT):
        raise Refused(400, f"contact: a text of at most {MAX_CONTACT} characters")
    severity = fields.get("severity") or Severity.warning.value
    if severity not in {s.value for s in Severity}:
        raise Refused(400, "severity: one of " + ", ".join(s.value for s in Severity))
    unknown = sorted(set(fields) - {"what", "contact", "severity"})
    if unknown:
        raise Refused(400, f"{unknown[0]}: not a field of a report (what, contact, severity)")
    return Report(what.strip(), contact.strip() if contact else None, Severity(severity))


def _admit(request: Request, store: EventStore) -> None:
    address = request.client.host if request.client else "unknown"
    keys = [f"feedback:{address}"]
    rate = limiter(store)
    wait = rate.wait(keys)
    if wait > 0:
        seconds = int(wait) + 1
        raise Refused(
            429,
            f"too many reports from your address: try again in {seconds} s",
            {"Retry-After": str(seconds)},
        )
    rate.failed(keys)  # counted: a report, accepted or not


def record_report(m: Mission, run_id: str, report: Report) -> int:
    """The report in the run's issue log; its issue id (seq)."""
    line = " ".join(report.what.split())
    title = line if len(line) <= MAX_TITLE else line[: MAX_TITLE - 3].rstrip() + "..."
    issue = IssueRaised(
        by=SOURCE, title=title, severity=report.severity, source=SOURCE, contact=report.contact
    )
    type_name, step, data = encode(issue)
    record = m.store.append(run_id, type_name, step=step, data=data)
    if title != report.what:
        comment = IssueCommented(issue=record.seq, by=SOURCE, text=report.what)
        type_name, step, data = encode(comment)
        m.store.append(run_id, type_name, step=step, data=data)
    m.runs.sync(run_id)  # folded now: the run page's watchers see it at once
    return record.seq


def _page(m: Mission, request: Request, context: dict[str, Any], status: int = 200) -> Response:
    base = {
        "user": None,
        "csrf": "",
        "max_text": MAX_TEXT,
        "max_contact": MAX_CONTACT,
        "closed": None,
    }
    return m.templates.TemplateResponse(
        request, "feedback.html", {**base, **context}, status_code=status
    )


@router.get("/feedback/{run_id}/{token}")
def feedback_form(
    run_id: str, token: str, request: Request, m: Mission = Depends(mission)
) -> Response:
    title = _open_page(m, run_id, token)
    if title is None:
        return _closed(m, request)
    return _page(m, request, {"title": title, "error": None, "sent": None, "form": {}})


def _open_page(m: Mission, run_id: str, token: str) -> str | None:
    """As `_open`, for the HTML form: None when reports are closed (a page says so)."""
    try:
        return _open(m, run_id, token)
    except HTTPException as exc:
        if exc.status_code == 410:
            return None
        raise


def _closed(m: Mission, request: Request) -> Response:
    context: dict[str, Any] = {
        "title": "",
        "error": None,
        "sent": None,
        "form": {},
        "closed": CLOSED,
    }
    return _page(m, request, context, 410)


@router.post("/feedback/{run_id}/{token}")
async def feedback_post_form(
    run_id: str, token: str, request: Request, m: Mission = Depends(mission)
) -> Response:
    title = _open_page(m, run_id, token)
    if title is None:
        return _closed(m, request)
    check_same_origin(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        _admit(request, m.store)
        number = record_report(m, run_id, _report(form))
    except Refused as refused:
        context = {"title": title, "error": refused.message, "sent": None, "form": form}
        response = _page(m, request, context, refused.status)
        response.headers.update(refused.headers)
        return response
    return _page(m, request, {"title": title, "error": None, "sent": number, "form": {}}, 201)


class ReportIn(BaseModel):
    """A user's report (documentation only: the route reads the body itself, to answer 400)."""

    model_config = ConfigDict(extra="forbid")
    what: str = Field(min_length=1, max_length=MAX_TEXT, description="What went wrong")
    contact: str | None = Field(default=None, max_length=MAX_CONTACT)
    severity: Severity = Severity.warning


class ReportOut(BaseModel):
    """The report's entry in the run's issue log."""

    issue: int
    message: str


class Refusal(BaseModel):
    error: str


_REFUSALS = {
    400: "The body is not a report: one line says which field and why",
    401: "An Authorization header with a token that is not valid (none is needed)",
    404: "No such run, a wrong token, or a run whose plan asks for no feedback",
    410: "The run's hypercare is over: reports are closed",
    413: "The body is larger than 16 KiB",
    429: "Too many reports from this address: Retry-After says when to try again",
}
REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Refusal, "description": text} for code, text in _REFUSALS.items()
}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` put in place (the OpenAPI document has none)."""
    defs = schema.pop("$defs", {})

    def place(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return place(defs[ref.removeprefix("#/$defs/")])
            return {key: place(value) for key, value in node.items()}
        if isinstance(node, list):
            return [place(item) for item in node]
        return node

    placed: dict[str, Any] = place(schema)
    return placed


REPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inline(ReportIn.model_json_schema())}},
    }
}


@api_router.post(
    "/feedback/{run_id}/{token}",
    status_code=201,
    response_model=ReportOut,
    responses=REPORT_RESPONSES,
    openapi_extra=REPORT_BODY,
)
async def feedback_post_json(
    run_id: str, token: str, request: Request, m: Mission = Depends(mission)
) -> Response:
    """Report a problem in a run as a user (no account: the link's token is the permission)."""
    _open(m, run_id, token)
    try:
        try:
            fields = json.loads(await request.body())
        except ValueError:
            raise Refused(400, 'the body is not JSON: send {"what": "..."}') from None
        if not isinstance(fields, dict):
            raise Refused(400, 'the body must be a JSON object: {"what": "..."}')
        _admit(request, m.store)
        number = record_report(m, run_id, _report(fields))
    except Refused as refused:
        return JSONResponse({"error": refused.message}, refused.status, refused.headers)
    message = "thank you: your report is in the go-live's issue log"
    return JSONResponse({"issue": number, "message": message}, 201)
