"""What the log says the engine owes: every decision derived from the folded state alone.

The engine records a fact, then records what follows from it (a failed step's policy, the pause
for a step nobody knows the end of, ...). An engine killed between the two leaves a log whose
consequence is missing; the next engine must not guess, nor act as if the fact had not
happened. `interrupted` turns what was running into what is known (interrupted, to rerun or to
ask about), and `owed` lists the events the state implies and the log lacks. The engine records
both when it attaches, and `owed` after each failure, so that a live run and a resumed one take
the same decisions from the same log.
"""

from __future__ import annotations

from golive.engine.events import (
    Decision,
    DecisionMade,
    Event,
    RunPaused,
    StepInterrupted,
    StepSkipped,
    UndoInterrupted,
)
from golive.engine.state import RunState, StepStatus, UndoStatus
from golive.plan.graph import StepGraph
from golive.plan.models import FailurePolicy, Plan, StepKind

SAFE_TO_RERUN = (StepKind.manual, StepKind.check)
ASK_STEP = (
    "was running when the engine stopped and is not idempotent: check whether it completed, "
    "then mark it done, retry it or skip it"
)
ASK_UNDO = (
    "its undo was running when the engine stopped and is not undo_idempotent: check whether "
    "it completed, then mark it done or retry it"
)


def interrupted(state: RunState, plan: Plan) -> list[Event]:
    """For an engine attaching: what the dead engine was doing, and whether it runs again."""
    events: list[Event] = []
    rollback = state.rollback_requested or state.rollback_started_at is not None
    for step_state in state.steps.values():
        step = plan.step(step_state.id)
        if step_state.status in (StepStatus.running, StepStatus.waiting, StepStatus.retrying):
            safe = (
                step.idempotent
                or step.kind in SAFE_TO_RERUN
                or step_state.status is not StepStatus.running
            )
            # a rollback undoes the step whatever its end: nothing to rerun, nobody to ask
            rerun = safe and not rollback
            events.append(StepInterrupted(step=step.id, attempt=step_state.attempt, rerun=rerun))
        if step_state.undo is UndoStatus.running:
            events.append(UndoInterrupted(step=step.id, rerun=step.undo_idempotent))
    return events


def owed(state: RunState, plan: Plan, graph: StepGraph, order: list[str]) -> list[Event]:
    """The events that follow from the state and are not in the log yet, in order."""
    if state.status.finished or state.abort_requested or state.rollback_end_unrecorded:
        return []
    if state.rolling_back:
        return [
            RunPaused(step=s, reason=_undo_question(state, s))
            for s in reversed(order)
            if state.step(s).undo in (UndoStatus.failed, UndoStatus.interrupted)
            and s not in state.blocked
        ]
    if state.rollback_requested:
        return []  # decided: the rollback undoes failed and interrupted steps alike
    events: list[Event] = []
    skipped: set[str] = set()
    for step_id in order:
        step_state = state.step(step_id)
        if step_state.status is StepStatus.interrupted and step_id not in state.blocked:
            events.append(RunPaused(step=step_id, reason=ASK_STEP))
        if step_state.status is not StepStatus.failed:
            continue
        step = plan.step(step_id)
        policy = step.failure or plan.failure
        error = step_state.error or "failed"
        if policy is FailurePolicy.rollback:
            why = f"step {step_id} failed ({error}); failure: rollback"
            decision = DecisionMade(step=step_id, decision=Decision.rollback, by="policy", why=why)
            return [decision]
        if policy is FailurePolicy.pause and step_id not in state.blocked:
            events.append(RunPaused(step=step_id, reason=f"failed: {error}"))
        elif policy is FailurePolicy.continue_:
            for descendant in order:
                if (
                    descendant not in skipped
                    and state.step(descendant).status is StepStatus.pending
                    and step_id in graph.ancestors(descendant)
                ):
                    skipped.add(descendant)
                    reason = f"needs {step_id}, which failed"
                    events.append(StepSkipped(step=descendant, reason=reason))
    return events


def _undo_question(state: RunState, step_id: str) -> str:
    step_state = state.step(step_id)
    if step_state.undo is UndoStatus.interrupted:
        return ASK_UNDO
    return f"undo failed: {step_state.undo_error}"
