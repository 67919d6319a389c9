"""Comparing one table of the source with its counterpart in the target.

The key range is cut into segments (for a single integer key; otherwise the table is one
segment). Where both databases can hash rows (see `checksum`), each segment is checksummed by
buckets of keys and only the rows whose hashes differ are read; otherwise each segment is read
from both databases at once and compared row by row after normalization. Every query is in a
read-only transaction; segments run in parallel. The row counts are taken again at the end:
data that moved meanwhile is reported as such, not as a clean result.

A table without a key is compared whole, as two multisets of rows: a row is missing when the
source has it more often than the target, extra the other way round (a changed row is one of
each). With checksums, rows are bucketed by their own hash, so only the buckets that differ are
read.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from golive.checks.database import DatabaseError
from golive.plan.diagnostics import did_you_mean
from golive.plan.models import TableMapping
from golive.verify import checksum
from golive.verify.reader import Reader
from golive.verify.report import SAMPLE, RowDifference, TableReport
from golive.verify.values import Canon, shown

T = TypeVar("T")
SEGMENT_ROWS = 10_000  # key values per range whose rows are read and compared (no checksums)
CHECKSUM_ROWS = 1_000_000  # key values per range checksummed by one grouped query per side
BUCKETS = 1_000  # buckets of keys per checksummed range
PARALLEL = 4  # queries at once, per table and side
MAX_SEGMENTS = 256  # ranges at first, at most (a sparse key makes ranges of few rows)
RANGES_PER_QUERY = 100  # bucket ranges whose row hashes one query reads
HASH_BUCKETS = 1_000  # buckets of rows by their hash, for a table without a key
KEYS_PER_QUERY = 500  # rows read by key in one query


class MappingError(Exception):
    """The table mapping does not fit the tables (unknown column, key not unique)."""


@dataclass(frozen=True)
class Columns:
    """The key and compared columns, as each database names them."""

    names: tuple[str, ...]  # as the report shows them (the source's names)
    source: tuple[str, ...]
    target: tuple[str, ...]
    keys: int  # the first `keys` columns are the key


@dataclass
class Found:
    missing: int = 0
    extra: int = 0
    changed: int = 0
    fetched: int = 0  # rows read out of the databases, both sides
    source_rows: int = 0  # counted by checksums
    target_rows: int = 0
    sample: list[RowDifference] = field(default_factory=list)
    keys: list[tuple[Any, ...]] = field(default_factory=list)  # the sample's keys, as read

    def add(self, other: Found) -> None:
        self.fetched += other.fetched
        self.source_rows += other.source_rows
        self.target_rows += other.target_rows
        self.missing += other.missing
        self.extra += other.extra
        self.changed += other.changed
        room = SAMPLE - len(self.sample)
        self.sample.extend(other.sample[:room])
        self.keys.extend(other.keys[:room])


@dataclass(frozen=True)
class Side:
    """One table in one database, and how to read it."""

    db: Reader
    table: str
    columns: tuple[str, ...]
    where: str | None
    hashed: str = ""  # the SQL expression of a row's hash, when checksums are used

    def select(self, extra: str = "") -> str:
        names = ", ".join(self.db.quote_name(c) for c in self.columns)
        condition = self.db.condition(self.where, with_params=bool(extra))
        return f"SELECT {names} FROM {self.db.table(self.table)} WHERE {condition}{extra}"

    async def counts(
        self, key: str | None, *, timeout: float, rows: bool = True
    ) -> tuple[Any, ...]:
        """(rows, lowest key, highest key); rows None when not asked (an index answers the
        rest at once)."""
        figures = "count(*)" if rows else "NULL"
        if key is not None:
            quoted = self.db.quote_name(key)
            figures += f", min({quoted}), max({quoted})"
        condition = self.db.condition(self.where, with_params=False)
        sql = f"SELECT {figures} FROM {self.db.table(self.table)} WHERE {condition}"
        return (await self.db.fetch(sql, timeout=timeout)).rows[0]

    async def buckets(
        self, span: tuple[int, int], width: int, *, timeout: float
    ) -> dict[int, tuple[Any, ...]]:
        """(count, sum of hashes) of each bucket of `width` keys in `span`, by bucket number."""
        condition = self.db.condition(self.where, with_params=True)
        sql = checksum.buckets_select(self.db, self.table, self.columns[0], self.hashed, condition)
        params = (span[0], width, *span)
        rows = (await self.db.fetch(sql, params, timeout=timeout)).rows
        return {int(bucket): (count, total) for bucket, count, total in rows}

    async def hashes(
        self, spans: list[tuple[int, int]], *, timeout: float
    ) -> tuple[dict[Any, int], set[Any]]:
        """Each row's hash by key in these key ranges, and the keys seen more than once."""
        condition = self.db.condition(self.where, with_params=True)
        sql = checksum.hashes_select(
            self.db, self.table, self.columns[0], self.hashed, condition, len(spans)
        )
        params = [bound for span in spans for bound in span]
        found: dict[Any, int] = {}
        twice: set[Any] = set()
        for key, hashed in (await self.db.fetch(sql, params, timeout=timeout)).rows:
            if key in found:
                twice.add(key)
            found[key] = int(hashed)
        return found, twice

    async def hash_buckets(self, buckets: int, *, timeout: float) -> dict[int, tuple[Any, ...]]:
        """(count, sum of hashes) of the rows by their hash modulo `buckets` (no key needed)."""
        condition = self.db.condition(self.where, with_params=True)
        sql = checksum.hash_buckets_select(self.db, self.table, self.hashed, condition)
        rows = (await self.db.fetch(sql, (buckets,), timeout=timeout)).rows
        return {int(bucket): (count, total) for bucket, count, total in rows}

    async def in_hash_buckets(
        self, chosen: Sequence[int], buckets: int, *, timeout: float
    ) -> list[tuple[Any, ...]]:
        """The rows whose hash modulo `buckets` is one of `chosen`."""
        mark = self.db.mark
        marks = ", ".join([mark] * len(chosen))
        sql = self.select(f" AND MOD({self.hashed}, {mark}) IN ({marks})")
        return (await self.db.fetch(sql, (buckets, *chosen), timeout=timeout)).rows

    async def keyed(self, keys: list[tuple[Any, ...]], *, timeout: float) -> list[tuple[Any, ...]]:
        """The rows with these keys (the key is the first columns)."""
        width, mark = len(keys[0]), self.db.mark
        if width == 1:
            marks = ", ".join([mark] * len(keys))
            sql = self.select(f" AND {self.db.quote_name(self.columns[0])} IN ({marks})")
        else:
            one = " AND ".join(f"{self.db.quote_name(c)} = {mark}" for c in self.columns[:width])
            sql = self.select(" AND (" + " OR ".join(f"({one})" for _ in keys) + ")")
        params = [value for key in keys for value in key]
        return (await self.db.fetch(sql, params, timeout=timeout)).rows

    async def rows(self, span: tuple[int, int] | None, *, timeout: float) -> list[tuple[Any, ...]]:
        if span is None:
            return (await self.db.fetch(self.select(), timeout=timeout)).rows
        key, mark = self.db.quote_name(self.columns[0]), self.db.mark
        sql = self.select(f" AND {key} >= {mark} AND {key} < {mark}")
        return (await self.db.fetch(sql, span, timeout=timeout)).rows


