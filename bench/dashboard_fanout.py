"""Mission control's live fan-out: 1,000 watchers of one run, 100 events, delivery latency.

    python bench/dashboard_fanout.py [--watchers 1000 --events 100 --interval 0.1 --repeat 1]
                                     [--via api|store] [--only golive|baseline]

(a) golive: a fresh SQLite store, a user made by the CLI (`golive user add`, `grant manager`,
`token create`), a real `golive run` of a one-step plan waiting on a manual step (so the run is
live), and `golive serve` in a subprocess. (b) the baseline: the smallest broadcaster that does
the same job, a bare Starlette SSE endpoint on uvicorn fed by one in-process asyncio.Queue per
watcher (`--role baseline`, a subprocess too). Same clients, same events, same pacing for both.

The watchers run in a third process (`--role clients`), so the server under test has a core to
itself on a 2-core machine as far as the machine allows: one asyncio.Protocol per watcher on a raw
socket (no HTTP library; bytes are timed as they arrive in data_received), each a GET of
/api/runs/RUN/stream (the baseline: /stream) with the user's bearer token, chunked transfer
decoded, SSE messages split on blank lines. When all are connected and the streams have been quiet
for 0.5 s (presence messages settle), this process posts --events updates, one every --interval
seconds, through the API (POST /api/runs/RUN/updates; the baseline: POST /publish). Each update's
text carries `fanout#I@T`, T = time.time() read just before the POST is sent; a watcher's latency
for it is time.time() when the bytes holding it are read, minus T. So a latency covers the whole
path: the HTTP request, authentication and permission check, the append (committed to SQLite), the
fan-out, and the client's own wake-up; all processes read the same system clock. With --via store,
the driver appends the updates to the store itself (`golive.engine.call.post_update`), as the
engine process appends its events: the server then finds them on its tail of the store (polled
every 0.05 s), which the latency includes; the baseline is unchanged. p50 and p99 are over every
(watcher, event) delivery. The server's memory is the RSS of its process (VmRSS) idle, with the
watchers connected after the events, and its peak (VmHWM); its CPU seconds are counted over the
event phase.
Target: golive p99 < 250 ms; the ratio golive/baseline is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx

P99_TARGET_MS = 250.0
MARKER = re.compile(rb"fanout#(\d+)@(\d+\.\d+)")
PLAN = """\
golive: fanout
title: Fan-out benchmark
people:
  ops: {name: Ops, role: release manager}
environments:
  bench: {}
steps:
  - {id: wait, owner: ops, manual: Watch the updates come in}
