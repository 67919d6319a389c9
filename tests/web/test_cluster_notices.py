"""On PostgreSQL the broker is told of appends by NOTIFY (one LISTEN connection per process)
instead of polling; when that connection is killed it polls, LISTENs again, and reads from the
last seq, so no event is lost. Presence is shared through the store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from golive.store import EventStore, open_store
from golive.store.coordination import Presence
from golive.web.broker import Broker, Subscription, Watcher

from .test_broker import CountingRuns, _run

pytestmark = pytest.mark.postgres


def _update(store: EventStore, run_id: str, n: int) -> int:
    data = {"by": "ann", "text": f"update {n}", "severity": "info"}
    return store.append(run_id, "UpdatePosted", data=data).seq


def _drain(subscription: Subscription) -> list[int]:
    """The events' seqs waiting for the watcher (no response takes them in these tests)."""
    return [seq for seq, _ in subscription.pending if seq]


async def _until(condition: object, timeout: float = 30.0) -> None:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + timeout  # generous: the machine is shared
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s")
        await asyncio.sleep(0.01)


def test_an_append_is_announced_on_commit_with_its_run_and_seq(
    postgres_url: str, tmp_path: Path
) -> None:
    import psycopg

    from golive.web.notices import listen_url

    url = listen_url(postgres_url)
    assert url is not None
    with open_store(postgres_url) as store:
        run_id = _run(tmp_path, store)
        with psycopg.connect(url, autocommit=True) as listener:
            listener.execute("LISTEN golive_events")
            seq = _update(store, run_id, 1)
            notices = [json.loads(n.payload) for n in listener.notifies(timeout=5, stop_after=1)]
    assert notices == [{"run": run_id, "seq": seq}]


def test_watchers_are_pushed_without_polling_and_lose_nothing_when_listen_is_killed(
    postgres_url: str, tmp_path: Path
) -> None:
    with open_store(postgres_url) as store:
        run_id = _run(tmp_path, store)
        runs = CountingRuns(store)

        async def main() -> tuple[list[int], list[int], int]:
            # polling every 0.2 s when not pushed; with notices, a resync every 60 s only
            broker = Broker(runs, interval=0.2, resync_interval=60.0)
            broker.start()
            assert broker.notices is not None
            await _until(lambda: broker.pushed)
            watcher = await broker.subscribe(run_id, Watcher("ann", "ann", "Ann"), after=None)
            await asyncio.sleep(0.3)
            runs.reads = 0
            appended = [_update(store, run_id, n) for n in range(5)]
            await _until(lambda: len(_drain(watcher)) >= 5)
            quiet_reads = runs.reads
            await asyncio.sleep(1.0)  # no notice, no read
            idle_reads = runs.reads - quiet_reads

            # kill the LISTEN connection from the server side, append while it is down
            backend = broker.notices.pid
            with store.transaction("terminate", write=True) as connection:
                connection.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": backend})
            appended += [_update(store, run_id, n) for n in range(5, 10)]
            await _until(lambda: broker.pushed and broker.notices.pid != backend)
            appended += [_update(store, run_id, n) for n in range(10, 15)]
            await _until(lambda: len(_drain(watcher)) >= 15)
            await asyncio.sleep(0.3)
            got = _drain(watcher)
            await broker.close()
            return appended, got, idle_reads

        appended, got, idle_reads = asyncio.run(main())
    assert got == appended  # every event exactly once, in order, across the drop
    assert idle_reads == 0  # pushed: the store is not polled while nothing happens


def test_presence_is_shared_by_the_replicas_of_one_store(postgres_url: str, tmp_path: Path) -> None:
    with open_store(postgres_url) as store:
        run_id = _run(tmp_path, store)

        async def main() -> tuple[list[Watcher], list[Watcher], list[Watcher]]:
            brokers = [
                Broker(
                    CountingRuns(store),
                    presence=Presence(store, replica=f"r{i}"),
                    presence_interval=0.05,
                )
                for i in range(2)
            ]
            for broker in brokers:
                broker.start()
            await _until(lambda: all(b.pushed for b in brokers))
            ann = await brokers[0].subscribe(run_id, Watcher("ann", "ann", "Ann"), after=None)
            bob = await brokers[1].subscribe(run_id, Watcher("bob", None, "Bob"), after=None)
            both = [Watcher("ann", "ann", "Ann"), Watcher("bob", None, "Bob")]
            await _until(lambda: all(b.watchers(run_id) == both for b in brokers))
            seen_by_bob = await asyncio.to_thread(brokers[1].watchers, run_id)
            brokers[0].unsubscribe(ann)
            await _until(lambda: brokers[1].watchers(run_id) == both[1:])
            after_leaving = brokers[1].watchers(run_id)
            await brokers[0].close()
            brokers[1].unsubscribe(bob)
            await brokers[1].close()
            return both, seen_by_bob, after_leaving

        both, seen_by_bob, after_leaving = asyncio.run(main())
    assert seen_by_bob == both
    assert after_leaving == both[1:]


def test_a_listen_that_fails_is_logged_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from golive.web.notices import Notices, listen_url

    assert listen_url("sqlite:///state.db") is None
    url = listen_url("postgresql+psycopg://postgres:canary-S3cret@127.0.0.1:5432/no_such_db")
    assert url is not None
    states: list[bool] = []
    notices = Notices(url, on_notice=lambda _: None, on_state=states.append)

    async def main() -> None:
        task = asyncio.create_task(notices.run())
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level("WARNING", logger="golive.web.notices"):
        asyncio.run(main())
    assert "LISTEN on the state store dropped" in caplog.text
    assert "canary-S3cret" not in caplog.text
    assert states == []  # never listened
