"""The JSON API behind the pages (documented at /openapi.json), and the live stream.

Every action writes the same event as the CLI, through `golive.engine.operator` and
`golive.engine.call`, then folds it at once so that every watcher sees it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from golive.engine import call
from golive.engine.checklist import MarkState, mark_refusal, statuses
from golive.engine.events import Decision, Severity, Vote
from golive.engine.operator import decide, engine_alive, mark_done, vote
from golive.errors import DecisionRejected
from golive.report.history import load_runs
from golive.report.readiness import readiness_now
from golive.store import EventRecord
from golive.web.app import Mission, mission, reader, writer
from golive.web.auth import Principal
from golive.web.broker import Broker, Subscription, Watcher, event_message
from golive.web.launch import ServedPlan, resume_engine, start_engine
from golive.web.roles import Access
from golive.web.runs import RunEntry, event_json
from golive.web.views import run_summary, run_view


class ErrorOut(BaseModel):
    """Every error answer: one line saying what is wrong and what to do."""

    error: str


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        400: "Names something the plan or run does not have (a step, a person, an issue)",
        401: "Not authenticated: log in, or send Authorization: Bearer TOKEN",
        403: "Not allowed for your role in this go-live, or no CSRF token with a session",
        404: "No such run (or checklist item, or plan on this server)",
        409: "Refused by the run's state now (a gate not open, a step done already, an "
        "engine drives it already)",
        413: "The request body is larger than 1 MiB",
        422: "The request does not fit: one `where: problem` per problem",
        503: "The state store cannot be reached (or a started engine did not report in time)",
    }
    return {code: {"model": ErrorOut, "description": meaning[code]} for code in codes}


router = APIRouter(prefix="/api")
LIST_ERRORS = _errors(401, 422, 503)
READ_ERRORS = _errors(401, 403, 404, 422, 503)
WRITE_ERRORS = _errors(400, 401, 403, 404, 409, 413, 422, 503)
Reader = Annotated[Principal, Depends(reader)]
Writer = Annotated[Principal, Depends(writer)]
Missions = Annotated[Mission, Depends(mission)]
MAX_SEQ = 2**63 - 1  # a seq is a signed 64-bit integer in every store
RunPath = str


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UpdateIn(Body):
    text: str = Field(min_length=1, max_length=call.MAX_TEXT)
    severity: Severity = Severity.info


class VoteIn(Body):
    vote: Vote
    reason: str | None = Field(default=None, max_length=call.MAX_TEXT)


class DoneIn(Body):
    note: str | None = Field(default=None, max_length=call.MAX_TEXT)


class DecisionIn(Body):
    decision: Decision
    why: str | None = Field(default=None, max_length=call.MAX_TEXT)


class IssueIn(Body):
    title: str = Field(min_length=1, max_length=call.MAX_TITLE)
    severity: Severity = Severity.warning
    owner: str | None = Field(default=None, max_length=64)
    step: str | None = Field(default=None, max_length=64)


class CommentIn(Body):
    text: str = Field(min_length=1, max_length=call.MAX_TEXT)


class ResolveIn(Body):
    resolution: str = Field(min_length=1, max_length=call.MAX_TEXT)


class AckIn(Body):
    item: str = Field(min_length=1, max_length=64, description="An issue/incident id or a step id")
    note: str | None = Field(default=None, max_length=call.MAX_TEXT)


class StartIn(Body):
    env: str = Field(min_length=1, max_length=64)
    release: str | None = Field(default=None, max_length=200)
    rehearsal: bool = Field(
        default=True,
        description="true for a rehearsal; a production run needs an explicit false",
    )


class Started(BaseModel):
    """The run an engine started (or resumed) from mission control now drives."""

    run_id: str
    message: str


class Done(BaseModel):
    """What an action recorded: the event's seq (an issue's id, for a raised issue)."""

    seq: int | None
    message: str


def _forbidden(message: str) -> HTTPException:
    return HTTPException(403, message)


def _person(access: Access) -> str:
    if access.person is None:
        raise _forbidden(
            f"{access.user.name} is not linked to a person of go-live {access.plan.golive}: "
            f"link them with `golive user link {access.user.name} --person PERSON_ID "
            f"--plan {access.plan.golive}`"
        )
    return access.person


def _recorded(m: Mission, entry: RunEntry, record: EventRecord | None, message: str) -> Done:
    m.runs.sync(entry.record.id)  # fold it now: the watchers see it without waiting for a tail
    return Done(seq=record.seq if record is not None else None, message=message)


def _last_seq(m: Mission, entry: RunEntry) -> int:
    m.runs.sync(entry.record.id)
    return entry.state.last_seq


@router.get("/health")
def health() -> dict[str, bool]:
    """Readiness: 200 once the server answers; no authentication."""
    return {"ok": True}


def plan_json(m: Mission, plan: ServedPlan, access: Access) -> dict[str, Any]:
    """A served plan: its environments, whether this user may start it, and its readiness for
    production (what `golive check --readiness` says)."""
    model = plan.file.plan
    now = dt.datetime.now(dt.UTC)
    items = statuses(model, m.store.checklist_marks(model.golive), now=now)
    verdict = readiness_now(model, load_runs(store=m.store, plan_id=model.golive), items)
    return {
        "id": model.golive,
        "title": model.title,
        "path": str(plan.path),
        "environments": [
            {"name": env, "production": model.is_production(env)} for env in model.environments
        ],
        "can_start": access.manager,
        "readiness": verdict.to_json(),
    }


@router.get("/plans", responses=LIST_ERRORS)
def list_plans(who: Reader, m: Missions) -> list[dict[str, Any]]:
    """The plans this server may start (`golive serve --plan`) that this user has a role in."""
    shown = []
    for plan in m.plans.values():
        access = m.plan_access(who, plan)
        if access.can_view:
            shown.append(plan_json(m, plan, access))
    return shown


def _start_access(m: Mission, who: Principal, plan: ServedPlan) -> Access:
    access = m.plan_access(who, plan)
    if not access.manager:
        raise _forbidden(
            f"only a manager of go-live {plan.id} starts it: an admin can grant it with "
            f"`golive user grant {who.user.name} manager --plan {plan.id}`"
        )
    return access


@router.post("/plans/{plan_id}/runs", responses=WRITE_ERRORS)
def start(plan_id: str, body: StartIn, who: Writer, m: Missions) -> Started:
    """Start a run of the plan: a `golive run` engine, a child of this server in a session of
    its own (it outlives a restart); answers once its RunStarted is in the store."""
    plan = m.served(plan_id)
    access = _start_access(m, who, plan)
    model = plan.file.plan
    if body.env not in model.environments:
        known = ", ".join(model.environments) or "none defined"
        raise HTTPException(
            400, f"no environment '{body.env}' in go-live {plan_id} (known: {known})"
        )
    production = model.is_production(body.env)
    if production and body.rehearsal:
        raise HTTPException(
            400, f"{body.env} is production: to start the go-live itself, send rehearsal: false"
        )
    if not production and not body.rehearsal:
        raise HTTPException(
            400, f"{body.env} is not production: a run there is a rehearsal; send rehearsal: true"
        )
    run_id = start_engine(
        m.store,
        plan,
        state_url=m.state_url,
        env=body.env,
        release=body.release or None,
        person=access.person,
    )
    kind = "rehearsal" if body.rehearsal else "production go-live"
    return Started(run_id=run_id, message=f"run {run_id} started ({body.env}, {kind})")


@router.post("/runs/{run_id}/resume", responses=WRITE_ERRORS)
def resume(run_id: RunPath, who: Writer, m: Missions) -> Started:
    """Start an engine that continues the run (`golive resume`), when none drives it: after a
    crash, or to carry out a decision; a manager of the run, for a plan this server serves."""
    entry, access = m.access(who, run_id)
    if not access.manager:
        raise _forbidden(f"only a manager of run {run_id} resumes it")
    plan = m.plans.get(entry.record.plan_id)
    if plan is None:
        raise DecisionRejected(
            f"this server does not serve go-live {entry.record.plan_id}: resume the run with "
            f"`golive resume {run_id}`, or serve its plan with `golive serve --plan PATH`"
        )
    resume_engine(m.store, entry.record, plan, state_url=m.state_url, person=access.person)
    m.runs.sync(run_id)
    return Started(run_id=run_id, message=f"run {run_id} resumed")


@router.get("/runs", responses=LIST_ERRORS)
def list_runs(who: Reader, m: Missions) -> list[dict[str, Any]]:
    """The runs this user has a role in, newest first."""
    shown = []
    for record in reversed(m.store.runs()):
        entry = m.runs.entry(record.id)
        if entry.state.plan_text and m.access_to(entry, who).can_view:
            shown.append(run_summary(entry.record, entry.state))
    return shown


@router.get("/runs/{run_id}", responses=READ_ERRORS)
def get_run(run_id: RunPath, who: Reader, m: Missions) -> dict[str, Any]:
    """The run view: steps, gates, progress, participants, updates, issues, checklist."""
    entry, access = m.access(who, run_id)
    checklist = m.checklist(entry)
    with entry.lock:
        return run_view(
            entry.record,
            entry.state,
            m.runs.plan(entry),
            access=access,
            watchers=m.broker.watchers(run_id),
            checklist=checklist,
            now=dt.datetime.now(dt.UTC),
        )


@router.get("/runs/{run_id}/events", responses=READ_ERRORS)
def list_events(
    run_id: RunPath,
    who: Reader,
    m: Missions,
    after: int = Query(0, ge=0, le=MAX_SEQ, description="Only events with a greater seq"),
) -> list[dict[str, Any]]:
    """The run's events after `after`, in order (the shape of `golive log --format json`)."""
    m.access(who, run_id)
    return [event_json(r) for r in m.store.events(run_id, after=after)]


