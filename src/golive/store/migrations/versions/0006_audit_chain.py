"""The audit chain: each event's hash, chained to the previous event of its run.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

Existing logs are chained on upgrade, run by run in seq order, with the encoding of
store/audit.py, so `golive audit verify` holds for them from then on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from golive.errors import StoreError
from golive.store.audit import chain_hash, event_body
from golive.store.records import event_from_row

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_events = sa.table(
    "events",
    sa.column("seq", sa.BigInteger()),
    sa.column("run_id", sa.String()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("type", sa.Text()),
    sa.column("step", sa.Text()),
    sa.column("data", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    # Nullable columns: SQLite adds them in place, no table rebuild.
    op.add_column("events", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("events", sa.Column("hash", sa.String(64), nullable=True))
    connection = op.get_bind()
    query = sa.select(
        _events.c.seq,
        _events.c.run_id,
        _events.c.at,
        _events.c.type,
        _events.c.step,
        _events.c.data,
    ).order_by(_events.c.run_id, _events.c.seq)
    update = (
        sa.update(_events)
        .where(_events.c.seq == sa.bindparam("b_seq"))
        .values(prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash"))
    )
    last: dict[str, str] = {}
    batch: list[dict[str, object]] = []
    for row in connection.execute(query).mappings().all():
        try:
            event = event_from_row(row, store="the store being migrated")
        except StoreError:
            continue  # a damaged row stays unchained: `golive audit verify` names it
        prev = last.get(event.run_id)
        chained = chain_hash(
            prev, event_body(event.run_id, event.at, event.type, event.step, event.data)
        )
        batch.append({"b_seq": event.seq, "b_prev": prev, "b_hash": chained})
        last[event.run_id] = chained
    if batch:
        connection.execute(update, batch)


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
