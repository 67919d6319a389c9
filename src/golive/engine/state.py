"""The state of a run, derived from its events: a fold, never stored.

`RunState.apply` is the only place that knows what an event does to a run. The CLI, the live
view, `resume`, the dashboard and the reports all build their picture with it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from golive.engine.events import (
    Acknowledged,
    Decision,
    DecisionMade,
    GateVoted,
    HypercareExited,
    HypercareSignedOff,
    HypercareStarted,
    IncidentOpened,
    IncidentResolved,
    IssueCommented,
    IssueRaised,
    IssueResolved,
    MonitorChecked,
    NotificationFailed,
    NotificationSent,
    ObjectiveEvaluated,
    Outcome,
    Recorded,
    RollbackFinished,
    RollbackStarted,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    StepFailed,
    StepInterrupted,
    StepMarkedDone,
    StepOutput,
    StepProcessStarted,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    StepWaiting,
    UndoFailed,
    UndoInterrupted,
    UndoSkipped,
    UndoStarted,
    UndoSucceeded,
    UpdatePosted,
)
from golive.engine.gates import Ballot

OUTPUT_TAIL = 12
SPARKLINE = 30  # recent values of a monitor kept for its sparkline


class StepStatus(StrEnum):
    pending = "pending"
    running = "running"
    waiting = "waiting"  # for a person
    retrying = "retrying"
    succeeded = "succeeded"
    failed = "failed"
    interrupted = "interrupted"
    skipped = "skipped"

    @property
    def settled(self) -> bool:
        """Nothing more will happen to the step without a decision."""
        return self in (StepStatus.succeeded, StepStatus.skipped, StepStatus.failed)


class UndoStatus(StrEnum):
    none = "none"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    interrupted = "interrupted"  # was running when the engine died: did it complete?
    skipped = "skipped"


class RunStatus(StrEnum):
    running = "running"
    paused = "paused"
    rolling_back = "rolling_back"
    completed = "completed"
    failed = "failed"
    rolled_back = "rolled_back"
    aborted = "aborted"

    @property
    def finished(self) -> bool:
        return self in (
            RunStatus.completed,
            RunStatus.failed,
            RunStatus.rolled_back,
            RunStatus.aborted,
        )


@dataclass(frozen=True)
class StepProcess:
    """A process a step's command (or undo) runs as: where, which, since when."""

    pid: int
    host: str
    started: int | None  # clock ticks after boot, from /proc/PID/stat
    remote: bool
    undo: bool
    at: dt.datetime


@dataclass
class StepState:
    id: str
    status: StepStatus = StepStatus.pending
    attempt: int = 0
    started_at: dt.datetime | None = None
    attempt_started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    duration: float | None = None
    error: str | None = None
    exit_code: int | None = None
    waiting_for: list[str] = field(default_factory=list)
    waiting_what: str | None = None
    marked_by: str | None = None
    skipped_reason: str | None = None
    output: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_TAIL))
    hosts: dict[str, Any] = field(default_factory=dict)  # per host outcome of the last attempt
    ballots: dict[str, Ballot] = field(default_factory=dict)  # a gate's votes, latest per person
    undo: UndoStatus = UndoStatus.none
    undo_error: str | None = None
    undo_duration: float | None = None
    processes: list[StepProcess] = field(default_factory=list)  # of the latest attempt or undo
    details: dict[str, Any] | None = None  # the latest attempt's figures that had some

    @property
    def done(self) -> bool:
        return self.status in (StepStatus.succeeded, StepStatus.skipped)


@dataclass(frozen=True)
class Update:
    """An update posted to the go-live call."""

    seq: int
    at: dt.datetime
    by: str
    text: str
    severity: str


@dataclass(frozen=True)
class Comment:
    at: dt.datetime
    by: str
    text: str


@dataclass
class Issue:
    """An issue raised during the go-live: its id is the seq of the event that raised it."""

    id: int
    at: dt.datetime
    by: str
    title: str
    severity: str
    owner: str | None
    step: str | None
    comments: list[Comment] = field(default_factory=list)
    resolution: str | None = None
    resolved_by: str | None = None
    resolved_at: dt.datetime | None = None
    source: str | None = None  # None: a person; "feedback": a user's report; "monitor"
    contact: str | None = None  # what a user gave with a feedback report
    monitor: str | None = None  # the monitor behind an incident
    recovered_at: dt.datetime | None = None  # an incident's monitor passes again
    recovery: str | None = None

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass
class MonitorState:
    """A hypercare monitor as the log knows it: its last recorded result and recent values."""

    id: str
    ok: bool | None = None  # None: not checked yet
    detail: str = ""
    failures: int = 0
    since: dt.datetime | None = None  # when it entered its current state
    checked_at: dt.datetime | None = None  # its last record (a change or a heartbeat)
    incident: int | None = None  # the open incident of its ongoing failure, if any
    values: deque[float] = field(default_factory=lambda: deque(maxlen=SPARKLINE))


