"""kill -9 the engine while a step's command runs: the command goes on, so `golive resume` says
so and waits for it (or stops it), and the step's effect happens exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from golive.engine.events import Decision
from golive.engine.operator import decide, read_state
from golive.engine.state import RunState
from golive.errors import DecisionRejected, RunNotFound
from golive.store import open_store

Golive = Callable[..., subprocess.CompletedProcess[str]]

PLAN = """\
golive: orphans
title: Orphans
people:
  ops: {{name: Ops}}
environments:
  staging: {{}}
steps:
  - id: slow
    owner: ops
    run: until [ -e {go} ]; do sleep 0.05; done; echo x >> {effect}
"""


def state_of(url: str) -> RunState:
    with open_store(url) as store:
        return read_state(store, store.latest_run().id)


def process_recorded(url: str) -> bool:
    try:
        return bool(state_of(url).step("slow").processes)
    except RunNotFound:
        return False


def until(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def killed_mid_step(tmp_path: Path) -> tuple[str, str, Path]:
    """Start the run, kill -9 its engine once the step's command runs; (url, run id, effect).
    The command writes its effect once the test creates the file `go`, not before."""
    effect = tmp_path / "effect"
    plan = tmp_path / "orphans.golive.yaml"
    plan.write_text(PLAN.format(effect=effect, go=tmp_path / "go"))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    command = [sys.executable, "-m", "golive", "run", str(plan), "--env", "staging", "--plain"]
    engine = subprocess.Popen([*command, "--state", url], stdout=subprocess.DEVNULL)
    try:
        until(lambda: (tmp_path / "state.db").exists(), "the store")
        until(lambda: process_recorded(url), "the step's process")
    finally:
        engine.send_signal(signal.SIGKILL)
        engine.wait()
    assert not effect.exists()
    return url, state_of(url).run_id, effect


def resume(url: str, run_id: str, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "golive", "resume", run_id, "--as", "ops", "--plain"]
    return subprocess.Popen(
        [*command, "--state", url, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_resume_waits_for_the_command_a_killed_engine_left_running(
    tmp_path: Path, golive: Golive
) -> None:
    url, run_id, effect = killed_mid_step(tmp_path)
    pid = state_of(url).step("slow").processes[0].pid

    with open_store(url) as store, pytest.raises(DecisionRejected) as refused:
        decide(store, store.get_run(run_id), decision=Decision.retry, by="ops", step="slow", why="")
    assert f"step slow's command (pid {pid} on host " in str(refused.value)
    assert "--stop-orphans" in str(refused.value)
    shown = golive("status", run_id, "--state", url)
    assert f"step slow's command (pid {pid} on host " in shown.stdout
    assert "is still running" in shown.stdout

    resumed = resume(url, run_id)
    try:
        assert resumed.stdout is not None
        said = [resumed.stdout.readline() for _ in range(2)]
        assert f"step slow's command (pid {pid} on host " in said[0]
        assert "waiting for it to end" in said[1]
        time.sleep(0.5)
        assert "slow" not in state_of(url).blocked  # nobody is asked while it runs
        (tmp_path / "go").touch()
        until(lambda: "slow" in state_of(url).blocked, "the question about slow")
        assert effect.read_text() == "x\n"  # the old command finished before anyone was asked
        done = golive("done", run_id, "slow", "--as", "ops", "--state", url)
        assert done.returncode == 0, done.stderr
        out, err = resumed.communicate(timeout=60)
    finally:
        resumed.kill()
    assert resumed.returncode == 0, err
    assert "ended; now check what each step did" in out
    assert effect.read_text() == "x\n"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_resume_with_stop_orphans_stops_the_command_and_a_retry_runs_it_once(
    tmp_path: Path, golive: Golive
) -> None:
    url, run_id, effect = killed_mid_step(tmp_path)
    pid = state_of(url).step("slow").processes[0].pid

    resumed = resume(url, run_id, "--stop-orphans")
    try:
        until(lambda: "slow" in state_of(url).blocked, "the question about slow")
        assert not Path(f"/proc/{pid}").exists() or b"Z" in Path(f"/proc/{pid}/stat").read_bytes()
        assert not effect.exists()  # stopped before its effect
        (tmp_path / "go").touch()
        retry = golive("decide", run_id, "retry", "--step", "slow", "--as", "ops", "--state", url)
        assert retry.returncode == 0, retry.stderr
        out, err = resumed.communicate(timeout=60)
    finally:
        resumed.kill()
    assert resumed.returncode == 0, err
    assert f"step slow's command (pid {pid} on host" in out
    assert "stopping" in out
    assert effect.read_text() == "x\n"
