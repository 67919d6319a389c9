"""Events survive a killed process, and several writers can share one store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import golive.store
from golive.store import EventStore, RunRecord, open_store

SRC = Path(golive.store.__file__).resolve().parents[2]


def python(script: str, *args: str) -> subprocess.Popen[str]:
    """Run `script` in a fresh Python that imports this golive."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def new_run(store: EventStore) -> RunRecord:
    return store.create_run(
        plan_id="shop",
        plan_path="/plans/shop.golive.yaml",
        plan_hash="h",
        env="staging",
        release=None,
        rehearsal=True,
        started_by="ana",
    )


def test_an_event_survives_sigkill_right_after_append_returns(store_url: str) -> None:
    with open_store(store_url) as store:
        run = new_run(store)
    child = python(
        """
        import os, signal, sys
        from golive.store import open_store
        store = open_store(sys.argv[1])
        event = store.append(sys.argv[2], "StepStarted", step="deploy", data={"attempt": 1})
        print(event.seq, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        store_url,
        run.id,
    )
    out, err = child.communicate(timeout=60)

    assert child.returncode == -signal.SIGKILL, err
    with open_store(store_url) as store:
        [event] = store.events(run.id)
    assert event.seq == int(out)
    assert (event.type, event.step, event.data) == ("StepStarted", "deploy", {"attempt": 1})


def test_every_append_a_killed_writer_reported_is_in_the_store(store_url: str) -> None:
    with open_store(store_url) as store:
        run = new_run(store)
    child = python(
        """
        import sys
        from golive.store import open_store
        store = open_store(sys.argv[1])
        n = 0
        while True:
            print(store.append(sys.argv[2], "StepOutput", data={"n": n}).seq, flush=True)
            n += 1
        """,
        store_url,
        run.id,
    )
    assert child.stdout is not None
    reported = [int(child.stdout.readline()) for _ in range(50)]
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)

    with open_store(store_url) as store:
        stored = [event.seq for event in store.events(run.id)]
    assert stored[: len(reported)] == reported


def test_two_stores_on_one_database_can_append_at_the_same_time(store_url: str) -> None:
    per_writer = 150
    with open_store(store_url) as first, open_store(store_url) as second:
        run = new_run(first)
        start = threading.Barrier(2)

        def write(store: EventStore, name: str) -> list[int]:
            start.wait()
            return [
                store.append(run.id, "Tick", data={"writer": name}).seq for _ in range(per_writer)
            ]

        with ThreadPoolExecutor(2) as pool:
            results = [pool.submit(write, first, "a"), pool.submit(write, second, "b")]
            seqs_a, seqs_b = (result.result(timeout=120) for result in results)

        events = second.events(run.id)

    assert len(events) == 2 * per_writer
    assert sorted(seqs_a + seqs_b) == [event.seq for event in events]
    assert seqs_a == sorted(seqs_a)
    assert seqs_b == sorted(seqs_b)
    assert [e.data["writer"] for e in events].count("a") == per_writer


def test_two_processes_can_append_to_one_store_at_the_same_time(store_url: str) -> None:
    with open_store(store_url) as store:
        run = new_run(store)
    script = """
        import sys
        from golive.store import open_store
        with open_store(sys.argv[1]) as store:
            for n in range(100):
                store.append(sys.argv[2], "Tick", data={"writer": sys.argv[3], "n": n})
        """
    children = [python(script, store_url, run.id, name) for name in ("a", "b")]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err

    with open_store(store_url) as store:
        events = store.events(run.id)
    for name in ("a", "b"):
        assert [e.data["n"] for e in events if e.data["writer"] == name] == list(range(100))


def test_a_follower_reading_after_its_last_seq_sees_every_event_once(store_url: str) -> None:
    per_writer = 100
    with open_store(store_url) as store:
        run = new_run(store)
        done = threading.Event()

        def write() -> None:
            for _ in range(per_writer):
                store.append(run.id, "Tick")

        def follow() -> list[int]:
            seen: list[int] = []
            while True:
                finished = done.is_set()
                seen += [event.seq for event in store.events(run.id, after=max(seen, default=0))]
                if finished:
                    return seen

        with ThreadPoolExecutor(3) as pool:
            follower = pool.submit(follow)
            writers = [pool.submit(write) for _ in range(2)]
            for writer in writers:
                writer.result(timeout=120)
            done.set()
            seen = follower.result(timeout=120)

        assert seen == [event.seq for event in store.events(run.id)]
    assert len(seen) == 2 * per_writer
