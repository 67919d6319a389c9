"""Where a store lives: its URL, checked and shown without a password, and the default location."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from golive.errors import StoreError

# backend -> drivers golive is tested with (None: SQLAlchemy's default driver for that backend)
SUPPORTED_DRIVERS = {"sqlite": {None, "pysqlite"}, "postgresql": {None, "psycopg"}}
URL_HINT = "use sqlite:///path/to/state.db or postgresql+psycopg://user@host:5432/dbname"

_USERINFO_PASSWORD = re.compile(r"(//[^/:@]*:)[^/]*@")
_QUERY_PASSWORD = re.compile(r"(password=)[^&]*", re.IGNORECASE)


def default_state_url(plan_path: Path) -> str:
    """The store used when none is given: `sqlite:///<dir of plan>/.golive/state.db`.

    The path is absolute, so a second terminal in another directory finds the same store.
    """
    state = Path(os.path.abspath(plan_path)).parent / ".golive" / "state.db"
    return f"sqlite:///{state}"


def mask_password(url: str) -> str:
    """`url` with any password replaced by `***`; works on strings that do not parse."""
    return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1***@", url))


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL for a store; StoreError if it is malformed or not supported."""
    shown = mask_password(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StoreError(f"the state store URL {shown!r} cannot be parsed: {URL_HINT}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in SUPPORTED_DRIVERS:
        raise StoreError(
            f"the state store {shown} uses {backend!r}, which golive does not support: {URL_HINT}"
        )
    if (driver or None) not in SUPPORTED_DRIVERS[backend]:
        raise StoreError(
            f"the state store {shown} uses the driver {driver!r}, which golive does not support: "
            f"{URL_HINT}"
        )
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise StoreError(
            f"the state store {shown} is an in-memory SQLite database, which would not survive "
            f"the process: {URL_HINT}"
        )
    return parsed


def display_url(url: URL) -> str:
    """`url` for messages and logs: the password, wherever it is, shown as `***`."""
    return mask_password(url.render_as_string(hide_password=True))


def missing_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store that does not exist yet (opening would create it), else None.

    Commands that only read use it so that looking never creates an empty store.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = Path(parsed.database or "")
    return None if database.exists() else database
