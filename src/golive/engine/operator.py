"""What people do to a run while it goes: mark a step done, vote at a gate, decide.

Each command reads the run's state, refuses with a `DecisionRejected` that says why when the
action does not fit that state, and otherwise appends the event. An engine driving the run
(here or in another terminal) picks the event up from the store.

This module is what `golive gate`, `done` and `decide` load: it imports neither the engine's
runner nor the actions nor asyncio (engine/commands.py starts and attaches engines; SQLAlchemy
imports asyncio itself once the store opens).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from golive.engine.events import (
    Decision,
    DecisionMade,
    GateVoted,
    Recorded,
    StepMarkedDone,
    Vote,
    decode,
    encode,
)
from golive.engine.gates import Ballot, Verdict, verdict
from golive.engine.lease import driving_lease, host_name
from golive.engine.orphans import Orphan, local_alive
from golive.engine.state import RunState, RunStatus, StepStatus, UndoStatus
from golive.errors import DecisionRejected, UsageError
from golive.plan import Plan, parse_plan_text
from golive.plan.diagnostics import did_you_mean
from golive.plan.models import StepKind
from golive.store.records import RunRecord

if TYPE_CHECKING:  # the store's SQL loads when the command opens the store
    from golive.store import EventStore


def read_events(store: EventStore, run_id: str) -> list[Recorded]:
    """The run's events, decoded (a record that does not fit its type is a StoreError)."""
    return [
        Recorded(s.seq, s.at, decode(s.type, s.step, s.data, where=f"run {run_id} event {s.seq}"))
        for s in store.events(run_id)
    ]


def read_state(store: EventStore, run_id: str) -> RunState:
    """The run's state as its events describe it."""
    return RunState.fold(run_id, read_events(store, run_id))


def run_plan(state: RunState, *, display: str) -> Plan:
    """The plan exactly as it was when the run started (kept in the log)."""
    return parse_plan_text(state.plan_text, display=display)


def engine_alive(*, store: EventStore, run_id: str) -> bool:
    """Whether an engine, on this host or another, drives the run now (it holds the lease)."""
    return driving_lease(store=store, run_id=run_id) is not None


def check_person(plan: Plan, who: str) -> str:
    if who not in plan.people:
        known = ", ".join(plan.people) or "nobody: add people: to the plan"
        raise UsageError(f"--as {who}: not a person of this plan (known: {known})")
    return who


def _append(
    store: EventStore, run_id: str, event: DecisionMade | StepMarkedDone | GateVoted
) -> None:
    type_name, step, data = encode(event)
    store.append(run_id, type_name, step=step, data=data)


def mark_done(store: EventStore, run: RunRecord, *, step: str, by: str, note: str | None) -> None:
    """A person confirms a step is done: a manual step, or one finished by hand."""
    state = read_state(store, run.id)
    plan = run_plan(state, display=run.plan_path)
    check_person(plan, by)
    _known_step(plan, step)
    current = state.step(step).status
    if state.status.finished:
        raise DecisionRejected(f"run {run.id} has ended ({state.status}); nothing to mark done")
    _refuse_while_its_command_runs(
        state, run.id, step, alive=engine_alive(store=store, run_id=run.id)
    )
    if state.rolling_back:
        if state.step(step).undo not in (UndoStatus.failed, UndoStatus.interrupted):
            raise DecisionRejected(f"the rollback is not waiting on step {step}")
        _append(store, run.id, StepMarkedDone(step=step, by=by, note=note))
        return
    if plan.step(step).kind is StepKind.gate and current is StepStatus.waiting:
        raise DecisionRejected(
            f"{step} is a gate: its approvers decide it with `golive gate {run.id} {step} "
            "go|no-go --as PERSON`"
        )
    alive = engine_alive(store=store, run_id=run.id)
    if current is StepStatus.running and alive:
        raise DecisionRejected(
            f"step {step} is running now; wait for it to end, or decide once it has failed"
        )
    if current in (StepStatus.succeeded, StepStatus.skipped):
        raise DecisionRejected(f"step {step} is {current} already")
    if current is StepStatus.pending and step not in state.blocked:
        raise DecisionRejected(
            f"step {step} has not started; to leave it out: "
            f"`golive decide {run.id} skip --step {step}`"
        )
    _append(store, run.id, StepMarkedDone(step=step, by=by, note=note))


