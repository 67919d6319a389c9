"""Untrusted URLs, unreachable or damaged databases and damaged rows give one clear StoreError."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from golive.errors import RunNotFound, StoreError
from golive.store import EventStore, RunRecord, open_store

MakeRun = Callable[..., RunRecord]


def open_error(url: str) -> str:
    """The message of the StoreError that opening `url` raises."""
    with pytest.raises(StoreError) as caught:
        open_store(url)
    message = str(caught.value)
    assert "\n" not in message
    assert "hunter2" not in message
    return message


@pytest.mark.parametrize(
    "url",
    ["", "not a url", "state.db", "postgresql://ana:hunter2@db:port/golive", "://nothing"],
)
def test_a_url_that_cannot_be_parsed_is_refused_with_an_example(url: str) -> None:
    message = open_error(url)

    assert "cannot be parsed" in message
    assert "sqlite:///path/to/state.db" in message


@pytest.mark.parametrize(
    "url",
    [
        "mysql://ana:hunter2@db/golive",
        "http://example.com/state",
        "postgresql+psycopg2://ana:hunter2@db/golive",
        "sqlite+aiosqlite:///state.db",
    ],
)
def test_an_unsupported_database_or_driver_is_refused(url: str) -> None:
    message = open_error(url)

    assert "does not support" in message
    assert "ana:***@" in message or "sqlite" in url or "http" in url


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_store_is_refused(url: str) -> None:
    assert "in-memory" in open_error(url)


def test_an_unreachable_server_is_reported_with_the_password_masked() -> None:
    message = open_error("postgresql+psycopg://ana:hunter2@127.0.0.1:1/golive")

    assert message.startswith("cannot open the state store postgresql+psycopg://ana:***@")
    assert "database server is running" in message


def test_a_password_in_the_query_string_is_masked_too() -> None:
    message = open_error("postgresql+psycopg://ana@127.0.0.1:1/golive?password=hunter2")

    assert "password=***" in message


@pytest.mark.postgres
def test_a_missing_postgres_database_is_reported(postgres_url: str) -> None:
    missing = sa.make_url(postgres_url).set(database="golive_no_such_db")

    message = open_error(missing.render_as_string(hide_password=False))

    assert "golive_no_such_db" in message
    assert "database exists" in message


def test_a_directory_that_cannot_be_created_is_reported(tmp_path: Path) -> None:
    (tmp_path / "plans").write_text("a file, not a directory")

    message = open_error(f"sqlite:///{tmp_path / 'plans' / '.golive' / 'state.db'}")

    assert "cannot create the directory" in message
    assert "choose another --state" in message


def test_a_sqlite_path_that_is_a_directory_is_reported(tmp_path: Path) -> None:
    message = open_error(f"sqlite:///{tmp_path}")

    assert "unable to open database file" in message
    assert "--state" in message


def test_a_file_of_random_bytes_is_reported_as_not_a_state_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(os.urandom(8192))

    message = open_error(f"sqlite:///{path}")

    assert "not a golive state store or is damaged" in message


@pytest.mark.postgres
def test_losing_the_connection_fails_one_call_and_the_next_reconnects(
    postgres_url: str,
) -> None:
    with open_store(postgres_url) as store:
        run = store.create_run(
            plan_id="shop",
            plan_path="/p.yaml",
            plan_hash="h",
            env="staging",
            release=None,
            rehearsal=True,
            started_by="ana",
        )
        admin = sa.create_engine(postgres_url)
        with admin.begin() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        admin.dispose()

        with pytest.raises(StoreError, match=f"cannot append to run {run.id} in the state store"):
            store.append(run.id, "Tick")
        store.append(run.id, "Tock")

        assert [event.type for event in store.events(run.id)] == ["Tock"]


def damage_sqlite(url: str, sql: str) -> None:
    with sqlite3.connect(sa.make_url(url).database or "") as connection:
        connection.execute(sql)
    connection.close()


@pytest.mark.parametrize(
    ("column", "value", "complaint"),
    [
        ("data", "'{not json'", "not valid JSON"),
        ("data", "'[1, 2]'", "not a JSON object"),
        ("data", "x'ff00'", "not valid JSON"),
        ("at", "'yesterday'", "not a time"),
        ("type", "x'41'", "not text"),
        ("step", "x'00ff'", "not text"),
    ],
)
def test_a_damaged_event_row_is_reported_with_its_run_and_seq(
    sqlite_url: str, column: str, value: str, complaint: str
) -> None:
    with open_store(sqlite_url) as store:
        run = store.create_run(
            plan_id="shop",
            plan_path="/p.yaml",
            plan_hash="h",
            env="staging",
            release=None,
            rehearsal=True,
            started_by="ana",
        )
        event = store.append(run.id, "Tick")
        damage_sqlite(sqlite_url, f"UPDATE events SET {column} = {value}")

        with pytest.raises(StoreError) as caught:
            store.events(run.id)

    message = str(caught.value)
    assert f"run '{run.id}', event seq {event.seq}" in message
    assert f"column '{column}'" in message
    assert complaint in message
    assert "restore the store from a backup" in message


@pytest.mark.parametrize(
    ("column", "value", "complaint"),
    [
        ("rehearsal", "'maybe'", "not a boolean"),
        ("created_at", "'2026-13-45'", "not a time"),
        ("plan_id", "x'00'", "not text"),
    ],
)
def test_a_damaged_run_row_is_reported_with_its_run_id(
    sqlite_url: str, column: str, value: str, complaint: str
) -> None:
    with open_store(sqlite_url) as store:
        run = store.create_run(
            plan_id="shop",
            plan_path="/p.yaml",
            plan_hash="h",
            env="staging",
            release=None,
            rehearsal=True,
            started_by="ana",
        )
        damage_sqlite(sqlite_url, f"UPDATE runs SET {column} = {value}")

        for read in (lambda: store.get_run(run.id), store.runs, store.latest_run):
            with pytest.raises(StoreError, match=f"run '{run.id}'.*column '{column}'.*{complaint}"):
                read()


@pytest.mark.postgres
def test_a_json_value_that_is_not_an_object_is_reported_on_postgres(
    postgres_url: str,
) -> None:
    with open_store(postgres_url) as store:
        run = store.create_run(
            plan_id="shop",
            plan_path="/p.yaml",
            plan_hash="h",
            env="staging",
            release=None,
            rehearsal=True,
            started_by="ana",
        )
        event = store.append(run.id, "Tick")
        admin = sa.create_engine(postgres_url)
        with admin.begin() as connection:
            connection.execute(sa.text("UPDATE events SET data = '\"a string\"'"))
        admin.dispose()

        with pytest.raises(StoreError, match=f"event seq {event.seq}.*not a JSON object"):
            store.events(run.id)


def test_a_closed_store_cannot_be_used(store: EventStore) -> None:
    store.close()

    with pytest.raises(ValueError, match="closed"):
        store.runs()


@pytest.mark.postgres
def test_a_store_opened_with_a_password_never_shows_it(postgres_url: str) -> None:
    # trust auth ignores the password, so the store opens and we can look at what it shows
    url = sa.make_url(postgres_url).set(password="hunter2").render_as_string(hide_password=False)

    with open_store(url) as store:
        with pytest.raises(RunNotFound) as caught:
            store.get_run("r-404")
        assert store.url == url
        assert "hunter2" not in store.display_url
        assert "hunter2" not in repr(store)
        assert "postgres:***@" in str(caught.value)
