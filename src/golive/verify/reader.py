"""Reading a table for verification: every query in a read-only transaction.

`Reader` is the checks' `Database` (read-only sessions, a read-only transaction per query, a
server-enforced timeout, cancellation, passwords masked) with one more method: fetch all the
rows a query answers, with parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golive.checks.database import Database, DatabaseError, parse_url
from golive.checks.outcome import Resources

READ_KEY = "golive.verify.read"


@dataclass(frozen=True)
class Fetched:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class Reader(Database):
    """A read-only database that can fetch every row of a query."""

    def __init__(self, url: Any) -> None:
        super().__init__(url, read_only=True)
        self.quote_name = self.engine.dialect.identifier_preparer.quote

    @property
    def mark(self) -> str:
        """The driver's parameter placeholder."""
        return "?" if self.backend == "sqlite" else "%s"

    def table(self, name: str) -> str:
        """A table name (`schema.table` allowed) quoted for this database."""
        return ".".join(self.quote_name(part) for part in name.split("."))

    def condition(self, where: str | None, *, with_params: bool) -> str:
        """The user's WHERE as part of a larger condition (% doubled where the driver needs it)."""
        if not where:
            return "1 = 1"
        if with_params and self.backend != "sqlite":
            where = where.replace("%", "%%")
        return f"({where})"

    async def fetch(self, sql: str, params: Sequence[Any] = (), *, timeout: float) -> Fetched:
        """Every row `sql` answers, read in one read-only transaction."""
        return await self._in_thread(lambda raw: self._fetch(raw, sql, params, timeout))

    def _fetch(self, raw: Any, sql: str, params: Sequence[Any], timeout: float) -> Fetched:
        cursor = raw.cursor()
        try:
            self._begin(raw, cursor, timeout)
            if self.backend == "postgresql":
                # compiling a checksum scan costs more than it saves (~0.1 s a query)
                cursor.execute("SET LOCAL jit = off")
            args = tuple(params) if params else None
            if self.engine.dialect.driver == "psycopg":
                cursor.execute(sql, args, prepare=True)  # one statement, never several
            elif args is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, args)
            if cursor.description is None:
                raise DatabaseError(f"{self.shown}: the statement returned no rows")
            columns = tuple(str(column[0]) for column in cursor.description)
            return Fetched(columns, [tuple(row) for row in cursor.fetchall()])
        finally:
            cursor.close()
            self._rollback(raw)
            self._end(raw)


def reader(resources: Resources, url: str, *, workdir: Path | None = None) -> Reader:
    """The run's read-only reader for `url`, made on first use."""
    parsed = parse_url(url, workdir=workdir)
    key = f"{READ_KEY}:{parsed.render_as_string(hide_password=False)}"
    return resources.get(key, lambda: Reader(parsed))
