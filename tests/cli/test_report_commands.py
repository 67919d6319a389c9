"""`golive history`, `golive forecast` and the readiness part of `golive check`, run for real."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from golive.cli import main
from golive.engine.events import (
    Event,
    Outcome,
    RunFinished,
    RunStarted,
    StepFailed,
    StepSkipped,
    StepSucceeded,
    encode,
)
from golive.plan import load_plan
from golive.plan.digest import step_digests
from golive.store import default_state_url, open_store

Golive = Callable[..., subprocess.CompletedProcess[str]]

SHOP = """
golive: shop
title: Shop
window: {start: 2026-12-13 20:00, end: 2026-12-13 21:00}
policy: {rehearsals: 1, rollback_rehearsed: true, rollback_within: 15m}
people: {ana: {name: Ana}}
environments: {staging: {}, production: {}}
steps:
  - {id: deploy, owner: ana, run: "sleep 0.05", undo: "true", estimate: 10m}
  - {id: smoke, owner: ana, run: "sleep 0.01", undo: "true", needs: [deploy], estimate: 1m}
"""


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Golive:
    """The real entry point, in this process: these commands only read, so a subprocess adds
    nothing but half a second of imports."""
    monkeypatch.delenv("GOLIVE_STATE", raising=False)

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        arguments = ["golive", *map(str, args)]
        monkeypatch.setattr(sys, "argv", arguments)
        with pytest.raises(SystemExit) as exit:
            main()
        out, err = capsys.readouterr()
        assert "Traceback" not in err, err
        return subprocess.CompletedProcess(arguments, int(exit.value.code or 0), out, err)

    return run


def write_plan(directory: Path, text: str = SHOP) -> Path:
    plan = directory / "shop.golive.yaml"
    plan.write_text(text, encoding="utf-8")
    return plan


def record_rehearsals(plan: Path, *durations: Mapping[str, float]) -> None:
    """Rehearsals with exact step durations, appended to the plan's default store."""
    with open_store(default_state_url(plan)) as store:
        for steps in durations:
            run = store.create_run(
                plan_id="shop", plan_path=str(plan), plan_hash="0f3a", env="staging",
                release="1.0", rehearsal=True, started_by="ana",
            )  # fmt: skip
            events: list[Event] = [RunStarted(
                plan_id="shop", plan_path=str(plan), plan_hash="0f3a", plan_text=plan.read_text(),
                env="staging", release="1.0", rehearsal=True, started_by="ana", max_parallel=10,
                host="test", pid=1, steps=list(steps),
            )]  # fmt: skip
            events += [StepSucceeded(step=s, attempt=1, duration=d) for s, d in steps.items()]
            events.append(RunFinished(outcome=Outcome.completed, duration=sum(steps.values())))
            store.append_many(run.id, [encode(event) for event in events])


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory: pytest.TempPathFactory, golive: Golive) -> Path:
    """Two real rehearsals of SHOP on staging; the second one then rolled back."""
    plan = write_plan(tmp_path_factory.mktemp("rehearsed"))
    assert golive("run", plan, "--env", "staging").returncode == 0
    assert golive("run", plan, "--env", "staging").returncode == 0
    rolled_back = golive("rollback", "--as", "ana", "--plan", plan)
    assert rolled_back.returncode == 3, rolled_back.stdout + rolled_back.stderr
    return plan


def test_history_shows_each_steps_duration_in_each_run_side_by_side(
    rehearsed: Path, cli: Golive
) -> None:
    result = cli("history", rehearsed)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "shop: 2 runs (times in UTC)"
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.strip()}
    assert len(rows["deploy"]) == len(rows["smoke"]) == len(rows["total"]) == 2
    assert all(cell.endswith("ms") for cell in rows["deploy"] + rows["smoke"])
    assert rows["rollback"][0] == "-"
    assert rows["rollback"][1].endswith(("ms", "s"))
    assert "completed" in result.stdout
    assert "rolled back" in result.stdout


def test_history_json_holds_every_runs_durations_oldest_first(rehearsed: Path, cli: Golive) -> None:
    result = cli("history", rehearsed, "--format", "json")

    document = json.loads(result.stdout)
    first, second = document["runs"]
    assert document["steps"] == ["deploy", "smoke"]
    assert first["started_at"] < second["started_at"]  # ids made in one second need not sort
    assert first["status"] == "completed"
    assert first["rollback"] is None
    assert second["status"] == "rolled_back"
    assert second["completed"] is True
    assert second["rollback"]["complete"] is True
    assert 0.05 <= first["steps"]["deploy"]["duration"] < 5
    assert (
        first["total"] >= first["steps"]["deploy"]["duration"] + first["steps"]["smoke"]["duration"]
    )


