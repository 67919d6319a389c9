"""`traffic: {strategy: maintenance}` against a real nginx: every request gets the page with 503
and Retry-After, through the same atomic include-file swap as a switch; undo restores the
routing there was."""

from __future__ import annotations

import http.client
import json
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from golive.engine.events import Outcome
from golive.engine.operator import mark_done, read_state
from golive.engine.state import StepStatus, UndoStatus
from golive.store import EventStore
from golive.testing import PlanRunner, until
from golive.testing.nginx import NginxServer

from .conftest import bodies

pytestmark = pytest.mark.timeout(120)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gym-booking.golive.yaml"

# Text that would end a block, start a directive or inject one if it were put in the config.
HOSTILE = """<!doctype html><html><body><h1>Back soon</h1>
<p>}; return 200 "pwned"; } server { listen 1; } include /etc/passwd; $host ${x} \\" '</p>
</body></html>
"""

BREAK = """\
  - id: migrate
    owner: ann
    needs: [maintenance]
    run: "false"
    failure: rollback
"""


def maintenance_plan(
    tmp_path: Path, nginx: NginxServer, traffic: dict[str, object], *, after: str = BREAK
) -> PlanRunner:
    text = f"""\
golive: maintenance-test
title: Maintenance test
people: {{ann: {{name: Ann}}}}
environments:
  staging:
    nginx: {json.dumps(nginx.settings())}
steps:
  - id: maintenance
    owner: ann
    traffic: {json.dumps({"strategy": "maintenance", **traffic})}
{after}"""
    return PlanRunner.from_yaml(tmp_path, text)


def answer(nginx: NginxServer, path: str = "/") -> tuple[int, str | None, str]:
    connection = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Retry-After"), response.read().decode()
    finally:
        connection.close()


def test_every_request_gets_the_page_with_503_until_the_rollback_restores_the_routing(
    tmp_path: Path, nginx: NginxServer
) -> None:
    runner = maintenance_plan(tmp_path, nginx, {"page": HOSTILE, "retry_after": "30m"})
    seen: list[tuple[int, str | None, str]] = []

    async def watch(store: EventStore, run_id: str) -> None:
        await until(
            lambda: read_state(store, run_id).step("maintenance").status is StepStatus.succeeded
        )
        for path in ("/", "/api/bookings?x=1", "/index.html"):
            seen.append(answer(nginx, path))
        # nginx as it runs, with the maintenance include, passes its own test
        subprocess.run([*nginx_command(nginx), "-t", "-q"], check=True)

    state = runner.run(env="staging", operator=watch)
    assert seen == [(503, "1800", HOSTILE)] * 3
    assert state.outcome is Outcome.rolled_back
    assert state.step("maintenance").undo is UndoStatus.succeeded
    assert bodies(nginx, 10) == {"v1"}
    assert list(nginx.include.parent.glob("*.before")) == []


def nginx_command(nginx: NginxServer) -> list[str]:
    return [nginx.binary, "-p", f"{nginx.prefix}/", "-c", str(nginx.config)]


def test_the_page_can_come_from_a_file_next_to_the_plan(tmp_path: Path, nginx: NginxServer) -> None:
    (tmp_path / "maintenance.html").write_text("<p>Moving your bookings</p>\n", encoding="utf-8")
    runner = maintenance_plan(
        tmp_path, nginx, {"page_file": "maintenance.html", "retry_after": "2m"}, after=""
    )
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed, state.step("maintenance").error
    assert answer(nginx) == (503, "120", "<p>Moving your bookings</p>\n")


def test_a_missing_page_file_fails_the_step_and_nginx_keeps_its_routing(
    tmp_path: Path, nginx: NginxServer
) -> None:
    runner = maintenance_plan(tmp_path, nginx, {"page_file": "nowhere.html"}, after="")
    plan = runner.plan_path.read_text().replace(
        "owner: ann\n", "owner: ann\n    failure: continue\n", 1
    )
    runner.plan_path.write_text(plan)
    state = runner.run(env="staging")
    error = state.step("maintenance").error or ""
    assert "cannot read the maintenance page" in error, error
    assert "nowhere.html" in error
    assert bodies(nginx, 5) == {"v1"}


def test_the_example_maintenance_page_is_served_until_a_switch_routes_requests_again(
    tmp_path: Path, nginx: NginxServer
) -> None:
    """The example's `maintenance-on` step, then a blue-green switch (the example's canary
    needs minutes of load to be analysed: test_example_switch.py covers it); a manual step
    holds the switch until the page was seen."""
    plan = YAML(typ="safe").load(EXAMPLE.read_text(encoding="utf-8"))
    traffic = next(s for s in plan["steps"] if s["id"] == "maintenance-on")["traffic"]
    after = """\
  - {id: look, owner: ann, needs: [maintenance], manual: Look at the page}
  - id: switch
    owner: ann
    needs: [look]
    traffic: {strategy: blue_green, from: blue, to: green}
"""
    runner = maintenance_plan(tmp_path, nginx, dict(traffic), after=after)
    seen: list[tuple[int, str | None, str]] = []

    async def look(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).step("look").status is StepStatus.waiting)
        seen.append(answer(nginx, "/book"))
        mark_done(store, store.get_run(run_id), step="look", by="ann", note=None)

    state = runner.run(env="staging", operator=look)
    assert seen == [(503, "3600", traffic["page"])]
    assert state.outcome is Outcome.completed, state.step("switch").error
    assert bodies(nginx, 10) == {"v2"}
