"""What happened in a run, in the past tense. The event log is the only truth about a run.

Each event is a frozen dataclass; `encode` turns it into the (type, step, data) triple the store
keeps, and `decode` turns a stored record back. Data read back from a database is untrusted:
`decode` raises `StoreError` on a record that does not fit its type.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Union, get_args, get_origin, get_type_hints

from golive.errors import StoreError

if TYPE_CHECKING:
    from golive.store.records import EventRecord


class Decision(StrEnum):
    """What an operator can decide about a paused run."""

    retry = "retry"
    skip = "skip"
    rollback = "rollback"
    abort = "abort"


class Vote(StrEnum):
    """An approver's answer at a Go/No-Go gate."""

    go = "go"
    no_go = "no_go"


class Outcome(StrEnum):
    completed = "completed"
    failed = "failed"
    rolled_back = "rolled_back"
    aborted = "aborted"


@dataclass(frozen=True)
class Event:
    """Base of every event; `step` is the step it is about, if any."""

    type: ClassVar[str] = ""
    step: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class RunStarted(Event):
    plan_id: str
    plan_path: str
    plan_hash: str
    plan_text: str
    env: str
    release: str | None
    rehearsal: bool
    started_by: str
    max_parallel: int
    host: str
    pid: int
    steps: list[str]
    # step id -> digest of its definition (golive.plan.digest); absent in older logs
    step_digests: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyOverridden(Event):
    """A production run started against the schedule policy: who let it, why, which rules."""

    by: str
    why: str
    rules: list[str]  # the rules broken: forbidden-weekday, holiday, freeze, ...
    findings: list[str]  # each, as the refusal worded it


@dataclass(frozen=True)
class RunResumed(Event):
    by: str
    host: str
    pid: int


@dataclass(frozen=True)
class StepStarted(Event):
    attempt: int
    kind: str
    command: str | None = None


@dataclass(frozen=True)
class StepProcessStarted(Event):
    """A step's command (or its undo's) started as a process: what a later engine looks for
    when this one dies. `started` is the process's start time in clock ticks after boot (field
    22 of /proc/PID/stat), so that another process given the same pid is not taken for it;
    `remote`: the process runs on SSH host `host` (checked and stopped over SSH)."""

    pid: int
    host: str
    started: int | None = None
    remote: bool = False
    undo: bool = False


@dataclass(frozen=True)
class StepWaiting(Event):
    """A step waits for a person (a manual step) before it can finish."""

    who: list[str]
    what: str


@dataclass(frozen=True)
class StepOutput(Event):
    stream: str
    text: str
    host: str | None = None


@dataclass(frozen=True)
class StepSucceeded(Event):
    attempt: int
    duration: float
    exit_code: int | None = None
    hosts: dict[str, Any] | None = None  # per host: ok, exit_code, duration, error
    details: dict[str, Any] | None = None  # the action's figures, e.g. a verify step's counts


@dataclass(frozen=True)
class StepFailed(Event):
    attempt: int
    duration: float
    error: str
    exit_code: int | None = None
    will_retry: bool = False
    hosts: dict[str, Any] | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class StepInterrupted(Event):
    """Found running when an engine attached: its process died with the previous engine."""

    attempt: int
    rerun: bool


@dataclass(frozen=True)
class StepSkipped(Event):
    reason: str
    by: str | None = None


@dataclass(frozen=True)
class StepMarkedDone(Event):
    by: str
    note: str | None = None


@dataclass(frozen=True)
class RunPaused(Event):
    reason: str


@dataclass(frozen=True)
class DecisionMade(Event):
    decision: Decision
    by: str
    why: str | None = None


@dataclass(frozen=True)
class GateVoted(Event):
    by: str
    vote: Vote
    comment: str | None = None


@dataclass(frozen=True)
class RollbackStarted(Event):
    by: str
    reason: str


@dataclass(frozen=True)
class UndoStarted(Event):
    command: str | None = None


@dataclass(frozen=True)
class UndoInterrupted(Event):
    """Found undoing when an engine attached. `rerun`: the undo runs again (it is declared
    `undo_idempotent`); otherwise the rollback waits for an operator to say what happened."""

    rerun: bool


@dataclass(frozen=True)
class UndoSucceeded(Event):
    duration: float
    hosts: dict[str, Any] | None = None


