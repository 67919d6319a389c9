"""fabric: steps against the test sshd: a task of a real fabfile on every host of a group, each
host's output recorded live as its own, undo by another task, and `golive check` naming a
fabfile or a task that does not exist with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive.engine.events import Outcome
from golive.engine.state import StepStatus, UndoStatus
from golive.plan import check_plan
from golive.store import open_store
from golive.testing import PlanRunner
from golive.testing.ssh import Sshd

FABFILE = """
from fabric import task

DIR = {directory!r}


@task
def deploy(c, release="0"):
    host = c.original_host
    c.run(f"echo deploying {{release}} on {{host}} with $GOLIVE_TOKEN_SEEN")
    c.run(f"echo {{release}} > {{DIR}}/release-{{host}}")
    if host == {failing!r}:
        c.run("echo disk full >&2; exit 3")


@task(name="roll-back")
def rollback(c):
    host = c.original_host
    c.run(f"echo 1.0 > {{DIR}}/release-{{host}} && echo restored {{host}}")
"""


def setup(tmp_path: Path, *, failing: str = "", extra: str = "", step: str = "") -> PlanRunner:
    (tmp_path / "fabfile.py").write_text(
        FABFILE.format(directory=str(tmp_path), failing=failing), encoding="utf-8"
    )
    for host in ("h001", "h002", "h003"):
        (tmp_path / f"release-{host}").write_text("1.0\n")
    text = (
        "golive: fabric-test\n"
        "title: Fabric test\n"
        "people:\n  ann: {name: Ann}\n"
        "environments:\n"
        "  staging:\n"
        "    hosts:\n      web: [h001, h002, h003]\n"
        "    secrets:\n      TOKEN: {env: GOLIVE_TEST_TOKEN}\n"
        "steps:\n"
        + (
            step
            or "  - id: deploy\n"
            "    owner: ann\n"
            "    on: web\n"
            "    batch: 1\n"
            "    fabric:\n"
            "      task: deploy\n"
            "      args: {release: '2.0-{{ secrets.TOKEN }}'}\n"
            "    undo: roll-back\n"
            + extra
        )
    )
    return PlanRunner.from_yaml(tmp_path, text)


def releases(tmp_path: Path) -> dict[str, str]:
    return {
        p.name.removeprefix("release-"): p.read_text().strip() for p in tmp_path.glob("release-*")
    }


def test_a_fabric_task_runs_on_every_host_with_its_output_per_host_and_masked(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    runner = setup(tmp_path)
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed, state.step("deploy").error
    assert releases(tmp_path) == dict.fromkeys(("h001", "h002", "h003"), "2.0-s3cr3t-value")
    assert set(state.step("deploy").hosts) == {"h001", "h002", "h003"}
    with open_store(runner.store_url) as store:
        output = [e.data for e in store.events(state.run_id, types={"StepOutput"})]
        recorded = "".join(str(e.data) for e in store.events(state.run_id))
    assert {(o["host"], o["text"]) for o in output} >= {
        (h, f"deploying 2.0-•••••• on {h} with") for h in ("h001", "h002", "h003")
    }
    assert "s3cr3t-value" not in recorded


def test_a_failing_host_fails_the_step_and_the_rollback_policy_restores_the_touched_hosts(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    runner = setup(tmp_path, failing="h002", extra="    failure: rollback\n")
    state = runner.run(env="staging")
    deploy = state.step("deploy")
    assert state.outcome is Outcome.rolled_back
    assert deploy.status is StepStatus.failed
    assert "h002" in (deploy.error or "")
    assert "exited 3" in (deploy.error or "")
    assert "h003" in (deploy.error or "")  # not touched: batch 1 stopped at the first failure
    assert deploy.undo is UndoStatus.succeeded
    # the exact previous state: h001 and h002 back at 1.0, h003 never touched
    assert releases(tmp_path) == dict.fromkeys(("h001", "h002", "h003"), "1.0")


def test_max_failures_lets_the_step_succeed_past_one_failing_host(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    runner = setup(tmp_path, failing="h002", extra="    max_failures: 1\n")
    state = runner.run(env="staging")
    assert state.outcome is Outcome.completed
    assert state.step("deploy").hosts["h002"]["ok"] is False


def test_an_unknown_host_key_fails_the_host_instead_of_trusting_it(
    tmp_path: Path, ssh_env: Sshd, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = setup(tmp_path, extra="    failure: rollback\n")
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    monkeypatch.setenv("GOLIVE_SSH_KNOWN_HOSTS", str(empty))
    state = runner.run(env="staging")
    assert state.outcome is Outcome.rolled_back
    error = state.step("deploy").error or ""
    assert "h001: ssh: Server '[127.0.0.1]:" in error
    assert "not found in known_hosts" in error
    assert state.step("deploy").hosts["h001"]["touched"] is False
    assert releases(tmp_path) == dict.fromkeys(("h001", "h002", "h003"), "1.0")


def check_lines(runner: PlanRunner) -> list[str]:
    return [d.format() for d in check_plan(runner.plan_path).errors]


def test_check_names_a_task_the_fabfile_does_not_have_with_file_and_line(
    tmp_path: Path,
) -> None:
    runner = setup(
        tmp_path,
        step="  - id: deploy\n    owner: ann\n    on: web\n    fabric: {task: deplo}\n"
        "    undo: undeploy\n",
    )
    errors = check_lines(runner)
    assert errors == [
        f"{runner.plan_path}:15:20: error: steps.deploy.fabric.task: fabfile.py has no "
        "task 'deplo' (did you mean 'deploy'?)",
        f"{runner.plan_path}:16:11: error: steps.deploy.undo: fabfile.py has no task "
        "'undeploy' (did you mean 'deploy'?)",
    ]


def test_check_names_a_missing_fabfile_and_never_runs_the_fabfile(tmp_path: Path) -> None:
    runner = setup(
        tmp_path,
        step="  - id: deploy\n    owner: ann\n    on: web\n"
        "    fabric: {task: deploy, fabfile: deploy/fabfile.py}\n    undo: roll-back\n",
    )
    (errors,) = check_lines(runner)
    assert f"{runner.plan_path}:15:37: error: steps.deploy.fabric.fabfile: no fabfile at" in errors
    assert "no fabfile at" in errors
    assert "deploy/fabfile.py" in errors
    # a fabfile whose import would do something: check only reads it
    marker = tmp_path / "imported"
    (tmp_path / "fabfile.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nfrom fabric import task\n\n@task\ndef deploy(c):\n"
        "    pass\n\n@task\ndef roll_back(c):\n    pass\n"
    )
    runner = setup(tmp_path)
    (tmp_path / "fabfile.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nfrom fabric import task\n\n@task\ndef deploy(c):\n"
        "    pass\n\n@task\ndef roll_back(c):\n    pass\n"
    )
    assert check_lines(runner) == []
    assert not marker.exists()


def test_a_fabric_step_without_a_host_group_is_a_check_error(tmp_path: Path) -> None:
    runner = setup(
        tmp_path,
        step="  - id: deploy\n    owner: ann\n    fabric: {task: deploy}\n    undo: roll-back\n",
    )
    (error,) = check_lines(runner)
    assert f"{runner.plan_path}:14:" in error
    assert "add on: GROUP" in error
