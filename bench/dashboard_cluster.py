"""Mission control on several replicas: 3 `golive serve` behind nginx on one PostgreSQL, pushed by
LISTEN/NOTIFY, 3,000 watchers spread over them, against the single-replica polling design.

    python bench/dashboard_cluster.py [--watchers 3000 --events 60 --interval 0.2 --replicas 3]
                                      [--only cluster|polling]

Both sides in one run, on one fresh PostgreSQL database (created here, dropped at the end;
GOLIVE_TEST_POSTGRES_URL names the server, default postgres@127.0.0.1:5432), one live run of a
one-step plan driven by a real `golive run` engine, and one user made with the CLI:

(a) polling: one `golive serve --no-listen` (the design before LISTEN/NOTIFY: the replica reads
    the store every 0.05 s per watched run), the watchers connected to it directly;
(b) cluster: `--replicas` replicas started by golive.testing.cluster (what scripts/cluster runs)
    behind nginx (upstream, HTTP/1.1, keep-alive, proxy_buffering off), the watchers connected
    to nginx, which spreads them round-robin.

The watchers are bench/dashboard_fanout.py's (`--role clients`, a process of its own: one raw
asyncio.Protocol per SSE stream, bytes timed as they arrive). The events are appended by another
process, as an engine appends: this process writes updates to the store
(`golive.engine.call.post_update`), one every --interval seconds, each text carrying
`fanout#I@T`, T = time.time() read just before the append; the commit happens right after. A
delivery's latency is the time its bytes are read by the watcher minus T (commit -> received,
plus the append itself). The server CPU is the sum over the replicas of their user+system time
from /proc over the event phase, divided by the deliveries (watchers x events); nginx's CPU is
shown beside it, not counted in it. Last line: `p99 N ms` (the cluster's).
Target: p99 < 250 ms at 3,000 watchers, and less CPU per delivery than polling.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
import dashboard_fanout as fanout  # the clients and the plan of the fan-out bench

from golive.testing.cluster import Cluster

ADMIN_URL = os.environ.get(
    "GOLIVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
P99_TARGET_MS = 250.0


@dataclass
class Outcome:
    name: str
    latencies: list[float]
    expected: int
    cpu_s: float
    nginx_cpu_s: float
    connect_s: float
    error: str | None
    clients_cpu_s: float = 0.0
    postgres_cpu_s: float = 0.0
    machine_cpu_s: float = 0.0  # every process of the machine, over the event phase
    seconds: float = 0.0  # the event phase's length

    @property
    def cpu_us_per_delivery(self) -> float:
        return self.cpu_s / self.expected * 1e6


@contextlib.contextmanager
def database() -> Iterator[str]:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"golive_bench_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextlib.contextmanager
def live_run(state: str, directory: Path) -> Iterator[tuple[str, str]]:
    """A user's token and the id of a run a real engine drives (waiting on a manual step)."""
    cli = fanout.golive_cli
    cli("user", "add", "bench", "--password-stdin", "--state", state, stdin="bench-pw-1\n")
    cli("user", "grant", "bench", "manager", "--plan", "fanout", "--state", state)
    token = cli("token", "create", "bench", "--state", state).strip()
    plan = directory / "fanout.golive.yaml"
    plan.write_text(fanout.PLAN, encoding="utf-8")
    engine = subprocess.Popen(
        [sys.executable, "-m", "golive", "run", str(plan), "--env", "bench", "--plain",
         "--as", "ops", "--state", state],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=directory,
    )  # fmt: skip
    try:
        assert engine.stdout is not None
        run_id = engine.stdout.readline().split()[1].decode()
        yield token, run_id
    finally:
        fanout.stop(engine)
        if engine.stdout is not None:
            engine.stdout.close()


def nginx_pids(master: int | None) -> list[int]:
    if master is None:
        return []
    pids = [master]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == master:
                    pids.append(int(entry.name))
    return pids


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
    return pids


