"""The engine is killed (SIGKILL) after a notification was decided and before it was delivered:
after `golive resume`, every notification arrives exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.notify.conftest import Golive

from golive.testing.receivers import WebhookReceiver

PLAN = """
golive: crashy
title: Crashy
people:
  ann: {name: Ann, role: release manager, notify: ["json://127.0.0.1:HOOKS/ann"]}
channels: ["json://127.0.0.1:HOOKS/channel"]
notifications:
  group: 2s
environments:
  staging: {}
steps:
  - id: boom
    owner: ann
    idempotent: true
    run: "test -f DIR/killed || { touch DIR/killed; kill -9 $PPID; exit 1; }"
    undo: "true"
  - {id: after, owner: ann, needs: [boom], run: "true", undo: "true"}
"""


def test_a_notification_decided_before_a_kill_arrives_once_after_resume(
    tmp_path: Path, cli: Golive
) -> None:
    with WebhookReceiver() as hooks:
        plan = tmp_path / "crashy.golive.yaml"
        plan.write_text(PLAN.replace("HOOKS", str(hooks.port)).replace("DIR", str(tmp_path)))
        killed = cli("run", plan, "-e", "staging", "--plain")
        assert killed.returncode == -9, killed.stdout + killed.stderr
        assert hooks.received == []  # decided (RunStarted is in the log), not delivered
        resumed = cli("resume", "--as", "ann", "--plain")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        again = cli("notify", "--once", _run(cli))  # a second deliverer
        assert again.returncode == 0, again.stderr
        assert "0 message(s) sent" in again.stdout

    messages = [r.json["message"] for r in hooks.received if r.path == "/channel"]
    started = sum(m.count("started the rehearsal") for m in messages)
    assert started == 1, messages
    assert sum(m.count("The run completed") for m in messages) == 1, messages
    ids = Counter(_sent_ids(cli))
    assert ids, "nothing recorded as sent"
    assert max(ids.values()) == 1, ids  # no notification recorded as sent twice


def _run(cli: Golive) -> str:
    import json

    return str(json.loads(cli("status", "--format", "json").stdout)["run"])


def _sent_ids(cli: Golive) -> list[str]:
    import json

    log = json.loads(cli("log", "--format", "json").stdout)
    return [
        nid
        for event in log
        if event["type"] == "NotificationSent"
        for nid in event["data"]["notifications"]
    ]
