"""Engine leases in the store: taken atomically with a growing token, and every append made under
a token checked against the run's lease in the transaction that inserts it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from golive.errors import LeaseLost, RunNotFound
from golive.store import EventStore, RunRecord, open_store
from golive.store.leases import Lease, current_lease, release_lease, renew_lease, take_lease
from golive.store.schema import events

TTL = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(store_url: str, clock: Clock) -> Iterator[EventStore]:
    with open_store(store_url, clock=clock) as opened:
        yield opened


@pytest.fixture
def run(timed: EventStore) -> RunRecord:
    return timed.create_run(
        plan_id="shop", plan_path="/plans/shop.golive.yaml", plan_hash="0f3a", env="staging",
        release=None, rehearsal=True, started_by="ana",
    )  # fmt: skip


def anyone(current: Lease | None, now: datetime) -> None:
    """A check that lets every taker through, whatever holds the lease."""


def take(store: EventStore, run: RunRecord, host: str = "host-a", pid: int = 100) -> Lease:
    return take_lease(store=store, run_id=run.id, host=host, pid=pid, ttl=TTL, check=anyone)


def leases_on_events(store_url: str, run_id: str) -> list[int | None]:
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as connection:
            query = sa.select(events.c.lease).where(events.c.run_id == run_id)
            return [row[0] for row in connection.execute(query.order_by(events.c.seq))]
    finally:
        engine.dispose()


def test_each_takeover_gets_the_next_token_and_each_event_stores_the_token_it_was_appended_under(
    timed: EventStore, run: RunRecord, store_url: str
) -> None:
    first = take(timed, run)
    timed.append(run.id, "RunResumed", data={"by": "a"}, lease=first.token)
    timed.append(run.id, "DecisionMade", data={"by": "ops"})  # a person's: no lease
    second = take(timed, run, host="host-b", pid=200)
    timed.append(run.id, "RunResumed", data={"by": "b"}, lease=second.token)

    assert (first.token, second.token) == (1, 2)
    assert leases_on_events(store_url, run.id) == [1, None, 2]
    held = current_lease(store=timed, run_id=run.id)
    assert held is not None
    assert (held.token, held.host, held.pid) == (2, "host-b", 200)


def test_an_append_under_a_lease_taken_over_is_refused_and_stores_nothing(
    timed: EventStore, run: RunRecord
) -> None:
    old = take(timed, run)
    take(timed, run, host="host-b", pid=200)

    with pytest.raises(LeaseLost, match=r"token 1\).*host host-b \(process 200\) took it over"):
        timed.append(run.id, "StepStarted", step="deploy", data={"attempt": 1}, lease=old.token)
    assert timed.events(run.id) == []


def test_an_append_under_an_expired_lease_is_refused_even_when_nobody_took_it(
    timed: EventStore, run: RunRecord, clock: Clock
) -> None:
    lease = take(timed, run)
    clock.now += TTL

    with pytest.raises(LeaseLost, match=r"expired at 2026-12-04 05:00:30 UTC"):
        timed.append(run.id, "StepStarted", step="deploy", data={"attempt": 1}, lease=lease.token)
    assert timed.events(run.id) == []


def test_a_heartbeat_pushes_the_expiry_ahead_until_the_lease_is_lost(
    timed: EventStore, run: RunRecord, clock: Clock
) -> None:
    lease = take(timed, run)
    clock.now += timedelta(seconds=20)
    renewed = renew_lease(store=timed, lease=lease, ttl=TTL)
    assert renewed is not None
    clock.now += timedelta(seconds=20)  # 40 s after it was taken: alive thanks to the heartbeat

    timed.append(run.id, "StepStarted", step="deploy", data={"attempt": 1}, lease=lease.token)
    clock.now += TTL
    assert renew_lease(store=timed, lease=renewed, ttl=TTL) is None


def test_a_released_lease_refuses_its_engine_and_is_free_for_the_next(
    timed: EventStore, run: RunRecord
) -> None:
    lease = take(timed, run)
    release_lease(store=timed, lease=lease)

    with pytest.raises(LeaseLost, match="it was released at"):
        timed.append(run.id, "StepStarted", step="deploy", data={"attempt": 1}, lease=lease.token)
    seen: list[Lease | None] = []
    take_lease(
        store=timed, run_id=run.id, host="host-b", pid=2, ttl=TTL,
        check=lambda current, now: seen.append(current),
    )  # fmt: skip
    assert [lease.released_at is not None for lease in seen if lease] == [True]


def test_a_refusing_check_leaves_the_lease_as_it_was(timed: EventStore, run: RunRecord) -> None:
    lease = take(timed, run)

    def refuse(current: Lease | None, now: datetime) -> None:
        raise LeaseLost("refused")

    with pytest.raises(LeaseLost):
        take_lease(store=timed, run_id=run.id, host="host-b", pid=2, ttl=TTL, check=refuse)
    assert current_lease(store=timed, run_id=run.id) == lease


def test_the_lease_of_an_unknown_run_cannot_be_taken(timed: EventStore) -> None:
    with pytest.raises(RunNotFound, match="no run 'r-nope'"):
        take_lease(store=timed, run_id="r-nope", host="h", pid=1, ttl=TTL, check=anyone)