@dataclass(frozen=True)
class UndoFailed(Event):
    duration: float
    error: str
    hosts: dict[str, Any] | None = None


@dataclass(frozen=True)
class UndoSkipped(Event):
    reason: str


@dataclass(frozen=True)
class RollbackFinished(Event):
    complete: bool
    duration: float


@dataclass(frozen=True)
class RunFinished(Event):
    outcome: Outcome
    duration: float


class Severity(StrEnum):
    """How much an update or an issue matters to the people on the call."""

    info = "info"
    warning = "warning"
    critical = "critical"


@dataclass(frozen=True)
class UpdatePosted(Event):
    """A message to everyone on the go-live call (mission control, later the channels)."""

    by: str
    text: str
    severity: Severity


@dataclass(frozen=True)
class IssueRaised(Event):
    """An issue found during the go-live; its id is this event's seq. `step`: a linked step.

    `source` says where it came from: None for a person on the call, "feedback" for a user's
    report through the public feedback form (then `by` is "feedback" and `contact` is what the
    user gave, if anything)."""

    by: str
    title: str
    severity: Severity
    owner: str | None = None
    source: str | None = None
    contact: str | None = None


@dataclass(frozen=True)
class IssueCommented(Event):
    issue: int
    by: str
    text: str


@dataclass(frozen=True)
class IssueResolved(Event):
    issue: int
    by: str
    resolution: str


# --- hypercare: the 48-72 h after the switch ---------------------------------------------------


@dataclass(frozen=True)
class HypercareStarted(Event):
    """The run's steps completed and hypercare began; it lasts `duration` seconds, to `until`."""

    duration: float
    until: str  # ISO 8601, UTC
    monitors: list[str]


@dataclass(frozen=True)
class MonitorChecked(Event):
    """A monitor's result, recorded when its state changes and as a periodic heartbeat only."""

    monitor: str
    ok: bool
    detail: str
    value: float | None = None
    failures: int = 0  # consecutive failures, this one included
    heartbeat: bool = False
    at: str | None = None  # ISO 8601: the engine clock's time of the probe (default: the record's)


@dataclass(frozen=True)
class IncidentOpened(Event):
    """A monitor failed `for` times in a row. An entry of the run's issue log: its id is this
    event's seq, and people comment on and resolve it as any issue (IssueCommented,
    IssueResolved with `issue` = this seq)."""

    monitor: str
    title: str
    severity: Severity
    detail: str
    figures: dict[str, Any] | None = None


@dataclass(frozen=True)
class IncidentResolved(Event):
    """The monitor behind incident `issue` passes again: the recovery, recorded on that issue.
    The issue stays open until a person resolves it (IssueResolved)."""

    issue: int
    monitor: str
    detail: str
    down_for: float  # seconds from the incident's opening to the recovery


@dataclass(frozen=True)
class ObjectiveEvaluated(Event):
    """An objective's check ran: `verdict` is met, not_met or unknown (the check could not run).
    `phase`: steps_completed, hypercare or exit."""

    objective: str
    verdict: str
    detail: str
    value: float | None = None
    phase: str = "hypercare"


@dataclass(frozen=True)
class HypercareSignedOff(Event):
    """A person of the plan's `hypercare.exit.sign_off` agreed to the handover."""

    by: str
    note: str | None = None


@dataclass(frozen=True)
class HypercareExited(Event):
    """Hypercare ended: `reason` is exit_criteria (the handover), closed (by a person, early) or
    expired. `criteria`: each exit criterion and whether it held."""

    reason: str
    by: str
    why: str | None = None
    criteria: dict[str, Any] | None = None


# --- notifications: the outbox (golive.notify) ---------------------------------------------------


@dataclass(frozen=True)
class NotificationClaimed(Event):
    """A process (`by`: host:pid) takes the delivery of `notifications` to `recipient` (a person
    id or `channel:N`) until `until` (ISO 8601): the first live claim of an id wins it."""

    notifications: list[str]
    recipient: str
    by: str
    until: str


@dataclass(frozen=True)
class NotificationSent(Event):
    """Notifications delivered to `recipient` in one message (apprise accepted it)."""

    notifications: list[str]
    recipient: str
    by: str
    attempt: int = 1


@dataclass(frozen=True)
class NotificationFailed(Event):
    """A delivery attempt failed; `retry_at` (ISO 8601) is the next one, None: given up.
    `error` is masked: a URL's secrets never reach it."""

    notifications: list[str]
    recipient: str
    by: str
    attempt: int
    error: str
    retry_at: str | None = None


