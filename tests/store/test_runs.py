"""Creating runs, listing them, and finding one by id, prefix or recency."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from golive.errors import RunNotFound, StoreError
from golive.store import EventStore, RunRecord, open_store

MakeRun = Callable[..., RunRecord]


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 6, 20, 0, 0, tzinfo=UTC))


@pytest.fixture
def timed_store(store_url: str, clock: ManualClock) -> Iterator[EventStore]:
    with open_store(store_url, clock=clock) as opened:
        yield opened


def create(store: EventStore, **overrides: Any) -> RunRecord:
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


def test_a_new_run_is_stored_with_everything_it_was_created_with(
    store: EventStore, make_run: MakeRun
) -> None:
    run = make_run(env="production", release=None, rehearsal=False, started_by="bo")

    assert store.get_run(run.id) == run
    assert run.env == "production"
    assert run.release is None
    assert run.rehearsal is False
    assert run.created_at.tzinfo is UTC


def test_run_ids_are_short_and_carry_the_creation_time(
    timed_store: EventStore, clock: ManualClock
) -> None:
    run = create(timed_store)

    assert re.fullmatch(r"r-20261206-200000-[0-9a-f]{4}", run.id)
    assert run.created_at == clock.now


def test_run_ids_sort_by_creation(timed_store: EventStore, clock: ManualClock) -> None:
    ids = []
    for _ in range(5):
        ids.append(create(timed_store).id)
        clock.advance(seconds=1)

    assert ids == sorted(ids)
    assert len(set(ids)) == 5


def test_a_chosen_run_id_is_used_and_must_be_free(store: EventStore, make_run: MakeRun) -> None:
    run = make_run(run_id="rehearsal-1")

    assert store.get_run("rehearsal-1") == run
    with pytest.raises(StoreError, match="'rehearsal-1' already exists"):
        make_run(run_id="rehearsal-1")


def test_a_run_id_with_spaces_is_a_bug_in_the_caller(make_run: MakeRun) -> None:
    with pytest.raises(ValueError, match="run id"):
        make_run(run_id="my run")


def test_runs_are_listed_oldest_first_and_filtered_by_plan_and_env(
    timed_store: EventStore, clock: ManualClock
) -> None:
    made = []
    for plan_id, env in [("shop", "staging"), ("blog", "staging"), ("shop", "production")]:
        made.append(create(timed_store, plan_id=plan_id, env=env))
        clock.advance(minutes=5)

    assert timed_store.runs() == made
    assert timed_store.runs(plan_id="shop") == [made[0], made[2]]
    assert timed_store.runs(env="staging") == made[:2]
    assert timed_store.runs(plan_id="shop", env="staging") == [made[0]]
    assert timed_store.runs(plan_id="nope") == []


def test_latest_run_is_the_most_recently_created(
    timed_store: EventStore, clock: ManualClock
) -> None:
    shop = create(timed_store, plan_id="shop")
    clock.advance(seconds=30)
    blog = create(timed_store, plan_id="blog")

    assert timed_store.latest_run() == blog
    assert timed_store.latest_run(plan_id="shop") == shop


def test_latest_run_of_an_empty_store_says_there_is_none_yet(store: EventStore) -> None:
    with pytest.raises(RunNotFound, match=r"no run in the state store .* yet"):
        store.latest_run()
    with pytest.raises(RunNotFound, match="no run of plan 'shop'"):
        store.latest_run(plan_id="shop")


def test_get_run_of_an_unknown_id_says_how_to_list_runs(store: EventStore) -> None:
    with pytest.raises(RunNotFound, match=r"no run 'r-404'.*list runs with `golive status`"):
        store.get_run("r-404")


def test_find_run_accepts_the_full_id_or_a_unique_prefix(
    timed_store: EventStore, clock: ManualClock
) -> None:
    first = create(timed_store)
    clock.advance(days=1)
    second = create(timed_store)

    assert timed_store.find_run(first.id) == first
    assert timed_store.find_run("r-20261207") == second
    assert timed_store.find_run(second.id[:-2]) == second


def test_find_run_refuses_an_ambiguous_prefix_and_lists_the_candidates(
    timed_store: EventStore,
) -> None:
    runs = [create(timed_store) for _ in range(3)]

    with pytest.raises(RunNotFound, match="ambiguous") as caught:
        timed_store.find_run("r-2026")

    assert all(run.id in str(caught.value) for run in runs)
    assert "type more of the id" in str(caught.value)


def test_find_run_prefers_an_exact_id_that_is_also_a_prefix(
    store: EventStore, make_run: MakeRun
) -> None:
    short = make_run(run_id="r-1")
    make_run(run_id="r-10")

    assert store.find_run("r-1") == short


def test_find_run_of_an_unknown_or_empty_prefix_raises_run_not_found(
    store: EventStore, make_run: MakeRun
) -> None:
    make_run(run_id="r-abc")

    with pytest.raises(RunNotFound, match="golive status"):
        store.find_run("r-x")
    with pytest.raises(RunNotFound):
        store.find_run("")
    with pytest.raises(RunNotFound):
        store.find_run("R-ABC")


def test_find_run_takes_wildcards_literally(store: EventStore, make_run: MakeRun) -> None:
    make_run(run_id="r-abc")

    with pytest.raises(RunNotFound):
        store.find_run("r-%")
    with pytest.raises(RunNotFound):
        store.find_run("r-_bc")


def test_find_run_can_be_limited_to_one_plan(store: EventStore, make_run: MakeRun) -> None:
    shop = make_run(plan_id="shop", run_id="r-a1")
    make_run(plan_id="blog", run_id="r-a2")

    assert store.find_run("r-a", plan_id="shop") == shop
    with pytest.raises(RunNotFound, match="of plan 'blog'"):
        store.find_run("r-a1", plan_id="blog")


def test_a_run_is_found_by_the_short_id_history_shows(store: EventStore, make_run: MakeRun) -> None:
    run = make_run()
    make_run()
    assert store.find_run(run.id[-4:]).id == run.id
