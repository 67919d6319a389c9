"""The SQLAlchemy engine behind a store, and database errors turned into messages for people.

SQLite is set up for several processes on one file (the engine, plus a second terminal running
`golive decide`): WAL, so readers never block the writer; synchronous=NORMAL, so a committed event
survives a crash of the process (not of the machine); a busy timeout; and BEGIN IMMEDIATE for
transactions that write, so two writers queue on the lock instead of failing on it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from golive.errors import StoreError

WRITE = "golive_write"  # execution option: the transaction on this connection will write
BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_S = 10

SQLITE_PRAGMAS = (
    # busy_timeout first: switching a new file to WAL needs the lock another opener may hold
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


def create_store_engine(url: URL, *, shown: str) -> Engine:
    """An engine for `url`, creating the directory of a SQLite file; StoreError if impossible."""
    try:
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(url, shown=shown)
        connect_args: dict[str, Any] = (
            {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT_S}
        )
        if "options" not in url.query:
            # The append path chains each run's events under its row lock and reads the last
            # hash after the lock is granted: that holds only at READ COMMITTED, whatever the
            # server's default for other clients is.
            connect_args["options"] = "-c default_transaction_isolation=read\\ committed"
        return sa.create_engine(url, connect_args=connect_args)
    except ImportError as exc:
        raise StoreError(
            f"cannot open the state store {shown}: the database driver is not installed "
            f"({exc.name}): install it with `pip install 'golive[postgres]'`"
        ) from None


def _sqlite_engine(url: URL, *, shown: str) -> Engine:
    path = Path(url.database or "")
    try:
        path.absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the directory for the state store {shown}: {exc.strerror}: "
            "choose another --state, or fix the directory's permissions"
        ) from None
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    sa.event.listen(engine, "connect", _on_sqlite_connect)
    sa.event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _on_sqlite_begin) instead of the sqlite3 module.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            _pragma(cursor, pragma)
    finally:
        cursor.close()


def _pragma(cursor: sqlite3.Cursor, pragma: str) -> None:
    """Run `pragma`, waiting out another connection's lock as the busy timeout would.

    Switching a new file to WAL takes an exclusive lock, and SQLite answers "database is
    locked" at once, without calling the busy handler, when another connection opening the same
    new file holds a shared lock meanwhile (four stores opened at once hit it one time in fifty).
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.001
    while True:
        try:
            cursor.execute(pragma)
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _on_sqlite_begin(connection: Connection) -> None:
    # A deferred transaction that reads and then writes cannot wait for the lock in WAL mode:
    # it fails with "database is locked" at once. Writers take the lock first, and wait for it.
    writes = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


@contextmanager
def translated(action: str, *, shown: str, password: str | None) -> Iterator[None]:
    """Turn a database error inside the block into one StoreError line.

    `action` completes "cannot ... the state store <url>", e.g. "open" or "append to run r-1 in".
    """
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreError(describe(exc, action, shown=shown, password=password)) from exc


def describe(exc: SQLAlchemyError, action: str, *, shown: str, password: str | None) -> str:
    """One line: what failed, on which store (password masked), and what to do next."""
    reason = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
    reason = " ".join(reason.strip().splitlines()[:1]) or type(exc).__name__
    if password:
        reason = reason.replace(password, "***")
    next_step = _next_step(exc, reason, sqlite=shown.startswith("sqlite"))
    return f"cannot {action} the state store {shown} ({reason}): {next_step}"


def _next_step(exc: SQLAlchemyError, reason: str, *, sqlite: bool) -> str:
    lowered = reason.lower()
    if "not a database" in lowered or "malformed" in lowered:
        return (
            "the file is not a golive state store or is damaged; restore it from a backup, "
            "or point --state at another file"
        )
    if "locked" in lowered or "busy" in lowered:
        return "another process kept the store locked for too long; try again"
    if sqlite:
        return "check that --state / GOLIVE_STATE names a file golive can create and write"
    if isinstance(exc, OperationalError | sa.exc.InterfaceError):
        return (
            "check that the database server is running, that the database exists, "
            "and that --state / GOLIVE_STATE is right"
        )
    return "check --state / GOLIVE_STATE, or report a bug if the store looks fine"
