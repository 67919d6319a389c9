"""The databases checks read and `sql:` steps write: one engine per URL and purpose for a run.

Checks read in READ-ONLY transactions, twice over: the session defaults to read-only when the
connection opens, and every check starts its own read-only transaction (PostgreSQL
`SET TRANSACTION READ ONLY`, MariaDB/MySQL `START TRANSACTION READ ONLY`, SQLite
`PRAGMA query_only=ON`). A statement runs as the driver's single statement (PostgreSQL through
the extended protocol), so `select 1; commit; delete ...` is refused, not run. Every statement
has a timeout the server enforces, and a cancelled step cancels its statement on the server.

URLs shown to people never carry the password (SQLAlchemy's `hide_password`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL

from golive.checks.outcome import Resources, first_line

T = TypeVar("T")

READ_KEY = "golive.checks.sql.read"
WRITE_KEY = "golive.checks.sql.write"
CONNECT_TIMEOUT = 10
SUPPORTED = ("postgresql", "mysql", "mariadb", "sqlite")
SQLITE_STEPS = 1000  # SQLite VM instructions between two looks at the deadline
MAX_ROWS_SHOWN = 20


class DatabaseError(Exception):
    """A database could not be reached or refused a statement; the message is safe to show."""


@dataclass(frozen=True)
class Rows:
    """What a query answered: its first rows, and whether there were more."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    more: bool


