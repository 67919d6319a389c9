"""A throwaway nginx in front of local upstream servers, and a client load, for testing traffic
steps: golive's own tests and benchmark use it, and so can a plan's author who wants to rehearse
a switch on one machine.

    with Upstream.start("v1") as v1, Upstream.start("v2") as v2:
        groups = {"blue": [v1.server], "green": [v2.server]}
        with NginxServer.start(tmp_path, upstreams=groups) as nginx:
            with Load.start(nginx.url, rate=200) as load:
                ...  # run a plan whose environment has `nginx: nginx.settings()`
            assert load.failed == []

The nginx is the machine's (Debian: `apt-get install nginx`), run as a daemon with its own
prefix directory (`-p`), config, pid file and logs, listening on a free loopback port; never
the system's nginx service or port 80. Its config is the one docs/traffic.md tells users to
write: golive's include file in `http {}`, `proxy_pass http://$golive_upstream;`, and the
JSON access log with `$golive_group`.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

START_TIMEOUT = 10.0
LOG_FORMAT = """log_format golive_json escape=json
    '{"time":"$time_iso8601","msec":"$msec","status":"$status",'
    '"method":"$request_method","uri":"$request_uri",'
    '"request_time":"$request_time","upstream":"$upstream_addr",'
    '"group":"$golive_group"}';"""


class NginxUnavailable(RuntimeError):
    """The machine has no nginx binary."""


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        raise NginxUnavailable(
            "nginx is missing: run scripts/services.sh, or install it (apt-get install nginx)"
        )
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- upstream servers --------------------------------------------------------------------------


class _UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx's upstream `keepalive` expects
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK wait
    server: _UpstreamHTTPServer

    def do_GET(self) -> None:
        upstream = self.server.upstream
        if self.path == "/metrics":
            status, body = 200, upstream.metrics().encode()
        else:
            started = time.monotonic()
            status = upstream.next_status()
            if upstream.delay:
                time.sleep(upstream.delay)
            body = f"{upstream.name}\n".encode()
            upstream.count(status, time.monotonic() - started)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _UpstreamHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    upstream: Upstream


BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0)


class Upstream:
    """A local HTTP/1.1 server whose answer body is its name: `v1` or `v2`. Every
    `error_every`-th request answers 500; each answer waits `delay` seconds. `/metrics` has
    Prometheus's text format: `upstream_requests_total{group, code}` and the histogram
    `upstream_request_seconds{group}`, labelled with `group` (default: the name)."""

    def __init__(
        self, name: str, *, error_every: int = 0, delay: float = 0.0, group: str | None = None
    ) -> None:
        self.name, self.error_every, self.delay = name, error_every, delay
        self.group = group or name
        self.requests = 0
        self._codes: dict[int, int] = {}
        self._buckets = [0] * (len(BUCKETS) + 1)
        self._seconds = 0.0
        self._lock = threading.Lock()
        self._server = _UpstreamHTTPServer(("127.0.0.1", 0), _UpstreamHandler)
        self._server.upstream = self
        self.server = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True

    @classmethod
    def start(
        cls, name: str, *, error_every: int = 0, delay: float = 0.0, group: str | None = None
    ) -> Upstream:
        upstream = cls(name, error_every=error_every, delay=delay, group=group)
        upstream._thread.start()
        return upstream

    def count(self, status: int, seconds: float) -> None:
        with self._lock:
            self._codes[status] = self._codes.get(status, 0) + 1
            index = next((i for i, le in enumerate(BUCKETS) if seconds <= le), len(BUCKETS))
            self._buckets[index] += 1
            self._seconds += seconds

    def metrics(self) -> str:
        label = f'group="{self.group}"'
        with self._lock:
            lines = [
                f'upstream_requests_total{{{label},code="{code}"}} {n}'
                for code, n in sorted(self._codes.items())
            ]
            total = 0
            for le, n in zip((*map(str, BUCKETS), "+Inf"), self._buckets, strict=True):
                total += n
                lines.append(f'upstream_request_seconds_bucket{{{label},le="{le}"}} {total}')
            lines.append(f"upstream_request_seconds_count{{{label}}} {total}")
            lines.append(f"upstream_request_seconds_sum{{{label}}} {self._seconds}")
        return "\n".join(lines) + "\n"

    def next_status(self) -> int:
        with self._lock:
            self.requests += 1
            count = self.requests
        return 500 if self.error_every and count % self.error_every == 0 else 200

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Upstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- nginx -------------------------------------------------------------------------------------


@dataclass
class NginxServer:
    """A running nginx: `url`, and the `settings()` of a plan's `nginx:` for it."""

    prefix: Path
    port: int
    upstreams: dict[str, list[str]]
    binary: str
    extra: str = ""  # more directives for the http {} block, as a user's config has

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def include(self) -> Path:
        return self.prefix / "golive" / "site.conf"

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "access.json.log"

    @property
    def pid_file(self) -> Path:
        return self.prefix / "nginx.pid"

    def settings(self) -> dict[str, Any]:
        """The `nginx:` mapping of a plan's environment that drives this nginx."""
        return {
            "binary": self.binary,
            "prefix": str(self.prefix),
            "config": str(self.config),
            "include": str(self.include),
            "pid": str(self.pid_file),
            "access_log": str(self.access_log),
            "upstreams": self.upstreams,
        }

    @classmethod
    def start(
        cls,
        directory: Path,
        *,
        upstreams: dict[str, list[str]],
        serving: str | None = None,
        extra: str = "",
    ) -> NginxServer:
        """Start nginx with golive's include file sending every request to `serving` (default:
        the first group), as a user's nginx would be before a switch; `extra` goes in its
        http {} block."""
        from golive.plan.models import NginxSettings
        from golive.traffic.config import Routing, render

        directory.mkdir(parents=True, exist_ok=True)
        server = cls(directory, free_port(), upstreams, nginx_binary(), extra)
        (directory / "logs").mkdir(exist_ok=True)
        groups = list(upstreams)
        first = serving or groups[0]
        other = next((g for g in groups if g != first), first)
        settings = NginxSettings.model_validate(server.settings())
        server.include.parent.mkdir(exist_ok=True)
        server.include.write_text(render(settings, Routing(first, other, 0.0), note="test setup"))
        for _ in range(3):
            server.config.write_text(server._main_config(), encoding="utf-8")
            started = subprocess.run(
                [server.binary, "-p", f"{directory}/", "-c", str(server.config)],
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT,
                check=False,
            )
            if started.returncode == 0:
                server._wait_listening()
                return server
            if "Address already in use" not in started.stderr:
                raise RuntimeError(f"nginx did not start: {started.stderr.strip()}")
            server.port = free_port()  # taken between free_port() and nginx's bind: another
        raise RuntimeError(f"nginx did not start: no free port in 3 tries ({started.stderr})")

    def _main_config(self) -> str:
        user = "user root root;\n" if os.geteuid() == 0 else ""
        return f"""{user}worker_processes 2;
pid {self.pid_file};
error_log {self.prefix / "logs" / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    {LOG_FORMAT}
    include {self.include};
    {self.extra}

    server {{
        listen 127.0.0.1:{self.port};
        access_log {self.access_log} golive_json;
        location / {{
            proxy_pass http://$golive_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.02)
        raise RuntimeError(f"nginx did not listen on 127.0.0.1:{self.port}: see {self.prefix}")

    def master_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        pid = self.master_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)  # TERM: fast shutdown of this nginx, which we started
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.02)

    def get(self, path: str = "/", headers: dict[str, str] | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read().decode().strip()
        finally:
            connection.close()

    def __enter__(self) -> NginxServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# --- the client load ---------------------------------------------------------------------------

# An exception raised before any byte of the answer arrived on a reused keep-alive connection:
# the server closed it while idle (as nginx's old workers do on a reload). Browsers and HTTP
# libraries send an idempotent request again on a fresh connection in that case, and so do we.
_CLOSED_BEFORE_ANSWER = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when the request was sent
    latency: float
    status: int  # 0: no answer
    body: str
    error: str | None = None
    retried: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass
class Load:
    """Clients sending GET requests to `url` at `rate` per second in all, over keep-alive
    connections, until stopped. An answer that is not a 200 is a failed request; a request is
    sent again only when a reused connection was closed before any byte of its answer."""

    url: str
    rate: float = 200.0
    clients: int = 4
    headers: dict[str, str] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(
        cls,
        url: str,
        *,
        rate: float = 200.0,
        clients: int = 4,
        headers: dict[str, str] | None = None,
    ) -> Load:
        load = cls(url, rate, clients, headers or {})
        for index in range(clients):
            thread = threading.Thread(target=load._client, name=f"load-{index}", daemon=True)
            load._threads.append(thread)
            thread.start()
        return load

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> Load:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def failed(self) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if not a.ok]

    def since(self, moment: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.at >= moment]

    def _client(self) -> None:
        host, port = self.url.removeprefix("http://").split(":")
        interval = self.clients / self.rate
        connection: http.client.HTTPConnection | None = None
        used = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += interval
            if connection is None:
                connection, used = http.client.HTTPConnection(host, int(port), timeout=10), 0
            answer, keep = self._ask(connection, reused=used > 0)
            if keep:
                used += 1
            else:
                connection.close()
                connection = None
            with self._lock:
                self.answers.append(answer)
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()
        if connection is not None:
            connection.close()

    def _ask(self, connection: http.client.HTTPConnection, *, reused: bool) -> tuple[Answer, bool]:
        started = time.monotonic()
        try:
            return self._once(connection, started), True
        except _CLOSED_BEFORE_ANSWER as exc:
            if not reused:
                return Answer(started, time.monotonic() - started, 0, "", repr(exc)), False
        except (OSError, http.client.HTTPException) as exc:
            return Answer(started, time.monotonic() - started, 0, "", repr(exc)), False
        connection.close()  # the same request again, on a fresh connection
        try:
            answer = self._once(connection, started)
        except (OSError, http.client.HTTPException) as exc:
            return Answer(started, time.monotonic() - started, 0, "", repr(exc), True), False
        return Answer(answer.at, answer.latency, answer.status, answer.body, None, True), True

    def _once(self, connection: http.client.HTTPConnection, started: float) -> Answer:
        connection.request("GET", "/", headers=self.headers)
        response = connection.getresponse()
        body = response.read().decode().strip()
        if response.will_close:
            connection.close()
        return Answer(started, time.monotonic() - started, response.status, body)
