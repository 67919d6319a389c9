"""Checksums computed inside PostgreSQL and MariaDB/MySQL, so that matching data never travels.

Each row is hashed inside its database to a number, and the numbers are summed, with the row
count, per bucket of keys: one grouped query per side answers every bucket of a key range in a
single scan. Equal sums mean the bucket is identical; in a bucket whose sums differ, each row's
(key, hash) is read, and only the rows whose hashes differ are read whole and compared exactly.

Two ways of hashing a row, the cheapest both sides share:

- `record`: both sides PostgreSQL (14 or later) and each pair of columns of one kind that
  PostgreSQL hashes by value (`hash_record_extended`: integers, text, numeric, timestamps...).
  No value is spelled as text: about six times cheaper than MD5.
- `md5v2`: across dialects. Each row becomes one text in both databases: its non-NULL values
  (numbers and text as themselves, timestamps as whole UTC microseconds since 1970), then a
  number whose bits say which nullable columns are NULL (so NULL is never '' nor a value that
  spells a marker); its hash is the first 60 bits of its MD5. (The earlier `md5` wrapped every
  value as `coalesce('v' || value, 'n')` and spelled timestamps with to_char/DATE_FORMAT: a
  tenth to a sixth more CPU on each side for the same guarantees; its sums are not comparable.)

A checksum is only a shortcut: two equal values spelled differently (`1.5` against `1.50`, a
trimmed name) make the checksums differ, and the exact comparison then finds the rows equal. It
must never make different rows look equal, so it is used only when equal hashes mean equal
values as golive compares them: not for SQLite (no hash function), not with normalizations,
not for text under a non-deterministic collation. The buckets are ranges of keys for a key that
is one integer column, and ranges of the hashes themselves for a table without a key or with a
key of one other column; composite keys are read and compared row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from golive.plan.models import TableMapping
from golive.verify.reader import Reader

CAN_CHECKSUM = ("postgresql", "mysql")
MD5 = "md5v2"  # the hash across dialects, named with the version of the row's text
MASK_BITS = 60  # nullable columns per NULL mask (a BIGINT in both dialects)
# TO_SECONDS counts from year 0; PostgreSQL's epoch from 1970
SECONDS_TO_1970 = 62167219200
RECORD_SINCE = 140000  # hash_record_extended is in PostgreSQL 14 and later
# the kinds of PostgreSQL columns whose hash is one of their value as golive compares it; two
# columns of one family hash equal values alike (integer widths, text and varchar, floats)
FAMILIES = {
    "smallint": "int",
    "integer": "int",
    "bigint": "int",
    "text": "text",
    "character varying": "text",
    "numeric": "numeric",
    "real": "float",
    "double precision": "float",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "date": "date",
    "time without time zone": "time",
    "boolean": "boolean",
    "uuid": "uuid",
    "bytea": "bytea",
}

MYSQL_NUMBERS = ("tinyint", "smallint", "mediumint", "int", "bigint", "decimal")
MYSQL_TEXTS = ("char", "varchar", "tinytext", "text", "mediumtext", "longtext")


@dataclass(frozen=True)
class Column:
    """What a checksum needs to know of one column."""

    kind: str  # the SQL type, lower case, without length or precision
    deterministic: bool = True  # its collation compares text byte by byte
    charset: str | None = None  # MariaDB/MySQL text: the column's character set
    nullable: bool = True


@dataclass(frozen=True)
class Hashing:
    """How both sides hash rows: `record` or `md5v2`, with each side's column kinds and which
    compared columns either side lets be NULL (both sides' texts must mark the same ones)."""

    mode: str
    source: dict[str, Column]
    target: dict[str, Column]
    nullable: tuple[bool, ...] = ()


def usable(mapping: TableMapping, *readers: Reader) -> bool:
    """Whether both databases can compute comparable checksums for this table. Not with the
    normalizations: they say values are spelled differently on each side, which would make
    every range's checksums differ and cost more than reading the rows."""
    n = mapping.normalize
    plain = not (n.trim or n.case or n.empty_is_null or n.numeric_scale is not None)
    return plain and n.timezone == "UTC" and all(r.backend in CAN_CHECKSUM for r in readers)


async def hashing(
    source: tuple[Reader, str, tuple[str, ...]],
    target: tuple[Reader, str, tuple[str, ...]],
    *,
    timeout: float,
) -> Hashing:
    """The cheapest way both sides can hash the compared columns (db, table, columns each)."""
    kinds = [await _columns(db, table, timeout=timeout) for db, table, _ in (source, target)]
    both = (source[0], target[0])
    pairs = list(zip(source[2], target[2], strict=True))
    if all(db.backend == "postgresql" for db in both):
        alike = all(_alike(kinds[0].get(a.lower()), kinds[1].get(b.lower())) for a, b in pairs)
        if alike and min([await _version(db, timeout) for db in both]) >= RECORD_SINCE:
            return Hashing("record", kinds[0], kinds[1])
    unknown = Column("")
    nullable = tuple(
        kinds[0].get(a.lower(), unknown).nullable or kinds[1].get(b.lower(), unknown).nullable
        for a, b in pairs
    )
    return Hashing(MD5, kinds[0], kinds[1], nullable)


def _alike(a: Column | None, b: Column | None) -> bool:
    if a is None or b is None or not (a.deterministic and b.deterministic):
        return False
    family = FAMILIES.get(a.kind)
    return family is not None and family == FAMILIES.get(b.kind)


async def _version(db: Reader, timeout: float) -> int:
    rows = (await db.fetch("SELECT current_setting('server_version_num')", timeout=timeout)).rows
    return int(rows[0][0])


async def _columns(db: Reader, table: str, *, timeout: float) -> dict[str, Column]:
    """Each column's kind, by lower-case name."""
    if db.backend == "postgresql":
        sql = (
            "SELECT a.attname, format_type(a.atttypid, NULL), "
            "coalesce(c.collisdeterministic, true), NOT a.attnotnull FROM pg_attribute a "
            "LEFT JOIN pg_collation c ON c.oid = a.attcollation "
            f"WHERE a.attrelid = to_regclass({db.mark}) AND a.attnum > 0 AND NOT a.attisdropped"
        )
        rows = (await db.fetch(sql, (db.table(table),), timeout=timeout)).rows
        return {
            str(n).lower(): Column(str(k).lower(), bool(d), nullable=bool(null))
            for n, k, d, null in rows
        }
    schema, _, name = table.rpartition(".")
    sql = (
        "SELECT column_name, data_type, character_set_name, is_nullable "
        "FROM information_schema.columns "
        f"WHERE table_name = {db.mark} AND table_schema = {db.mark if schema else 'database()'}"
    )
    params = (name, schema) if schema else (name,)
    rows = (await db.fetch(sql, params, timeout=timeout)).rows
    return {
        str(n).lower(): Column(
            str(k).lower(),
            charset=None if c is None else str(c).lower(),
            nullable=str(null).upper() != "NO",
        )
        for n, k, c, null in rows
    }


def row_hash(
    db: Reader,
    columns: tuple[str, ...],
    kinds: dict[str, Column],
    mode: str,
    nullable: tuple[bool, ...] = (),
) -> str:
    """The SQL expression of one row's hash, an integer. `nullable`: which columns the NULL
    mask covers (the same on both sides; every column when not given)."""
    if mode == "record":
        return f"hash_record_extended(ROW({', '.join(map(db.quote_name, columns))}), 0)"
    parts = [_text_of(db, c, kinds.get(c.lower(), Column(""))) for c in columns]
    # concat_ws leaves NULLs out: the masks say which columns they were
    parts.extend(_null_masks(db, columns, nullable or (True,) * len(columns)))
    if db.backend == "postgresql":
        row = f"concat_ws(chr(31), {', '.join(parts)})"
        return f"('x' || left(md5({row}), 15))::bit(60)::bigint"
    row = f"concat_ws(char(31), {', '.join(parts)})"
    return f"CAST(CONV(LEFT(MD5({row}), 15), 16, 10) AS UNSIGNED)"


def _null_masks(db: Reader, columns: tuple[str, ...], nullable: tuple[bool, ...]) -> list[str]:
    """Numbers whose bits are the nullable columns that are NULL, 60 columns a number."""
    null = [c for c, may in zip(columns, nullable, strict=True) if may]
    # PostgreSQL: a CASE costs a fifth less than a boolean cast to int
    one = (
        "CASE WHEN {} IS NULL THEN {} ELSE 0 END"
        if db.backend == "postgresql"
        else "({} IS NULL) * {}"
    )
    masks = []
    for start in range(0, len(null), MASK_BITS):
        chunk = null[start : start + MASK_BITS]
        bits = [one.format(db.quote_name(c), 1 << i) for i, c in enumerate(chunk)]
        masks.append(f"({' + '.join(bits)})")
    return masks


def _text_of(db: Reader, column: str, of: Column) -> str:
    """The SQL expression spelling one column's value in the row's text (NULL stays NULL)."""
    quoted, kind = db.quote_name(column), of.kind
    if db.backend == "postgresql":
        if kind in ("timestamp with time zone", "timestamp without time zone"):
            # exact (numeric), and 'infinity' spells Infinity rather than failing a bigint cast
            return f"trunc(extract(epoch FROM {quoted}) * 1000000)"
        if kind == "boolean":
            return f"CASE WHEN {quoted} THEN '1' WHEN NOT {quoted} THEN '0' END"
        return quoted  # concat_ws spells every other value with its type's output, as ::text
    if kind in ("datetime", "timestamp"):
        # whole microseconds since 1970, as PostgreSQL's, for a fraction of DATE_FORMAT's cost;
        # a date with a zero part ('0000-00-00') has none: spelled as itself, never a number
        micro = f"(TO_SECONDS({quoted}) - {SECONDS_TO_1970}) * 1000000 + MICROSECOND({quoted})"
        return f"coalesce({micro}, concat('z', {quoted}))"
    if kind in MYSQL_NUMBERS or (kind in MYSQL_TEXTS and of.charset == "utf8mb4"):
        return quoted  # already the text (digits, or UTF-8): a conversion costs a third more
    return f"CONVERT(CAST({quoted} AS CHAR) USING utf8mb4)"


def buckets_select(db: Reader, table: str, key: str, hashed: str, condition: str) -> str:
    """Per bucket of keys: its number, count(*) and the sum of its hashes. Parameters: the
    lowest key and the bucket width, then the key range [low, high). `condition` is written
    for a query with parameters."""
    quoted, mark = db.quote_name(key), db.mark
    divide = "/" if db.backend == "postgresql" else "DIV"  # integers: the quotient, rounded down
    return (
        f"SELECT ({quoted} - {mark}) {divide} {mark}, count(*), sum({hashed}) "
        f"FROM {db.table(table)} "
        f"WHERE {condition} AND {quoted} >= {mark} AND {quoted} < {mark} GROUP BY 1"
    )


def hashes_select(db: Reader, table: str, key: str, hashed: str, condition: str, spans: int) -> str:
    """Each row's key and hash, in `spans` key ranges (parameters: low and high of each)."""
    quoted, mark = db.quote_name(key), db.mark
    one = f"({quoted} >= {mark} AND {quoted} < {mark})"
    ranges = " OR ".join([one] * spans)
    return f"SELECT {quoted}, {hashed} FROM {db.table(table)} WHERE {condition} AND ({ranges})"


def hash_buckets_select(db: Reader, table: str, hashed: str, condition: str) -> str:
    """Per bucket of rows by their hash modulo a number (the parameter): its number, count(*)
    and the sum of its hashes."""
    return (
        f"SELECT MOD(h, {db.mark}), count(*), sum(h) "
        f"FROM (SELECT {hashed} AS h FROM {db.table(table)} WHERE {condition}) AS hashed "
        "GROUP BY 1"
    )


def same(a: tuple[Any, ...] | None, b: tuple[Any, ...] | None) -> bool:
    """Whether two (count, sum) checksums agree (an empty range sums to NULL)."""
    if a is None or b is None:
        return a is b
    return int(a[0]) == int(b[0]) and int(a[1] or 0) == int(b[1] or 0)
