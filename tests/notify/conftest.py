"""The real `golive` command in a subprocess, with the environment a notification test needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# mission control's fixtures, for test_web.py: a real engine process and the in-process app
from tests.web.conftest import app_client, engine, people, plan_path, store_url  # noqa: F401

Golive = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path) -> Golive:
    """`golive ARGS` in tmp_path; keyword `env` adds variables. Never a traceback."""

    def run(
        *args: str | Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "golive", *map(str, args)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, **(env or {})},
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return run


def status_of(golive: Golive) -> dict[str, Any]:
    result = golive("status", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)
