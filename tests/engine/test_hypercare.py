"""The hypercare phase, driven by the real engine against a real SQLite store, with a scaled clock:
72 hours in seconds of wall time. The monitor is a real `run:` check whose answer a file flips."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from golive.engine.clock import ScaledClock
from golive.engine.commands import start_run
from golive.engine.events import (
    HypercareExited,
    HypercareStarted,
    IncidentOpened,
    IncidentResolved,
    IssueResolved,
    MonitorChecked,
    ObjectiveEvaluated,
    Outcome,
    encode,
)
from golive.engine.hypercare import (
    close_hypercare,
    exit_criteria,
    sign_off_hypercare,
)
from golive.engine.operator import read_events, read_state
from golive.engine.state import RunState
from golive.errors import DecisionRejected, UsageError
from golive.plan import load_plan
from golive.store import EventStore, open_store
from golive.testing import default_state_url

START = dt.datetime(2026, 12, 6, 22, 0, tzinfo=dt.UTC)
SCALE = 72 * 3600 / 14  # 72 h in 14 s

PLAN = """
golive: hc
title: Hypercare test
people:
  ann: {name: Ann}
  bob: {name: Bob}
objectives:
  - id: bookings
    title: Clients book online
    check: {run: "test -f DIR/booked"}
    every: 6h
environments:
  production:
    vars: {dir: DIR}
steps:
  - {id: deploy, owner: ann, run: "touch DIR/booked", undo: "true"}
hypercare:
  duration: 72h
  monitors:
    - {name: health, run: "test ! -f DIR/down", every: 10m, for: 2, severity: critical}
  exit:
    no_open_incidents: critical
    objectives_met: true
    green_for: 12h
    sign_off: [bob]