@router.post("/runs/{run_id}/updates", responses=WRITE_ERRORS)
def post_update(run_id: RunPath, body: UpdateIn, who: Writer, m: Missions) -> Done:
    """Post an update to everyone on the call."""
    entry, access = m.access(who, run_id)
    if not access.can_post:
        raise _forbidden("observers read the call; they do not post to it")
    record = call.post_update(
        m.store, entry.record, text=body.text, severity=body.severity, by=access.by
    )
    return _recorded(m, entry, record, "update posted")


@router.post("/runs/{run_id}/gates/{step_id}/votes", responses=WRITE_ERRORS)
def post_vote(
    run_id: RunPath,
    step_id: str,
    body: VoteIn,
    who: Writer,
    m: Missions,
) -> Done:
    """Vote go or no-go at an open gate (its approvers only)."""
    entry, access = m.access(who, run_id)
    if not access.can_vote(step_id):
        raise _forbidden(f"only the approvers of gate {step_id} vote at it")
    outcome = vote(
        m.store,
        entry.record,
        gate=step_id,
        ballot=body.vote,
        by=_person(access),
        comment=body.reason,
    )
    return _recorded(m, entry, None, outcome.reason)


@router.post("/runs/{run_id}/steps/{step_id}/done", responses=WRITE_ERRORS)
def post_done(
    run_id: RunPath,
    step_id: str,
    who: Writer,
    m: Missions,
    body: DoneIn | None = None,
) -> Done:
    """Confirm a manual step (or a paused one finished by hand) is done."""
    entry, access = m.access(who, run_id)
    if not access.can_mark_done(step_id):
        raise _forbidden(f"only the owner of {step_id} or a manager confirms it")
    note = body.note if body is not None else None
    mark_done(m.store, entry.record, step=step_id, by=_person(access), note=note)
    return _recorded(m, entry, None, f"{step_id} marked done")


