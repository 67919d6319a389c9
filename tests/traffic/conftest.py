"""A real nginx (the machine's, started on a free loopback port with its own prefix) in front of
two real upstream servers, v1 and v2; and plans that drive it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from golive.testing import PlanRunner
from golive.testing.nginx import NginxServer, NginxUnavailable, Upstream, nginx_binary


@pytest.fixture
def v1() -> Iterator[Upstream]:
    with Upstream.start("v1") as upstream:
        yield upstream


@pytest.fixture
def v2() -> Iterator[Upstream]:
    with Upstream.start("v2") as upstream:
        yield upstream


@pytest.fixture
def nginx(tmp_path: Path, v1: Upstream, v2: Upstream) -> Iterator[NginxServer]:
    """nginx serving every request from `blue` (v1); `green` is v2."""
    try:
        nginx_binary()
    except NginxUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    upstreams = {"blue": [v1.server], "green": [v2.server]}
    with NginxServer.start(tmp_path / "nginx", upstreams=upstreams) as server:
        yield server


def traffic_plan(
    tmp_path: Path,
    nginx: NginxServer,
    traffic: dict[str, Any],
    *,
    after: str = "",
    failure: str = "continue",
) -> PlanRunner:
    """A plan with one `switch` step (then `after`, more steps) against the test nginx; a
    failed switch ends the run (`failure: continue`) unless told otherwise."""
    text = f"""\
golive: traffic-test
title: Traffic test
people: {{ann: {{name: Ann}}}}
environments:
  staging:
    nginx: {json.dumps(nginx.settings())}
steps:
  - id: switch
    owner: ann
    failure: {failure}
    traffic: {json.dumps(traffic)}
{after}"""
    return PlanRunner.from_yaml(tmp_path, text)


def bodies(nginx: NginxServer, count: int, headers: dict[str, str] | None = None) -> set[str]:
    found = set()
    for _ in range(count):
        status, body = nginx.get(headers=headers)
        assert status == 200
        found.add(body)
    return found
