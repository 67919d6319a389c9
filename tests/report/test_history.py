from __future__ import annotations

from collections.abc import Callable

import pytest

from golive.engine.events import StepFailed, StepSucceeded, encode
from golive.engine.state import StepStatus
from golive.plan import Plan
from golive.report.history import RunAndState, history, load_runs, load_verified, short_id
from golive.store import EventStore, RunRecord

Parse = Callable[[str], Plan]
RunsOf = Callable[[Plan], list[RunAndState]]
Record = Callable[..., RunRecord]

# smoke comes first in the file but needs both others: the rows follow the dependencies.
THREE_STEPS = """
golive: shop
title: Shop
environments: {staging: {}, production: {}}
steps:
  - {id: smoke, run: "true", needs: [deploy, migrate]}
  - {id: deploy, run: "true"}
  - {id: migrate, run: "true"}
"""


def test_history_shows_each_steps_duration_in_each_run_in_dependency_order(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(THREE_STEPS)
    record(plan, {"deploy": 60, "migrate": 120, "smoke": 10})
    record(plan, {"deploy": 70, "migrate": 100, "smoke": 12})

    table = history(plan, runs_of(plan))

    assert table.steps == ["deploy", "migrate", "smoke"]
    assert [[run.cells[s].duration for s in table.steps] for run in table.runs] == [
        [60, 120, 10],
        [70, 100, 12],
    ]
    assert [run.total for run in table.runs] == [190, 182]
    assert not table.has_rollback


def test_a_failed_step_has_no_duration_and_a_step_never_reached_stays_pending(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(THREE_STEPS)
    record(plan, {"deploy": 60, "migrate": 5}, failed="migrate")

    (run,) = history(plan, runs_of(plan)).runs

    assert run.cells["migrate"].status is StepStatus.failed
    assert run.cells["migrate"].duration is None
    assert run.cells["smoke"].status is StepStatus.pending
    assert not run.completed


def test_a_completed_rehearsal_rolled_back_afterwards_counts_as_completed_and_its_total_leaves_the_rollback_out(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(THREE_STEPS)
    record(plan, {"deploy": 60, "migrate": 120, "smoke": 10}, rollback=(True, 250))

    table = history(plan, runs_of(plan))
    (run,) = table.runs

    assert run.completed
    assert run.total == 190
    assert run.state.rollback_duration == 250
    assert table.has_rollback


def test_steps_that_only_older_runs_had_are_listed_after_the_plans_steps(
    parse: Parse, record: Record, runs_of: RunsOf
) -> None:
    plan = parse(THREE_STEPS)
    record(plan, {"deploy": 60, "warm-cache": 30, "migrate": 120, "smoke": 10})

    table = history(plan, runs_of(plan))

    assert table.steps == ["deploy", "migrate", "smoke", "warm-cache"]
    assert table.runs[0].cells["warm-cache"].duration == 30


def test_load_runs_keeps_the_plans_runs_of_one_environment_oldest_first(
    parse: Parse, record: Record, store: EventStore
) -> None:
    plan = parse(THREE_STEPS)
    other = parse(THREE_STEPS.replace("golive: shop", "golive: other"))
    first = record(plan, {"deploy": 1})
    record(plan, {"deploy": 2}, env="production")
    third = record(plan, {"deploy": 3})
    record(other, {"deploy": 4})

    staging = load_runs(store=store, plan_id="shop", env="staging")
    last = load_runs(store=store, plan_id="shop", last=1)

    assert [record.id for record, _ in staging] == [first.id, third.id]
    assert [state.steps["deploy"].duration for _, state in last] == [3]


@pytest.mark.parametrize(
    ("run_id", "short"),
    [("r-20261206-200012-a3f9", "a3f9"), ("rehearsal-number-one", "rehearsal-nu")],
)
def test_a_generated_run_id_is_shown_by_its_random_part(run_id: str, short: str) -> None:
    assert short_id(run_id) == short


def figures(missing: int, *, table: str = "bookings") -> dict[str, object]:
    rows = 300 - missing
    return {
        "tables": [
            {"source": "reservations", "target": table, "ok": missing == 0, "source_rows": 300,
             "target_rows": rows, "missing": missing, "extra": 0, "changed": 0,
             "changed_during_check": None, "error": None},
        ]
    }  # fmt: skip


def test_history_holds_the_figures_of_each_verify_steps_last_attempt_run_by_run(
    parse: Parse, record: Record, runs_of: RunsOf, store: EventStore
) -> None:
    plan = parse(THREE_STEPS)
    first, second = record(plan, {"deploy": 60}), record(plan, {"deploy": 50})
    for run, attempts in ((first, [3, 1]), (second, [0])):
        for attempt, missing in enumerate(attempts, start=1):
            event = StepSucceeded if missing == 0 else StepFailed
            extra = {"exit_code": 0} if missing == 0 else {"error": "verification failed"}
            _, step, data = encode(event(
                step="verify", attempt=attempt, duration=1, details=figures(missing), **extra
            ))  # fmt: skip
            store.append(run.id, event.type, step=step, data=data)

    verified = {r.id: load_verified(store=store, run_id=r.id) for r in (first, second)}
    table = history(plan, runs_of(plan), verified)

    assert table.verified == [("verify", "reservations -> bookings")]
    found = [run.verified[("verify", "reservations -> bookings")] for run in table.runs]
    assert [(f.ok, f.missing, f.target_rows) for f in found] == [(False, 1, 299), (True, 0, 300)]