def vote(
    store: EventStore,
    run: RunRecord,
    *,
    gate: str,
    ballot: Vote,
    by: str,
    comment: str | None,
) -> Verdict:
    """Record an approver's vote at an open gate; returns where the gate stands with it."""
    state = read_state(store, run.id)
    plan = run_plan(state, display=run.plan_path)
    check_person(plan, by)
    _known_step(plan, gate)
    step = plan.step(gate)
    if step.kind is not StepKind.gate:
        raise UsageError(f"{gate} is a {step.kind} step, not a gate")
    if by not in step.approvers:
        raise DecisionRejected(
            f"{by} is not an approver of {gate} (approvers: {', '.join(step.approvers)})"
        )
    current = state.step(gate)
    if current.status is not StepStatus.waiting:
        when = (
            "once its checks have passed"
            if current.status is StepStatus.running
            else (
                f"when {', '.join(step.needs)} are done"
                if step.needs
                else "when the run reaches it"
            )
        )
        if current.status in (StepStatus.succeeded, StepStatus.failed, StepStatus.skipped):
            raise DecisionRejected(f"gate {gate} is closed ({current.status})")
        raise DecisionRejected(f"gate {gate} is not open yet: it opens {when}")
    _append(store, run.id, GateVoted(step=gate, by=by, vote=ballot, comment=comment))
    ballots = {**current.ballots, by: Ballot(ballot, comment)}
    return verdict(step, ballots)


def decide(
    store: EventStore,
    run: RunRecord,
    *,
    decision: Decision,
    by: str,
    step: str | None,
    why: str | None,
) -> str | None:
    """Record an operator's decision; returns the step it applies to, if any."""
    state = read_state(store, run.id)
    plan = run_plan(state, display=run.plan_path)
    check_person(plan, by)
    if step is not None:
        _known_step(plan, step)
    if decision is Decision.rollback:
        if state.status in (RunStatus.rolled_back, RunStatus.rolling_back):
            raise DecisionRejected(f"run {run.id} is {state.status.replace('_', ' ')} already")
        _append(store, run.id, DecisionMade(step=step, decision=decision, by=by, why=why))
        return step
    if state.status.finished:
        raise DecisionRejected(
            f"run {run.id} has ended ({state.status}); only a rollback is possible"
        )
    if decision is Decision.abort:
        _append(store, run.id, DecisionMade(step=step, decision=decision, by=by, why=why))
        return step
    target = step or _only_blocked(state, run.id)
    alive = engine_alive(store=store, run_id=run.id)
    _check_retry_or_skip(state, decision, target, alive=alive)
    _refuse_while_its_command_runs(state, run.id, target, alive=alive)
    _append(store, run.id, DecisionMade(step=target, decision=decision, by=by, why=why))
    return target


def _only_blocked(state: RunState, run_id: str) -> str:
    blocked = list(state.blocked)
    if len(blocked) == 1:
        return blocked[0]
    if not blocked:
        raise DecisionRejected(f"run {run_id} is not waiting for a decision on any step")
    raise DecisionRejected(
        f"run {run_id} waits on several steps ({', '.join(blocked)}); name one with --step"
    )


def _refuse_while_its_command_runs(state: RunState, run_id: str, step: str, *, alive: bool) -> None:
    """A dead engine's step command may still run: deciding whether it completed, or running
    it again, must wait until it has ended (processes on SSH hosts: `resume` checks them)."""
    if alive:
        return
    for process in state.step(step).processes:
        if not process.remote and process.host == host_name() and local_alive(process):
            orphan = Orphan(step, process).describe()
            raise DecisionRejected(
                f"{orphan}: wait for it to end, or stop it with "
                f"`golive resume {run_id} --stop-orphans`, then decide"
            )


def _check_retry_or_skip(state: RunState, decision: Decision, step: str, *, alive: bool) -> None:
    status = state.step(step).status
    if state.rolling_back:
        if state.step(step).undo not in (UndoStatus.failed, UndoStatus.interrupted):
            raise DecisionRejected(f"the rollback is not waiting on step {step}")
        return
    if step in state.blocked or status in (StepStatus.failed, StepStatus.interrupted):
        return
    if status is StepStatus.running and not alive:
        return  # the engine died while it ran: retry or skip is the operator's call
    if decision is Decision.skip and status is StepStatus.pending:
        return
    raise DecisionRejected(f"step {step} is {status}: nothing to {decision}")


def _known_step(plan: Plan, step: str) -> None:
    ids = [s.id for s in plan.steps]
    if step not in ids:
        hint = did_you_mean(step, ids)
        raise UsageError(f"no step '{step}' in this plan" + (f"; {hint}" if hint else ""))
