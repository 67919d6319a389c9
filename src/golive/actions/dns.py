"""`dns:` steps: a DNS cutover by RFC 2136 dynamic update, signed with a TSIG key, and its undo.

    - id: switch-dns
      dns: {zone: example.com, name: www, type: A, values: [203.0.113.7], ttl: 60,
            server: "{{ vars.dns_primary }}", tsig: {name: golive, secret: DNS_TSIG_KEY}}

Before the change, the step reads the record set from the primary and keeps it in its details
(`previous`, None when there was none); the undo puts exactly that back (or deletes the record
set the step created). After the change, it asks each authoritative server until every one
answers the new values; how long that took is `propagation` in the details. The TSIG key's
value comes from the environment's secrets and is never written anywhere.

A provider's API (Route 53, Cloudflare...) can serve the same step later: another action for
`dns` steps whose `supports()` says yes for its kind of server.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

from golive.actions.base import Result, StepContext
from golive.checks.dns import (
    DnsError,
    Propagation,
    RecordSet,
    Server,
    ask,
    canonical,
    propagate,
    server,
    servers_of_zone,
)
from golive.plan.dns import record_name
from golive.plan.models import DnsSpec, Step, StepKind
from golive.plan.template import TemplateError

QUESTION_TIMEOUT = 5.0  # one question or one update to one server
STREAM = "dns"  # the StepOutput stream of the figures


@dataclass(frozen=True)
class Target:
    """A dns step made concrete: names parsed, servers looked up, the key read."""

    spec: DnsSpec
    zone: dns.name.Name
    name: dns.name.Name
    kind: dns.rdatatype.RdataType
    primary: Server
    keyring: dict[dns.name.Name, dns.tsig.Key]

    @property
    def shown(self) -> str:
        return f"{self.name.to_text()} {dns.rdatatype.to_text(self.kind)}"


class UpdateRefused(DnsError):
    """The server answered the update with a refusal: the zone is as it was."""


class DnsAction:
    kind: ClassVar[StepKind] = StepKind.dns

    def supports(self, step: Step) -> str | None:
        if step.on is not None:
            return f"runs on host group '{step.on}': dns steps update the server from this machine"
        return None

    async def run(self, ctx: StepContext) -> Result:
        started = ctx.monotonic()
        details: dict[str, Any] = dict(ctx.recorded or {})
        details.setdefault("changed", False)
        try:
            async with asyncio.timeout(ctx.timeout):
                return await self._cutover(ctx, details, started)
        except TimeoutError:
            return _failed(ctx, f"timed out after {ctx.timeout:g}s", details, started)

    async def _cutover(self, ctx: StepContext, details: dict[str, Any], started: float) -> Result:
        try:
            target = await _target(ctx)
            if "previous" not in details:  # a retry keeps what the first attempt found
                before = await ask(
                    target.primary, target.name, target.kind, timeout=QUESTION_TIMEOUT
                )
                details.update(zone=target.zone.to_text(), name=target.name.to_text())
                details.update(type=dns.rdatatype.to_text(target.kind), previous=before.as_json())
                # on the record before the change: a person can restore it if golive dies now
                ctx.output(STREAM, json.dumps({"event": "previous", **details}))
                ttl = f" (ttl {before.ttl})" if before.exists else ""
                ctx.output("stdout", f"{target.shown} was: {before}{ttl}")
            values = canonical(target.kind, target.spec.values, origin=target.zone)
            new = RecordSet(values, target.spec.ttl)
            details.update(new=new.as_json(), changed=True)  # a lost answer may hide a change
            try:
                await _update(target, new)
            except UpdateRefused:
                details["changed"] = details.get("applied", False)
                raise
            details["applied"] = True
            ctx.output(
                "stdout", f"{target.shown} is now: {new} (ttl {new.ttl}) on {target.primary}"
            )
            return await _propagated(ctx, target, new, details, started)
        except DnsError as exc:
            return _failed(ctx, str(exc), details, started)

    async def undo(self, ctx: StepContext) -> Result | None:
        started = ctx.monotonic()
        recorded = dict(ctx.recorded or {})
        if recorded.get("changed") is False:
            return None  # no update reached the zone: nothing to put back
        if "previous" not in recorded:
            return Result.failure(
                f"undo: the record set before {ctx.step.id} is not on the record (the engine "
                "stopped mid-step): restore it by hand from the step's `dns` output line "
                "(event previous)"
            )
        try:
            target = await _target(ctx)
            previous = recorded["previous"]
            before = (
                RecordSet(tuple(previous["values"]), previous["ttl"]) if previous else RecordSet(())
            )
            await _update(target, before)
            ctx.output("stdout", f"{target.shown} is back to: {before} on {target.primary}")
            found = await _propagation(target, before)
        except DnsError as exc:
            return Result.failure(ctx.redact(f"undo: {exc}"), duration=ctx.monotonic() - started)
        if not found.ok:
            error = f"undo: not every server answers the previous values: {found.lagging()}"
            return Result.failure(ctx.redact(error), duration=ctx.monotonic() - started)
        ctx.output("stdout", f"every authoritative server answers it ({found.seconds:.2f}s)")
        return Result(ok=True, duration=ctx.monotonic() - started)


async def _target(ctx: StepContext) -> Target:
    spec = ctx.step.dns
    assert spec is not None, "a dns step has a spec"
    secret = ctx.environ.get(spec.tsig.secret)
    if not secret:
        raise DnsError(
            f"the TSIG key's secret {spec.tsig.secret} is not set: add it to environments."
            f"{ctx.env_name}.secrets"
        )
    try:
        key = dns.tsig.Key(spec.tsig.name, secret.strip(), spec.tsig.algorithm)
    except (ValueError, dns.exception.DNSException):
        raise DnsError(
            f"the TSIG key's secret {spec.tsig.secret} is not base64 (use what tsig-keygen prints)"
        ) from None
    try:
        primary = await server(ctx.render(spec.server))
    except TemplateError as exc:
        raise DnsError(f"server: {exc}") from None
    zone = dns.name.from_text(spec.zone)
    return Target(
        spec=spec,
        zone=zone,
        name=record_name(zone, spec.name),
        kind=dns.rdatatype.from_text(spec.type.upper()),
        primary=primary,
        keyring={key.name: key},
    )


async def _update(target: Target, records: RecordSet) -> None:
    """Replace the record set with `records` (delete it when it has no values), signed."""
    ((keyname, key),) = target.keyring.items()
    update = dns.update.UpdateMessage(target.zone, keyring=target.keyring, keyname=keyname)
    if records.exists:
        update.replace(target.name, records.ttl or 0, target.kind, *records.values)
    else:
        update.delete(target.name, target.kind)
    where = target.primary
    try:
        response = await dns.asyncquery.tcp(
            update, where.address, timeout=QUESTION_TIMEOUT, port=where.port
        )
    except dns.tsig.PeerError as exc:
        raise UpdateRefused(
            f"{where} refused the TSIG key {key.name.to_text(omit_final_dot=True)} "
            f"({type(exc).__name__}): check the "
            "key's name, algorithm and secret"
        ) from None
    except dns.exception.Timeout:
        raise DnsError(f"{where}: no answer to the update within {QUESTION_TIMEOUT:g}s") from None
    except (OSError, dns.exception.DNSException) as exc:
        raise DnsError(
            f"{where}: the update failed: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    code = response.rcode()
    if code != dns.rcode.NOERROR:
        raise UpdateRefused(_refusal(target, code))


def _refusal(target: Target, code: dns.rcode.Rcode) -> str:
    shown, zone = dns.rcode.to_text(code), target.zone.to_text()
    why = {
        dns.rcode.NOTAUTH: f"it does not serve the zone {zone}, or does not accept the TSIG key",
        dns.rcode.REFUSED: f"its allow-update/update-policy for {zone} does not let this key in",
        dns.rcode.NOTZONE: f"{target.name.to_text()} is not in the zone {zone}",
        dns.rcode.SERVFAIL: "it failed to apply it (see its log)",
    }.get(code, "see its log")
    return f"{target.primary} answered {shown} to the update of {target.shown}: {why}"


async def _propagation(target: Target, records: RecordSet) -> Propagation:
    spec = target.spec
    if spec.authoritative:
        servers = [await server(text) for text in spec.authoritative]
    else:
        servers = await servers_of_zone(target.name, timeout=QUESTION_TIMEOUT)
    return await propagate(
        servers,
        target.name,
        target.kind,
        records.values,
        within=spec.propagation.total_seconds(),
        timeout=QUESTION_TIMEOUT,
        monotonic=time.monotonic,
    )


async def _propagated(
    ctx: StepContext, target: Target, new: RecordSet, details: dict[str, Any], started: float
) -> Result:
    found = await _propagation(target, new)
    details["propagation"] = found.as_json()
    if not found.ok:
        return _failed(
            ctx, f"not every server answers the new values: {found.lagging()}", details, started
        )
    ctx.output("stdout", f"every authoritative server answers it ({found.seconds:.2f}s)")
    return Result(ok=True, duration=ctx.monotonic() - started, details=_clean(ctx, details))


def _failed(ctx: StepContext, error: str, details: dict[str, Any], started: float) -> Result:
    return Result(
        ok=False,
        duration=ctx.monotonic() - started,
        error=ctx.redact(error),
        details=_clean(ctx, details) if details else None,
    )


def _clean(ctx: StepContext, details: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = json.loads(ctx.redact(json.dumps(details)))
    return cleaned
