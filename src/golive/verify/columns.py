"""The key and the compared columns of a table mapping, checked against what the tables have."""

from __future__ import annotations

from dataclasses import dataclass

from golive.plan.diagnostics import did_you_mean
from golive.plan.models import TableMapping
from golive.verify.reader import Reader


class MappingError(Exception):
    """The table mapping does not fit the tables (unknown column, key not unique)."""


@dataclass(frozen=True)
class Columns:
    """The key and compared columns, as each database names them."""

    names: tuple[str, ...]  # as the report shows them (the source's names)
    source: tuple[str, ...]
    target: tuple[str, ...]
    keys: int  # the first `keys` columns are the key


async def columns_of(db: Reader, table: str, timeout: float) -> tuple[str, ...]:
    return (await db.fetch(f"SELECT * FROM {db.table(table)} WHERE 1 = 0", timeout=timeout)).columns


def resolve(
    mapping: TableMapping,
    source_columns: tuple[str, ...],
    target_columns: tuple[str, ...],
    target_table: str,
) -> Columns:
    """The key and the compared columns in each table, checked against what the tables have."""
    keys = [mapping.key] if isinstance(mapping.key, str) else list(mapping.key or [])
    if isinstance(mapping.columns, dict):
        pairs = dict(mapping.columns)
    elif isinstance(mapping.columns, list):
        pairs = {name: name for name in mapping.columns}
    else:
        pairs = {name: name for name in source_columns}
    renamed = {k.lower(): v for k, v in pairs.items()}
    compared = [name for name in pairs if name.lower() not in {k.lower() for k in keys}]
    wanted = [*keys, *compared]
    source = [_column(n, source_columns, "source", mapping.source, key=n in keys) for n in wanted]
    target = [
        _column(renamed.get(n.lower(), n), target_columns, "target", target_table, key=n in keys)
        for n in wanted
    ]
    return Columns(tuple(wanted), tuple(source), tuple(target), len(keys))


def _column(name: str, present: tuple[str, ...], side: str, table: str, *, key: bool) -> str:
    for column in present:
        if column.lower() == name.lower():
            return column
    hint = did_you_mean(name, list(present))
    what = "key column" if key else "column"
    fix = (
        "set key: to the column(s) that identify a row"
        if key
        else "map it with columns: {source_name: target_name}, or list the columns to compare"
    )
    return _raise(
        f"the {side} table {table} has no {what} '{name}'"
        + (f" ({hint})" if hint else f" (its columns: {', '.join(present)})")
        + f": {fix}"
    )


def _raise(message: str) -> str:
    raise MappingError(message)
