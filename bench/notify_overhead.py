"""What notifications cost a run: none, a channel that works, a channel that is down.

    python bench/notify_overhead.py [--steps 30 --repeat 5]

A plan of `--steps` steps in one chain (each `sleep 0.05`) runs through the real `golive run`
in three forms, alternately: (a) without notifications, (b) with a channel that works (a
loopback webhook receiver, grouping 0 s so that the courier sends as it goes), (c) with a
channel that is down (nothing listens on its port). Medians of `--repeat` runs of the run's own
time (RunStarted to RunFinished, from the log) and of the process's wall time (which includes
the courier's last flush). The ratios against (a) are the figure: the engine must not slow down.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from golive.testing.receivers import WebhookReceiver


def plan_text(steps: int, channel: str | None) -> str:
    lines = [
        "golive: bench",
        "title: Bench",
        "people:",
        "  ana: {name: Ana, role: release manager}",
        "notifications: {group: 0s}",
    ]
    if channel:
        lines.append(f'channels: ["{channel}"]')
    lines += ["environments:", "  staging: {}", "steps:"]
    for i in range(steps):
        needs = f", needs: [s{i - 1}]" if i else ""
        lines.append(f'  - {{id: s{i}, owner: ana, run: "sleep 0.05", undo: "true"{needs}}}')
    return "\n".join(lines) + "\n"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def one_run(workdir: Path, text: str) -> tuple[float, float]:
    plan = workdir / "bench.golive.yaml"
    plan.write_text(text)
    state = f"sqlite:///{workdir / 'state.db'}"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "golive", "run", str(plan), "-e", "staging", "--plain",
         "--state", state],
        cwd=workdir, check=True, capture_output=True, env=os.environ.copy(),
    )  # fmt: skip
    wall = time.perf_counter() - started
    status = subprocess.run(
        [sys.executable, "-m", "golive", "status", "-f", "json", "--state", state],
        cwd=workdir, check=True, capture_output=True, text=True,
    )  # fmt: skip
    data = json.loads(status.stdout)
    run = (
        dt.datetime.fromisoformat(data["finished_at"])
        - dt.datetime.fromisoformat(data["started_at"])
    ).total_seconds()
    return run, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"none": [], "up": [], "down": []}
    with WebhookReceiver() as hooks, tempfile.TemporaryDirectory() as tmp:
        forms = {
            "none": None,
            "up": f"json://{hooks.address}/bench",
            "down": f"json://127.0.0.1:{closed_port()}/bench",
        }
        for r in range(args.repeat):
            for name, channel in forms.items():
                workdir = Path(tmp) / f"{name}-{r}"
                workdir.mkdir()
                results[name].append(one_run(workdir, plan_text(args.steps, channel)))
        received = len(hooks.received)
    base_run = statistics.median(r for r, _ in results["none"])
    base_wall = statistics.median(w for _, w in results["none"])
    for name, runs in results.items():
        run = statistics.median(r for r, _ in runs)
        wall = statistics.median(w for _, w in runs)
        print(
            f"{name:5} run {run:6.2f}s ({run / base_run:4.2f}x)   "
            f"process {wall:6.2f}s ({wall / base_wall:4.2f}x)"
        )
    print(f"messages received by the working channel: {received}")


if __name__ == "__main__":
    main()
