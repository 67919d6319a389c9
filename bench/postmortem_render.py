"""How long the post-mortem of a 1,000-step production run takes, from the store to each format.

    python bench/postmortem_render.py [--steps 1000 --rehearsals 3 --repeat 7]

A plan of `--steps` run steps in 10 chains, with a gate, runs once per rehearsal on staging and
once in production, written to a SQLite store as the engine writes them (RunStarted with the
plan's text, StepStarted, StepOutput, StepSucceeded per step; votes, an issue, an update). Then,
`--repeat` times: `load_postmortem` (events read and folded, the audit chain recomputed, the
rehearsals loaded) and Markdown, HTML and JSON rendered. Target: load + the slowest format
under 2 s (median).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from golive.engine.events import (
    GateVoted,
    IssueRaised,
    IssueResolved,
    Outcome,
    RunFinished,
    RunStarted,
    Severity,
    StepOutput,
    StepStarted,
    StepSucceeded,
    UpdatePosted,
    Vote,
    encode,
)
from golive.report.postmortem import render
from golive.report.postmortem.load import load_postmortem
from golive.store import EventStore, open_store

TARGET_S = 2.0


def plan_text(steps: int) -> str:
    lines = [
        "golive: bench",
        "title: Bench go-live",
        "people: {ann: {name: Ann}, bob: {name: Bob}}",
        "environments: {staging: {}, production: {}}",
        "steps:",
    ]
    chains = 10
    for n in range(steps - 1):
        chain, index = n % chains, n // chains
        needs = f", needs: [c{chain}-{index - 1}]" if index else ""
        lines.append(f'  - {{id: c{chain}-{index}, owner: ann, run: "true", estimate: 1m{needs}}}')
    tails = ", ".join(f"c{c}-{(steps - 2 - c) // chains}" for c in range(min(chains, steps - 1)))
    lines.append(f"  - {{id: gate, gate: Go, approvers: [ann, bob], needs: [{tails}]}}")
    return "\n".join(lines) + "\n"


def write_run(store: EventStore, text: str, steps: list[str], *, env: str, seed: int) -> str:
    record = store.create_run(
        plan_id="bench", plan_path="/bench.golive.yaml", plan_hash="h", env=env,
        release="1.0", rehearsal=env != "production", started_by="ann",
    )  # fmt: skip
    batch = [
        encode(
            RunStarted(
                plan_id="bench", plan_path="/bench.golive.yaml", plan_hash="h", plan_text=text,
                env=env, release="1.0", rehearsal=env != "production", started_by="ann",
                max_parallel=10, host="bench", pid=1, steps=steps,
            )
        )
    ]  # fmt: skip
    for n, step in enumerate(steps):
        seconds = 30.0 + (n * 7 + seed * 13) % 60
        batch += [
            encode(StepStarted(step=step, attempt=1, kind="run", command="true")),
            encode(StepOutput(step=step, stream="stdout", text=f"step {step} did its work")),
            encode(StepSucceeded(step=step, attempt=1, duration=seconds, exit_code=0)),
        ]
        if step == "gate":
            batch.insert(-1, encode(GateVoted(step=step, by="ann", vote=Vote.go)))
            batch.insert(-1, encode(GateVoted(step=step, by="bob", vote=Vote.go)))
    batch.append(encode(RunFinished(outcome=Outcome.completed, duration=3600.0)))
    for start in range(0, len(batch), 500):
        store.append_many(record.id, batch[start : start + 500])
    if env == "production":
        raised = encode(IssueRaised(by="ann", title="slow", severity=Severity.warning))
        issue = store.append(record.id, raised[0], data=raised[2])
        for event in (
            IssueResolved(issue=issue.seq, by="ann", resolution="ok"),
            UpdatePosted(by="ann", text="done", severity=Severity.info),
        ):
            type_name, _, data = encode(event)
            store.append(record.id, type_name, data=data)
    return record.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rehearsals", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'state.db'}"
        text = plan_text(args.steps)
        steps = [
            line.split("id: ")[1].split(",")[0] for line in text.splitlines() if "id: " in line
        ]
        clock = iter(
            dt.datetime(2026, 12, 5, 20, tzinfo=dt.UTC) + dt.timedelta(seconds=s)
            for s in range(10**7)
        )
        with open_store(url, clock=lambda: next(clock)) as store:
            for n in range(args.rehearsals):
                write_run(store, text, steps, env="staging", seed=n)
            run_id = write_run(store, text, steps, env="production", seed=99)
            loads, formats = [], {"md": [], "html": [], "json": []}
            size = {}
            for _ in range(args.repeat):
                started = time.perf_counter()
                pm = load_postmortem(store=store, run_id=run_id)
                loads.append(time.perf_counter() - started)
                for name, times in formats.items():
                    started = time.perf_counter()
                    size[name] = len(render(pm, name))
                    times.append(time.perf_counter() - started)
    load = statistics.median(loads)
    worst = max(statistics.median(t) for t in formats.values())
    print(f"post-mortem of a {args.steps}-step run with {args.rehearsals} rehearsals "
          f"(median of {args.repeat}):")  # fmt: skip
    print(f"  load (events, fold, audit chain, rehearsals): {load * 1e3:.0f} ms")
    for name, times in formats.items():
        print(f"  render {name:4}: {statistics.median(times) * 1e3:.0f} ms ({size[name]:,} bytes)")
    total = load + worst
    verdict = "OK" if total < TARGET_S else "TOO SLOW"
    print(f"  load + slowest render: {total:.3f} s (bound {TARGET_S:.1f} s): {verdict}")
    sys.exit(0 if total < TARGET_S else 1)


if __name__ == "__main__":
    main()
