"""Canary analysis: is the new group worse than the old one, on the requests each just served?

Two metrics, errors (5xx answers) and latency, each judged in the same way:

- the canary is compared with the baseline by a one-sided test: Mann-Whitney U on latencies
  (as Netflix's Kayenta does), Fisher's exact test on the error counts. (Mann-Whitney U on the
  0/1 error flags would be a rank test of the two rates, but with errors as rare as they should
  be its normal approximation is far off: one error in 100 canary requests against none in 900
  gets p=0.0014, where the exact chance that the one error fell on the canary is 0.1.)
  `p < ALPHA` means "the canary is worse, and it is not chance";
- the plan's bound (`error_rate_below`, `p95_latency_below`), when given, is what "too bad"
  means: a canary over its bound fails when the excess is significant (a one-sided binomial
  test of the share of errors, or of requests slower than the bound, against the bound's share)
  or when the canary is significantly worse than the baseline; a canary over its bound on too
  little evidence is inconclusive. A canary under its bound passes that metric;
- without a bound, a canary fails a metric when it is significantly worse than the baseline
  and materially so (error rate above the baseline's; median latency at least 20% higher).

Fewer than `min_requests` requests in either group is inconclusive. The verdicts lead to:
pass -> promote, fail -> move traffic back, inconclusive -> wait longer (bounded by max_wait).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from scipy.stats import binomtest, fisher_exact, mannwhitneyu

from golive.plan.models import CanaryAnalysis
from golive.traffic.access_log import Sample

ALPHA = 0.01
SLOWER = 1.2  # without a bound, a median 20% above the baseline's is a material slow-down
P95_SHARE = 0.05  # the share of requests a p95 bound allows to be slower


class Verdict(StrEnum):
    passed = "pass"
    failed = "fail"
    inconclusive = "inconclusive"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str
    figures: dict[str, Any]


def judge(baseline: Sample, canary: Sample, rules: CanaryAnalysis) -> Judgement:
    """The verdict on `canary` against `baseline`, with the figures behind it."""
    figures: dict[str, Any] = {"baseline": summary(baseline), "canary": summary(canary)}
    shown = _shown(baseline, canary)
    need = rules.min_requests
    if canary.requests < need or baseline.requests < need:
        return Judgement(
            Verdict.inconclusive,
            f"too few requests (canary {canary.requests}, baseline {baseline.requests}, "
            f"need {need} each); {shown}",
            figures,
        )
    errors = _errors(baseline, canary, rules, figures)
    latency = _latency(baseline, canary, rules, figures)
    verdicts = [errors[0], latency[0]]
    reasons = "; ".join(reason for verdict, reason in (errors, latency) if reason)
    if Verdict.failed in verdicts:
        verdict = Verdict.failed
    elif Verdict.inconclusive in verdicts:
        verdict = Verdict.inconclusive
    else:
        verdict = Verdict.passed
    return Judgement(verdict, f"{reasons}; {shown}" if reasons else shown, figures)


def summary(sample: Sample) -> dict[str, Any]:
    rate = sample.error_count / sample.requests if sample.requests else None
    return {
        "requests": sample.requests,
        "errors": sample.error_count,
        "error_rate": _rounded(rate),
        "p50": _rounded(_quantile(sample.latencies, 0.5)),
        "p95": _rounded(_quantile(sample.latencies, 0.95)),
    }


def _rounded(value: float | None) -> float | None:
    """Four significant digits: figures for people and the record, not for more arithmetic."""
    return None if value is None else float(f"{value:.4g}")


def _errors(
    baseline: Sample, canary: Sample, rules: CanaryAnalysis, figures: dict[str, Any]
) -> tuple[Verdict, str]:
    rate = canary.error_count / canary.requests
    worse = _more_errors(baseline, canary)
    figures["error_p_value"] = _rounded(worse)
    bound = rules.error_rate_below
    if bound is None:
        base_rate = baseline.error_count / baseline.requests
        if worse < ALPHA and rate > base_rate:
            return Verdict.failed, f"error rate significantly above the baseline's (p={worse:.2g})"
        return Verdict.passed, ""
    if rate < bound:
        return Verdict.passed, ""
    over = binomtest(canary.error_count, canary.requests, bound, alternative="greater").pvalue
    figures["error_bound_p_value"] = _rounded(float(over))
    shown = f"error rate {rate:.2%} at or above {bound:.2%}"
    if over < ALPHA or worse < ALPHA:
        return Verdict.failed, f"{shown} (p={min(over, worse):.2g})"
    return Verdict.inconclusive, f"{shown}, not significantly yet (p={min(over, worse):.2g})"


def _latency(
    baseline: Sample, canary: Sample, rules: CanaryAnalysis, figures: dict[str, Any]
) -> tuple[Verdict, str]:
    worse = _worse(baseline.latencies, canary.latencies)
    figures["latency_p_value"] = _rounded(worse)
    bound = rules.p95_latency_below
    p95 = _quantile(canary.latencies, 0.95) or 0.0
    if bound is None:
        ratio = (_quantile(canary.latencies, 0.5) or 0.0) / max(
            _quantile(baseline.latencies, 0.5) or 0.0, 0.001
        )
        if worse < ALPHA and ratio >= SLOWER:
            return Verdict.failed, f"latency significantly above the baseline's (p={worse:.2g})"
        return Verdict.passed, ""
    limit = bound.total_seconds()
    if p95 < limit:
        return Verdict.passed, ""
    slow = sum(1 for latency in canary.latencies if latency >= limit)
    over = binomtest(slow, canary.requests, P95_SHARE, alternative="greater").pvalue
    figures["latency_bound_p_value"] = _rounded(float(over))
    shown = f"p95 {p95 * 1000:.0f} ms at or above {limit * 1000:.0f} ms"
    if over < ALPHA or worse < ALPHA:
        return Verdict.failed, f"{shown} (p={min(over, worse):.2g})"
    return Verdict.inconclusive, f"{shown}, not significantly yet (p={min(over, worse):.2g})"


def _more_errors(baseline: Sample, canary: Sample) -> float:
    """One-sided Fisher exact p-value of "the canary's error rate is higher"."""
    if not canary.error_count:
        return 1.0
    table = [
        [canary.error_count, canary.requests - canary.error_count],
        [baseline.error_count, baseline.requests - baseline.error_count],
    ]
    return float(fisher_exact(table, alternative="greater").pvalue)


def _worse(baseline: list[float], canary: list[float]) -> float:
    """One-sided Mann-Whitney U p-value of "canary latencies are greater"; 1.0 when every
    value of both samples is the same (no ranks to compare)."""
    if len(set(baseline) | set(canary)) <= 1:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # degenerate ranks: p is nan, seen below
        p = float(mannwhitneyu(canary, baseline, alternative="greater").pvalue)
    return 1.0 if math.isnan(p) else p


def _quantile(values: list[float], q: float) -> float | None:
    return float(np.quantile(values, q)) if values else None


def _shown(baseline: Sample, canary: Sample) -> str:
    def rate(sample: Sample) -> str:
        return f"{sample.error_count / sample.requests:.2%}" if sample.requests else "-"

    def p95(sample: Sample) -> str:
        found = _quantile(sample.latencies, 0.95)
        return f"{found * 1000:.0f} ms" if found is not None else "-"

    return (
        f"errors {rate(canary)} vs {rate(baseline)}, p95 {p95(canary)} vs {p95(baseline)}, "
        f"requests {canary.requests} vs {baseline.requests} (canary vs baseline)"
    )
