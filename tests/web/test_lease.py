"""Mission control asks the store's lease, not this machine's processes, whether an engine drives
a run: an engine on another host (GOLIVE_HOSTNAME) sharing a PostgreSQL store is seen, and Resume
is refused while it holds the lease, even once its process cannot be seen from here at all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import Engine, Person, bearer

pytestmark = pytest.mark.parametrize(
    "store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def elsewhere(
    plan_path: Path, store_url: str, people: dict[str, Person], tmp_path: Path
) -> Iterator[Engine]:
    """`golive run` of the plan by an engine that goes by another host's name."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "golive", "run", str(plan_path), "--env", "staging"),
            *("--as", "mia", "--state", store_url, "--plain"),
        ],
        cwd=tmp_path,
        env={**os.environ, "GOLIVE_HOSTNAME": "host-elsewhere"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = Engine(process, store_url)
    try:
        running.wait_for(lambda s: s["steps"].get("confirm") == "waiting", timeout=120)
        yield running
    finally:
        process.kill()
        process.communicate()


def test_resume_from_the_web_is_refused_while_an_engine_on_another_host_holds_the_lease(
    elsewhere: Engine, app_client: TestClient, people: dict[str, Person]
) -> None:
    mia = bearer(people["mia"])
    run_id = elsewhere.run_id
    page = app_client.get(f"/runs/{run_id}", headers=mia).text
    assert "No engine drives this run" not in page

    elsewhere.process.kill()  # gone, but from here only the lease (30 s) can tell
    elsewhere.process.communicate()
    refused = app_client.post(f"/api/runs/{run_id}/resume", headers=mia)

    assert refused.status_code == 409
    assert re.fullmatch(
        rf"run {run_id} is driven by the engine on host host-elsewhere \(process "
        rf"{elsewhere.process.pid}\) since \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC: nothing to "
        r"resume; steer it from here, or stop that engine first",
        refused.json()["error"],
    ), refused.json()
    assert "No engine drives this run" not in app_client.get(f"/runs/{run_id}", headers=mia).text
