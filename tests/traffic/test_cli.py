"""A traffic step run by the real `golive run` command, as its operator reads it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from golive.testing.nginx import NginxServer

from .conftest import bodies

Golive = Callable[..., subprocess.CompletedProcess[str]]


def test_golive_run_prints_each_move_for_people_and_keeps_the_figures_out_of_the_way(
    golive: Golive, tmp_path: Path, nginx: NginxServer
) -> None:
    plan = tmp_path / "switch.golive.yaml"
    plan.write_text(
        f"""\
golive: cli-switch
title: CLI switch
people: {{ann: {{name: Ann}}}}
environments:
  staging:
    nginx: {json.dumps(nginx.settings())}
steps:
  - id: switch
    owner: ann
    traffic: {{strategy: blue_green, from: blue, to: green}}
"""
    )
    result = golive("run", plan, "--env", "staging", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "switch │ traffic: every request to green (nginx reloaded in " in result.stdout
    assert '{"event"' not in result.stdout
    assert bodies(nginx, 10) == {"v2"}
    events = json.loads(golive("log", "--format", "json", cwd=tmp_path).stdout)
    figures = [e["data"]["text"] for e in events if e["type"] == "StepOutput"]
    figures = [json.loads(text) for text in figures if text.startswith("{")]
    assert [(f["event"], f["share"]) for f in figures] == [("moved", 1.0)]
    (succeeded,) = [e for e in events if e["type"] == "StepSucceeded"]
    assert succeeded["data"]["details"]["moves"] == figures
