"""The checklist's outbox: what happened to the notifications of overdue checklist items.

A run's notifications are recorded in its log; the checklist lives before any run, so its
deliveries are rows of `checklist_notifications`, one per (plan, item, due, rule, recipient).
A deliverer claims rows before sending: the claim is one write transaction that inserts the row
(or takes it over when its retry time came, or its last claim expired) and wins only if it
changed the row, so two deliverers, in one process or on two machines, never both win it. The
outcome (sent, or failed with the masked error and the retry time) is written by the claim's
holder only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from golive.store import schema
from golive.store.event_store import EventStore

CLAIMED, SENT, FAILED = "claimed", "sent", "failed"


@dataclass(frozen=True, order=True)
class ChecklistKey:
    """One notification of a checklist item: `due` is its deadline (ISO 8601, UTC)."""

    plan_id: str
    item: str
    due: str
    rule: str
    recipient: str


@dataclass(frozen=True)
class ChecklistDelivery:
    """A row of the outbox: the last state of one notification's delivery."""

    key: ChecklistKey
    state: str
    attempts: int
    claimed_by: str | None
    claimed_until: dt.datetime | None
    error: str | None
    retry_at: dt.datetime | None
    updated_at: dt.datetime

    @property
    def given_up(self) -> bool:
        return self.state == FAILED and self.retry_at is None

    def deliverable(self, now: dt.datetime) -> bool:
        """Whether a deliverer may claim it now: its retry time came, or a claim expired."""
        if self.state == FAILED:
            return self.retry_at is not None and self.retry_at <= now
        if self.state == CLAIMED:
            return self.claimed_until is None or self.claimed_until <= now
        return False


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _where(key: ChecklistKey) -> sa.ColumnElement[bool]:
    table = schema.checklist_notifications
    return sa.and_(
        table.c.plan_id == key.plan_id,
        table.c.item == key.item,
        table.c.due == key.due,
        table.c.rule == key.rule,
        table.c.recipient == key.recipient,
    )


class ChecklistOutbox:
    """The outbox rows of the store's checklists."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def deliveries(self, plan_id: str) -> dict[ChecklistKey, ChecklistDelivery]:
        """Every delivery of the plan's checklist notifications, by key."""
        table = schema.checklist_notifications
        query = sa.select(table).where(table.c.plan_id == plan_id)
        with self.store.transaction(f"read the checklist outbox of {plan_id} from") as c:
            rows = c.execute(query).all()
        found = {}
        for r in rows:
            key = ChecklistKey(r.plan_id, r.item, r.due, r.rule, r.recipient)
            found[key] = ChecklistDelivery(
                key,
                r.state,
                int(r.attempts),
                r.claimed_by,
                _utc(r.claimed_until),
                r.error,
                _utc(r.retry_at),
                _utc(r.updated_at) or r.updated_at,
            )
        return found

    def claim(
        self, keys: Sequence[ChecklistKey], *, by: str, now: dt.datetime, until: dt.datetime
    ) -> list[ChecklistKey]:
        """Claim `keys` for `by` until `until`; the keys won (never one another holds, one
        sent, one given up or one waiting for its retry time)."""
        won = []
        with self.store.transaction("claim checklist notifications in", write=True) as c:
            for key in keys:
                if self._claim(c, key, by=by, now=now, until=until):
                    won.append(key)
        return won

    def _claim(
        self, c: Connection, key: ChecklistKey, *, by: str, now: dt.datetime, until: dt.datetime
    ) -> bool:
        table = schema.checklist_notifications
        claim = {"state": CLAIMED, "claimed_by": by, "claimed_until": until, "updated_at": now}
        values = {**vars(key), **claim, "attempts": 0}
        # RETURNING says whether a row changed (rowcount is not reliable on every driver)
        if c.execute(_insert_new(c, values).returning(table.c.state)).first() is not None:
            return True
        takeover = sa.or_(
            sa.and_(table.c.state == FAILED, table.c.retry_at <= now),
            sa.and_(table.c.state == CLAIMED, table.c.claimed_until <= now),
        )
        update = table.update().where(_where(key), takeover).values(claim)
        return c.execute(update.returning(table.c.state)).first() is not None

    def sent(self, keys: Sequence[ChecklistKey], *, by: str, now: dt.datetime) -> None:
        """Record that `by`, holding their claims, sent `keys`."""
        self._close(keys, by=by, values={"state": SENT, "updated_at": now, "error": None})

    def failed(
        self,
        keys: Sequence[ChecklistKey],
        *,
        by: str,
        now: dt.datetime,
        error: str,
        retry_at: dt.datetime | None,
    ) -> None:
        """Record that sending `keys` failed (`error` already masked); no `retry_at`: given up."""
        values = {"state": FAILED, "updated_at": now, "error": error, "retry_at": retry_at}
        self._close(keys, by=by, values=values)

    def _close(self, keys: Sequence[ChecklistKey], *, by: str, values: dict[str, Any]) -> None:
        table = schema.checklist_notifications
        held = sa.and_(table.c.state == CLAIMED, table.c.claimed_by == by)
        change = {**values, "attempts": table.c.attempts + 1, "claimed_until": None}
        with self.store.transaction("record checklist notifications in", write=True) as c:
            for key in keys:
                c.execute(table.update().where(_where(key), held).values(change))


def _insert_new(c: Connection, values: dict[str, Any]) -> Any:
    """INSERT the row unless its key exists (then nothing), on SQLite and PostgreSQL alike."""
    table = schema.checklist_notifications
    if c.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).values(values).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).values(values).on_conflict_do_nothing()
