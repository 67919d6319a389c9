"""Several `golive serve` replicas behind one nginx on loopback, against one state store: what
`scripts/cluster`, the cluster tests and bench/dashboard_cluster.py start.

    with Cluster.start(tmp_path / "cluster", state=url, replicas=2) as cluster:
        cluster.url                # nginx, the one address the browsers use
        cluster.replicas[0].url    # one replica, bypassing nginx
        cluster.kill(0)            # SIGKILL a replica by its PID, as a crash would

From a shell (the processes outlive the command; `stop` reads the directory's cluster.json):

    python -m golive.testing.cluster start --state URL [--replicas 3] [--dir DIR] [--plan P]
    python -m golive.testing.cluster stop [--dir DIR]

The nginx config is the one docs/web.md shows an operator: an upstream of the replicas with
keep-alive connections, HTTP/1.1 to them, `proxy_buffering off` (each SSE message leaves at
once), long read timeouts for the streams, and the next replica tried when one does not answer.
The replicas believe X-Forwarded-For from nginx only (`--trusted-proxy 127.0.0.1`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from golive.testing.nginx import free_port, nginx_binary

START_TIMEOUT = 60.0
STATE_FILE = "cluster.json"


@dataclass
class Replica:
    """One `golive serve` process."""

    pid: int
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return Path(f"/proc/{self.pid}").exists()


def served_by(upstream: str) -> str:
    """The replica that answered, from nginx's X-Upstream: nginx lists every replica it tried
    ("dead:port, live:port" after a replica died), the last one served."""
    return upstream.rsplit(",", 1)[-1].strip()


@dataclass
class Cluster:
    directory: Path
    state: str
    port: int
    replicas: list[Replica] = field(default_factory=list)
    show_upstream: bool = False  # tests: nginx names the replica of each answer (X-Upstream)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def nginx_pid_file(self) -> Path:
        return self.directory / "nginx.pid"

    def nginx_pid(self) -> int | None:
        try:
            return int(self.nginx_pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    @classmethod
    def start(
        cls,
        directory: Path,
        *,
        state: str,
        replicas: int = 2,
        plans: list[Path] | None = None,
        detach: bool = False,
        serve_args: list[str] | None = None,
        show_upstream: bool = False,
    ) -> Cluster:
        """Start `replicas` replicas on free ports, then nginx in front of them; each has
        answered /api/health before this returns. `detach`: the processes outlive this one;
        `serve_args`: more options of `golive serve` (e.g. --no-listen)."""
        directory.mkdir(parents=True, exist_ok=True)
        cluster = cls(directory, state, free_port(), show_upstream=show_upstream)
        try:
            for index in range(replicas):
                cluster.replicas.append(
                    _serve(directory, state, index, plans or [], detach, serve_args or [])
                )
            for replica in cluster.replicas:
                _wait_healthy(replica)
            cluster._start_nginx()
            cluster.save()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def config(self) -> str:
        """nginx.conf: the upstream of the replicas, for Server-Sent Events."""
        user = "user root root;\n" if os.geteuid() == 0 else ""
        servers = "\n".join(
            f"        server 127.0.0.1:{r.port} max_fails=1 fail_timeout=5s;" for r in self.replicas
        )
        logs = self.directory / "logs"
        upstream = "add_header X-Upstream $upstream_addr always;" if self.show_upstream else ""
        return f"""{user}worker_processes auto;