@dataclass(frozen=True)
class Acknowledged(Event):
    """A person took something on: `item` is an issue or incident id (its seq) or a waiting
    step's id. It stops that item's escalation ladder."""

    item: str
    by: str
    note: str | None = None


# --- the post-mortem: what people add to the review, kept in the record -------------------------


@dataclass(frozen=True)
class LessonAdded(Event):
    """A line of the post-mortem's review, added by a person."""

    text: str
    by: str
    kind: str  # went_well | could_be_better | lesson


@dataclass(frozen=True)
class FollowUpAdded(Event):
    """A follow-up action of the post-mortem, with its owner and due date (ISO, or None)."""

    text: str
    owner: str
    due: str | None
    by: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        RunStarted,
        PolicyOverridden,
        RunResumed,
        StepStarted,
        StepProcessStarted,
        StepWaiting,
        StepOutput,
        StepSucceeded,
        StepFailed,
        StepInterrupted,
        StepSkipped,
        StepMarkedDone,
        RunPaused,
        DecisionMade,
        GateVoted,
        RollbackStarted,
        UndoStarted,
        UndoInterrupted,
        UndoSucceeded,
        UndoFailed,
        UndoSkipped,
        RollbackFinished,
        RunFinished,
        UpdatePosted,
        IssueRaised,
        IssueCommented,
        IssueResolved,
        HypercareStarted,
        MonitorChecked,
        IncidentOpened,
        IncidentResolved,
        ObjectiveEvaluated,
        HypercareSignedOff,
        HypercareExited,
        NotificationClaimed,
        NotificationSent,
        NotificationFailed,
        Acknowledged,
        LessonAdded,
        FollowUpAdded,
    )
}
for _name, _cls in EVENT_TYPES.items():
    _cls.type = _name


@dataclass(frozen=True)
class Recorded:
    """An event as the log holds it: with its sequence number and time."""

    seq: int
    at: dt.datetime
    event: Event


_FIELDS: dict[type[Event], tuple[str, ...]] = {}


def encode(event: Event) -> tuple[str, str | None, dict[str, Any]]:
    cls = type(event)
    names = _FIELDS.get(cls)
    if names is None:  # looked up once per class: the engine encodes every event it records
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.name != "step")
    data: dict[str, Any] = {}
    for name in names:
        value = getattr(event, name)
        data[name] = value.value if isinstance(value, StrEnum) else value
    return event.type, event.step, data


_HINTS: dict[type[Event], dict[str, Any]] = {}


def decode(type_name: str, step: str | None, data: dict[str, Any], *, where: str) -> Event:
    """Rebuild an event from the store, checking each field's type."""
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise StoreError(f"{where}: unknown event type {type_name!r}; is this golive too old?")
    hints = _HINTS.get(cls) or _HINTS.setdefault(cls, get_type_hints(cls))
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name == "step":
            continue
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise StoreError(f"{where}: {type_name} has no {f.name!r}")
            continue
        values[f.name] = _coerce(
            data[f.name], hints[f.name], where=f"{where}: {type_name}.{f.name}"
        )
    return cls(step=step, **values)


def decode_all(records: Iterable[EventRecord], *, run_id: str) -> list[Recorded]:
    """A run's events from the store, decoded (a record that does not fit is a StoreError)."""
    return [
        Recorded(r.seq, r.at, decode(r.type, r.step, r.data, where=f"run {run_id} event {r.seq}"))
        for r in records
    ]


def _coerce(value: Any, hint: Any, *, where: str) -> Any:
    origin = get_origin(hint)
    candidates = list(get_args(hint)) if origin in (Union, types.UnionType) else [hint]
    for candidate in candidates:
        if candidate is type(None):
            if value is None:
                return None
        elif get_origin(candidate) is list:
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return list(value)
        elif get_origin(candidate) is dict:
            if isinstance(value, dict) and all(isinstance(k, str) for k in value):
                return dict(value)
        elif isinstance(candidate, type) and issubclass(candidate, StrEnum):
            if value in candidate._value2member_map_:
                return candidate(value)
        elif candidate is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        elif candidate is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif isinstance(candidate, type) and isinstance(value, candidate):
            return value
    raise StoreError(f"{where}: unexpected value {value!r:.60}")
