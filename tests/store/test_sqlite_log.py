"""The SQLite hot path (`append` and `events` on one kept connection) against SQLAlchemy's."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from golive.errors import StoreError
from golive.store import EventStore, open_store


def raw_rows(url: str) -> list[tuple[str, str, str]]:
    with sqlite3.connect(sa.make_url(url).database or "") as connection:
        rows = connection.execute("SELECT type, at, data FROM events ORDER BY seq").fetchall()
    connection.close()
    return rows


def new_run_id(store: EventStore) -> str:
    run = store.create_run(
        plan_id="shop",
        plan_path="/p.yaml",
        plan_hash="h",
        env="staging",
        release=None,
        rehearsal=True,
        started_by="ana",
    )
    return run.id


def test_append_stores_the_same_text_as_the_sqlalchemy_path(sqlite_url: str) -> None:
    moment = datetime(2026, 12, 6, 20, 0, 0, 5, tzinfo=UTC)
    data = {"hosts": ("web-1", "web-2"), "ratio": 0.5, "nested": {"é": None}}
    with open_store(sqlite_url, clock=lambda: moment) as store:
        run_id = new_run_id(store)
        fast = store.append(run_id, "Fast", step="deploy", data=data)
        [through_sqlalchemy] = store.append_many(run_id, [("Slow", "deploy", data)])

    (_, fast_at, fast_data), (_, slow_at, slow_data) = raw_rows(sqlite_url)

    assert (fast_at, fast_data) == (slow_at, slow_data)
    assert fast_at == "2026-12-06 20:00:00.000005"
    read_back = {"hosts": ["web-1", "web-2"], "ratio": 0.5, "nested": {"é": None}}
    assert fast.data == through_sqlalchemy.data == read_back


def test_a_failed_append_fails_once_and_the_next_one_reconnects(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        run_id = new_run_id(store)
        store.append(run_id, "Tick")
        connection = store._sqlite._connection
        assert connection is not None
        connection.close()  # as if the connection broke under the store

        with pytest.raises(StoreError, match=f"cannot append to run {run_id} in the state store"):
            store.append(run_id, "Lost")
        store.append(run_id, "Tock")

        assert [event.type for event in store.events(run_id)] == ["Tick", "Tock"]


def test_a_reader_on_the_hot_path_sees_events_another_store_appended(sqlite_url: str) -> None:
    with open_store(sqlite_url) as engine_side, open_store(sqlite_url) as decide_side:
        run_id = new_run_id(engine_side)
        first = engine_side.append(run_id, "StepStarted", step="deploy")
        assert engine_side.events(run_id, after=first.seq) == []

        decision = decide_side.append(run_id, "DecisionMade", data={"decision": "abort"})

        assert engine_side.events(run_id, after=first.seq) == [decision]
