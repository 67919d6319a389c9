"""Shared by every test folder: hypothesis profiles, the example plan, the real `golive` command."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "gym-booking.golive.yaml"

# CI runs the full fuzz budget (CI=true is set there); a local run stays short. Pick one
# explicitly with HYPOTHESIS_PROFILE=ci.
_SLOW_INPUTS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", max_examples=2000, deadline=None, print_blob=True, suppress_health_check=_SLOW_INPUTS
)
settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=_SLOW_INPUTS
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

Golive = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def example_plan() -> Path:
    return EXAMPLE


@pytest.fixture(scope="session")
def golive() -> Golive:
    """Run the real command line in a subprocess; no run may ever print a traceback."""

    def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "golive", *map(str, args)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=cwd,
            timeout=60,
            env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "GOLIVE_DEBUG": ""},
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return run


# --- stores: a SQLite file, and a throwaway PostgreSQL database --------------------------------
# PostgreSQL tests fail when the server is unreachable (CI starts it), unless
# GOLIVE_TEST_NO_POSTGRES=1 is set, which skips them. GOLIVE_TEST_POSTGRES_URL points them at
# another server (default: postgres on 127.0.0.1:5432, trust auth).

ADMIN_URL = os.environ.get(
    "GOLIVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'state.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    if os.environ.get("GOLIVE_TEST_NO_POSTGRES") == "1":
        pytest.skip("GOLIVE_TEST_NO_POSTGRES=1")
    admin = sa.create_engine(
        ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    name = f"golive_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        unreachable = str(exc.orig).splitlines()[0]
    else:
        unreachable = ""
    if unreachable:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {ADMIN_URL} ({unreachable}): start it, or set "
            "GOLIVE_TEST_NO_POSTGRES=1 to skip the postgres tests",
            pytrace=False,
        )
    try:
        yield sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def pytest_configure(config: pytest.Config) -> None:
    # hypothesis imports libcst (when installed) to print a failing example as a patch, and
    # libcst trips a DeprecationWarning that filterwarnings=error turns into an INTERNALERROR
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )


# --- MariaDB: a throwaway database --------------------------------------------------------------
# MariaDB tests fail when the server is unreachable, unless GOLIVE_TEST_NO_MARIADB=1 is set, which
# skips them. GOLIVE_TEST_MARIADB_URL points them at another server (default: root on
# 127.0.0.1:3306, no password).

MARIADB_ADMIN_URL = os.environ.get(
    "GOLIVE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/"
)


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """The URL of a fresh, empty MariaDB database, dropped after the test."""
    if os.environ.get("GOLIVE_TEST_NO_MARIADB") == "1":
        pytest.skip("GOLIVE_TEST_NO_MARIADB=1")
    admin = sa.create_engine(
        MARIADB_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    name = f"golive_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE `{name}`")
    except sa.exc.OperationalError as exc:
        unreachable = str(exc.orig)
    else:
        unreachable = ""
    if unreachable:
        admin.dispose()
        pytest.fail(
            f"MariaDB is not reachable at {MARIADB_ADMIN_URL} ({unreachable}): start it, or set "
            "GOLIVE_TEST_NO_MARIADB=1 to skip the MariaDB tests",
            pytrace=False,
        )
    try:
        url = sa.make_url(MARIADB_ADMIN_URL).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


# --- a local web site for HTTP and TLS checks: real sockets, a thread, no mocks -----------------


class Site:
    """What the test site answers, and what it was asked.

    /health       200 "ok" once `healthy_at` (time.monotonic()) has passed, 503 before
    /status/N     status N
    /json         the JSON document in `document`
    /slow/MS      200 after MS milliseconds
    /redirect     302 to /health
    /echo         JSON: the method and headers of the request
    """

    document: ClassVar[dict[str, Any]] = {
        "status": "ok",
        "version": "2.4.1",
        "data": {"items": [{"id": 1, "status": "ready"}, {"id": 2, "status": "draining"}]},
        "ratio": 0.5,
        "healthy": True,
    }

    def __init__(self, url: str) -> None:
        self.url = url
        self.healthy_at = 0.0
        self.paths: list[str] = []

    def healthy_in(self, seconds: float) -> None:
        self.healthy_at = time.monotonic() + seconds

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        parts = path.strip("/").split("/")
        if parts[0] == "health":
            healthy = time.monotonic() >= self.healthy_at
            return (200, "text/plain", b"ok") if healthy else (503, "text/plain", b"starting")
        if parts[0] == "status":
            return int(parts[1]), "text/plain", f"status {parts[1]}".encode()
        if parts[0] == "json":
            return 200, "application/json", json.dumps(self.document).encode()
        if parts[0] == "slow":
            time.sleep(int(parts[1]) / 1000)
            return 200, "text/plain", b"slow"
        if parts[0] == "echo":
            body = {"method": method, "headers": {k.lower(): v for k, v in headers.items()}}
            return 200, "application/json", json.dumps(body).encode()
        return 404, "text/plain", b"not found"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _SiteServer

    def _serve(self) -> None:
        self.server.site.paths.append(self.path)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/health")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, kind, body = self.server.site.answer(self.command, self.path, dict(self.headers))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _SiteServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    site: Site
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # the handshake happens in the request's own thread; the TLS socket owns the connection
        with self.tls.wrap_socket(request, server_side=True) as secured:
            super().finish_request(secured, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that rejects our certificate is what some tests want


@contextlib.contextmanager
def serve_site(tls: ssl.SSLContext | None = None) -> Iterator[Site]:
    server = _SiteServer(("127.0.0.1", 0), _Handler)
    server.tls = tls
    host = "localhost" if tls else "127.0.0.1"
    server.site = Site(f"{'https' if tls else 'http'}://{host}:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def site() -> Iterator[Site]:
    """A plain HTTP site on 127.0.0.1 (`site.url`)."""
    with serve_site() as running:
        yield running


@dataclass(frozen=True)
class Certificates:
    """A throwaway CA (`ca_file`) and a certificate it signed for localhost, valid `days`."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    days: int


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    days = 20

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("golive test CA"))
        .issuer_name(name("golive test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days, hours=12))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    files = Certificates(folder / "ca.pem", folder / "cert.pem", folder / "key.pem", days)
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@pytest.fixture
def https_site(certificates: Certificates) -> Iterator[Site]:
    """The same site over TLS at https://localhost:PORT, with a certificate from the throwaway
    CA (trust it with GOLIVE_CA_BUNDLE=certificates.ca_file)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.cert_file, certificates.key_file)
    with serve_site(context) as running:
        yield running
