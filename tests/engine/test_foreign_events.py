"""Events another process appends are folded by the engine once each, however they fall
between the engine's own (which it does not read back when nothing came in between)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from golive.engine.commands import start_run
from golive.engine.events import Decision, DecisionMade, StepStarted, StepSucceeded, encode
from golive.engine.runner import Engine
from golive.plan import load_plan
from golive.store import EventStore, open_store

PLAN = """
golive: t
title: Foreign events
people:
  ann: {name: Ann}
environments:
  staging: {}
steps:
  - {id: a, owner: ann, run: "true"}
  - {id: b, owner: ann, needs: [a], run: "true"}
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "t.golive.yaml"
    path.write_text(PLAN)
    with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        started = start_run(
            load_plan(path, env="staging"), store=store, env="staging", release=None, by="ann"
        )
        yield started.engine


def from_elsewhere(engine: Engine, event: DecisionMade) -> None:
    """Appended as `golive decide` in another terminal would: through a store of its own."""
    with open_store(engine.store.url) as other:
        type_name, step, data = encode(event)
        other.append(engine.run_id, type_name, step=step, data=data)


def own_progress(engine: Engine) -> None:
    engine.record(StepStarted(step="a", attempt=1, kind="run", command="true"))
    engine.record(StepSucceeded(step="a", attempt=1, duration=0.1, exit_code=0))


def test_the_engines_own_events_alone_are_nothing_to_fold(engine: Engine) -> None:
    own_progress(engine)

    assert engine.sync() is False
    assert engine.sync() is False


def test_an_event_appended_after_the_engines_own_is_folded_once(engine: Engine) -> None:
    own_progress(engine)
    from_elsewhere(engine, DecisionMade(decision=Decision.abort, by="ann"))

    assert engine.sync() is True
    assert engine.state.abort_requested
    assert engine.sync() is False


def test_an_event_appended_between_two_of_the_engines_own_is_folded(engine: Engine) -> None:
    engine.record(StepStarted(step="a", attempt=1, kind="run", command="true"))
    from_elsewhere(engine, DecisionMade(decision=Decision.abort, by="ann"))
    engine.record(StepSucceeded(step="a", attempt=1, duration=0.1, exit_code=0))

    assert engine.sync() is True
    assert engine.state.abort_requested
    assert [d.event for d in engine.state.decisions] == [
        DecisionMade(decision=Decision.abort, by="ann")
    ]
    assert engine.sync() is False


def test_events_of_another_run_between_the_engines_own_are_not_folded(
    engine: Engine, tmp_path: Path
) -> None:
    store: EventStore = engine.store
    other_run = store.create_run(
        plan_id="t",
        plan_path=str(tmp_path / "t.golive.yaml"),
        plan_hash="h",
        env="staging",
        release=None,
        rehearsal=True,
        started_by="ann",
    )
    engine.record(StepStarted(step="a", attempt=1, kind="run", command="true"))
    store.append(other_run.id, "DecisionMade", data={"decision": "abort", "by": "ann"})
    engine.record(StepSucceeded(step="a", attempt=1, duration=0.1, exit_code=0))

    assert engine.sync() is False
    assert not engine.state.abort_requested
