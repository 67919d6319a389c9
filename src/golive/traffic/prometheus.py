"""Canary figures from Prometheus: one PromQL query per metric, asked for each group.

    analysis:
      error_rate_below: 0.5%
      prometheus:
        url: http://prometheus:9090
        error_rate: sum(rate(http_requests_total{group="$group",code=~"5.."}[1m]))
                    / sum(rate(http_requests_total{group="$group"}[1m]))

`$group` becomes the group's name. Prometheus gives aggregates, not the requests themselves, so
there is no statistical test here: the canary's value is judged against the analysis's bound
(at or above it fails), the baseline's is recorded beside it. A query that fails or returns no
number is inconclusive: golive waits and asks again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import httpx

from golive.plan.models import CanaryAnalysis, PrometheusQueries
from golive.traffic.analysis import Judgement, Verdict

TIMEOUT = 10.0


class NoFigure(Exception):
    """The query failed or gave no number; the message says why."""


async def judge(
    queries: PrometheusQueries,
    rules: CanaryAnalysis,
    *,
    canary: str,
    baseline: str,
    render: Callable[[str], str],
) -> Judgement:
    """The verdict of Prometheus's figures on the canary group."""
    bounds: dict[str, tuple[str | None, float | None]] = {
        "error_rate": (queries.error_rate, rules.error_rate_below),
        "p95_latency": (
            queries.p95_latency,
            rules.p95_latency_below.total_seconds() if rules.p95_latency_below else None,
        ),
    }
    url = render(queries.url).rstrip("/") + "/api/v1/query"
    figures: dict[str, Any] = {}
    verdicts: list[tuple[Verdict, str]] = []
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        for metric, (query, bound) in bounds.items():
            if query is None:
                continue
            try:
                values = {g: await _value(client, url, query, g) for g in (canary, baseline)}
            except NoFigure as exc:
                verdicts.append((Verdict.inconclusive, f"prometheus: {metric}: {exc}"))
                continue
            figures[metric] = {"canary": values[canary], "baseline": values[baseline]}
            if bound is not None and values[canary] >= bound:
                shown = _shown(metric, values[canary]), _shown(metric, bound)
                verdicts.append(
                    (Verdict.failed, f"prometheus: {metric} {shown[0]} at or above {shown[1]}")
                )
    failed = [reason for verdict, reason in verdicts if verdict is Verdict.failed]
    unsure = [reason for verdict, reason in verdicts if verdict is Verdict.inconclusive]
    if failed:
        return Judgement(Verdict.failed, "; ".join(failed + unsure), figures)
    if unsure:
        return Judgement(Verdict.inconclusive, "; ".join(unsure), figures)
    return Judgement(Verdict.passed, "", figures)


async def _value(client: httpx.AsyncClient, url: str, query: str, group: str) -> float:
    try:
        response = await client.get(url, params={"query": query.replace("$group", group)})
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise NoFigure(f"cannot query {url}: {exc}") from None
    if response.status_code != 200 or body.get("status") != "success":
        raise NoFigure(f"{url} answered {response.status_code}: {body.get('error', 'no data')}")
    data: dict[str, Any] = body.get("data") or {}
    result: Any = data.get("result")
    if data.get("resultType") == "scalar":
        result = [{"value": result}]
    try:
        value = float(result[0]["value"][1])
    except (TypeError, IndexError, KeyError, ValueError):
        raise NoFigure(f"no number for group {group} yet") from None
    if math.isnan(value) or math.isinf(value):
        raise NoFigure(f"no number for group {group} yet ({value})")
    return value


def _shown(metric: str, value: float) -> str:
    return f"{value:.2%}" if metric == "error_rate" else f"{value * 1000:.0f} ms"
