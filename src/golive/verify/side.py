"""One table in one database, and the queries that read it for a comparison."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from golive.verify import checksum
from golive.verify.reader import Reader


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
