"""How long the command line takes to answer, against the bare interpreter.

    python bench/cli_startup.py [--repeat 15] [--baseline OTHER_VENV/bin]

Writes the starter plan (`golive init`) in a temporary directory and starts one rehearsal run on
a SQLite store beside it (it stops at its Go/No-Go gate). Then times, interleaved so that a
busy machine slows each alike, the median wall time of:

- `python3 -c pass` (the interpreter of golive's environment): the floor;
- `golive --version`;
- `golive status` on that store (the board of the one run);
- `golive gate RUN go-no-go go --as you` (a vote, on a fresh copy of the store each time);
- `golive done RUN announce --as you` (the manual step after the gate, the run resumed up to
  it once before the rounds; a fresh copy of that store each time).

With --baseline, the `golive` of another environment (say, one installed from main) is timed in
the same rounds, for a before/after under the same load.

Prints each median and its excess over the floor, in wall time and in CPU time (user + system:
less sensitive to a busy machine); the last line (wall time) is
`golive status: +X.XXX s over python3 -c pass`. Target (issue 18): within 0.25 s.

Measured on the 2-core machine when quiet (load about 1), 9 repeats: before the commands were
loaded on demand `golive --version` +0.653 s and `golive status` +0.687 s; after, +0.057 s and
+0.436 s. What bounds `status`: docs/design.md, "Speed".

Then `status` stopped loading SQLAlchemy (store/reader.py) and the plan's models (plan/outline.py).
`--repeat 9 --baseline` main's environment, in the same rounds, on a busy machine (load 4 to 9),
four runs: `golive status` took 0.42 to 0.58 of main's wall time (+0.300 s against +0.688 s at
best) and 0.42 of its CPU time (+0.309 s against +0.734 s); on the quiet machine that is about
+0.19 s. `golive gate` (it writes: SQLAlchemy and the plan models stay) +0.679 s against +0.720 s
of CPU.
Then `gate`, `done` and `decide` stopped loading the engine's runner and the actions
(engine/operator.py): `--repeat 15 --baseline` main, quiet machine (load 0.2 to 0.7), `gate`
+0.620 s against +0.658 s, `done` +0.628 s against +0.670 s: SQLAlchemy and the plan's models
are most of what is left (docs/design.md, "Speed").
What `status` still loads most: Typer's pydantic TypeAdapters for its parameters (pydantic and
its plugin loader), the event dataclasses, rich.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent


def golive(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "golive"), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    if check and done.returncode != 0:
        raise SystemExit(f"golive {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done


def drive(args: list[str], cwd: Path, steps: list[tuple[str, Callable[[], None]]]) -> None:
    """Drive a run with `golive ARGS --plain`; at each printed line of `steps`, call its action
    (the engine still driving), then stop the engine after the last (the run stays there)."""
    driver = subprocess.Popen(
        [str(BIN / "golive"), *args, "--plain"],
        cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert driver.stdout is not None
    pending = list(steps)
    for printed in driver.stdout:
        if pending and pending[0][0] in printed:
            pending.pop(0)[1]()
            if not pending:
                break
    driver.terminate()
    driver.wait(timeout=60)


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall time, and CPU time (user + system) of the process: the second varies less with
    what else the machine runs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--baseline", type=Path, help="the bin directory of another golive to time alike"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="golive-cli-startup-") as tmp:
        work = Path(tmp)
        golive("init", "--name", "demo", ".", cwd=work)
        plan = "demo.golive.yaml"
        state = work / ".golive" / "state.db"
        waiting_at_gate = work / "pristine"  # the store with its write-ahead log
        waiting_for_done = work / "pristine-done"  # past the gate, at the manual step
        run_id = ""

        def at_gate() -> None:  # copy the store, then vote while the engine waits
            nonlocal run_id
            shutil.copytree(state.parent, waiting_at_gate)
            run_id = golive("status", "--format", "json", cwd=work).stdout.split('"run": "')[1]
            run_id = run_id.split('"')[0]
            golive("gate", run_id, "go-no-go", "go", "--as", "you", cwd=work)

        def at_done() -> None:
            shutil.copytree(state.parent, waiting_for_done)

        run = ["run", plan, "-e", "staging", "-r", "1.0"]
        drive(run, work, [("waits for votes", at_gate), ("golive done", at_done)])
        gate = ["gate", run_id, "go-no-go", "go", "--as", "you"]
        done = ["done", run_id, "announce", "--as", "you"]
        commands = {
            "python3 -c pass": [sys.executable, "-c", "pass"],
            "golive --version": [str(BIN / "golive"), "--version"],
            "golive status": [str(BIN / "golive"), "status"],
            "golive gate": [str(BIN / "golive"), *gate],
            "golive done": [str(BIN / "golive"), *done],
        }
        if options.baseline is not None:
            other = str(options.baseline / "golive")
            commands["baseline status"] = [other, "status"]
            commands["baseline gate"] = [other, *gate]
            commands["baseline done"] = [other, *done]
        fresh = {"gate": waiting_at_gate, "done": waiting_for_done}  # a store copy for each
        times: dict[str, list[float]] = defaultdict(list)
        cpus: dict[str, list[float]] = defaultdict(list)
        os.environ.pop("GOLIVE_STATE", None)
        for _ in range(options.repeat):
            for label, command in commands.items():
                pristine = fresh.get(label.split()[-1])
                if pristine is not None:
                    shutil.rmtree(state.parent)
                    shutil.copytree(pristine, state.parent)
                elapsed, cpu = timed(command, work)
                times[label].append(elapsed)
                cpus[label].append(cpu)
    floor = statistics.median(times["python3 -c pass"])
    cpu_floor = statistics.median(cpus["python3 -c pass"])
    for label in commands:
        median, cpu = statistics.median(times[label]), statistics.median(cpus[label])
        print(
            f"{label:<20} {median:6.3f} s median of {options.repeat}  +{median - floor:.3f} s"
            f"   CPU {cpu:6.3f} s  +{cpu - cpu_floor:.3f} s"
        )
    status = statistics.median(times["golive status"])
    print(f"golive status: +{status - floor:.3f} s over python3 -c pass")


if __name__ == "__main__":
    main()