def test_history_of_an_environment_never_run_says_how_to_rehearse(
    rehearsed: Path, cli: Golive
) -> None:
    result = cli("history", rehearsed, "--env", "production")

    assert result.returncode == 0
    assert result.stdout.startswith("no runs on production yet: rehearse with `golive run ")


def test_check_says_ready_and_exits_0_with_ready_once_rehearsed_with_a_rollback(
    rehearsed: Path, cli: Golive
) -> None:
    result = cli("check", rehearsed, "--ready")
    as_json = json.loads(cli("check", rehearsed, "--format", "json").stdout)

    assert result.returncode == 0, result.stdout
    assert "readiness: ready (2 rehearsals, rollback rehearsed in " in result.stdout
    assert "forecast: P90 finish " in result.stdout
    assert "fits the 1h window" in result.stdout
    assert as_json["readiness"]["verdict"] == "ready"
    assert as_json["readiness"]["rehearsals"] == {
        "needed": 1,
        "completed": 2,
        "current": 2,
        "run": 2,
        "with_exceptions": [],
        "changed_steps": {"added": [], "changed": [], "removed": []},
    }


def test_check_on_a_fresh_plan_says_not_ready_without_creating_a_store(
    tmp_path: Path, cli: Golive
) -> None:
    plan = write_plan(tmp_path)

    result = cli("check", plan)
    strict = cli("check", plan, "--ready")
    history = cli("history", plan)

    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == (
        "readiness: not ready: 0 of 1 rehearsal; rollback not rehearsed"
    )
    assert strict.returncode == 1
    assert "rollback not rehearsed" in strict.stdout
    assert history.stdout.startswith("no runs yet: rehearse with `golive run ")
    assert "--env staging`" in history.stdout
    assert not (tmp_path / ".golive").exists()


def test_check_json_tells_readiness_and_its_reasons(tmp_path: Path, cli: Golive) -> None:
    plan = write_plan(tmp_path)

    document = json.loads(cli("check", plan, "--format", "json").stdout)

    assert document["ok"] is True
    assert document["readiness"]["verdict"] == "not_ready"
    assert document["readiness"]["reasons"] == ["0 of 1 rehearsal", "rollback not rehearsed"]
    assert document["readiness"]["forecast"] is None


def test_a_store_that_cannot_be_read_leaves_readiness_unknown_without_failing_check(
    tmp_path: Path, cli: Golive
) -> None:
    plan = write_plan(tmp_path)
    nowhere = "postgresql+psycopg://nobody@127.0.0.1:1/none"

    result = cli("check", plan, "--state", nowhere)
    strict = cli("check", plan, "--state", nowhere, "--ready")

    assert result.returncode == 0
    assert "readiness: unknown: " in result.stdout
    assert strict.returncode == 1


# Ten minutes estimated, but the rehearsals took 40 + 30 minutes: the window is one hour.
SLOW = {"deploy": 40 * 60, "smoke": 30 * 60}


def test_forecast_warns_but_exits_0_when_the_p90_finish_overflows_the_window(
    tmp_path: Path, cli: Golive
) -> None:
    plan = write_plan(tmp_path)
    record_rehearsals(plan, SLOW, SLOW, SLOW)

    text = cli("forecast", plan, "--seed", "1")
    document = json.loads(cli("forecast", plan, "--seed", "1", "--format", "json").stdout)

    assert text.returncode == 0, text.stderr
    assert "warning: P90 finish 1h1" in text.stdout
    assert "overflows the 1h window" in text.stdout
    assert "critical path  deploy → smoke  (in 100% of simulated runs)" in text.stdout
    assert document["overflow"] is True
    assert document["rehearsals"] == 3
    assert [s["p50"] for s in document["steps"]] == [2400, 1800]
    assert document["critical_path"]["steps"] == ["deploy", "smoke"]


def test_forecast_with_the_same_seed_prints_the_same_numbers(tmp_path: Path, cli: Golive) -> None:
    plan = write_plan(tmp_path)
    record_rehearsals(plan, {"deploy": 600, "smoke": 60}, {"deploy": 900, "smoke": 90})

    first, again = (cli("forecast", plan, "--seed", "42").stdout for _ in range(2))

    assert first == again
    assert "weak forecast: fewer than 3 rehearsed durations for deploy, smoke" in first


def test_forecast_of_a_plan_never_rehearsed_uses_the_estimates(tmp_path: Path, cli: Golive) -> None:
    plan = write_plan(tmp_path)

    result = cli("forecast", plan, "--seed", "1")

    assert result.returncode == 0
    assert result.stdout.startswith(
        "no rehearsals yet: this forecast rests on the plan's estimates"
    )
    assert "never rehearsed (the plan's estimate stands in): deploy, smoke" in result.stdout
    assert not (tmp_path / ".golive").exists()


