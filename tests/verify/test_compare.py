"""Tables compared across PostgreSQL, MariaDB and SQLite: counts, missing, extra and changed rows,
column mappings, normalizations, filters, and data that moves during the check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from tests.verify.conftest import PAIRS, Db, Pair

UTC = dt.UTC
CUSTOMERS = {"id": "int", "name": "text", "email": "text", "amount": "numeric"}
ROWS = [
    (1, "Ann", "ann@example.org", Decimal("10.50")),
    (2, "Bob", "bob@example.org", Decimal("0.0001")),
    (3, "Zoë Ñandú 🏋", "zoe@example.org", Decimal("123456789.1234")),
    (4, "Dirk", None, None),
    (5, "Eva", "eva@example.org", Decimal("-7")),
]


def test_identical_tables_are_reported_identical_with_their_counts(pair: Pair) -> None:
    pair.source.create("legacy_customers", CUSTOMERS, ROWS, key=["id"])
    pair.target.create("new_customers", CUSTOMERS, ROWS, key=["id"])
    report = pair.verify("tables: [{source: legacy_customers, target: new_customers, key: id}]")
    assert report.ok, report.lines()
    table = report.tables[0]
    assert (table.source_rows, table.target_rows, table.differences) == (5, 5, 0)
    assert report.lines()[0] == (
        "legacy_customers -> new_customers: identical (5 rows in the source, 5 in the target)"
    )


def test_missing_extra_and_changed_rows_are_counted_and_sampled(pair: Pair) -> None:
    pair.source.create("legacy_customers", CUSTOMERS, ROWS, key=["id"])
    target = [
        ROWS[0],
        (2, "Bob", "bob@example.org", Decimal("0.0002")),  # numeric precision
        (3, "Zoë Ñandu 🏋", "zoe@example.org", Decimal("123456789.1234")),  # one accent lost
        (4, "Dirk", "", None),  # NULL became empty
        (6, "Fay", "fay@example.org", Decimal(1)),  # extra; 5 is missing
    ]
    pair.target.create("new_customers", CUSTOMERS, target, key=["id"])
    report = pair.verify("tables: [{source: legacy_customers, target: new_customers, key: id}]")
    table = report.tables[0]
    assert not report.ok
    assert (table.missing, table.extra, table.changed) == (1, 1, 3)
    sample = {
        (d.kind, d.key["id"]): {
            name: {side: None if v is None else str(v) for side, v in values.items()}
            for name, values in d.columns.items()
        }
        for d in table.sample
    }
    assert sample == {
        ("changed", 2): {"amount": {"source": "0.0001", "target": "0.0002"}},
        ("changed", 3): {"name": {"source": "Zoë Ñandú 🏋", "target": "Zoë Ñandu 🏋"}},
        ("changed", 4): {"email": {"source": None, "target": ""}},
        ("missing", 5): {},
        ("extra", 6): {},
    }
    assert "legacy_customers -> new_customers: 1 missing, 1 extra, 3 changed" in report.lines()[0]


def test_a_renamed_subset_of_columns_is_compared_with_a_where_filter(pair: Pair) -> None:
    pair.source.create("legacy_customers", CUSTOMERS, ROWS, key=["id"])
    renamed = {"id": "int", "full_name": "text", "mail": "text", "balance": "numeric"}
    moved = [(i, n, e, Decimal(999)) for i, n, e, _ in ROWS if i != 1]  # balance: not compared
    pair.target.create("new_clients", renamed, moved, key=["id"])
    report = pair.verify(
        """
tables:
  - {source: legacy_customers, target: new_clients, key: id,
     columns: {name: full_name, email: mail}, where: "id > 1"}
"""
    )
    assert report.ok, report.lines()
    assert report.tables[0].source_rows == 4


def test_normalizations_make_legacy_spellings_equal(pair: Pair) -> None:
    columns = {"id": "int", "name": "text", "note": "text", "amount": "numeric"}
    pair.source.create(
        "legacy_t", columns, [(1, "  Ann ", "", Decimal("1.23456")), (2, "BOB", None, 2)]
    )
    pair.target.create(
        "new_t", columns, [(1, "ann", None, Decimal("1.2346")), (2, "bob", "", Decimal("2.0"))]
    )
    exact = pair.verify("tables: [{source: legacy_t, target: new_t, key: id}]")
    assert exact.tables[0].changed == 2
    loose = pair.verify(
        """