def machine_cpu() -> float:
    """CPU seconds the whole machine spent busy (user, nice, system, irq, softirq)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    busy = sum(int(v) for i, v in enumerate(fields) if i not in (3, 4))  # not idle, iowait
    return busy / os.sysconf("SC_CLK_TCK")


def profile(
    pids: list[int], seconds: float, directory: Path | None
) -> list[subprocess.Popen[bytes]]:
    """py-spy on each replica over the event phase (--profile DIR), as collapsed stacks."""
    if directory is None:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    spies = []
    for pid in pids:
        out = directory / f"replica-{pid}.txt"
        command = [str(spy), "record", "-p", str(pid), "-d", str(int(seconds) + 1), "-r", "250",
                   "--format", "raw", "--nonblocking", "-o", str(out)]  # fmt: skip
        spies.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    return spies


def cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += fanout.cpu_seconds(pid)
    return total


def measure(
    name: str, cluster: Cluster, url: str, *, state: str, token: str, run_id: str,
    args: argparse.Namespace,
) -> Outcome:  # fmt: skip
    port = int(url.rsplit(":", 1)[1])
    replicas = [r.pid for r in cluster.replicas]
    proxies = nginx_pids(cluster.nginx_pid()) if url == cluster.url else []
    shares = [
        args.watchers // args.client_processes + (i < args.watchers % args.client_processes)
        for i in range(args.client_processes)
    ]
    watchers = []
    for share in shares:
        command = [sys.executable, fanout.__file__, "--role", "clients", "--port", str(port),
                   "--path", f"/api/runs/{run_id}/stream", "--token", token, "--watchers",
                   str(share), "--events", str(args.events), "--deadline",
                   str(args.events * args.interval + 90)]  # fmt: skip
        watchers.append(subprocess.Popen(command, stdout=subprocess.PIPE))
    expected = args.watchers * args.events
    report: dict[str, Any] = {"latencies": [], "error": None, "cpu_s": 0.0}
    try:
        readies = [_line(w) for w in watchers]
        ready = next((r for r in readies if "ready" not in r), None) or {
            "ready": args.watchers, "connect_s": max(r["connect_s"] for r in readies)
        }  # fmt: skip
        if "ready" not in ready:
            return Outcome(name, [], expected, 0.0, 0.0, 0.0, str(ready.get("error")))
        server_cpu, nginx_cpu = cpu(replicas), cpu(proxies)
        postgres = {pid: cpu([pid]) for pid in postgres_pids()}
        machine, started = machine_cpu(), time.monotonic()
        spies = profile(replicas, args.events * args.interval, args.profile)
        from golive.engine.call import post_update
        from golive.engine.events import Severity
        from golive.store import open_store

        with open_store(state) as store:
            run = store.get_run(run_id)
            begin = time.monotonic()
            for index in range(args.events):
                text = f"Bench update {index} fanout#{index}@{time.time():.6f}"
                post_update(store, run, text=text, severity=Severity.info, by="ops")
                time.sleep(max(0.0, begin + (index + 1) * args.interval - time.monotonic()))
        for one in (_line(w) for w in watchers):
            report["latencies"] += one.get("latencies", [])
            report["error"] = report["error"] or one.get("error")
            report["cpu_s"] += one.get("cpu_s", 0.0)
        server_cpu, nginx_cpu = cpu(replicas) - server_cpu, cpu(proxies) - nginx_cpu
        # the backends that lived through the phase (the replicas' and LISTEN's do)
        postgres_cpu = sum(cpu([p]) - t for p, t in postgres.items() if Path(f"/proc/{p}").exists())
        machine = machine_cpu() - machine
        seconds = time.monotonic() - started
        for spy in spies:
            spy.wait(60)
    finally:
        for process in watchers:
            fanout.stop(process)
            if process.stdout is not None:
                process.stdout.close()
    return Outcome(
        name, report.get("latencies", []), expected, server_cpu, nginx_cpu,
        ready["connect_s"], report.get("error"), report.get("cpu_s", 0.0), postgres_cpu,
        machine, seconds,
    )  # fmt: skip


def _line(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The next JSON line a clients process says."""
    assert process.stdout is not None
    said: dict[str, Any] = json.loads(process.stdout.readline() or b'{"error": "the clients died"}')
    return said


