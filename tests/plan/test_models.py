"""The plan format: what a plan may say, and the defaults it gets when it says nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from golive.plan.models import (
    FailurePolicy,
    HttpCheck,
    Plan,
    Step,
    StepCheck,
    StepKind,
    Window,
)
from golive.plan.values import Weekday


def plan(**extra: Any) -> Plan:
    return Plan.model_validate({"golive": "demo", "title": "Demo", **extra})


def step(**extra: Any) -> Step:
    return Step.model_validate({"id": "s", **extra})


def test_a_plan_needs_only_an_id_and_a_title() -> None:
    minimal = plan()
    assert minimal.timezone == "UTC"
    assert minimal.policy.never_on == [Weekday.friday]
    assert minimal.failure is FailurePolicy.pause
    assert minimal.window is None
    assert minimal.steps == []


def test_unknown_keys_are_refused_everywhere() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        plan(titel="x")
    with pytest.raises(ValidationError, match="Extra inputs"):
        step(run="x", estimte="5m")


def test_timezone_must_be_an_iana_name() -> None:
    assert plan(timezone="Europe/Brussels").zone.key == "Europe/Brussels"
    for wrong in ("Europe/Brussel", "", "../etc/passwd", "CET/"):
        with pytest.raises(ValidationError, match="unknown timezone"):
            plan(timezone=wrong)


def test_window_must_end_after_it_starts() -> None:
    window = Window.model_validate({"start": "2026-12-06 20:00", "end": "2026-12-07 06:00"})
    assert window.length == dt.timedelta(hours=10)
    with pytest.raises(ValidationError, match="the window ends"):
        Window.model_validate({"start": "2026-12-06 20:00", "end": "2026-12-06 20:00"})


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ({"run": "make"}, StepKind.run),
        ({"manual": True}, StepKind.manual),
        ({"manual": "Call the bank"}, StepKind.manual),
        ({"check": {"http": "https://x"}}, StepKind.check),
        ({"verify": {"source": "a", "target": "b"}}, StepKind.verify),
        ({"traffic": {"strategy": "canary", "from": "blue", "to": "green"}}, StepKind.traffic),
        ({"gate": "Go?", "approvers": ["alice"]}, StepKind.gate),
    ],
)
def test_a_step_kind_is_its_one_action(action: dict[str, Any], kind: StepKind) -> None:
    assert step(**action).kind is kind


def test_a_step_without_an_action_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"exactly one action .*found none"):
        step(title="nothing to do")
    with pytest.raises(ValidationError, match="found none"):
        step(manual=False)


def test_a_step_with_two_actions_is_refused_naming_both() -> None:
    with pytest.raises(ValidationError, match="found run and manual"):
        step(run="make", manual=True)


def test_approvers_belong_to_gates_only() -> None:
    with pytest.raises(ValidationError, match="approvers and checks belong to gate steps only"):
        step(run="make", approvers=["alice"])


def test_a_run_step_without_undo_is_the_one_that_changes_something_irreversibly() -> None:
    assert step(run="make").changes_something
    assert not step(run="make", undo="make clean").changes_something
    assert not step(manual=True).changes_something


def test_label_is_the_title_or_the_gate_or_the_id() -> None:
    assert step(run="make", title="Build").label == "Build"
    assert step(gate="Go?", approvers=["a"]).label == "Go?"
    assert step(run="make").label == "s"


def test_quorum_all_counts_every_approver() -> None:
    assert step(gate="Go?", approvers=["a", "b", "c"]).quorum_of() == 3
    assert step(gate="Go?", approvers=["a", "b", "c"], quorum=2).quorum_of() == 2
    with pytest.raises(ValidationError):
        step(gate="Go?", approvers=["a"], quorum=0)


def test_a_gate_check_may_name_a_step_alone() -> None:
    gate = step(gate="Go?", checks=["smoke", {"http": "https://x", "expect": [200, 204]}])
    assert gate.checks[0] == StepCheck(step="smoke")
    assert isinstance(gate.checks[1], HttpCheck)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"htp": "https://x"}, "a check needs exactly one of"),
        ({"http": "https://x", "tls": "x"}, "a check needs exactly one of"),
        ({"sql": "select 1", "db": "sqlite://"}, "a sql check needs an expectation"),
        ("smoke", "a check needs exactly one of"),
    ],
)
def test_a_check_is_exactly_one_kind_of_check(check: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        step(check=check)


def test_a_secret_comes_from_exactly_one_source() -> None:
    environment = {"secrets": {"DB": {"env": "DB_PASSWORD"}}}
    assert plan(environments={"prod": environment}).environments["prod"].secrets["DB"].env
    for source in ({}, {"env": "A", "file": "/run/secret"}):
        with pytest.raises(ValidationError, match="exactly one of env"):
            plan(environments={"prod": {"secrets": {"DB": source}}})


def test_variables_written_as_numbers_or_booleans_become_text() -> None:
    variables = plan(environments={"s": {"vars": {"port": 8080, "debug": True}}})
    assert variables.environments["s"].vars == {"port": "8080", "debug": "true"}


def test_production_is_the_environment_named_so_unless_one_says_otherwise() -> None:
    environments = {"production": {}, "live": {"production": True}, "prod": {}}
    it = plan(environments=environments)
    assert it.is_production("production")
    assert it.is_production("live")
    assert not it.is_production("prod")
    assert not it.is_production("nowhere")


def test_a_step_is_found_by_its_id() -> None:
    it = plan(steps=[{"id": "a", "run": "x"}, {"id": "b", "run": "y"}])
    assert it.step("b").run == "y"
    with pytest.raises(KeyError):
        it.step("c")


@pytest.mark.parametrize("ident", ["a b", "", "-lead", "x" * 65, "é"])
def test_ids_are_short_plain_names(ident: str) -> None:
    with pytest.raises(ValidationError):
        plan(golive=ident)


def test_policy_holidays_may_be_one_region_or_several() -> None:
    assert plan(policy={"holidays": "BE"}).policy.holiday_regions == ["BE"]
    assert plan(policy={"holidays": ["BE", "NL"]}).policy.holiday_regions == ["BE", "NL"]
    assert plan().policy.holiday_regions == []


def test_undo_is_refused_on_a_step_that_would_never_run_it() -> None:
    with pytest.raises(
        ValueError, match="undo: is run for run, sql, fabric and ansible steps only"
    ):
        Step.model_validate({"id": "tell", "manual": True, "undo": "tell them it is off"})