async def compare_table(
    mapping: TableMapping,
    source: Reader,
    target: Reader,
    *,
    timeout: float,
    where: str | None = None,
    segment_rows: int | None = None,
    after_segment: Callable[[], None] | None = None,
) -> TableReport:
    """Compare `mapping.source` in `source` with `mapping.target` in `target`."""
    started = time.monotonic()
    names = (mapping.source, mapping.target or mapping.source)
    try:
        table = _Table(mapping, source, target, where, timeout)
        await table.prepare()
        return await table.compare(segment_rows, after_segment, started)
    except (DatabaseError, MappingError) as exc:
        return TableReport(*names, error=str(exc), duration=time.monotonic() - started)


class _Table:
    def __init__(
        self,
        mapping: TableMapping,
        source: Reader,
        target: Reader,
        where: str | None,
        timeout: float,
    ) -> None:
        self.mapping = mapping
        self.source_db, self.target_db = source, target
        self.where = where
        self.timeout = timeout
        self.canon = Canon.of(mapping.normalize)
        self.target_name = mapping.target or mapping.source

    async def prepare(self) -> None:
        source_columns, target_columns = await _all(
            _columns_of(self.source_db, self.mapping.source, self.timeout),
            _columns_of(self.target_db, self.target_name, self.timeout),
        )
        self.columns = _resolve(self.mapping, source_columns, target_columns, self.target_name)
        self.checksums = self.columns.keys <= 1 and checksum.usable(
            self.mapping, self.source_db, self.target_db
        )
        self.fast = self.checksums and self.columns.keys == 1  # by buckets of keys
        hashed = ("", "")
        if self.checksums:
            how = await checksum.hashing(
                (self.source_db, self.mapping.source, self.columns.source),
                (self.target_db, self.target_name, self.columns.target),
                timeout=self.timeout,
            )
            hashed = (
                checksum.row_hash(self.source_db, self.columns.source, how.source, how.mode),
                checksum.row_hash(self.target_db, self.columns.target, how.target, how.mode),
            )
        self.source = Side(
            self.source_db, self.mapping.source, self.columns.source, self.where, hashed[0]
        )
        self.target = Side(
            self.target_db, self.target_name, self.columns.target, self.where, hashed[1]
        )

    async def counts(self, *, rows: bool = True) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        single = self.columns.keys == 1
        source, target = await _all(
            self.source.counts(
                self.columns.source[0] if single else None, timeout=self.timeout, rows=rows
            ),
            self.target.counts(
                self.columns.target[0] if single else None, timeout=self.timeout, rows=rows
            ),
        )
        return source, target

    async def compare(
        self, segment_rows: int | None, after: Callable[[], None] | None, started: float
    ) -> TableReport:
        # with checksums, their counts are the first counts: no scan just to count
        first = await self.counts(rows=not self.checksums)
        spans = _spans(first, segment_rows or (CHECKSUM_ROWS if self.fast else SEGMENT_ROWS))
        found = Found()
        self.gate = asyncio.Semaphore(PARALLEL)

        async def one(span: tuple[int, int] | None) -> Found:
            segment = await self.settle(span)
            if after is not None:
                after()
            return segment

        for segment in await _all(*(one(span) for span in spans)):
            found.add(segment)
        if self.checksums:
            first = (found.source_rows, *first[0][1:]), (found.target_rows, *first[1][1:])
        unsettled = await self.recheck(found)
        last = await self.counts()
        moved = "; ".join(m for m in (_moved(first, last), unsettled) if m) or None
        return TableReport(
            self.mapping.source,
            self.target_name,
            source_rows=int(last[0][0]),
            target_rows=int(last[1][0]),
            missing=found.missing,
            extra=found.extra,
            changed=found.changed,
            fetched_rows=found.fetched,
            sample=tuple(found.sample),
            moved=moved,
            duration=time.monotonic() - started,
        )

    async def settle(self, span: tuple[int, int] | None) -> Found:
        """The differences in `span`: by checksums when they can be used, else row by row."""
        if self.fast and span is not None:
            return await self.checksummed(span)
        if self.checksums and span is None:
            return await self.hash_bucketed()
        return await self.fetch(span)

    async def hash_bucketed(self) -> Found:
        """A table without a key: its rows bucketed by their hash, one grouped query per side;
        the rows of the buckets whose checksums differ are read and compared as multisets."""
        async with self.gate:
            sums = await _all(
                self.source.hash_buckets(HASH_BUCKETS, timeout=self.timeout),
                self.target.hash_buckets(HASH_BUCKETS, timeout=self.timeout),
            )
        bad = sorted(b for b in sums[0].keys() | sums[1].keys() if not checksum.same(
            sums[0].get(b), sums[1].get(b)
        ))  # fmt: skip
        found = Found()
        for start in range(0, len(bad), RANGES_PER_QUERY):
            part = bad[start : start + RANGES_PER_QUERY]
            async with self.gate:
                source_rows, target_rows = await _all(
                    self.source.in_hash_buckets(part, HASH_BUCKETS, timeout=self.timeout),
                    self.target.in_hash_buckets(part, HASH_BUCKETS, timeout=self.timeout),
                )
            one = self.diff(source_rows, target_rows)
            one.fetched = len(source_rows) + len(target_rows)
            found.add(one)
        found.source_rows = sum(int(count) for count, _ in sums[0].values())
        found.target_rows = sum(int(count) for count, _ in sums[1].values())
        return found

    async def checksummed(self, span: tuple[int, int]) -> Found:
        """The bucket checksums of `span`, one grouped query per side; the rows of the buckets
        whose checksums differ are then located by their hashes."""
        width = max(1, math.ceil((span[1] - span[0]) / BUCKETS))
        async with self.gate:
            sums = await _all(
                self.source.buckets(span, width, timeout=self.timeout),
                self.target.buckets(span, width, timeout=self.timeout),
            )
        bad = sorted(b for b in sums[0].keys() | sums[1].keys() if not checksum.same(
            sums[0].get(b), sums[1].get(b)
        ))  # fmt: skip
        bounds = [(span[0] + b * width, min(span[0] + (b + 1) * width, span[1])) for b in bad]
        found = await self.located(bounds)
        found.source_rows = sum(int(count) for count, _ in sums[0].values())
        found.target_rows = sum(int(count) for count, _ in sums[1].values())
        return found

    async def located(self, spans: list[tuple[int, int]]) -> Found:
        """The differences in key ranges whose checksums differ: each row's hash is read, and
        the rows whose hashes differ (or that one side lacks) are read whole and compared."""
        found = Found()
        for start in range(0, len(spans), RANGES_PER_QUERY):
            part = spans[start : start + RANGES_PER_QUERY]
            async with self.gate:
                (here, twice), (there, again) = await _all(
                    self.source.hashes(part, timeout=self.timeout),
                    self.target.hashes(part, timeout=self.timeout),
                )
            keys = {k for k in here.keys() | there.keys() if here.get(k) != there.get(k)}
            found.add(await self.keyed(_ordered({(k,) for k in keys | twice | again})))
        return found

    async def keyed(self, keys: list[tuple[Any, ...]]) -> Found:
        """The differences among the rows with these keys, read whole."""
        found = Found()
        for start in range(0, len(keys), KEYS_PER_QUERY):
            part = keys[start : start + KEYS_PER_QUERY]
            async with self.gate:
                source_rows, target_rows = await _all(
                    self.source.keyed(part, timeout=self.timeout),
                    self.target.keyed(part, timeout=self.timeout),
                )
            one = self.diff(source_rows, target_rows)
            one.fetched = len(source_rows) + len(target_rows)
            found.add(one)
        return found

    async def fetch(self, span: tuple[int, int] | None) -> Found:
        async with self.gate:
            source_rows, target_rows = await _all(
                self.source.rows(span, timeout=self.timeout),
                self.target.rows(span, timeout=self.timeout),
            )
        found = self.diff(source_rows, target_rows)
        found.fetched = len(source_rows) + len(target_rows)
        return found

    def diff(self, source_rows: list[tuple[Any, ...]], target_rows: list[tuple[Any, ...]]) -> Found:
        if self.columns.keys == 0:
            return self.multiset(source_rows, target_rows)
        source = self.index(source_rows, "source", self.mapping.source)
        target = self.index(target_rows, "target", self.target_name)
        found = Found()
        for key in _ordered(source.keys() | target.keys()):
            here, there = source.get(key), target.get(key)
            if there is None:
                found.missing += 1
                self.note(found, "missing", here)
            elif here is None:
                found.extra += 1
                self.note(found, "extra", there)
            else:
                columns = self.changes(here, there)
                if columns:
                    found.changed += 1
                    self.note(found, "changed", here, columns)
        return found

    def multiset(
        self, source_rows: list[tuple[Any, ...]], target_rows: list[tuple[Any, ...]]
    ) -> Found:
        """Rows compared whole: those one side has more often than the other."""
        here, there = self.tally(source_rows, target_rows), self.tally(target_rows, source_rows)
        found = Found()
        for kind, one, other in (("missing", here, there), ("extra", there, here)):
            for canonical, (count, row) in one.items():
                surplus = count - other.get(canonical, (0, row))[0]
                if surplus > 0:
                    setattr(found, kind, getattr(found, kind) + surplus)
                    self.note(found, kind, (canonical, row))
        return found

    def tally(
        self, rows: list[tuple[Any, ...]], others: list[tuple[Any, ...]]
    ) -> dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]]:
        """Each distinct canonical row: how many times it is there, and its first reading. Text
        is read as the other side's kind of value where it has one (SQLite keeps numbers and
        timestamps as text)."""
        likes: list[Any] = [None] * len(self.columns.names)
        for other in others:
            for i, value in enumerate(self.canon.row(other)):
                if likes[i] is None and value is not None and not isinstance(value, str):
                    likes[i] = value
            if all(like is not None for like in likes):
                break
        counted: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
        for row in rows:
            canonical = tuple(
                self.canon.parsed(v, like) if isinstance(v, str) and like is not None else v
                for v, like in zip(self.canon.row(row), likes, strict=True)
            )
            count, first = counted.get(canonical, (0, row))
            counted[canonical] = (count + 1, first)
        return counted

    def index(
        self, rows: list[tuple[Any, ...]], side: str, table: str
    ) -> dict[tuple[Any, ...], tuple[tuple[Any, ...], tuple[Any, ...]]]:
        """Each row by its canonical key: (canonical row, row as read)."""
        keys = self.columns.keys
        indexed: dict[tuple[Any, ...], tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
        for row in rows:
            canonical = self.canon.row(row)
            key = canonical[:keys]
            if key in indexed:
                shown_key = ", ".join(
                    f"{n}={shown(v)!r}" for n, v in zip(self.columns.names, row, strict=False)
                )
                raise MappingError(
                    f"the key ({', '.join(self.columns.names[:keys])}) is not unique in the "
                    f"{side} table {table}: {shown_key} appears more than once; set key: to "
                    "columns that identify a row"
                )
            indexed[key] = (canonical, row)
        return indexed

    def changes(
        self,
        here: tuple[tuple[Any, ...], tuple[Any, ...]],
        there: tuple[tuple[Any, ...], tuple[Any, ...]],
    ) -> dict[str, dict[str, Any]]:
        if here[0] == there[0]:
            return {}
        return {
            self.columns.names[i]: {"source": shown(here[1][i]), "target": shown(there[1][i])}
            for i in range(self.columns.keys, len(self.columns.names))
            if not self.canon.same(here[0][i], there[0][i])
        }

    def note(
        self,
        found: Found,
        kind: str,
        row: tuple[tuple[Any, ...], tuple[Any, ...]] | None,
        columns: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        if row is None or len(found.sample) >= SAMPLE:
            return
        keys = self.columns.keys or len(self.columns.names)  # no key: the whole row shows it
        key = {n: shown(v) for n, v in zip(self.columns.names[:keys], row[1][:keys], strict=True)}
        found.sample.append(RowDifference(kind, key, columns or {}))
        found.keys.append(row[1][:keys])

    async def recheck(self, found: Found) -> str | None:
        """Read the sampled differing rows again: rows that differ otherwise now moved during
        the check (a count or a key range that moved says so for inserts and deletes)."""
        if not found.keys or self.columns.keys == 0:
            return None  # rows without a key cannot be read again one by one
        source_rows, target_rows = await _all(
            self.source.keyed(found.keys, timeout=self.timeout),
            self.target.keyed(found.keys, timeout=self.timeout),
        )
        again = self.diff(source_rows, target_rows)
        before = {json.dumps(d.json(), sort_keys=True) for d in found.sample}
        after = {json.dumps(d.json(), sort_keys=True) for d in again.sample}
        moved = len(before - after)
        if not moved:
            return None
        return f"{moved} of the {len(before)} differing rows shown read otherwise a moment later"


async def _columns_of(db: Reader, table: str, timeout: float) -> tuple[str, ...]:
    return (await db.fetch(f"SELECT * FROM {db.table(table)} WHERE 1 = 0", timeout=timeout)).columns


def _resolve(
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


def _spans(
    counts: tuple[tuple[Any, ...], tuple[Any, ...]], segment_rows: int
) -> list[tuple[int, int] | None]:
    """Key ranges [low, high) of `segment_rows` key values covering both tables; one
    whole-table range when the key is not a single integer."""
    bounds = [v for side in counts for v in side[1:] if v is not None]
    if len(counts[0]) == 3 and not bounds:
        return []  # both tables are empty
    if not bounds or not all(isinstance(v, int) and not isinstance(v, bool) for v in bounds):
        return [None]
    low, high = min(bounds), max(bounds) + 1
    segments = math.ceil((high - low) / max(1, segment_rows))
    rows = [int(side[0]) for side in counts if side[0] is not None]
    if rows:  # a sparse key: fewer, wider ranges
        segments = min(segments, math.ceil(max(rows) / max(1, segment_rows)))
    spans: list[tuple[int, int] | None] = []
    spans.extend(_split((low, high), max(1, min(segments, MAX_SEGMENTS))))
    return spans


def _split(span: tuple[int, int], parts: int) -> list[tuple[int, int]]:
    low, high = span
    width = max(1, math.ceil((high - low) / parts))
    return [(start, min(start + width, high)) for start in range(low, high, width)]


def _moved(first: tuple[tuple[Any, ...], ...], last: tuple[tuple[Any, ...], ...]) -> str | None:
    changes = [
        f"the {side} had {int(a[0])} rows at the start and {int(b[0])} at the end"
        if a[0] != b[0]
        else f"the {side}'s key range went from {a[1]}..{a[2]} to {b[1]}..{b[2]}"
        for side, a, b in zip(("source", "target"), first, last, strict=True)
        if a != b
    ]
    return "; ".join(changes) or None


async def _all(*work: Awaitable[T]) -> list[T]:
    """Every result, or the first error once the rest has stopped: a query still running in a
    worker thread would otherwise return its connection to a pool already closed."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        raise


def _ordered(keys: set[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    try:
        return sorted(keys)
    except TypeError:  # NULL in a key, or mixed types: any stable order will do
        return sorted(keys, key=repr)
