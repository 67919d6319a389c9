"""The post-mortem's document: what each section says, as frozen values (model.py builds it;
render.py writes it out)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Summary:
    plan_id: str
    title: str
    run_id: str
    env: str
    release: str | None
    rehearsal: bool
    outcome: str
    started_at: str | None
    finished_at: str | None
    duration: float | None
    window_start: str | None
    window_end: str | None
    window_length: float | None
    window_used: float | None  # share of the window the run took, 0..1+
    within_window: bool | None
    people: list[str]


@dataclass(frozen=True)
class StepRow:
    id: str
    title: str
    kind: str
    owner: str | None
    status: str
    attempts: int
    start: float | None  # seconds after the run started
    planned_start: float | None  # when the estimates had it start (after its needs' estimates)
    duration: float | None
    estimate: float | None
    over_by: float | None  # seconds past the estimate (negative: under)
    overran: bool  # among the OVERRUN_MARKS steps over their estimate by most
    rehearsal_p50: float | None
    rehearsal_p90: float | None
    critical: bool
    error: str | None


@dataclass(frozen=True)
class Ballot:
    by: str
    vote: str
    comment: str | None
    at: str
    after: float | None  # seconds after the gate opened


@dataclass(frozen=True)
class GateRow:
    step: str
    title: str
    approvers: list[str]
    quorum: str
    status: str
    opened_at: str | None
    decided_at: str | None
    decision_time: float | None
    votes: list[Ballot]
    evidence: list[str]


@dataclass(frozen=True)
class DecisionRow:
    at: str
    by: str
    decision: str
    step: str | None
    why: str | None


@dataclass(frozen=True)
class RollbackRow:
    started_at: str
    by: str
    reason: str
    duration: float | None
    complete: bool | None
    rollback_within: float | None
    within: bool | None


@dataclass(frozen=True)
class TableRow:
    step: str
    table: str
    ok: bool
    source_rows: int
    target_rows: int
    missing: int
    extra: int
    changed: int
    error: str | None


@dataclass(frozen=True)
class TrafficMove:
    """One move of a traffic step (`moved`: to a share) or one analysis (`analysed`)."""

    event: str
    routing: str | None = None
    share: float | None = None
    verdict: str | None = None
    decision: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TrafficRow:
    step: str
    status: str
    verdict: str | None  # the last analysis's
    moves: list[TrafficMove]


@dataclass(frozen=True)
class IssueRow:
    id: int
    title: str
    severity: str
    by: str
    source: str | None
    step: str | None
    raised_at: str
    resolved_at: str | None
    resolved_by: str | None
    resolution: str | None
    time_to_resolution: float | None


@dataclass(frozen=True)
class UpdateRow:
    at: str
    by: str
    severity: str
    text: str


@dataclass(frozen=True)
class IncidentRow:
    id: int
    monitor: str
    title: str
    severity: str
    opened_at: str
    recovered_after: float | None
    resolved_at: str | None


@dataclass(frozen=True)
class Hypercare:
    started: bool
    started_at: str | None = None
    until: str | None = None
    monitors: list[str] = field(default_factory=list)
    incidents: list[IncidentRow] = field(default_factory=list)
    objectives: dict[str, str] = field(default_factory=dict)  # objective -> final verdict
    feedback: int = 0
    exited_at: str | None = None
    exit_reason: str | None = None
    exited_by: str | None = None


@dataclass(frozen=True)
class RehearsalRow:
    run_id: str
    env: str
    outcome: str
    duration: float | None


@dataclass(frozen=True)
class RehearsalHistory:
    count: int
    runs: list[RehearsalRow]
    forecast_p50: float | None
    forecast_p90: float | None
    actual: float | None


@dataclass(frozen=True)
class Entry:
    """A line of the review: a fact golive noticed (`by` None) or a person's text."""

    text: str
    by: str | None = None
    at: str | None = None


@dataclass(frozen=True)
class FollowUp:
    text: str
    owner: str | None
    due: str | None
    by: str | None
    at: str | None


@dataclass(frozen=True)
class Review:
    went_well: list[Entry]
    could_be_better: list[Entry]
    lessons: list[Entry]
    follow_ups: list[FollowUp]


@dataclass(frozen=True)
class Audit:
    holds: bool
    events: int
    head: str | None
    message: str


@dataclass(frozen=True)
class Postmortem:
    """Everything the review says, in the order it says it."""

    summary: Summary
    steps: list[StepRow]
    critical_path: list[str]
    gates: list[GateRow]
    decisions: list[DecisionRow]
    rollbacks: list[RollbackRow]
    verification: list[TableRow]
    traffic: list[TrafficRow]
    issues: list[IssueRow]
    updates: list[UpdateRow]
    hypercare: Hypercare
    rehearsals: RehearsalHistory
    review: Review
    audit: Audit | None
    as_of: str | None  # the time of the last event: the review's own time

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = asdict(self)
        return data
