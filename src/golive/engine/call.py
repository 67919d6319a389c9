"""The go-live call: updates to everyone, and the issues log (raise, comment, resolve).

Like `golive.engine.operator`, each command checks what it is given against the run's plan and
state, refuses with a message saying why, and appends one event; every reader (the CLI's `log`
and `status`, mission control's page and stream) sees it through the event log.

Updates are also handed to the `Broadcast` channels given: the seam where notification
channels (chat, e-mail, paging) plug in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from golive.engine.events import (
    Acknowledged,
    Event,
    IncidentOpened,
    IssueCommented,
    IssueRaised,
    IssueResolved,
    Recorded,
    Severity,
    StepWaiting,
    UpdatePosted,
    encode,
)
from golive.engine.operator import read_events, read_state, run_plan
from golive.engine.state import RunState
from golive.errors import DecisionRejected, UsageError
from golive.plan.diagnostics import did_you_mean
from golive.store import EventRecord, EventStore, RunRecord

MAX_TEXT = 4000
MAX_TITLE = 200


class Broadcast(Protocol):
    """A channel that carries updates beyond mission control (none ship yet)."""

    def send(self, run: RunRecord, update: UpdatePosted) -> None: ...


def _text(value: str, *, what: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise UsageError(f"{what} is empty: write something")
    if len(text) > limit:
        raise UsageError(f"{what} has {len(text)} characters; at most {limit}")
    return text


def _append(store: EventStore, run_id: str, event: Event) -> EventRecord:
    type_name, step, data = encode(event)
    return store.append(run_id, type_name, step=step, data=data)


def post_update(
    store: EventStore,
    run: RunRecord,
    *,
    text: str,
    severity: Severity,
    by: str,
    channels: Sequence[Broadcast] = (),
) -> EventRecord:
    """Post an update to the call; every channel gets it once it is in the log."""
    text = _text(text, what="the update", limit=MAX_TEXT)
    update = UpdatePosted(by=by, text=text, severity=severity)
    record = _append(store, run.id, update)
    for channel in channels:
        channel.send(run, update)
    return record


def raise_issue(
    store: EventStore,
    run: RunRecord,
    *,
    title: str,
    severity: Severity,
    by: str,
    owner: str | None = None,
    step: str | None = None,
) -> EventRecord:
    """Raise an issue; its id is the seq of the record returned."""
    state = read_state(store, run.id)
    plan = run_plan(state, display=run.plan_path)
    if owner is not None and owner not in plan.people:
        hint = did_you_mean(owner, list(plan.people))
        raise UsageError(
            f"owner {owner!r} is not a person of this plan" + (f"; {hint}" if hint else "")
        )
    ids = [s.id for s in plan.steps]
    if step is not None and step not in ids:
        hint = did_you_mean(step, ids)
        raise UsageError(f"no step '{step}' in this plan" + (f"; {hint}" if hint else ""))
    issue = IssueRaised(
        step=step,
        by=by,
        title=_text(title, what="the issue's title", limit=MAX_TITLE),
        severity=severity,
        owner=owner,
    )
    return _append(store, run.id, issue)


def _open_issue(state: RunState, issue: int) -> None:
    found = state.issues.get(issue)
    if found is None:
        known = ", ".join(str(i) for i in state.issues) or "none yet"
        raise UsageError(f"no issue {issue} in run {state.run_id} (issues: {known})")
    if not found.open:
        raise DecisionRejected(f"issue {issue} is resolved already ({found.resolution})")


def comment_issue(
    store: EventStore, run: RunRecord, *, issue: int, text: str, by: str
) -> EventRecord:
    state = read_state(store, run.id)
    _open_issue(state, issue)
    comment = IssueCommented(
        issue=issue, by=by, text=_text(text, what="the comment", limit=MAX_TEXT)
    )
    return _append(store, run.id, comment)


def resolve_issue(
    store: EventStore, run: RunRecord, *, issue: int, resolution: str, by: str
) -> EventRecord:
    state = read_state(store, run.id)
    _open_issue(state, issue)
    resolved = IssueResolved(
        issue=issue, by=by, resolution=_text(resolution, what="the resolution", limit=MAX_TEXT)
    )
    return _append(store, run.id, resolved)


def acknowledge(
    store: EventStore, run: RunRecord, *, item: str, by: str, note: str | None = None
) -> EventRecord:
    """Take an incident, an issue or a waiting step on: it stops that item's escalation ladder.
    `item` is an issue or incident id (a seq) or the id of a step that waited for people."""
    events = read_events(store, run.id)
    state = RunState.fold(run.id, events)
    plan = run_plan(state, display=run.plan_path)
    if by not in plan.people:
        hint = did_you_mean(by, list(plan.people))
        raise UsageError(
            f"--as {by!r} is not a person of this plan" + (f"; {hint}" if hint else "")
        )
    items = ackable(events)
    if item.strip() not in items:
        known = ", ".join(items) or "none yet"
        raise UsageError(
            f"nothing called {item!r} to acknowledge in run {run.id}: give an incident or issue "
            f"id, or a waiting step's id (known: {known})"
        )
    ack = Acknowledged(item=item.strip(), by=by, note=note)
    return _append(store, run.id, ack)


def ackable(events: Sequence[Recorded]) -> list[str]:
    """What can be acknowledged in a run: its incidents and issues (by seq), its waits (step)."""
    found: dict[str, None] = {}
    for recorded in events:
        event = recorded.event
        if isinstance(event, IncidentOpened | IssueRaised):
            found[str(recorded.seq)] = None
        elif isinstance(event, StepWaiting) and event.step is not None:
            found[event.step] = None
    return list(found)
