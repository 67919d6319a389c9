"""Engine leases: which engine drives a run, until when, under which fencing token.

One row per run in `leases`, updated in place and never deleted, so a run's `token` only grows.
Taking a lease is one write transaction that locks the run first (SQLite: BEGIN IMMEDIATE;
PostgreSQL: the run's row FOR NO KEY UPDATE, the lock every append to the run takes too), reads
the current lease, lets the caller refuse, and writes the new holder with the next token. An
append made under a lease checks the token in the same statement as its insert (queries.py on
SQLite, postgres_log.py on PostgreSQL).
Times come from the store's clock: the hosts of one store must agree on the time (NTP) to well
within a lease's lifetime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from golive.errors import LeaseLost, RunNotFound
from golive.store import queries
from golive.store.event_store import LIST_RUNS, EventStore
from golive.store.records import Lease, lease_from_row, moment
from golive.store.schema import leases

Check = Callable[[Lease | None, datetime], None]


def current_lease(*, store: EventStore, run_id: str) -> Lease | None:
    """The run's lease as it stands (possibly expired or released); None if it never had one."""
    with store.transaction(f"read the lease of run {run_id} in") as connection:
        return _read(connection, run_id)


def take_lease(
    *, store: EventStore, run_id: str, host: str, pid: int, ttl: timedelta, check: Check
) -> Lease:
    """Take the run's lease for `host`/`pid` with the next token, atomically.

    `check(current, now)` sees the lease as it stands (None if none yet), inside the transaction,
    and raises to refuse. RunNotFound if there is no such run.
    """
    with store.transaction(f"take the lease of run {run_id} in", write=True) as connection:
        if connection.execute(queries.lock_run, {"run_id": run_id}).first() is None:
            raise RunNotFound(
                f"there is no run {run_id!r} in the state store {store.display_url}: {LIST_RUNS}"
            )
        current = _read(connection, run_id)
        now = store.now()
        check(current, now)
        values: dict[str, Any] = {
            "token": (current.token if current else 0) + 1,
            "host": host,
            "pid": pid,
            "started_at": now,
            "heartbeat_at": now,
            "expires_at": now + ttl,
            "released_at": None,
        }
        if current is None:
            connection.execute(sa.insert(leases).values(run_id=run_id, **values))
        else:
            connection.execute(sa.update(leases).where(leases.c.run_id == run_id).values(values))
    return Lease(run_id=run_id, **values)


def renew_lease(*, store: EventStore, lease: Lease, ttl: timedelta) -> Lease | None:
    """The heartbeat: push the expiry `ttl` ahead; None if the lease expired or was taken."""
    with store.transaction(f"renew the lease of run {lease.run_id} in", write=True) as connection:
        now = store.now()
        renewed = connection.execute(
            _holding(lease, now).values(heartbeat_at=now, expires_at=now + ttl)
        )
    if renewed.rowcount != 1:
        return None
    return replace(lease, heartbeat_at=now, expires_at=now + ttl)


def release_lease(*, store: EventStore, lease: Lease) -> None:
    """Give the lease up (the engine stops): the next engine takes it at once."""
    with store.transaction(f"release the lease of run {lease.run_id} in", write=True) as connection:
        now = store.now()
        connection.execute(_holding(lease, now).values(released_at=now, expires_at=now))


def lost_lease(*, store: EventStore, run_id: str, token: int) -> LeaseLost:
    """Why an append under `token` was refused: the error the engine stops with."""
    with store.transaction(f"read the lease of run {run_id} in") as connection:
        if connection.execute(queries.run_exists, {"run_id": run_id}).first() is None:
            raise RunNotFound(
                f"there is no run {run_id!r} in the state store {store.display_url}: {LIST_RUNS}"
            )
        current = _read(connection, run_id)
    if current is None or current.token < token:
        why = "the store has no such lease"
    elif current.token > token:
        why = (
            f"the engine on host {current.host} (process {current.pid}) took it over at "
            f"{moment(current.started_at)}"
        )
    elif current.released_at is not None:
        why = f"it was released at {moment(current.released_at)}"
    else:
        why = f"it expired at {moment(current.expires_at)} (no heartbeat got through in time)"
    return LeaseLost(
        f"this engine lost its lease on run {run_id} (token {token}): {why}; it stops here "
        f"without acting further: see who drives the run with `golive status {run_id}`"
    )


def _holding(lease: Lease, now: datetime) -> sa.Update:
    return sa.update(leases).where(
        leases.c.run_id == lease.run_id,
        leases.c.token == lease.token,
        leases.c.released_at.is_(None),
        leases.c.expires_at > now,
    )


def _read(connection: sa.Connection, run_id: str) -> Lease | None:
    row = connection.execute(sa.select(leases).where(leases.c.run_id == run_id)).mappings().first()
    return None if row is None else lease_from_row(row)
