from __future__ import annotations

from collections.abc import Callable

from tests.report.conftest import plan_text

from golive.engine.events import Outcome, RunFinished, RunStarted, StepSucceeded, encode
from golive.plan import Plan
from golive.report.history import RunAndState
from golive.report.readiness import Verdict, readiness
from golive.store import EventStore, RunRecord

Parse = Callable[[str], Plan]
RunsOf = Callable[[Plan], list[RunAndState]]
Record = Callable[..., RunRecord]

POLICY = """
golive: shop
title: Shop
window: {start: 2026-12-13 20:00, end: 2026-12-13 23:00}
policy: {rehearsals: 3, rollback_rehearsed: true, rollback_within: 15m}
environments: {staging: {}, production: {}}
checklist:
  - {id: backup, title: Backup taken}
  - {id: dns, title: DNS TTL lowered}
steps:
  - {id: deploy, run: "true", undo: "true", estimate: 10m}
  - {id: smoke, run: "true", needs: [deploy], estimate: 1m}
"""
FAST = {"deploy": 600, "smoke": 60}


def test_a_plan_never_rehearsed_is_not_ready(parse: Parse) -> None:
    result = readiness(parse(POLICY), [])

    assert result.verdict is Verdict.not_ready
    assert result.reasons == ["0 of 3 rehearsals", "rollback not rehearsed"]
    assert result.summary() == "not ready: 0 of 3 rehearsals; rollback not rehearsed"
    assert result.forecast is None


