"""Before a production run: the TTL each `dns` step's record has now, asked of its primary.

`golive check` stays offline and judges the TTLs the plan gives (`current_ttl`, `ttl`; the
`dns-ttl` rule); this asks the server, once, for what caches really hold: a record whose live
TTL outlasts the time the step is given keeps answering the old values after the switch.
"""

from __future__ import annotations

import asyncio

from golive.engine.context import shown
from golive.plan.models import DnsSpec, Plan, Step
from golive.plan.values import format_duration

QUESTION_TIMEOUT = 3.0


def live_ttl_warnings(plan: Plan, *, env: str, timeout: float = QUESTION_TIMEOUT) -> list[str]:
    """One line per dns step whose record's live TTL is too long, or whose TTL cannot be
    read (the zone unknown to the server, the server unreachable)."""
    steps = [step for step in plan.steps if step.dns is not None]
    if not steps:
        return []
    return asyncio.run(_warnings(plan, steps, env=env, timeout=timeout))


async def _warnings(plan: Plan, steps: list[Step], *, env: str, timeout: float) -> list[str]:
    found = await asyncio.gather(*(_one(plan, step, env=env, timeout=timeout) for step in steps))
    return [line for line in found if line]


async def _one(plan: Plan, step: Step, *, env: str, timeout: float) -> str | None:
    import dns.name
    import dns.rdatatype

    from golive.checks.dns import DnsError, ask, server
    from golive.plan.dns import record_name

    spec = step.dns
    assert spec is not None
    name = record_name(dns.name.from_text(spec.zone), spec.name)
    kind = dns.rdatatype.from_text(spec.type.upper())
    where = shown(spec.server, plan, env=env, release=None, run_id="")
    label = f"step {step.id}: {name.to_text()} {spec.type.upper()}"
    try:
        answer = await ask(await server(where), name, kind, timeout=timeout)
    except DnsError as exc:
        return f"{label}: cannot read its TTL: {exc}"
    return _judge(step, spec, label, answer.ttl)


def _judge(step: Step, spec: DnsSpec, label: str, ttl: int | None) -> str | None:
    allowed = step.timeout or step.estimate
    if ttl is None or allowed is None or ttl <= allowed.total_seconds():
        return None
    return (
        f"{label} has a TTL of {format_duration(ttl)} on its server now: caches may answer the "
        f"old values that long after the switch, longer than the {format_duration(allowed)} it "
        "is given; lower the TTL 48 h before"
    )