"""


# --- the clients (a process of their own) ---------------------------------------------------------


@dataclass
class Tally:
    events: int
    latencies: list[float]
    complete: int = 0
    failed: int = 0
    last_bytes: float = 0.0


class Chunked:
    """Incremental decoder of an HTTP/1.1 chunked body: feed() bytes, get payload bytes."""

    def __init__(self) -> None:
        self.buffer = b""
        self.left = 0  # payload bytes still due in the current chunk
        self.trail = 0  # bytes of the CRLF after it still due

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        out = bytearray()
        while True:
            if self.left:
                out += self.buffer[: self.left]
                taken = min(self.left, len(self.buffer))
                self.buffer, self.left = self.buffer[taken:], self.left - taken
                if self.left:
                    break
            if self.trail:
                taken = min(self.trail, len(self.buffer))
                self.buffer, self.trail = self.buffer[taken:], self.trail - taken
                if self.trail:
                    break
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                break
            self.buffer, self.left, self.trail = rest, int(line.split(b";")[0], 16), 2
        return bytes(out)


class Watcher(asyncio.Protocol):
    """One SSE connection, as a Protocol: bytes are timed in data_received, with no stream
    machinery between the socket and the clock."""

    def __init__(self, request: bytes, tally: Tally) -> None:
        self.request, self.tally = request, tally
        self.head = b""
        self.decoder: Chunked | None = None
        self.body = False
        self.pending = b""
        self.seen: set[int] = set()
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.tally.last_bytes = now
        if not self.body:
            self.head += data
            head, separator, data = self.head.partition(b"\r\n\r\n")
            if not separator:
                return
            if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                self.fail(RuntimeError(head.decode(errors="replace").splitlines()[0]))
                return
            self.body = True
            self.decoder = Chunked() if b"transfer-encoding: chunked" in head.lower() else None
            self.connected.set_result(None)
        self.pending += self.decoder.feed(data) if self.decoder else data
        *messages, self.pending = self.pending.split(b"\n\n")
        for message in messages:
            found = MARKER.search(message)
            if found and int(found[1]) not in self.seen:
                self.seen.add(int(found[1]))
                self.tally.latencies.append(now - float(found[2]))
                if len(self.seen) == self.tally.events:
                    self.tally.complete += 1

    def fail(self, error: Exception) -> None:
        self.tally.failed += 1
        for future in (self.connected, self.closed):
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.fail(exc or RuntimeError("the server closed the stream"))


async def clients(args: argparse.Namespace) -> None:
    raise_fd_limit()
    loop = asyncio.get_running_loop()
    host, port = args.host, args.port
    request = (
        f"GET {args.path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
        f"Authorization: Bearer {args.token}\r\nCache-Control: no-cache\r\n\r\n"
    ).encode()
    tally = Tally(args.events, [])
    slots = asyncio.Semaphore(100)  # connect in waves: the listen backlog is finite
    watchers: list[Watcher] = []

    async def one() -> None:
        async with slots:
            _, watcher = await loop.create_connection(lambda: Watcher(request, tally), host, port)
            watchers.append(watcher)
            await watcher.connected

    started = time.time()
    try:
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(args.watchers))), 180)
    except (OSError, RuntimeError, TimeoutError) as error:
        say({"error": f"watchers failed to connect: {error!r}"})
        return
    while time.time() - max(tally.last_bytes, started) < 0.5:  # presence messages settle
        await asyncio.sleep(0.1)
    cpu = time.process_time()
    say({"ready": args.watchers, "connect_s": time.time() - started})
    deadline = time.monotonic() + args.deadline
    while tally.complete < args.watchers and not tally.failed and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    errors = [w.closed.exception() for w in watchers if w.closed.done()]
    for watcher in watchers:
        watcher.close()
    await asyncio.sleep(0)
    say({
        "latencies": tally.latencies,
        "complete": tally.complete,
        "failed": tally.failed,
        "error": repr(errors[0]) if errors else None,
        "cpu_s": time.process_time() - cpu,
    })  # fmt: skip


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def raise_fd_limit() -> None:
    """1,000 sockets need more than the usual soft limit of 1,024 file descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# --- the baseline broadcaster (a process of its own) ----------------------------------------------


def baseline(args: argparse.Namespace) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    queues: set[asyncio.Queue[bytes]] = set()
    sequence = 0

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def stream(_: Request) -> Response:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        queues.add(queue)

        async def body() -> Any:
            try:
                yield b": connected\n\n"
                while True:
                    yield await queue.get()
            finally:
                queues.discard(queue)

        return StreamingResponse(body(), media_type="text/event-stream")

    async def publish(request: Request) -> Response:
        nonlocal sequence
        sequence += 1
        data = {**await request.json(), "type": "UpdatePosted", "seq": sequence, "at": time.time()}
        message = f"id: {sequence}\nevent: UpdatePosted\ndata: {json.dumps(data)}\n\n".encode()
        for queue in queues:
            queue.put_nowait(message)
        return JSONResponse({"seq": sequence}, status_code=201)

    routes = [
        Route("/api/health", health),
        Route("/stream", stream),
        Route("/publish", publish, methods=["POST"]),
    ]
    raise_fd_limit()
    uvicorn.run(Starlette(routes=routes), host=args.host, port=args.port, log_level="warning")


# --- the driver -----------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    stream_path: str
    publish_path: str
    token: str
    state: str | None = None  # the golive store's URL
    run_id: str = ""


