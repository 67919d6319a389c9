"""How far a run is and how long it still needs, from its state and the plan's estimates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

from golive.engine.state import RunState, StepStatus
from golive.plan.graph import StepGraph, finish_times

if TYPE_CHECKING:
    from golive.plan.models import Plan
    from golive.plan.outline import PlanOutline


def eta_seconds(
    plan: Plan | PlanOutline,
    state: RunState,
    *,
    now: dt.datetime,
    durations: Mapping[str, float] | None = None,
) -> float | None:
    """Seconds until the last step should end: what remains of the critical path.

    `durations` (e.g. P50s from rehearsals) override the plan's estimates where given.
    None when the run is over or nothing has an estimate.
    """
    if state.status.finished:
        return None
    remaining: dict[str, float] = {}
    for step in plan.steps:
        st = state.step(step.id)
        if st.done:
            remaining[step.id] = 0.0
            continue
        expected = (durations or {}).get(step.id)
        if expected is None:
            expected = step.estimate.total_seconds() if step.estimate else 0.0
        if st.status in (StepStatus.running, StepStatus.waiting) and st.attempt_started_at:
            expected = max(0.0, expected - (now - st.attempt_started_at).total_seconds())
        remaining[step.id] = expected
    total = max(finish_times(StepGraph(plan.steps), remaining).values(), default=0.0)
    return total or None
