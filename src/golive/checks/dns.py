"""`dns` checks, and the propagation wait of a `dns:` step: ask each authoritative server,
directly and without recursion, until every one answers the expected record set.

A server is `host` or `host:port` (`[::1]:5353` for IPv6); without a list, the servers are the
zone's NS records (found from the name, through the system resolver).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from golive.checks.outcome import CheckOutcome, first_line
from golive.plan.models import DnsCheck

DEFAULT_PORT = 53
POLL = 0.25  # between two rounds of questions while waiting for propagation


class DnsError(Exception):
    """A server cannot be found or asked; the message says which and why."""


@dataclass(frozen=True)
class Server:
    """An authoritative server: the text the plan gave, and where to send questions."""

    shown: str
    address: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        return self.shown


@dataclass(frozen=True)
class RecordSet:
    """What a server answers for a name and type: its values (canonical text, sorted) and TTL;
    no values means the record set does not exist."""

    values: tuple[str, ...]
    ttl: int | None = None

    @property
    def exists(self) -> bool:
        return bool(self.values)

    def as_json(self) -> dict[str, Any] | None:
        return {"ttl": self.ttl, "values": list(self.values)} if self.exists else None

    def __str__(self) -> str:
        return ", ".join(self.values) if self.values else "no record"


def canonical(
    kind: dns.rdatatype.RdataType,
    values: list[str] | tuple[str, ...],
    *,
    origin: dns.name.Name = dns.name.root,
) -> tuple[str, ...]:
    """Values in one comparable form (`1.2.3.4`, `www.example.com.`), sorted; names in them
    are relative to `origin`."""
    return tuple(
        sorted(
            dns.rdata.from_text(dns.rdataclass.IN, kind, value, origin=origin).to_text()
            for value in values
        )
    )


def split_server(text: str) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address -> (host, port)."""
    value = text.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or str(DEFAULT_PORT)
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, str(DEFAULT_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DnsError(f"server {text!r} is not host or host:port")
    return host, int(port)


async def server(text: str) -> Server:
    """The server `text` names, its host name looked up."""
    host, port = split_server(text)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except OSError as exc:
        raise DnsError(f"server {text}: cannot find {host}: {exc.strerror or exc}") from None
    return Server(text.strip(), str(found[0][4][0]), port)


async def servers_of_zone(name: dns.name.Name, *, timeout: float) -> list[Server]:
    """The authoritative servers of the zone holding `name`, from its NS records."""

    def lookup() -> list[str]:
        resolver = dns.resolver.Resolver()
        resolver.lifetime = timeout
        zone = dns.resolver.zone_for_name(name, resolver=resolver)
        answer = resolver.resolve(zone, "NS")
        return sorted(rdata.to_text() for rdata in answer)

    try:
        names = await asyncio.to_thread(lookup)
    except dns.exception.DNSException as exc:
        raise DnsError(
            f"cannot find the authoritative servers of {name}: {first_line(exc)} "
            "(list them under servers:/authoritative:)"
        ) from None
    return [await server(ns.rstrip(".")) for ns in names]


async def ask(
    where: Server,
    name: dns.name.Name,
    kind: dns.rdatatype.RdataType,
    *,
    timeout: float,
) -> RecordSet:
    """`where`'s own answer for `name`/`kind` (no recursion): its record set, or none."""
    query = dns.message.make_query(name, kind)
    query.flags &= ~dns.flags.RD
    try:
        response = await dns.asyncquery.udp(query, where.address, timeout=timeout, port=where.port)
        if response.flags & dns.flags.TC:
            response = await dns.asyncquery.tcp(
                query, where.address, timeout=timeout, port=where.port
            )
    except dns.exception.Timeout:
        raise DnsError(f"{where}: no answer within {timeout:g}s") from None
    except (OSError, dns.exception.DNSException) as exc:
        raise DnsError(f"{where}: {getattr(exc, 'strerror', None) or first_line(exc)}") from None
    return record_set(where, response, name, kind)


def record_set(
    where: Server,
    response: dns.message.Message,
    name: dns.name.Name,
    kind: dns.rdatatype.RdataType,
) -> RecordSet:
    code = response.rcode()
    if code == dns.rcode.REFUSED:
        raise DnsError(
            f"{where} answered REFUSED for {name}: it does not serve that zone (or refuses "
            "questions from this machine)"
        )
    if code not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise DnsError(f"{where} answered {dns.rcode.to_text(code)} for {name}")
    if not response.flags & dns.flags.AA:
        raise DnsError(
            f"{where} is not authoritative for {name} (no such zone there?): "
            "ask the zone's own servers"
        )
    for rrset in response.answer:
        if rrset.name == name and rrset.rdtype == kind:
            return RecordSet(tuple(sorted(r.to_text() for r in rrset)), rrset.ttl)
    return RecordSet(())


@dataclass
class Propagation:
    """How long each server took to answer the expected record set (None: it never did)."""

    ok: bool
    seconds: float
    servers: dict[str, float | None]
    last: dict[str, str]  # what each server answered last, or why it could not be asked

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "servers": {
                s: (round(t, 3) if t is not None else None) for s, t in self.servers.items()
            },
        }

    def lagging(self) -> str:
        return "; ".join(
            f"{s} answers {self.last[s]}" for s, t in self.servers.items() if t is None
        )


async def propagate(
    servers: list[Server],
    name: dns.name.Name,
    kind: dns.rdatatype.RdataType,
    expected: tuple[str, ...],
    *,
    within: float,
    timeout: float,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Propagation:
    """Ask every server, again and again, until each answers `expected` (an empty tuple: no
    record) or `within` seconds have passed."""
    started = monotonic()
    seen: dict[str, float | None] = {str(s): None for s in servers}
    last: dict[str, str] = {}
    while True:
        waiting = [s for s in servers if seen[str(s)] is None]
        answers = await asyncio.gather(
            *(ask(s, name, kind, timeout=timeout) for s in waiting), return_exceptions=True
        )
        for where, answer in zip(waiting, answers, strict=True):
            if isinstance(answer, DnsError):
                last[str(where)] = f"nothing ({answer})"
            elif isinstance(answer, BaseException):
                raise answer
            else:
                last[str(where)] = str(answer)
                if answer.values == expected:
                    seen[str(where)] = monotonic() - started
        elapsed = monotonic() - started
        if all(t is not None for t in seen.values()) or elapsed >= within:
            ok = all(t is not None for t in seen.values())
            return Propagation(ok, elapsed, seen, last)
        await sleep(min(POLL, within - elapsed))


async def check_dns(
    check: DnsCheck,
    *,
    render: Callable[[str], str],
    redact: Callable[[str], str],
    timeout: float,
) -> CheckOutcome:
    """One round: every server answers exactly the expected values (`within:` repeats it)."""
    name = dns.name.from_text(check.dns)
    kind = dns.rdatatype.from_text(check.type.upper())
    expected = canonical(kind, check.expect)
    shown = f"{check.dns} {dns.rdatatype.to_text(kind)}"
    try:
        if check.servers:
            servers = [await server(render(text)) for text in check.servers]
        else:
            servers = await servers_of_zone(name, timeout=timeout)
        found = await propagate(servers, name, kind, expected, within=0.0, timeout=timeout)
    except DnsError as exc:
        return CheckOutcome(False, redact(f"{shown}: {exc}"))
    details = {"servers": found.last, "expected": list(expected)}
    if found.ok:
        return CheckOutcome(
            True, f"{shown}: {len(servers)} server(s) answer {', '.join(expected)}", details
        )
    return CheckOutcome(False, redact(f"{shown}: {found.lagging()}"), details)
