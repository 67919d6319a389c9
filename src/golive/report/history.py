"""A plan's runs side by side: how long each step took in each run, each rollback, and what
each verify step found in each table, so that rehearsal N and N+1 can be compared.

Everything here is read from the event log and folded with `RunState`; nothing is stored.
A rehearsal whose forward run completed and which was then rolled back on purpose (the usual
way to rehearse a rollback) still counts as completed: its outcome is `rolled_back`, but every
step had finished before the rollback began. A run that reached its end past a skipped step
(skipped by decision, or because it or a step it needs failed) is "completed with exceptions"
and does not count.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from golive.engine.events import (
    EVENT_TYPES,
    Outcome,
    Recorded,
    StepFailed,
    StepOutput,
    StepSucceeded,
    decode,
)
from golive.engine.state import RunState, StepState, StepStatus
from golive.plan.graph import StepGraph
from golive.plan.models import Plan
from golive.store import EventStore, RunRecord

RunAndState = tuple[RunRecord, RunState]

# Output can be most of a log and says nothing about durations: leave it in the database.
FOLDED_TYPES = tuple(name for name in EVENT_TYPES if name != StepOutput.type)
_GENERATED_ID = re.compile(r"^r-\d{8}-\d{6}-(?P<suffix>[0-9a-f]+)$")


def load_runs(
    *, store: EventStore, plan_id: str, env: str | None = None, last: int | None = None
) -> list[RunAndState]:
    """The plan's runs (of `env` if given; the `last` N if given), oldest first, with states."""
    records = store.runs(plan_id=plan_id, env=env)
    if last is not None:
        records = records[-last:] if last > 0 else []
    return [(record, read_run(store=store, run_id=record.id)) for record in records]


def read_run(*, store: EventStore, run_id: str) -> RunState:
    """A run's state, folded from every event but its output."""
    events = (
        Recorded(e.seq, e.at, decode(e.type, e.step, e.data, where=f"run {run_id} event {e.seq}"))
        for e in store.events(run_id, types=FOLDED_TYPES)
    )
    return RunState.fold(run_id, events)


@dataclass(frozen=True)
class TableFigures:
    """What one verify step found in one table, as its last attempt recorded it."""

    step: str
    table: str  # `source -> target`, or the one name both databases use
    ok: bool
    source_rows: int
    target_rows: int
    missing: int
    extra: int
    changed: int
    moved: str | None = None
    error: str | None = None
    checksums: dict[str, str] | None = None  # hash, and each side's sum of hashes

    @property
    def differences(self) -> int:
        return self.missing + self.extra + self.changed

    @classmethod
    def of(cls, step: str, figures: Mapping[str, Any]) -> TableFigures:
        source, target = str(figures.get("source")), str(figures.get("target"))
        moved, error = figures.get("changed_during_check"), figures.get("error")
        sums = figures.get("checksums")
        return cls(
            step,
            source if source == target else f"{source} -> {target}",
            bool(figures.get("ok")),
            source_rows=_count(figures, "source_rows"),
            target_rows=_count(figures, "target_rows"),
            missing=_count(figures, "missing"),
            extra=_count(figures, "extra"),
            changed=_count(figures, "changed"),
            moved=None if moved is None else str(moved),
            error=None if error is None else str(error),
            checksums={str(k): str(v) for k, v in sums.items()} if isinstance(sums, dict) else None,
        )

    def changed_since(self, before: TableFigures) -> list[str]:
        """The sides whose data is not what it was in `before`, by their checksums (when both
        runs hashed rows alike)."""
        mine, theirs = self.checksums, before.checksums
        if mine is None or theirs is None or mine.get("hash") != theirs.get("hash"):
            return []
        return [side for side in ("source", "target") if mine.get(side) != theirs.get(side)]

    def json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "missing": self.missing,
            "extra": self.extra,
            "changed": self.changed,
            "changed_during_check": self.moved,
            "checksums": self.checksums,
            "error": self.error,
        }


def _count(figures: Mapping[str, Any], name: str) -> int:
    value = figures.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


Verified = dict[tuple[str, str], TableFigures]  # by (step, table)


def load_verified(*, store: EventStore, run_id: str) -> Verified:
    """The tables each verify step of the run compared, with the figures of its last attempt
    (recorded in the `details` of StepSucceeded and StepFailed)."""
    last: dict[str, list[Any]] = {}
    for event in store.events(run_id, types=(StepSucceeded.type, StepFailed.type)):
        details = event.data.get("details")
        if event.step and isinstance(details, dict) and isinstance(details.get("tables"), list):
            last[event.step] = details["tables"]
    found: Verified = {}
    for step, tables in last.items():
        for figures in tables:
            if isinstance(figures, dict):
                table = TableFigures.of(step, figures)
                found[(step, table.table)] = table
    return found