tables:
  - source: legacy_t
    target: new_t
    key: id
    normalize: {trim: true, case: true, empty_is_null: true, numeric_scale: 3}
"""
    )
    assert loose.ok, loose.lines()


def test_timestamps_compare_as_instants_with_the_zone_of_naive_ones(
    pair_to_postgres: Pair,
) -> None:
    pair = pair_to_postgres
    brussels = dt.timezone(dt.timedelta(hours=1))
    instant = dt.datetime(2026, 12, 6, 20, 0, 0, 123456, tzinfo=UTC)
    local = instant.astimezone(brussels).replace(tzinfo=None)
    columns = {"id": "int", "local_time": "timestamp", "at": "timestamptz"}
    pair.source.create("legacy_t", columns, [(1, local, instant)])
    pair.target.create(
        "new_t",
        {"id": "int", "local_time": "timestamptz", "at": "timestamptz"},
        [(1, instant, instant.astimezone(brussels))],
    )
    aware = pair.verify("tables: [{source: legacy_t, target: new_t, key: id, columns: [at]}]")
    assert aware.ok, aware.lines()
    table = "{source: legacy_t, target: new_t, key: id, columns: [local_time]"
    in_utc = pair.verify(f"tables: [{table}}}]")
    in_brussels = pair.verify(f"tables: [{table}, normalize: {{timezone: Europe/Brussels}}}}]")
    assert in_utc.tables[0].changed == 1, in_utc.lines()
    assert in_brussels.ok, in_brussels.lines()


def test_timestamps_with_and_without_a_zone_differ_by_a_microsecond_in_every_pair(
    pair: Pair,
) -> None:
    at = dt.datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=UTC)
    columns = {"id": "int", "local_time": "timestamp", "at": "timestamptz"}
    rows = [(i, at.replace(tzinfo=None) + dt.timedelta(hours=i), at + dt.timedelta(hours=i))
            for i in range(1, 4)]  # fmt: skip
    pair.source.create("legacy_t", columns, rows, key=["id"])
    moved = [
        rows[0],
        (2, rows[1][1] + dt.timedelta(microseconds=1), rows[1][2]),
        (3, rows[2][1], rows[2][2] - dt.timedelta(microseconds=1)),
    ]
    pair.target.create("new_t", columns, moved, key=["id"])
    report = pair.verify("tables: [{source: legacy_t, target: new_t, key: id}]")
    table = report.tables[0]
    assert {(d.key["id"], *d.columns) for d in table.sample} == {
        (2, "local_time"),
        (3, "at"),
    }, report.lines()
    assert table.changed == 2


def test_a_composite_key_identifies_rows(pair: Pair) -> None:
    columns = {"gym": "text", "day": "int", "slot": "int", "booked": "int"}
    rows = [("north", d, s, d * s) for d in range(3) for s in range(4)]
    pair.source.create("legacy_slots", columns, rows, key=["gym", "day", "slot"])
    changed = [
        (g, d, s, b + 1 if (d, s) == (1, 2) else b) for g, d, s, b in rows if (d, s) != (2, 3)
    ]
    pair.target.create("new_slots", columns, changed, key=["gym", "day", "slot"])
    report = pair.verify(
        "tables: [{source: legacy_slots, target: new_slots, key: [gym, day, slot]}]"
    )
    table = report.tables[0]
    assert (table.missing, table.extra, table.changed) == (1, 0, 1)
    assert {(d.kind, tuple(d.key.values())) for d in table.sample} == {
        ("missing", ("north", 2, 3)),
        ("changed", ("north", 1, 2)),
    }


def test_empty_tables_are_identical(pair: Pair) -> None:
    pair.source.create("legacy_customers", CUSTOMERS, key=["id"])
    pair.target.create("new_customers", CUSTOMERS, key=["id"])
    report = pair.verify("tables: [{source: legacy_customers, target: new_customers, key: id}]")
    assert report.ok
    assert report.tables[0].source_rows == 0


def test_a_table_without_the_key_column_is_a_clear_error(pair: Pair) -> None:
    pair.source.create("legacy_log", {"at": "int", "line": "text"}, [(1, "a")])
    pair.target.create("new_log", {"at": "int", "line": "text"}, [(1, "a")])
    report = pair.verify("tables: [{source: legacy_log, target: new_log, key: id}]")
    assert not report.ok
    assert report.tables[0].error == (
        "the source table legacy_log has no key column 'id' (its columns: at, line): "
        "set key: to the column(s) that identify a row"
    )


def test_a_key_that_is_not_unique_is_a_clear_error(pair: Pair) -> None:
    pair.source.create("legacy_log", {"at": "int", "line": "text"}, [(1, "a"), (1, "b")])
    pair.target.create("new_log", {"at": "int", "line": "text"}, [(1, "a")])
    report = pair.verify("tables: [{source: legacy_log, target: new_log, key: at}]")
    error = report.tables[0].error or ""
    assert error.startswith("the key (at) is not unique in the source table legacy_log: at=1")


def test_a_source_that_changes_during_the_check_is_reported(pair: Pair) -> None:
    rows = [(i, f"name {i}", f"{i}@example.org", Decimal(i)) for i in range(1, 101)]
    pair.source.create("legacy_customers", CUSTOMERS, rows, key=["id"])
    pair.target.create("new_customers", CUSTOMERS, rows, key=["id"])
    writes: list[int] = []

    def write_once() -> None:
        if not writes:
            writes.append(1)
            pair.source.insert("legacy_customers", list(CUSTOMERS), [(500, "late", None, None)])

    report = pair.verify(
        "tables: [{source: legacy_customers, target: new_customers, key: id}]",
        segment_rows=10,
        after_segment=write_once,
    )
    table = report.tables[0]
    assert not report.ok
    assert table.moved == "the source had 100 rows at the start and 101 at the end"
    assert "  the data changed during the check: the source had 100 rows" in "\n".join(
        report.lines()
    )


def test_many_segments_find_each_difference_once(pair: Pair) -> None:
    rows = [(i, f"name {i}", None, Decimal(i)) for i in range(1, 1001)]
    pair.source.create("legacy_customers", CUSTOMERS, rows, key=["id"])
    target = [r if r[0] % 100 else (r[0], "renamed", None, r[3]) for r in rows if r[0] != 500]
    pair.target.create("new_customers", CUSTOMERS, target, key=["id"])
    report = pair.verify(
        "tables: [{source: legacy_customers, target: new_customers, key: id}]", segment_rows=64
    )
    table = report.tables[0]
    assert (table.missing, table.extra, table.changed) == (1, 0, 9)
    assert len(table.sample) == 10


def test_assertions_check_a_value_and_the_absence_of_rows(pair: Pair) -> None:
    pair.target.create("new_customers", CUSTOMERS, ROWS, key=["id"])
    report = pair.verify(
        """