@router.post("/runs/{run_id}/steps/{step_id}/decision", responses=WRITE_ERRORS)
def post_decision(
    run_id: RunPath,
    step_id: str,
    body: DecisionIn,
    who: Writer,
    m: Missions,
) -> Done:
    """Decide a paused step: retry or skip (its owner or a manager), rollback or abort (a
    manager)."""
    entry, access = m.access(who, run_id)
    if not access.can_decide(body.decision, step_id):
        needed = (
            "a manager"
            if body.decision in (Decision.rollback, Decision.abort)
            else f"the owner of {step_id} or a manager"
        )
        raise _forbidden(f"only {needed} decides {body.decision}")
    decide(
        m.store,
        entry.record,
        decision=body.decision,
        by=_person(access),
        step=step_id,
        why=body.why,
    )
    return _recorded(m, entry, None, _decided(m, entry, body.decision))


class RunDecisionIn(Body):
    decision: Literal[Decision.rollback, Decision.abort]
    why: str | None = Field(default=None, max_length=call.MAX_TEXT)


@router.post("/runs/{run_id}/decision", responses=WRITE_ERRORS)
def post_run_decision(run_id: RunPath, body: RunDecisionIn, who: Writer, m: Missions) -> Done:
    """Roll the whole run back, or abort it (a manager): what `golive rollback` decides."""
    entry, access = m.access(who, run_id)
    if not access.manager:
        raise _forbidden(f"only a manager decides {body.decision}")
    decision = Decision(body.decision)
    decide(m.store, entry.record, decision=decision, by=_person(access), step=None, why=body.why)
    return _recorded(m, entry, None, _decided(m, entry, decision))


