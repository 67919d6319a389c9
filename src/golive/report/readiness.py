"""Is the plan ready for production? The policy's demands against what the rehearsals showed.

`readiness` looks at the rehearsal runs only (runs outside production) and checks, in order:
enough completed rehearsals (`policy.rehearsals`), a rehearsal counting only if every step
succeeded (one that went past a skipped step is "completed with exceptions") and, step by step,
only if it ran the step as the plan defines it now (see `golive.report.rehearsals`); enough
rehearsals in which every verify step passed (`policy.rehearsals.verify_passes`); a complete
rehearsed rollback when `policy.rollback_rehearsed`; that rollback's duration against
`policy.rollback_within`; the forecast's P90 finish against the window; and, once the
checklist's done state is known to the caller, the open checklist items. Each unmet demand is
one reason, worded for the user. `plan_readiness` reads all of it from a store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from golive.engine.checklist import ItemState, ItemStatus, statuses
from golive.errors import StoreError
from golive.plan.graph import StepGraph
from golive.plan.models import Plan
from golive.plan.values import format_duration
from golive.report.forecast import DEFAULT_ITERATIONS, Forecast, forecast, step_samples
from golive.report.history import RunAndState, load_runs, rehearsals
from golive.report.rehearsals import Changes, Rehearsed, rehearsed
from golive.store import open_store
from golive.store.url import missing_sqlite_file

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
    rehearsals_current: int = 0  # completed rehearsals of every step as it is defined now
    with_exceptions: list[str] = field(default_factory=list)  # `run: steps skipped`
    changes: Changes = field(default_factory=Changes)  # since the last completed rehearsal
    verify_passes_needed: int = 0
    verify_passes: int = 0
    checklist_on_behalf: list[str] = field(default_factory=list)  # `item (bob for alice)`

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
                "current": self.rehearsals_current,
                "run": self.rehearsals_run,
                "with_exceptions": list(self.with_exceptions),
                "changed_steps": self.changes.to_json(),
            },
            "verify_passes": {
                "needed": self.verify_passes_needed,
                "passed": self.verify_passes,
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
            "checklist_on_behalf": list(self.checklist_on_behalf),
        }


def readiness(
    plan: Plan,
    runs_and_states: Sequence[RunAndState],
    *,
    checklist_done: Collection[str] | None = None,
    checklist_overdue: Collection[str] = (),
    checklist_on_behalf: Mapping[str, str] | None = None,
    iterations: int = DEFAULT_ITERATIONS,
) -> Readiness:
    """Whether `plan` may go to production, given its runs (see `history.load_runs`).

    `checklist_done` holds the ids of the checklist items that are done. The plan file does not
    say which are (that state arrives with the checklist commands); until a caller knows it,
    leave it None and the checklist is not part of the verdict. `checklist_overdue` names the
    open items whose due date has passed: each is named as overdue, owner and due date.
    `checklist_on_behalf` says, by item, who marked it for its owner (`bob for alice`).
    """
    tried = rehearsals(runs_and_states)
    policy = plan.policy
    proof = rehearsed(plan, tried)
    rollback = _rehearsed_rollback(tried)
    predicted = _forecast(plan, tried, iterations=iterations)
    open_items = _open_items(plan, checklist_done)
    reasons = [
        *_rehearsal_reasons(policy.rehearsals_needed, proof, tried=len(tried)),
        *_verify_reasons(plan.verify_passes_needed, proof),
        *_rollback_reasons(plan, rollback),
        *_forecast_reasons(predicted),
        *_checklist_reasons(plan, open_items),
        *_overdue_reasons(plan, checklist_overdue),
    ]
    return Readiness(
        verdict=Verdict.not_ready if reasons else Verdict.ready,
        reasons=reasons,
        rehearsals_needed=policy.rehearsals_needed,
        rehearsals_completed=proof.completed,
        rehearsals_run=len(tried),
        rollback=rollback,
        forecast=predicted,
        checklist_open=open_items,
        rehearsals_current=proof.current,
        with_exceptions=proof.with_exceptions,
        changes=proof.changes,
        verify_passes_needed=plan.verify_passes_needed,
        verify_passes=proof.verify_passes,
        checklist_on_behalf=[
            f"{item.id} ({checklist_on_behalf[item.id]})"
            for item in plan.checklist
            if checklist_on_behalf and item.id in checklist_on_behalf
        ],
    )


def _rehearsal_reasons(needed: int, proof: Rehearsed, *, tried: int) -> list[str]:
    reasons = []
    if proof.completed < needed:
        wanted = _count(needed, "rehearsal")
        # "0 of 3 rehearsals" when none was even tried; "1 of 3 rehearsals completed" otherwise.
        reasons.append(f"{proof.completed} of {wanted} completed" if tried else f"0 of {wanted}")
        if proof.with_exceptions:
            reasons.append(
                "completed with exceptions, not counted: " + "; ".join(proof.with_exceptions)
            )
    behind = proof.behind(needed)
    if not behind:
        return reasons
    changed = [s for s in proof.changes.to_rehearse if s in behind]
    if changed:
        reasons.append(
            f"steps changed since the last rehearsal: {', '.join(changed)} — rehearse them"
        )
    elif proof.completed >= needed:
        reasons.append(
            f"{', '.join(behind)} rehearsed as defined now in only {proof.current} of "
            f"{_count(needed, 'rehearsal')} — rehearse them"
        )
    return reasons


def _verify_reasons(needed: int, proof: Rehearsed) -> list[str]:
    if not proof.verify_steps or proof.verify_passes >= needed:
        return []
    return [
        f"every verify step ({', '.join(proof.verify_steps)}) passed in {proof.verify_passes} of "
        f"{_count(needed, 'rehearsal')} (policy.rehearsals.verify_passes)"
    ]


def _rollback_reasons(plan: Plan, rollback: RollbackRehearsal | None) -> list[str]:
    policy = plan.policy
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
        checklist_on_behalf={s.item.id: s.marked_for for s in items if s.done and s.marked_for},
    )


def plan_readiness(plan: Plan, *, store_url: str, now: dt.datetime) -> Readiness | str:
    """The plan's readiness from the store at `store_url` (its runs and its checklist marks as
    of `now`), or why the store cannot be read. A missing SQLite store is not created: it
    holds no runs and no marks."""
    try:
        if missing_sqlite_file(store_url):
            return readiness_now(plan, [], statuses(plan, [], now=now))
        with open_store(store_url) as store:
            runs = load_runs(store=store, plan_id=plan.golive)
            items = statuses(plan, store.checklist_marks(plan.golive), now=now)
    except StoreError as exc:
        return exc.message
    return readiness_now(plan, runs, items)