@dataclass(frozen=True)
class ObjectiveVerdict:
    objective: str
    verdict: str  # met, not_met, unknown
    detail: str
    value: float | None
    phase: str
    at: dt.datetime


@dataclass
class HypercareState:
    """The hypercare phase after the steps: from HypercareStarted to HypercareExited."""

    started_at: dt.datetime
    duration: float
    until: dt.datetime
    monitors: dict[str, MonitorState] = field(default_factory=dict)
    signed_off: dict[str, dt.datetime] = field(default_factory=dict)
    exited_at: dt.datetime | None = None
    exit_reason: str | None = None
    exited_by: str | None = None
    exit_why: str | None = None
    exit_criteria: dict[str, Any] | None = None

    @property
    def active(self) -> bool:
        return self.exited_at is None

    def left(self, now: dt.datetime) -> float:
        """Seconds left until `until` (0 when it passed)."""
        return max(0.0, (self.until - now).total_seconds())


@dataclass
class RunState:
    """Everything known about one run, as of the last event applied."""

    run_id: str
    plan_id: str = ""
    # repr=False: asyncio.run formats the result of a run's task (through its SIGINT handler,
    # twice), and a 1,000-step repr costs milliseconds.
    plan_text: str = field(default="", repr=False)
    plan_hash: str = ""
    step_digests: dict[str, str] = field(default_factory=dict, repr=False)
    env: str = ""
    release: str | None = None
    rehearsal: bool = True
    started_by: str = ""
    started_at: dt.datetime | None = None
    max_parallel: int = 1
    status: RunStatus = RunStatus.running
    steps: dict[str, StepState] = field(default_factory=dict, repr=False)
    blocked: dict[str, str] = field(default_factory=dict)  # step -> why the run paused on it
    rollback_requested: bool = False
    abort_requested: bool = False
    rollback_started_at: dt.datetime | None = None
    rollback_duration: float | None = None
    rollback_complete: bool | None = None
    outcome: Outcome | None = None
    finished_at: dt.datetime | None = None
    engine_host: str = ""
    engine_pid: int = 0
    last_seq: int = 0
    last_at: dt.datetime | None = None
    decisions: list[Recorded] = field(default_factory=list, repr=False)
    updates: list[Update] = field(default_factory=list, repr=False)
    issues: dict[int, Issue] = field(default_factory=dict, repr=False)
    hypercare: HypercareState | None = field(default=None, repr=False)
    objectives: dict[str, ObjectiveVerdict] = field(default_factory=dict, repr=False)
    # notifications (golive.notify): messages sent, each recipient's failing delivery, acks
    notifications_sent: int = 0
    notification_failures: dict[str, NotificationFailed] = field(default_factory=dict)
    acknowledged: dict[str, str] = field(default_factory=dict)  # item -> who acknowledged it

    @classmethod
    def fold(cls, run_id: str, events: Iterable[Recorded]) -> RunState:
        state = cls(run_id)
        for recorded in events:
            state.apply(recorded)
        return state

    def step(self, step_id: str) -> StepState:
        found = self.steps.get(step_id)
        if found is None:
            found = self.steps[step_id] = StepState(step_id)
        return found

    @property
    def paused(self) -> bool:
        return bool(self.blocked) and not self.status.finished

    @property
    def phase(self) -> str:
        """`hypercare` while the phase after the steps is open; else the run's status. The
        status stays `completed` once the steps completed: reports count such a run as done."""
        if self.hypercare is not None and self.hypercare.active:
            return "hypercare"
        return self.status.value

    @property
    def feedback_count(self) -> int:
        return sum(1 for issue in self.issues.values() if issue.source == "feedback")

    @property
    def rolling_back(self) -> bool:
        """A rollback has started and not finished."""
        return self.rollback_started_at is not None and self.rollback_duration is None

    @property
    def rollback_end_unrecorded(self) -> bool:
        """The rollback finished but the run's end (rolled back) is not recorded: the engine
        that finished it died in between."""
        return self.rollback_duration is not None and self.outcome is not Outcome.rolled_back

    def apply(self, recorded: Recorded) -> None:
        """Apply one event; events are facts, so this never refuses one."""
        self.last_seq = max(self.last_seq, recorded.seq)
        self.last_at = recorded.at
        event, at = recorded.event, recorded.at
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event, at)
        elif isinstance(
            event,
            UpdatePosted
            | IssueRaised
            | IssueCommented
            | IssueResolved
            | IncidentOpened
            | IncidentResolved,
        ):
            _on_the_call(self, recorded)
        if isinstance(event, DecisionMade | StepMarkedDone | GateVoted):
            self.decisions.append(recorded)
        self._settle_status()

    def _settle_status(self) -> None:
        if self.rollback_started_at is not None and self.rollback_duration is None:
            self.status = RunStatus.rolling_back
        elif self.outcome is not None:
            self.status = RunStatus(self.outcome.value)
        else:
            self.status = RunStatus.paused if self.blocked else RunStatus.running

    def _unblock(self, step_id: str | None) -> None:
        if step_id is not None:
            self.blocked.pop(step_id, None)


