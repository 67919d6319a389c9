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
read; so are the rows of a table whose key is one column that is not an integer.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from golive.checks.database import DatabaseError
from golive.plan.models import TableMapping
from golive.verify.checksum import hashing, row_hash, same, usable
from golive.verify.columns import MappingError, columns_of, resolve
from golive.verify.reader import Reader
from golive.verify.report import SAMPLE, RowDifference, TableReport
from golive.verify.side import Side
from golive.verify.values import Canon, shown

T = TypeVar("T")
SEGMENT_ROWS = 10_000  # key values per range whose rows are read and compared (no checksums)
# key values per range checksummed by one grouped query per side. A grouped query runs on one
# core (PostgreSQL plans no parallel workers for it: it expects a group per key; MariaDB never
# does): ranges of a quarter million keys, PARALLEL at once, keep every core of both busy
CHECKSUM_ROWS = 250_000
BUCKETS = 1_000  # buckets of keys per checksummed range
PARALLEL = 4  # queries at once, per table and side
MAX_SEGMENTS = 256  # ranges at first, at most (a sparse key makes ranges of few rows)
RANGES_PER_QUERY = 100  # bucket ranges whose row hashes one query reads
HASH_BUCKETS = 1_000  # buckets of rows by their hash, for a table without a key
KEYS_PER_QUERY = 500  # rows read by key in one query


@dataclass
class Found:
    missing: int = 0
    extra: int = 0
    changed: int = 0
    fetched: int = 0  # rows read out of the databases, both sides
    source_rows: int = 0  # counted by checksums
    target_rows: int = 0
    source_sum: int = 0  # the sum of every row's hash, with checksums
    target_sum: int = 0
    sample: list[RowDifference] = field(default_factory=list)
    keys: list[tuple[Any, ...]] = field(default_factory=list)  # the sample's keys, as read

    def add(self, other: Found) -> None:
        self.fetched += other.fetched
        self.source_rows += other.source_rows
        self.target_rows += other.target_rows
        self.source_sum += other.source_sum
        self.target_sum += other.target_sum
        self.missing += other.missing
        self.extra += other.extra
        self.changed += other.changed
        room = SAMPLE - len(self.sample)
        self.sample.extend(other.sample[:room])
        self.keys.extend(other.keys[:room])


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
            columns_of(self.source_db, self.mapping.source, self.timeout),
            columns_of(self.target_db, self.target_name, self.timeout),
        )
        self.columns = resolve(self.mapping, source_columns, target_columns, self.target_name)
        self.checksums = self.columns.keys <= 1 and usable(
            self.mapping, self.source_db, self.target_db
        )
        self.fast = self.checksums and self.columns.keys == 1  # by buckets of keys
        hashed: tuple[str, str] = ("", "")
        self.hash: str | None = None
        if self.checksums:
            how = await hashing(
                (self.source_db, self.mapping.source, self.columns.source),
                (self.target_db, self.target_name, self.columns.target),
                timeout=self.timeout,
            )
            self.hash = how.mode
            hashed = (
                row_hash(self.source_db, self.columns.source, how.source, how.mode, how.nullable),
                row_hash(self.target_db, self.columns.target, how.target, how.mode, how.nullable),
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
            checksums=None
            if self.hash is None
            else {
                "hash": self.hash,
                "source": str(found.source_sum),
                "target": str(found.target_sum),
            },
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
        bad = _differing(*sums)
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
        _count(found, *sums)
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
        bad = _differing(*sums)
        bounds = [(span[0] + b * width, min(span[0] + (b + 1) * width, span[1])) for b in bad]
        found = await self.located(bounds)
        _count(found, *sums)
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


def _count(
    found: Found, source: dict[int, tuple[Any, ...]], target: dict[int, tuple[Any, ...]]
) -> None:
    """The rows and the sum of their hashes on each side, from the buckets' checksums."""
    found.source_rows, found.target_rows = (
        sum(int(c) for c, _ in s.values()) for s in (source, target)
    )
    found.source_sum, found.target_sum = (
        sum(int(t or 0) for _, t in s.values()) for s in (source, target)
    )


def _differing(source: dict[int, tuple[Any, ...]], target: dict[int, tuple[Any, ...]]) -> list[int]:
    """The buckets whose (count, sum) checksums differ, or that one side lacks."""
    return sorted(
        b for b in source.keys() | target.keys() if not same(source.get(b), target.get(b))
    )


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