def test_forecast_of_a_broken_plan_exits_1(tmp_path: Path, cli: Golive) -> None:
    plan = write_plan(tmp_path, SHOP.replace("needs: [deploy]", "needs: [deplo]"))

    result = cli("forecast", plan)

    assert result.returncode == 1
    assert "unknown step 'deplo'" in result.stderr


def test_check_uses_the_forecast_when_rehearsals_show_the_window_is_too_short(
    tmp_path: Path, cli: Golive
) -> None:
    plan = write_plan(tmp_path)
    record_rehearsals(plan, SLOW, SLOW, SLOW)

    result = cli("check", plan)

    assert result.returncode == 0  # the estimates fit: the plan itself is fine
    assert f"{plan}: warning: forecast: P90 finish 1h1" in result.stdout
    assert "readiness: not ready: rollback not rehearsed; forecast P90 finish 1h1" in result.stdout


def test_forecast_and_history_can_keep_to_the_last_runs(tmp_path: Path, cli: Golive) -> None:
    plan = write_plan(tmp_path)
    record_rehearsals(plan, *({"deploy": seconds, "smoke": 60} for seconds in (100, 200, 300)))

    predicted = json.loads(cli("forecast", plan, "--runs", "2", "--format", "json").stdout)
    shown = json.loads(cli("history", plan, "--runs", "1", "--format", "json").stdout)

    assert predicted["rehearsals"] == 2
    assert predicted["steps"][0]["samples"] == [200, 300]
    assert [run["steps"]["deploy"]["duration"] for run in shown["runs"]] == [300]


def record_skipping_rehearsal(plan: Path) -> None:
    """A rehearsal in which smoke failed and someone skipped it: the run still completed."""
    with open_store(default_state_url(plan)) as store:
        run = store.create_run(
            plan_id="shop", plan_path=str(plan), plan_hash="0f3a", env="staging",
            release="1.0", rehearsal=True, started_by="ana",
        )  # fmt: skip
        events: list[Event] = [
            RunStarted(
                plan_id="shop", plan_path=str(plan), plan_hash="0f3a", plan_text=plan.read_text(),
                env="staging", release="1.0", rehearsal=True, started_by="ana", max_parallel=10,
                host="test", pid=1, steps=["deploy", "smoke"],
            ),
            StepSucceeded(step="deploy", attempt=1, duration=100),
            StepFailed(step="smoke", attempt=1, duration=5, error="exit 1"),
            StepSkipped(step="smoke", reason="skipped by ana", by="ana"),
            RunFinished(outcome=Outcome.completed, duration=105),
        ]  # fmt: skip
        store.append_many(run.id, [encode(event) for event in events])


def test_a_rehearsal_past_a_skipped_step_shows_as_completed_with_exceptions(
    tmp_path: Path, cli: Golive
) -> None:
    plan = write_plan(tmp_path)
    record_skipping_rehearsal(plan)

    shown = cli("history", plan)
    document = json.loads(cli("history", plan, "--format", "json").stdout)
    checked = cli("check", plan)

    assert "with exceptions" in shown.stdout
    assert document["runs"][0]["completed"] is False
    assert document["runs"][0]["exceptions"] == ["smoke (skipped by ana)"]
    assert "0 of 1 rehearsal completed; completed with exceptions, not counted: " in checked.stdout
    assert ": smoke skipped" in checked.stdout


def test_a_real_run_records_the_digest_of_each_step_it_ran(rehearsed: Path, cli: Golive) -> None:
    events = json.loads(cli("log", "--plan", rehearsed, "--format", "json").stdout)

    started = next(e for e in events if e["type"] == "RunStarted")

    assert started["data"]["step_digests"] == step_digests(load_plan(rehearsed).plan)
    assert set(started["data"]["step_digests"]) == {"deploy", "smoke"}


def test_after_an_edit_check_names_the_changed_step_of_a_really_rehearsed_plan(
    tmp_path: Path, cli: Golive, golive: Golive
) -> None:
    plan = write_plan(tmp_path, SHOP.replace("rollback_rehearsed: true, ", ""))
    assert golive("run", plan, "--env", "staging").returncode == 0
    assert cli("check", plan, "--ready").returncode == 0

    plan.write_text(plan.read_text().replace('run: "sleep 0.01"', 'run: "sleep 0.02"'))
    checked = cli("check", plan, "--ready")

    assert checked.returncode == 1
    assert "steps changed since the last rehearsal: smoke — rehearse them" in checked.stdout
