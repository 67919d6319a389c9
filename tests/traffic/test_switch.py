"""Traffic steps against a real nginx under a continuous client load: each move is an atomic
swap of golive's include file, checked by `nginx -t`, applied by a graceful reload."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from golive.engine.events import Decision, Outcome, StepOutput
from golive.engine.operator import decide, read_events, read_state
from golive.engine.state import StepStatus, UndoStatus
from golive.store import EventStore, open_store
from golive.testing import PlanRunner, until
from golive.testing.nginx import Load, NginxServer, Upstream

from .conftest import bodies, traffic_plan

pytestmark = pytest.mark.timeout(120)

CONFIRM = """\
  - id: confirm
    owner: ann
    needs: [switch]
    manual: Check the new version
"""


def test_a_blue_green_switch_and_its_rollback_lose_no_request_under_load(
    tmp_path: Path, nginx: NginxServer
) -> None:
    runner = traffic_plan(
        tmp_path, nginx, {"strategy": "blue_green", "from": "blue", "to": "green"}, after=CONFIRM
    )
    seen: dict[str, set[str]] = {}

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).step("confirm").status is StepStatus.waiting)
        await asyncio.sleep(0.5)
        seen["switched"] = await asyncio.to_thread(bodies, nginx, 20)
        decide(
            store,
            store.get_run(run_id),
            decision=Decision.rollback,
            by="ann",
            step=None,
            why="rehearsing the way back",
        )

    with Load.start(nginx.url, rate=150) as load:
        time.sleep(0.5)
        state = runner.run(env="staging", operator=operator)
        time.sleep(0.5)
    assert state.outcome is Outcome.rolled_back, state.step("switch").error
    assert state.step("switch").undo is UndoStatus.succeeded
    assert seen["switched"] == {"v2"}
    assert bodies(nginx, 20) == {"v1"}
    answered = {a.body for a in load.answers}
    assert answered == {"v1", "v2"}
    assert len(load.answers) > 200
    assert load.failed == [], load.failed[:5]
    kept = list(nginx.include.parent.glob("*.before"))
    assert kept == []  # the undo put the copy back and removed it


def test_a_canary_whose_new_version_answers_5_percent_errors_is_rolled_back_automatically(
    tmp_path: Path, v1: Upstream, v2: Upstream, nginx: NginxServer
) -> None:
    v2.error_every = 20
    runner = traffic_plan(
        tmp_path,
        nginx,
        {
            "strategy": "canary",
            "from": "blue",
            "to": "green",
            "steps": ["10%", "50%", "100%"],
            "pause": "1s",
            "analysis": {"error_rate_below": "0.5%", "min_requests": 40, "max_wait": "30s"},
        },
    )
    with Load.start(nginx.url, rate=200) as load:
        state = runner.run(env="staging")
        after_rollback = time.monotonic()
        time.sleep(0.5)
    switch = state.step("switch")
    assert switch.status is StepStatus.failed
    assert "canary failed at 10%" in (switch.error or "")
    assert "traffic moved back to blue" in (switch.error or "")
    assert bodies(nginx, 20) == {"v1"}
    assert {a.body for a in load.since(after_rollback) if a.ok} == {"v1"}
    # the only failed requests are v2's own 500s: none lost in the moves
    assert {a.status for a in load.failed} == {500}
    analyses = [json.loads(line) for line in _stream(runner, "traffic") if '"analysed"' in line]
    assert analyses[-1]["verdict"] == "fail"
    assert analyses[-1]["canary"]["errors"] >= 2
    assert analyses[-1]["baseline"]["errors"] == 0


def test_a_healthy_canary_is_promoted_to_100_percent_without_a_failed_request(
    tmp_path: Path, nginx: NginxServer
) -> None:
    runner = traffic_plan(
        tmp_path,
        nginx,
        {
            "strategy": "canary",
            "from": "blue",
            "to": "green",
            "steps": ["10%", "50%", "100%"],
            "pause": "1s",
            "analysis": {
                "error_rate_below": "0.5%",
                "p95_latency_below": "800ms",
                "min_requests": 30,
            },
        },
    )
    with Load.start(nginx.url, rate=200) as load:
        state = runner.run(env="staging")
        done = time.monotonic()
        time.sleep(0.3)
    switch = state.step("switch")
    assert switch.status is StepStatus.succeeded, switch.error
    assert bodies(nginx, 20) == {"v2"}
    assert {a.body for a in load.since(done)} == {"v2"}
    assert load.failed == [], load.failed[:5]
    verdicts = [
        json.loads(line)["verdict"] for line in _stream(runner, "traffic") if '"analysed"' in line
    ]
    assert verdicts.count("pass") == 2  # at 10% and at 50%


def test_a_phased_rollout_sends_exactly_the_chosen_group_to_the_new_version_first(
    tmp_path: Path, nginx: NginxServer
) -> None:
    runner = traffic_plan(
        tmp_path,
        nginx,
        {
            "strategy": "phased",
            "from": "blue",
            "to": "green",
            "group": {"header": "X-Beta: 1"},
            "pause": "6s",
        },
    )
    seen: dict[str, set[str]] = {}

    async def operator(store: EventStore, run_id: str) -> None:
        def moved() -> bool:  # the move is recorded once nginx serves with it
            output = read_state(store, run_id).step("switch").output
            return any(line.startswith("traffic: requests with header") for line in output)

        await until(moved, timeout=20)
        seen["group"] = await asyncio.to_thread(bodies, nginx, 20, {"X-Beta": "1"})
        seen["others"] = await asyncio.to_thread(bodies, nginx, 20, {"X-Beta": "2"})
        seen["no header"] = await asyncio.to_thread(bodies, nginx, 20)

    state = runner.run(env="staging", operator=operator)
    assert state.step("switch").status is StepStatus.succeeded, state.step("switch").error
    assert seen == {"group": {"v2"}, "others": {"v1"}, "no header": {"v1"}}
    assert bodies(nginx, 20) == {"v2"}


def test_a_broken_config_never_reaches_nginx_and_the_old_one_keeps_serving(
    tmp_path: Path, nginx: NginxServer
) -> None:
    settings = nginx.settings()
    settings["upstreams"]["green"] = ["no-such-host.invalid:8080"]
    runner = traffic_plan(
        tmp_path, nginx, {"strategy": "blue_green", "from": "blue", "to": "green"}
    )
    runner.plan_path.write_text(
        runner.plan_path.read_text().replace(json.dumps(nginx.settings()), json.dumps(settings))
    )
    before = nginx.include.read_bytes()
    with Load.start(nginx.url, rate=100) as load:
        state = runner.run(env="staging")
    switch = state.step("switch")
    assert switch.status is StepStatus.failed
    assert "nginx -t on the new include file failed" in (switch.error or "")
    assert "host not found" in (switch.error or "")
    assert nginx.include.read_bytes() == before
    assert bodies(nginx, 10) == {"v1"}
    assert load.failed == []


def test_a_refused_reload_puts_the_previous_include_file_back(
    tmp_path: Path, nginx: NginxServer
) -> None:
    runner = traffic_plan(
        tmp_path, nginx, {"strategy": "blue_green", "from": "blue", "to": "green"}
    )
    settings = nginx.settings()
    runner.plan_path.write_text(
        runner.plan_path.read_text().replace(
            json.dumps(settings),
            json.dumps({**settings, "reload": "echo no reload today >&2; exit 3"}),
        )
    )
    before = nginx.include.read_bytes()
    state = runner.run(env="staging")
    error = state.step("switch").error or ""
    assert "the reload command failed: no reload today" in error
    assert "the previous include file is back in place" in error
    assert nginx.include.read_bytes() == before
    assert bodies(nginx, 10) == {"v1"}


def _stream(runner: PlanRunner, stream: str) -> list[str]:
    """The lines the run's steps wrote on `stream`, from its event log."""
    with open_store(runner.store_url) as store:
        run_id = store.latest_run().id
        return [
            line
            for recorded in read_events(store, run_id)
            if isinstance(recorded.event, StepOutput) and recorded.event.stream == stream
            for line in recorded.event.text.splitlines()
        ]


