"""Stores for the store's tests: a SQLite file in tmp_path, and a throwaway PostgreSQL database.

PostgreSQL tests are marked `postgres`. They fail when the server is unreachable (CI starts it),
unless GOLIVE_TEST_NO_POSTGRES=1 is set, which skips them. GOLIVE_TEST_POSTGRES_URL points them
at another server (default: postgres on 127.0.0.1:5432, trust auth).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from golive.store import EventStore, RunRecord, open_store

ADMIN_URL = os.environ.get(
    "GOLIVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

MakeRun = Callable[..., RunRecord]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'state.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    if os.environ.get("GOLIVE_TEST_NO_POSTGRES") == "1":
        pytest.skip("GOLIVE_TEST_NO_POSTGRES=1")
    admin = sa.create_engine(
        ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    name = f"golive_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        unreachable = str(exc.orig).splitlines()[0]
    else:
        unreachable = ""
    if unreachable:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {ADMIN_URL} ({unreachable}): start it, or set "
            "GOLIVE_TEST_NO_POSTGRES=1 to skip the postgres tests",
            pytrace=False,
        )
    try:
        yield sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each test that uses it runs once on SQLite and once on PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def make_run(store: EventStore) -> MakeRun:
    """Create a run in `store`; keyword arguments override the defaults."""

    def make(**overrides: Any) -> RunRecord:
        values: dict[str, Any] = {
            "plan_id": "shop",
            "plan_path": "/plans/shop.golive.yaml",
            "plan_hash": "sha256:0f3a",
            "env": "staging",
            "release": "4.2.0",
            "rehearsal": True,
            "started_by": "ana",
        }
        return store.create_run(**(values | overrides))

    return make