@dataclass
class Outcome:
    name: str
    latencies: list[float]
    expected: int
    connect_s: float
    rss_idle: int
    rss_loaded: int
    rss_peak: int
    cpu_s: float
    clients_cpu_s: float
    error: str | None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def golive_cli(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "golive", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"golive {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"{url}/api/health did not answer in 60 s")


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_server(command: list[str], directory: Path, name: str) -> tuple[subprocess.Popen[bytes],
                                                                          str, Path]:  # fmt: skip
    port = free_port()
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, cwd=directory
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
    except BaseException:
        stop(process)
        raise
    return process, url, log


@contextlib.contextmanager
def golive_target(directory: Path) -> Iterator[Target]:
    """A fresh store with a user and a live run, and `golive serve` on it."""
    state = f"sqlite:///{directory / 'state.db'}"
    golive_cli("user", "add", "bench", "--password-stdin", "--state", state, stdin="bench-pw-1\n")
    golive_cli("user", "grant", "bench", "manager", "--plan", "fanout", "--state", state)
    token = golive_cli("token", "create", "bench", "--state", state).strip()
    plan = directory / "fanout.golive.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    engine = subprocess.Popen(
        [sys.executable, "-m", "golive", "run", str(plan), "--env", "bench", "--plain",
         "--as", "ops", "--state", state],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=directory,
    )  # fmt: skip
    try:
        assert engine.stdout is not None
        run_id = engine.stdout.readline().split()[1].decode()
        process, url, _ = start_server(
            [sys.executable, "-m", "golive", "serve", "--state", state], directory, "golive"
        )
        try:
            yield Target(
                "golive", process, url, f"/api/runs/{run_id}/stream",
                f"/api/runs/{run_id}/updates", token, state, run_id,
            )  # fmt: skip
        finally:
            stop(process)
    finally:
        stop(engine)
        if engine.stdout is not None:
            engine.stdout.close()


@contextlib.contextmanager
def baseline_target(directory: Path) -> Iterator[Target]:
    command = [sys.executable, __file__, "--role", "baseline"]
    process, url, _ = start_server(command, directory, "baseline")
    try:
        yield Target("baseline", process, url, "/stream", "/publish", "none")
    finally:
        stop(process)


