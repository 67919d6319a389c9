"""Notifications reach real receivers on loopback: an SMTP server, a json:// webhook and a
Slack-format webhook (apprise's Mattermost URL posts Slack's {"text": ...} to /hooks/TOKEN)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.notify.conftest import Golive, status_of, wait_until

from golive.testing.receivers import SmtpReceiver, WebhookReceiver

PUBLIC = "https://golive.example.com"
PLAN = """
golive: gym
title: Gym booking
people:
  ann: {name: Ann, role: release manager, contact: ann@example.com}
  bob: {name: Bob, notify: ["mmost://127.0.0.1:HOOKS/bobhook"]}
channels: ["json://127.0.0.1:HOOKS/channel"]
notifications:
  group: 1s
  email: "mailto://127.0.0.1:SMTP?from=golive@example.com&mode=insecure"
environments:
  staging: {}
steps:
  - {id: deploy, owner: ann, run: "true", undo: "true"}
  - {id: confirm, owner: ann, needs: [deploy], manual: Check the booking page}
  - {id: go, owner: ann, needs: [confirm], gate: Go live?, approvers: [bob]}
"""


def test_each_rule_reaches_its_people_by_mail_webhook_and_slack_format(
    tmp_path: Path, cli: Golive
) -> None:
    with SmtpReceiver() as smtp, WebhookReceiver() as hooks:
        plan = tmp_path / "gym.golive.yaml"
        plan.write_text(PLAN.replace("HOOKS", str(hooks.port)).replace("SMTP", str(smtp.port)))
        assert cli("check", plan).returncode == 0
        engine = subprocess.Popen(
            [sys.executable, "-m", "golive", "run", plan, "-e", "staging", "--plain"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**__import__("os").environ, "GOLIVE_PUBLIC_URL": PUBLIC + "/"},
        )
        try:
            mail = smtp.wait_for(1)[0]
            run = str(status_of(cli)["run"])
            assert mail.recipients == ["ann@example.com"]
            assert mail.subject == "Gym booking: step confirm waits for you"
            assert f"{PUBLIC}/runs/{run}" in mail.text
            assert f"golive done {run} confirm --as YOU" in mail.text
            assert cli("done", run, "confirm", "--as", "ann").returncode == 0

            wait_until(lambda: any(r.path == "/hooks/bobhook" for r in hooks.received))
            slack = next(r for r in hooks.received if r.path == "/hooks/bobhook").json
            assert "Go/No-Go Go live? waits for your vote" in slack["text"]
            assert f"{PUBLIC}/runs/{run}" in slack["text"]
            assert cli("gate", run, "go", "go", "--as", "bob").returncode == 0
            out, err = engine.communicate(timeout=60)
        finally:
            engine.kill()
        assert engine.returncode == 0, out + err
        channel = [r.json for r in hooks.received if r.path == "/channel"]
        text = "\n".join(f"{m['title']}\n{m['message']}" for m in channel)
        assert "the rehearsal started" in text
        assert "The run completed" in text
        assert all(f"{PUBLIC}/runs/{run}" in m["message"] for m in channel)
        assert len(smtp.received) == 1  # the step's owner, once
