"""Many `golive` commands at once on one SQLite store while an engine writes to it: steps marked
done, gate votes, checklist marks. None fails ("database is locked"), none is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from golive.engine.operator import read_state
from golive.engine.state import RunStatus, StepStatus
from golive.store import open_store

EACH = 8  # manual steps, approvers and checklist items: 24 commands at once

WAITING = [*(f"m{i}" for i in range(EACH)), "go"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def busy_plan() -> str:
    people = [f"  p{i}: {{name: Person {i}}}" for i in range(EACH)]
    manual = [f"  - {{id: m{i}, owner: ops, manual: Confirm {i}}}" for i in range(EACH)]
    checklist = [f"  - {{id: c{i}, title: Item {i}, owner: ops}}" for i in range(EACH)]
    # A chain of short commands that print: the engine appends all along.
    chain = [
        f"  - {{id: s{i}, owner: ops, needs: [{f's{i - 1}' if i else ''}], "
        f'run: "for n in 1 2 3; do echo line $n; done"}}'
        for i in range(40)
    ]
    approvers = ", ".join(f"p{i}" for i in range(EACH))
    return (
        "\n".join(
            [
                "golive: busy",
                "title: Busy store",
                "people:",
                "  ops: {name: Ops}",
                *people,
                "checklist:",
                *checklist,
                "environments:",
                "  staging: {}",
                "steps:",
                *manual,
                *chain,
                f"  - {{id: go, gate: Go, approvers: [{approvers}], quorum: all}}",
            ]
        )
        + "\n"
    )


def golive(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "golive", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "400"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_dozen_commands_at_once_beside_a_running_engine_all_succeed_and_all_are_kept(
    tmp_path: Path,
) -> None:
    plan = tmp_path / "busy.golive.yaml"
    plan.write_text(busy_plan(), encoding="utf-8")
    url = f"sqlite:///{tmp_path / '.golive' / 'state.db'}"
    engine = golive("run", str(plan), "--env", "staging", "--plain", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            with open_store(url) as store:
                runs = store.runs()
                state = read_state(store, runs[0].id) if runs else None
            waiting = state is not None and all(
                state.step(step).status is StepStatus.waiting for step in WAITING
            )
            if waiting:
                break
            assert engine.poll() is None, engine.communicate()
            assert time.monotonic() < deadline, "the steps and the gate did not all open"
            time.sleep(0.2)
        run_id = runs[0].id
        commands = [
            *(["done", run_id, f"m{i}", "--as", "ops"] for i in range(EACH)),
            *(["gate", run_id, "go", "go", "--as", f"p{i}"] for i in range(EACH)),
            *(
                ["checklist", str(plan), "--done", f"c{i}", "--as", "ops", "--no-verify"]
                for i in range(EACH)
            ),
        ]
        running = [golive(*command, cwd=tmp_path) for command in commands]
        results = [(command, *process.communicate(timeout=300)) for command, process in
                   zip(commands, running, strict=True)]  # fmt: skip
        failed = [
            (" ".join(command), err.strip())
            for (command, _, err), process in zip(results, running, strict=True)
            if process.returncode != 0
        ]
        assert failed == []
        out, err = engine.communicate(timeout=300)
        assert engine.returncode == 0, out + err
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.communicate()

    with open_store(url) as store:
        state = read_state(store, run_id)
        marks = store.checklist_marks("busy")
        events = store.events(run_id, types=["StepMarkedDone", "GateVoted"])
    assert state.status is RunStatus.completed
    assert sorted(e.step or "" for e in events if e.type == "StepMarkedDone") == [
        f"m{i}" for i in range(EACH)
    ]
    assert sorted(e.data["by"] for e in events if e.type == "GateVoted") == [
        f"p{i}" for i in range(EACH)
    ]
    assert sorted(m.item for m in marks if m.state == "done") == [f"c{i}" for i in range(EACH)]
