"""Traffic steps that cannot run say what is wrong, where, and what to do, in one line."""

from __future__ import annotations

from pathlib import Path

from golive.engine.state import StepStatus
from golive.plan import check_plan
from golive.testing import PlanRunner

PLAN = """\
golive: traffic-errors
title: Traffic errors
people: {ann: {name: Ann}}
environments:
  staging:
NGINX
steps:
  - id: switch
    owner: ann
    failure: continue
    traffic: {strategy: canary, from: blue, to: green, analysis: {min_requests: 10}}
"""


def plan(tmp_path: Path, nginx: str) -> PlanRunner:
    return PlanRunner.from_yaml(tmp_path, PLAN.replace("NGINX", nginx))


def test_an_environment_without_nginx_settings_fails_the_step_saying_what_to_add(
    tmp_path: Path,
) -> None:
    state = plan(tmp_path, "    vars: {x: y}").run(env="staging")
    assert state.step("switch").status is StepStatus.failed
    assert state.step("switch").error == (
        "environment 'staging' has no nginx settings: add environments.staging.nginx with "
        "include and upstreams to the plan (see docs/traffic.md)"
    )


def test_an_nginx_that_cannot_be_run_fails_the_step_before_anything_changes(
    tmp_path: Path,
) -> None:
    include = tmp_path / "site.conf"
    nginx = f"""    nginx:
      binary: {tmp_path}/no-nginx-here
      include: {include}
      access_log: {tmp_path}/access.log
      upstreams: {{blue: ["127.0.0.1:1"], green: ["127.0.0.1:2"]}}"""
    state = plan(tmp_path, nginx).run(env="staging")
    error = state.step("switch").error or ""
    assert error.startswith("nginx -t on the new include file: cannot run ")
    assert error.endswith("no-nginx-here: No such file or directory")
    assert not include.exists()


def test_check_refuses_an_analysis_without_an_access_log_to_read(tmp_path: Path) -> None:
    path = tmp_path / "plan.golive.yaml"
    nginx = """    nginx: {include: site.conf, upstreams: {blue: ["127.0.0.1:1"], green: ["127.0.0.1:2"]}}"""
    path.write_text(PLAN.replace("NGINX", nginx))
    result = check_plan(path)
    assert [d.rule for d in result.errors] == ["analysis-without-access-log"]
    assert "environment 'staging' set none" in result.errors[0].format()