def _run_started(state: RunState, event: RunStarted, at: dt.datetime) -> None:
    state.plan_id, state.plan_text, state.plan_hash = (
        event.plan_id,
        event.plan_text,
        event.plan_hash,
    )
    state.step_digests = dict(event.step_digests)
    state.env, state.release, state.rehearsal = event.env, event.release, event.rehearsal
    state.started_by, state.started_at, state.max_parallel = (
        event.started_by,
        at,
        event.max_parallel,
    )
    state.engine_host, state.engine_pid = event.host, event.pid
    for step_id in event.steps:
        state.step(step_id)


def _run_resumed(state: RunState, event: RunResumed, at: dt.datetime) -> None:
    state.engine_host, state.engine_pid = event.host, event.pid


def _step_started(state: RunState, event: StepStarted, at: dt.datetime) -> None:
    step = state.step(event.step or "")
    step.status, step.attempt, step.attempt_started_at = StepStatus.running, event.attempt, at
    step.started_at = step.started_at or at
    step.error = None
    step.ballots = {}  # a gate opened again (after a retry) asks for fresh votes
    step.processes = []
    state._unblock(step.id)


def _step_process_started(state: RunState, event: StepProcessStarted, at: dt.datetime) -> None:
    state.step(event.step or "").processes.append(
        StepProcess(event.pid, event.host, event.started, event.remote, event.undo, at)
    )


def _step_waiting(state: RunState, event: StepWaiting, at: dt.datetime) -> None:
    step = state.step(event.step or "")
    step.status, step.waiting_for, step.waiting_what = StepStatus.waiting, event.who, event.what


def _step_output(state: RunState, event: StepOutput, at: dt.datetime) -> None:
    tail = state.step(event.step or "").output
    prefix = f"[{event.host}] " if event.host else ""
    tail.extend(prefix + line for line in event.text.splitlines()[-OUTPUT_TAIL:])


def _step_succeeded(state: RunState, event: StepSucceeded, at: dt.datetime) -> None:
    step = state.step(event.step or "")
    step.status, step.finished_at, step.duration = StepStatus.succeeded, at, event.duration
    step.exit_code, step.waiting_for = event.exit_code, []
    step.processes = []  # ended, and their end is known
    _merge_hosts(step, event.hosts)
    step.details = event.details if event.details is not None else step.details


def _step_failed(state: RunState, event: StepFailed, at: dt.datetime) -> None:
    step = state.step(event.step or "")
    step.status = StepStatus.retrying if event.will_retry else StepStatus.failed
    step.error, step.exit_code, step.finished_at = event.error, event.exit_code, at
    step.processes = []
    _merge_hosts(step, event.hosts)
    step.details = event.details if event.details is not None else step.details


def _merge_hosts(step: StepState, hosts: dict[str, Any] | None) -> None:
    """Keep each host's latest outcome, and whether any attempt touched it: what undo reverts."""
    for host, summary in (hosts or {}).items():
        before = step.hosts.get(host, {}).get("touched", False)
        step.hosts[host] = {**summary, "touched": bool(summary.get("touched", True)) or before}


def _step_interrupted(state: RunState, event: StepInterrupted, at: dt.datetime) -> None:
    step = state.step(event.step or "")
    step.status = StepStatus.pending if event.rerun else StepStatus.interrupted


def _step_skipped(state: RunState, event: StepSkipped, at: dt.datetime) -> None:
    step = state.step(event.step or "")
    step.status, step.skipped_reason, step.finished_at = StepStatus.skipped, event.reason, at
    step.waiting_for = []
    state._unblock(step.id)


