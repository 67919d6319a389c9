"""`golive checklist`: owners, due dates, done / overdue / pending, marks, and readiness."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Golive = Callable[..., subprocess.CompletedProcess[str]]

PLAN = """
golive: cl
title: Checklist test
people:
  bob: {name: Bob}
  eva: {name: Eva}
checklist:
  - {id: backup, title: Backup taken and restore tested, owner: bob, due: 2020-01-01}
  - {id: support, title: Support trained, owner: eva, due: 2999-01-01}
  - {id: done-early, title: Something already done, owner: eva}
environments:
  staging: {}
steps:
  - {id: a, owner: bob, run: "true"}
"""


def write(tmp_path: Path) -> Path:
    plan = tmp_path / "cl.golive.yaml"
    plan.write_text(PLAN)
    return plan


def items(golive: Golive, plan: Path) -> dict[str, dict[str, object]]:
    result = golive("checklist", plan, "--format", "json")
    assert result.returncode == 0, result.stderr
    return {item["id"]: item for item in json.loads(result.stdout)}


def test_items_are_pending_or_overdue_until_someone_marks_them_done(
    golive: Golive, tmp_path: Path
) -> None:
    plan = write(tmp_path)
    before = items(golive, plan)
    assert before["backup"]["state"] == "overdue"
    assert before["support"]["state"] == "pending"
    marked = golive(
        "checklist", plan, "--done", "backup", "--as", "bob", "--note", "restored on staging"
    )
    assert marked.returncode == 0, marked.stderr
    assert "backup marked done by bob" in marked.stdout
    after = items(golive, plan)
    assert after["backup"]["state"] == "done"
    assert after["backup"]["last_mark"]["note"] == "restored on staging"  # type: ignore[index]
    reopened = golive("checklist", plan, "--reopen", "backup", "--as", "bob")
    assert reopened.returncode == 0
    assert items(golive, plan)["backup"]["state"] == "overdue"


def test_check_counts_open_checklist_items_as_not_ready(golive: Golive, tmp_path: Path) -> None:
    plan = write(tmp_path)
    fresh = golive("check", plan)
    assert fresh.returncode == 0
    assert "3 of 3 checklist items not done" in fresh.stdout
    for item, who in (("backup", "bob"), ("support", "eva")):
        golive("checklist", plan, "--done", item, "--as", who)
    later = golive("check", plan, "--format", "json")
    readiness = json.loads(later.stdout)["readiness"]
    assert readiness["verdict"] == "not_ready"
    assert any("done-early" in reason for reason in readiness["reasons"])


def test_marking_needs_a_known_item_and_a_known_person(golive: Golive, tmp_path: Path) -> None:
    plan = write(tmp_path)
    unknown = golive("checklist", plan, "--done", "bakup", "--as", "bob")
    assert unknown.returncode == 2
    assert "no checklist item 'bakup'" in unknown.stderr
    assert "did you mean 'backup'?" in unknown.stderr
    nobody = golive("checklist", plan, "--done", "backup")
    assert nobody.returncode == 2
    assert "--as PERSON" in nobody.stderr
    stranger = golive("checklist", plan, "--done", "backup", "--as", "zed")
    assert "not a person of this plan" in stranger.stderr


def test_check_names_overdue_items_with_their_owner_and_due_date(
    golive: Golive, tmp_path: Path
) -> None:
    plan = write(tmp_path)
    result = golive("check", plan)
    assert "overdue: backup (bob, due 2020-01-01)" in result.stdout
    assert (tmp_path / ".golive").exists() is False  # reading the checklist created nothing


def test_a_mark_by_someone_other_than_the_owner_is_shown_as_made_for_the_owner(
    golive: Golive, tmp_path: Path
) -> None:
    plan = write(tmp_path)

    marked = golive("checklist", plan, "--done", "support", "--as", "bob")
    shown = golive("checklist", plan, "--no-verify")
    mark = items(golive, plan)["support"]["last_mark"]
    checked = golive("check", plan)

    assert marked.returncode == 0, marked.stderr
    assert "support marked done by bob for eva" in marked.stdout
    assert "done · bob for eva ·" in shown.stdout
    assert mark["by"] == "bob"  # type: ignore[index]
    assert mark["for"] == "eva"  # type: ignore[index]
    assert "checklist marked for their owner: support (bob for eva)" in checked.stdout


def test_owner_only_refuses_a_mark_by_someone_else_in_one_line(
    golive: Golive, tmp_path: Path
) -> None:
    plan = write(tmp_path)
    plan.write_text(PLAN + "policy: {checklist_marks: owner_only}\n")

    refused = golive("checklist", plan, "--done", "support", "--as", "bob")
    by_owner = golive("checklist", plan, "--done", "support", "--as", "eva")

    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "golive: error: checklist item 'support' is marked by its owner only "
        "(policy.checklist_marks: owner_only): ask eva to mark it"
    )
    assert by_owner.returncode == 0, by_owner.stderr
    assert items(golive, plan)["support"]["last_mark"]["by"] == "eva"  # type: ignore[index]
