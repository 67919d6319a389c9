"""Evaluating any check: dispatch on its kind, retry it for `within`, never raise for a failure.

A network or database failure is a failed outcome with a summary saying what went wrong; only a
bug in golive raises.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from golive.checks.access_log import check_error_rate
from golive.checks.command import check_command
from golive.checks.http import check_http
from golive.checks.outcome import CheckOutcome, Resources
from golive.checks.sentry import check_sentry
from golive.checks.sql import check_sql
from golive.checks.step import check_step
from golive.checks.tls import check_tls
from golive.plan.models import (
    Check,
    CommandCheck,
    DnsCheck,
    ErrorRateCheck,
    HttpCheck,
    SentryCheck,
    SqlCheck,
    StepCheck,
    TlsCheck,
)
from golive.plan.template import TemplateError
from golive.plan.values import format_duration

NETWORK_TIMEOUT = 10.0  # one HTTP request, one TLS handshake
SQL_TIMEOUT = 30.0  # one query, enforced by the database server
GRACE = 5.0  # past a try's own timeout, before golive stops waiting for it
RETRY_PAUSE = 2.0


@dataclasses.dataclass(frozen=True)
class _Scope:
    render: Callable[[str], str]
    redact: Callable[[str], str]
    resources: Resources
    step_state: Callable[[str], str | None] | None
    workdir: Path | None
    environ: Mapping[str, str] | None
    output: Callable[[str, str], None] | None
    timeout: float | None


async def evaluate(
    check: Check,
    *,
    render: Callable[[str], str],
    redact: Callable[[str], str],
    resources: Resources,
    step_state: Callable[[str], str | None] | None = None,
    workdir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    output: Callable[[str, str], None] | None = None,
    timeout: float | None = None,
    on_retry: Callable[[CheckOutcome], None] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> CheckOutcome:
    """Evaluate `check` once, or with `within:` until it passes for at most that long.

    - `render` fills in templates, `redact` hides secrets in what the outcome says;
    - `resources` keeps HTTP clients and database engines for the run (and closes them);
    - `step_state(step_id)` gives a step's status in the run, for `step:` checks;
    - `workdir`, `environ` and `output` are where a `run:` check runs and writes its lines
      (default: the current directory, golive's environment, nowhere); relative SQLite paths
      and access log paths are read from `workdir` too;
    - `timeout` bounds one try (each kind has its own default, see NETWORK_TIMEOUT, SQL_TIMEOUT);
    - `on_retry(outcome)` hears of each failed try that will be retried.
    """
    scope = _Scope(render, redact, resources, step_state, workdir, environ, output, timeout)
    started = monotonic()
    deadline = started + (check.within.total_seconds() if check.within else 0.0)
    tries = 0
    while True:
        tries += 1
        outcome = await _once(check, scope)
        left = deadline - monotonic()
        if outcome.ok or left <= 0:
            break
        if on_retry is not None:
            on_retry(outcome)
        await sleep(min(RETRY_PAUSE, left))
    return _settled(outcome, tries=tries, duration=monotonic() - started, within=bool(check.within))


def _settled(outcome: CheckOutcome, *, tries: int, duration: float, within: bool) -> CheckOutcome:
    summary = outcome.summary
    if within and tries > 1:
        took = format_duration(duration)
        summary += (
            f" (after {tries} tries in {took})"
            if outcome.ok
            else (f" (still failing after {took}, {tries} tries)")
        )
    details = {**outcome.details, "tries": tries} if within else outcome.details
    return CheckOutcome(outcome.ok, summary, details, duration)


async def _once(check: Check, scope: _Scope) -> CheckOutcome:
    budget = _budget(check, scope.timeout)
    try:
        async with asyncio.timeout(budget + GRACE if budget is not None else None):
            return await _dispatch(check, scope, budget)
    except TemplateError as exc:
        return CheckOutcome(False, f"cannot fill in the check: {exc}")
    except TimeoutError:
        return CheckOutcome(False, f"no answer within {format_duration(budget)}")


def _budget(check: Check, timeout: float | None) -> float | None:
    if isinstance(check, CommandCheck | StepCheck):
        return timeout  # a command has its own `timeout:`; a step check does not wait
    default = SQL_TIMEOUT if isinstance(check, SqlCheck) else NETWORK_TIMEOUT
    return min(default, timeout) if timeout is not None else default


async def _dispatch(check: Check, scope: _Scope, budget: float | None) -> CheckOutcome:
    render, redact, resources = scope.render, scope.redact, scope.resources
    limit = budget if budget is not None else NETWORK_TIMEOUT
    if isinstance(check, HttpCheck):
        return await check_http(
            check, render=render, redact=redact, resources=resources, timeout=limit
        )
    if isinstance(check, TlsCheck):
        return await check_tls(
            check, render=render, redact=redact, resources=resources, timeout=limit
        )
    if isinstance(check, SqlCheck):
        return await check_sql(
            check,
            render=render,
            redact=redact,
            resources=resources,
            timeout=limit,
            workdir=scope.workdir,
        )
    if isinstance(check, ErrorRateCheck):
        return await check_error_rate(check, render=render, redact=redact, workdir=scope.workdir)
    if isinstance(check, SentryCheck):
        return await check_sentry(
            check, render=render, redact=redact, resources=resources, timeout=limit
        )
    if isinstance(check, StepCheck):
        return check_step(check, step_state=scope.step_state)
    if isinstance(check, DnsCheck):
        from golive.checks.dns import check_dns  # dnspython only for a plan that has one

        return await check_dns(check, render=render, redact=redact, timeout=limit)
    return await check_command(
        check,
        render=render,
        redact=redact,
        timeout=budget,
        workdir=scope.workdir,
        environ=scope.environ,
        output=scope.output,
    )
