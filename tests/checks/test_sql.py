"""SQL checks on SQLite, the machine's PostgreSQL and its MariaDB: each test runs on all three,
against a `clients` table of 5,000 accounts of which 4,999 can log in."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from golive.actions.base import RunResources
from golive.checks.database import database

SLEEP = {
    "sqlite": "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n",
    "postgresql": "select pg_sleep(5)",
    "mysql": "select sleep(5)",
}


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL with the clients table filled in."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'booking.db'}"
    else:
        url = request.getfixturevalue(f"{request.param}_url")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "create table clients (id integer primary key, email varchar(100), "
                "can_login boolean not null)"
            )
            connection.execute(
                sa.text("insert into clients values (:id, :email, :can_login)"),
                [
                    {"id": i, "email": f"client{i}@gym.example", "can_login": i != 77}
                    for i in range(1, 5001)
                ],
            )
    finally:
        engine.dispose()
    return url


def count_clients(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("select count(*) from clients").scalar_one())
    finally:
        engine.dispose()


def table_names(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def backend(url: str) -> str:
    return sa.make_url(url).get_backend_name()


def test_a_count_that_equals_the_expectation_passes(run_check: Any, db: str) -> None:
    outcome = run_check(
        '{sql: "select count(*) from clients where can_login", db: "{{ vars.db }}", equals: 4999}',
        vars={"db": db},
    )
    assert outcome.ok, outcome.summary
    assert outcome.summary == "select count(*) from clients where... = 4999"
    assert outcome.details == {"value": 4999}


def test_a_count_that_differs_fails_with_the_value_and_the_expectation(
    run_check: Any, db: str
) -> None:
    outcome = run_check(
        f'{{sql: "select count(*) from clients where can_login", db: "{db}", equals: 5000}}'
    )
    assert not outcome.ok
    assert outcome.summary == "select count(*) from clients where... = 4999, expected 5000"


@pytest.mark.parametrize(
    ("expectation", "ok"),
    [
        ("below: 5001", True),
        ("below: 5000", False),
        ("above: 4999", True),
        ("above: 5000", False),
        ("above: 0, below: 10000", True),
    ],
)
def test_below_and_above_bound_the_value(
    run_check: Any, db: str, expectation: str, ok: bool
) -> None:
    outcome = run_check(f'{{sql: "select count(*) from clients", db: "{db}", {expectation}}}')
    assert outcome.ok is ok, outcome.summary
    if not ok:
        assert outcome.summary.startswith("select count(*) from clients = 5000, expected ")


def test_no_rows_passes_on_an_empty_answer_and_shows_the_first_row_otherwise(
    run_check: Any, db: str
) -> None:
    clean = f'{{sql: "select id from clients where email is null", db: "{db}", no_rows: true}}'
    assert run_check(clean).ok
    dirty = run_check(
        f'{{sql: "select id, email from clients where not can_login", db: "{db}", no_rows: true}}'
    )
    assert not dirty.ok
    assert 'returned a row, expected none: {"id": 77, "email": "client77@' in dirty.summary
    assert dirty.details["first"] == {"id": 77, "email": "client77@gym.example"}


def test_a_value_check_needs_exactly_one_row(run_check: Any, db: str) -> None:
    several = run_check(f'{{sql: "select id from clients", db: "{db}", equals: 1}}')
    assert not several.ok
    assert "returned several rows, expected one" in several.summary
    none = run_check(f'{{sql: "select id from clients where id < 0", db: "{db}", equals: 1}}')
    assert not none.ok
    assert "returned no rows, expected one" in none.summary


def test_text_compares_exactly_and_percent_and_colon_reach_the_database_untouched(
    run_check: Any, db: str
) -> None:
    query = "select email from clients where email like '%nt77@%' and email <> 'x :y'"
    assert run_check(f'{{sql: "{query}", db: "{db}", equals: client77@gym.example}}').ok
    assert not run_check(f'{{sql: "{query}", db: "{db}", equals: Client77@gym.example}}').ok


@pytest.mark.parametrize(
    "statement",
    [
        "insert into clients values (9999, 'x', true)",
        "update clients set can_login = false",
        "delete from clients",
        "create table intruder (x integer)",
        "drop table clients",
        "select 1; delete from clients",
    ],
)
def test_a_check_cannot_write(run_check: Any, db: str, statement: str) -> None:
    outcome = run_check(f'{{sql: "{statement}", db: "{db}", equals: 1}}')
    assert not outcome.ok
    reasons = ("read-only", "readonly", "READ ONLY", "one statement", "multiple commands", "syntax")
    assert any(reason in outcome.summary for reason in reasons), outcome.summary
    assert count_clients(db) == 5000
    assert table_names(db) == ["clients"]


def test_a_query_that_runs_too_long_is_stopped_by_the_server(run_check: Any, db: str) -> None:
    started = time.monotonic()
    sleep = SLEEP[backend(db)]
    outcome = run_check(f'{{sql: "{sleep}", db: "{db}", equals: 1}}', timeout=0.5)
    assert not outcome.ok
    assert time.monotonic() - started < 3
    assert any(
        word in outcome.summary
        for word in ("statement timeout", "max_statement_time", "the statement timeout")
    ), outcome.summary


def test_the_password_of_the_url_is_never_shown(run_check: Any) -> None:
    outcome = run_check(
        '{sql: "select 1", db: "postgresql+psycopg://golive:hunter2@127.0.0.1:1/booking", '
        "equals: 1}"
    )
    assert not outcome.ok
    assert "hunter2" not in outcome.summary
    assert "postgresql+psycopg://golive:***@127.0.0.1:1/booking: " in outcome.summary


def test_a_missing_sqlite_file_fails_and_is_not_created(run_check: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    outcome = run_check(f'{{sql: "select 1", db: "sqlite:///{missing}", equals: 1}}')
    assert not outcome.ok
    assert outcome.summary.endswith(f"no SQLite database at {missing}")
    assert not missing.exists()


def test_a_relative_sqlite_path_is_read_from_the_plan_directory(
    run_check: Any, tmp_path: Path
) -> None:
    (tmp_path / "staging").mkdir()
    sqlite = sa.create_engine(f"sqlite:///{tmp_path / 'staging' / 'booking.db'}")
    with sqlite.begin() as connection:
        connection.exec_driver_sql("create table t (x integer)")
    sqlite.dispose()
    check = '{sql: "select count(*) from t", db: "sqlite:///staging/booking.db", equals: 0}'
    assert run_check(check, workdir=tmp_path).ok


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mssql+pyodbc://sa:pw@db/x", "golive talks to PostgreSQL, MariaDB/MySQL and SQLite only"),
        ("postgresql+nosuchdriver://db/x", "postgresql+nosuchdriver://db/x: "),
    ],
)
def test_a_database_url_golive_cannot_use_fails_the_check(
    run_check: Any, url: str, message: str
) -> None:
    outcome = run_check(f'{{sql: "select 1", db: "{url}", equals: 1}}')
    assert not outcome.ok
    assert message in outcome.summary


def test_a_run_keeps_one_engine_per_url_and_purpose_and_closes_them(db: str) -> None:
    async def main() -> None:
        resources = RunResources()
        reader = database(resources, db, read_only=True)
        assert database(resources, db, read_only=True) is reader
        writer = database(resources, db, read_only=False)
        assert writer is not reader
        assert (await reader.query("select count(*) from clients", timeout=5)).rows == ((5000,),)
        await resources.aclose()
        assert reader.engine.pool.checkedout() == 0

    asyncio.run(main())
