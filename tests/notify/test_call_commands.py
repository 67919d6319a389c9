"""The call from the terminal: `golive update`, `golive issue raise|comment|resolve`, and the
update reaching the channels through `golive notify` (no engine running)."""

from __future__ import annotations

from pathlib import Path

from tests.notify.conftest import Golive, status_of

from golive.testing.receivers import WebhookReceiver

PLAN = """
golive: call
title: Call
people:
  ana: {name: Ana, role: release manager}
  bob: {name: Bob, role: ops, notify: ["json://HOOKS/bob"]}
channels: ["json://HOOKS/channel"]
notifications: {severity: warning, mute: [run_started, run_finished]}
environments:
  staging: {}
steps:
  - {id: deploy, owner: ana, run: "true", undo: "true"}
"""


def test_updates_and_issues_from_the_terminal_reach_the_call_and_the_channels(
    tmp_path: Path, cli: Golive
) -> None:
    with WebhookReceiver() as hooks:
        plan = tmp_path / "call.golive.yaml"
        plan.write_text(PLAN.replace("HOOKS", hooks.address))
        assert cli("run", plan, "-e", "staging", "--plain").returncode == 0
        run = str(status_of(cli)["run"])

        quiet = cli("update", run, "all fine", "--as", "ana")
        loud = cli("update", run, "checkout is slow", "--as", "ana", "--severity", "warning")
        assert "posted to run" in quiet.stdout
        assert loud.returncode == 0, loud.stderr
        raised = cli("issue", "raise", run, "Slow checkout", "--as", "ana", "--owner", "bob")
        assert raised.returncode == 0, raised.stderr
        issue = raised.stdout.split()[1]
        assert cli("issue", "comment", run, issue, "looking", "--as", "bob").returncode == 0
        assert cli("issue", "resolve", run, issue, "cache warmed", "--as", "bob").returncode == 0
        notified = cli("notify", run, "--once")
        assert notified.returncode == 0, notified.stderr

    status = status_of(cli)
    assert [u["text"] for u in status["updates"]] == ["all fine", "checkout is slow"]
    assert status["issues"][0]["resolution"] == "cache warmed"
    by_path = {r.path: r.json["message"] for r in hooks.received}
    assert set(by_path) == {"/channel", "/bob"}
    assert "[warning] ana: checkout is slow" in by_path["/channel"]
    assert "all fine" not in by_path["/channel"]  # info is below the channels' severity
    assert f"golive ack {run} {issue} --as YOU" in by_path["/bob"]  # he owns the issue


def test_a_stranger_cannot_post_to_the_call(tmp_path: Path, cli: Golive) -> None:
    plan = tmp_path / "call.golive.yaml"
    plan.write_text(PLAN.replace("HOOKS", "127.0.0.1:9"))
    assert cli("run", plan, "-e", "staging", "--plain").returncode == 0
    result = cli("update", str(status_of(cli)["run"]), "hi", "--as", "eve")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "golive: error: --as eve: not a person of this plan (known: ana, bob)"
    )
