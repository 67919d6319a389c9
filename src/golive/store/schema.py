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
    # The fencing token of the engine lease it was appended under (migration 0005); NULL for
    # events people append (decisions, votes) and for events older than leases.
    sa.Column("lease", sa.BigInteger(), nullable=True),
    # The audit chain (migration 0006, store/audit.py): SHA-256 of the previous event's hash and
    # this event's canonical encoding; NULL only in a row written around golive.
    sa.Column("prev_hash", sa.String(64), nullable=True),
    sa.Column("hash", sa.String(64), nullable=True),
    sa.Index(None, "run_id", "seq"),
    sa.Index(None, "at"),  # migration 0011: the server's first look for recent runs
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

# Mission control's accounts (migration 0003). Secrets are never stored: a password as its argon2
# hash, an API token and a login session as the SHA-256 of their random value.
users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("person", sa.Text(), nullable=True),
    sa.Column("admin", sa.Boolean(), nullable=False),
    sa.Column("password_hash", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # migration 0004: a disabled user cannot log in, and their sessions and tokens are refused
    sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
)

# Migration 0004: which person a user is in one go-live's plan (a person id means something only
# there). `users.person` is a link made before 0004 that names no go-live: it grants nothing.
person_links = sa.Table(
    "person_links",
    metadata,
    sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name"), primary_key=True),
    sa.Column("plan_id", sa.Text(), primary_key=True),
    sa.Column("person", sa.Text(), nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

# A role on one go-live (plan_id) or, with plan_id NULL, on every go-live.
grants = sa.Table(
    "grants",
    metadata,
    sa.Column("id", SEQ_TYPE, sa.Identity(), primary_key=True),
    sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name"), nullable=False),
    sa.Column("role", sa.Text(), nullable=False),
    sa.Column("plan_id", sa.Text(), nullable=True),
    sa.Index(None, "user_name"),
    sqlite_autoincrement=True,
)

# Which engine drives a run (migration 0005): one row per run, updated in place, never deleted,
# so `token` (the fencing number) only ever grows. An engine holds the lease while `expires_at`
# is ahead and `released_at` is NULL, renewing it with a heartbeat.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("token", sa.BigInteger(), nullable=False),
    sa.Column("host", sa.Text(), nullable=False),
    sa.Column("pid", sa.Integer(), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
)

# The public feedback form's token of a run (migration 0009): random, made when its link is
# first asked for; it lets anyone holding the link report a problem in that run, nothing more.
feedback_tokens = sa.Table(
    "feedback_tokens",
    metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Several `golive serve` replicas on one store (migration 0008): what they must agree on lives
# here, not in a process. A failed login is a row (the login rate limit counts them per user
# name and per client address); the watchers of a run are rows per replica, rewritten while
# they watch and ignored once `seen_at` is older than the presence lifetime (a killed replica).
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", SEQ_TYPE, sa.Identity(), primary_key=True),
    sa.Column("key", sa.Text(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index(None, "key", "at"),
    sqlite_autoincrement=True,
)

presence = sa.Table(
    "presence",
    metadata,
    sa.Column("replica", sa.String(128), primary_key=True),
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(64), primary_key=True),
    sa.Column("person", sa.Text(), nullable=True),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index(None, "run_id", "seen_at"),
)

# The checklist's outbox (migration 0010): an overdue item's notifications live outside any
# run's log, so their deliveries are rows here, one per (plan, item, due, rule, recipient),
# updated in place: claimed (by whom, until when), then sent, or failed (masked error, retry_at).
checklist_notifications = sa.Table(
    "checklist_notifications",
    metadata,
    sa.Column("plan_id", sa.String(64), primary_key=True),
    sa.Column("item", sa.String(64), primary_key=True),
    sa.Column("due", sa.String(40), primary_key=True),  # the deadline, ISO 8601 in UTC
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("recipient", sa.String(128), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),  # claimed, sent, failed
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("claimed_by", sa.Text(), nullable=True),
    sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
