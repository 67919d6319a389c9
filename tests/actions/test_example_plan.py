"""The example plan's SSH, check and gate steps, for real: its hosts are aliases of a real sshd,
its new platform a real HTTP server, its approvers vote through the same commands as the CLI.

What changes from examples/gym-booking.golive.yaml: the environment points at the test servers;
the commands the hosts run are scripts that record what they did (there is no booking-writer
service here); the steps this golive cannot run yet (migrate's Django command, verify, traffic, dns)
and those that need them are left out, so the gate checks `smoke` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from golive.engine.events import Decision, Outcome, Vote
from golive.engine.operator import decide, mark_done, read_state, vote
from golive.engine.state import StepStatus
from golive.store import EventStore
from golive.testing import PlanRunner, until
from golive.testing.ssh import Sshd

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gym-booking.golive.yaml"
KEEP = ("announce", "freeze-legacy", "deploy-green", "smoke", "go-no-go")
SCRIPT = """#!/bin/sh
echo "$GOLIVE_TEST_HOST $*" >> "$HOME/{name}.log"
echo "{name} $* on $GOLIVE_TEST_HOST"
"""


def example_for(sshd: Sshd, url: str, workdir: Path) -> str:
    yaml = YAML()
    plan: dict[str, Any] = yaml.load(EXAMPLE.read_text(encoding="utf-8"))
    del plan["window"]  # the real date may be past; the schedule is not what is tested here
    staging = plan["environments"]["staging"]
    staging["hosts"] = {"app": sshd.aliases[:4], "legacy": [sshd.aliases[4]]}
    staging["vars"]["new_url"] = url
    (workdir / "sentry.token").write_text("sntrys_example\n", encoding="utf-8")
    staging["secrets"] = {"SENTRY_TOKEN": {"file": str(workdir / "sentry.token")}}
    steps = [step for step in plan["steps"] if step["id"] in KEEP]
    for step in steps:
        if step["id"] == "freeze-legacy":
            step["run"] = "$HOME/writer.sh stop"
            step["undo"] = "$HOME/writer.sh start"
        if step["id"] == "deploy-green":
            step["run"] = "$HOME/deploy.sh {{ release }}"
            step["undo"] = "$HOME/deploy.sh --remove {{ release }}"
        if step["id"] == "go-no-go":
            step["needs"] = ["smoke", "freeze-legacy"]
            step["checks"] = ["smoke"]
    plan["steps"] = steps
    plan["objectives"] = [o for o in plan["objectives"] if o["id"] == "errors-low"]
    path = workdir / "gym-booking.golive.yaml"
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(plan, out)
    return path.read_text(encoding="utf-8")


def install_scripts(sshd: Sshd) -> Path:
    home = sshd.directory / "home"
    for name in ("deploy", "writer"):
        script = home / f"{name}.sh"
        script.write_text(SCRIPT.format(name=name))
        script.chmod(0o755)
        (home / f"{name}.log").unlink(missing_ok=True)
    return home


def test_the_example_go_live_runs_over_ssh_with_its_smoke_check_and_gate(
    ssh_env: Sshd, site: Any, tmp_path: Path
) -> None:
    home = install_scripts(ssh_env)
    runner = PlanRunner.from_yaml(
        tmp_path, example_for(ssh_env, site.url, tmp_path), name="gym-booking.golive.yaml"
    )

    async def operators(store: EventStore, run_id: str) -> None:
        run = store.get_run(run_id)
        await until(lambda: read_state(store, run_id).step("announce").status is StepStatus.waiting)
        mark_done(store, run, step="announce", by="eva", note="notice posted")
        await until(
            lambda: read_state(store, run_id).step("go-no-go").status is StepStatus.waiting,
            timeout=60,
        )
        state = read_state(store, run_id)
        assert state.step("smoke").status is StepStatus.succeeded
        assert state.step("deploy-green").status is StepStatus.succeeded
        vote(store, run, gate="go-no-go", ballot=Vote.go, by="alice", comment="smoke is green")
        vote(store, run, gate="go-no-go", ballot=Vote.go, by="dirk", comment=None)

    state = runner.run(env="staging", release="2.4.0", operator=operators)
    assert state.outcome is Outcome.completed, state.blocked
    deployed = (home / "deploy.log").read_text().splitlines()
    assert sorted(deployed) == [f"{host} 2.4.0" for host in ssh_env.aliases[:4]]
    assert (home / "writer.log").read_text().splitlines() == [f"{ssh_env.aliases[4]} stop"]
    assert set(state.step("deploy-green").hosts) == set(ssh_env.aliases[:4])
    assert f"[{ssh_env.aliases[0]}] deploy 2.4.0 on {ssh_env.aliases[0]}" in "\n".join(
        state.step("deploy-green").output
    )
    assert "/health" in site.paths


def test_a_rollback_of_the_example_undoes_the_hosts_in_reverse(
    ssh_env: Sshd, site: Any, tmp_path: Path
) -> None:
    home = install_scripts(ssh_env)
    runner = PlanRunner.from_yaml(
        tmp_path, example_for(ssh_env, site.url, tmp_path), name="gym-booking.golive.yaml"
    )

    async def operators(store: EventStore, run_id: str) -> None:
        run = store.get_run(run_id)
        await until(lambda: read_state(store, run_id).step("announce").status is StepStatus.waiting)
        mark_done(store, run, step="announce", by="eva", note=None)
        await until(
            lambda: read_state(store, run_id).step("go-no-go").status is StepStatus.waiting,
            timeout=60,
        )
        vote(store, run, gate="go-no-go", ballot=Vote.no_go, by="dirk", comment="support not ready")
        await until(lambda: read_state(store, run_id).paused)
        decide(store, run, decision=Decision.rollback, by="alice", step=None, why="not tonight")

    state = runner.run(env="staging", release="2.4.0", operator=operators)
    assert state.outcome is Outcome.rolled_back
    assert state.rollback_complete is True
    undone = [line for line in (home / "deploy.log").read_text().splitlines() if "--remove" in line]
    assert sorted(undone) == [f"{host} --remove 2.4.0" for host in ssh_env.aliases[:4]]
    assert (home / "writer.log").read_text().splitlines()[-1] == f"{ssh_env.aliases[4]} start"