"""


def plan_file(tmp_path: Path, text: str = PLAN) -> Path:
    path = tmp_path / "hc.golive.yaml"
    path.write_text(text.replace("DIR", str(tmp_path)), encoding="utf-8")
    return path


def append(store: EventStore, run_id: str, event: Any) -> None:
    type_name, step, data = encode(event)
    store.append(run_id, type_name, step=step, data=data)


async def wait_for(store: EventStore, run_id: str, test: Any, *, timeout: float = 20.0) -> RunState:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        state = read_state(store, run_id)
        if test(state):
            return state
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the run's state")
        await asyncio.sleep(0.01)


def drive(path: Path, operator: Any, *, scale: float = SCALE) -> tuple[str, RunState]:
    url = default_state_url(path)
    with open_store(url) as store:
        started = start_run(
            load_plan(path, env="production"), store=store, env="production", release=None, by="ann"
        )
        engine = started.engine
        engine.clock = ScaledClock(START, scale=scale)
        engine.poll_interval = 0.02

        async def main() -> RunState:
            side = asyncio.ensure_future(operator(store, started.run.id))
            driving = asyncio.ensure_future(engine.drive())
            await asyncio.wait({side, driving}, return_when=asyncio.FIRST_COMPLETED)
            if side.done() and side.exception() is not None:
                driving.cancel()
                await asyncio.gather(driving, return_exceptions=True)
                raise side.exception()  # type: ignore[misc]
            async with asyncio.timeout(60):
                state = await driving
            await side
            return state

        return started.run.id, asyncio.run(main())


def test_72_hours_of_hypercare_red_incident_recovery_objectives_and_handover(
    tmp_path: Path,
) -> None:
    path = plan_file(tmp_path)
    down = tmp_path / "down"
    seen: dict[str, Any] = {}

    async def operator(store: EventStore, run_id: str) -> None:
        state = await wait_for(store, run_id, lambda s: s.hypercare is not None)
        assert state.outcome is Outcome.completed  # the steps' outcome is recorded first
        assert state.phase == "hypercare"
        await wait_for(store, run_id, lambda s: s.hypercare.monitors["health"].ok is True)
        down.touch()  # the monitor goes red
        state = await wait_for(
            store, run_id, lambda s: any(i.source == "monitor" for i in s.issues.values())
        )
        incident = next(i for i in state.issues.values() if i.source == "monitor")
        await asyncio.sleep(0.2)  # several more failing probes: still one incident
        seen["blocked"] = [
            c.name
            for c in exit_criteria(load_plan(path).plan, read_state(store, run_id), START)
            if not c.holds
        ]
        down.unlink()  # it recovers
        await wait_for(store, run_id, lambda s: s.issues[incident.id].recovered_at is not None)
        append(store, run_id, IssueResolved(issue=incident.id, by="ann", resolution="disk freed"))
        sign_off_hypercare(store=store, run=store.get_run(run_id), by="bob", note=None)

    run_id, state = drive(path, operator)

    with open_store(default_state_url(path)) as store:
        events = read_events(store, run_id)
    kinds = Counter(type(e.event).__name__ for e in events)
    assert kinds["HypercareStarted"] == 1
    assert kinds["IncidentOpened"] == 1
    assert kinds["IncidentResolved"] == 1
    opened = next(e for e in events if isinstance(e.event, IncidentOpened))
    assert opened.event.severity == "critical"
    assert opened.event.monitor == "health"
    assert opened.event.figures
    assert opened.event.figures["failures"] == 2
    recovered = next(e.event for e in events if isinstance(e.event, IncidentResolved))
    assert recovered.issue == opened.seq
    assert recovered.down_for > 0
    phases = {e.event.phase for e in events if isinstance(e.event, ObjectiveEvaluated)}
    assert phases == {"steps_completed", "hypercare", "exit"}
    assert seen["blocked"] == ["duration", "no_open_incidents", "green_for 12h00m", "sign_off"]

    started = next(e for e in events if isinstance(e.event, HypercareStarted))
    exited = next(e for e in events if isinstance(e.event, HypercareExited))
    assert exited.event.reason == "exit_criteria"
    assert exited.event.criteria
    assert all(c["holds"] for c in exited.event.criteria.values())
    until = dt.datetime.fromisoformat(started.event.until)
    assert until - START >= dt.timedelta(hours=72)
    assert state.hypercare is not None
    assert not state.hypercare.active
    assert state.phase == "completed"
    assert state.outcome is Outcome.completed
    assert state.objectives["bookings"].verdict == "met"
    # the log's growth: heartbeats (hourly) and changes, not every probe (432 of them)
    checks = [e.event for e in events if isinstance(e.event, MonitorChecked)]
    assert len(checks) <= 72 + 8, len(checks)
    assert sum(1 for c in checks if not c.heartbeat) <= 4


def test_a_flapping_monitor_is_folded_into_heartbeats(tmp_path: Path) -> None:
    text = PLAN.replace('run: "test ! -f DIR/down"', 'run: "test $(( $(date +%N) % 2 )) = 0"')
    text = text.replace("every: 10m, for: 2", "every: 1m, for: 3")
    text = text.replace("duration: 72h", "duration: 6h").replace("sign_off: [bob]", "early: false")
    path = plan_file(tmp_path, text)

    async def operator(store: EventStore, run_id: str) -> None:
        await wait_for(store, run_id, lambda s: s.hypercare is not None)
        await asyncio.sleep(1.0)
        close_hypercare(store=store, run=store.get_run(run_id), by="ann", why="test over")

    run_id, state = drive(path, operator, scale=6 * 3600 / 4)
    with open_store(default_state_url(path)) as store:
        events = read_events(store, run_id)
    checks = [e.event for e in events if isinstance(e.event, MonitorChecked)]
    hours = 6
    assert len(checks) <= hours * (12 + 3 + 1) + 2
    assert state.hypercare is not None
    assert state.hypercare.exit_reason == "closed"
    assert state.hypercare.exited_by == "ann"
    assert state.hypercare.exit_why == "test over"


def test_time_up_with_criteria_failing_keeps_it_open_and_says_what_blocks(
    tmp_path: Path,
) -> None:
    path = plan_file(
        tmp_path,
        PLAN.replace("duration: 72h", "duration: 2h").replace("green_for: 12h", "green_for: 1h"),
    )

    async def operator(store: EventStore, run_id: str) -> None:
        await wait_for(store, run_id, lambda s: s.hypercare is not None)
        await asyncio.sleep(1.0)  # well past the 2 h: no sign-off, so still open
        state = read_state(store, run_id)
        assert state.hypercare is not None
        assert state.hypercare.active
        blocked = [
            c
            for c in exit_criteria(load_plan(path).plan, state, START + dt.timedelta(hours=3))
            if not c.holds
        ]
        assert [c.name for c in blocked] == ["sign_off"]
        assert "bob" in blocked[0].detail
        with pytest.raises(UsageError, match="not asked to sign off"):
            sign_off_hypercare(store=store, run=store.get_run(run_id), by="ann", note=None)
        with pytest.raises(UsageError, match="needs a reason"):
            close_hypercare(store=store, run=store.get_run(run_id), by="ann", why=" ")
        sign_off_hypercare(store=store, run=store.get_run(run_id), by="bob", note="ok")
        with pytest.raises(DecisionRejected, match="already"):
            sign_off_hypercare(store=store, run=store.get_run(run_id), by="bob", note=None)

    _, state = drive(path, operator, scale=2 * 3600 / 0.5)
    assert state.hypercare is not None
    assert state.hypercare.exit_reason == "exit_criteria"


def test_a_rehearsal_measures_objectives_but_has_no_hypercare(tmp_path: Path) -> None:
    path = plan_file(tmp_path, PLAN.replace("production:", "staging:"))
    with open_store(default_state_url(path)) as store:
        started = start_run(
            load_plan(path, env="staging"), store=store, env="staging", release=None, by="ann"
        )
        state = asyncio.run(started.engine.drive())
    assert state.outcome is Outcome.completed
    assert state.hypercare is None
    assert state.phase == "completed"
    assert state.objectives["bookings"].verdict == "met"
    assert state.objectives["bookings"].phase == "steps_completed"


def test_a_rollback_decided_during_hypercare_ends_it_and_rolls_back(tmp_path: Path) -> None:
    from golive.engine.events import Decision
    from golive.engine.operator import decide

    path = plan_file(tmp_path)

    async def operator(store: EventStore, run_id: str) -> None:
        await wait_for(store, run_id, lambda s: s.hypercare is not None)
        decide(store, store.get_run(run_id), decision=Decision.rollback, by="ann", step=None,
               why="bookings lost")  # fmt: skip

    _, state = drive(path, operator)
    assert state.hypercare is not None
    assert state.hypercare.exit_reason == "closed"
    assert state.outcome is Outcome.rolled_back