assert:
  - {sql: "select count(*) from new_customers", equals: 5}
  - {sql: "select id from new_customers where email is null", no_rows: true}
"""
    )
    assert [a.ok for a in report.assertions] == [True, False]
    assert 'returned a row, expected none: {"id": 4}' in report.assertions[1].summary


def test_verification_never_writes_even_through_the_where_filter(pair: Pair) -> None:
    pair.source.create("legacy_customers", CUSTOMERS, ROWS, key=["id"])
    pair.target.create("new_customers", CUSTOMERS, ROWS, key=["id"])
    report = pair.verify(
        """
tables:
  - {source: legacy_customers, target: new_customers, key: id,
     where: "1 = 1; delete from new_customers"}
"""
    )
    assert report.tables[0].error is not None
    assert pair.target.scalar("select count(*) from new_customers") == 5


@pytest.mark.postgres
def test_passwords_never_appear_in_the_report(tmp_path: object) -> None:
    source = Db("postgresql+psycopg://golive:hunter2secret@127.0.0.1:1/legacy")
    pair = Pair(source, source)
    report = pair.verify("tables: [{source: a, key: id}]")
    text = "\n".join(report.lines()) + str(report.json())
    assert "hunter2secret" not in text
    assert "golive:***@127.0.0.1:1/legacy" in text


@pytest.mark.parametrize(
    "pair",
    [p for p in PAIRS if "sqlite" not in str(p.id)],
    indirect=True,
)
def test_identical_tables_are_proved_by_checksums_without_reading_rows(pair: Pair) -> None:
    columns = {**CUSTOMERS, "at": "timestamptz", "score": "float"}
    at = dt.datetime(2026, 3, 29, 1, 30, 0, 250, tzinfo=UTC)
    rows = [
        (
            i,
            f"näme {i} 🏋" if i % 7 else None,
            f"{i}@example.org",
            Decimal(i) / 8,
            at + dt.timedelta(seconds=i),
            i / 3,
        )
        for i in range(1, 3001)
    ]
    pair.source.create("legacy_customers", columns, rows, key=["id"])
    pair.target.create("new_customers", columns, rows, key=["id"])
    report = pair.verify(
        "tables: [{source: legacy_customers, target: new_customers, key: id}]", segment_rows=500
    )
    assert report.ok, report.lines()
    assert report.tables[0].fetched_rows == 0
    sums = report.tables[0].checksums or {}
    assert sums["source"] == sums["target"] != "0"


def test_a_difference_that_moves_during_the_check_is_reported(pair: Pair) -> None:
    rows = [(i, f"name {i}", f"{i}@example.org", Decimal(i)) for i in range(1, 101)]
    pair.source.create("legacy_customers", CUSTOMERS, rows, key=["id"])
    pair.target.create(
        "new_customers",
        CUSTOMERS,
        [r if r[0] != 5 else (5, "late", *r[2:]) for r in rows],
        key=["id"],
    )
    segments: list[int] = []

    def catch_up_after_the_last_segment() -> None:
        segments.append(1)
        if len(segments) == 10:  # 100 rows in ranges of 10: every range is compared
            pair.source.execute("UPDATE legacy_customers SET name = 'late' WHERE id = 5")

    report = pair.verify(
        "tables: [{source: legacy_customers, target: new_customers, key: id}]",
        segment_rows=10,
        after_segment=catch_up_after_the_last_segment,
    )
    table = report.tables[0]
    assert table.changed == 1
    assert table.moved == "1 of the 1 differing rows shown read otherwise a moment later"
    assert not report.ok


LOG = {"at": "int", "line": "text", "amount": "numeric"}


def test_a_table_without_a_key_is_compared_whole_as_a_multiset_of_rows(pair: Pair) -> None:
    a, b, c = (1, "a", Decimal("1.50")), (2, "b", None), (3, "c", Decimal("0.0001"))
    pair.source.create("legacy_log", LOG, [a, a, b, c])
    pair.target.create(
        "new_log", LOG, [a, (2, "b", None), (3, "C", Decimal("0.0001")), (4, "d", 1)]
    )
    report = pair.verify("tables: [{source: legacy_log, target: new_log}]")
    table = report.tables[0]
    assert (table.missing, table.extra, table.changed) == (2, 2, 0), report.lines()
    assert (table.source_rows, table.target_rows) == (4, 4)
    assert {(d.kind, d.key["at"], d.key["line"]) for d in table.sample} == {
        ("missing", 1, "a"),  # the source has it twice, the target once
        ("missing", 3, "c"),
        ("extra", 3, "C"),
        ("extra", 4, "d"),
    }
    assert "legacy_log -> new_log: 2 missing, 2 extra, 0 changed" in report.lines()[0]


def test_identical_tables_without_a_key_are_identical_and_a_where_filter_applies(
    pair: Pair,
) -> None:
    rows = [(i % 50, f"line {i % 50} é", Decimal(i % 7) / 4) for i in range(1, 2001)]
    pair.source.create("legacy_log", LOG, rows)
    pair.target.create("new_log", LOG, [*rows, (99, "late", None)])
    report = pair.verify("tables: [{source: legacy_log, target: new_log, where: 'at < 99'}]")
    assert report.ok, report.lines()
    assert (report.tables[0].source_rows, report.tables[0].target_rows) == (2000, 2000)
    if "sqlite" not in pair.source.url + pair.target.url:  # proved by checksums
        assert report.tables[0].fetched_rows == 0


@pytest.mark.parametrize("pair", [p for p in PAIRS if "sqlite" not in str(p.id)], indirect=True)
def test_without_a_key_only_the_hash_buckets_that_differ_are_read(pair: Pair) -> None:
    rows = [(i, f"line {i}", Decimal(i) / 8) for i in range(1, 5001)]
    pair.source.create("legacy_log", LOG, rows)
    pair.target.create("new_log", LOG, [r if r[0] != 77 else (77, "line 77!", r[2]) for r in rows])
    report = pair.verify("tables: [{source: legacy_log, target: new_log}]")
    table = report.tables[0]
    assert (table.missing, table.extra) == (1, 1), report.lines()
    assert 0 < table.fetched_rows < 100  # one or two buckets of about 5 rows each, not 10,000
