"""`golive run` on production holds to the schedule policy: refused outside the window, on a
`never_on` day, on a public holiday or in a freeze; overridden only with a reason and a name,
which the log keeps. GOLIVE_NOW stands in for the clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import Golive

PLAN = """
golive: night
title: The night
timezone: Europe/Brussels
WINDOW
policy: {never_on: [friday], holidays: BE, freeze: [2026-12-21..2027-01-04]}
people: {ann: {name: Ann}}
environments: {staging: {}, production: {}}
steps:
  - {id: deploy, owner: ann, run: "echo deployed >> ran", undo: "true"}
"""
WINDOW = "window: {start: 2026-12-14 20:00, end: 2026-12-14 23:00}"


def write(directory: Path, *, window: bool = False) -> Path:
    plan = directory / "night.golive.yaml"
    plan.write_text(PLAN.replace("WINDOW", WINDOW if window else ""), encoding="utf-8")
    return plan


@pytest.mark.parametrize(
    ("now", "window", "reason"),
    [
        ("2026-12-14T12:00+01:00", True, "outside the window 2026-12-14 20:00-2026-12-14 23:00"),
        ("2026-12-04T21:00+01:00", False, "policy.never_on forbids a Friday"),
        ("2026-11-11T21:00+01:00", False, "a public holiday in BE"),
        ("2026-12-22T21:00+01:00", False, "inside the change freeze 2026-12-21..2027-01-04"),
    ],
    ids=["window", "never_on", "holiday", "freeze"],
)
def test_a_production_run_the_schedule_forbids_is_refused_with_the_reason(
    tmp_path: Path,
    golive: Golive,
    monkeypatch: pytest.MonkeyPatch,
    now: str,
    window: bool,
    reason: str,
) -> None:
    plan = write(tmp_path, window=window)
    monkeypatch.setenv("GOLIVE_NOW", now)

    result = golive("run", plan, "--env", "production", "--plain", cwd=tmp_path)

    assert result.returncode == 1
    refusal = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(refusal) == 1, result.stderr
    assert "production run refused" in refusal[0]
    assert reason in refusal[0]
    assert "--override-policy --why REASON --as PERSON" in refusal[0]
    assert not (tmp_path / "ran").exists()


def test_a_production_run_inside_the_window_on_a_working_day_starts(
    tmp_path: Path, golive: Golive, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = write(tmp_path, window=True)
    monkeypatch.setenv("GOLIVE_NOW", "2026-12-14T21:00+01:00")

    result = golive("run", plan, "--env", "production", "--plain", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ran").read_text() == "deployed\n"


def test_a_rehearsal_is_not_held_to_the_schedule(
    tmp_path: Path, golive: Golive, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = write(tmp_path, window=True)
    monkeypatch.setenv("GOLIVE_NOW", "2026-12-25T03:00+01:00")  # a Friday, a holiday, a freeze

    result = golive("run", plan, "--env", "staging", "--plain", cwd=tmp_path)

    assert result.returncode == 0, result.stderr


def test_an_override_needs_a_reason_and_a_person(
    tmp_path: Path, golive: Golive, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = write(tmp_path)
    monkeypatch.setenv("GOLIVE_NOW", "2026-12-04T21:00+01:00")

    result = golive("run", plan, "--env", "production", "--override-policy", cwd=tmp_path)
    stranger = golive(
        "run", plan, "--env", "production", "--override-policy", "--why", "x", "--as", "zed",
        cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 2
    assert "--why REASON --as PERSON" in result.stderr
    assert stranger.returncode == 2
    assert stranger.stderr.strip() == (
        "golive: error: --as zed: not a person of this plan (known: ann)"
    )
    assert not (tmp_path / "ran").exists()


def test_an_overridden_policy_is_recorded_in_the_log_with_who_why_and_the_rules(
    tmp_path: Path, golive: Golive, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = write(tmp_path)
    monkeypatch.setenv("GOLIVE_NOW", "2026-12-25T21:00+01:00")  # Friday, Christmas, the freeze
    why = "payment provider shuts the old API down on the 26th"

    started = golive(
        "run", plan, "--env", "production", "--plain",
        "--override-policy", "--why", why, "--as", "ann", cwd=tmp_path,
    )  # fmt: skip
    log = golive("log", "--plan", plan, cwd=tmp_path)
    events = json.loads(golive("log", "--plan", plan, "--format", "json", cwd=tmp_path).stdout)

    assert started.returncode == 0, started.stderr
    assert (tmp_path / "ran").read_text() == "deployed\n"
    overridden = next(e for e in events if e["type"] == "PolicyOverridden")
    assert [e["type"] for e in events][:2] == ["RunStarted", "PolicyOverridden"]
    assert overridden["data"]["by"] == "ann"
    assert overridden["data"]["why"] == why
    assert overridden["data"]["rules"] == ["forbidden-weekday", "holiday", "freeze"]
    assert f"policy overridden by ann (forbidden-weekday, holiday, freeze): {why}" in log.stdout


def test_golive_now_without_an_offset_is_one_clear_line(
    tmp_path: Path, golive: Golive, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = write(tmp_path)
    monkeypatch.setenv("GOLIVE_NOW", "2026-12-04 21:00")

    result = golive("run", plan, "--env", "production", cwd=tmp_path)

    assert result.returncode == 2
    assert "GOLIVE_NOW='2026-12-04 21:00' has no UTC offset" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
