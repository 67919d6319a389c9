"""The hypercare period (window end + hypercare.duration) judged against the policy: a warning
from `golive check` when it takes in a day the policy keeps free of go-lives, since the first
days after a go-live need staff on duty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import Golive

from golive.plan.models import Plan
from golive.plan.schedule import hypercare_findings


def findings(start: str, end: str, duration: str | None = "48h", **policy: Any) -> list[str]:
    data: dict[str, Any] = {
        "golive": "p",
        "title": "t",
        "window": {"start": start, "end": end},
        "policy": policy,
    }
    if duration is not None:
        data["hypercare"] = {"duration": duration}
    return [f"{f.rule}: {f.message}" for f in hypercare_findings(Plan.model_validate(data))]


def test_hypercare_over_a_never_on_weekday_is_found() -> None:
    # Wednesday night's go-live: 48 h of hypercare take in Friday
    assert findings("2026-12-09 20:00", "2026-12-10 02:00") == [
        "hypercare-weekday: the hypercare period (Thu 2026-12-10 02:00 to Sat 2026-12-12 "
        "02:00) takes in Friday 2026-12-11, which policy.never_on keeps free of go-lives"
    ]


def test_hypercare_inside_working_days_is_fine() -> None:
    assert findings("2026-12-07 20:00", "2026-12-08 02:00", duration="48h") == []  # Tue..Thu


def test_hypercare_over_a_public_holiday_or_a_freeze_is_found() -> None:
    found = findings(
        "2026-12-22 20:00",
        "2026-12-23 02:00",
        duration="72h",
        never_on=[],
        holidays="BE",
        freeze=["2026-12-26..2027-01-04"],
    )
    period = "the hypercare period (Wed 2026-12-23 02:00 to Sat 2026-12-26 02:00)"
    assert found == [
        f"hypercare-holiday: {period} takes in a public holiday in BE: Christmas Day (2026-12-25)",
        f"hypercare-freeze: {period} overlaps the change freeze 2026-12-26..2027-01-04",
    ]


def test_a_freeze_the_window_is_in_already_is_not_said_twice() -> None:
    found = findings("2026-12-27 20:00", "2026-12-28 06:00", freeze=["2026-12-21..2027-01-04"])
    assert found == []


def test_no_window_or_no_hypercare_means_nothing_to_judge() -> None:
    assert findings("2026-12-09 20:00", "2026-12-10 02:00", duration=None) == []
    plan = Plan.model_validate({"golive": "p", "title": "t", "hypercare": {}})
    assert list(hypercare_findings(plan)) == []


def test_the_windows_own_days_are_left_to_the_window_rules() -> None:
    # a window ending Friday 02:00 is an error of its own; hypercare does not repeat Friday
    assert findings("2026-12-10 20:00", "2026-12-11 02:00", duration="12h") == []


PLAN = """\
golive: gym
title: Gym booking
timezone: Europe/Brussels
window: {start: "2026-12-09 20:00", end: "2026-12-10 02:00"}
people: {ann: {name: Ann}}
environments:
  production: {}
steps:
  - {id: switch, owner: ann, run: "true", undo: "true", estimate: 1h}
hypercare:
  duration: 48h
  feedback: true
"""


def test_golive_check_warns_at_the_duration_and_still_passes(
    tmp_path: Path, golive: Golive
) -> None:
    path = tmp_path / "gym.golive.yaml"
    path.write_text(PLAN, encoding="utf-8")

    done = golive("check", path)

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert f"{path.name}:11:" in out or f"{path}:11:" in out
    assert "warning" in out
    assert (
        "hypercare.duration: the hypercare period (Thu 2026-12-10 02:00 to Sat 2026-12-12 02:00)"
        in out
    )
    assert "plan staff on duty for those days" in out


def test_with_the_default_duration_the_warning_points_at_hypercare(
    tmp_path: Path, golive: Golive
) -> None:
    path = tmp_path / "gym.golive.yaml"
    path.write_text(PLAN.replace("  duration: 48h\n", ""), encoding="utf-8")

    done = golive("check", path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert ":11:3: warning: hypercare: the hypercare period" in done.stdout + done.stderr
