"""The tables of the event store, as SQLAlchemy Core metadata.

The migrations in `migrations/versions/` create exactly this schema; a test compares the two.
"""

from __future__ import annotations

import sqlalchemy as sa

# Named constraints, so that later migrations can alter them on SQLite (batch mode) too.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid; AUTOINCREMENT keeps a seq from ever
# being reused. PostgreSQL gets a 64-bit identity column.
SEQ_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("plan_id", sa.Text(), nullable=False),
    sa.Column("plan_path", sa.Text(), nullable=False),
    sa.Column("plan_hash", sa.Text(), nullable=False),
    sa.Column("env", sa.Text(), nullable=False),
    sa.Column("release", sa.Text(), nullable=True),
    sa.Column("rehearsal", sa.Boolean(), nullable=False),
    sa.Column("started_by", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index(None, "plan_id", "created_at"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", SEQ_TYPE, sa.Identity(), primary_key=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("type", sa.Text(), nullable=False),
    sa.Column("step", sa.Text(), nullable=True),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Index(None, "run_id", "seq"),
    sqlite_autoincrement=True,
)

# The checklist lives before any run: each mark (done, reopened, verified, verification failed)
# is a row, never updated; an item's state is its latest row.
checklist_marks = sa.Table(
    "checklist_marks",
    metadata,
    sa.Column("id", SEQ_TYPE, sa.Identity(), primary_key=True),
    sa.Column("plan_id", sa.Text(), nullable=False),
    sa.Column("item", sa.Text(), nullable=False),
    sa.Column("state", sa.Text(), nullable=False),
    sa.Column("by", sa.Text(), nullable=False),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index(None, "plan_id", "id"),
    sqlite_autoincrement=True,
)
