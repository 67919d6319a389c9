"""run, status, log, done, decide, rollback, resume through the real `golive` entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

PLAN = """
golive: cli
title: CLI test
people:
  ann: {name: Ann, role: release manager}
environments:
  staging:
    vars: {dir: DIR}
steps:
  - {id: first, owner: ann, run: "echo first >> {{ vars.dir }}/did", undo: "echo first >> {{ vars.dir }}/undid"}
  - {id: gate-file, owner: ann, needs: [first], run: "test -f {{ vars.dir }}/go"}
  - {id: confirm, owner: ann, needs: [gate-file], manual: Tell the team}
  - {id: last, owner: ann, needs: [confirm], run: "echo {{ release }} >> {{ vars.dir }}/did"}
"""


def golive(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "golive", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "cli.golive.yaml"
    path.write_text(PLAN.replace("DIR", str(tmp_path)))
    return path


def status(cwd: Path) -> dict[str, object]:
    result = golive("status", "--format", "json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def wait_for(cwd: Path, predicate: str, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            current = status(cwd)
        except (AssertionError, json.JSONDecodeError):
            current = {}
        if current and eval(predicate, {}, {"s": current}):
            return current
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {predicate}")


def step(current: dict[str, object], step_id: str) -> dict[str, object]:
    steps = current["steps"]
    assert isinstance(steps, list)
    return next(s for s in steps if s["id"] == step_id)


def test_a_whole_go_live_is_steered_from_a_second_terminal(plan: Path, tmp_path: Path) -> None:
    engine = subprocess.Popen(
        [sys.executable, "-m", "golive", "run", str(plan), "--env", "staging", "--release", "7.1"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        paused = wait_for(tmp_path, "s['status'] == 'paused'")
        run_id = str(paused["run"])
        assert step(paused, "gate-file")["status"] == "failed"
        (tmp_path / "go").touch()
        decided = golive(
            "decide", run_id[:12], "retry", "--as", "ann", "--why", "go file made", cwd=tmp_path
        )
        assert decided.returncode == 0, decided.stderr
        assert "the engine acts on it now" in decided.stdout
        waiting = wait_for(tmp_path, "any(x['status'] == 'waiting' for x in s['steps'])")
        assert step(waiting, "confirm")["waiting_for"] == ["ann"]
        done = golive("done", run_id, "confirm", "--as", "ann", "--note", "told them", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        out, err = engine.communicate(timeout=60)
    finally:
        engine.kill()
        engine.wait()
    assert engine.returncode == 0, err
    assert out.splitlines()[0].startswith(f"run {run_id}")
    assert (tmp_path / "did").read_text().split() == ["first", "7.1"]
    timeline = golive("log", "--format", "json", cwd=tmp_path)
    types = [event["type"] for event in json.loads(timeline.stdout)]
    assert types[0] == "RunStarted"
    assert types[-1] == "RunFinished"
    assert "DecisionMade" in types
    assert "StepMarkedDone" in types
    assert all("plan_text" not in event["data"] for event in json.loads(timeline.stdout))
    human = golive("log", run_id, cwd=tmp_path).stdout
    assert "ann decided retry gate-file: go file made" in human
    assert "confirm marked done by ann: told them" in human


def test_decisions_and_resume_work_while_nothing_runs(plan: Path, tmp_path: Path) -> None:
    engine = subprocess.Popen(
        [sys.executable, "-m", "golive", "run", str(plan), "--env", "staging", "--release", "1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    paused = wait_for(tmp_path, "s['status'] == 'paused'")
    engine.kill()  # the engine is gone; the run waits in the store
    engine.wait()
    run_id = str(paused["run"])
    skipped = golive("decide", run_id, "skip", "--as", "ann", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    assert f"golive resume {run_id}" in skipped.stdout
    resumed = subprocess.Popen(
        [sys.executable, "-m", "golive", "resume", "--as", "ann"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(tmp_path, "any(x['status'] == 'waiting' for x in s['steps'])")
        assert golive("done", run_id, "confirm", "--as", "ann", cwd=tmp_path).returncode == 0
        _out, err = resumed.communicate(timeout=60)
    finally:
        resumed.kill()
        resumed.wait()
    assert resumed.returncode == 0, err
    final = status(tmp_path)
    assert final["status"] == "completed"
    assert step(final, "gate-file")["status"] == "skipped"
    assert step(final, "first")["attempt"] == 1


def test_rollback_on_demand_undoes_a_completed_run(plan: Path, tmp_path: Path) -> None:
    (tmp_path / "go").touch()
    engine = subprocess.Popen(
        [sys.executable, "-m", "golive", "run", str(plan), "--env", "staging", "--release", "2"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    waiting = wait_for(tmp_path, "any(x['status'] == 'waiting' for x in s['steps'])")
    golive("done", str(waiting["run"]), "confirm", "--as", "ann", cwd=tmp_path)
    assert engine.wait(timeout=60) == 0
    rolled = golive("rollback", "--as", "ann", "--why", "rehearsing the rollback", cwd=tmp_path)
    assert rolled.returncode == 3, rolled.stderr
    assert "rollback complete" in rolled.stdout
    assert (tmp_path / "undid").read_text().split() == ["first"]
    again = golive("rollback", "--as", "ann", cwd=tmp_path)
    assert again.returncode == 1
    assert "rolled back already" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.golive.yaml", "--env", "staging"], "no such plan file"),
        (["run", "cli.golive.yaml", "--env", "prod"], "no environment 'prod'"),
        (["run", "cli.golive.yaml", "--env", "staging"], "pass --release"),
        (
            ["run", "cli.golive.yaml", "--env", "staging", "--release", "1", "--as", "zed"],
            "--as zed: not a person of this plan",
        ),
        (["status", "--state", "mysql://nobody@127.0.0.1:1/x"], "state store"),
        (["status", "r-nope"], "no runs yet"),
        (["done", "r-nope", "first", "--as", "ann"], "no runs yet"),
    ],
)
def test_bad_input_gets_one_clear_line_and_a_nonzero_exit(
    plan: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    golive("check", str(plan), cwd=tmp_path)
    (tmp_path / ".golive").mkdir(exist_ok=True)
    result = golive(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_production_run_says_what_is_not_ready_and_ready_refuses_it(tmp_path: Path) -> None:
    plan = tmp_path / "prod.golive.yaml"
    plan.write_text(
        PLAN.replace("DIR", str(tmp_path)).replace("  staging:", "  production:")
        + "policy: {rehearsals: 2, never_on: []}\n"
    )
    (tmp_path / "go").touch()
    refused = golive(
        "run", str(plan), "--env", "production", "--release", "1", "--ready", cwd=tmp_path
    )
    assert refused.returncode == 1
    assert "not ready: 0 of 2 rehearsals" in refused.stderr
    assert not (tmp_path / "did").exists()