worker_rlimit_nofile 65536;
pid {self.nginx_pid_file};
error_log {logs / "error.log"} warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    upstream golive {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            proxy_pass http://golive;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_cache off;
            proxy_connect_timeout 2s;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_next_upstream error timeout http_502 http_503;
            {upstream}
        }}
    }}
}}
"""

    def _start_nginx(self) -> None:
        (self.directory / "logs").mkdir(exist_ok=True)
        config = self.directory / "nginx.conf"
        for _ in range(3):
            config.write_text(self.config(), encoding="utf-8")
            started = subprocess.run(
                [nginx_binary(), "-p", f"{self.directory}/", "-c", str(config)],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if started.returncode == 0:
                _wait_port(self.port)
                return
            if "Address already in use" not in started.stderr:
                raise RuntimeError(f"nginx did not start: {started.stderr.strip()}")
            self.port = free_port()
        raise RuntimeError(f"nginx did not start: no free port in 3 tries ({started.stderr})")

    def index_of(self, upstream: str) -> int:
        """The index of the replica nginx names in X-Upstream (`127.0.0.1:PORT`)."""
        port = int(upstream.rsplit(":", 1)[1])
        return next(i for i, r in enumerate(self.replicas) if r.port == port)

    def kill(self, index: int) -> int:
        """SIGKILL replica `index` (a crash: no goodbye to its watchers); its PID."""
        replica = self.replicas[index]
        with contextlib.suppress(ProcessLookupError):
            os.kill(replica.pid, signal.SIGKILL)
        if replica.process is not None:
            replica.process.wait(10)
        return replica.pid

    def stop(self) -> None:
        """Stop nginx and every replica this cluster started."""
        pid = self.nginx_pid()
        if pid is not None:
            _end(pid, signal.SIGTERM)
        for replica in self.replicas:
            if replica.alive():
                _end(replica.pid, signal.SIGTERM)
            if replica.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    replica.process.wait(1)
        with contextlib.suppress(FileNotFoundError):
            (self.directory / STATE_FILE).unlink()

    def save(self) -> None:
        saved = {
            "state": self.state,
            "port": self.port,
            "replicas": [{"pid": r.pid, "port": r.port, "log": str(r.log)} for r in self.replicas],
        }
        (self.directory / STATE_FILE).write_text(json.dumps(saved, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> Cluster:
        saved = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        replicas = [Replica(r["pid"], r["port"], Path(r["log"])) for r in saved["replicas"]]
        return cls(directory, saved["state"], saved["port"], replicas)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class Received:
    seq: int
    type: str
    at: float  # time.monotonic() when its bytes were read
    data: str


class Follower:
    """A watcher of a run's live stream, in a thread, that reconnects as a browser does: after
    a dropped stream it asks again with `Last-Event-ID` (the last seq it received), through the
    same `url` (nginx, which picks a live replica)."""

    def __init__(self, url: str, run_id: str, token: str, *, after: int | None = None) -> None:
        self.url, self.run_id, self.token, self.after = url, run_id, token, after
        self.received: list[Received] = []
        self.connections = 0  # streams opened (1 + reconnections)
        self.upstreams: list[str] = []  # the replica of each stream (nginx's X-Upstream), if shown
        self.presence: list[list[str]] = []
        self._stop = threading.Event()
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def start(self) -> Follower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.close()
        self._thread.join(10)

    @property
    def seqs(self) -> list[int]:
        return [r.seq for r in self.received]

    def wait(self, predicate: Callable[[Follower], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the watcher did not see it in {timeout} s: it received {self.seqs} over "
                    f"{self.connections} connection(s)"
                )
            time.sleep(0.01)

    def _follow(self) -> None:
        while not self._stop.is_set():
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
            params = {}
            if self.received:
                headers["Last-Event-ID"] = str(self.received[-1].seq)
            elif self.after is not None:
                params["after"] = str(self.after)
            path = f"{self.url}/api/runs/{self.run_id}/stream"
            try:
                timeout = httpx.Timeout(5.0, read=30.0)  # a keep-alive comes every 15 s
                asked = httpx.stream("GET", path, headers=headers, params=params, timeout=timeout)
                with asked as response:
                    if response.status_code != 200:
                        time.sleep(0.2)
                        continue
                    self.upstreams.append(served_by(response.headers.get("x-upstream", "")))
                    self.connections += 1
                    self._read(response)
            except (httpx.HTTPError, RuntimeError):  # dropped (RuntimeError: closed by stop)
                pass
            finally:
                self._response = None
            time.sleep(0.1)  # a browser's EventSource waits a moment too

    def _read(self, response: httpx.Response) -> None:
        buffer = ""
        self._response = response
        for text in response.iter_text():
            buffer += text
            *messages, buffer = buffer.split("\n\n")
            for message in messages:
                fields: dict[str, str] = {}
                for line in message.split("\n"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
                if fields.get("event") == "presence":
                    watchers = json.loads(fields.get("data", "{}")).get("watchers", [])
                    self.presence.append(sorted(w["user"] for w in watchers))
                elif "id" in fields:
                    received = Received(
                        int(fields["id"]), fields.get("event", ""), time.monotonic(),
                        fields.get("data", ""),
                    )  # fmt: skip
                    self.received.append(received)


def _serve(
    directory: Path, state: str, index: int, plans: list[Path], detach: bool, extra: list[str]
) -> Replica:
    port = free_port()
    log = directory / f"replica-{index}.log"
    command = [
        *(sys.executable, "-m", "golive", "serve", "--state", state),
        *("--host", "127.0.0.1", "--port", str(port), "--trusted-proxy", "127.0.0.1"),
    ]
    for plan in plans:
        command += ["--plan", str(plan)]
    command += extra
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=directory,
            start_new_session=detach,
        )
    return Replica(process.pid, port, log, None if detach else process)


def _wait_healthy(replica: Replica) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not replica.alive():
            tail = replica.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"golive serve (pid {replica.pid}) exited: {tail}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{replica.url}/api/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"golive serve (pid {replica.pid}) did not answer in {START_TIMEOUT} s")


def _wait_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port}")


def _end(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.05)
    if _running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/cluster",
        description="N `golive serve` replicas behind nginx on loopback, on one state store.",
    )
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--state", default=os.environ.get("GOLIVE_STATE"), help="the store URL")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(".golive-cluster"))
    parser.add_argument("--plan", type=Path, action="append", default=[])
    args = parser.parse_args(argv)
    directory = args.dir.absolute()
    if args.action == "start":
        if (directory / STATE_FILE).exists():
            print(f"a cluster runs from {directory} already: `scripts/cluster stop` first")
            return 1
        if not args.state:
            print("no state store: pass --state postgresql+psycopg://... or set GOLIVE_STATE")
            return 2
        if args.replicas < 1:
            print(f"--replicas {args.replicas}: give 1 or more")
            return 2
        try:
            cluster = Cluster.start(
                directory, state=args.state, replicas=args.replicas, plans=args.plan, detach=True
            )
        except RuntimeError as exc:
            print(f"cannot start the cluster: {exc}")
            return 1
        print(f"mission control on {cluster.url}/ (nginx pid {cluster.nginx_pid()})")
        for index, replica in enumerate(cluster.replicas):
            print(f"  replica {index}: {replica.url} pid {replica.pid} (log {replica.log})")
        print(f"stop it with `scripts/cluster stop --dir {args.dir}`")
        return 0
    if not (directory / STATE_FILE).exists():
        print(f"no cluster runs from {directory}: start one with `scripts/cluster start`")
        return 1 if args.action == "status" else 0
    cluster = Cluster.load(directory)
    if args.action == "status":
        print(f"mission control on {cluster.url}/ (nginx pid {cluster.nginx_pid()})")
        for index, replica in enumerate(cluster.replicas):
            state = "running" if replica.alive() else "stopped"
            print(f"  replica {index}: {replica.url} pid {replica.pid} {state}")
        return 0
    cluster.stop()
    print(f"stopped nginx and {len(cluster.replicas)} replicas")
    return 0


if __name__ == "__main__":
    sys.exit(main())
