"""`golive done`, `decide` and `gate`: what a person on the go-live call types to steer a run.

Each appends one event and returns: they load the operator's commands (engine/operator.py) and
the store, not the engine's runner, the actions, asyncio or the live board (bench/cli_startup.py
times `golive gate`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from golive.cli.app import app, console
from golive.cli.options import PlanOption, StateOption, find_run, opened
from golive.engine.events import Decision, Vote
from golive.errors import UsageError


@app.command()
def done(
    run_id: str = typer.Argument(..., help="Run id or a unique prefix."),
    step: str = typer.Argument(..., help="The step that is done."),
    by: str = typer.Option(..., "--as", help="Who did it: a person id of the plan."),
    note: str | None = typer.Option(None, "--note", help="What was done, for the record."),
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
) -> None:
    """Confirm that a manual step (or an interrupted one) is done."""
    from golive.engine.operator import mark_done

    with opened(state, plan) as store:
        record = find_run(store, run_id, plan)
        mark_done(store, record, step=step, by=by, note=note)
        console.print(f"✓ {step} marked done by {by} in run {record.id}")


@app.command(name="decide")
def decide_command(
    run_id: str = typer.Argument(..., help="Run id or a unique prefix."),
    decision: Decision = typer.Argument(..., help="retry, skip, rollback or abort."),
    by: str = typer.Option(..., "--as", help="Who decides: a person id of the plan."),
    step: str | None = typer.Option(
        None, "--step", help="The step it is about (default: the one the run waits on)."
    ),
    why: str | None = typer.Option(None, "--why", help="The reason, for the record."),
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
) -> None:
    """Decide what a paused run does next: retry, skip, rollback or abort."""
    from golive.engine.operator import decide, engine_alive

    with opened(state, plan) as store:
        record = find_run(store, run_id, plan)
        target = decide(store, record, decision=decision, by=by, step=step, why=why)
        alive = engine_alive(store=store, run_id=record.id)
        about = f" {target}" if target else ""
        follow = (
            "the engine acts on it now" if alive else f"continue with `golive resume {record.id}`"
        )
        console.print(f"⚑ {decision}{about} recorded for run {record.id}; {follow}")


def _ballot(text: str) -> Vote:
    normal = text.strip().lower().replace("-", "_")
    if normal in ("nogo", "no"):
        normal = "no_go"
    if normal not in Vote._value2member_map_:
        raise UsageError(f"a vote is go or no-go, not {text!r}")
    return Vote(normal)


@app.command(name="gate")
def gate_command(
    run_id: str = typer.Argument(..., help="Run id or a unique prefix."),
    gate: str = typer.Argument(..., help="The gate step."),
    ballot: str = typer.Argument(..., help="go or no-go.", metavar="go|no-go"),
    by: str = typer.Option(..., "--as", help="Who votes: an approver of the gate."),
    comment: str | None = typer.Option(None, "--comment", "-m", help="Why, for the record."),
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
) -> None:
    """Vote go or no-go at an open Go/No-Go gate."""
    from golive.engine.operator import vote

    choice = _ballot(ballot)
    with opened(state, plan) as store:
        record = find_run(store, run_id, plan)
        outcome = vote(store, record, gate=gate, ballot=choice, by=by, comment=comment)
    shown = "go" if choice is Vote.go else "no-go"
    if outcome.decided:
        console.print(f"⚑ {by} voted {shown} at {gate}: the gate is decided ({outcome.reason})")
    else:
        waiting = ", ".join(outcome.waiting_for) or "more votes"
        console.print(f"⚑ {by} voted {shown} at {gate}; {outcome.reason}, waiting for {waiting}")
