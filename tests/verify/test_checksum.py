"""Checksums: the hash each pair of databases shares, and small differences they must not hide."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest
from tests.verify.conftest import PAIRS, Db, Pair

from golive.actions.base import RunResources
from golive.verify import checksum
from golive.verify.reader import reader

UTC = dt.UTC
COLUMNS = {"id": "int", "name": "text", "amount": "numeric", "at": "timestamptz"}
AT = dt.datetime(2026, 12, 6, 20, 0, 0, 123456, tzinfo=UTC)


def mode_of(db: Db, source: str, target: str, columns: tuple[str, ...]) -> str:
    async def main() -> str:
        resources = RunResources()
        try:
            one = reader(resources, db.url)
            found = await checksum.hashing(
                (one, source, columns), (one, target, columns), timeout=10
            )
            return found.mode
        finally:
            await resources.aclose()

    return asyncio.run(main())


@pytest.mark.postgres
def test_two_postgresql_tables_with_columns_of_one_kind_are_hashed_by_postgresql_itself(
    postgres_url: str,
) -> None:
    db = Db(postgres_url)
    db.execute(
        "CREATE TABLE a (id integer, name text, amount numeric(14,4), at timestamptz)",
        "CREATE TABLE b (id bigint, name varchar(20), amount numeric, at timestamptz)",
        "CREATE TABLE c (id integer, name text, amount double precision, at timestamptz)",
    )
    assert mode_of(db, "a", "b", ("id", "name", "amount", "at")) == "record"
    assert mode_of(db, "a", "c", ("id", "name", "amount", "at")) == "md5v2"  # numeric vs float
    assert mode_of(db, "a", "c", ("id", "name")) == "record"  # the columns compared decide


@pytest.mark.postgres
def test_text_under_a_collation_that_ignores_case_is_not_hashed_by_value(
    postgres_url: str,
) -> None:
    db = Db(postgres_url)
    db.execute(
        "CREATE COLLATION any_case (provider = icu, locale = 'und-u-ks-level2', "
        "deterministic = false)",
        "CREATE TABLE a (id integer, name text COLLATE any_case)",
        "CREATE TABLE b (id integer, name text)",
        "INSERT INTO a VALUES (1, 'Ann')",
        "INSERT INTO b VALUES (1, 'ANN')",
    )
    assert mode_of(db, "a", "b", ("id", "name")) == "md5v2"
    report = Pair(db, db).verify("tables: [{source: a, target: b, key: id}]")
    assert report.tables[0].changed == 1  # 'Ann' = 'ANN' to that collation, not to golive


@pytest.mark.postgres
def test_columns_of_different_kinds_are_compared_through_the_md5_text_and_the_rows(
    postgres_url: str,
) -> None:
    db = Db(postgres_url)
    rows = [(i, f"n{i}", Decimal(i) / 4) for i in range(1, 201)]
    db.create("legacy_t", {"id": "int", "name": "text", "amount": "numeric"}, rows, key=["id"])
    db.create("new_t", {"id": "int", "name": "text", "amount": "float"}, rows, key=["id"])
    report = Pair(db, db).verify("tables: [{source: legacy_t, target: new_t, key: id}]")
    assert report.ok, report.lines()  # 0.2500 and 0.25 spell differently, and are equal


@pytest.mark.parametrize("pair", [p for p in PAIRS if "sqlite" not in str(p.id)], indirect=True)
def test_the_smallest_differences_are_found_through_the_checksums(pair: Pair) -> None:
    rows = [
        (i, f"näme {i} 🏋" if i % 5 else None, Decimal(i) / 8, AT + dt.timedelta(minutes=i))
        for i in range(1, 5001)
    ]
    pair.source.create("legacy_t", COLUMNS, rows, key=["id"])
    changes = {
        101: (101, rows[100][1], Decimal("12.6251"), rows[100][3]),  # numeric precision
        202: (202, "name 202 🏋", rows[201][2], rows[201][3]),  # one accent lost
        300: (300, "", rows[299][2], rows[299][3]),  # NULL became empty
        404: (404, rows[403][1], rows[403][2], rows[403][3] + dt.timedelta(microseconds=1)),
    }
    target = [changes.get(r[0], r) for r in rows if r[0] != 4321]
    pair.target.create("new_t", COLUMNS, target, key=["id"])
    report = pair.verify("tables: [{source: legacy_t, target: new_t, key: id}]")
    table = report.tables[0]
    assert (table.missing, table.extra, table.changed) == (1, 0, 4), report.lines()
    assert {(d.kind, d.key["id"], *d.columns) for d in table.sample} == {
        ("missing", 4321),
        ("changed", 101, "amount"),
        ("changed", 202, "name"),
        ("changed", 300, "name"),
        ("changed", 404, "at"),
    }
    assert table.fetched_rows <= 20  # the rows whose hashes differ, read whole; no more
    both_postgres = pair.source.backend == pair.target.backend == "postgresql"
    assert table.checksums is not None
    assert table.checksums["hash"] == ("record" if both_postgres else "md5v2")
    assert table.checksums["source"] != table.checksums["target"]


@pytest.mark.mariadb
@pytest.mark.postgres
def test_latin1_text_in_mariadb_is_hashed_as_utf8_like_postgresql_text(
    mariadb_url: str, postgres_url: str
) -> None:
    legacy, new = Db(mariadb_url), Db(postgres_url)
    rows = [(i, f"Zoë Ñandú {i}", f"{i}@example.org") for i in range(1, 301)]
    legacy.execute(
        "CREATE TABLE customers (id int PRIMARY KEY, name varchar(50) CHARACTER SET latin1, "
        "email varchar(50)) DEFAULT CHARSET=utf8mb4"
    )
    legacy.insert("customers", ["id", "name", "email"], rows)
    new.create("customers", {"id": "int", "name": "text", "email": "text"}, rows, key=["id"])
    report = Pair(legacy, new).verify("tables: [{source: customers, key: id}]")
    assert report.ok, report.lines()
    assert report.tables[0].fetched_rows == 0  # the checksums agree: no row read


@pytest.mark.parametrize("pair", [p for p in PAIRS if "sqlite" not in str(p.id)], indirect=True)
def test_a_text_key_is_checksummed_by_buckets_of_row_hashes(pair: Pair) -> None:
    columns = {"code": "text", "name": "text", "amount": "numeric"}
    rows = [(f"C-{i:05}", f"name {i}", Decimal(i) / 8) for i in range(1, 3001)]
    pair.source.create("legacy_t", columns, rows, key=["code"])
    target = [(c, "renamed" if c == "C-00042" else n, a) for c, n, a in rows if c != "C-02000"]
    pair.target.create("new_t", columns, target, key=["code"])
    report = pair.verify("tables: [{source: legacy_t, target: new_t, key: code}]")
    table = report.tables[0]
    assert (table.missing, table.extra, table.changed) == (1, 0, 1), report.lines()
    assert {(d.kind, d.key["code"]) for d in table.sample} == {
        ("missing", "C-02000"),
        ("changed", "C-00042"),
    }
    assert table.fetched_rows < 100  # a few buckets of about 3 rows each, not 6,000 rows


EDGES = {"id": "int", "a": "text", "b": "text", "amount": "numeric", "at": "timestamp"}
EDGE_ROWS = [
    (1, None, "x", Decimal("-1234567890.1234"), dt.datetime(1969, 12, 31, 23, 59, 59, 999999)),
    (2, "x", None, Decimal("9999999999.9999"), dt.datetime(2026, 12, 6, 20, 0, 0, 500000)),
    (3, "", "", Decimal("0"), dt.datetime(1000, 1, 1)),
    (4, None, None, None, None),
    (5, "Zoë 🏋 Ñandú", "字", Decimal("-0.0001"), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)),
    (6, "a\tb", "trailing ", Decimal("0.5"), dt.datetime(2026, 1, 1, 0, 0, 0, 1)),
]


@pytest.mark.mariadb
@pytest.mark.postgres
def test_mariadb_and_postgresql_hash_nulls_empty_text_decimals_and_instants_alike(
    mariadb_url: str, postgres_url: str
) -> None:
    legacy, new = Db(mariadb_url), Db(postgres_url)
    legacy.create("legacy_t", EDGES, EDGE_ROWS, key=["id"])
    new.create("new_t", EDGES, EDGE_ROWS, key=["id"])
    report = Pair(legacy, new).verify("tables: [{source: legacy_t, target: new_t, key: id}]")
    table = report.tables[0]
    assert report.ok, report.lines()
    assert table.checksums is not None
    assert table.checksums["hash"] == "md5v2"
    assert table.fetched_rows == 0  # equal rows hash alike in both dialects: none read


@pytest.mark.parametrize("pair", [p for p in PAIRS if "sqlite" not in str(p.id)], indirect=True)
def test_a_null_moved_to_another_column_or_turned_empty_changes_the_checksum(pair: Pair) -> None:
    pair.source.create("legacy_t", EDGES, EDGE_ROWS, key=["id"])
    changed = {
        1: (1, "x", None, *EDGE_ROWS[0][3:]),  # the NULL moved from a to b
        3: (3, None, "", *EDGE_ROWS[2][3:]),  # '' became NULL
        4: (4, None, None, Decimal("0"), None),  # NULL became 0
        5: (5, *EDGE_ROWS[4][1:3], Decimal("-0.0002"), EDGE_ROWS[4][4]),
        6: (6, "a\tb", "trailing", *EDGE_ROWS[5][3:]),  # a trailing space lost
    }
    pair.target.create("new_t", EDGES, [changed.get(r[0], r) for r in EDGE_ROWS], key=["id"])
    report = pair.verify("tables: [{source: legacy_t, target: new_t, key: id}]")
    table = report.tables[0]
    assert (table.missing, table.extra, table.changed) == (0, 0, 5), report.lines()
    assert table.checksums is not None
    assert table.checksums["source"] != table.checksums["target"]


@pytest.mark.mariadb
def test_mariadb_dates_with_a_zero_part_are_not_hashed_alike(mariadb_url: str) -> None:
    db = Db(mariadb_url)
    for table, at in (("legacy_t", "0000-00-00 00:00:00"), ("new_t", "2024-00-00 00:00:00")):
        db.execute(
            "SET SESSION sql_mode = ''",  # the legacy servers that let such dates in
            f"CREATE TABLE {table} (id int PRIMARY KEY, at datetime(6))",
            f"INSERT INTO {table} VALUES (1, '{at}')",
        )
    report = Pair(db, db).verify("tables: [{source: legacy_t, target: new_t, key: id}]")
    assert report.tables[0].checksums is not None
    assert report.tables[0].checksums["source"] != report.tables[0].checksums["target"]
