"""A killed engine's SSH step goes on running on its host: the remote shell's pid and start time
are recorded, and `golive resume` finds the command over SSH and stops it (or waits for it)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from golive.engine.operator import read_state
from golive.engine.state import RunState
from golive.errors import RunNotFound
from golive.store import open_store
from golive.testing import PlanRunner
from golive.testing.ssh import Sshd

PLAN = """\
golive: ssh-orphans
title: SSH orphans
people:
  ops: {{name: Ops}}
environments:
  staging:
    hosts:
      app: [h001]
steps:
  - id: deploy
    owner: ops
    on: app
    run: {run}
"""


def state_of(url: str) -> RunState:
    with open_store(url) as store:
        return read_state(store, store.latest_run().id)


def until(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_remote_command_is_recorded_with_the_pid_and_start_time_of_its_shell(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    pid_file = tmp_path / "pid"
    runner = PlanRunner.from_yaml(tmp_path, PLAN.format(run=f"echo $$ > {pid_file}; echo hello"))
    state = runner.run(env="staging")
    with open_store(runner.store_url) as store:
        [process] = [e.data for e in store.events(state.run_id, types={"StepProcessStarted"})]
    assert state.outcome == "completed"
    assert process["pid"] == int(pid_file.read_text())
    assert process["host"] == "h001"
    assert process["remote"] is True
    assert isinstance(process["started"], int)
    assert list(state.step("deploy").output) == ["[h001] hello"]  # the pid line is not output


def killed_mid_step(tmp_path: Path, run: str) -> tuple[str, str]:
    runner = PlanRunner.from_yaml(tmp_path, PLAN.format(run=run))
    url = runner.store_url
    command = [sys.executable, "-m", "golive", "run", str(runner.plan_path), "--env", "staging"]
    engine = subprocess.Popen([*command, "--plain"], stdout=subprocess.DEVNULL)

    def process_recorded() -> bool:
        try:
            return bool(state_of(url).step("deploy").processes)
        except RunNotFound:
            return False

    try:
        until(lambda: runner.plan_path.with_name(".golive").exists(), "the store")
        until(process_recorded, "the remote process")
    finally:
        engine.send_signal(signal.SIGKILL)
        engine.wait()
    return url, state_of(url).run_id


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_resume_stops_a_remote_command_a_killed_engine_left_running_and_a_retry_runs_it_once(
    tmp_path: Path, ssh_env: Sshd
) -> None:
    effect = tmp_path / "effect"
    go = tmp_path / "go"  # the command writes its effect once this file exists
    url, run_id = killed_mid_step(
        tmp_path, f"until [ -e {go} ]; do sleep 0.05; done; echo x >> {effect}"
    )
    pid = state_of(url).step("deploy").processes[0].pid
    command = [sys.executable, "-m", "golive", "resume", run_id, "--as", "ops", "--plain"]
    resumed = subprocess.Popen(
        [*command, "--state", url, "--stop-orphans"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        until(lambda: "deploy" in state_of(url).blocked, "the question about deploy")
        assert not Path(f"/proc/{pid}/stat").exists()  # the sshd reaped the stopped shell
        assert not effect.exists()
        go.touch()
        decide = [sys.executable, "-m", "golive", "decide", run_id, "retry", "--as", "ops"]
        retried = subprocess.run([*decide, "--state", url], capture_output=True, text=True)
        assert retried.returncode == 0, retried.stderr
        out, err = resumed.communicate(timeout=60)
    finally:
        resumed.kill()
    assert resumed.returncode == 0, err
    assert f"step deploy's command (pid {pid} on host h001, started " in out
    assert "stopping" in out
    assert effect.read_text() == "x\n"
