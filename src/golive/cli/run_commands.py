"""Commands that drive a go-live: run, resume, rollback (each drives an engine), and log."""

from __future__ import annotations

import json
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from golive.cli.app import app, console, console_err, exits
from golive.cli.live import PlainPrinter, live_board
from golive.cli.options import (
    AsOption,
    FormatOption,
    OutputFormat,
    PlainOption,
    PlanOption,
    RunArg,
    StateOption,
    find_run,
    now,
    opened,
)
from golive.cli.terminal import visible
from golive.engine import loop, orphans
from golive.engine.commands import DEFAULT_PARALLEL, attach_engine, start_run
from golive.engine.crash import crash_observers
from golive.engine.events import Decision, Outcome, PolicyOverridden, RunStarted
from golive.engine.operator import decide, engine_alive, read_events, read_state, run_plan
from golive.engine.runner import Engine
from golive.engine.state import RunState
from golive.errors import GoliveError, UsageError
from golive.plan import PlanFile, load_plan
from golive.plan.values import format_duration

if TYPE_CHECKING:
    from golive.store import EventStore

EXIT_CODES = {Outcome.completed: 0, Outcome.failed: 1, Outcome.rolled_back: 3, Outcome.aborted: 4}
INTERRUPTED = 130


def _drive(engine: Engine, *, plain: bool) -> RunState:
    """Drive the engine with the live board (TTY) or plain lines; Ctrl-C leaves it resumable."""
    plan, live = engine.plan, console.is_terminal and not plain
    if not live:
        engine.observers.append(PlainPrinter(console, plan))
    view = live_board(console, plan, engine.state) if live else nullcontext()
    from golive.notify.courier import engine_courier

    courier = engine_courier(engine)  # delivers notifications beside the engine, never in it
    try:
        with view:
            return loop.run(engine.drive())
    except KeyboardInterrupt:
        console.print(
            f"\ninterrupted: run {engine.run_id} is kept; continue it with "
            f"`golive resume {engine.run_id}`"
        )
        raise typer.Exit(INTERRUPTED) from None
    finally:
        if courier is not None:
            courier.close()
            if courier.error is not None:
                console_err.print(
                    engine.context.redact(
                        f"warning: notifications: a delivery pass failed ({courier.error}); "
                        f"deliver what is left with `golive notify {engine.run_id}`"
                    ),
                    markup=False,
                )


def _summary(state: RunState) -> int:
    outcome = state.outcome or Outcome.failed
    done = sum(1 for s in state.steps.values() if s.done)
    duration = (
        (state.finished_at - state.started_at).total_seconds()
        if (state.finished_at and state.started_at)
        else 0.0
    )
    colour = {"completed": "green", "failed": "red", "rolled_back": "magenta", "aborted": "red"}
    console.print(
        f"[bold {colour[outcome]}]run {state.run_id} {outcome.replace('_', ' ')}[/] "
        f"in {format_duration(duration)}: {done}/{len(state.steps)} steps done"
    )
    if state.rollback_duration is not None:
        word = "complete" if state.rollback_complete else "INCOMPLETE"
        console.print(f"rollback {word} in {format_duration(state.rollback_duration)}")
    return EXIT_CODES[outcome]