def _step_marked_done(state: RunState, event: StepMarkedDone, at: dt.datetime) -> None:
    step = state.step(event.step or "")
    if state.rolling_back:  # the rollback waits on this step's undo: done by hand
        step.undo, step.undo_error = UndoStatus.succeeded, None
        state._unblock(step.id)
        return
    step.status, step.marked_by, step.finished_at = StepStatus.succeeded, event.by, at
    if step.attempt_started_at is not None and step.duration is None:
        step.duration = (at - step.attempt_started_at).total_seconds()
    step.waiting_for, step.error = [], None
    state._unblock(step.id)


def _gate_voted(state: RunState, event: GateVoted, at: dt.datetime) -> None:
    state.step(event.step or "").ballots[event.by] = Ballot(event.vote, event.comment)


def _run_paused(state: RunState, event: RunPaused, at: dt.datetime) -> None:
    state.blocked[event.step or ""] = event.reason


def _decision_made(state: RunState, event: DecisionMade, at: dt.datetime) -> None:
    if event.decision is Decision.rollback:
        state.rollback_requested = True
        state.blocked.clear()
    elif event.decision is Decision.abort:
        state.abort_requested = True
        state.blocked.clear()
    elif event.step is not None and event.decision is Decision.retry:
        step = state.step(event.step)
        if state.rollback_started_at is not None:
            step.undo = UndoStatus.none
        else:
            step.status = StepStatus.pending
        state._unblock(event.step)
    elif event.step is not None and event.decision is Decision.skip:
        step = state.step(event.step)
        if state.rollback_started_at is not None:
            step.undo = UndoStatus.skipped
        else:
            step.status, step.skipped_reason = StepStatus.skipped, f"skipped by {event.by}"
        state._unblock(event.step)


def _rollback_started(state: RunState, event: RollbackStarted, at: dt.datetime) -> None:
    state.rollback_requested, state.rollback_started_at = True, at
    state.rollback_duration = state.rollback_complete = None
    state.blocked.clear()


def _undo_started(state: RunState, event: UndoStarted, at: dt.datetime) -> None:
    step = state.step(event.step or "")
    step.undo, step.processes = UndoStatus.running, []
    state._unblock(step.id)


def _undo_interrupted(state: RunState, event: UndoInterrupted, at: dt.datetime) -> None:
    state.step(event.step or "").undo = UndoStatus.none if event.rerun else UndoStatus.interrupted


def _undo_succeeded(state: RunState, event: UndoSucceeded, at: dt.datetime) -> None:
    step = state.step(event.step or "")
    step.undo, step.undo_duration = UndoStatus.succeeded, event.duration
    step.processes = []


def _undo_failed(state: RunState, event: UndoFailed, at: dt.datetime) -> None:
    step = state.step(event.step or "")
    step.undo, step.undo_error, step.undo_duration = UndoStatus.failed, event.error, event.duration
    step.processes = []


def _undo_skipped(state: RunState, event: UndoSkipped, at: dt.datetime) -> None:
    state.step(event.step or "").undo = UndoStatus.skipped


def _rollback_finished(state: RunState, event: RollbackFinished, at: dt.datetime) -> None:
    state.rollback_duration, state.rollback_complete = event.duration, event.complete
    state.rollback_requested = False


def _run_finished(state: RunState, event: RunFinished, at: dt.datetime) -> None:
    state.outcome, state.finished_at = event.outcome, at
    state.rollback_requested = state.abort_requested = False
    state.blocked.clear()


def _on_the_call(state: RunState, recorded: Recorded) -> None:
    """Updates and issues: what people say on the go-live call (they need the event's seq)."""
    event, at = recorded.event, recorded.at
    if isinstance(event, UpdatePosted):
        state.updates.append(Update(recorded.seq, at, event.by, event.text, event.severity.value))
    elif isinstance(event, IssueRaised):
        state.issues[recorded.seq] = Issue(
            recorded.seq,
            at,
            event.by,
            event.title,
            event.severity.value,
            event.owner,
            event.step,
            source=event.source,
            contact=event.contact,
        )
    elif isinstance(event, IncidentOpened):
        state.issues[recorded.seq] = Issue(
            recorded.seq,
            at,
            "golive",
            event.title,
            event.severity.value,
            None,
            None,
            source="monitor",
            monitor=event.monitor,
        )
        if state.hypercare is not None:
            state.hypercare.monitors.setdefault(
                event.monitor, MonitorState(event.monitor)
            ).incident = recorded.seq
    elif isinstance(event, IncidentResolved) and event.issue in state.issues:
        issue = state.issues[event.issue]
        issue.recovered_at, issue.recovery = at, event.detail
        if state.hypercare is not None:
            monitor = state.hypercare.monitors.get(event.monitor)
            if monitor is not None and monitor.incident == event.issue:
                monitor.incident = None
    elif isinstance(event, IssueCommented) and event.issue in state.issues:
        state.issues[event.issue].comments.append(Comment(at, event.by, event.text))
    elif isinstance(event, IssueResolved) and event.issue in state.issues:
        issue = state.issues[event.issue]
        issue.resolution, issue.resolved_by, issue.resolved_at = event.resolution, event.by, at


