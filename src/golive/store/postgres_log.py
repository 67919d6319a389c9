"""The hot path of a PostgreSQL store: an append in one round trip to the server.

An append takes the run's lock, reads the hash of the run's last event, chains its own to it
(audit.py), inserts, checks the engine's lease and NOTIFYs the mission control replicas. Here
that is two statements sent together in one pipeline, one implicit transaction committed at its
Sync (no BEGIN or COMMIT of their own; PostgresEventLog._pipeline says why):

1. `LOCK`: the run's row FOR NO KEY UPDATE, the lock every append and every lease takeover takes;
2. `APPEND`: one statement that reads the last hash, hashes in SQL, inserts and notifies.

The lock has to be a statement of its own: under READ COMMITTED each statement reads from a
snapshot taken when it starts, and a statement that waited for the lock inside itself would
still not see the append that made it wait, and would chain to the same event as that append.
`APPEND` starts once `LOCK` holds the lock, so it sees every append before it.

The hash is `sha256(convert_to(prev || body, 'UTF8'))`, hex: the same bytes as `chain_hash`,
because the body (made by `event_body` in Python) is ASCII-only JSON and a hash is hex. The time
`at` in the body is taken before the statements are sent, as it was before appends were chained.
The notice is `{"run":...,"seq":n}`, sent on commit (pg_notify in the append's transaction).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from golive.store.queries import NOTIFY_CHANNEL

LOCK = "SELECT id FROM runs WHERE id = %(run_id)s FOR NO KEY UPDATE"

_PREV = "SELECT hash FROM events WHERE run_id = %(run_id)s ORDER BY seq DESC LIMIT 1"
_HASH = "encode(sha256(convert_to(coalesce(prev.hash, '') || {body}, 'UTF8')), 'hex')"
_NOTICE = f"pg_notify('{NOTIFY_CHANNEL}', %(notice)s || appended.seq || '}}')"


def _append(*, leased: bool) -> str:
    # The data-modifying CTE always runs to its end; the SELECT notifies once per row inserted,
    # so an append refused (no run, lease lost) inserts nothing and announces nothing.
    lease_column, lease_value, lease_join = "", "", ""
    if leased:
        lease_column, lease_value = ", lease", ", leases.token"
        lease_join = (
            " JOIN leases ON leases.run_id = runs.id AND leases.token = %(lease)s"
            " AND leases.released_at IS NULL AND leases.expires_at > %(at)s"
        )
    return (
        f"WITH prev AS ({_PREV}), appended AS ("
        f"INSERT INTO events (run_id, at, type, step, data, prev_hash, hash{lease_column}) "
        "SELECT runs.id, %(at)s, %(type)s, %(step)s, CAST(%(data)s AS JSON), prev.hash, "
        f"{_HASH.format(body='%(body)s')}{lease_value} "
        f"FROM runs{lease_join} LEFT JOIN prev ON true WHERE runs.id = %(run_id)s "
        # the lease's row too: a heartbeat or a release waits for the append, or it for them
        f"FOR NO KEY UPDATE OF runs{', leases' if leased else ''} "
        "RETURNING seq, hash) "
        f"SELECT appended.seq, appended.hash, {_NOTICE} FROM appended"
    )


APPEND = _append(leased=False)
APPEND_LEASED = _append(leased=True)

# A batch: the chain is computed over the events in order by a recursive CTE, the rows are
# inserted in that order (ORDER BY in INSERT ... SELECT: the identity follows it), and one notice
# names the last seq.
APPEND_MANY = (
    "WITH RECURSIVE batch AS ("
    "SELECT * FROM unnest(CAST(%(types)b AS TEXT[]), CAST(%(steps)b AS TEXT[]), "
    "CAST(%(data)b AS TEXT[]), CAST(%(bodies)b AS TEXT[])) "
    "WITH ORDINALITY AS batch(type, step, data, body, n)), "
    f"chain(n, hash) AS (SELECT CAST(0 AS BIGINT), CAST(({_PREV}) AS TEXT) "
    "UNION ALL SELECT batch.n, "
    f"{_HASH.format(body='batch.body')} "
    "FROM chain AS prev JOIN batch ON batch.n = prev.n + 1), "
    "appended AS ("
    "INSERT INTO events (run_id, at, type, step, data, prev_hash, hash) "
    "SELECT runs.id, %(at)s, batch.type, batch.step, CAST(batch.data AS JSON), prev.hash, "
    "chain.hash FROM batch JOIN chain ON chain.n = batch.n "
    "JOIN chain AS prev ON prev.n = batch.n - 1 JOIN runs ON runs.id = %(run_id)s "
    "ORDER BY batch.n RETURNING seq, hash) "
    "SELECT appended.seq, appended.hash, "
    f"CASE WHEN appended.seq = max(appended.seq) OVER () THEN {_NOTICE} END "
    "FROM appended ORDER BY appended.seq"
)

Row = tuple[int, str]


def notice_prefix(run_id: str) -> str:
    """The notice of an append to `run_id` up to its seq: `{"run":"<run_id>","seq":`."""
    return json.dumps({"run": run_id}, separators=(",", ":"))[:-1] + ',"seq":'


class PostgresEventLog:
    """Appends to a PostgreSQL store's events through the engine's pool, SQL sent pipelined.

    psycopg errors are raised as SQLAlchemy's DBAPIError, so the store words them as it does
    every other database error; a connection left broken is dropped from the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pipelined = engine.dialect.driver == "psycopg" and psycopg.Pipeline.is_supported()

    def append(
        self,
        run_id: str,
        at: datetime,
        type: str,
        step: str | None,
        data: str,
        body: str,
        lease: int | None = None,
    ) -> Row | None:
        """Insert one event (`data` JSON text, `body` its canonical encoding), chained, and
        commit: its seq and hash; None if no run, or (with a `lease` token) that lease is lost."""
        values: dict[str, Any] = {"run_id": run_id, "at": at, "type": type, "step": step}
        values |= {"data": data, "body": body, "notice": notice_prefix(run_id), "lease": lease}
        rows = self._run(APPEND if lease is None else APPEND_LEASED, values)
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def append_many(
        self, run_id: str, at: datetime, events: Sequence[tuple[str, str | None, str, str]]
    ) -> list[Row]:
        """Insert `(type, step, data, body)` events in order, chained, and commit: their seqs
        and hashes, in order; an empty list if there is no run `run_id`."""
        values: dict[str, Any] = {"run_id": run_id, "at": at, "notice": notice_prefix(run_id)}
        names = ("types", "steps", "data", "bodies")
        for name, column in zip(names, zip(*events, strict=True), strict=True):
            values[name] = list(column)
        return [(int(seq), str(hash_)) for seq, hash_, _ in self._run(APPEND_MANY, values)]

    def _run(self, sql: str, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        """`LOCK` then `sql`, in one transaction, committed; the rows `sql` returned."""
        pooled = self._engine.raw_connection()
        try:
            connection = cast("psycopg.Connection[tuple[Any, ...]]", pooled.driver_connection)
            try:
                return (
                    self._pipeline(connection, sql, values)
                    if self._pipelined
                    else (self._one_by_one(connection, sql, values))
                )
            except psycopg.Error as exc:
                if connection.broken or connection.closed:
                    # As SQLAlchemy does on a disconnect: the pool's other idle connections
                    # are likely gone too (a server restart), open fresh ones from now on.
                    pooled.invalidate()
                    self._engine.pool.dispose()
                raise sa.exc.DBAPIError.instance(sql, values, exc, psycopg.Error) from exc
        finally:
            pooled.close()  # back to the pool, rolled back if the transaction did not commit

    @staticmethod
    def _pipeline(
        connection: psycopg.Connection[tuple[Any, ...]], sql: str, values: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        # Without BEGIN, what the server receives up to the pipeline's one Sync is one
        # transaction (the extended protocol's implicit one), committed at that Sync or rolled
        # back whole if a statement fails. psycopg would wait for the answer to a BEGIN.
        connection.autocommit = True
        try:
            cursor = connection.cursor()
            with connection.pipeline():
                connection.cursor().execute(LOCK, values)
                cursor.execute(sql, values)
            return cursor.fetchall()
        finally:
            if not connection.broken:
                connection.autocommit = False

    @staticmethod
    def _one_by_one(
        connection: psycopg.Connection[tuple[Any, ...]], sql: str, values: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        cursor = connection.cursor()
        cursor.execute(LOCK, values)
        cursor.execute(sql, values)
        rows = cursor.fetchall()
        connection.commit()
        return rows
