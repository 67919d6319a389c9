"""Reading a store without SQLAlchemy: the runs, a run's events and its lease, for `golive status`.

Opening a store through `open_store` costs SQLAlchemy's import and its engine (a tenth of a
second), which a person typing `golive status` pays every time. `open_reader` reads the same
tables with the database's own driver (stdlib sqlite3, or psycopg for PostgreSQL), with the same
queries, and hands out the same values (`RunRecord`, `EventRecord`, `Lease`), checked by the same
code (records.py). It never writes, so it never migrates: it answers None, and the caller opens
the store with `open_store`, whenever that could matter or its URL is not one it parses:
- the store is not at this golive's schema revision (a new or older store: opening migrates it);
- the URL has a form other than `sqlite:///PATH` or `postgresql[+psycopg]://user[:pw]@host[:port]/db`
  of plain characters (anything else is parsed, and its errors worded, by SQLAlchemy's path);
- the database refused a query (`ReaderFailed`: the caller retries on the full path, which words
  the error as every other command does).
A store at a revision this golive does not know is refused with the full path's one-line error.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from golive.errors import RunNotFound
from golive.store.records import (
    DamagedRow,
    EventRecord,
    Lease,
    RunRecord,
    event_from_row,
    lease_from_row,
    run_from_row,
)

HEAD = "0011"  # migration.HEAD; a test keeps the two in step (migration.py imports SQLAlchemy)
BUSY_TIMEOUT_S = 10.0  # database.BUSY_TIMEOUT_MS
CONNECT_TIMEOUT_S = 10  # database.CONNECT_TIMEOUT_S
LIST_RUNS = "list runs with `golive status`"  # event_store.LIST_RUNS

_SQLITE = re.compile(r"sqlite(?:\+pysqlite)?:///(?P<path>[^?#%]+)")
_WORD = r"[A-Za-z0-9._-]+"
_POSTGRES = re.compile(
    rf"postgresql(?:\+psycopg)?://(?P<user>{_WORD})(?::(?P<password>[^@/:?#%\s]*))?"
    rf"@(?P<host>{_WORD})(?::(?P<port>[0-9]{{1,5}}))?/(?P<dbname>{_WORD})"
)
RUN_COLUMNS = "id, plan_id, plan_path, plan_hash, env, release, rehearsal, started_by, created_at"
EVENT_COLUMNS = "seq, run_id, at, type, step, data, lease, prev_hash, hash"
LEASE_COLUMNS = "run_id, token, host, pid, started_at, heartbeat_at, expires_at, released_at"
SHOWN = 5  # ids an ambiguous prefix lists (EventStore.find_run)


class ReaderFailed(Exception):
    """The database refused a read: the caller retries through `open_store`, which says why."""


@dataclass(frozen=True)
class _Target:
    """A store URL as the reader understands it."""

    shown: str  # as open_store's messages show it, password masked
    sqlite: Path | None = None
    connect: dict[str, Any] | None = None  # psycopg.connect's arguments


def _target(url: str) -> _Target | None:
    found = _SQLITE.fullmatch(url)
    if found is not None and found["path"] != ":memory:":
        return _Target(shown=url, sqlite=Path(found["path"]))
    found = _POSTGRES.fullmatch(url)
    if found is None:
        return None
    password = found["password"]
    shown = url if password is None else url.replace(f":{password}@", ":***@", 1)
    connect = {"host": found["host"], "user": found["user"], "dbname": found["dbname"]}
    if found["port"] is not None:
        connect["port"] = int(found["port"])
    if password is not None:
        connect["password"] = password
    return _Target(shown=shown, connect=connect | {"connect_timeout": CONNECT_TIMEOUT_S})


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL the reader parses; None for any other URL."""
    target = _target(url)
    return None if target is None else target.sqlite


def open_reader(url: str) -> StoreReader | None:
    """A reader of the store at `url`; None when `open_store` must open it instead (see the
    module's docstring). StoreError if the store is at a revision this golive does not know."""
    target = _target(url)
    if target is None:
        return None
    if target.sqlite is not None:
        if not target.sqlite.exists():
            return None  # opening creates it: the full path
        mark = "?"
        try:
            connection: Any = sqlite3.connect(
                target.sqlite, timeout=BUSY_TIMEOUT_S, isolation_level=None
            )
        except sqlite3.Error:
            return None
    else:
        mark = "%s"
        connection = _postgres(target)
        if connection is None:
            return None
    reader = StoreReader(connection, shown=target.shown, mark=mark)
    try:
        revision = reader.revision()
    except ReaderFailed:
        reader.close()
        return None
    if revision != HEAD:
        reader.close()
        if revision is not None:
            from golive.store.migration import _check_known

            _check_known(revision, shown=target.shown)  # raises for an unknown revision
        return None
    return reader


def _postgres(target: _Target) -> Any:
    try:
        import psycopg
    except ImportError:
        return None  # the full path says how to install the driver
    try:
        return psycopg.connect(**(target.connect or {}), autocommit=True)
    except psycopg.Error:
        return None