@dataclass(frozen=True)
class Executed:
    """What a statement did: rows touched (-1 when the driver cannot tell), and rows returned."""

    rowcount: int
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def parse_url(text: str, *, workdir: Path | None = None) -> URL:
    """The URL, with a relative SQLite path made relative to `workdir` (the plan's directory)."""
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError:
        raise DatabaseError(
            f"{mask(text)!r} is not a database URL (write it like "
            "postgresql+psycopg://user@host/db, mysql+pymysql://user@host/db or sqlite:///file.db)"
        ) from None
    if url.get_backend_name() not in SUPPORTED:
        raise DatabaseError(
            f"{url.render_as_string(hide_password=True)}: golive talks to PostgreSQL, "
            "MariaDB/MySQL and SQLite only"
        )
    path = sqlite_file(url)
    if path is not None and workdir is not None and not path.is_absolute():
        url = url.set(database=str(workdir / path))
    return url


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for other databases, `:memory:` and `file:` URIs."""
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    return None if path.startswith("file:") else Path(path)


def mask(text: str) -> str:
    """A URL as people may see it: `postgresql://golive:***@db/booking`."""
    try:
        return sa.make_url(text).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        head, sep, tail = text.rpartition("@")
        return f"{head.split('://')[0]}://***@{tail}" if sep else text


class Database:
    """An engine for one URL: read-only for checks, read-write for `sql:` steps."""

    def __init__(self, url: URL, *, read_only: bool) -> None:
        self.url = url
        self.read_only = read_only
        self.shown = url.render_as_string(hide_password=True)
        self.backend = url.get_backend_name()
        path = sqlite_file(url)
        if read_only and path is not None and not path.is_file():
            # sqlite3 would create an empty one, and the check would fail on a missing table
            raise DatabaseError(f"{self.shown}: no SQLite database at {path}")
        try:
            self.engine = sa.create_engine(
                url, pool_pre_ping=True, connect_args=self._connect_args()
            )
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise DatabaseError(f"{self.shown}: {self.clean(first_line(exc))}") from None
        if read_only:
            sa.event.listen(self.engine, "connect", self._read_only_session)

    def close(self) -> None:
        self.engine.dispose()

    def _connect_args(self) -> dict[str, Any]:
        if self.backend == "sqlite":
            return {"check_same_thread": False}  # asyncio.to_thread moves between threads
        return {"connect_timeout": CONNECT_TIMEOUT}

    def _read_only_session(self, connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        try:
            if self.backend == "postgresql":
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                connection.commit()
            elif self.backend == "sqlite":
                cursor.execute("PRAGMA query_only = ON")
            else:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
        finally:
            cursor.close()

    # --- the work, in a worker thread ---------------------------------------------------------

    async def query(self, sql: str, *, timeout: float) -> Rows:
        """Run one read-only query; its first two rows tell a single value from a list."""
        return await self._in_thread(lambda raw: self._query(raw, sql, timeout))

    async def execute(self, statement: str, *, timeout: float | None) -> Executed:
        """Run one statement in a transaction: committed if it succeeds, else rolled back."""
        return await self._in_thread(lambda raw: self._execute(raw, statement, timeout))

    def _query(self, raw: Any, sql: str, timeout: float) -> Rows:
        cursor = raw.cursor()
        try:
            self._begin(raw, cursor, timeout)
            self._run(cursor, sql, timeout)
            if cursor.description is None:
                raise DatabaseError("the statement returned no rows to compare (is it a query?)")
            rows = tuple(tuple(row) for row in cursor.fetchmany(2))
            columns = tuple(str(column[0]) for column in cursor.description)
            return Rows(columns, rows[:1], more=len(rows) > 1)
        finally:
            cursor.close()
            self._rollback(raw)
            self._end(raw)

    def _execute(self, raw: Any, statement: str, timeout: float | None) -> Executed:
        cursor = raw.cursor()
        try:
            self._begin(raw, cursor, timeout)
            self._run(cursor, statement, timeout)
            rows: tuple[tuple[Any, ...], ...] = ()
            columns: tuple[str, ...] = ()
            if cursor.description is not None:
                columns = tuple(str(column[0]) for column in cursor.description)
                rows = tuple(tuple(row) for row in cursor.fetchmany(MAX_ROWS_SHOWN))
            done = Executed(cursor.rowcount if cursor.rowcount is not None else -1, columns, rows)
            raw.commit()
            return done
        except BaseException:
            self._rollback(raw)
            raise
        finally:
            cursor.close()
            self._end(raw)

    def _begin(self, raw: Any, cursor: Any, timeout: float | None) -> None:
        """Open the transaction: read-only for checks, with a timeout the server enforces."""
        seconds = timeout or 0
        if self.backend == "postgresql":
            if self.read_only:
                cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
        elif self.backend == "sqlite":
            if seconds:
                raw.driver_connection.set_progress_handler(_deadline(seconds), SQLITE_STEPS)
            cursor.execute(f"PRAGMA query_only = {'ON' if self.read_only else 'OFF'}")
            if not self.read_only:
                cursor.execute("BEGIN")
        else:
            if getattr(self.engine.dialect, "is_mariadb", False):
                cursor.execute(f"SET SESSION max_statement_time = {seconds:.3f}")
            else:
                cursor.execute(f"SET SESSION max_execution_time = {int(seconds * 1000)}")
            mode = " READ ONLY" if self.read_only else ""
            cursor.execute(f"START TRANSACTION{mode}")

    def _rollback(self, raw: Any) -> None:
        # on a broken connection the rollback fails too; the first error is the one to report,
        # and the pool throws the connection away when it next pings it
        with contextlib.suppress(self._dbapi_error()):
            raw.rollback()

    def _end(self, raw: Any) -> None:
        if self.backend == "sqlite":  # a stale deadline would interrupt the pool's next ping
            raw.driver_connection.set_progress_handler(None, 0)

    def _run(self, cursor: Any, sql: str, timeout: float | None) -> None:
        if self.engine.dialect.driver == "psycopg":
            # a prepared statement holds exactly one statement: no `select 1; commit; ...`
            cursor.execute(sql, prepare=True)
            return
        try:
            cursor.execute(sql)  # pymysql and sqlite3 refuse several statements themselves
        except self._dbapi_error() as exc:
            if self.backend == "sqlite" and timeout and str(exc) == "interrupted":
                raise DatabaseError(
                    f"{self.shown}: canceled after {timeout:g}s (the statement timeout)"
                ) from None
            raise

    async def _in_thread(self, work: Callable[[Any], T]) -> T:
        """Run `work` on a pooled connection in a worker thread; cancelling cancels the query."""
        running: list[Any] = []

        def job() -> T:
            raw = self.engine.raw_connection()
            running.append(raw)
            try:
                return work(raw)
            finally:
                raw.close()  # back to the pool

        future = asyncio.ensure_future(asyncio.to_thread(job))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if running:
                await asyncio.to_thread(self._interrupt, running[0])
            await asyncio.wait([future])
            if not future.cancelled():
                future.exception()  # retrieved: the step was cancelled, its error is moot
            raise
        except DatabaseError:
            raise
        except (sa.exc.SQLAlchemyError, self._dbapi_error()) as exc:
            raise DatabaseError(f"{self.shown}: {self.clean(_message(exc))}") from None

    def _interrupt(self, raw: Any) -> None:
        """Stop the statement `raw` is running (best effort: it may have just finished)."""
        driver = raw.driver_connection
        with contextlib.suppress(Exception):  # a failed cancel leaves the server's timeout
            if self.backend == "postgresql":
                driver.cancel()
            elif self.backend == "sqlite":
                driver.interrupt()
            else:
                killer = self.engine.raw_connection()
                try:
                    killer.cursor().execute(f"KILL QUERY {int(driver.thread_id())}")
                finally:
                    killer.close()

    def _dbapi_error(self) -> type[Exception]:
        error: type[Exception] = self.engine.dialect.loaded_dbapi.Error
        return error

    def clean(self, text: str) -> str:
        """`text` without the URL's password, should a driver have quoted it."""
        password = self.url.password
        if password and len(str(password)) >= 3:
            text = text.replace(str(password), "***")
        return text


def database(
    resources: Resources, url: str, *, read_only: bool, workdir: Path | None = None
) -> Database:
    """The run's engine for `url` (one per URL and purpose), made on first use."""
    parsed = parse_url(url, workdir=workdir)
    key = f"{READ_KEY if read_only else WRITE_KEY}:{parsed.render_as_string(hide_password=False)}"
    return resources.get(key, lambda: Database(parsed, read_only=read_only))


def _deadline(seconds: float) -> Callable[[], int]:
    """A SQLite progress handler that interrupts the statement once `seconds` have passed."""
    end = time.monotonic() + seconds
    return lambda: int(time.monotonic() > end)


def _message(exc: BaseException) -> str:
    """A driver error as one line: `Access denied for user 'x' (1045)`, not a tuple repr."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    args: tuple[Any, ...] = exc.args
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return f"{args[1]} ({args[0]})"
    return first_line(exc)
