"""Rehearsal histories with exact durations, appended to a real SQLite store event by event."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from golive.engine.events import (
    Event,
    Outcome,
    RollbackFinished,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    encode,
)
from golive.plan import Plan, parse_plan_text
from golive.report.history import RunAndState, load_runs
from golive.store import EventStore, RunRecord, open_store


class ManualClock:
    """The store's clock; each recorded step moves it by the step's duration."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 2, 20, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


Record = Callable[..., RunRecord]


def plan_text(plan: Plan) -> str:
    """A text of `plan` to keep in its runs' RunStarted, as the engine keeps the plan file's:
    JSON is YAML, and what it leaves out (keys not written) reads back the same."""
    return json.dumps(plan.model_dump(mode="json", exclude_unset=True, by_alias=True))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[EventStore]:
    with open_store(f"sqlite:///{tmp_path / 'state.db'}", clock=clock) as opened:
        yield opened


@pytest.fixture
def record(store: EventStore, clock: ManualClock) -> Record:
    """Record a finished run of `plan`: steps one after another, then an optional rollback."""

    def run(
        plan: Plan,
        durations: Mapping[str, float],
        *,
        env: str = "staging",
        failed: str | None = None,
        rollback: tuple[bool, float] | None = None,
        outcome: Outcome | None = None,
        skipped: str | None = None,
    ) -> RunRecord:
        started = clock.now
        created = store.create_run(
            plan_id=plan.golive, plan_path="plan.golive.yaml", plan_hash="0f3a", env=env,
            release="1.0", rehearsal=not plan.is_production(env), started_by="ana",
        )  # fmt: skip
        append = _appender(store, created.id)
        append(RunStarted(
            plan_id=plan.golive, plan_path="plan.golive.yaml", plan_hash="0f3a",
            plan_text=plan_text(plan),
            env=env, release="1.0", rehearsal=created.rehearsal, started_by="ana",
            max_parallel=10, host="test", pid=1, steps=[s.id for s in plan.steps],
        ))  # fmt: skip
        for step, seconds in durations.items():
            append(StepStarted(step=step, attempt=1, kind="run"))
            clock.advance(seconds)
            if step == failed:
                append(StepFailed(step=step, attempt=1, duration=seconds, error="exit 1"))
            elif step == skipped:  # failed, then skipped by someone's decision: the run goes on
                append(StepFailed(step=step, attempt=1, duration=seconds, error="exit 1"))
                append(StepSkipped(step=step, reason="skipped by ana", by="ana"))
            else:
                append(StepSucceeded(step=step, attempt=1, duration=seconds, exit_code=0))
        if rollback is not None:
            complete, seconds = rollback
            append(RollbackStarted(by="ana", reason="rehearsing the rollback"))
            clock.advance(seconds)
            append(RollbackFinished(complete=complete, duration=seconds))
        end = outcome or (Outcome.rolled_back if rollback else None)
        end = end or (Outcome.failed if failed else Outcome.completed)
        append(RunFinished(outcome=end, duration=(clock.now - started).total_seconds()))
        clock.advance(3600)  # the next rehearsal, an hour later
        return created

    return run


def _appender(store: EventStore, run_id: str) -> Callable[[Event], None]:
    def append(event: Event) -> None:
        type_name, step, data = encode(event)
        store.append(run_id, type_name, step=step, data=data)

    return append


@pytest.fixture
def runs_of(store: EventStore) -> Callable[[Plan], list[RunAndState]]:
    return lambda plan: load_runs(store=store, plan_id=plan.golive)


def plan_of(text: str) -> Plan:
    return parse_plan_text(text, display="plan.golive.yaml")


@pytest.fixture
def parse() -> Callable[[str], Plan]:
    return plan_of
