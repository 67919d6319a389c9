"""The engine killed right after each event of a run that fails, rolls back and undoes: after
`golive resume` (and the operator's answers where it asks), the run ends as if never killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from golive.actions.registry import actions
from golive.cli import main
from golive.engine.crash import CRASH_AFTER_EVENT, CRASH_EXIT_CODE
from golive.engine.events import Decision
from golive.engine.operator import decide, mark_done, read_state
from golive.engine.state import RunState, StepStatus, UndoStatus
from golive.store import EventStore, open_store

GOLIVE = [sys.executable, "-m", "golive"]
RUN_TIMEOUT = 60.0  # the real command: Python's start-up takes seconds on a busy machine
STUCK = 15.0  # a resumed run of four steps has ended by then, or waits for an answer


def rollback_plan(out: Path) -> str:
    """a and b have an effect and an undo; c fails without effect under `failure: rollback`
    (its undo still runs: it started); d needs c and must never run."""
    return f"""\
golive: points
title: Crash points
people:
  ops: {{name: Ops}}
environments:
  staging: {{}}
steps:
  - id: a
    owner: ops
    run: echo a >> {out}
    undo: echo undo-a >> {out}
  - id: b
    owner: ops
    needs: [a]
    run: echo b >> {out}
    undo: echo undo-b >> {out}
  - id: c
    owner: ops
    needs: [b]
    run: exit 3
    undo: echo undo-c >> {out}
    failure: rollback
  - id: d
    owner: ops
    needs: [c]
    run: echo d >> {out}
"""


@dataclass(frozen=True)
class Ending:
    """What a run did, as far as the world and the plan's people can tell."""

    outcome: str | None  # None: it never ended
    effects: dict[str, int]
    steps: dict[str, tuple[str, str]]  # step -> (status, undo)


def ending(state: RunState, out: Path) -> Ending:
    effects = Counter(out.read_text().split()) if out.exists() else Counter()
    steps = {s.id: (s.status.value, s.undo.value) for s in state.steps.values()}
    return Ending(state.outcome, dict(effects), steps)


def answer(store: EventStore, run_id: str, out: Path) -> None:
    """The operator's answer to each question resume asks: done if the effect happened (its line
    is in the file), else retry. Any other reason to wait is a failure of the test. It does
    not wait for the killed engine's step commands: `resume` asks only once they have ended."""
    state = read_state(store, run_id)
    written = set(out.read_text().split()) if out.exists() else set()
    run = store.get_run(run_id)
    for step_id, why in list(state.blocked.items()):
        step = state.step(step_id)
        if step.undo is UndoStatus.interrupted:
            effect = f"undo-{step_id}"
        elif step.status is StepStatus.interrupted:
            effect = step_id
        else:
            pytest.fail(f"run {run_id} waits on {step_id} for no crash-related reason: {why}")
        if effect in written:
            mark_done(store, run, step=step_id, by="ops", note=f"{effect} is in the file")
        else:
            decide(store, run, decision=Decision.retry, by="ops", step=step_id, why="not done")


@pytest.fixture(autouse=True, scope="module")
def _actions_loaded() -> None:
    """Load the action plugins (scipy, for traffic analysis: seconds) once, before the forks."""
    actions()


def forked_golive(args: list[str], log: Path, *, crash_after: int | None = None) -> int:
    """`golive ARGS` in a forked child: the console script's own code, in a process of its own
    that can die like one, without paying Python's start-up (seconds on a busy machine) for
    each of the dozens of runs. Returns the child's pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        sys.stdout = sys.stderr = log.open("a", encoding="utf-8")
        os.environ.pop(CRASH_AFTER_EVENT, None)
        if crash_after is not None:
            os.environ[CRASH_AFTER_EVENT] = str(crash_after)
        sys.argv = ["golive", *args]
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        os._exit(code)


def exit_code(pid: int, *, block: bool) -> int | None:
    """The child's exit code; None while it runs (when not blocking)."""
    done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    return os.waitstatus_to_exitcode(status) if done else None


def resume_to_the_end(store: EventStore, run_id: str, url: str, out: Path) -> None:
    """`golive resume` until the run ends, answering what it asks; a run that neither ends nor
    waits for an answer within STUCK seconds is stuck (and its resume killed)."""
    log = out.with_name("resume.log")
    pid = forked_golive(["resume", run_id, "--as", "ops", "--plain", "--state", url], log)
    deadline = time.monotonic() + STUCK
    answered: set[int] = set()
    code = None
    try:
        while (code := exit_code(pid, block=False)) is None:
            state = read_state(store, run_id)
            if state.blocked and state.last_seq not in answered:
                answered.add(state.last_seq)
                answer(store, run_id, out)
            if time.monotonic() > deadline:
                return  # stuck: its ending says where
            time.sleep(0.05)
    finally:
        if code is None:
            os.kill(pid, signal.SIGKILL)
            exit_code(pid, block=True)
    assert "Traceback" not in log.read_text(), log.read_text()


