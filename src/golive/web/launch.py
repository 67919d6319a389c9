"""Engines started from mission control: the plans a server may start (`golive serve --plan`),
and the `golive run` / `golive resume` processes it starts for them.

Each engine is the CLI itself (`python -m golive run PLAN --env=ENV --as=PERSON --plain`, the
store's URL in GOLIVE_STATE), a child of the server in a session of its own: it outlives a
restart of the server, and a signal to the server's process group does not reach it. It runs in
the plan file's folder, as `golive run` does. Its output goes to `.golive/engines/RUN.log`
beside the plan file (appended to by every resume), never to the server's output. The server
answers once the engine has written its `RunStarted` (or `RunResumed`) to the store; an engine
that exits before that is refused with the last line it wrote, which says why.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from golive.engine.context import check_release
from golive.engine.lease import describe_holder, driving_lease, host_name
from golive.engine.operator import read_state
from golive.errors import DecisionRejected, GoliveError, LeaseHeld, StoreError, UsageError
from golive.plan import PlanFile, load_plan
from golive.store import EventStore, RunRecord

STARTUP_TIMEOUT = 30.0
PLAN_SUFFIX = ".golive.yaml"


@dataclass(frozen=True)
class ServedPlan:
    """A plan this server may start: checked when the server started."""

    path: Path
    file: PlanFile

    @property
    def id(self) -> str:
        return self.file.plan.golive

    @property
    def folder(self) -> Path:
        return self.path.parent


def plan_paths(given: Iterable[Path]) -> list[Path]:
    """The plan files named: each file, and every `*.golive.yaml` of each directory."""
    found: list[Path] = []
    for path in given:
        if path.is_dir():
            inside = sorted(path.glob(f"*{PLAN_SUFFIX}"))
            if not inside:
                raise UsageError(f"--plan {path}: no *{PLAN_SUFFIX} file in this directory")
            found.extend(inside)
        elif path.exists():  # the loader refuses a FIFO or a device, without opening it
            found.append(path)
        else:
            raise UsageError(f"--plan {path}: no such file or directory")
    return found


def load_served_plans(given: Iterable[Path]) -> dict[str, ServedPlan]:
    """The plans by go-live id; a broken plan is a PlanError (file:line), a go-live id given
    twice a UsageError."""
    plans: dict[str, ServedPlan] = {}
    for path in plan_paths(given):
        resolved = path.resolve()
        served = ServedPlan(resolved, load_plan(resolved))
        other = plans.get(served.id)
        if other is not None and other.path != resolved:
            raise UsageError(
                f"--plan {path}: go-live '{served.id}' is also {other.path}; "
                "serve one plan per go-live id"
            )
        plans[served.id] = served
    return plans


def _log_file(folder: Path, name: str) -> Path | None:
    directory = folder / ".golive" / "engines"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return directory / name


def _spawn(
    args: list[str], *, cwd: Path, log: Path | None, state_url: str
) -> subprocess.Popen[bytes]:
    """`python -m golive ARGS` in a session of its own; output to `log` (or nowhere). The store's
    URL (it may hold a password) goes in GOLIVE_STATE, which other users cannot read, rather
    than on the command line, which they can (`ps`)."""
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "golive", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "GOLIVE_STATE": state_url},
        )
    except OSError as exc:
        raise GoliveError(f"cannot start the engine: {exc.strerror or exc}") from exc
    finally:
        if log is not None and not isinstance(out, int):
            out.close()
    # Reap it when it ends, for as long as this server runs (a restart leaves it to init).
    threading.Thread(target=process.wait, daemon=True).start()
    return process


def _why(log: Path | None, code: int) -> str:
    """The last line the engine wrote: its error, worded for the user."""
    last = ""
    if log is not None:
        try:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            lines = []
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    # `golive: error: ...`: the CLI's refusals (a production run the schedule forbids, too)
    return last.removeprefix("golive: ").removeprefix("error: ") or f"it exited with status {code}"


def _driven_by(store: EventStore, run_id: str, pid: int) -> bool:
    state = read_state(store, run_id)
    return state.engine_pid == pid and state.engine_host == host_name()


def _wait(
    store: EventStore,
    process: subprocess.Popen[bytes],
    log: Path | None,
    *,
    find: str | None,
    plan_id: str,
    known: set[str],
) -> str:
    """The run the engine drives, once its start (or resume) is in the store."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        code = process.poll()
        candidates = (
            [find]
            if find is not None
            else [r.id for r in store.runs() if r.plan_id == plan_id and r.id not in known]
        )
        for run_id in candidates:
            try:
                if _driven_by(store, run_id, process.pid):
                    return run_id
            except StoreError:
                continue  # created a moment ago: its first event is being written
        if code is not None:
            raise UsageError(f"the engine did not start: {_why(log, code)}")
        if time.monotonic() > deadline:
            raise StoreError(
                f"the engine (process {process.pid}) has not recorded its start in "
                f"{STARTUP_TIMEOUT:.0f} s" + (f"; its output is in {log}" if log else "")
            )
        time.sleep(0.05)


def start_engine(
    store: EventStore,
    plan: ServedPlan,
    *,
    state_url: str,
    env: str,
    release: str | None,
    person: str | None,
) -> str:
    """Start `golive run` of the plan; the new run's id once its RunStarted is stored."""
    check_release(release)
    known = {r.id for r in store.runs() if r.plan_id == plan.id}
    # `--option=VALUE`: a value from the request that starts with "-" stays a value
    args = [str(plan.path), f"--env={env}", "--plain"]
    if release:
        args.append(f"--release={release}")
    if person:
        args.append(f"--as={person}")
    log = _log_file(plan.folder, f"starting-{uuid.uuid4().hex}.log")
    process = _spawn(["run", *args], cwd=plan.folder, log=log, state_url=state_url)
    try:
        run_id = _wait(store, process, log, find=None, plan_id=plan.id, known=known)
    except GoliveError:
        if log is not None and process.poll() is not None:  # refused: its reason is told
            log.unlink(missing_ok=True)
        raise
    if log is not None:
        _rename(log, log.with_name(f"{run_id}.log"))
    return run_id


def _rename(log: Path, target: Path) -> None:
    try:
        if target.exists():  # a run id is never reused; keep both if it happens
            target = target.with_name(f"{target.stem}-{os.getpid()}.log")
        log.rename(target)
    except OSError:
        pass


def resume_engine(
    store: EventStore, run: RunRecord, plan: ServedPlan, *, state_url: str, person: str | None
) -> None:
    """Start `golive resume` of the run; returns once its RunResumed is stored. LeaseHeld if an
    engine, on any host, drives the run (the engine started would refuse too, and say so)."""
    state = read_state(store, run.id)
    hypercare_open = state.hypercare is not None and state.hypercare.active
    if state.status.finished and not state.rollback_requested and not hypercare_open:
        raise DecisionRejected(f"run {run.id} has ended ({state.status}); nothing to resume")
    lease = driving_lease(store=store, run_id=run.id)
    if lease is not None:
        raise LeaseHeld(
            f"run {run.id} is driven by {describe_holder(lease)}: nothing to resume; "
            "steer it from here, or stop that engine first",
            lease=lease,
        )
    args = [run.id, "--plain"]
    if person:
        args.append(f"--as={person}")
    log = _log_file(plan.folder, f"{run.id}.log")
    process = _spawn(["resume", *args], cwd=plan.folder, log=log, state_url=state_url)
    _wait(store, process, log, find=run.id, plan_id=plan.id, known=set())
