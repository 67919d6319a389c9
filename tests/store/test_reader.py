"""store/reader.py: the light reader `golive status` uses answers exactly what `open_store` reads,
on SQLite and on PostgreSQL, and leaves to `open_store` every store it should not read."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from golive.errors import GoliveError, RunNotFound
from golive.store import EventStore, migration, open_store, reader
from golive.store.leases import current_lease, take_lease
from golive.store.reader import StoreReader, open_reader

from .conftest import MakeRun


def opened_reader(url: str) -> StoreReader:
    found = open_reader(url)
    assert found is not None, url
    return found


def same_error(store_call: object, reader_call: object) -> None:
    """Both calls raise the same error, with the same message."""
    errors = []
    for call in (store_call, reader_call):
        with pytest.raises(GoliveError) as raised:
            call()  # type: ignore[operator]
        errors.append((type(raised.value), raised.value.message))
    assert errors[0] == errors[1]


def test_the_reader_reads_the_runs_events_and_lease_the_store_reads(
    store: EventStore, store_url: str, make_run: MakeRun
) -> None:
    first = make_run(plan_id="shop")
    second = make_run(plan_id="blog", release=None, rehearsal=False)
    events = [
        ("RunStarted", None, {"plan_text": "golive: shop\n", "steps": ["a", "b"], "n": 1.5}),
        ("StepOutput", "a", {"stream": "stdout", "text": "héllo \x1b[31mred\n", "host": None}),
        ("GateVoted", "b", {"by": "ana", "vote": "go", "comment": None}),
        ("NotificationFailed", None, {"notifications": ["n-1"], "retry_at": "2026-12-06"}),
        ("MonitorChecked", None, {"monitor": "health", "ok": False, "value": 0.25}),
    ]
    for type_, step, data in events:
        store.append(first.id, type_, step=step, data=data)
    store.append(second.id, "RunStarted", data={"nested": {"list": [1, None, True]}})
    take_lease(
        store=store,
        run_id=first.id,
        host="h1",
        pid=4242,
        ttl=dt.timedelta(seconds=30),
        check=lambda current, now: None,
    )
    with opened_reader(store_url) as light:
        assert light.display_url == store.display_url
        assert light.latest_run() == store.latest_run()
        assert light.latest_run(plan_id="shop") == store.latest_run(plan_id="shop") == first
        for name in (first.id, first.id[:-2], first.id[-4:], second.id):
            assert light.find_run(name) == store.find_run(name)
        assert light.find_run("r-", plan_id="blog") == store.find_run("r-", plan_id="blog")
        for run in (first, second):
            read, expected = light.events(run.id), store.events(run.id)
            assert read == expected
            assert [e.hash for e in read] == [e.hash for e in expected]
        assert light.lease(first.id) == current_lease(store=store, run_id=first.id)
        assert light.lease(second.id) is None
        same_error(lambda: store.find_run("r-"), lambda: light.find_run("r-"))
        same_error(lambda: store.find_run("nope"), lambda: light.find_run("nope"))
        same_error(lambda: store.events("nope"), lambda: light.events("nope"))
        same_error(
            lambda: store.latest_run(plan_id="none"), lambda: light.latest_run(plan_id="none")
        )


def test_a_damaged_row_is_the_same_error_through_the_reader(
    store: EventStore, store_url: str, make_run: MakeRun
) -> None:
    run = make_run()
    store.append(run.id, "RunStarted", data={"a": 1})
    with store.transaction("damage", write=True) as connection:
        connection.execute(sa.text("UPDATE events SET data = '[1, 2]'"))
    with opened_reader(store_url) as light:
        same_error(lambda: store.events(run.id), lambda: light.events(run.id))


def test_a_store_at_a_revision_this_golive_does_not_know_is_refused_as_open_store_does(
    store: EventStore, store_url: str
) -> None:
    with store.transaction("bump", write=True) as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    store.close()
    same_error(lambda: open_store(store_url), lambda: open_reader(store_url))


def test_a_store_to_create_or_migrate_is_left_to_open_store(tmp_path: Path) -> None:
    missing = tmp_path / "none" / "state.db"
    assert open_reader(f"sqlite:///{missing}") is None
    assert not missing.parent.exists()  # reading never creates a store
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert open_reader(f"sqlite:///{empty}") is None
    with (
        open_store(f"sqlite:///{empty}") as store,
        store.transaction("downgrade", write=True) as connection,
    ):
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0008'"))
    assert open_reader(f"sqlite:///{empty}") is None


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///relative/state.db?timeout=5",
        "sqlite:///:memory:",
        "sqlite://",
        "mysql://root@127.0.0.1/x",
        "postgresql+psycopg2://u@h/db",
        "postgresql://u:p%40ss@h/db",
        "postgresql://u@h/db?sslmode=require",
    ],
)
def test_urls_the_reader_does_not_parse_go_to_open_store(url: str) -> None:
    assert open_reader(url) is None


def test_the_reader_knows_the_head_the_migrations_end_at() -> None:
    assert reader.HEAD == migration.HEAD


def test_a_postgresql_password_is_masked_as_the_store_masks_it() -> None:
    from golive.store.url import display_url, parse_url

    url = "postgresql+psycopg://golive:s3cret@127.0.0.1:5432/golive"
    target = reader._target(url)
    assert target is not None
    assert target.shown == display_url(parse_url(url))
    assert "s3cret" not in target.shown


def test_reading_is_refused_as_run_not_found_for_an_unknown_run(sqlite_url: str) -> None:
    with open_store(sqlite_url):
        pass
    with opened_reader(sqlite_url) as light, pytest.raises(RunNotFound):
        light.latest_run()
    assert os.path.exists(sqlite_url.removeprefix("sqlite:///"))