def rehearsals(runs: Sequence[RunAndState]) -> list[RunAndState]:
    """The runs outside production."""
    return [(record, state) for record, state in runs if record.rehearsal]


def went_through(state: RunState) -> bool:
    """Whether the run reached its end, even if it was rolled back afterwards."""
    if state.outcome is Outcome.completed:
        return True
    return (
        state.outcome is Outcome.rolled_back
        and bool(state.steps)
        and all(step.done for step in state.steps.values())
    )


def exceptions(state: RunState) -> list[str]:
    """The steps the run went past without them succeeding: skipped after a failure of their
    own or of a step they need, or by someone's decision; `step (why)` each."""
    return [
        f"{step.id} ({step.skipped_reason or 'skipped'})"
        for step in state.steps.values()
        if step.status is StepStatus.skipped
    ]


def completed(state: RunState) -> bool:
    """Whether every step succeeded (and was then, perhaps, rolled back on purpose)."""
    return went_through(state) and not exceptions(state)


def completed_with_exceptions(state: RunState) -> bool:
    """Whether the run reached its end with a step skipped: it does not count as a rehearsal."""
    return went_through(state) and bool(exceptions(state))


def forward_duration(state: RunState) -> float | None:
    """Seconds from the start to the end of the run's steps, leaving any rollback out."""
    if state.started_at is None:
        return None
    if state.rollback_started_at is None:
        end = state.finished_at
    else:
        # The last step to end, not the rollback's start: a rehearsed rollback may come days later.
        ends = [s.finished_at for s in state.steps.values() if s.finished_at is not None]
        end = max(ends, default=state.rollback_started_at)
    return None if end is None else max(0.0, (end - state.started_at).total_seconds())


def short_id(run_id: str) -> str:
    """The random part of a generated run id (`r-20261206-200012-a3f9` -> `a3f9`)."""
    match = _GENERATED_ID.match(run_id)
    return match["suffix"] if match else run_id[:12]


def step_rows(plan: Plan, runs: Sequence[RunAndState]) -> list[str]:
    """The plan's steps in dependency order, then steps only older runs had."""
    graph = StepGraph(plan.steps)
    try:
        rows = graph.order()
    except ValueError:  # a cycle: `golive check` reports it; keep the file's order here
        rows = list(graph.ids)
    known = set(rows)
    for _, state in runs:
        for step_id in state.steps:
            if step_id not in known:
                known.add(step_id)
                rows.append(step_id)
    return rows


@dataclass(frozen=True)
class Cell:
    """One step in one run: its status and, when it succeeded, how long it took."""

    status: StepStatus | None  # None: the run did not have this step
    duration: float | None

    @classmethod
    def of(cls, step: StepState | None) -> Cell:
        if step is None:
            return cls(None, None)
        duration = step.duration if step.status is StepStatus.succeeded else None
        return cls(step.status, duration)


@dataclass(frozen=True)
class RunColumn:
    """One run of the history table."""

    record: RunRecord
    state: RunState
    cells: dict[str, Cell]
    verified: Verified = field(default_factory=dict)

    @property
    def total(self) -> float | None:
        return forward_duration(self.state)

    @property
    def completed(self) -> bool:
        return completed(self.state)

    @property
    def exceptions(self) -> list[str]:
        """The skipped steps of a run that reached its end (empty otherwise)."""
        return exceptions(self.state) if went_through(self.state) else []


@dataclass(frozen=True)
class History:
    """The runs of a plan, oldest first, and the steps to show for each, in order."""

    plan_id: str
    steps: list[str]
    runs: list[RunColumn]
    verified: list[tuple[str, str]] = field(default_factory=list)  # (step, table), in order

    @property
    def has_rollback(self) -> bool:
        return any(run.state.rollback_started_at is not None for run in self.runs)


def history(
    plan: Plan, runs: Sequence[RunAndState], verified: Mapping[str, Verified] | None = None
) -> History:
    """The history table of `plan` from its runs (see `load_runs`) and, by run id, what their
    verify steps found (see `load_verified`)."""
    rows = step_rows(plan, runs)
    found = verified or {}
    columns = [
        RunColumn(
            record,
            state,
            {step: Cell.of(state.steps.get(step)) for step in rows},
            found.get(record.id, {}),
        )
        for record, state in runs
    ]
    order = {step: index for index, step in enumerate(rows)}
    tables: dict[tuple[str, str], None] = {}
    for column in columns:
        tables.update(dict.fromkeys(column.verified))
    ordered = sorted(tables, key=lambda t: order.get(t[0], len(order)))  # stable: table order
    return History(plan.golive, rows, columns, ordered)
