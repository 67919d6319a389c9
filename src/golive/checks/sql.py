"""`sql:` checks: a read-only query whose single value, or absence of rows, must match."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from golive.checks.comparison import as_number, jsonable, matches, show
from golive.checks.database import DatabaseError, Rows, database
from golive.checks.outcome import CheckOutcome, Resources, redacted, shorten
from golive.plan.models import SqlCheck
from golive.plan.template import render_url


async def check_sql(
    check: SqlCheck,
    *,
    render: Callable[[str], str],
    redact: Callable[[str], str],
    resources: Resources,
    timeout: float,
    workdir: Path | None = None,
) -> CheckOutcome:
    """Run the query in a read-only transaction and compare its answer with the expectation."""
    sql = render(check.sql)
    query = shorten(redact(sql), 40)  # masked before it is cut: no part of a secret survives
    try:
        url = render_url(check.db, render)
        db = database(resources, url, read_only=True, workdir=workdir)
        answer = await db.query(sql, timeout=timeout)
    except DatabaseError as exc:
        return CheckOutcome(False, f"{query}: {redact(str(exc))}")
    if check.no_rows:
        return _no_rows(answer, query, redact)
    if not answer.rows:
        return CheckOutcome(False, f"{query} returned no rows, expected one", {"rows": 0})
    if answer.more:
        summary = f"{query} returned several rows, expected one (add a limit or an aggregate)"
        return CheckOutcome(False, summary, {"rows_at_least": 2})
    value = answer.rows[0][0]
    problems = _problems(check, value, render=render, redact=redact)
    shown = redacted(jsonable(value), redact)  # a query may read a secret: never shown
    details = {"value": shown}
    if problems:
        return CheckOutcome(False, f"{query} = {show(shown)}, " + "; ".join(problems), details)
    return CheckOutcome(True, f"{query} = {show(shown)}", details)


def _no_rows(answer: Rows, query: str, redact: Callable[[str], str]) -> CheckOutcome:
    if not answer.rows:
        return CheckOutcome(True, f"{query} returned no rows", {"rows": 0})
    row = dict(zip(answer.columns, map(jsonable, answer.rows[0]), strict=False))
    first = redacted(row, redact)
    count = "rows" if answer.more else "a row"
    summary = f"{query} returned {count}, expected none: {show(first)}"
    seen = {"rows_at_least": 2} if answer.more else {"rows": 1}
    return CheckOutcome(False, summary, {**seen, "first": first})


def _problems(
    check: SqlCheck, value: Any, *, render: Callable[[str], str], redact: Callable[[str], str]
) -> list[str]:
    problems = []
    if check.equals is not None:
        wanted = render(check.equals) if isinstance(check.equals, str) else check.equals
        if not matches(value, wanted, loose=True):
            problems.append(f"expected {show(redacted(wanted, redact))}")
    number = as_number(value, from_text=True)
    for word, bound in (("below", check.below), ("above", check.above)):
        if bound is None:
            continue
        limit = as_number(bound)
        if number is None or limit is None:
            problems.append(f"expected a number {word} {bound:g}")
        elif (number >= limit) if word == "below" else (number <= limit):
            problems.append(f"expected {word} {bound:g}")
    return problems