def show(outcome: Outcome, replicas: int) -> None:
    p50 = fanout.percentile(outcome.latencies, 0.50) * 1e3
    p99 = fanout.percentile(outcome.latencies, 0.99) * 1e3
    worst = max(outcome.latencies, default=float("nan")) * 1e3
    nginx = f", nginx {outcome.nginx_cpu_s:.1f} s (not counted)" if outcome.nginx_cpu_s else ""
    print(
        f"{outcome.name:8} {replicas} replica(s): delivered {len(outcome.latencies)}/"
        f"{outcome.expected}  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  max {worst:6.1f} ms  | "
        f"connect {outcome.connect_s:4.1f} s | server CPU {outcome.cpu_s:5.1f} s "
        f"({outcome.cpu_us_per_delivery:.0f} µs per delivery){nginx}"
        + (f"  | ERROR {outcome.error}" if outcome.error else "")
    )
    known = outcome.cpu_s + outcome.nginx_cpu_s + outcome.clients_cpu_s + outcome.postgres_cpu_s
    print(
        f"         event phase {outcome.seconds:.1f} s: machine busy {outcome.machine_cpu_s:.1f} "
        f"of {outcome.seconds * (os.cpu_count() or 1):.1f} CPU s; replicas {outcome.cpu_s:.1f}, "
        f"nginx {outcome.nginx_cpu_s:.1f}, clients {outcome.clients_cpu_s:.1f}, "
        f"postgres {outcome.postgres_cpu_s:.1f} (backends), other "
        f"{outcome.machine_cpu_s - known:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=3000)
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between events")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--only", choices=["cluster", "polling"])
    parser.add_argument(
        "--client-processes", type=int, default=2, metavar="N",
        help="spread the watchers over N processes (one core cannot read 3,000 streams in time)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=Path, metavar="DIR",
        help="py-spy the replicas over the event phase (stacks in DIR; pip install py-spy)",
    )  # fmt: skip
    args = parser.parse_args()
    fanout.raise_fd_limit()  # inherited by the servers and nginx
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; {args.watchers} watchers, {args.events} events, one every "
        f"{args.interval * 1e3:.0f} ms, appended to PostgreSQL by another process"
    )
    outcomes: dict[str, Outcome] = {}
    with (
        tempfile.TemporaryDirectory(prefix="golive-cluster-bench-") as temp,
        database() as state,
        live_run(state, Path(temp)) as (token, run_id),
    ):
        if args.only != "cluster":
            with Cluster.start(
                Path(temp) / "polling", state=state, replicas=1, serve_args=["--no-listen"]
            ) as single:
                outcomes["polling"] = measure(
                    "polling", single, single.replicas[0].url,
                    state=state, token=token, run_id=run_id, args=args,
                )  # fmt: skip
            show(outcomes["polling"], 1)
        if args.only != "polling":
            with Cluster.start(Path(temp) / "cluster", state=state, replicas=args.replicas) as many:
                outcomes["cluster"] = measure(
                    "cluster", many, many.url, state=state, token=token, run_id=run_id, args=args
                )
            show(outcomes["cluster"], args.replicas)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if "cluster" not in outcomes:
        return
    cluster = outcomes["cluster"]
    p99 = fanout.percentile(cluster.latencies, 0.99) * 1e3
    complete = len(cluster.latencies) == cluster.expected
    verdict = "ok" if p99 < P99_TARGET_MS and complete else "MISSED"
    if "polling" in outcomes:
        polling = outcomes["polling"]
        ratio = cluster.cpu_us_per_delivery / polling.cpu_us_per_delivery
        p99_polling = fanout.percentile(polling.latencies, 0.99) * 1e3
        print(
            f"cluster/polling: server CPU per delivery {ratio:.2f}, p99 "
            f"{p99 / p99_polling:.2f} (target: p99 < {P99_TARGET_MS:.0f} ms: {verdict}; "
            f"CPU per delivery below polling: {'ok' if ratio < 1 else 'MISSED'})"
        )
    print(f"p99 {p99:.0f} ms")


if __name__ == "__main__":
    main()
