"""kill -9 the engine at random moments; `golive resume` must finish the run with every
non-idempotent step's effect applied exactly once."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from golive.engine.events import Decision, Outcome
from golive.engine.operator import decide, mark_done, read_state
from golive.engine.state import StepStatus
from golive.errors import RunNotFound
from golive.store import EventStore, open_store

STEPS = 50
KILLS = 27


def crash_plan(out: Path) -> str:
    """Two chains of 25 steps; each sleeps, then appends its id to `out`; every 4th is idempotent."""
    lines = [
        "golive: crash",
        "title: Crash test",
        "people:",
        "  ops: {name: Ops}",
        "environments:",
        "  staging: {}",
        "steps:",
    ]
    for index in range(STEPS):
        chain, position = divmod(index, STEPS // 2)
        needs = f"[c{chain}-{position - 1}]" if position else "[]"
        lines += [
            f"  - id: c{chain}-{position}",
            "    owner: ops",
            f"    needs: {needs}",
            f"    run: sleep 0.5 && echo c{chain}-{position} >> {out}",
            f"    idempotent: {'true' if index % 4 == 0 else 'false'}",
        ]
    return "\n".join(lines) + "\n"


def step_processes_alive(run_id: str) -> bool:
    """Whether any process started for this run is still alive (orphans of a killed engine)."""
    marker = f"GOLIVE_RUN_ID={run_id}".encode()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "environ").read_bytes():
                    return True
            except OSError:
                continue
    return False


def wait_for_orphans(run_id: str) -> None:
    deadline = time.monotonic() + 10
    while step_processes_alive(run_id) and time.monotonic() < deadline:
        time.sleep(0.02)


def answer_interrupted(store: EventStore, run_id: str, out: Path, idempotent: set[str]) -> int:
    """What an operator does after a crash: look whether each interrupted step had its effect."""
    state = read_state(store, run_id)
    run = store.get_run(run_id)
    written = set(out.read_text().split()) if out.exists() else set()
    answered = 0
    for step in state.steps.values():
        if step.status not in (StepStatus.running, StepStatus.interrupted) or step.id in idempotent:
            continue
        if step.id in written:
            mark_done(store, run, step=step.id, by="ops", note="its line is in the file")
        else:
            decide(store, run, decision=Decision.retry, by="ops", step=step.id, why="never ran")
        answered += 1
    return answered


def attached(store: EventStore, run_id: str | None, before: int) -> bool:
    """Whether the engine started last has recorded its start (RunStarted or RunResumed)."""
    try:
        run = store.get_run(run_id) if run_id else store.latest_run()
    except RunNotFound:
        return False
    kinds = {"RunStarted", "RunResumed"}
    return any(e.seq > before for e in store.events(run.id, types=kinds))


def kill_at_random_moment(
    proc: subprocess.Popen[bytes],
    store: EventStore,
    rng: random.Random,
    run_id: str | None,
    before: int,
) -> bool:
    """SIGKILL the engine: one time in five while it starts up, otherwise at a random moment
    of its work (from its start event on), so that kills land mid-step whatever the machine's
    speed. False if the engine ended by itself first."""
    if rng.random() >= 0.2:
        deadline = time.monotonic() + 60
        while not attached(store, run_id, before) and time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            time.sleep(0.01)
    try:
        proc.wait(timeout=rng.uniform(0.05, 0.6))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return True
    return False


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_killing_the_engine_anywhere_never_runs_a_step_twice(tmp_path: Path) -> None:
    seed = int(os.environ.get("GOLIVE_CRASH_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    out = tmp_path / "effects.txt"
    plan = tmp_path / "crash.golive.yaml"
    plan.write_text(crash_plan(out))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    idempotent = {f"c{i // 25}-{i % 25}" for i in range(STEPS) if i % 4 == 0}
    golive = [sys.executable, "-m", "golive"]
    command = [*golive, "run", str(plan), "--env", "staging", "--plain", "--state", url]
    kills, answered, run_id = 0, 0, None
    errors = tmp_path / "engine.err"
    with open_store(url) as store, errors.open("ab") as err:
        while True:
            before = store.last_seq(run_id) if run_id else 0
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
            if kills >= KILLS:
                proc.wait(timeout=120)
                assert proc.returncode == 0, f"seed {seed}: {errors.read_text()[-2000:]}"
                break
            if not kill_at_random_moment(proc, store, rng, run_id, before):
                pytest.fail(f"seed {seed}: the run ended before {KILLS} kills ({kills} so far)")
            kills += 1
            try:
                run_id = run_id or store.latest_run().id
            except RunNotFound:
                continue  # killed before the run was recorded: start it again
            wait_for_orphans(run_id)
            answered += answer_interrupted(store, run_id, out, idempotent)
            command = [*golive, "resume", run_id, "--as", "ops", "--plain", "--state", url]
        assert run_id is not None
        state = read_state(store, run_id)
        interrupted = store.events(run_id, types={"StepInterrupted"})
        resumed = store.events(run_id, types={"RunResumed"})
    # The kills really landed mid-step, and the engine was really replaced each time.
    mid_step = answered + len(interrupted)
    assert mid_step >= KILLS // 3, f"seed {seed}: only {mid_step} kills landed mid-step"
    assert len(resumed) >= KILLS // 2
    assert state.outcome is Outcome.completed, f"seed {seed}"
    counts = Counter(out.read_text().split())
    for index in range(STEPS):
        step_id = f"c{index // 25}-{index % 25}"
        if step_id in idempotent:
            assert counts[step_id] >= 1, f"seed {seed}: {step_id} never ran"
        else:
            assert counts[step_id] == 1, f"seed {seed}: {step_id} ran {counts[step_id]} times"
    assert kills >= KILLS