@app.command()
@exits
def run(
    plan: Path = typer.Argument(..., help="The plan file."),
    env: str = typer.Option(..., "--env", "-e", help="The environment to run against."),
    release: str | None = typer.Option(
        None, "--release", "-r", help="The release, for {{ release }}."
    ),
    max_parallel: int = typer.Option(
        DEFAULT_PARALLEL, "--max-parallel", min=1, max=1000, help="Most steps running at once."
    ),
    by: str | None = AsOption,
    state: str | None = StateOption,
    plain: bool = PlainOption,
    ready: bool = typer.Option(
        False, "--ready", help="Refuse a production run until the plan is ready (see check)."
    ),
    override_policy: bool = typer.Option(
        False, "--override-policy", help="Start production against the schedule policy."
    ),
    why: str | None = typer.Option(None, "--why", help="Why the policy is overridden."),
    hypercare: bool = typer.Option(
        False, "--hypercare", help="Rehearse the hypercare phase too (production always has it)."
    ),
) -> int:
    """Run a plan against an environment; any environment but production is a rehearsal."""
    plan_file = load_plan(plan, env=env)
    overridden = None
    if plan_file.plan.is_production(env):
        overridden = _schedule(plan_file, override=override_policy, why=why, by=by)
        _production_readiness(plan_file, state=state, required=ready)
        _dns_ttls(plan_file, env=env)
    with opened(state, plan, create=True) as store:
        started = start_run(
            plan_file,
            store=store,
            env=env,
            release=release,
            by=by,
            max_parallel=max_parallel,
            observers=crash_observers(),
            hypercare=hypercare,
        )
        if overridden is not None:
            started.engine.record(overridden)
        kind = "rehearsal" if started.run.rehearsal else "production go-live"
        console.print(f"run {started.run.id}  ({plan_file.plan.golive}, {env}, {kind})")
        sys.stdout.flush()
        return _summary(_drive(started.engine, plain=plain))


def _schedule(
    plan_file: PlanFile, *, override: bool, why: str | None, by: str | None
) -> PolicyOverridden | None:
    """Refuse a production run the schedule policy forbids now, unless overridden: then the
    event that records who overrode it, why, and which rules."""
    from golive.plan.schedule import start_findings  # holidays: only for a production run

    findings = start_findings(plan_file.plan, now())
    if not findings:
        return None
    if not override:
        broken = "; ".join(f.message for f in findings)
        raise GoliveError(
            f"{plan_file.path}: production run refused: {broken}; {findings[0].hint}, or "
            "override with --override-policy --why REASON --as PERSON"
        )
    if not why or not why.strip() or not by:
        raise UsageError("--override-policy needs a reason and a person: --why REASON --as PERSON")
    if by not in plan_file.plan.people:
        known = ", ".join(plan_file.plan.people) or "nobody: add people: to the plan"
        raise UsageError(f"--as {by}: not a person of this plan (known: {known})")
    console_err.print(
        f"warning: policy overridden by {by}: {'; '.join(f.message for f in findings)}",
        markup=False,
    )
    return PolicyOverridden(
        by=by,
        why=why.strip(),
        rules=[f.rule for f in findings],
        findings=[f.message for f in findings],
    )


def _production_readiness(plan_file: PlanFile, *, state: str | None, required: bool) -> None:
    """Say, before a production run, what the rehearsals and checklist still lack; with
    --ready, refuse to start."""
    from golive.cli.readiness import readiness_of  # the readiness report: only for `run`

    verdict = readiness_of(plan_file.plan, plan_file.path, state=state)
    if not isinstance(verdict, str) and verdict.ready:
        return
    why = verdict if isinstance(verdict, str) else verdict.summary()
    if required:
        raise GoliveError(
            f"{plan_file.path}: {why}; finish the rehearsals and checklist, or run without --ready"
        )
    console_err.print(f"warning: production run of a plan that is {why}", markup=False)


def _dns_ttls(plan_file: PlanFile, *, env: str) -> None:
    """Warn of a dns step whose record's TTL, asked of its server now, outlasts its step."""
    from golive.report.dns_ttl import live_ttl_warnings  # dnspython only for dns steps

    for line in live_ttl_warnings(plan_file.plan, env=env):
        console_err.print(f"warning: {plan_file.path}: {line}", markup=False)


