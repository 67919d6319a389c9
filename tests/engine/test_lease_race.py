"""Two `golive resume` of one run started together, 50 times over: each time exactly one engine
takes the run (one RunResumed, one gate reopened), the other refuses, and no step's effect
happens twice. Five runs race at once, ten rounds each, to keep the wall time down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from golive.store import EventStore, open_store

RUNS = 5
ROUNDS = 10  # per run: 50 races in all

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def race_plan(name: str, out: Path) -> str:
    return f"""\
golive: {name}
title: Resume race
people:
  ops: {{name: Ops}}
environments:
  staging: {{}}
steps:
  - {{id: effect, owner: ops, run: "echo effect >> {out}"}}
  - {{id: go, gate: Go or no-go, needs: [effect], approvers: [ops]}}
  - {{id: after, owner: ops, needs: [go], run: "echo after >> {out}"}}
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def golive(store_url: str, *args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "golive", *args],
        cwd=cwd,
        env={**os.environ, "GOLIVE_STATE": store_url, "NO_COLOR": "1", "COLUMNS": "400"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def counts(store: EventStore, run_id: str) -> tuple[int, int, int]:
    """The run's RunResumed events, gate starts, and gate openings (StepWaiting)."""
    found = store.events(run_id, types=["RunResumed", "StepStarted", "StepWaiting"])
    return (
        sum(e.type == "RunResumed" for e in found),
        sum(e.type == "StepStarted" and e.step == "go" for e in found),
        sum(e.type == "StepWaiting" and e.step == "go" for e in found),
    )


def wait(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.2)


def start_run(store: EventStore, folder: Path, name: str) -> str:
    """`golive run` of a fresh plan up to its gate, then the engine is killed."""
    folder.mkdir()
    plan = folder / f"{name}.golive.yaml"
    plan.write_text(race_plan(name, folder / "effects.txt"), encoding="utf-8")
    engine = golive(store.url, "run", str(plan), "--env", "staging", "--plain", cwd=folder)
    run_id = ""

    def opened() -> bool:
        nonlocal run_id
        runs = [r for r in store.runs() if r.plan_id == name]
        run_id = runs[0].id if runs else ""
        return bool(run_id) and counts(store, run_id)[2] == 1

    wait(opened, f"{name} opens its gate")
    engine.kill()
    engine.communicate()
    return run_id


def race(store: EventStore, folder: Path, run_id: str, round: int) -> None:
    """Two resumes at once: one drives the run to its gate, the other refuses; then the one
    that drives is stopped (Ctrl-C, or kill -9 every other round)."""
    resumed, started, waits = counts(store, run_id)
    pair = [golive(store.url, "resume", run_id, "--plain", cwd=folder) for _ in range(2)]
    try:
        wait(
            lambda: any(p.poll() is not None for p in pair) and counts(store, run_id)[2] > waits,
            f"round {round} of {run_id}: one engine refused, the other opened the gate",
        )
        refused = [p for p in pair if p.poll() is not None]
        driving = [p for p in pair if p.poll() is None]
        assert (len(refused), len(driving)) == (1, 1), [p.poll() for p in pair]
        if round % 2:
            driving[0].kill()
        else:
            driving[0].send_signal(signal.SIGINT)
        driving[0].communicate(timeout=60)
        assert counts(store, run_id) == (resumed + 1, started + 1, waits + 1)
        out, err = refused[0].communicate()
        assert refused[0].returncode == 1, out + err
        assert f"run {run_id} is driven by the engine on host" in err
        assert f"(process {driving[0].pid})" in err
    finally:
        for process in pair:
            if process.poll() is None:
                process.kill()
            process.communicate()


def races(store: EventStore, folder: Path, name: str) -> tuple[str, list[str]]:
    run_id = start_run(store, folder, name)
    for round in range(ROUNDS):
        race(store, folder, run_id, round)
    return run_id, (folder / "effects.txt").read_text().split()


def test_two_resumes_started_together_leave_exactly_one_engine_acting_fifty_times_over(
    store_url: str, tmp_path: Path
) -> None:
    with open_store(store_url) as store, ThreadPoolExecutor(RUNS) as pool:
        names = [f"race{index}" for index in range(RUNS)]
        results = list(pool.map(lambda n: races(store, tmp_path / n, n), names))
        final = [counts(store, run_id) for run_id, _ in results]

    for (run_id, effects), counted in zip(results, final, strict=True):
        assert effects == ["effect"]  # ran once, before the races; `after` never ran
        assert counted == (ROUNDS, ROUNDS + 1, ROUNDS + 1), run_id
