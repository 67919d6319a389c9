"""A throwaway Prometheus for testing the Prometheus source of canary analysis: the machine's
(Debian: `apt-get install prometheus`), on a free loopback port, scraping the given targets
every second, its data in a directory of its own.

    with PrometheusServer.start(tmp_path, targets=[v1.server, v2.server]) as prometheus:
        ...  # analysis: {prometheus: {url: prometheus.url, error_rate: ...}}

`golive.testing.nginx.Upstream` servers expose the metrics to scrape.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from golive.testing.nginx import free_port

START_TIMEOUT = 30.0


class PrometheusUnavailable(RuntimeError):
    """The machine has no prometheus binary."""


@dataclass
class PrometheusServer:
    """The machine's Prometheus (Debian: `apt-get install prometheus`) on a free loopback port,
    scraping `targets` (host:port) every second, its data in `directory`."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, directory: Path, *, targets: list[str]) -> PrometheusServer:
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        if not Path(binary).exists():
            raise PrometheusUnavailable(
                "prometheus is missing: run scripts/services.sh (apt-get install prometheus)"
            )
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - {{job_name: upstreams, static_configs: [{{targets: {targets!r}}}]}}\n"
        )
        port = free_port()
        with (directory / "prometheus.log").open("wb") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={directory / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = cls(directory, port, process)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            # ready, and every target scraped once (the first scrape can take seconds)
            if server._scraped() >= len(targets):
                return server
            if process.poll() is not None:
                break
            time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"prometheus did not start: see {directory / 'prometheus.log'}")

    def _scraped(self) -> int:
        """How many targets are up, as Prometheus itself reports (0 while it starts)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/api/v1/query?query=count(up%3D%3D1)")
            body = json.loads(connection.getresponse().read())
            return int(body["data"]["result"][0]["value"][1])
        except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError):
            return 0
        finally:
            connection.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> PrometheusServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