@app.command()
@exits
def resume(
    run_id: str | None = RunArg,
    by: str | None = AsOption,
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
    plain: bool = PlainOption,
    force: bool = typer.Option(
        False,
        "--force",
        help="Take over a run whose engine's lease expired without being released.",
    ),
    stop_orphans: bool = typer.Option(
        False,
        "--stop-orphans",
        help="Stop step commands the dead engine left running (TERM, then KILL) instead of "
        "waiting for them to end.",
    ),
) -> int:
    """Continue a run after a crash or an interruption; finished steps never run again."""
    with opened(state, plan) as store:
        record = find_run(store, run_id, plan)
        current = read_state(store, record.id)
        ended = current.status.finished and not current.rollback_end_unrecorded
        hypercare_open = current.hypercare is not None and current.hypercare.active
        if ended and not current.rollback_requested and not hypercare_open:
            console.print(f"run {record.id} has ended ({current.status}); nothing to resume")
            return EXIT_CODES[current.outcome or Outcome.failed]
        _settle_orphans(store, record.id, current, stop=stop_orphans)
        engine = attach_engine(
            store=store, run=record, by=by, force=force, observers=crash_observers()
        )
        console.print(f"run {record.id}  resumed")
        return _summary(_drive(engine, plain=plain))


@app.command()
@exits
def rollback(
    run_id: str | None = RunArg,
    by: str = typer.Option(..., "--as", help="Who decides the rollback: a person id of the plan."),
    why: str | None = typer.Option(None, "--why", help="The reason, for the record."),
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
    plain: bool = PlainOption,
) -> int:
    """Roll a run back: undo every step that ran, in reverse dependency order."""
    with opened(state, plan) as store:
        record = find_run(store, run_id, plan)
        decide(store, record, decision=Decision.rollback, by=by, step=None, why=why)
        if engine_alive(store=store, run_id=record.id):
            console.print(f"rollback of {record.id} recorded; the engine driving it rolls back now")
            return 0
        _settle_orphans(store, record.id, read_state(store, record.id), stop=False)
        engine = attach_engine(store=store, run=record, by=by)
        return _summary(_drive(engine, plain=plain))


def _settle_orphans(store: EventStore, run_id: str, current: RunState, *, stop: bool) -> None:
    """Step commands a dead engine left running: say so, wait for them or stop them."""
    if engine_alive(store=store, run_id=run_id):
        return  # its processes are its own; attaching is refused anyway

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)
        sys.stdout.flush()

    loop.run(orphans.settle(current, os.environ, stop=stop, say=say))


@app.command()
def log(
    run_id: str | None = RunArg,
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
    output: OutputFormat = FormatOption,
) -> None:
    """The whole timeline of a run, every event in order."""
    with opened(state, plan) as store:
        record = find_run(store, run_id, plan)
        json_output = output is OutputFormat.json
        events = store.events(record.id) if json_output else []
        recorded = [] if json_output else read_events(store, record.id)
    if json_output:
        typer.echo(
            json.dumps(
                [
                    {
                        "seq": e.seq,
                        "at": e.at.isoformat(),
                        "type": e.type,
                        "step": e.step,
                        "data": _public(e.type, e.data),
                    }
                    for e in events
                ],
                indent=2,
            )
        )
        return
    replay = RunState(record.id)
    printer: PlainPrinter | None = None
    for event in recorded:
        replay.apply(event)
        printer = printer or PlainPrinter(console, run_plan(replay, display=record.plan_path))
        line = (
            printer.describe(event, replay)
            if not isinstance(event.event, RunStarted)
            else (
                visible(
                    f"● run {record.id} started by {replay.started_by}: "
                    f"{record.plan_id} on {record.env}"
                    + (f", release {record.release}" if record.release else "")
                )
            )
        )
        if line:
            stamp = event.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            console.print(f"{stamp} {line}", markup=False, highlight=False)
    console.print(_chain_line(state, plan, record.id), markup=False, highlight=False)


def _chain_line(state: str | None, plan: Path | None, run_id: str) -> str:
    """Whether the run's audit chain holds, as the last line of `golive log`."""
    from golive.store.audit import verify_run

    with opened(state, plan) as store:
        check = verify_run(store=store, run_id=run_id)
    return check.summary() if check.broken is None else f"{check.summary()}: {check.broken.message}"


def _public(type_name: str, data: dict[str, Any]) -> dict[str, Any]:
    """The plan text is long and lives in the plan file; the JSON log leaves it out."""
    if type_name == "RunStarted":
        return {k: v for k, v in data.items() if k != "plan_text"}
    return data
