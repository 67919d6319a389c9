"""The PostgreSQL append path (store/postgres_log.py): one round trip that PostgreSQL chains,
hashing exactly as Python does, serialised per run among concurrent writers, announcing on commit,
and leaving its pooled connection usable whatever fails."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golive.errors import RunNotFound, StoreError
from golive.store import EventStore, RunRecord, open_store
from golive.store.audit import chain_hash, event_body, verify_run

pytestmark = pytest.mark.postgres


def new_run(store: EventStore) -> RunRecord:
    return store.create_run(
        plan_id="shop", plan_path="/plans/shop.golive.yaml", plan_hash="h", env="staging",
        release=None, rehearsal=True, started_by="ana",
    )  # fmt: skip


@pytest.fixture
def store(postgres_url: str) -> Iterator[EventStore]:
    with open_store(postgres_url) as opened:
        yield opened


def chain_rows(postgres_url: str, run_id: str) -> list[tuple[int, str | None, str]]:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT seq, prev_hash, hash FROM events WHERE run_id = :r ORDER BY seq"),
                {"r": run_id},
            )
            return [(int(seq), prev, hash_) for seq, prev, hash_ in rows]
    finally:
        engine.dispose()


def test_writers_on_several_stores_appending_to_one_run_keep_one_unforked_chain(
    postgres_url: str, store: EventStore
) -> None:
    run = new_run(store)
    stores = [open_store(postgres_url) for _ in range(3)]
    errors: list[BaseException] = []

    def write(writer: EventStore, who: str) -> None:
        try:
            for n in range(60):
                if n % 15 == 0:
                    writer.append_many(run.id, [("Vote", None, {"who": who, "n": n})] * 3)
                writer.append(run.id, "Vote", step=who, data={"who": who, "n": n})
        except BaseException as exc:  # reported below: a thread's failure would be silent
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(writer, f"w{i}-{t}"))
        for i, writer in enumerate(stores)
        for t in range(2)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for opened in stores:
            opened.close()

    assert errors == []
    rows = chain_rows(postgres_url, run.id)
    assert len(rows) == 6 * (60 + 4 * 3)
    # seq order is chain order: each event names the one before it by seq, none is skipped
    assert [prev for _, prev, _ in rows] == [None] + [hash_ for _, _, hash_ in rows[:-1]]
    check = verify_run(store=store, run_id=run.id)
    assert check.holds, check.broken


def test_a_database_whose_default_is_repeatable_read_still_keeps_one_chain(
    postgres_url: str,
) -> None:
    # The chain reads the last hash after the run's lock is granted, which only sees the append
    # it waited for at READ COMMITTED: the store asks for it whatever the server's default is.
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            database = connection.exec_driver_sql("SELECT current_database()").scalar_one()
            connection.exec_driver_sql(
                f'ALTER DATABASE "{database}" SET default_transaction_isolation = '
                "'repeatable read'"
            )
    finally:
        admin.dispose()
    stores = [open_store(postgres_url) for _ in range(3)]
    try:
        run = new_run(stores[0])
        threads = [
            threading.Thread(
                target=lambda writer=writer, i=i: [
                    writer.append(run.id, "Vote", step=f"w{i}", data={"n": n}) for n in range(80)
                ]
            )
            for i, writer in enumerate(stores)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rows = chain_rows(postgres_url, run.id)
        assert len(rows) == 3 * 80
        assert [prev for _, prev, _ in rows] == [None] + [hash_ for _, _, hash_ in rows[:-1]]
        check = verify_run(store=stores[0], run_id=run.id)
        assert check.holds, check.broken
    finally:
        for opened in stores:
            opened.close()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# what a text column can hold: no NUL, no lone surrogate (PostgreSQL refuses both, as it did)
column_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    type=column_text,
    step=st.none() | column_text,
    data=st.dictionaries(st.text(), json_values, max_size=5),
)
def test_the_hash_postgresql_computes_is_the_one_python_computes(
    store: EventStore, type: str, step: str | None, data: dict[str, Any]
) -> None:
    runs = store.runs()  # one run for all the examples: each chains on to the last
    run = runs[0] if runs else new_run(store)
    before = store.events(run.id)
    prev = before[-1].hash if before else None

    first = store.append(run.id, type, step=step, data=data)
    second, third = store.append_many(run.id, [(type, step, data), ("Note", None, {"é": "☃"})])

    assert first.hash == chain_hash(prev, event_body(run.id, first.at, type, step, first.data))
    assert second.hash == chain_hash(
        first.hash, event_body(run.id, second.at, type, step, second.data)
    )
    assert third.hash == chain_hash(
        second.hash, event_body(run.id, third.at, "Note", None, {"é": "☃"})
    )
    assert store.events(run.id)[-3:] == [first, second, third]
    assert [e.hash for e in store.events(run.id)[-3:]] == [first.hash, second.hash, third.hash]


def test_every_append_announces_its_run_and_last_seq_on_commit_and_refusals_announce_nothing(
    postgres_url: str, store: EventStore
) -> None:
    import psycopg

    from golive.web.notices import listen_url

    run = new_run(store)
    url = listen_url(postgres_url)
    assert url is not None
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute("LISTEN golive_events")
        one = store.append(run.id, "Vote", data={"n": 1})
        with pytest.raises(RunNotFound):
            store.append("r-nobody", "Vote")
        with pytest.raises(RunNotFound):
            store.append_many("r-nobody", [("Vote", None, None)])
        batch = store.append_many(run.id, [("Vote", None, {"n": n}) for n in range(3)])
        payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=2)]
        listener.execute("SELECT 1")  # anything else already sent arrives with this answer
        late = [n.payload for n in listener.notifies(timeout=0.5)]

    expected = [json.dumps({"run": run.id, "seq": seq}, separators=(",", ":")) for seq in (
        one.seq, batch[-1].seq
    )]  # fmt: skip
    assert payloads == expected
    assert late == []


def test_an_append_that_fails_stores_nothing_and_the_next_one_goes_through(
    store: EventStore,
) -> None:
    run = new_run(store)
    store.append(run.id, "First")

    with pytest.raises(StoreError, match=rf"cannot append to run {run.id} in the state store"):
        store.append(run.id, "Bad\x00Type")  # PostgreSQL text cannot hold NUL
    with pytest.raises(StoreError, match=rf"cannot append to run {run.id} in the state store"):
        store.append_many(run.id, [("Fine", None, None), ("Bad\x00", None, None)])
    last = store.append(run.id, "Last")

    assert [e.type for e in store.events(run.id)] == ["First", "Last"]
    assert verify_run(store=store, run_id=run.id).holds
    assert last.seq == store.last_seq(run.id)


def test_a_connection_killed_under_the_store_is_replaced(postgres_url: str) -> None:
    with open_store(postgres_url) as store:
        run = new_run(store)
        store.append(run.id, "Before")
        admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
        finally:
            admin.dispose()
        with pytest.raises(StoreError, match=rf"cannot append to run {run.id} in the state"):
            store.append(run.id, "Lost")  # on a killed connection
        store.append(run.id, "After")

        assert [e.type for e in store.events(run.id)] == ["Before", "After"]
        assert verify_run(store=store, run_id=run.id).holds


def test_without_pipeline_mode_the_same_statements_chain_the_same_way(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libpq before 14 has no pipeline mode: the two statements go one after the other.
    log = store._postgres
    assert log is not None
    monkeypatch.setattr(log, "_pipelined", False)
    run = new_run(store)

    store.append(run.id, "One", data={"a": 1})
    store.append_many(run.id, [("Two", "s", {"b": 2}), ("Three", None, None)])
    with pytest.raises(RunNotFound):
        store.append("r-nobody", "Vote")

    assert [e.type for e in store.events(run.id)] == ["One", "Two", "Three"]
    assert verify_run(store=store, run_id=run.id).holds
