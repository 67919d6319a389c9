"""The same engine on PostgreSQL: the store is one implementation for both databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive.engine.events import Decision, Outcome
from golive.engine.operator import decide, read_state
from golive.store import EventStore
from golive.testing import PlanRunner, until

PLAN = """
golive: pg
title: PostgreSQL store
people:
  ann: {name: Ann}
environments:
  staging: {}
steps:
  - {id: a, owner: ann, run: "echo a"}
  - {id: b, owner: ann, needs: [a], run: "test -f DIR/fixed", undo: "echo undo-b"}
  - {id: c, owner: ann, needs: [b], run: "echo c"}
"""


@pytest.mark.postgres
def test_a_run_paused_and_retried_on_a_postgresql_store(tmp_path: Path, postgres_url: str) -> None:
    runner = PlanRunner.from_yaml(
        tmp_path, PLAN.replace("DIR", str(tmp_path)), store_url=postgres_url
    )

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).paused)
        (tmp_path / "fixed").touch()
        decide(store, store.get_run(run_id), decision=Decision.retry, by="ann", step="b", why=None)

    state = runner.run(env="staging", operator=operator)
    assert state.outcome is Outcome.completed
    assert state.step("b").attempt == 2
    assert list(state.step("c").output) == ["c"]
    assert not (tmp_path / ".golive").exists()  # nothing went to a local SQLite file
