"""The optional Prometheus source of canary analysis, against a real Prometheus scraping the
upstream servers' own metrics every second."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from golive.engine.state import StepStatus
from golive.testing.nginx import Load, NginxServer, Upstream
from golive.testing.prometheus import PrometheusServer, PrometheusUnavailable

from .conftest import bodies, traffic_plan

pytestmark = pytest.mark.timeout(120)

ERROR_RATE = (
    'sum(rate(upstream_requests_total{group="$group",code=~"5.."}[5s]) or vector(0))'
    ' / sum(rate(upstream_requests_total{group="$group"}[5s]))'
)
P95 = 'histogram_quantile(0.95, sum by (le) (rate(upstream_request_seconds_bucket{group="$group"}[5s])))'


@pytest.fixture
def groups(tmp_path: Path) -> Iterator[tuple[Upstream, Upstream, PrometheusServer]]:
    with Upstream.start("v1", group="blue") as v1, Upstream.start("v2", group="green") as v2:
        try:
            prometheus = PrometheusServer.start(
                tmp_path / "prometheus", targets=[v1.server, v2.server]
            )
        except PrometheusUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        with prometheus:
            yield v1, v2, prometheus


def canary(prometheus: PrometheusServer) -> dict[str, object]:
    return {
        "strategy": "canary",
        "from": "blue",
        "to": "green",
        "steps": ["30%", "100%"],
        "pause": "6s",
        "analysis": {
            "error_rate_below": "1%",
            "p95_latency_below": "800ms",
            "min_requests": 20,
            "prometheus": {"url": prometheus.url, "error_rate": ERROR_RATE, "p95_latency": P95},
        },
    }


def test_prometheus_figures_are_judged_beside_the_access_log_and_recorded(
    tmp_path: Path, groups: tuple[Upstream, Upstream, PrometheusServer]
) -> None:
    v1, v2, prometheus = groups
    upstreams = {"blue": [v1.server], "green": [v2.server]}
    with NginxServer.start(tmp_path / "nginx", upstreams=upstreams) as nginx:
        runner = traffic_plan(tmp_path, nginx, canary(prometheus))
        with Load.start(nginx.url, rate=150) as load:
            state = runner.run(env="staging")
        assert state.step("switch").status is StepStatus.succeeded, state.step("switch").error
        assert bodies(nginx, 5) == {"v2"}
        assert load.failed == []
    analysed = [
        json.loads(line)
        for line in state.step("switch").output
        if line.startswith('{"event": "analysed"')
    ]
    figures = analysed[-1]["prometheus"]
    assert figures["error_rate"]["canary"] == 0.0
    assert 0 < figures["p95_latency"]["baseline"] <= 0.005


def test_a_canary_prometheus_sees_failing_is_moved_back(
    tmp_path: Path, groups: tuple[Upstream, Upstream, PrometheusServer]
) -> None:
    v1, v2, prometheus = groups
    v2.error_every = 10
    upstreams = {"blue": [v1.server], "green": [v2.server]}
    with NginxServer.start(tmp_path / "nginx", upstreams=upstreams) as nginx:
        runner = traffic_plan(tmp_path, nginx, canary(prometheus))
        with Load.start(nginx.url, rate=150):
            state = runner.run(env="staging")
        error = state.step("switch").error or ""
        # rate() extrapolates over its window: about 10%, not exactly
        found = re.match(
            r"canary failed at 30%: prometheus: error_rate (\d+\.\d+)% at or above 1\.00%", error
        )
        assert found is not None, error
        assert 5 < float(found.group(1)) < 15
        assert error.endswith("traffic moved back to blue")
        assert bodies(nginx, 5) == {"v1"}
