"""The SQL the store runs, built once rather than on every call."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from golive.store.schema import events, leases, runs


class json_text(FunctionElement[Any]):
    """A JSON column as its text: psycopg would decode it, sqlite3 hands the text over."""

    type = sa.types.NullType()
    inherit_cache = True


@compiles(json_text)
def _json_text(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(json_text, "postgresql")
def _json_text_postgresql(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


def _raw(table: sa.Table) -> list[sa.Label[Any]]:
    # Rows are untrusted: read values as the driver returns them and check them in records.py,
    # instead of letting SQLAlchemy's converters fail half-way through a result.
    return [
        (
            json_text(column)
            if isinstance(column.type, sa.JSON)
            else sa.type_coerce(column, sa.types.NullType())
        ).label(column.name)
        for column in table.c
    ]


RUN_COLUMNS = _raw(runs)
EVENT_COLUMNS = _raw(events)

run_exists = sa.select(runs.c.id).where(runs.c.id == sa.bindparam("run_id"))

# Taken by every append: appends to one run then commit in seq order on PostgreSQL, so a reader
# following `events(after=...)` never skips an event that committed late. (SQLite ignores it; its
# writers are serialised by BEGIN IMMEDIATE.) NO KEY UPDATE leaves foreign-key checks unblocked.
lock_run = run_exists.with_for_update(key_share=True)

_EVENT_FIELDS = ["run_id", "at", "type", "step", "data", "prev_hash", "hash"]


def _event_values() -> list[sa.BindParameter[object]]:
    """An event's values but its run, as parameters, for an INSERT ... SELECT."""
    return [sa.bindparam(name, type_=events.c[name].type) for name in _EVENT_FIELDS[1:]]


# One statement for the hot path: the run's lock, the existence check and the insert together.
append_one = (
    sa.insert(events)
    .from_select(
        _EVENT_FIELDS,
        sa.select(runs.c.id, *_event_values())
        .where(runs.c.id == sa.bindparam("run_id"))
        .with_for_update(key_share=True),
    )
    .returning(events.c.seq)
)

# An engine's append: the same, only while its lease (token `lease`) is the run's, neither
# released nor expired at `now`. The lease row is locked with the run's, so a takeover waits for
# the append to commit (or the append for the takeover, and then inserts nothing).
append_leased = (
    sa.insert(events)
    .from_select(
        [*_EVENT_FIELDS, "lease"],
        sa.select(runs.c.id, *_event_values(), leases.c.token)
        .join_from(runs, leases, leases.c.run_id == runs.c.id)
        .where(
            runs.c.id == sa.bindparam("run_id"),
            leases.c.token == sa.bindparam("lease", type_=leases.c.token.type),
            leases.c.released_at.is_(None),
            leases.c.expires_at > sa.bindparam("now", type_=leases.c.expires_at.type),
        )
        .with_for_update(key_share=True),
    )
    .returning(events.c.seq)
)

append_rows = sa.insert(events).returning(events.c.seq, sort_by_parameter_order=True)

insert_run = sa.insert(runs)

# The hash the run's next event chains to; read after the run is locked (lock_run, or SQLite's
# BEGIN IMMEDIATE) so that two writers appending to one run cannot chain to the same event.
last_hash = (
    sa.select(events.c.hash)
    .where(events.c.run_id == sa.bindparam("run_id"))
    .order_by(events.c.seq.desc())
    .limit(sa.literal_column("1"))
    .offset(sa.literal_column("0"))  # literals, so the SQLite hot path binds only the run
)

last_seq = sa.select(sa.func.max(events.c.seq)).where(events.c.run_id == sa.bindparam("run_id"))

select_run = sa.select(*RUN_COLUMNS).where(runs.c.id == sa.bindparam("run_id"))


# The same query with its values as parameters, for the SQLite hot path (sqlite_log.py).
select_events_after = (
    sa.select(*EVENT_COLUMNS)
    .where(events.c.run_id == sa.bindparam("run_id"), events.c.seq > sa.bindparam("after"))
    .order_by(events.c.seq)
)


def select_events(run_id: str, *, after: int, types: list[str] | None) -> sa.Select[Any]:
    """A run's events after seq `after`, of `types` if given, by seq."""
    query = sa.select(*EVENT_COLUMNS).where(events.c.run_id == run_id, events.c.seq > after)
    if types is not None:
        query = query.where(events.c.type.in_(types))
    return query.order_by(events.c.seq)


def select_runs(*, plan_id: str | None = None, env: str | None = None) -> sa.Select[Any]:
    """Runs, of one plan and/or environment if given, unordered."""
    query = sa.select(*RUN_COLUMNS)
    if plan_id is not None:
        query = query.where(runs.c.plan_id == plan_id)
    if env is not None:
        query = query.where(runs.c.env == env)
    return query


def oldest_first(query: sa.Select[Any]) -> sa.Select[Any]:
    """`query` over runs, in creation order."""
    return query.order_by(runs.c.created_at, runs.c.id)


def newest_first(query: sa.Select[Any]) -> sa.Select[Any]:
    """`query` over runs, most recent first."""
    return query.order_by(runs.c.created_at.desc(), runs.c.id.desc())


def with_id_suffix(query: sa.Select[Any], suffix: str) -> sa.Select[Any]:
    """`query` over runs whose id ends with `suffix` (the short ids `golive history` shows)."""
    length = sa.func.length(runs.c.id)
    return query.where(
        sa.func.substr(runs.c.id, length - len(suffix) + 1, len(suffix)) == suffix
    ).order_by(runs.c.created_at, runs.c.id)


def with_id_prefix(query: sa.Select[Any], prefix: str) -> sa.Select[Any]:
    """`query` over runs whose id starts with `prefix` (case-sensitively), exact match first."""
    # substr rather than LIKE: no wildcards to escape, and case-sensitive on SQLite too.
    return query.where(sa.func.substr(runs.c.id, 1, len(prefix)) == prefix).order_by(
        sa.case((runs.c.id == prefix, 0), else_=1), runs.c.created_at, runs.c.id
    )


# PostgreSQL only: an append announces itself to the mission control replicas that LISTEN
# (web/notices.py), in the append's transaction, so the notice is sent when it commits and never
# for an append rolled back. NOTIFY reaches the sessions of the same database: one channel per
# store. The payload is JSON: {"run": id, "seq": n} (a checklist mark: {"plan": id, "item": id}).
NOTIFY_CHANNEL = "golive_events"
notify = sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, sa.bindparam("payload", type_=sa.Text())))
