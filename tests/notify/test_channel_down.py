"""A channel that is down (nothing listens on its port) for the whole run: the run takes the
same time as without notifications, and the failure shows in `golive status`."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

from tests.notify.conftest import Golive, status_of

PLAN = """
golive: down
title: Down
people:
  ann: {name: Ann, role: release manager}
CHANNELS
notifications: {group: 0s}
environments:
  staging: {}
steps:
  - {id: one, owner: ann, run: "sleep 1", undo: "true"}
  - {id: two, owner: ann, needs: [one], run: "sleep 1", undo: "true"}
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the test uses it


def _run_seconds(cli: Golive, plan: Path) -> float:
    result = cli("run", plan, "-e", "staging", "--plain")
    assert result.returncode == 0, result.stdout + result.stderr
    status = status_of(cli)
    started = dt.datetime.fromisoformat(str(status["started_at"]))
    return (dt.datetime.fromisoformat(str(status["finished_at"])) - started).total_seconds()


def test_a_channel_down_neither_slows_the_run_nor_hides_its_failure(
    tmp_path: Path, cli: Golive
) -> None:
    quiet = tmp_path / "quiet.golive.yaml"
    quiet.write_text(PLAN.replace("CHANNELS", ""))
    down = tmp_path / "down.golive.yaml"
    down.write_text(
        PLAN.replace("CHANNELS", f'channels: ["json://127.0.0.1:{_closed_port()}/hook"]')
    )
    baseline = _run_seconds(cli, quiet)
    with_down = _run_seconds(cli, down)
    assert with_down < baseline * 1.5 + 0.5, (baseline, with_down)

    status = status_of(cli)
    failing = [line for line in status["notifications"] if "FAILING" in line]
    assert failing, status
    assert "notification to channel:0 FAILING (attempt 1" in failing[0]
    text = cli("status")
    assert "notification to channel:0 FAILING" in text.stdout
