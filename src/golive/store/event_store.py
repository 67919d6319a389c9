"""The event store: runs and their append-only event logs, in SQLite or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from golive.errors import GoliveError, RunNotFound, StoreError
from golive.store import queries, schema
from golive.store.audit import chain_hash, event_body
from golive.store.database import WRITE, create_store_engine, translated
from golive.store.migration import upgrade_to_head
from golive.store.records import (
    ChecklistMark,
    EventRecord,
    RunRecord,
    check_run_id,
    event_from_row,
    json_text,
    new_run_id,
    round_trip,
    run_from_row,
)
from golive.store.sqlite_log import SqliteEventLog
from golive.store.url import display_url, parse_url

if TYPE_CHECKING:
    from golive.store.postgres_log import PostgresEventLog

Clock = Callable[[], datetime]
EventItem = tuple[str, str | None, Mapping[str, Any] | None]
LIST_RUNS = "list runs with `golive status`"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _postgres_log(engine: Engine) -> PostgresEventLog | None:
    if engine.dialect.name != "postgresql":
        return None
    from golive.store.postgres_log import PostgresEventLog  # psycopg: only for PostgreSQL

    return PostgresEventLog(engine)


def open_store(url: str, *, clock: Clock = _utcnow) -> EventStore:
    """Open the store at `url`, creating it (and a SQLite file's directory) if needed.

    The schema is migrated to this golive's revision first. `clock` (aware datetimes) stamps
    runs and events; tests pass a manual one. Raises StoreError, with one line saying what to do
    next, if the URL is malformed or unsupported, or the database cannot be reached or used.
    """
    parsed = parse_url(url)
    shown = display_url(parsed)
    engine = create_store_engine(parsed, shown=shown)
    try:
        with translated("open", shown=shown, password=parsed.password):
            upgrade_to_head(engine, shown=shown)
    except BaseException:
        engine.dispose()
        raise
    return EventStore(engine, url=url, display_url=shown, password=parsed.password, clock=clock)


class EventStore:
    """Runs and their append-only event logs; one engine (and connection pool) per store.

    Every method opens a short transaction; `append` commits before it returns. Database
    failures raise StoreError, unknown runs RunNotFound. Safe to share between threads, and
    several processes may use one store at the same time. On SQLite, `append` and `events`
    take a faster path on one kept connection (see sqlite_log.py), with the same guarantees.
    """

    url: str
    display_url: str

    def __init__(
        self,
        engine: Engine,
        *,
        url: str,
        display_url: str,
        password: str | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self.url = url
        self.display_url = display_url
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE: True})
        self._password = password
        self._clock = clock
        self._closed = False
        self._sqlite = SqliteEventLog(engine) if engine.dialect.name == "sqlite" else None
        self._postgres = _postgres_log(engine)

    def __repr__(self) -> str:
        return f"<EventStore {self.display_url}>"

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
        """Close the store's connections; the store cannot be used afterwards."""
        self._closed = True
        if self._sqlite is not None:
            self._sqlite.close()
        self._engine.dispose()

    def create_run(
        self,
        *,
        plan_id: str,
        plan_path: str,
        plan_hash: str,
        env: str,
        release: str | None,
        rehearsal: bool,
        started_by: str,
        run_id: str | None = None,
    ) -> RunRecord:
        """Record a new run and return it; a fresh id is chosen unless `run_id` is given."""
        if run_id is not None:
            check_run_id(run_id)
        created_at = self._now()
        with self._writing("create a run in") as connection:
            if run_id is None:
                run_id = self._free_run_id(connection, created_at)
            elif self._has_run(connection, run_id):
                raise StoreError(
                    f"a run {run_id!r} already exists in the state store {self.display_url}: "
                    "choose another run id"
                )
            record = RunRecord(
                id=run_id,
                plan_id=plan_id,
                plan_path=plan_path,
                plan_hash=plan_hash,
                env=env,
                release=release,
                rehearsal=rehearsal,
                started_by=started_by,
                created_at=created_at,
            )
            connection.execute(queries.insert_run, asdict(record))
        return record

    def append(
        self,
        run_id: str,
        type: str,
        *,
        step: str | None = None,
        data: Mapping[str, Any] | None = None,
        lease: int | None = None,
    ) -> EventRecord:
        """Append one event to a run, committed (it survives a crash) before this returns.

        `data` must be JSON-serialisable; the record returned holds it as readers will see it.
        An engine passes its `lease` token: the event is stored with it, in the transaction
        that checks the token is still the run's held lease; LeaseLost (and nothing stored) if not.
        """
        if self._sqlite is not None:
            return self._append_sqlite(self._sqlite, run_id, type, step, data, lease)
        # Every store is on one or the other (url.py).
        assert self._postgres is not None
        return self._append_postgres(self._postgres, run_id, type, step, data, lease)

    def _append_postgres(
        self,
        log: PostgresEventLog,
        run_id: str,
        type: str,
        step: str | None,
        data: Mapping[str, Any] | None,
        lease: int | None,
    ) -> EventRecord:
        text = json_text(data)
        decoded = json.loads(text)
        self._check_open()
        at = self._now()
        body = event_body(run_id, at, type, step, decoded)
        with self._translated(f"append to run {run_id} in"):
            appended = log.append(run_id, at, type, step, text, body, lease)
        if appended is None:
            raise self._refused(run_id, lease)
        seq, chained = appended
        return EventRecord(
            seq=seq, run_id=run_id, at=at, type=type, step=step, data=decoded, hash=chained
        )

    def _append_sqlite(
        self,
        log: SqliteEventLog,
        run_id: str,
        type: str,
        step: str | None,
        data: Mapping[str, Any] | None,
        lease: int | None,
    ) -> EventRecord:
        # The JSON text is made once: checked, stored as it is, and read back for the record.
        text = json_text(data)
        decoded = json.loads(text)
        self._check_open()
        body = partial(event_body, run_id, type=type, step=step, data=decoded)
        with self._translated(f"append to run {run_id} in"):
            appended = log.append(run_id, self._now, type, step, text, body, lease)
        if appended is None:
            raise self._refused(run_id, lease)
        seq, at, chained = appended
        return EventRecord(
            seq=seq, run_id=run_id, at=at, type=type, step=step, data=decoded, hash=chained
        )

    def append_many(self, run_id: str, events: Sequence[EventItem]) -> list[EventRecord]:
        """Append `(type, step, data)` events to a run in one transaction, in order."""
        if self._postgres is not None and events:
            return self._append_many_postgres(self._postgres, run_id, events)
        decoded = [(type, step, round_trip(data)) for type, step, data in events]
        with self._writing(f"append to run {run_id} in") as connection:
            if connection.execute(queries.lock_run, {"run_id": run_id}).first() is None:
                raise self._not_found(run_id)
            if not decoded:
                return []
            prev = connection.execute(queries.last_hash, {"run_id": run_id}).scalar()
            at = self._now()
            rows, hashes = [], []
            for type, step, data in decoded:
                chained = chain_hash(prev, event_body(run_id, at, type, step, data))
                rows.append(
                    {"run_id": run_id, "at": at, "type": type, "step": step, "data": data}
                    | {"prev_hash": prev, "hash": chained}
                )
                hashes.append(chained)
                prev = chained
            seqs = connection.execute(queries.append_rows, rows).scalars().all()
        return [
            EventRecord(seq=seq, run_id=run_id, at=at, type=type, step=step, data=data, hash=hash_)
            for seq, (type, step, data), hash_ in zip(seqs, decoded, hashes, strict=True)
        ]

    def _append_many_postgres(
        self, log: PostgresEventLog, run_id: str, events: Sequence[EventItem]
    ) -> list[EventRecord]:
        texts = [json_text(data) for _, _, data in events]
        decoded = [
            (type, step, json.loads(text))
            for (type, step, _), text in zip(events, texts, strict=True)
        ]
        self._check_open()
        at = self._now()
        rows = [
            (type, step, text, event_body(run_id, at, type, step, data))
            for (type, step, data), text in zip(decoded, texts, strict=True)
        ]
        with self._translated(f"append to run {run_id} in"):
            appended = log.append_many(run_id, at, rows)
        if not appended:
            raise self._not_found(run_id)
        return [
            EventRecord(seq=seq, run_id=run_id, at=at, type=type, step=step, data=data, hash=hash_)
            for (seq, hash_), (type, step, data) in zip(appended, decoded, strict=True)
        ]

    def events(
        self, run_id: str, *, after: int = 0, types: Collection[str] | None = None
    ) -> list[EventRecord]:
        """A run's events with seq greater than `after`, of the given `types` if any, by seq."""
        if isinstance(types, str):
            raise TypeError("types must be a collection of event types, not one string")
        if types is None and self._sqlite is not None:
            self._check_open()
            with self._translated(f"read the events of run {run_id} from"):
                raw = self._sqlite.events(run_id, after)
            if raw is None:
                raise self._not_found(run_id)
            return [event_from_row(row, store=self.display_url) for row in raw]
        wanted = None if types is None else list(types)
        query = queries.select_events(run_id, after=after, types=wanted)
        with self._reading(f"read the events of run {run_id} from") as connection:
            rows = connection.execute(query).mappings().all()
            if not rows:
                self._require_run(connection, run_id)
        return [event_from_row(row, store=self.display_url) for row in rows]

    def get_run(self, run_id: str) -> RunRecord:
        """The run with exactly this id; RunNotFound (saying how to list runs) if none."""
        with self._reading(f"read run {run_id} from") as connection:
            row = connection.execute(queries.select_run, {"run_id": run_id}).mappings().first()
        if row is None:
            raise self._not_found(run_id)
        return run_from_row(row, store=self.display_url)

    def runs(self, *, plan_id: str | None = None, env: str | None = None) -> list[RunRecord]:
        """The runs, oldest first, of one plan and/or environment if given."""
        query = queries.oldest_first(queries.select_runs(plan_id=plan_id, env=env))
        with self._reading("list the runs in") as connection:
            rows = connection.execute(query).mappings().all()
        return [run_from_row(row, store=self.display_url) for row in rows]

    def latest_run(self, *, plan_id: str | None = None) -> RunRecord:
        """The most recently created run (of `plan_id` if given); RunNotFound if none."""
        query = queries.newest_first(queries.select_runs(plan_id=plan_id)).limit(1)
        with self._reading("find the latest run in") as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            of_plan = f" of plan {plan_id!r}" if plan_id is not None else ""
            raise RunNotFound(
                f"there is no run{of_plan} in the state store {self.display_url} yet: "
                "start one with `golive run`, or check --state"
            )
        return run_from_row(row, store=self.display_url)

    def find_run(self, prefix: str, *, plan_id: str | None = None) -> RunRecord:
        """The run whose id is `prefix`, or the only one starting with it, or (for the short ids
        `golive history` shows) the only one ending with it; else RunNotFound."""
        shown = 5
        query = queries.with_id_prefix(queries.select_runs(plan_id=plan_id), prefix)
        by_suffix = queries.with_id_suffix(queries.select_runs(plan_id=plan_id), prefix)
        with self._reading(f"look up run {prefix} in") as connection:
            rows = connection.execute(query.limit(shown + 1)).mappings().all() if prefix else []
            if not rows and prefix:
                rows = connection.execute(by_suffix.limit(shown + 1)).mappings().all()
        if not rows:
            raise self._not_found(prefix, plan_id=plan_id)
        if rows[0]["id"] == prefix or len(rows) == 1:
            return run_from_row(rows[0], store=self.display_url)
        ids = ", ".join(str(row["id"]) for row in rows[:shown])
        more = " and more" if len(rows) > shown else ""
        raise RunNotFound(
            f"the run id {prefix!r} is ambiguous: it starts {ids}{more}: type more of the id"
        )

    def last_seq(self, run_id: str) -> int:
        """The seq of the run's last event, 0 if it has none yet; RunNotFound if no such run."""
        with self._reading(f"read the events of run {run_id} from") as connection:
            seq = connection.execute(queries.last_seq, {"run_id": run_id}).scalar()
            if seq is None:
                self._require_run(connection, run_id)
        return int(seq or 0)

    def mark_checklist(
        self, plan_id: str, item: str, *, state: str, by: str, note: str | None = None
    ) -> ChecklistMark:
        """Record a mark on a checklist item (done, open, verified, failed); never updates."""
        at = self._now()
        values = {
            "plan_id": plan_id,
            "item": item,
            "state": state,
            "by": by,
            "note": note,
            "at": at,
        }
        with self._writing(f"mark checklist item {item} in") as connection:
            mark_id = connection.execute(
                schema.checklist_marks.insert()
                .values(values)
                .returning(schema.checklist_marks.c.id)
            ).scalar_one()
            self._notify(connection, {"plan": plan_id, "item": item})
        return ChecklistMark(int(mark_id), plan_id, item, state, by, note, at)

    def checklist_marks(self, plan_id: str) -> list[ChecklistMark]:
        """Every mark on the plan's checklist, oldest first."""
        table = schema.checklist_marks
        query = sa.select(table).where(table.c.plan_id == plan_id).order_by(table.c.id)
        with self._reading(f"read the checklist of {plan_id} from") as connection:
            rows = connection.execute(query).all()
        return [
            ChecklistMark(
                int(r.id),
                r.plan_id,
                r.item,
                r.state,
                r.by,
                r.note,
                r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC),
            )
            for r in rows
        ]

    def transaction(
        self, action: str, *, write: bool = False
    ) -> AbstractContextManager[Connection]:
        """A connection in a transaction for the store's other tables (accounts); a database
        error becomes a StoreError saying it could not `action` the store."""
        return self._writing(action) if write else self._reading(action)

    def now(self) -> datetime:
        """The store's clock, aware and in UTC."""
        return self._now()

    def _free_run_id(self, connection: Connection, created_at: datetime) -> str:
        for _ in range(20):
            candidate = new_run_id(created_at)
            if not self._has_run(connection, candidate):
                return candidate
        raise StoreError(f"cannot find a free run id in the state store {self.display_url}")

    def _notify(self, connection: Connection, payload: dict[str, Any]) -> None:
        """On PostgreSQL, announce a change to the LISTENing replicas when it commits."""
        if connection.dialect.name == "postgresql":
            text = json.dumps(payload, separators=(",", ":"))
            connection.execute(queries.notify, {"payload": text})

    def _has_run(self, connection: Connection, run_id: str) -> bool:
        return connection.execute(queries.run_exists, {"run_id": run_id}).first() is not None

    def _require_run(self, connection: Connection, run_id: str) -> None:
        if not self._has_run(connection, run_id):
            raise self._not_found(run_id)

    def _refused(self, run_id: str, lease: int | None) -> GoliveError:
        """Why an append inserted nothing: no such run, or (under a lease) the lease is lost."""
        if lease is None:
            return self._not_found(run_id)
        from golive.store.leases import lost_lease  # it builds on this module

        return lost_lease(store=self, run_id=run_id, token=lease)

    def _not_found(self, run_id: str, *, plan_id: str | None = None) -> RunNotFound:
        of_plan = f" of plan {plan_id!r}" if plan_id is not None else ""
        return RunNotFound(
            f"there is no run {run_id!r}{of_plan} in the state store {self.display_url}: "
            f"{LIST_RUNS}"
        )

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the store's clock returned a naive datetime; it must be aware")
        return now.astimezone(UTC)

    @contextmanager
    def _reading(self, action: str) -> Iterator[Connection]:
        self._check_open()
        with self._translated(action), self._engine.connect() as connection:
            yield connection

    @contextmanager
    def _writing(self, action: str) -> Iterator[Connection]:
        self._check_open()
        with self._translated(action), self._writer.begin() as connection:
            yield connection

    def _translated(self, action: str) -> AbstractContextManager[None]:
        return translated(action, shown=self.display_url, password=self._password)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the state store {self.display_url} is closed")