def _hypercare_started(state: RunState, event: HypercareStarted, at: dt.datetime) -> None:
    until = dt.datetime.fromisoformat(event.until)
    state.hypercare = HypercareState(
        started_at=until - dt.timedelta(seconds=event.duration),  # the engine clock's start
        duration=event.duration,
        until=until,
        monitors={m: MonitorState(m) for m in event.monitors},
    )


def _monitor_checked(state: RunState, event: MonitorChecked, at: dt.datetime) -> None:
    if state.hypercare is None:
        return
    monitor = state.hypercare.monitors.setdefault(event.monitor, MonitorState(event.monitor))
    moment = at
    if event.at:
        with contextlib.suppress(ValueError):
            moment = dt.datetime.fromisoformat(event.at)
    if monitor.ok is not event.ok:
        monitor.since = moment
    monitor.ok, monitor.detail, monitor.failures = event.ok, event.detail, event.failures
    monitor.checked_at = moment
    if event.value is not None:
        monitor.values.append(event.value)


def _objective_evaluated(state: RunState, event: ObjectiveEvaluated, at: dt.datetime) -> None:
    state.objectives[event.objective] = ObjectiveVerdict(
        event.objective, event.verdict, event.detail, event.value, event.phase, at
    )


def _hypercare_signed_off(state: RunState, event: HypercareSignedOff, at: dt.datetime) -> None:
    if state.hypercare is not None:
        state.hypercare.signed_off[event.by] = at


def _hypercare_exited(state: RunState, event: HypercareExited, at: dt.datetime) -> None:
    hypercare = state.hypercare
    if hypercare is None or hypercare.exited_at is not None:
        return  # the first exit counts (a close racing the engine's handover)
    hypercare.exited_at, hypercare.exit_reason = at, event.reason
    hypercare.exited_by, hypercare.exit_why = event.by, event.why
    hypercare.exit_criteria = event.criteria


def _notification_sent(state: RunState, event: NotificationSent, at: dt.datetime) -> None:
    state.notifications_sent += 1
    state.notification_failures.pop(event.recipient, None)


def _notification_failed(state: RunState, event: NotificationFailed, at: dt.datetime) -> None:
    state.notification_failures[event.recipient] = event


def _acknowledged(state: RunState, event: Acknowledged, at: dt.datetime) -> None:
    state.acknowledged.setdefault(event.item, event.by)


_HANDLERS: dict[type[Any], Callable[[RunState, Any, dt.datetime], None]] = {
    RunStarted: _run_started,
    RunResumed: _run_resumed,
    StepStarted: _step_started,
    StepProcessStarted: _step_process_started,
    StepWaiting: _step_waiting,
    StepOutput: _step_output,
    StepSucceeded: _step_succeeded,
    StepFailed: _step_failed,
    StepInterrupted: _step_interrupted,
    StepSkipped: _step_skipped,
    StepMarkedDone: _step_marked_done,
    GateVoted: _gate_voted,
    RunPaused: _run_paused,
    DecisionMade: _decision_made,
    RollbackStarted: _rollback_started,
    UndoStarted: _undo_started,
    UndoInterrupted: _undo_interrupted,
    UndoSucceeded: _undo_succeeded,
    UndoFailed: _undo_failed,
    UndoSkipped: _undo_skipped,
    RollbackFinished: _rollback_finished,
    RunFinished: _run_finished,
    HypercareStarted: _hypercare_started,
    MonitorChecked: _monitor_checked,
    ObjectiveEvaluated: _objective_evaluated,
    HypercareSignedOff: _hypercare_signed_off,
    HypercareExited: _hypercare_exited,
    NotificationSent: _notification_sent,
    NotificationFailed: _notification_failed,
    Acknowledged: _acknowledged,
}
