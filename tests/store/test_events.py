"""Appending events and reading them back, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from golive.errors import RunNotFound
from golive.store import EventStore, RunRecord, open_store

MakeRun = Callable[..., RunRecord]


def test_events_come_back_in_append_order_with_increasing_seq(
    store: EventStore, make_run: MakeRun
) -> None:
    run = make_run()
    appended = [
        store.append(run.id, "RunStarted"),
        store.append(run.id, "StepStarted", step="deploy", data={"attempt": 1}),
        store.append(run.id, "StepSucceeded", step="deploy", data={"duration_s": 3.5}),
    ]

    read = store.events(run.id)

    assert read == appended
    assert [event.type for event in read] == ["RunStarted", "StepStarted", "StepSucceeded"]
    assert read[0].seq < read[1].seq < read[2].seq


def test_append_returns_the_event_as_readers_will_see_it(
    store: EventStore, make_run: MakeRun
) -> None:
    run = make_run()
    data = {"hosts": ("web-1", "web-2"), "ok": True, "nested": {"n": None, "é": "ü"}}

    event = store.append(run.id, "StepStarted", step="deploy", data=data)

    assert event.data == {"hosts": ["web-1", "web-2"], "ok": True, "nested": {"n": None, "é": "ü"}}
    assert store.events(run.id) == [event]


def test_events_without_data_read_back_as_an_empty_object(
    store: EventStore, make_run: MakeRun
) -> None:
    run = make_run()

    store.append(run.id, "RunStarted")

    assert store.events(run.id)[0].data == {}
    assert store.events(run.id)[0].step is None


def test_seq_is_global_across_runs(store: EventStore, make_run: MakeRun) -> None:
    first, second = make_run(), make_run()

    seqs = [store.append(run.id, "Ping").seq for run in (first, second, first, second)]

    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 4
    assert [event.seq for event in store.events(first.id)] == [seqs[0], seqs[2]]
    assert [event.seq for event in store.events(second.id)] == [seqs[1], seqs[3]]


def test_after_returns_only_events_with_a_greater_seq(store: EventStore, make_run: MakeRun) -> None:
    run = make_run()
    events = [store.append(run.id, "Tick", data={"n": n}) for n in range(5)]

    assert store.events(run.id, after=events[2].seq) == events[3:]
    assert store.events(run.id, after=events[-1].seq) == []
    assert store.events(run.id, after=0) == events


def test_types_filter_keeps_only_the_named_types_in_order(
    store: EventStore, make_run: MakeRun
) -> None:
    run = make_run()
    for kind in ["StepStarted", "StepOutput", "StepOutput", "StepSucceeded", "StepOutput"]:
        store.append(run.id, kind, step="deploy")

    outputs = store.events(run.id, types={"StepOutput"})
    ends = store.events(run.id, types=["StepStarted", "StepSucceeded"], after=outputs[0].seq)

    assert [event.type for event in outputs] == ["StepOutput"] * 3
    assert [event.type for event in ends] == ["StepSucceeded"]
    assert store.events(run.id, types=[]) == []


def test_append_many_writes_a_batch_in_order(store: EventStore, make_run: MakeRun) -> None:
    run = make_run()
    store.append(run.id, "StepStarted", step="deploy")

    batch = store.append_many(
        run.id,
        [
            ("StepOutput", "deploy", {"line": "pulling image"}),
            ("StepOutput", "deploy", {"line": "starting"}),
            ("GateOpened", None, None),
        ],
    )

    assert [event.data.get("line") for event in batch] == ["pulling image", "starting", None]
    assert [event.seq for event in batch] == sorted(event.seq for event in batch)
    assert store.events(run.id, after=batch[0].seq - 1) == batch
    assert store.append_many(run.id, []) == []


def test_last_seq_is_the_seq_of_the_runs_last_event(store: EventStore, make_run: MakeRun) -> None:
    run, other = make_run(), make_run()
    assert store.last_seq(run.id) == 0

    last = store.append(run.id, "Tick")
    store.append(other.id, "Tick")

    assert store.last_seq(run.id) == last.seq


def test_unknown_run_raises_run_not_found_for_every_event_call(store: EventStore) -> None:
    with pytest.raises(RunNotFound, match=r"'r-nope'.*golive status"):
        store.append("r-nope", "Tick")
    with pytest.raises(RunNotFound):
        store.append_many("r-nope", [("Tick", None, {})])
    with pytest.raises(RunNotFound):
        store.events("r-nope")
    with pytest.raises(RunNotFound):
        store.last_seq("r-nope")


def test_event_time_comes_from_the_clock_in_utc(store_url: str) -> None:
    moment = datetime(2026, 12, 6, 22, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    with open_store(store_url, clock=lambda: moment) as store:
        run = store.create_run(
            plan_id="shop",
            plan_path="/p.yaml",
            plan_hash="h",
            env="production",
            release=None,
            rehearsal=False,
            started_by="ana",
        )
        event = store.append(run.id, "RunStarted")

        [read] = store.events(run.id)

    assert read == event
    assert read.at == moment
    assert read.at.tzinfo is UTC
    assert read.at.hour == 20


def test_data_that_is_not_json_is_refused_before_anything_is_written(
    store: EventStore, make_run: MakeRun
) -> None:
    run = make_run()

    with pytest.raises(TypeError):
        store.append(run.id, "Tick", data={"when": datetime.now(UTC)})
    with pytest.raises(ValueError, match="JSON"):
        store.append(run.id, "Tick", data={"ratio": math.nan})

    assert store.events(run.id, after=0) == []


def test_types_given_as_one_string_is_a_bug_in_the_caller(
    store: EventStore, make_run: MakeRun
) -> None:
    run = make_run()

    with pytest.raises(TypeError, match="collection"):
        store.events(run.id, types="StepOutput")


def test_a_clock_without_a_timezone_is_a_bug_in_the_caller(sqlite_url: str) -> None:
    with (
        open_store(sqlite_url, clock=lambda: datetime(2026, 12, 6, 20, 0)) as store,
        pytest.raises(ValueError, match="naive"),
    ):
        store.create_run(
            plan_id="shop",
            plan_path="/p.yaml",
            plan_hash="h",
            env="staging",
            release=None,
            rehearsal=True,
            started_by="ana",
        )


def test_one_append_on_sqlite_takes_well_under_a_millisecond(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        run = store.create_run(
            plan_id="shop",
            plan_path="/p.yaml",
            plan_hash="h",
            env="staging",
            release=None,
            rehearsal=True,
            started_by="bench",
        )
        costs = []
        for n in range(300):
            started = time.perf_counter()
            store.append(run.id, "StepOutput", step="deploy", data={"line": f"line {n}"})
            costs.append(time.perf_counter() - started)

    median_ms = statistics.median(costs) * 1000
    with capsys.disabled():
        print(f"\nmedian append on SQLite: {median_ms:.3f} ms")
    # generous: ~0.15 ms on a laptop; the bound only catches a per-event reconnect or fsync
    assert median_ms < 2
