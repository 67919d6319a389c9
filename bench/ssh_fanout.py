"""What an SSH fan-out costs through golive, against bare asyncssh and Fabric, on 200 hosts.

    python bench/ssh_fanout.py [--hosts 200 --repeat 5 --concurrency 50]

One sshd on loopback (golive.testing.ssh.Sshd: stock settings, MaxStartups 10:30:100 included)
and an ssh config with one `Host` block per alias h001..h200 reaching it. Each round runs `true`
on every host, on fresh connections:
  (a) golive's SshAction (the `run` step with `on: GROUP`), in-process, on a new run's resources;
  (b) bare asyncssh: `asyncio.gather` of connect + run, with the same concurrency, retrying the
      handshakes sshd drops past MaxStartups (without that it fails half of its hosts);
  (c) Fabric: `ThreadingGroup(*hosts).run("true")`, re-running the hosts whose connection sshd
      dropped;
then `true` again on the same hosts, on the connections (a) and (b) have open.
The rounds alternate the order of (a), (b), (c). Wall times are medians of --repeat rounds.
Targets: fresh (a)/(b) <= 1.2 and (a)/(c) <= 1.0; open (a)/(b) <= 1.2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncssh
from fabric import Config, ThreadingGroup  # type: ignore[import-untyped]
from fabric.exceptions import GroupException  # type: ignore[import-untyped]

from golive.actions.base import Result, RunResources, StepContext
from golive.actions.ssh import SshAction
from golive.plan.models import Plan
from golive.testing.ssh import Sshd

FRESH_TARGET = 1.2
FABRIC_TARGET = 1.0
OPEN_TARGET = 1.2


def step_context(sshd: Sshd, resources: RunResources, concurrency: int) -> StepContext:
    plan = Plan.model_validate(
        {
            "golive": "bench",
            "title": "SSH fan-out benchmark",
            "environments": {"bench": {"hosts": {"fleet": sshd.aliases}}},
            "steps": [{"id": "fan-out", "on": "fleet", "run": "true"}],
        }
    )
    environ = {**os.environ, **sshd.environ(), "GOLIVE_SSH_CONCURRENCY": str(concurrency)}

    async def nobody(_who: list[str], _what: str) -> None:
        return None

    return StepContext(
        run_id="bench",
        plan=plan,
        step=plan.steps[0],
        attempt=1,
        env_name="bench",
        workdir=Path.cwd(),
        environ=environ,
        timeout=None,
        render=lambda text: text,
        redact=lambda text: text,
        output=lambda stream, line, *, host=None: None,
        wait_for_person=nobody,
        monotonic=time.monotonic,
        resources=resources,
        hosts=tuple(sshd.aliases),
    )


async def golive_round(sshd: Sshd, concurrency: int) -> tuple[float, float]:
    resources = RunResources()
    ctx = step_context(sshd, resources, concurrency)
    action = SshAction()
    try:
        fresh = await timed(lambda: action.run(ctx))
        again = await timed(lambda: action.run(ctx))
    finally:
        await resources.aclose()
    return fresh, again


async def bare_round(sshd: Sshd, concurrency: int) -> tuple[float, float, int]:
    limit = asyncio.Semaphore(concurrency)
    dropped = 0
    connections: list[asyncssh.SSHClientConnection] = []

    async def connect_and_run(host: str) -> None:
        nonlocal dropped
        async with limit:
            while True:
                try:
                    connection = await asyncssh.connect(
                        host, config=[str(sshd.config)], known_hosts=str(sshd.known_hosts)
                    )
                    break
                except (asyncssh.ConnectionLost, ConnectionResetError):
                    dropped += 1
                    await asyncio.sleep(0.05)
            connections.append(connection)
            check(await connection.run("true"))

    async def run_again(connection: asyncssh.SSHClientConnection) -> None:
        async with limit:
            check(await connection.run("true"))

    try:
        started = time.perf_counter()
        await asyncio.gather(*(connect_and_run(h) for h in sshd.aliases))
        fresh = time.perf_counter() - started
        started = time.perf_counter()
        await asyncio.gather(*(run_again(c) for c in connections))
        again = time.perf_counter() - started
    finally:
        for connection in connections:
            connection.close()
        await asyncio.gather(*(c.wait_closed() for c in connections))
    return fresh, again, dropped


def fabric_round(sshd: Sshd) -> tuple[float, int]:
    config = Config(runtime_ssh_path=str(sshd.config))
    pending, dropped, groups = list(sshd.aliases), 0, []
    started = time.perf_counter()
    while pending:
        group = ThreadingGroup(*pending, config=config)
        for connection in group:
            connection.client.load_host_keys(str(sshd.known_hosts))
        groups.append(group)
        try:
            group.run("true", hide=True)
            pending = []
        except GroupException as exc:
            failed = [c.original_host for c, r in exc.result.items() if isinstance(r, Exception)]
            dropped += len(failed)
            pending = failed
    elapsed = time.perf_counter() - started
    for group in groups:
        group.close()
    return elapsed, dropped


def check(result: Any) -> None:
    if isinstance(result, Result):
        if not result.ok:
            raise SystemExit(f"golive failed: {result.error}")
    elif result.exit_status != 0:
        raise SystemExit(f"bare asyncssh: exit status {result.exit_status}")


async def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    check(await work())
    return time.perf_counter() - started


def measure(
    hosts: int, repeat: int, concurrency: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Wall times of each round, and the handshakes sshd dropped, by contender."""
    names = ("golive", "bare", "fabric", "golive2", "bare2")
    times: dict[str, list[float]] = {name: [] for name in names}
    drops = {"bare": 0, "fabric": 0}
    with (
        tempfile.TemporaryDirectory(prefix="golive-bench-") as tmp,
        Sshd.start(Path(tmp), aliases=hosts) as sshd,
    ):
        print(f"sshd on 127.0.0.1:{sshd.port}, {hosts} host aliases, concurrency {concurrency}")
        for round_ in range(repeat):
            order = ["golive", "bare", "fabric"]
            for who in order[round_ % 3 :] + order[: round_ % 3]:
                if who == "golive":
                    fresh, again = asyncio.run(golive_round(sshd, concurrency))
                    times["golive"].append(fresh)
                    times["golive2"].append(again)
                elif who == "bare":
                    fresh, again, dropped = asyncio.run(bare_round(sshd, concurrency))
                    times["bare"].append(fresh)
                    times["bare2"].append(again)
                    drops["bare"] += dropped
                else:
                    elapsed, dropped = fabric_round(sshd)
                    times["fabric"].append(elapsed)
                    drops["fabric"] += dropped
            done = ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items())
            print(f"  round {round_ + 1}: {done}")
    return times, drops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)  # it logs every dropped banner

    times, drops = measure(args.hosts, args.repeat, args.concurrency)
    med = {k: statistics.median(v) for k, v in times.items()}
    print()
    print(f"fresh connections, `true` on {args.hosts} hosts (median wall time):")
    print(f"  golive SshAction            {med['golive']:.3f}s")
    print(
        f"  bare asyncssh gather        {med['bare']:.3f}s  "
        f"({drops['bare'] / args.repeat:.0f} dropped handshakes retried per round)"
    )
    print(
        f"  Fabric ThreadingGroup       {med['fabric']:.3f}s  "
        f"({drops['fabric'] / args.repeat:.0f} hosts re-run per round after a dropped banner)"
    )
    print("second command, on open connections:")
    print(f"  golive SshAction            {med['golive2']:.3f}s")
    print(f"  bare asyncssh gather        {med['bare2']:.3f}s")
    ratios = [
        ("fresh golive / bare asyncssh", med["golive"] / med["bare"], FRESH_TARGET),
        ("fresh golive / Fabric", med["golive"] / med["fabric"], FABRIC_TARGET),
        ("fresh Fabric / bare asyncssh", med["fabric"] / med["bare"], None),
        ("open  golive / bare asyncssh", med["golive2"] / med["bare2"], OPEN_TARGET),
    ]
    print("ratios:")
    failed = False
    for name, ratio, target in ratios:
        verdict = "" if target is None else ("  ok" if ratio <= target else "  MISSED")
        bound = "" if target is None else f" (target <= {target})"
        failed |= verdict == "  MISSED"
        print(f"  {name:30s} {ratio:.2f}{bound}{verdict}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
