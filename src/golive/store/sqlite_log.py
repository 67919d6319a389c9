"""The hot path of a SQLite store: appending events and reading them, on one kept connection.

An engine appends an event before every move it makes, and polls for other processes' events
between moves; through SQLAlchemy's pool and statement machinery each of those costs far more
than SQLite itself does. Here the same SQL (compiled once per process from `queries`, values
converted by the same SQLAlchemy types) runs on one sqlite3 connection the store keeps open,
guarded by a lock. The guarantee does not change: one `BEGIN IMMEDIATE ... COMMIT` per append,
committed before `append` returns, in WAL mode with the store's pragmas (the connection comes
from the store's engine, so its `connect` listener has set them).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler

from golive.store import queries
from golive.store.audit import chain_hash
from golive.store.schema import events

Processor = Callable[[Any], Any]
Row = dict[str, Any]
APPEND_PARAMETERS = ("at", "type", "step", "data", "prev_hash", "hash", "run_id")


class _Statement:
    """A statement compiled once for SQLite: its SQL, and the order its parameters go in."""

    def __init__(self, statement: sa.ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
            raise TypeError(f"not a positional SQL statement: {statement}")
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup)

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] for name in self.names)


class _Sql:
    """What the hot path runs, compiled for one kind of dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.append = _Statement(queries.append_one, dialect)
        self.append_leased = _Statement(queries.append_leased, dialect)
        self.select = _Statement(queries.select_events_after, dialect)
        self.exists = _Statement(queries.run_exists, dialect)
        self.last_hash = _Statement(queries.last_hash, dialect)
        self.at = _processor(events.c.at.type, dialect)
        self.columns = [column.name for column in queries.EVENT_COLUMNS]
        # `append` passes its parameters in this order without building a dict for each event.
        if self.append.names != APPEND_PARAMETERS:
            raise TypeError(f"append_one takes {self.append.names}, not {APPEND_PARAMETERS}")


_COMPILED: dict[tuple[type[Dialect], str], _Sql] = {}


def _sql_for(dialect: Dialect) -> _Sql:
    # Compiling costs milliseconds: once per process, not every time a store is opened.
    key = (type(dialect), dialect.paramstyle)
    found = _COMPILED.get(key)
    if found is None:
        found = _COMPILED[key] = _Sql(dialect)
    return found


class SqliteEventLog:
    """Appends and reads of a SQLite store's events, through one long-lived DBAPI connection.

    sqlite3 errors are raised as SQLAlchemy's DBAPIError (so the store words them as it does
    every other database error), after which the connection is replaced on the next call.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._pooled: PoolProxiedConnection | None = None
        self._connection: sqlite3.Connection | None = None

    def append(
        self,
        run_id: str,
        now: Callable[[], datetime],
        type: str,
        step: str | None,
        data: str,
        body: Callable[[datetime], str],
        lease: int | None = None,
    ) -> tuple[int, datetime, str] | None:
        """Insert one event (`data` as JSON text) and commit: its seq, time and audit hash; None
        if no run, or (with a `lease` token) if that lease is not the run's, held, any more.

        The time is taken from `now` once the write lock is held, so that times follow seqs;
        `body(at)` is the event's canonical encoding, chained to the run's last event's hash
        read under the same lock.
        """
        sql = _sql_for(self._engine.dialect)
        with self._lock:
            connection = self._connection or self._connect()
            try:
                cursor = connection.cursor()
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    at = now()
                    last = cursor.execute(sql.last_hash.sql, (run_id,)).fetchone()
                    prev = None if last is None else last[0]
                    chained = chain_hash(prev, body(at))
                    stamp = sql.at(at)
                    if lease is None:
                        row = (stamp, type, step, data, prev, chained, run_id)
                        cursor.execute(sql.append.sql, row)
                    else:
                        values = {"at": stamp, "now": stamp, "type": type, "step": step}
                        values |= {"data": data, "lease": lease, "run_id": run_id}
                        values |= {"prev_hash": prev, "hash": chained}
                        cursor.execute(sql.append_leased.sql, sql.append_leased.parameters(values))
                    rows = cursor.fetchall()
                    cursor.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        cursor.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._failed(sql.append.sql, exc) from exc
        return (int(rows[0][0]), at, chained) if rows else None

    def events(self, run_id: str, after: int) -> list[Row] | None:
        """The run's raw event rows after seq `after`, by seq; None if there is no run `run_id`."""
        sql = _sql_for(self._engine.dialect)
        parameters = sql.select.parameters({"run_id": run_id, "after": after})
        with self._lock:
            connection = self._connection or self._connect()
            try:
                rows = connection.execute(sql.select.sql, parameters).fetchall()
                if not rows and connection.execute(sql.exists.sql, (run_id,)).fetchone() is None:
                    return None
            except sqlite3.Error as exc:
                raise self._failed(sql.select.sql, exc) from exc
        columns = sql.columns
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._pooled is not None:
                self._pooled.close()
            self._pooled = self._connection = None

    def _connect(self) -> sqlite3.Connection:
        # Through the store's engine: its `connect` listener sets the pragmas (WAL, busy timeout).
        self._pooled = self._engine.raw_connection()
        connection = cast(sqlite3.Connection, self._pooled.driver_connection)
        self._connection = connection
        return connection

    def _failed(self, sql: str, exc: sqlite3.Error) -> sa.exc.StatementError:
        # A connection that failed may be broken: the next call takes a fresh one.
        if self._pooled is not None:
            self._pooled.invalidate()
        self._pooled = self._connection = None
        return sa.exc.DBAPIError.instance(sql, None, exc, sqlite3.Error)


def _processor(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> Processor:
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else _same


def _same(value: Any) -> Any:
    return value