def run_killed_after(tmp_path: Path, url: str, event: int | None) -> Ending:
    """Run the plan with the engine killed right after `event` (None: never), then resume."""
    out = tmp_path / "effects.txt"
    plan = tmp_path / "points.golive.yaml"
    plan.write_text(rollback_plan(out))
    args = ["run", str(plan), "--env", "staging", "--plain", "--state", url]
    code = exit_code(forked_golive(args, tmp_path / "run.log", crash_after=event), block=True)
    with open_store(url) as store:
        run_id = store.latest_run().id
        if code == CRASH_EXIT_CODE:
            resume_to_the_end(store, run_id, url, out)
        return ending(read_state(store, run_id), out)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ending, list[str]]:
    """The run never killed, by the real `golive` command, and its events' types."""
    where = tmp_path_factory.mktemp("reference")
    out, plan, url = where / "effects.txt", where / "points.golive.yaml", f"sqlite:///{where}/s.db"
    plan.write_text(rollback_plan(out))
    command = [*GOLIVE, "run", str(plan), "--env", "staging", "--plain", "--state", url]
    finished = subprocess.run(command, capture_output=True, timeout=RUN_TIMEOUT, check=False)
    assert finished.returncode == 3, finished.stderr.decode()  # rolled back
    with open_store(url) as store:
        run_id = store.latest_run().id
        types = [e.type for e in store.events(run_id)]
        return ending(read_state(store, run_id), out), types


def test_the_crash_hook_ends_the_real_command_right_after_the_event(tmp_path: Path) -> None:
    out, plan, url = (
        tmp_path / "effects.txt",
        tmp_path / "p.golive.yaml",
        f"sqlite:///{tmp_path}/s.db",
    )
    plan.write_text(rollback_plan(out))
    command = [*GOLIVE, "run", str(plan), "--env", "staging", "--plain", "--state", url]
    environ = {**os.environ, CRASH_AFTER_EVENT: "4"}  # StepSucceeded a
    killed = subprocess.run(command, capture_output=True, env=environ, timeout=RUN_TIMEOUT)
    assert killed.returncode == CRASH_EXIT_CODE, killed.stderr.decode()
    with open_store(url) as store:
        run_id = store.latest_run().id
        assert [e.type for e in store.events(run_id)] == [
            "RunStarted",
            "StepStarted",
            "StepProcessStarted",
            "StepSucceeded",
        ]


def test_the_reference_run_fails_rolls_back_and_undoes_what_ran(
    reference: tuple[Ending, list[str]],
) -> None:
    never_killed, types = reference
    assert never_killed == Ending(
        "rolled_back",
        {"a": 1, "b": 1, "undo-c": 1, "undo-b": 1, "undo-a": 1},
        {
            "a": ("succeeded", "succeeded"),
            "b": ("succeeded", "succeeded"),
            "c": ("failed", "succeeded"),
            "d": ("pending", "none"),
        },
    )
    started, process = ["StepStarted", "StepProcessStarted"], ["UndoStarted", "StepProcessStarted"]
    assert types == [
        "RunStarted",
        *[*started, "StepSucceeded"] * 2,
        *started,
        "StepFailed",
        "DecisionMade",
        "RollbackStarted",
        *[*process, "UndoSucceeded"] * 3,
        "RollbackFinished",
        "RunFinished",
    ]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_killing_the_engine_after_any_event_changes_nothing_on_sqlite(
    tmp_path: Path, reference: tuple[Ending, list[str]]
) -> None:
    never_killed, types = reference
    wrong = {}
    for event in range(1, len(types) + 1):
        where = tmp_path / f"killed-after-{event}"
        where.mkdir()
        killed = run_killed_after(where, f"sqlite:///{where / 'state.db'}", event)
        if killed != never_killed:
            wrong[f"{event} ({types[event - 1]})"] = killed
    assert not wrong, f"reference: {never_killed}; killed after event N: {wrong}"


