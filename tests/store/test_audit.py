"""The audit chain: every append chains its event, and a check names the first event that was
altered, deleted or inserted behind golive's back (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from tests.store.conftest import MakeRun

from golive.store import EventStore, open_store
from golive.store.audit import chain_hash, event_body, verify_run
from golive.store.migration import alembic_config


def _fill(store: EventStore, run_id: str, n: int = 5) -> list[int]:
    return [store.append(run_id, "StepStarted", step=f"s{i}", data={"n": i}).seq for i in range(n)]


def _sql(store_url: str, statement: str, **values: object) -> None:
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement), values)
    finally:
        engine.dispose()


def test_a_log_written_by_golive_holds(store: EventStore, make_run: MakeRun) -> None:
    run = make_run()
    _fill(store, run.id)
    store.append_many(run.id, [("Note", None, {"a": 1}), ("Note", "x", {"b": [1, 2]})])
    store.append(run.id, "Last", data={"text": "é ü \u2603"})

    check = verify_run(store=store, run_id=run.id)

    assert check.holds, check.broken
    assert check.events == 8
    assert check.head == store.events(run.id)[-1].hash


def test_the_hash_is_sha256_over_the_documented_encoding(
    store: EventStore, make_run: MakeRun
) -> None:
    run = make_run()
    first = store.append(run.id, "RunStarted", data={"b": 1, "a": "x"})
    second = store.append(run.id, "StepStarted", step="deploy")

    body = event_body(run.id, first.at, "RunStarted", None, {"a": "x", "b": 1})
    assert json.loads(body) == {
        "at": first.at.isoformat(timespec="microseconds"),
        "data": {"a": "x", "b": 1},
        "run_id": run.id,
        "step": None,
        "type": "RunStarted",
    }
    assert first.hash == chain_hash(None, body)
    assert second.hash == chain_hash(
        first.hash, event_body(run.id, second.at, "StepStarted", "deploy", {})
    )


def test_data_changed_by_sql_is_named_as_altered(
    store: EventStore, make_run: MakeRun, store_url: str
) -> None:
    run = make_run()
    seqs = _fill(store, run.id)
    _sql(store_url, "UPDATE events SET data = :d WHERE seq = :s", d='{"n": 99}', s=seqs[2])

    check = verify_run(store=store, run_id=run.id)

    assert check.broken is not None
    assert (check.broken.seq, check.broken.problem) == (seqs[2], "altered")
    assert f"event seq {seqs[2]} (StepStarted) was changed" in check.broken.message


def test_a_deleted_event_is_named_by_the_event_after_it(
    store: EventStore, make_run: MakeRun, store_url: str
) -> None:
    run = make_run()
    seqs = _fill(store, run.id)
    _sql(store_url, "DELETE FROM events WHERE seq = :s", s=seqs[1])

    check = verify_run(store=store, run_id=run.id)

    assert check.broken is not None
    assert (check.broken.seq, check.broken.problem) == (seqs[2], "deleted")
    assert f"an event before seq {seqs[2]}" in check.broken.message


def test_an_event_inserted_in_the_middle_is_named(
    store: EventStore, make_run: MakeRun, store_url: str
) -> None:
    run = make_run()
    seqs = _fill(store, run.id)
    # A forger renumbers the later events to open a gap, and inserts a row without a hash.
    _sql(store_url, "UPDATE events SET seq = seq + 1000 WHERE seq > :s", s=seqs[2])
    _sql(
        store_url,
        "INSERT INTO events (seq, run_id, at, type, step, data) "
        "VALUES (:seq, :run, CURRENT_TIMESTAMP, 'GateApproved', 'go', '{}')",
        seq=seqs[2] + 1,
        run=run.id,
    )

    check = verify_run(store=store, run_id=run.id)

    assert check.broken is not None
    assert (check.broken.seq, check.broken.problem) == (seqs[2] + 1, "inserted")


def test_an_event_inserted_with_a_forged_hash_is_named_by_the_chain_skipping_it(
    store: EventStore, make_run: MakeRun, store_url: str
) -> None:
    run = make_run()
    seqs = _fill(store, run.id)
    before = store.events(run.id)[2]
    _sql(store_url, "UPDATE events SET seq = seq + 1000 WHERE seq > :s", s=seqs[2])
    forged = chain_hash(before.hash, event_body(run.id, before.at, "GateApproved", "go", {}))
    _sql(
        store_url,
        "INSERT INTO events (seq, run_id, at, type, step, data, prev_hash, hash) "
        "VALUES (:seq, :run, :at, 'GateApproved', 'go', '{}', :prev, :hash)",
        seq=seqs[2] + 1,
        run=run.id,
        at=before.at,
        prev=before.hash,
        hash=forged,
    )

    check = verify_run(store=store, run_id=run.id)

    assert check.broken is not None
    assert check.broken.problem == "inserted"
    assert f"after seq {seqs[2]}" in check.broken.message


def test_a_published_head_that_is_gone_means_the_log_was_cut_or_rewritten(
    store: EventStore, make_run: MakeRun, store_url: str
) -> None:
    run = make_run()
    seqs = _fill(store, run.id)
    head = verify_run(store=store, run_id=run.id).head
    assert verify_run(store=store, run_id=run.id, head=head).holds
    store.append(run.id, "Later")
    assert verify_run(store=store, run_id=run.id, head=head).holds  # appended since: fine

    _sql(store_url, "DELETE FROM events WHERE seq >= :s", s=seqs[-1])

    check = verify_run(store=store, run_id=run.id, head=head)
    assert check.broken is not None
    assert check.broken.problem == "head_missing"


def test_two_writers_appending_to_one_run_at_once_keep_one_chain(
    store_url: str, make_run: MakeRun
) -> None:
    run = make_run()
    stores = [open_store(store_url) for _ in range(2)]

    def write(store: EventStore, who: str) -> None:
        for n in range(40):
            if n % 10 == 0:
                store.append_many(run.id, [("Vote", None, {"who": who, "n": n})] * 2)
            store.append(run.id, "Vote", data={"who": who, "n": n})

    try:
        threads = [threading.Thread(target=write, args=(s, f"w{i}")) for i, s in enumerate(stores)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        check = verify_run(store=stores[0], run_id=run.id)
    finally:
        for opened in stores:
            opened.close()
    assert check.holds, check.broken
    assert check.events == 2 * (40 + 8)


def test_upgrading_to_0006_chains_the_existing_logs(store_url: str) -> None:
    parsed = sa.make_url(store_url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0005")
            for run_id in ("r-1", "r-2"):
                connection.execute(
                    sa.text(
                        "INSERT INTO runs (id, plan_id, plan_path, plan_hash, env, rehearsal, "
                        "started_by, created_at) VALUES (:id, 'shop', 'p', 'h', 'staging', "
                        "true, 'x', CURRENT_TIMESTAMP)"
                    ),
                    {"id": run_id},
                )
            for n in range(6):
                connection.execute(
                    sa.text(
                        "INSERT INTO events (run_id, at, type, step, data) VALUES "
                        "(:run, CURRENT_TIMESTAMP, 'StepStarted', :step, :data)"
                    ),
                    {"run": f"r-{n % 2 + 1}", "step": f"s{n}", "data": json.dumps({"n": n})},
                )
    finally:
        engine.dispose()

    with open_store(store_url) as store:
        for run_id in ("r-1", "r-2"):
            assert verify_run(store=store, run_id=run_id).holds
            store.append(run_id, "RunFinished")
            check = verify_run(store=store, run_id=run_id)
            assert check.holds
            assert check.events == 4
