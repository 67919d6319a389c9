"""Canary analysis on samples: the verdicts, their reasons and figures."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

from golive.plan.models import CanaryAnalysis
from golive.traffic import access_log
from golive.traffic.access_log import Sample
from golive.traffic.analysis import Verdict, judge


def sample(requests: int, *, errors: int = 0, latency: float = 0.02, seed: int = 1) -> Sample:
    rng = random.Random(seed)
    return Sample(
        errors=[1] * errors + [0] * (requests - errors),
        latencies=[rng.uniform(0.5, 1.5) * latency for _ in range(requests)],
    )


RULES = CanaryAnalysis.model_validate({"error_rate_below": "0.5%", "p95_latency_below": "800ms"})


def test_a_canary_as_good_as_its_baseline_passes() -> None:
    found = judge(sample(900), sample(100, seed=2), RULES)
    assert found.verdict is Verdict.passed
    assert found.figures["canary"]["requests"] == 100
    assert "errors 0.00% vs 0.00%" in found.reason


def test_too_few_requests_is_inconclusive_whatever_they_say() -> None:
    found = judge(sample(900), sample(99, errors=50), RULES)
    assert found.verdict is Verdict.inconclusive
    assert "too few requests (canary 99, baseline 900, need 100 each)" in found.reason


def test_five_percent_errors_against_a_half_percent_bound_fails() -> None:
    found = judge(sample(900), sample(200, errors=10), RULES)
    assert found.verdict is Verdict.failed
    assert "error rate 5.00% at or above 0.50%" in found.reason
    assert found.figures["error_p_value"] < 0.01


def test_one_error_over_the_bound_on_little_evidence_is_inconclusive() -> None:
    found = judge(sample(900), sample(100, errors=1), RULES)
    assert found.verdict is Verdict.inconclusive
    assert "not significantly yet" in found.reason


def test_a_slow_canary_fails_on_its_p95_bound() -> None:
    found = judge(sample(900), sample(200, latency=1.0), RULES)
    assert found.verdict is Verdict.failed
    assert "p95" in found.reason
    assert found.figures["latency_p_value"] < 0.01


def test_without_bounds_the_mann_whitney_test_decides_against_the_baseline() -> None:
    rules = CanaryAnalysis(min_requests=50)
    assert judge(sample(500), sample(100, seed=3), rules).verdict is Verdict.passed
    slower = judge(sample(500), sample(100, latency=0.04), rules)
    assert slower.verdict is Verdict.failed
    assert "latency significantly above the baseline's" in slower.reason
    failing = judge(sample(500), sample(100, errors=5), rules)
    assert failing.verdict is Verdict.failed
    assert "error rate significantly above the baseline's" in failing.reason


def test_the_access_log_is_read_from_where_it_stood_at_the_move(tmp_path: Path) -> None:
    log = tmp_path / "access.json.log"
    line = '{{"msec":"{at}","status":"{status}","request_time":"0.010","group":"{group}"}}\n'
    log.write_text(line.format(at=100, status=500, group="green"))
    start = access_log.position(log, since=200.0)
    with log.open("a") as out:
        out.write(line.format(at=199, status=500, group="green"))  # served before the move
        out.write(line.format(at=201, status=200, group="green"))
        out.write(line.format(at=201, status=503, group="blue"))
        out.write("not json\n")
        out.write(
            json.dumps({"msec": "202", "status": "200", "upstream": "10.0.0.1:80, 10.0.0.2:80"})
            + "\n"
        )
        out.write(line.format(at=203, status=200, group="green")[:-12])  # being written
    reading = access_log.read(
        log, start, servers={"blue": ["10.0.0.2:80"]}, groups=("blue", "green")
    )
    assert reading.samples["green"].errors == [0]
    assert reading.samples["blue"].errors == [1, 0]
    assert reading.unreadable == 1


def test_a_prometheus_that_cannot_be_asked_is_inconclusive_not_a_failure() -> None:
    from golive.testing.nginx import free_port
    from golive.traffic import prometheus

    rules = CanaryAnalysis.model_validate(
        {
            "error_rate_below": "1%",
            "prometheus": {
                "url": f"http://127.0.0.1:{free_port()}",
                "error_rate": "up{group='$group'}",
            },
        }
    )
    assert rules.prometheus is not None
    found = asyncio.run(
        prometheus.judge(rules.prometheus, rules, canary="green", baseline="blue", render=str)
    )
    assert found.verdict is Verdict.inconclusive
    assert found.reason.startswith("prometheus: error_rate: cannot query http://127.0.0.1:")
