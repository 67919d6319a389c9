"""What the engine costs on top of running the processes themselves, and how fast a run resumes.

    python bench/engine_overhead.py [--steps 1000 --chains 10 --parallel 10 --repeat 5]

A plan of `run: "true"` steps in independent chains (step c{i}-{j} needs c{i}-{j-1}) runs
(a) through golive: `start_run`, then the engine driven to the end, every event committed to a
SQLite store (WAL, one transaction per event) before the action it announces; and (b) as a bare
asyncio loop spawning the same processes with the same parallelism and dependencies, pipes read
to EOF as golive does. The two alternate, both on the loop `golive.engine.loop.run` makes (so
both use the same child watcher). Then (c) a run of the same plan is stopped half-way, as if its
engine was killed, and resumed: from `open_store` to an engine ready to launch.
Targets: golive/baseline <= 1.5 (medians), resume < 1 s (median).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from golive.engine import loop
from golive.engine.commands import attach_engine, start_run
from golive.engine.events import Recorded, StepStarted, StepSucceeded
from golive.engine.runner import Engine
from golive.engine.state import RunState, StepStatus
from golive.plan import PlanFile, load_plan
from golive.store import open_store

RATIO_TARGET = 1.5
RESUME_TARGET_S = 1.0

Drive = Callable[[Coroutine[Any, Any, Any]], Any]  # loop.run, or asyncio.run to compare
Timing = tuple[float, float]  # wall and CPU seconds


def plan_text(steps: int, chains: int) -> str:
    """`chains` independent chains of `steps // chains` sequential `true` steps."""
    lines = [
        "golive: bench",
        "title: Engine overhead benchmark",
        "people:",
        "  ops: {name: Ops}",
        "environments:",
        "  bench: {}",
        "steps:",
    ]
    for chain in range(chains):
        for index in range(1, steps // chains + 1):
            lines += [f"  - id: c{chain}-{index}", "    owner: ops", '    run: "true"']
            if index > 1:
                lines.append(f"    needs: [c{chain}-{index - 1}]")
    return "\n".join(lines) + "\n"


# --- (a) golive ----------------------------------------------------------------------------------


def golive_once(plan_file: PlanFile, directory: Path, parallel: int, drive: Drive) -> Timing:
    """From `start_run` to the end of the run, on a fresh store (opened before timing)."""
    with open_store(f"sqlite:///{directory / f'golive-{time.monotonic_ns()}.db'}") as store:
        wall, cpu = time.perf_counter(), time.process_time()
        started = start_run(
            plan_file, store=store, env="bench", release=None, by="ops", max_parallel=parallel
        )
        state: RunState = drive(started.engine.drive())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    done = sum(1 for step in state.steps.values() if step.status is StepStatus.succeeded)
    if state.outcome != "completed" or done != len(plan_file.plan.steps):
        raise SystemExit(f"the golive run did not complete: {state.outcome}, {done} succeeded")
    return wall, cpu


# --- (b) the baseline ----------------------------------------------------------------------------


async def _spawn_true() -> None:
    proc = await asyncio.create_subprocess_exec(
        "true",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    await asyncio.gather(proc.stdout.read(), proc.stderr.read())
    if await proc.wait() != 0:
        raise SystemExit("baseline: `true` failed")


async def _baseline(steps: int, chains: int, parallel: int) -> None:
    slots = asyncio.Semaphore(parallel)

    async def chain() -> None:
        for _ in range(steps // chains):
            async with slots:
                await _spawn_true()

    await asyncio.gather(*(chain() for _ in range(chains)))


def baseline_once(steps: int, chains: int, parallel: int, drive: Drive) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    drive(_baseline(steps, chains, parallel))
    return time.perf_counter() - wall, time.process_time() - cpu


# --- (c) resume ----------------------------------------------------------------------------------


class _Halfway(Exception):
    pass


async def _drive_until_halfway(engine: Engine) -> None:
    try:
        await engine.drive()
    except _Halfway:
        # Like a killed engine, minus the orphans: let the cancelled steps kill their processes.
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        await asyncio.gather(*others, return_exceptions=True)
    else:
        raise SystemExit("the half-way run was not stopped")


def half_done_store(
    plan_file: PlanFile, directory: Path, parallel: int, done: int, drive: Drive
) -> tuple[Path, str]:
    """A store holding a run stopped once `done` steps have succeeded: as the next steps are
    recorded started, the engine stops, leaving them (and any others under way) running."""
    path = directory / "half.db"
    succeeded = 0

    def stop_halfway(recorded: Recorded, _state: RunState) -> None:
        nonlocal succeeded
        if isinstance(recorded.event, StepSucceeded):
            succeeded += 1
        elif isinstance(recorded.event, StepStarted) and succeeded >= done:
            raise _Halfway

    with open_store(f"sqlite:///{path}") as store:
        started = start_run(
            plan_file,
            store=store,
            env="bench",
            release=None,
            by="ops",
            max_parallel=parallel,
            observers=[stop_halfway],
        )
        drive(_drive_until_halfway(started.engine))
    return path, started.run.id


def resume_once(source: Path, run_id: str, directory: Path) -> tuple[float, int, int]:
    """Seconds from opening (a copy of) the store to an engine ready to launch; events, and
    steps found interrupted."""
    path = directory / f"resume-{time.monotonic_ns()}.db"
    shutil.copyfile(source, path)
    started = time.perf_counter()
    with open_store(f"sqlite:///{path}") as store:
        engine = attach_engine(store=store, run=store.get_run(run_id), by="ops")
        elapsed = time.perf_counter() - started
        events = len(store.events(run_id))
    steps = engine.state.steps.values()
    return elapsed, events, sum(1 for s in steps if s.status is StepStatus.interrupted)


# --- the store on its own ------------------------------------------------------------------------


def append_cost_us(directory: Path, count: int = 3000) -> tuple[float, float]:
    """Median and mean microseconds of one committed `EventStore.append` (a StepStarted)."""
    with open_store(f"sqlite:///{directory / 'append.db'}") as store:
        run = store.create_run(
            plan_id="bench",
            plan_path="/bench.golive.yaml",
            plan_hash="h",
            env="bench",
            release=None,
            rehearsal=True,
            started_by="ops",
        )
        for n in range(200):
            store.append(run.id, "StepStarted", step=f"warm-{n}", data={"attempt": 1})
        costs = []
        for n in range(count):
            data = {"attempt": 1, "kind": "run", "command": "true"}
            begin = time.perf_counter()
            store.append(run.id, "StepStarted", step=f"c0-{n}", data=data)
            costs.append(time.perf_counter() - begin)
    return statistics.median(costs) * 1e6, statistics.mean(costs) * 1e6


# --- report --------------------------------------------------------------------------------------


def _ms(values: list[float]) -> str:
    return " ".join(f"{v * 1e3:6.0f}" for v in values)


def _watcher(*, default: bool) -> str:
    if not default:
        return loop.child_watcher_name()
    if sys.version_info >= (3, 12):
        return "Python's default (pidfd where it works, else a thread per process)"
    return type(asyncio.get_event_loop_policy().get_child_watcher()).__name__


def _overhead(golive: list[Timing], baseline: list[Timing], steps: int, chains: int) -> None:
    g, b = (statistics.median(wall for wall, _ in runs) for runs in (golive, baseline))
    g_cpu, b_cpu = (statistics.median(cpu for _, cpu in runs) for runs in (golive, baseline))
    print(f"golive   wall ms: {_ms([wall for wall, _ in golive])}   median {g * 1e3:6.0f}")
    print(f"baseline wall ms: {_ms([wall for wall, _ in baseline])}   median {b * 1e3:6.0f}")
    verdict = "ok" if g / b <= RATIO_TARGET else "MISSED"
    best = min(wall for wall, _ in golive) / min(wall for wall, _ in baseline)
    print(
        f"ratio golive/baseline (medians): {g / b:.2f}  (target <= {RATIO_TARGET}: {verdict}); "
        f"fastest runs: {best:.2f}"
    )
    print(
        f"per-step overhead: {(g - b) / steps * 1e3:.2f} ms = (median golive - median baseline) "
        f"/ {steps} steps. One thread does the engine's work for all {chains} chains, so this is "
        f"what each step adds to the run; along one chain a step starts "
        f"{(g - b) / (steps // chains) * 1e3:.2f} ms later (same difference / {steps // chains} "
        f"steps per chain). CPU in this process: {(g_cpu - b_cpu) / steps * 1e3:.2f} ms per step "
        f"(median CPU golive {g_cpu * 1e3:.0f} ms - baseline {b_cpu * 1e3:.0f} ms)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--default-watcher",
        action="store_true",
        help="drive both loops with plain asyncio.run (Python's default child watcher)",
    )
    args = parser.parse_args()
    drive: Drive = asyncio.run if args.default_watcher else loop.run
    chains, parallel = args.chains, args.parallel
    steps = args.steps - args.steps % chains

    with tempfile.TemporaryDirectory(prefix="golive-bench-") as temp:
        directory = Path(temp)
        plan_path = directory / "bench.golive.yaml"
        plan_path.write_text(plan_text(steps, chains), encoding="utf-8")
        loaded = time.perf_counter()
        plan_file = load_plan(plan_path, env="bench")
        loaded = time.perf_counter() - loaded

        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.2f}; child watcher (golive and baseline): "
            f"{_watcher(default=args.default_watcher)}"
        )
        print(
            f"plan: {steps} `true` steps in {chains} chains of {steps // chains}, max_parallel "
            f"{parallel}; loading it (parse, validate, lint; not timed below) took "
            f"{loaded * 1e3:.0f} ms"
        )
        # One untimed round first: the first run pays one-off costs (imports, the action
        # registry), which are no part of what a step costs.
        golive_once(plan_file, directory, parallel, drive)
        baseline_once(steps, chains, parallel, drive)
        golive: list[Timing] = []
        baseline: list[Timing] = []
        for _ in range(args.repeat):
            golive.append(golive_once(plan_file, directory, parallel, drive))
            baseline.append(baseline_once(steps, chains, parallel, drive))
        _overhead(golive, baseline, steps, chains)

        source, run_id = half_done_store(plan_file, directory, parallel, steps // 2, drive)
        resumes = [resume_once(source, run_id, directory) for _ in range(args.repeat + 1)][1:]
        times = [elapsed for elapsed, _, _ in resumes]
        _, events, interrupted = resumes[0]
        median = statistics.median(times)
        verdict = "ok" if median < RESUME_TARGET_S else "MISSED"
        print(
            f"resume ({steps // 2} of {steps} steps done, {interrupted} found interrupted, "
            f"{events} events in the log once attached) ms: {_ms(times)}   median "
            f"{median * 1e3:.0f}  (target < {RESUME_TARGET_S * 1e3:.0f}: {verdict})"
        )
        append_median, append_mean = append_cost_us(directory)
        print(
            f"SQLite append (WAL, synchronous=NORMAL, one transaction per event, committed "
            f"before append returns): median {append_median:.0f} µs, mean {append_mean:.0f} µs"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
