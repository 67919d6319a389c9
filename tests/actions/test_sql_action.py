"""`sql:` steps on SQLite, PostgreSQL and MariaDB: a statement in a transaction, `undo:` another."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from golive.actions.base import RunResources
from golive.checks.database import DatabaseError, database
from golive.engine.events import Outcome
from golive.engine.state import StepStatus, UndoStatus
from golive.store import open_store
from golive.testing import PlanRunner

SLEEP = {
    "sqlite": "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n",
    "postgresql": "select pg_sleep(30)",
    "mysql": "select sleep(30)",
}


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with a settings table: signups open."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'legacy.db'}"
    else:
        url = request.getfixturevalue(f"{request.param}_url")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("create table settings (name varchar(20), value integer)")
            connection.exec_driver_sql("insert into settings values ('signups', 1)")
    finally:
        engine.dispose()
    return url


def signups(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            value = connection.exec_driver_sql("select value from settings").scalar_one()
            return int(value)
    finally:
        engine.dispose()


def runner_for(tmp_path: Path, url: str, steps: str) -> PlanRunner:
    return PlanRunner.from_yaml(
        tmp_path,
        f"""
golive: sql-steps
title: SQL steps
people:
  ann: {{name: Ann}}
environments:
  staging:
    vars: {{legacy_db: "{url}"}}
steps:
{steps}
""",
    )


def test_a_statement_is_committed_and_its_undo_runs_on_rollback(tmp_path: Path, db: str) -> None:
    runner = runner_for(
        tmp_path,
        db,
        """
  - id: close-signups
    owner: ann
    sql: {db: "{{ vars.legacy_db }}", statement: "update settings set value = 0 where name = 'signups'"}
    undo: update settings set value = 1 where name = 'signups'
  - id: check-closed
    owner: ann
    needs: [close-signups]
    check: {sql: "select value from settings", db: "{{ vars.legacy_db }}", equals: 0}
  - id: migrate
    owner: ann
    needs: [check-closed]
    failure: rollback
    run: "false"
""",
    )
    state = runner.run(env="staging")
    assert state.step("close-signups").status is StepStatus.succeeded
    assert state.step("check-closed").status is StepStatus.succeeded
    assert state.outcome is Outcome.rolled_back
    assert state.step("close-signups").undo is UndoStatus.succeeded
    assert signups(db) == 1
    with open_store(runner.store_url) as store:
        lines = [e.data["text"] for e in store.events(state.run_id, types={"StepOutput"})]
    assert "1 row affected" in "\n".join(lines)


def test_a_failing_statement_changes_nothing_and_fails_the_step(tmp_path: Path, db: str) -> None:
    runner = runner_for(
        tmp_path,
        db,
        """
  - id: broken
    owner: ann
    failure: continue
    sql: {db: "{{ vars.legacy_db }}", statement: "update settings set value = 0 where nosuchcolumn = 1"}
""",
    )
    state = runner.run(env="staging")
    assert state.step("broken").status is StepStatus.failed
    assert "nosuchcolumn" in (state.step("broken").error or "")
    assert signups(db) == 1


def test_a_statement_outliving_the_step_timeout_is_stopped_by_the_server(
    tmp_path: Path, db: str
) -> None:
    sleep = SLEEP[sa.make_url(db).get_backend_name()]
    runner = runner_for(
        tmp_path,
        db,
        f"""
  - id: slow
    owner: ann
    failure: continue
    timeout: 500ms
    sql: {{db: "{{{{ vars.legacy_db }}}}", statement: "{sleep}"}}
""",
    )
    started = time.monotonic()
    state = runner.run(env="staging")
    assert state.step("slow").status is StepStatus.failed
    assert time.monotonic() - started < 5


def test_cancelling_a_statement_cancels_it_on_the_server(db: str) -> None:
    sleep = SLEEP[sa.make_url(db).get_backend_name()]

    async def main() -> float:
        resources = RunResources()
        try:
            target = database(resources, db, read_only=False)
            task = asyncio.ensure_future(target.execute(sleep, timeout=None))
            await asyncio.sleep(0.5)
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return time.monotonic() - started
        finally:
            await resources.aclose()

    assert asyncio.run(main()) < 3


def test_a_sql_step_on_a_relative_sqlite_path_uses_the_plan_directory(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        "sqlite:///legacy.db",
        """
  - id: create
    owner: ann
    sql: {db: "{{ vars.legacy_db }}", statement: "create table t (x integer)"}
    undo: drop table t
""",
    )
    assert runner.run(env="staging").outcome is Outcome.completed
    assert (tmp_path / "legacy.db").is_file()


def test_a_database_url_that_cannot_be_used_fails_the_step(tmp_path: Path) -> None:
    runner = runner_for(
        tmp_path,
        "postgresql+psycopg://golive:hunter2@127.0.0.1:1/booking",
        """
  - id: unreachable
    owner: ann
    failure: continue
    sql: {db: "{{ vars.legacy_db }}", statement: "select 1"}
""",
    )
    state = runner.run(env="staging")
    error = state.step("unreachable").error or ""
    assert error.startswith("postgresql+psycopg://golive:***@127.0.0.1:1/booking: ")
    assert "hunter2" not in error


def test_database_errors_carry_no_password() -> None:
    async def main() -> None:
        resources = RunResources()
        try:
            target = database(
                resources, "mysql+pymysql://root:hunter2@127.0.0.1:1/x", read_only=False
            )
            with pytest.raises(DatabaseError) as caught:
                await target.execute("select 1", timeout=1)
            assert "hunter2" not in str(caught.value)
            assert "root:***@" in str(caught.value)
        finally:
            await resources.aclose()

    asyncio.run(main())
