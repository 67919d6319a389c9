"""A throwaway authoritative DNS server (the machine's BIND 9) for testing `dns:` steps: golive's
own tests use it, and so can a plan's author who wants to rehearse a cutover on one machine.

    with BindServer.start(tmp_path / "ns1", records=["www 300 A 192.0.2.1"]) as ns1:
        ...  # a plan whose dns step has server: ns1.server, tsig: {name: ns1.key_name, ...}
        assert ns1.query("www.example.test", "A") == ["192.0.2.1"]

Each server is `named -g` (foreground, logging to stderr) with its own config, zone file and
TSIG key in a temporary directory, listening on a free loopback port; never the system's named
service or port 53. `secondary_of=` starts a secondary that transfers the zone from a primary
(which notifies it of each change), to test waiting for every authoritative server.
Debian: `apt-get install bind9` (scripts/services.sh does it).
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from golive.testing.nginx import free_port

START_TIMEOUT = 15.0
KEY_NAME = "golive-test-key"


class BindUnavailable(RuntimeError):
    """The machine has no named binary."""


def named_binary() -> str:
    found = shutil.which("named") or (
        "/usr/sbin/named" if Path("/usr/sbin/named").exists() else None
    )
    if found is None:
        raise BindUnavailable(
            "named is missing: run scripts/services.sh, or install it (apt-get install bind9)"
        )
    return found


def new_key() -> str:
    """A fresh HMAC-SHA256 key in the base64 form tsig-keygen prints."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class BindServer:
    """A running named: `server` (host:port for a plan), the zone and its TSIG key."""

    directory: Path
    zone: str
    port: int
    key: str
    key_name: str = KEY_NAME
    process: subprocess.Popen[bytes] | None = None

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def zone_file(self) -> Path:
        return self.directory / f"{self.zone}.zone"

    @property
    def log(self) -> Path:
        return self.directory / "named.log"

    @classmethod
    def start(
        cls,
        directory: Path,
        *,
        zone: str = "example.test",
        records: list[str] | None = None,
        key: str | None = None,
        secondary_of: BindServer | None = None,
        notify: list[int] | None = None,
        port: int | None = None,
    ) -> BindServer:
        """Start named serving `zone` (primary: with `records`, lines of a zone file relative
        to the zone; secondary: transferred from `secondary_of`); a primary notifies the
        secondaries on the `notify` ports of each change."""
        directory.mkdir(parents=True, exist_ok=True)
        server = cls(directory, zone.rstrip("."), port or free_port(), key or new_key())
        if secondary_of is not None:
            server.key, server.key_name = secondary_of.key, secondary_of.key_name
        else:
            server.zone_file.write_text(server._zone_text(records or []), encoding="utf-8")
        conf = directory / "named.conf"
        conf.write_text(server._config(secondary_of, notify or []), encoding="utf-8")
        log = server.log.open("wb")
        server.process = subprocess.Popen(
            [named_binary(), "-g", "-c", str(conf), "-4"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
        )
        log.close()
        server._wait_serving()
        return server

    def _zone_text(self, records: list[str]) -> str:
        lines = [
            f"$ORIGIN {self.zone}.",
            "$TTL 300",
            f"@ 300 IN SOA ns1.{self.zone}. hostmaster.{self.zone}. 1 3600 600 86400 60",
            f"@ 300 IN NS ns1.{self.zone}.",
            "ns1 300 IN A 127.0.0.1",
            *records,
        ]
        return "\n".join(lines) + "\n"

    def _config(self, primary: BindServer | None, notify: list[int]) -> str:
        d = self.directory
        if primary is None:
            targets = "; ".join(f"127.0.0.1 port {port}" for port in notify)
            zone = (
                f'type primary; file "{self.zone_file}"; '
                f'allow-update {{ key "{self.key_name}"; }}; allow-transfer {{ any; }}; '
                + (f"notify explicit; also-notify {{ {targets}; }};" if notify else "notify no;")
            )
        else:
            zone = (
                f'type secondary; file "{self.zone_file}"; '
                f"primaries {{ 127.0.0.1 port {primary.port}; }}; "
                "allow-notify { 127.0.0.1; };"
            )
        return f"""\
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify-source 127.0.0.1;
    transfer-source 127.0.0.1;
}};
controls {{ }};
key "{self.key_name}" {{ algorithm hmac-sha256; secret "{self.key}"; }};
zone "{self.zone}" {{ {zone} }};
"""

    def _wait_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            with contextlib.suppress(OSError, RuntimeError):
                if self.query(self.zone, "SOA"):
                    return
            time.sleep(0.05)
        output = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        self.stop()
        raise RuntimeError(f"named did not serve {self.zone} on port {self.port}:\n{output}")

    def query(self, name: str, kind: str) -> list[str]:
        """This server's own answer for `name`/`kind`: its values, sorted ([] for none)."""
        import dns.flags
        import dns.message
        import dns.name
        import dns.query
        import dns.rdatatype

        query = dns.message.make_query(name, kind)
        query.flags &= ~dns.flags.RD
        response = dns.query.tcp(query, "127.0.0.1", timeout=2.0, port=self.port)
        wanted = dns.name.from_text(name)
        for rrset in response.answer:
            if rrset.name == wanted and rrset.rdtype == dns.rdatatype.from_text(kind):
                return sorted(r.to_text() for r in rrset)
        if response.rcode() != 0 and kind == "SOA":
            raise RuntimeError(f"rcode {response.rcode()}")
        return []

    def ttl(self, name: str, kind: str) -> int | None:
        import dns.message
        import dns.query

        response = dns.query.tcp(
            dns.message.make_query(name, kind), "127.0.0.1", timeout=2.0, port=self.port
        )
        return response.answer[0].ttl if response.answer else None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> BindServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