def test_a_step_that_runs_out_of_time_moves_the_traffic_back(
    tmp_path: Path, nginx: NginxServer
) -> None:
    runner = traffic_plan(
        tmp_path,
        nginx,
        {
            "strategy": "canary",
            "from": "blue",
            "to": "green",
            "steps": ["50%", "100%"],
            "pause": "30s",
        },
    )
    runner.plan_path.write_text(
        runner.plan_path.read_text().replace(
            "    failure: continue\n", "    failure: continue\n    timeout: 2s\n"
        )
    )
    state = runner.run(env="staging")
    assert state.step("switch").error == "timed out after 2s; traffic moved back to blue"
    assert bodies(nginx, 10) == {"v1"}


def test_a_file_nginx_accepts_alone_but_not_in_its_whole_config_is_put_back_unread(
    tmp_path: Path, v1: Upstream, v2: Upstream
) -> None:
    groups = {"blue": [v1.server], "green": [v2.server], "red": [v2.server]}
    clash = "upstream golive_red { server 127.0.0.1:9; }  # the user's own, with golive's name"
    with NginxServer.start(tmp_path / "nginx", upstreams=groups, extra=clash) as nginx:
        runner = traffic_plan(
            tmp_path, nginx, {"strategy": "blue_green", "from": "blue", "to": "red"}
        )
        before = nginx.include.read_bytes()
        with Load.start(nginx.url, rate=100) as load:
            state = runner.run(env="staging")
        error = state.step("switch").error or ""
        assert error.startswith('nginx -t failed: nginx: [emerg] duplicate upstream "golive_red"')
        assert error.endswith("; the previous include file is back in place")
        assert nginx.include.read_bytes() == before
        assert bodies(nginx, 10) == {"v1"}
        assert load.failed == []


def test_an_undo_without_a_copy_of_the_include_file_sends_everyone_back_to_from(
    tmp_path: Path, nginx: NginxServer
) -> None:
    runner = traffic_plan(
        tmp_path, nginx, {"strategy": "blue_green", "from": "blue", "to": "green"}, after=CONFIRM
    )

    async def operator(store: EventStore, run_id: str) -> None:
        await until(lambda: read_state(store, run_id).step("confirm").status is StepStatus.waiting)
        for copy in nginx.include.parent.glob("*.before"):
            copy.unlink()  # as if the include file had not existed before the step
        decide(
            store, store.get_run(run_id), decision=Decision.rollback, by="ann", step=None, why=None
        )

    state = runner.run(env="staging", operator=operator)
    assert state.step("switch").undo is UndoStatus.succeeded
    assert "sends every request to blue" in "\n".join(state.step("switch").output)
    assert bodies(nginx, 10) == {"v1"}