def memory(pid: int) -> tuple[int, int]:
    """RSS and peak RSS of a process, in bytes."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def cpu_seconds(pid: int) -> float:
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def publisher(target: Target, via: str) -> Iterator[Callable[[str], None]]:
    """Posts one update: through the API, or (--via store, golive only) appended to the store by
    this process, as the engine appends its events, so the server sees it on its store tail."""
    if via == "store" and target.state is not None:
        from golive.engine.call import post_update
        from golive.engine.events import Severity
        from golive.store import open_store

        with open_store(target.state) as store:
            run = store.get_run(target.run_id)

            def append(text: str) -> None:
                post_update(store, run, text=text, severity=Severity.info, by="ops")

            yield append
        return
    headers = {"Authorization": f"Bearer {target.token}"}
    with httpx.Client(base_url=target.url, headers=headers, timeout=30) as client:

        def post(text: str) -> None:
            answer = client.post(target.publish_path, json={"text": text, "severity": "info"})
            if answer.status_code >= 300:
                raise SystemExit(f"{target.name}: POST {answer.status_code} {answer.text}")

        yield post


def measure(target: Target, args: argparse.Namespace) -> Outcome:
    port = int(target.url.rsplit(":", 1)[1])
    rss_idle, _ = memory(target.process.pid)
    watchers = subprocess.Popen(
        [sys.executable, __file__, "--role", "clients", "--port", str(port), "--path",
         target.stream_path, "--token", target.token, "--watchers", str(args.watchers),
         "--events", str(args.events), "--deadline", str(args.events * args.interval + 60)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert watchers.stdout is not None
    try:
        ready = json.loads(watchers.stdout.readline() or b'{"error": "the clients died"}')
        if "ready" not in ready:
            raise SystemExit(f"{target.name}: {ready['error']}")
        cpu = cpu_seconds(target.process.pid)
        with publisher(target, args.via) as publish:
            begin = time.monotonic()
            for index in range(args.events):
                publish(f"Bench update {index} fanout#{index}@{time.time():.6f}")
                time.sleep(max(0.0, begin + (index + 1) * args.interval - time.monotonic()))
        report = json.loads(watchers.stdout.readline() or b'{"error": "the clients died"}')
        cpu = cpu_seconds(target.process.pid) - cpu
        rss_loaded, rss_peak = memory(target.process.pid)
    finally:
        stop(watchers)
        watchers.stdout.close()
    return Outcome(
        target.name,
        report.get("latencies", []),
        args.watchers * args.events,
        ready["connect_s"],
        rss_idle,
        rss_loaded,
        rss_peak,
        cpu,
        report.get("cpu_s", float("nan")),
        report.get("error"),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def show(outcome: Outcome) -> tuple[float, float, float]:
    """Print one measurement; p50 and p99 in ms, and server CPU µs per delivery."""
    p50 = percentile(outcome.latencies, 0.50) * 1e3
    p99 = percentile(outcome.latencies, 0.99) * 1e3
    worst = max(outcome.latencies, default=float("nan")) * 1e3
    mib = 1024 * 1024
    per_delivery = outcome.cpu_s / outcome.expected * 1e6
    print(
        f"{outcome.name:8} delivered {len(outcome.latencies)}/{outcome.expected}  "
        f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  max {worst:6.1f} ms  | connect "
        f"{outcome.connect_s:4.1f} s  | server RSS idle {outcome.rss_idle / mib:5.1f} MiB, "
        f"{outcome.rss_loaded / mib:5.1f} MiB with the watchers, peak "
        f"{outcome.rss_peak / mib:5.1f} MiB  | CPU s: server {outcome.cpu_s:4.1f} "
        f"({per_delivery:.0f} µs per delivery), clients {outcome.clients_cpu_s:4.1f}"
        + (f"  | ERROR {outcome.error}" if outcome.error else "")
    )
    return p50, p99, per_delivery


def drive(args: argparse.Namespace) -> None:
    raise_fd_limit()  # inherited by the servers
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; {args.watchers} watchers, {args.events} events, one every "
        f"{args.interval * 1e3:.0f} ms"
    )
    results: dict[str, list[tuple[float, float, float]]] = {"golive": [], "baseline": []}
    incomplete = False
    for _ in range(args.repeat):
        for make in (golive_target, baseline_target):
            if args.only and make.__name__ != f"{args.only}_target":
                continue
            with (
                tempfile.TemporaryDirectory(prefix="golive-fanout-") as temp,
                make(Path(temp)) as target,
            ):
                outcome = measure(target, args)
            results[target.name].append(show(outcome))
            incomplete |= len(outcome.latencies) < outcome.expected
    if args.only:
        return
    g50, g99, g_cpu = (statistics.median(r[i] for r in results["golive"]) for i in (0, 1, 2))
    b50, b99, b_cpu = (statistics.median(r[i] for r in results["baseline"]) for i in (0, 1, 2))
    verdict = "ok" if g99 < P99_TARGET_MS and not incomplete else "MISSED"
    print(
        f"golive p99 {g99:.1f} ms (target < {P99_TARGET_MS:.0f} ms: {verdict}); ratio "
        f"golive/baseline: p50 {g50 / b50:.2f}, p99 {g99 / b99:.2f}, server CPU per delivery "
        f"{g_cpu / b_cpu:.2f} (latency depends on the machine's load, CPU per delivery less)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between events")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--via",
        choices=["api", "store"],
        default="api",
        help="how golive's events are appended: POST /updates, or by another process (the store)",
    )
    parser.add_argument("--only", choices=["golive", "baseline"], help="measure one side only")
    parser.add_argument("--role", choices=["driver", "clients", "baseline"], default="driver")
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--path", default="/stream", help=argparse.SUPPRESS)
    parser.add_argument("--token", default="none", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, default=120, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "clients":
        try:  # the servers run on uvloop (uvicorn picks it): so do the watchers, when installed
            import uvloop
        except ImportError:
            asyncio.run(clients(args))
        else:
            uvloop.run(clients(args))
    elif args.role == "baseline":
        baseline(args)
    else:
        drive(args)


if __name__ == "__main__":
    main()
