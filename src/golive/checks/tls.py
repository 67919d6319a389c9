"""`tls:` checks: the certificate a server presents is trusted and stays valid long enough."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from golive.checks.outcome import CheckOutcome, Resources, first_line
from golive.checks.trust import TrustError, verifying_context
from golive.plan.models import TlsCheck

CONTEXT_KEY = "golive.checks.tls"
DEFAULT_PORT = 443
DAY = 86400.0
CLOSE_GRACE = 2.0


def address(target: str) -> tuple[str, int]:
    """`host`, `host:port`, `[::1]:8443` or an https:// URL -> (host, port)."""
    text = target.strip()
    parts = urlsplit(text if "://" in text else f"//{text}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"cannot read the port of {target!r}") from None
    if not parts.hostname:
        raise ValueError(f"no host in {target!r} (write host or host:port)")
    return parts.hostname, port


async def check_tls(
    check: TlsCheck,
    *,
    render: Callable[[str], str],
    redact: Callable[[str], str],
    resources: Resources,
    timeout: float,
    now: Callable[[], float] = time.time,
) -> CheckOutcome:
    """Connect, verify the certificate chain and host name, and count the days it has left."""
    target = redact(render(check.tls))
    try:
        host, port = address(render(check.tls))
        context = resources.get(CONTEXT_KEY, verifying_context)
        certificate = await asyncio.wait_for(_peer_certificate(host, port, context), timeout)
    except ssl.SSLCertVerificationError as exc:  # before ValueError: it is one too
        reason = exc.verify_message or first_line(exc)
        return CheckOutcome(False, f"certificate for {target} is not trusted: {reason}")
    except (ValueError, TrustError) as exc:
        return CheckOutcome(False, f"{target}: {exc}")
    except TimeoutError:
        return CheckOutcome(False, f"{target}: no TLS handshake within {timeout:g}s")
    except OSError as exc:  # refused, unreachable, unknown host, handshake failure
        return CheckOutcome(False, f"{target}: cannot connect: {exc.strerror or first_line(exc)}")
    return _judge(check, certificate, target=target, now=now())


async def _peer_certificate(host: str, port: int, context: ssl.SSLContext) -> dict[str, Any]:
    _reader, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host)
    try:
        certificate = writer.get_extra_info("peercert")
    finally:
        writer.close()
        # we have the certificate: a server that is slow to say goodbye does not fail the check
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), CLOSE_GRACE)
    assert isinstance(certificate, dict), "a verified connection always has a certificate"
    return certificate


def _judge(
    check: TlsCheck, certificate: dict[str, Any], *, target: str, now: float
) -> CheckOutcome:
    expires = ssl.cert_time_to_seconds(certificate["notAfter"])
    days_left = int((expires - now) // DAY)
    expires_on = dt.datetime.fromtimestamp(expires, dt.UTC)
    details = {
        "days_left": days_left,
        "not_after": expires_on.isoformat(),
        "subject": _name(certificate.get("subject", ())),
        "issuer": _name(certificate.get("issuer", ())),
    }
    if days_left < check.min_days:
        summary = f"certificate for {target} expires in {days_left} days (< {check.min_days})"
        return CheckOutcome(False, summary, details)
    until = f"{expires_on:%Y-%m-%d}"
    summary = f"certificate for {target} valid for {days_left} more days (until {until})"
    return CheckOutcome(True, summary, details)


def _name(rdns: Any) -> str:
    """The common name of a subject or issuer, else its first attribute."""
    pairs = [pair for rdn in rdns for pair in rdn]
    common = [value for key, value in pairs if key == "commonName"]
    return str(common[0]) if common else (str(pairs[0][1]) if pairs else "")