def test_failed_rehearsals_do_not_count_as_completed(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(POLICY)
    record(plan, FAST)
    record(plan, {"deploy": 600}, failed="deploy")

    result = readiness(plan, runs_of(plan))

    assert result.reasons[0] == "1 of 3 rehearsals completed"
    assert (result.rehearsals_completed, result.rehearsals_run) == (1, 2)


def test_production_runs_are_not_rehearsals(parse: Parse, record: Record, runs_of: RunsOf) -> None:
    plan = parse(POLICY)
    record(plan, FAST, env="production", rollback=(True, 60))

    result = readiness(plan, runs_of(plan))

    assert result.reasons == ["0 of 3 rehearsals", "rollback not rehearsed"]


def test_a_plan_rehearsed_without_a_rollback_is_not_ready(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(POLICY)
    for _ in range(3):
        record(plan, FAST)

    result = readiness(plan, runs_of(plan))

    assert result.reasons == ["rollback not rehearsed"]


def test_an_incomplete_rehearsed_rollback_does_not_count(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(POLICY)
    for _ in range(2):
        record(plan, FAST)
    bad = record(plan, FAST, rollback=(False, 120))

    result = readiness(plan, runs_of(plan))

    assert result.reasons == [
        f"rollback not rehearsed: the rollback of run {bad.id} was incomplete"
    ]


def test_a_rehearsed_rollback_slower_than_rollback_within_is_a_reason(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(POLICY)
    for _ in range(2):
        record(plan, FAST)
    record(plan, FAST, rollback=(True, 18 * 60))

    result = readiness(plan, runs_of(plan))

    assert result.reasons == ["the rehearsed rollback took 18m, more than rollback_within 15m"]


def test_the_latest_complete_rehearsed_rollback_is_the_one_judged(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(POLICY)
    record(plan, FAST, rollback=(True, 18 * 60))
    record(plan, FAST)
    latest = record(plan, FAST, rollback=(True, 4 * 60 + 12))

    result = readiness(plan, runs_of(plan))

    assert result.ready
    assert result.rollback is not None
    assert result.rollback.run_id == latest.id


def test_enough_rehearsals_and_a_quick_rehearsed_rollback_make_a_plan_ready(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(POLICY)
    record(plan, FAST)
    record(plan, FAST)
    record(plan, FAST, rollback=(True, 4 * 60 + 12))  # completed, then rolled back on purpose

    result = readiness(plan, runs_of(plan))

    assert result.verdict is Verdict.ready
    assert result.reasons == []
    assert result.summary() == "ready (3 rehearsals, rollback rehearsed in 4m12s)"
    assert result.forecast is not None
    assert not result.forecast.overflow


def test_a_forecast_overflowing_the_window_is_a_reason(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(POLICY)  # a three-hour window
    record(plan, {"deploy": 3 * 3600, "smoke": 600})
    record(plan, {"deploy": 3 * 3600, "smoke": 700})
    record(plan, {"deploy": 3 * 3600, "smoke": 800}, rollback=(True, 60))

    result = readiness(plan, runs_of(plan))

    assert len(result.reasons) == 1
    assert result.reasons[0].startswith("forecast P90 finish 3h")
    assert result.reasons[0].endswith("overflows the 3h window")
    assert result.to_json()["forecast"]["overflow"] is True


def test_the_checklist_counts_only_once_its_done_state_is_given(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(POLICY)
    record(plan, FAST)
    record(plan, FAST)
    record(plan, FAST, rollback=(True, 60))
    runs = runs_of(plan)

    unknown = readiness(plan, runs)
    partly = readiness(plan, runs, checklist_done={"backup"})
    all_done = readiness(plan, runs, checklist_done={"backup", "dns"})

    assert unknown.ready
    assert unknown.checklist_open is None
    assert partly.reasons == ["1 of 2 checklist items not done: dns"]
    assert all_done.ready


def test_a_policy_without_demands_is_ready_before_any_rehearsal(parse: Parse) -> None:
    plan = parse(POLICY.replace("policy: {rehearsals: 3, rollback_rehearsed: true, ", "policy: {"))

    result = readiness(plan, [])

    assert result.summary() == "ready (no rehearsals needed)"


def test_a_rehearsal_past_a_skipped_step_is_completed_with_exceptions_and_does_not_count(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(POLICY)
    record(plan, FAST)
    record(plan, FAST, skipped="smoke")
    record(plan, FAST, rollback=(True, 300))

    result = readiness(plan, runs_of(plan))

    assert result.rehearsals_completed == 2
    assert result.reasons[0] == "2 of 3 rehearsals completed"
    assert result.reasons[1].startswith("completed with exceptions, not counted: ")
    assert result.reasons[1].endswith(": smoke skipped")
    assert len(result.with_exceptions) == 1


CHANGED = POLICY.replace('{id: smoke, run: "true"', '{id: smoke, run: "curl -f localhost"').replace(
    "steps:\n", 'steps:\n  - {id: notice, run: "true", undo: "true", estimate: 1m}\n'
)


def test_after_a_plan_change_only_the_changed_and_added_steps_need_rehearsing(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    before, after = parse(POLICY), parse(CHANGED)
    for _ in range(3):
        record(before, FAST)
    record(before, FAST, rollback=(True, 300))
    assert readiness(before, runs_of(before)).ready

    result = readiness(after, runs_of(after))

    assert result.reasons == [
        "steps changed since the last rehearsal: smoke, notice — rehearse them"
    ]
    assert result.changes.to_json() == {"added": ["notice"], "changed": ["smoke"], "removed": []}
    assert result.rehearsals_current == 0
    assert result.to_json()["rehearsals"]["changed_steps"]["changed"] == ["smoke"]


def test_the_changed_steps_count_again_once_rehearsed_as_often_as_policy_asks(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    before, after = parse(POLICY), parse(CHANGED)
    record(before, FAST, rollback=(True, 300))
    for _ in range(2):
        record(before, FAST)
    both = {"notice": 60, **FAST}
    record(after, both)
    partly = readiness(after, runs_of(after))
    record(after, both)
    record(after, both)

    assert partly.reasons == [
        "notice, smoke rehearsed as defined now in only 1 of 3 rehearsals — rehearse them"
    ]
    assert readiness(after, runs_of(after)).ready


VERIFYING = (
    POLICY.replace("rollback_rehearsed: true, rollback_within: 15m", "rehearsals_x").replace(
        "rehearsals: 3, rehearsals_x", "rehearsals: 1"
    )
    + """  - id: check-data
    needs: [smoke]
    verify:
      source: sqlite:///a.db
      target: sqlite:///b.db
      tables: [{source: accounts, key: id}]
"""
)


def test_three_rehearsals_with_every_verify_step_passing_are_needed_by_default(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(VERIFYING)
    timed = {**FAST, "check-data": 30}
    record(plan, timed)
    record(plan, timed, failed="check-data")
    record(plan, timed)

    result = readiness(plan, runs_of(plan))
    record(plan, timed)

    assert plan.verify_passes_needed == 3
    assert result.reasons == [
        "every verify step (check-data) passed in 2 of 3 rehearsals "
        "(policy.rehearsals.verify_passes)"
    ]
    assert result.to_json()["verify_passes"] == {"needed": 3, "passed": 2}
    assert readiness(plan, runs_of(plan)).ready


def test_verify_passes_is_set_in_the_policy_as_part_of_rehearsals(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(VERIFYING.replace("rehearsals: 1", "rehearsals: {needed: 1, verify_passes: 1}"))
    record(plan, {**FAST, "check-data": 30})

    result = readiness(plan, runs_of(plan))

    assert (plan.policy.rehearsals_needed, plan.verify_passes_needed) == (1, 1)
    assert result.ready


def test_a_rehearsal_logged_before_step_digests_were_recorded_counts_from_its_plan_text(
    parse: Parse, store: EventStore, runs_of: RunsOf
) -> None:
    plan = parse(POLICY.replace("rehearsals: 3", "rehearsals: 1"))
    run = store.create_run(
        plan_id="shop", plan_path="plan.golive.yaml", plan_hash="0f3a", env="staging",
        release="1.0", rehearsal=True, started_by="ana",
    )  # fmt: skip
    _, _, started = encode(RunStarted(
        plan_id="shop", plan_path="plan.golive.yaml", plan_hash="0f3a", plan_text=plan_text(plan),
        env="staging", release="1.0", rehearsal=True, started_by="ana", max_parallel=10,
        host="test", pid=1, steps=["deploy", "smoke"],
    ))  # fmt: skip
    del started["step_digests"]  # as an older golive wrote it
    store.append(run.id, "RunStarted", step=None, data=started)
    for event in (
        StepSucceeded(step="deploy", attempt=1, duration=600),
        StepSucceeded(step="smoke", attempt=1, duration=60),
        RunFinished(outcome=Outcome.completed, duration=660),
    ):
        kind, step, data = encode(event)
        store.append(run.id, kind, step=step, data=data)

    result = readiness(plan, runs_of(plan))

    assert (result.rehearsals_completed, result.rehearsals_current) == (1, 1)
    assert "rehearsal" not in "; ".join(result.reasons).replace("rollback not rehearsed", "")
