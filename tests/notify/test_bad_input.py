"""Bad input gets one clear line naming where: a notification URL apprise cannot use, an unknown
person in a ladder, an ack of something that does not exist."""

from __future__ import annotations

from pathlib import Path

from tests.notify.conftest import Golive

PLAN = """\
golive: bad
title: Bad
people:
  ana: {name: Ana, role: release manager, notify: ["slak://T000/B000/XXXX"]}
channels:
  - "json://hooks.example/{{ secrets.HOOK }}"
  - "not a url"
escalation:
  - {after: 10m, notify: [anna]}
notifications:
  mute: [run_startd]
environments:
  staging:
    secrets: {HOOK: {env: HOOK}}
steps:
  - {id: deploy, owner: ana, run: "true", undo: "true"}
"""


def test_check_names_each_bad_notification_setting_at_its_line(tmp_path: Path, cli: Golive) -> None:
    plan = tmp_path / "bad.golive.yaml"
    plan.write_text(PLAN)
    result = cli("check", plan)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert errors == [
        f"{plan}:4:52: error: people.ana.notify[0]: apprise cannot use this slak:// URL "
        "(unknown service or malformed URL) (write an apprise URL: json://host/path, "
        "mailto://..., slack://..., ntfy://...)",
        f"{plan}:7:5: error: channels[1]: is not a notification URL (scheme://...; see "
        "https://github.com/caronc/apprise/wiki) (write an apprise URL: json://host/path, mailto://..., "
        "slack://..., ntfy://...)",
        f"{plan}:9:27: error: escalation[0].notify[0]: unknown person 'anna' (did you mean 'ana'?)",
        f"{plan}:11:10: error: notifications.mute[0]: nothing called 'run_startd' (did you "
        "mean 'run_started'?)",
    ]


def test_an_ack_of_nothing_is_one_line_with_what_can_be_acked(tmp_path: Path, cli: Golive) -> None:
    plan = tmp_path / "ok.golive.yaml"
    plan.write_text(PLAN.split("people:")[0] + OK_PLAN)
    assert cli("run", plan, "-e", "staging", "--plain").returncode == 0
    result = cli("ack", _latest(cli), "99", "--as", "ana")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "nothing called '99' to acknowledge in run" in lines[0]
    unknown = cli("ack", _latest(cli), "99", "--as", "nobody")
    assert unknown.returncode == 2
    assert "not a person of this plan" in unknown.stderr


OK_PLAN = """people:
  ana: {name: Ana, role: release manager}
environments:
  staging: {}
steps:
  - {id: deploy, owner: ana, run: "true", undo: "true"}
"""


def _latest(cli: Golive) -> str:
    import json

    return str(json.loads(cli("status", "-f", "json").stdout)["run"])


GRACE = """\
golive: grace
title: Grace
people:
  ana: {name: Ana, role: release manager}
notifications:
  mute: [checklist_overdue]
  checklist_grace: soonish
environments:
  staging: {}
steps:
  - {id: deploy, owner: ana, run: "true", undo: "true"}
"""


def test_check_names_a_bad_checklist_grace_at_its_line(tmp_path: Path, cli: Golive) -> None:
    plan = tmp_path / "grace.golive.yaml"
    plan.write_text(GRACE)
    result = cli("check", plan)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert errors == [
        f"{plan}:7:20: error: notifications.checklist_grace: expected a duration like 90m, "
        "1h30m or 800ms, got 'soonish'"
    ]  # and checklist_overdue is a rule mute may name
    plan.write_text(GRACE.replace("soonish", "null"))
    assert cli("check", plan).returncode == 0