# after: the failure, the policy's decision, the rollback's start, an undo's process, the
# rollback's end
POSTGRES_POINTS = [10, 11, 12, 14, 22]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(120)
@pytest.mark.parametrize("event", POSTGRES_POINTS)
def test_killing_the_engine_around_the_rollback_changes_nothing_on_postgres(
    tmp_path: Path, postgres_url: str, event: int, reference: tuple[Ending, list[str]]
) -> None:
    never_killed, types = reference
    assert types[event - 1] in (
        "StepFailed",
        "DecisionMade",
        "RollbackStarted",
        "StepProcessStarted",
        "RollbackFinished",
    )
    where = tmp_path / "killed"
    where.mkdir()
    assert run_killed_after(where, postgres_url, event) == never_killed


def policy_plan(policy: str) -> str:
    return f"""\
golive: policy
title: Policy
people:
  ops: {{name: Ops}}
environments:
  staging: {{}}
steps:
  - id: x
    owner: ops
    run: exit 3
    failure: {policy}
  - id: y
    owner: ops
    needs: [x]
    run: "true"
"""


def killed_after_the_failure(tmp_path: Path, policy: str) -> tuple[str, str]:
    """Run x (fails under `policy`), the engine killed right after StepFailed; then resumed
    (in the background); returns (store url, run id)."""
    plan = tmp_path / "policy.golive.yaml"
    plan.write_text(policy_plan(policy))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    args = ["run", str(plan), "--env", "staging", "--plain", "--state", url]
    failed_at = 4  # RunStarted, StepStarted, StepProcessStarted, StepFailed
    code = exit_code(forked_golive(args, tmp_path / "run.log", crash_after=failed_at), block=True)
    assert code == CRASH_EXIT_CODE
    with open_store(url) as store:
        run_id = store.latest_run().id
        assert store.events(run_id)[-1].type == "StepFailed"
    return url, run_id


@pytest.mark.timeout(60)
def test_a_failure_under_pause_recorded_just_before_a_crash_pauses_the_resumed_run(
    tmp_path: Path,
) -> None:
    url, run_id = killed_after_the_failure(tmp_path, "pause")
    resume = ["resume", run_id, "--as", "ops", "--plain", "--state", url]
    pid = forked_golive(resume, tmp_path / "resume.log")
    try:
        with open_store(url) as store:
            deadline = time.monotonic() + STUCK
            while not (state := read_state(store, run_id)).blocked:
                assert time.monotonic() < deadline, f"stuck: {state.status}, nothing waits"
                time.sleep(0.05)
    finally:
        os.kill(pid, signal.SIGKILL)
        exit_code(pid, block=True)
    assert state.blocked == {"x": "failed: exit code 3"}
    assert state.step("y").status is StepStatus.pending


@pytest.mark.timeout(60)
def test_a_failure_under_continue_recorded_just_before_a_crash_skips_what_needs_it(
    tmp_path: Path,
) -> None:
    url, run_id = killed_after_the_failure(tmp_path, "continue")
    resume = ["resume", run_id, "--as", "ops", "--plain", "--state", url]
    pid = forked_golive(resume, tmp_path / "resume.log")
    deadline = time.monotonic() + STUCK
    while (code := exit_code(pid, block=False)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if code is None:
        os.kill(pid, signal.SIGKILL)
        exit_code(pid, block=True)
    with open_store(url) as store:
        state = read_state(store, run_id)
    assert code == 1, f"resume did not end: {state.status}"
    assert state.outcome == "failed"
    assert state.step("y").status is StepStatus.skipped


@pytest.mark.timeout(60)
def test_an_undo_declared_undo_idempotent_runs_again_after_a_crash_without_asking(
    tmp_path: Path, reference: tuple[Ending, list[str]]
) -> None:
    never_killed, types = reference
    out = tmp_path / "effects.txt"
    plan = tmp_path / "points.golive.yaml"
    text = rollback_plan(out).replace(
        f"    undo: echo undo-b >> {out}\n",
        f"    undo: echo undo-b >> {out}\n    undo_idempotent: true\n",
    )
    plan.write_text(text)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    undo_b = [i for i, t in enumerate(types, 1) if t == "UndoStarted"][1]  # c, then b
    args = ["run", str(plan), "--env", "staging", "--plain", "--state", url]
    code = exit_code(forked_golive(args, tmp_path / "run.log", crash_after=undo_b), block=True)
    assert code == CRASH_EXIT_CODE
    resume = ["resume", "--as", "ops", "--plain", "--state", url]
    assert exit_code(forked_golive(resume, tmp_path / "resume.log"), block=True) == 3
    with open_store(url) as store:
        run_id = store.latest_run().id
        assert ending(read_state(store, run_id), out) == never_killed
        [interrupted] = [e.data for e in store.events(run_id, types={"UndoInterrupted"})]
        paused = store.events(run_id, types={"RunPaused"})
    assert interrupted == {"rerun": True}
    assert paused == []
