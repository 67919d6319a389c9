"""Is the plan ready for production? The policy's demands against what the rehearsals showed.

`readiness` looks at the rehearsal runs only (runs outside production) and checks, in order:
enough completed rehearsals (`policy.rehearsals`); a complete rehearsed rollback when
`policy.rollback_rehearsed`; that rollback's duration against `policy.rollback_within`; the
forecast's P90 finish against the window; and, once the checklist's done state is known to the
caller, the open checklist items. Each unmet demand is one reason, worded for the user.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from golive.engine.checklist import ItemState, ItemStatus
from golive.plan.graph import StepGraph
from golive.plan.models import Plan, Policy
from golive.plan.values import format_duration
from golive.report.forecast import DEFAULT_ITERATIONS, Forecast, forecast, step_samples
from golive.report.history import RunAndState, completed, rehearsals

# The verdict must not flicker between two `golive check`s of the same history.
READINESS_SEED = 0


class Verdict(StrEnum):
    ready = "ready"
    not_ready = "not_ready"


@dataclass(frozen=True)
class RollbackRehearsal:
    """A rollback that ran to its end in a rehearsal."""

    run_id: str
    duration: float
    complete: bool


@dataclass(frozen=True)
class Readiness:
    """The verdict, the reasons it is not `ready` (empty when it is), and what it rests on."""

    verdict: Verdict
    reasons: list[str]
    rehearsals_needed: int
    rehearsals_completed: int
    rehearsals_run: int
    rollback: RollbackRehearsal | None  # the latest complete one, else the latest incomplete one
    forecast: Forecast | None  # None until a rehearsal has timed a step
    checklist_open: list[str] | None  # None: the checklist's done state was not given

    @property
    def ready(self) -> bool:
        return self.verdict is Verdict.ready

    def summary(self) -> str:
        """One line: `ready (3 rehearsals, rollback rehearsed in 4m12s)` or `not ready: ...`."""
        if not self.ready:
            return "not ready: " + "; ".join(self.reasons)
        done = self.rehearsals_completed
        parts = [_count(done, "rehearsal") if done else "no rehearsals needed"]
        if self.rollback is not None and self.rollback.complete:
            parts.append(f"rollback rehearsed in {format_duration(self.rollback.duration)}")
        return f"ready ({', '.join(parts)})"

    def to_json(self) -> dict[str, Any]:
        rollback = self.rollback
        return {
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "rehearsals": {
                "needed": self.rehearsals_needed,
                "completed": self.rehearsals_completed,
                "run": self.rehearsals_run,
            },
            "rollback": None
            if rollback is None
            else {
                "run": rollback.run_id,
                "duration": rollback.duration,
                "complete": rollback.complete,
            },
            "forecast": None
            if self.forecast is None
            else {
                "p50": self.forecast.finish_p50,
                "p90": self.forecast.finish_p90,
                "window": self.forecast.window,
                "overflow": self.forecast.overflow,
                "weak": self.forecast.weak,
            },
            "checklist_open": self.checklist_open,
        }


def readiness(
    plan: Plan,
    runs_and_states: Sequence[RunAndState],
    *,
    checklist_done: Collection[str] | None = None,
    checklist_overdue: Collection[str] = (),
    iterations: int = DEFAULT_ITERATIONS,
) -> Readiness:
    """Whether `plan` may go to production, given its runs (see `history.load_runs`).

    `checklist_done` holds the ids of the checklist items that are done. The plan file does not
    say which are (that state arrives with the checklist commands); until a caller knows it,
    leave it None and the checklist is not part of the verdict. `checklist_overdue` names the
    open items whose due date has passed: each is named as overdue, owner and due date.
    """
    tried = rehearsals(runs_and_states)
    policy = plan.policy
    done = sum(1 for _, state in tried if completed(state))
    rollback = _rehearsed_rollback(tried)
    predicted = _forecast(plan, tried, iterations=iterations)
    open_items = _open_items(plan, checklist_done)
    reasons = [
        *_rehearsal_reasons(policy, done=done, tried=len(tried)),
        *_rollback_reasons(policy, rollback),
        *_forecast_reasons(predicted),
        *_checklist_reasons(plan, open_items),
        *_overdue_reasons(plan, checklist_overdue),
    ]
    return Readiness(
        verdict=Verdict.not_ready if reasons else Verdict.ready,
        reasons=reasons,
        rehearsals_needed=policy.rehearsals,
        rehearsals_completed=done,
        rehearsals_run=len(tried),
        rollback=rollback,
        forecast=predicted,
        checklist_open=open_items,
    )


def _rehearsal_reasons(policy: Policy, *, done: int, tried: int) -> list[str]:
    if done >= policy.rehearsals:
        return []
    needed = _count(policy.rehearsals, "rehearsal")
    # "0 of 3 rehearsals" when none was even tried; "1 of 3 rehearsals completed" otherwise.
    return [f"{done} of {needed} completed" if tried else f"0 of {needed}"]


def _rollback_reasons(policy: Policy, rollback: RollbackRehearsal | None) -> list[str]:
    if rollback is None or not rollback.complete:
        if not policy.rollback_rehearsed:
            return []
        if rollback is None:
            return ["rollback not rehearsed"]
        return [f"rollback not rehearsed: the rollback of run {rollback.run_id} was incomplete"]
    within = policy.rollback_within
    if within is None or rollback.duration <= within.total_seconds():
        return []
    return [
        f"the rehearsed rollback took {format_duration(rollback.duration)}, "
        f"more than rollback_within {format_duration(within)}"
    ]


def _forecast_reasons(predicted: Forecast | None) -> list[str]:
    if predicted is None or predicted.window is None or not predicted.overflow:
        return []
    return [
        f"forecast P90 finish {format_duration(predicted.finish_p90)} overflows the "
        f"{format_duration(predicted.window)} window"
    ]


def _checklist_reasons(plan: Plan, open_items: list[str] | None) -> list[str]:
    if not open_items:
        return []
    items = _count(len(plan.checklist), "checklist item")
    return [f"{len(open_items)} of {items} not done: {', '.join(open_items)}"]


def _overdue_reasons(plan: Plan, overdue: Collection[str]) -> list[str]:
    late = [item for item in plan.checklist if item.id in overdue]
    if not late:
        return []
    named = ", ".join(f"{i.id} ({i.owner or 'no owner'}, due {i.due})" for i in late)
    return [f"overdue: {named}"]


def _rehearsed_rollback(tried: Sequence[RunAndState]) -> RollbackRehearsal | None:
    """The latest complete rehearsed rollback, else the latest incomplete one, else None."""
    finished = [
        RollbackRehearsal(record.id, state.rollback_duration, bool(state.rollback_complete))
        for record, state in tried
        if state.rollback_duration is not None
    ]
    complete = [r for r in finished if r.complete]
    candidates = complete or finished
    return candidates[-1] if candidates else None


def _forecast(plan: Plan, tried: Sequence[RunAndState], *, iterations: int) -> Forecast | None:
    if not step_samples(tried) or StepGraph(plan.steps).find_cycle():
        return None
    return forecast(plan, tried, iterations=iterations, seed=READINESS_SEED)


def _open_items(plan: Plan, checklist_done: Collection[str] | None) -> list[str] | None:
    if checklist_done is None:
        return None
    return [item.id for item in plan.checklist if item.id not in checklist_done]


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def readiness_now(
    plan: Plan, runs_and_states: Sequence[RunAndState], items: Sequence[ItemStatus]
) -> Readiness:
    """`readiness` with the checklist as it stands: `items` are each item's status now
    (`golive.engine.checklist.statuses`)."""
    return readiness(
        plan,
        runs_and_states,
        checklist_done={s.item.id for s in items if s.done},
        checklist_overdue={s.item.id for s in items if s.state is ItemState.overdue},
    )