def _decided(m: Mission, entry: RunEntry, decision: Decision) -> str:
    """What happens next: the engine holding the lease (on any host) acts on it, or someone
    must resume the run."""
    if engine_alive(store=m.store, run_id=entry.record.id):
        return f"{decision} recorded; the engine acts on it now"
    run_id = entry.record.id
    return (
        f"{decision} recorded; no engine drives run {run_id}: "
        f"carry it out with `golive resume {run_id}`"
    )


@router.post("/runs/{run_id}/issues", responses=WRITE_ERRORS)
def post_issue(run_id: RunPath, body: IssueIn, who: Writer, m: Missions) -> Done:
    """Raise an issue; the seq returned is its id."""
    entry, access = m.access(who, run_id)
    if not access.can_post:
        raise _forbidden("observers read the issues log; they do not raise issues")
    record = call.raise_issue(
        m.store,
        entry.record,
        title=body.title,
        severity=body.severity,
        by=access.by,
        owner=body.owner or None,
        step=body.step or None,
    )
    return _recorded(m, entry, record, f"issue {record.seq} raised")


@router.post("/runs/{run_id}/issues/{issue_id}/comments", responses=WRITE_ERRORS)
def post_comment(
    run_id: RunPath,
    issue_id: int,
    body: CommentIn,
    who: Writer,
    m: Missions,
) -> Done:
    """Comment on an open issue."""
    entry, access = m.access(who, run_id)
    if not access.can_post:
        raise _forbidden("observers read the issues log; they do not comment")
    record = call.comment_issue(m.store, entry.record, issue=issue_id, text=body.text, by=access.by)
    return _recorded(m, entry, record, f"comment on issue {issue_id} added")


@router.post("/runs/{run_id}/issues/{issue_id}/resolve", responses=WRITE_ERRORS)
def post_resolve(
    run_id: RunPath,
    issue_id: int,
    body: ResolveIn,
    who: Writer,
    m: Missions,
) -> Done:
    """Resolve an issue (its owner, who raised it, or a manager)."""
    entry, access = m.access(who, run_id)
    if not access.can_post:
        raise _forbidden("observers read the issues log; they do not resolve issues")
    issue = entry.state.issues.get(issue_id)
    if issue is not None and not access.can_resolve(issue.owner, issue.by):
        raise _forbidden(
            f"only the owner of issue {issue_id}, who raised it, or a manager resolves it"
        )
    record = call.resolve_issue(
        m.store, entry.record, issue=issue_id, resolution=body.resolution, by=access.by
    )
    return _recorded(m, entry, record, f"issue {issue_id} resolved")


class HypercareCloseIn(Body):
    why: str = Field(min_length=1, max_length=call.MAX_TEXT)


class SignOffIn(Body):
    note: str | None = Field(default=None, max_length=call.MAX_TEXT)


@router.post("/runs/{run_id}/hypercare/close", responses=WRITE_ERRORS)
def post_hypercare_close(run_id: RunPath, body: HypercareCloseIn, who: Writer, m: Missions) -> Done:
    """End the run's hypercare now, with a reason (a manager): `golive hypercare --close`."""
    from golive.engine.hypercare import close_hypercare

    entry, access = m.access(who, run_id)
    if not access.manager:
        raise _forbidden(f"only a manager of run {run_id} closes its hypercare")
    close_hypercare(store=m.store, run=entry.record, by=_person(access), why=body.why)
    return _recorded(m, entry, None, "hypercare closed")


@router.post("/runs/{run_id}/hypercare/sign-off", responses=WRITE_ERRORS)
def post_hypercare_sign_off(run_id: RunPath, body: SignOffIn, who: Writer, m: Missions) -> Done:
    """Sign off the handover (a person of the plan's `hypercare.exit.sign_off`)."""
    from golive.engine.hypercare import sign_off_hypercare

    entry, access = m.access(who, run_id)
    sign_off_hypercare(store=m.store, run=entry.record, by=_person(access), note=body.note)
    return _recorded(m, entry, None, "hypercare signed off")


