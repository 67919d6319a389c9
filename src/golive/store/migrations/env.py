"""Alembic environment for golive's state store.

golive runs its migrations itself, from `golive.store.open_store`, on the store's own connection
(passed as `config.attributes["connection"]`, inside a transaction the caller commits). New
revisions go in `versions/` with ids `0002`, `0003`...; `migration.HEAD` names the newest.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection


def run_migrations() -> None:
    """Apply the pending revisions on the connection golive passed in."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("golive's migrations run from golive.store.open_store, not the CLI")
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