class StoreReader:
    """Reads of one store on one connection: what `EventStore` answers, without writing."""

    def __init__(self, connection: Any, *, shown: str, mark: str) -> None:
        self.display_url = shown
        self._connection = connection
        self._mark = mark  # the driver's parameter marker

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._connection.close()

    def revision(self) -> str | None:
        """The schema revision; None for a database golive never used."""
        if self._mark == "?":
            exists = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            exists = "SELECT to_regclass(%s)"
        found = self._rows(exists, ("alembic_version",))
        if not found or found[0][0] is None:
            return None
        rows = self._rows("SELECT version_num FROM alembic_version", ())
        return str(rows[0][0]) if len(rows) == 1 else None

    def latest_run(self, *, plan_id: str | None = None) -> RunRecord:
        """As `EventStore.latest_run`."""
        where, values = self._of_plan(plan_id)
        rows = self._rows(
            f"SELECT {RUN_COLUMNS} FROM runs{where} ORDER BY created_at DESC, id DESC LIMIT 1",
            values,
        )
        if not rows:
            of_plan = f" of plan {plan_id!r}" if plan_id is not None else ""
            raise RunNotFound(
                f"there is no run{of_plan} in the state store {self.display_url} yet: "
                "start one with `golive run`, or check --state"
            )
        return self._run(rows[0])

    def find_run(self, prefix: str, *, plan_id: str | None = None) -> RunRecord:
        """As `EventStore.find_run`: by id, unique prefix, or unique suffix."""
        where, values = self._of_plan(plan_id)
        m, n = self._mark, len(prefix)
        rows: list[tuple[Any, ...]] = []
        if prefix:
            rows = self._rows(
                f"SELECT {RUN_COLUMNS} FROM runs{where}{' AND' if where else ' WHERE'} "
                f"substr(id, 1, {n}) = {m} ORDER BY CASE WHEN id = {m} THEN 0 ELSE 1 END, "
                f"created_at, id LIMIT {SHOWN + 1}",
                (*values, prefix, prefix),
            )
            if not rows:
                rows = self._rows(
                    f"SELECT {RUN_COLUMNS} FROM runs{where}{' AND' if where else ' WHERE'} "
                    f"substr(id, length(id) - {n} + 1, {n}) = {m} "
                    f"ORDER BY created_at, id LIMIT {SHOWN + 1}",
                    (*values, prefix),
                )
        if not rows:
            raise self._not_found(prefix, plan_id=plan_id)
        if rows[0][0] == prefix or len(rows) == 1:
            return self._run(rows[0])
        ids = ", ".join(str(row[0]) for row in rows[:SHOWN])
        more = " and more" if len(rows) > SHOWN else ""
        raise RunNotFound(
            f"the run id {prefix!r} is ambiguous: it starts {ids}{more}: type more of the id"
        )

    def events(self, run_id: str) -> list[EventRecord]:
        """As `EventStore.events(run_id)`: every event of the run, by seq."""
        m = self._mark
        data = "data" if m == "?" else "CAST(data AS TEXT)"
        rows = self._rows(
            f"SELECT {EVENT_COLUMNS.replace('data', data)} FROM events "
            f"WHERE run_id = {m} AND seq > 0 ORDER BY seq",
            (run_id,),
        )
        if not rows and not self._rows(f"SELECT id FROM runs WHERE id = {m}", (run_id,)):
            raise self._not_found(run_id)
        names = EVENT_COLUMNS.split(", ")
        return [
            event_from_row(dict(zip(names, row, strict=True)), store=self.display_url)
            for row in rows
        ]

    def lease(self, run_id: str) -> Lease | None:
        """As `store.leases.current_lease`: the run's lease as it stands, None if it had none."""
        rows = self._rows(
            f"SELECT {LEASE_COLUMNS} FROM leases WHERE run_id = {self._mark}", (run_id,)
        )
        if not rows:
            return None
        try:
            return lease_from_row(dict(zip(LEASE_COLUMNS.split(", "), rows[0], strict=True)))
        except DamagedRow as exc:
            raise ReaderFailed(str(exc)) from exc

    def now(self) -> datetime:
        """The store's clock (`EventStore.now` with its default clock)."""
        return datetime.now(UTC)

    def _of_plan(self, plan_id: str | None) -> tuple[str, tuple[Any, ...]]:
        if plan_id is None:
            return "", ()
        return f" WHERE plan_id = {self._mark}", (plan_id,)

    def _run(self, row: Sequence[Any]) -> RunRecord:
        names = RUN_COLUMNS.split(", ")
        return run_from_row(dict(zip(names, row, strict=True)), store=self.display_url)

    def _rows(self, sql: str, values: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._failing():
            cursor = self._connection.cursor()
            try:
                cursor.execute(sql, values)
                return list(cursor.fetchall())
            finally:
                cursor.close()

    @contextmanager
    def _failing(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise ReaderFailed(str(exc)) from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise ReaderFailed(str(exc)) from exc
            raise

    def _not_found(self, run_id: str, *, plan_id: str | None = None) -> RunNotFound:
        of_plan = f" of plan {plan_id!r}" if plan_id is not None else ""
        return RunNotFound(
            f"there is no run {run_id!r}{of_plan} in the state store {self.display_url}: "
            f"{LIST_RUNS}"
        )
