"""A whole verification: every table (in parallel), then every assertion on the target."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from golive.checks.database import DatabaseError, mask
from golive.checks.outcome import Resources
from golive.plan.models import SqlCheck, TableMapping, VerifySpec
from golive.plan.template import render_url
from golive.verify.compare import compare_table
from golive.verify.reader import reader
from golive.verify.report import AssertionReport, TableReport, VerifyReport


async def verify(
    spec: VerifySpec,
    *,
    render: Callable[[str], str],
    redact: Callable[[str], str],
    resources: Resources,
    timeout: float,
    workdir: Path | None = None,
    segment_rows: int | None = None,
    after_segment: Callable[[], None] | None = None,
) -> VerifyReport:
    """Compare every table of `spec` and run its assertions; never writes to either database."""
    started = time.monotonic()
    source_url, target_url = render_url(spec.source, render), render_url(spec.target, render)
    try:
        source = reader(resources, source_url, workdir=workdir)
        target = reader(resources, target_url, workdir=workdir)
    except DatabaseError as exc:
        tables = tuple(_failed(t, redact(str(exc))) for t in spec.tables)
    else:
        tables = tuple(
            await asyncio.gather(
                *(
                    compare_table(
                        t,
                        source,
                        target,
                        timeout=timeout,
                        where=render(t.where) if t.where else None,
                        segment_rows=segment_rows,
                        after_segment=after_segment,
                    )
                    for t in spec.tables
                )
            )
        )
        tables = tuple(_redacted(t, redact) for t in tables)
    assertions = [
        await _assert(
            spec,
            index,
            render=render,
            redact=redact,
            resources=resources,
            timeout=timeout,
            workdir=workdir,
        )
        for index in range(len(spec.assertions))
    ]
    return VerifyReport(
        redact(mask(source_url)),
        redact(mask(target_url)),
        tables,
        tuple(assertions),
        duration=time.monotonic() - started,
    )


async def _assert(
    spec: VerifySpec,
    index: int,
    *,
    render: Callable[[str], str],
    redact: Callable[[str], str],
    resources: Resources,
    timeout: float,
    workdir: Path | None,
) -> AssertionReport:
    from golive.checks.sql import check_sql

    assertion = spec.assertions[index]
    check = SqlCheck(
        sql=assertion.sql,
        db=assertion.db or spec.target,
        equals=assertion.equals,
        no_rows=assertion.no_rows,
    )
    outcome = await check_sql(
        check, render=render, redact=redact, resources=resources, timeout=timeout, workdir=workdir
    )
    return AssertionReport(redact(assertion.sql), outcome.ok, outcome.summary)


def _failed(mapping: TableMapping, error: str) -> TableReport:
    return TableReport(mapping.source, mapping.target or mapping.source, error=error)


def _redacted(report: TableReport, redact: Callable[[str], str]) -> TableReport:
    if report.error is None:
        return report
    return TableReport(report.source, report.target, error=redact(report.error))
