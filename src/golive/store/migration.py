"""Bringing a store's schema to the revision this golive expects, with Alembic.

Opening an up-to-date store costs one revision query: Alembic's script machinery is only loaded
when the database is behind (or ahead, which is an error: the user needs a newer golive).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from golive.errors import StoreError
from golive.store.database import WRITE

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0011"  # the newest revision in migrations/versions/; a test keeps the two in step
MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant will do: it only has to differ from other applications' advisory locks.
PG_MIGRATION_LOCK = 0x60_11_7E_00


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for golive's migrations, running on `connection` if one is given."""
    from alembic.config import Config  # Alembic loads only when a schema must change

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None for a database golive never used.

    Read with plain SQL rather than Alembic's MigrationContext: importing Alembic costs a
    quarter of a second, which every CLI command would pay.
    """
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def upgrade_to_head(engine: Engine, *, shown: str) -> None:
    """Migrate the store to `HEAD` unless it is there already; StoreError if it is newer."""
    with engine.connect() as connection:
        if current_revision(connection) == HEAD:
            return
    with engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            # Two processes may open a new store at once: the second waits, then finds it done.
            if engine.dialect.name == "postgresql":
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
                )
            current = current_revision(connection)
            if current == HEAD:
                return
            _check_known(current, shown=shown)
            from alembic import command
            from alembic.util import CommandError

            try:
                command.upgrade(alembic_config(connection), HEAD)
            except CommandError as exc:
                raise StoreError(f"cannot migrate the state store {shown}: {exc}") from exc


def _check_known(revision: str | None, *, shown: str) -> None:
    if revision is None:
        return
    from alembic.script import ScriptDirectory

    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    if revision not in known:
        raise StoreError(
            f"the state store {shown} is at schema revision {revision!r}, which this golive "
            "does not know (it was written by a newer golive, or is another application's "
            "database): upgrade golive, or point --state at a store of its own"
        )
