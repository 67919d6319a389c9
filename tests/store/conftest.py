"""Stores for the store's tests: each runs on a SQLite file and on a throwaway PostgreSQL
database (the `sqlite_url` and `postgres_url` fixtures live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from golive.store import EventStore, RunRecord, open_store

MakeRun = Callable[..., RunRecord]


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
