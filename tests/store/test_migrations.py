"""The schema is created and upgraded by Alembic when a store is opened."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from golive.errors import StoreError
from golive.store import open_store
from golive.store.migration import HEAD, alembic_config
from golive.store.schema import metadata


def revision_of(url: str) -> str | None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return None
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def test_head_names_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD]


def test_opening_an_empty_database_creates_the_schema_at_head(store_url: str) -> None:
    assert revision_of(store_url) is None

    open_store(store_url).close()

    assert revision_of(store_url) == HEAD
    engine = sa.create_engine(store_url)
    try:
        assert {"runs", "events"} <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_migrations_create_exactly_the_tables_of_schema_py(store_url: str) -> None:
    open_store(store_url).close()

    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_reopening_a_store_keeps_its_runs_and_events(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run(
            plan_id="shop",
            plan_path="/p.yaml",
            plan_hash="h",
            env="staging",
            release=None,
            rehearsal=True,
            started_by="ana",
        )
        event = store.append(run.id, "RunStarted")

    for _ in range(2):
        with open_store(store_url) as store:
            assert store.runs() == [run]
            assert store.events(run.id) == [event]
    assert revision_of(store_url) == HEAD


def test_opening_an_up_to_date_sqlite_store_does_not_wait_for_the_write_lock(
    sqlite_url: str,
) -> None:
    open_store(sqlite_url).close()
    writer = sqlite3.connect(sa.make_url(sqlite_url).database or "", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with open_store(sqlite_url) as store:
            assert store.runs() == []
        assert time.monotonic() - started < 2
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_store_written_by_a_newer_golive_is_refused_with_advice_to_upgrade(
    store_url: str,
) -> None:
    open_store(store_url).close()
    engine = sa.create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()

    with pytest.raises(StoreError, match=r"revision '0999'.*upgrade golive"):
        open_store(store_url)


def test_several_stores_opening_a_new_database_at_once_all_succeed(store_url: str) -> None:
    def open_and_count(_: int) -> int:
        with open_store(store_url) as store:
            return len(store.runs())

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(open_and_count, range(4), timeout=120)) == [0, 0, 0, 0]
    assert revision_of(store_url) == HEAD


def test_a_hundred_new_sqlite_stores_each_opened_by_four_threads_at_once_all_succeed(
    tmp_path: Path,
) -> None:
    # Switching a new file to WAL met another opener's lock about once in fifty rounds, and
    # SQLite reports that at once instead of waiting: "database is locked".
    def open_and_count(url: str) -> int:
        with open_store(url) as store:
            return len(store.runs())

    with ThreadPoolExecutor(4) as pool:
        for round in range(100):
            url = f"sqlite:///{tmp_path / f'state-{round}.db'}"
            assert list(pool.map(open_and_count, [url] * 4, timeout=60)) == [0, 0, 0, 0]


def test_the_initial_migration_can_be_downgraded(store_url: str) -> None:
    open_store(store_url).close()
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def _store_at_0003(url: str, plan_ids: list[str]) -> None:
    """A store as golive left it before 0004: users linked to a person in no go-live."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0003")
            for n, plan_id in enumerate(plan_ids):
                connection.execute(
                    sa.text(
                        "INSERT INTO runs (id, plan_id, plan_path, plan_hash, env, rehearsal, "
                        "started_by, created_at) VALUES (:id, :plan, 'p', 'h', 'staging', true, "
                        "'x', CURRENT_TIMESTAMP)"
                    ),
                    {"id": f"r-{n}", "plan": plan_id},
                )
            connection.execute(
                sa.text(
                    "INSERT INTO users (name, person, admin, password_hash, created_at) VALUES "
                    "('ann', 'own', false, 'h', CURRENT_TIMESTAMP)"
                )
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("plan_ids", "links", "unbound"),
    [
        (["shop", "shop"], (("shop", "own"),), None),  # one go-live: the link meant it
        (["shop", "bank"], (), "own"),  # two: it could mean either, so it means neither
        ([], (), "own"),
    ],
)
def test_migration_0004_binds_an_old_person_link_only_to_the_store_s_one_go_live(
    store_url: str,
    plan_ids: list[str],
    links: tuple[tuple[str, str], ...],
    unbound: str | None,
) -> None:
    from golive.store.accounts import Accounts

    _store_at_0003(store_url, plan_ids)
    with open_store(store_url) as store:
        user = Accounts(store).require_user("ann")
    assert (user.links, user.unbound_person) == (links, unbound)


def test_the_migrations_ship_inside_the_package() -> None:
    import golive.store

    package = Path(golive.store.__file__).parent
    script_location = Path(alembic_config().get_main_option("script_location") or "")

    assert script_location == package / "migrations"
    assert (script_location / "env.py").is_file()
    assert (script_location / "script.py.mako").is_file()
    assert (script_location / "versions" / "0001_initial.py").is_file()