@router.post("/runs/{run_id}/acks", responses=WRITE_ERRORS)
def post_ack(run_id: RunPath, body: AckIn, who: Writer, m: Missions) -> Done:
    """Acknowledge an incident, an issue or a waiting step: its escalation ladder stops."""
    entry, access = m.access(who, run_id)
    if not access.can_post:
        raise _forbidden("observers read the call; they do not acknowledge")
    record = call.acknowledge(
        m.store, entry.record, item=body.item, by=_person(access), note=body.note
    )
    return _recorded(m, entry, record, f"{body.item} acknowledged")


@router.post("/runs/{run_id}/checklist/{item_id}/done", responses=WRITE_ERRORS)
def post_checklist_done(
    run_id: RunPath,
    item_id: str,
    who: Writer,
    m: Missions,
    body: DoneIn | None = None,
) -> Done:
    """Mark a checklist item of the run's go-live done (its owner or a manager)."""
    _, access = m.access(who, run_id)
    if not access.can_mark_item(item_id):
        raise _forbidden(f"only the owner of checklist item {item_id} or a manager marks it")
    if item_id not in {item.id for item in access.plan.checklist}:
        raise HTTPException(404, f"no checklist item '{item_id}' in go-live {access.plan.golive}")
    by = _person(access)
    item = next(i for i in access.plan.checklist if i.id == item_id)
    refusal = mark_refusal(access.plan, item, by)  # policy.checklist_marks: owner_only
    if refusal is not None:
        raise _forbidden(refusal)
    note = body.note if body is not None else None
    m.store.mark_checklist(
        access.plan.golive, item_id, state=MarkState.done.value, by=by, note=note
    )
    m.broker.notify_plan(access.plan.golive, item_id)
    return Done(seq=None, message=f"{item_id} marked done")


class EventStream(StreamingResponse):
    """A run's live stream as an ASGI response: the head, the backlog (the events after
    Last-Event-ID or `after`, read from the store) and who watches, then the broker writes each
    new message to the connection itself (Subscription.attach), until the client leaves or the
    broker ends the stream (a revoked credential, a watcher too far behind, the server stops)."""

    def __init__(
        self,
        broker: Broker,
        subscription: Subscription,
        backlog: Callable[[], Awaitable[list[EventRecord]]] | None,
        headers: dict[str, str],
    ) -> None:
        super().__init__((), media_type="text/event-stream", headers=headers)
        self.broker, self.subscription, self.backlog = broker, subscription, backlog

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscription = self.subscription
        try:
            start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
            await send(start)
            first, sent = [], 0
            if self.backlog is not None:
                records = await self.backlog()
                first += [event_message(record) for record in records]
                sent = records[-1].seq if records else 0
            first.append(self.broker.presence_message(subscription.run_id))
            await send({"type": "http.response.body", "body": b"".join(first), "more_body": True})
            subscription.attach(send, sent=sent)
            left = asyncio.ensure_future(_disconnected(receive))
            try:
                done, _ = await asyncio.wait(
                    [left, subscription.ended], return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                left.cancel()
            if left not in done:  # the broker ends the stream, not the client
                await subscription.drained()
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away while the head or the backlog was written
            pass
        finally:
            self.broker.unsubscribe(subscription)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


@router.get(
    "/runs/{run_id}/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
        **READ_ERRORS,
    },
)
async def stream(
    run_id: RunPath,
    who: Reader,
    m: Missions,
    after: int | None = Query(
        None, ge=0, le=MAX_SEQ, description="Send the events after this seq first"
    ),
    last_event_id: int | None = Header(None, ge=0, le=MAX_SEQ),
) -> EventStream:
    """Every event of the run as it happens (`id: seq`, `event: type`), and `presence`."""
    _, access = await asyncio.to_thread(m.access, who, run_id)
    start = last_event_id if last_event_id is not None else after
    user = access.user
    name = access.plan.people[access.person].name if access.person else user.name
    subscription = await m.broker.subscribe(
        run_id, Watcher(user.name, access.person, name), after=start, credential=who.credential
    )

    async def backlog() -> list[EventRecord]:
        assert start is not None
        return await asyncio.to_thread(m.store.events, run_id, after=start)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return EventStream(m.broker, subscription, backlog if start is not None else None, headers)
