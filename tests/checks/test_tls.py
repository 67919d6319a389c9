"""TLS checks against a local TLS server whose certificate (valid 20 days) comes from a throwaway
CA made by the test (the `certificates` and `https_site` fixtures)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from golive.checks.tls import address


@pytest.fixture
def trusted(certificates: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLIVE_CA_BUNDLE", str(certificates.ca_file))


def target(site: Any) -> str:
    return site.url.removeprefix("https://")


@pytest.mark.usefixtures("trusted")
def test_a_certificate_valid_long_enough_passes_with_its_days_left(
    run_check: Any, https_site: Any
) -> None:
    outcome = run_check(f"{{tls: {target(https_site)}, min_days: 14}}")
    assert outcome.ok, outcome.summary
    assert outcome.details["days_left"] == 20
    assert outcome.details["subject"] == "localhost"
    assert outcome.details["issuer"] == "golive test CA"
    assert outcome.summary.startswith(
        f"certificate for {target(https_site)} valid for 20 more days"
    )


@pytest.mark.usefixtures("trusted")
def test_a_certificate_expiring_too_soon_fails_saying_when(run_check: Any, https_site: Any) -> None:
    outcome = run_check(f"{{tls: {target(https_site)}, min_days: 30}}")
    assert not outcome.ok
    assert outcome.summary == f"certificate for {target(https_site)} expires in 20 days (< 30)"


def test_a_certificate_from_an_unknown_ca_is_not_trusted(run_check: Any, https_site: Any) -> None:
    outcome = run_check(f"{{tls: {target(https_site)}}}")
    assert not outcome.ok
    assert outcome.summary == (
        f"certificate for {target(https_site)} is not trusted: unable to get local issuer certificate"
    )


@pytest.mark.usefixtures("trusted")
def test_a_certificate_for_another_name_is_not_trusted(run_check: Any, https_site: Any) -> None:
    port = https_site.url.rsplit(":", 1)[1]
    outcome = run_check(f'{{tls: "127.0.0.1:{port}"}}')
    assert not outcome.ok
    assert "is not trusted: IP address mismatch" in outcome.summary


def test_ssl_cert_file_replaces_the_system_cas(
    run_check: Any, https_site: Any, certificates: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    assert run_check(f"{{tls: {target(https_site)}}}").ok


def test_a_closed_port_is_a_failed_outcome(run_check: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = run_check(f'{{tls: "127.0.0.1:{port}"}}')
    assert not outcome.ok
    assert outcome.summary.startswith(f"127.0.0.1:{port}: cannot connect")


def test_a_server_that_never_handshakes_times_out(run_check: Any) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        outcome = run_check(f'{{tls: "127.0.0.1:{port}"}}', timeout=0.3)
    assert not outcome.ok
    assert outcome.summary == f"127.0.0.1:{port}: no TLS handshake within 0.3s"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("booking.gym.example", ("booking.gym.example", 443)),
        ("booking.gym.example:8443", ("booking.gym.example", 8443)),
        ("https://booking.gym.example/health", ("booking.gym.example", 443)),
        ("[::1]:8443", ("::1", 8443)),
    ],
)
def test_a_tls_target_is_a_host_and_an_optional_port(text: str, expected: tuple[str, int]) -> None:
    assert address(text) == expected


@pytest.mark.parametrize("text", ["host:https", ":443"])
def test_a_tls_target_that_cannot_be_read_fails_the_check(run_check: Any, text: str) -> None:
    outcome = run_check(f'{{tls: "{text}"}}')
    assert not outcome.ok
    assert outcome.summary.startswith(f"{text}: ")
