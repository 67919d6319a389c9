"""Shared by every test folder: hypothesis profiles, the example plan, the real `golive` command."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "gym-booking.golive.yaml"

# CI runs the full fuzz budget (CI=true is set there); a local run stays short. Pick one
# explicitly with HYPOTHESIS_PROFILE=ci.
_SLOW_INPUTS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", max_examples=2000, deadline=None, print_blob=True, suppress_health_check=_SLOW_INPUTS
)
settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=_SLOW_INPUTS
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

Golive = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def example_plan() -> Path:
    return EXAMPLE


@pytest.fixture(scope="session")
def golive() -> Golive:
    """Run the real command line in a subprocess; no run may ever print a traceback."""

    def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "golive", *map(str, args)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=cwd,
            timeout=60,
            env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "GOLIVE_DEBUG": ""},
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return run


# --- stores: a SQLite file, and a throwaway PostgreSQL database --------------------------------
# PostgreSQL tests fail when the server is unreachable (CI starts it), unless
# GOLIVE_TEST_NO_POSTGRES=1 is set, which skips them. GOLIVE_TEST_POSTGRES_URL points them at
# another server (default: postgres on 127.0.0.1:5432, trust auth).

ADMIN_URL = os.environ.get(
    "GOLIVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'state.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    if os.environ.get("GOLIVE_TEST_NO_POSTGRES") == "1":
        pytest.skip("GOLIVE_TEST_NO_POSTGRES=1")
    admin = sa.create_engine(
        ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    name = f"golive_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        unreachable = str(exc.orig).splitlines()[0]
    else:
        unreachable = ""
    if unreachable:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {ADMIN_URL} ({unreachable}): start it, or set "
            "GOLIVE_TEST_NO_POSTGRES=1 to skip the postgres tests",
            pytrace=False,
        )
    try:
        yield sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
