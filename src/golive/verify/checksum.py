"""Checksums computed inside PostgreSQL and MariaDB/MySQL, so that matching data never travels.

Each row becomes one text in both databases (the same text for the same values: numbers and
text as themselves, timestamps as UTC `YYYY-MM-DD HH:MM:SS.ffffff`, NULL as a marker no value
spells), the first 60 bits of its MD5 are summed over a key range, with the row count. Equal
checksums mean the range is identical; unequal ones send the range to the exact comparison.

A checksum is only a shortcut: two equal values spelled differently (`1.5` against `1.50`, a
trimmed name) make the checksums differ, and the exact comparison then finds the rows equal. It
must never make different rows look equal, so it is used only when every value's text is
unique to it: not for SQLite (no MD5), and not when naive timestamps are read in another zone.
It is also left out for tables with normalizations, and for keys that are not one integer
column (the ranges are ranges of integers).
"""

from __future__ import annotations

from typing import Any

from golive.plan.models import TableMapping
from golive.verify.reader import Reader

SEPARATOR = "\x1f"  # the unit separator, between columns
CAN_CHECKSUM = ("postgresql", "mysql")


def usable(mapping: TableMapping, *readers: Reader) -> bool:
    """Whether both databases can compute comparable checksums for this table. Not with the
    normalizations: they say values are spelled differently on each side, which would make
    every range's checksums differ and cost more than reading the rows."""
    n = mapping.normalize
    plain = not (n.trim or n.case or n.empty_is_null or n.numeric_scale is not None)
    return plain and n.timezone == "UTC" and all(r.backend in CAN_CHECKSUM for r in readers)


async def column_types(db: Reader, table: str, *, timeout: float) -> dict[str, str]:
    """Each column's SQL type, by lower-case name."""
    schema, _, name = table.rpartition(".")
    here = (
        db.mark if schema else ("current_schema()" if db.backend == "postgresql" else "database()")
    )
    sql = (
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_name = {db.mark} AND table_schema = {here}"
    )
    params = (name, schema) if schema else (name,)
    rows = (await db.fetch(sql, params, timeout=timeout)).rows
    return {str(column).lower(): str(kind).lower() for column, kind in rows}


def text_of(db: Reader, column: str, kind: str) -> str:
    """The SQL expression spelling one column's value as the checksum's text."""
    quoted = db.quote_name(column)
    if db.backend == "postgresql":
        if kind == "timestamp with time zone":
            value = f"to_char({quoted} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        elif kind == "timestamp without time zone":
            value = f"to_char({quoted}, 'YYYY-MM-DD HH24:MI:SS.US')"
        elif kind == "boolean":
            value = f"CASE WHEN {quoted} THEN '1' ELSE '0' END"
        else:
            value = f"{quoted}::text"
        return f"coalesce('v' || {value}, 'n')"
    if kind in ("datetime", "timestamp"):
        # %% because the query has parameters: pymysql formats it with %
        value = f"DATE_FORMAT({quoted}, '%%Y-%%m-%%d %%H:%%i:%%s.%%f')"
    else:
        value = f"CONVERT(CAST({quoted} AS CHAR) USING utf8mb4)"
    return f"coalesce(concat('v', {value}), 'n')"


def checksum_select(
    db: Reader, table: str, columns: tuple[str, ...], types: dict[str, str], condition: str
) -> str:
    """count(*) and the sum of the rows' hashes over `condition` (which holds placeholders)."""
    parts = [text_of(db, c, types.get(c.lower(), "")) for c in columns]
    if db.backend == "postgresql":
        row = f"concat_ws(chr(31), {', '.join(parts)})"
        hashed = f"('x' || substr(md5({row}), 1, 15))::bit(60)::bigint"
    else:
        row = f"concat_ws(char(31), {', '.join(parts)})"
        hashed = f"CAST(CONV(SUBSTRING(MD5({row}), 1, 15), 16, 10) AS UNSIGNED)"
    return f"SELECT count(*), sum({hashed}) FROM {db.table(table)} WHERE {condition}"


def same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Whether two (count, sum) checksums agree (an empty range sums to NULL)."""
    return int(a[0]) == int(b[0]) and int(a[1] or 0) == int(b[1] or 0)
