"""`golive status`: where a run stands, typed by a person waiting on the go-live call.

It reads the store through store/reader.py (stdlib sqlite3, or psycopg), without SQLAlchemy, and
falls back to `open_store` whenever the reader cannot answer (a store to migrate, a URL it does
not parse, a database error to word): the output is the same either way.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from golive.cli.app import app, console
from golive.cli.options import (
    FormatOption,
    OutputFormat,
    PlanOption,
    RunArg,
    StateOption,
    opened,
    state_url,
)
from golive.cli.terminal import visible
from golive.engine.events import decode_all
from golive.engine.lease import describe_holder, driving
from golive.engine.state import RunState
from golive.store.records import EventRecord, Lease, RunRecord

if TYPE_CHECKING:
    from golive.plan.models import Plan
    from golive.plan.outline import PlanOutline
    from golive.store import EventStore
    from golive.store.reader import StoreReader


@dataclass(frozen=True)
class _Seen:
    """What status reads of the store: the run, its events, and the lease driving it."""

    record: RunRecord
    events: list[EventRecord]
    lease: Lease | None


@app.command()
def status(
    run_id: str | None = RunArg,
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
    output: OutputFormat = FormatOption,
) -> None:
    """Show where a run stands: every step's state, and what the run waits for."""
    seen = read_run(state, plan, run_id)
    record = seen.record
    current = RunState.fold(record.id, decode_all(seen.events, run_id=record.id))
    lease = seen.lease
    from golive.notify.outbox import delivery_lines

    plan_model = plan_of(current, display=record.plan_path)
    deliveries = delivery_lines(current)
    if output is OutputFormat.json:
        shown = {**status_json(record, current), "notifications": deliveries}
        shown.update(_hypercare_status(plan_model, current))
        typer.echo(json.dumps(shown, indent=2))
        return
    from golive.cli.live import Board

    console.print(Board(plan_model, current))
    if lease is not None:
        console.print(f"driven by {describe_holder(lease)}", style="dim", markup=False)
    for line in [*call_lines(current), *deliveries]:
        console.print(visible(line), markup=False, highlight=False)
    _print_hypercare(plan_model, current)
    left = any(step.processes for step in current.steps.values())  # a dead engine's
    if lease is None and not current.status.finished and left:
        from golive.engine import loop, orphans

        for orphan in loop.run(orphans.still_running(current, os.environ)):
            console.print(visible(orphan.describe()), markup=False, highlight=False)


def read_run(state: str | None, plan: Path | None, run_id: str | None) -> _Seen:
    """The run (RUN, or the latest), its events and its driving lease: through the light
    reader when it can answer, else through the store."""
    from golive.store.reader import ReaderFailed, open_reader

    plan_id = functools.cache(lambda: _plan_id(plan))  # loaded once, after the store opened
    reader = open_reader(state_url(state, plan))
    if reader is not None:
        try:
            with reader:
                return _read(
                    reader,
                    run_id,
                    plan_id(),
                    lambda run: driving(reader.lease(run), now=reader.now()),
                )
        except ReaderFailed:
            pass  # the store's own path says what the database refused
    from golive.engine.lease import driving_lease

    with opened(state, plan) as store:
        return _read(store, run_id, plan_id(), lambda run: driving_lease(store=store, run_id=run))


def _read(
    source: StoreReader | EventStore,
    run_id: str | None,
    plan_id: str | None,
    lease: Callable[[str], Lease | None],
) -> _Seen:
    record = (
        source.find_run(run_id, plan_id=plan_id) if run_id else source.latest_run(plan_id=plan_id)
    )
    return _Seen(record, source.events(record.id), lease(record.id))


def _plan_id(plan: Path | None) -> str | None:
    if plan is None:
        return None
    from golive.plan import load_plan

    return load_plan(plan).plan.golive


def plan_of(state: RunState, *, display: str) -> Plan | PlanOutline:
    """What the board shows of the run's plan: its outline, read from the log's plan text
    without the models, unless hypercare (whose view needs every rule) or the text asks for
    the full `Plan`."""
    from golive.plan.outline import outline

    light = outline(state.plan_text) if state.hypercare is None else None
    if light is not None:
        return light
    from golive.plan import parse_plan_text

    return parse_plan_text(state.plan_text, display=display)


def _hypercare_status(plan: Plan | PlanOutline, state: RunState) -> dict[str, Any]:
    """`phase`, the objectives' verdicts and the hypercare, for `status --format json`."""
    from golive.engine.hypercare import hypercare_view, objectives_view
    from golive.plan.outline import PlanOutline

    hypercare = None
    if state.hypercare is not None and not isinstance(plan, PlanOutline):
        from golive.engine.clock import clock_from_environment

        hypercare = hypercare_view(plan, state, clock_from_environment().now())
    return {
        "phase": state.phase,
        "objectives": objectives_view(plan, state),
        "hypercare": hypercare,
    }


def _print_hypercare(plan: Plan | PlanOutline, state: RunState) -> None:
    from golive.cli.hypercare_commands import hypercare_lines

    shown = _hypercare_status(plan, state)
    if shown["hypercare"] is not None:
        lines = hypercare_lines(shown["hypercare"], shown["objectives"])
    else:
        lines = [
            f"objective {o['id']}: {o['verdict'].replace('_', ' ')} ({o['detail']})"
            for o in shown["objectives"]
            if o["phase"] is not None
        ]
    for line in lines:
        console.print(visible(line), markup=False, highlight=False)


def call_lines(state: RunState, *, updates: int = 3) -> list[str]:
    """The open issues and the latest updates of the go-live call, for `status`."""
    lines = [
        f"open issue {i.id} ({i.severity}): {i.title}" + (f", owner {i.owner}" if i.owner else "")
        for i in state.issues.values()
        if i.open
    ]
    for update in state.updates[-updates:]:
        stamp = update.at.astimezone().strftime("%H:%M")
        lines.append(f"{stamp} {update.severity} update from {update.by}: {update.text}")
    return lines


def status_json(record: RunRecord, state: RunState) -> dict[str, Any]:
    return {
        "run": record.id,
        "plan": record.plan_id,
        "env": record.env,
        "release": record.release,
        "rehearsal": record.rehearsal,
        "status": state.status.value,
        "started_at": _iso(state.started_at),
        "finished_at": _iso(state.finished_at),
        "blocked": dict(state.blocked),
        "rollback": None
        if state.rollback_started_at is None
        else {
            "started_at": _iso(state.rollback_started_at),
            "duration": state.rollback_duration,
            "complete": state.rollback_complete,
        },
        "updates": [
            {"at": _iso(u.at), "by": u.by, "severity": u.severity, "text": u.text}
            for u in state.updates
        ],
        "issues": [
            {
                "id": i.id,
                "title": i.title,
                "severity": i.severity,
                "owner": i.owner,
                "step": i.step,
                "by": i.by,
                "open": i.open,
                "resolution": i.resolution,
                "comments": len(i.comments),
            }
            for i in state.issues.values()
        ],
        "steps": [
            {
                "id": s.id,
                "status": s.status.value,
                "attempt": s.attempt,
                "duration": s.duration,
                "error": s.error,
                "waiting_for": s.waiting_for,
                "marked_by": s.marked_by,
                "undo": s.undo.value,
                "started_at": _iso(s.started_at),
                "finished_at": _iso(s.finished_at),
            }
            for s in state.steps.values()
        ],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
