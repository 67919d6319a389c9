"""A plan's runs side by side: how long each step took in each run, and each rollback.

Everything here is read from the event log and folded with `RunState`; nothing is stored.
A rehearsal whose forward run completed and which was then rolled back on purpose (the usual
way to rehearse a rollback) still counts as completed: its outcome is `rolled_back`, but every
step had finished before the rollback began.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from golive.engine.events import EVENT_TYPES, Outcome, Recorded, StepOutput, decode
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


def rehearsals(runs: Sequence[RunAndState]) -> list[RunAndState]:
    """The runs outside production."""
    return [(record, state) for record, state in runs if record.rehearsal]


def completed(state: RunState) -> bool:
    """Whether the run went all the way through, even if it was rolled back afterwards."""
    if state.outcome is Outcome.completed:
        return True
    return (
        state.outcome is Outcome.rolled_back
        and bool(state.steps)
        and all(step.done for step in state.steps.values())
    )


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

    @property
    def total(self) -> float | None:
        return forward_duration(self.state)

    @property
    def completed(self) -> bool:
        return completed(self.state)


@dataclass(frozen=True)
class History:
    """The runs of a plan, oldest first, and the steps to show for each, in order."""

    plan_id: str
    steps: list[str]
    runs: list[RunColumn]

    @property
    def has_rollback(self) -> bool:
        return any(run.state.rollback_started_at is not None for run in self.runs)


def history(plan: Plan, runs: Sequence[RunAndState]) -> History:
    """The history table of `plan` from its runs (see `load_runs`)."""
    rows = step_rows(plan, runs)
    columns = [
        RunColumn(record, state, {step: Cell.of(state.steps.get(step)) for step in rows})
        for record, state in runs
    ]
    return History(plan.golive, rows, columns)
