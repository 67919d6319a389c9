"""The example plan's `switch` step, for real: a canary from `legacy` to `green` in front of a
real nginx, under load, analysed from nginx's JSON access log.

What changes from examples/gym-booking.golive.yaml: staging's nginx settings point at the test
nginx (its upstream groups `legacy` and `green` are the local servers v1 and v2); `pause` is 1s
instead of 5m, so that the test takes seconds, and `max_wait` 60s, so that a slow machine has
the time to send the 100 canary requests the analysis needs; the other steps are left out (the example's own
test runs them), and so are `needs` and the objective that names one of them. The analysis is the example's, with its default
min_requests (100).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from golive.engine.state import StepStatus
from golive.testing import PlanRunner
from golive.testing.nginx import Load, NginxServer, Upstream

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gym-booking.golive.yaml"

pytestmark = pytest.mark.timeout(120)


def example_switch(nginx: NginxServer, workdir: Path) -> str:
    yaml = YAML()
    plan: dict[str, Any] = yaml.load(EXAMPLE.read_text(encoding="utf-8"))
    del plan["window"]
    staging = plan["environments"]["staging"]
    staging["nginx"] = {**nginx.settings(), "access_log": staging["nginx"]["access_log"]}
    staging["vars"]["access_log"] = str(nginx.access_log)
    (workdir / "sentry.token").write_text("sntrys_example\n", encoding="utf-8")
    staging["secrets"] = {"SENTRY_TOKEN": {"file": str(workdir / "sentry.token")}}
    switch = next(step for step in plan["steps"] if step["id"] == "switch")
    assert switch["traffic"]["strategy"] == "canary"
    switch["traffic"]["pause"] = "1s"
    switch["traffic"]["analysis"]["max_wait"] = "60s"  # a slow CI machine sends fewer requests
    del switch["needs"]
    plan["steps"] = [switch]
    plan["objectives"] = [o for o in plan["objectives"] if o["id"] == "errors-low"]
    path = workdir / "gym-booking.golive.yaml"
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(plan, out)
    return path.read_text(encoding="utf-8")


def test_the_example_switch_moves_clients_to_green_in_canary_steps_losing_no_request(
    tmp_path: Path, v1: Upstream, v2: Upstream
) -> None:
    groups = {"legacy": [v1.server], "green": [v2.server]}
    with NginxServer.start(tmp_path / "nginx", upstreams=groups) as nginx:
        runner = PlanRunner.from_yaml(
            tmp_path, example_switch(nginx, tmp_path), name="gym-booking.golive.yaml"
        )
        with Load.start(nginx.url, rate=250) as load:
            state = runner.run(env="staging", release="2.4.0")
            done = time.monotonic()
            time.sleep(0.3)
        switch = state.step("switch")
        assert switch.status is StepStatus.succeeded, switch.error
        assert {a.body for a in load.since(done)} == {"v2"}
        assert load.failed == [], load.failed[:5]
        assert nginx.get() == (200, "v2")
    details = _details(runner)
    shares = [m["share"] for m in details["moves"] if m["event"] == "moved"]
    assert shares == [0.1, 0.5, 1.0]
    verdicts = [m["verdict"] for m in details["moves"] if m["event"] == "analysed"]
    assert verdicts[-1] == "pass"
    assert verdicts.count("pass") == 2
    analysed = [m for m in details["moves"] if m["event"] == "analysed" and m["verdict"] == "pass"]
    assert all(m["canary"]["requests"] >= 100 for m in analysed)


def _details(runner: PlanRunner) -> dict[str, Any]:
    from golive.engine.events import StepSucceeded
    from golive.engine.operator import read_events
    from golive.store import open_store

    with open_store(runner.store_url) as store:
        events = read_events(store, store.latest_run().id)
    found = [r.event.details for r in events if isinstance(r.event, StepSucceeded)]
    assert found
    assert found[-1] is not None
    return found[-1]
