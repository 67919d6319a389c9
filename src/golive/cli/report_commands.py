"""Commands that read a plan's runs: history and forecast.

None of them creates a state store: a plan whose store does not exist yet has no runs.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from golive.cli.app import app, console
from golive.cli.options import FormatOption, OutputFormat, PlanArg, StateOption, state_url
from golive.engine.state import StepStatus
from golive.plan import load_plan
from golive.plan.models import Plan
from golive.plan.values import format_duration
from golive.report.forecast import DEFAULT_ITERATIONS, MIN_SAMPLES, Basis, Forecast, forecast
from golive.report.history import (
    History,
    RunAndState,
    RunColumn,
    TableFigures,
    Verified,
    history,
    load_runs,
    load_verified,
    rehearsals,
    short_id,
)
from golive.store import open_store
from golive.store.url import missing_sqlite_file

RunsOption = typer.Option(None, "--runs", "-n", min=1, help="Only the last N runs (default: all).")
STATUS_STYLE = {
    "completed": "green",
    "failed": "red",
    "aborted": "red",
    "rolled_back": "magenta",
    "rolling_back": "magenta",
    "running": "yellow",
    "paused": "yellow",
}
CELL_STYLE = {
    StepStatus.failed: "bold red",
    StepStatus.interrupted: "magenta",
    StepStatus.skipped: "dim",
    StepStatus.pending: "dim",
}


def plan_runs(
    plan: Plan, plan_path: Path, *, state: str | None, env: str | None = None
) -> list[RunAndState]:
    """The plan's runs, oldest first; none, without creating anything, if its store is absent."""
    url = state_url(state, plan_path)
    if missing_sqlite_file(url):
        return []
    with open_store(url) as store:
        return load_runs(store=store, plan_id=plan.golive, env=env)


def _rehearsal_env(plan: Plan) -> str:
    return next((e for e in plan.environments if not plan.is_production(e)), "staging")


# --- history -----------------------------------------------------------------------------------


@app.command(name="history")
def history_command(
    plan: Path = PlanArg,
    env: str | None = typer.Option(None, "--env", "-e", help="Only the runs on this environment."),
    last: int | None = RunsOption,
    output: OutputFormat = FormatOption,
    state: str | None = StateOption,
) -> None:
    """The plan's runs side by side: each step's duration in each run, and each rollback."""
    plan_model = load_plan(plan).plan
    runs = plan_runs(plan_model, plan, state=state, env=env)
    runs = runs[-last:] if last else runs
    table = history(plan_model, runs, _verified(plan, runs, state=state))
    if output is OutputFormat.json:
        typer.echo(json.dumps(history_json(table), indent=2))
    elif not table.runs:
        where = f" on {env}" if env else ""
        console.print(
            f"no runs{where} yet: rehearse with "
            f"`golive run {plan} --env {env or _rehearsal_env(plan_model)}`",
            markup=False,
        )
    else:
        console.print(_history_table(table, plan_model))
        if table.verified:
            console.print(_verified_table(table))


def _verified(
    plan_path: Path, runs: list[RunAndState], *, state: str | None
) -> dict[str, Verified]:
    """What each run's verify steps found, by run id."""
    if not runs:
        return {}
    with open_store(state_url(state, plan_path)) as store:
        return {record.id: load_verified(store=store, run_id=record.id) for record, _ in runs}


def history_json(table: History) -> dict[str, Any]:
    return {
        "plan": table.plan_id,
        "steps": table.steps,
        "runs": [
            {
                "id": run.record.id,
                "env": run.record.env,
                "release": run.record.release,
                "rehearsal": run.record.rehearsal,
                "started_at": _iso(run.state.started_at or run.record.created_at),
                "status": run.state.status.value,
                "completed": run.completed,
                "exceptions": run.exceptions,
                "total": run.total,
                "steps": {
                    step: {
                        "status": None if cell.status is None else cell.status.value,
                        "duration": cell.duration,
                    }
                    for step, cell in run.cells.items()
                },
                "verified": {
                    step: {t: run.verified[(step, t)].json() for s, t in run.verified if s == step}
                    for step in dict.fromkeys(s for s, _ in run.verified)
                },
                "rollback": None
                if run.state.rollback_started_at is None
                else {
                    "duration": run.state.rollback_duration,
                    "complete": run.state.rollback_complete,
                },
            }
            for run in table.runs
        ],
    }


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


def _history_table(table: History, plan: Plan) -> Table:
    runs = len(table.runs)
    grid = Table(
        title=f"{table.plan_id}: {runs} run{'' if runs == 1 else 's'} (times in {plan.timezone})",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE,
        pad_edge=False,
        show_footer=True,
    )
    grid.add_column("step", footer="total")
    for run in table.runs:
        grid.add_column(_run_header(run, plan), footer=format_duration(run.total), justify="right")
    in_plan = {s.id for s in plan.steps}
    for step in table.steps:
        label = escape(step) if step in in_plan else f"{escape(step)} [dim](not in plan)[/]"
        grid.add_row(label, *(_cell(run, step) for run in table.runs))
    if table.has_rollback:
        grid.add_row("rollback", *(_rollback_cell(run) for run in table.runs))
    return grid


def _verified_table(table: History) -> Table:
    """What the verify steps found in each table, run by run; a change from the run before is
    shown beside the figures (`was ...`)."""
    grid = Table(
        title="verified data (differences: missing / extra / changed)",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE,
        pad_edge=False,
    )
    grid.add_column("step: table")
    for run in table.runs:
        grid.add_column(escape(short_id(run.record.id)), justify="right")
    for key in table.verified:
        cells, before = [], None
        for run in table.runs:
            figures = run.verified.get(key)
            cells.append(_figures_cell(figures, before))
            before = figures or before
        grid.add_row(escape(f"{key[0]}: {key[1]}"), *cells)
    return grid


def _figures_cell(figures: TableFigures | None, before: TableFigures | None) -> str:
    if figures is None:
        return "[dim]n/a[/]"
    if figures.error is not None:
        return "[bold red]error[/]"
    rows = f"{figures.source_rows:,} -> {figures.target_rows:,} rows"
    if figures.differences:
        found = f"[red]{figures.missing} / {figures.extra} / {figures.changed}[/]"
    else:
        found = "[green]identical[/]"
    lines = [found, rows]
    if figures.moved is not None:
        lines.append("[yellow]data moved during the check[/]")
    if before is not None and before.error is None and before.differences != figures.differences:
        lines.append(f"[dim]was {before.missing} / {before.extra} / {before.changed}[/]")
    if before is not None:
        lines.extend(f"[dim]{side} data changed[/]" for side in figures.changed_since(before))
    return "\n".join(lines)


def _run_header(run: RunColumn, plan: Plan) -> str:
    started = (run.state.started_at or run.record.created_at).astimezone(plan.zone)
    status = run.state.status.value
    lines = [
        f"[bold]{escape(short_id(run.record.id))}[/]",
        escape(run.record.env),
        f"{started:%Y-%m-%d}",
        f"{started:%H:%M}",
        f"[{STATUS_STYLE.get(status, 'default')}]{status.replace('_', ' ')}[/]",
    ]
    if run.exceptions:  # a step was skipped: the run does not count as a rehearsal
        lines.append("[yellow]with exceptions[/]")
    return "\n".join(lines)


def _cell(run: RunColumn, step: str) -> str:
    cell = run.cells[step]
    if cell.status is None:
        return "[dim]n/a[/]"
    if cell.status is StepStatus.succeeded:
        return format_duration(cell.duration) if cell.duration is not None else "✓"
    word = "-" if cell.status is StepStatus.pending else cell.status.value
    return f"[{CELL_STYLE.get(cell.status, 'yellow')}]{word}[/]"


def _rollback_cell(run: RunColumn) -> str:
    state = run.state
    if state.rollback_started_at is None:
        return "[dim]-[/]"
    if state.rollback_duration is None:
        return "[magenta]rolling back[/]"
    duration = format_duration(state.rollback_duration)
    return (
        f"[magenta]{duration}[/]" if state.rollback_complete else f"[red]{duration} incomplete[/]"
    )


# --- forecast ----------------------------------------------------------------------------------


@app.command(name="forecast")
def forecast_command(
    plan: Path = PlanArg,
    last: int | None = typer.Option(
        None, "--runs", "-n", min=1, help="Only the last N rehearsals (default: all)."
    ),
    output: OutputFormat = FormatOption,
    seed: int | None = typer.Option(None, "--seed", help="Seed the simulation (reproducible)."),
    iterations: int = typer.Option(
        DEFAULT_ITERATIONS, "--iterations", min=1, max=1_000_000, help="Simulated runs."
    ),
    state: str | None = StateOption,
) -> None:
    """Predict the production run from the rehearsals: per-step and finish P50/P90."""
    plan_model = load_plan(plan).plan
    tried = rehearsals(plan_runs(plan_model, plan, state=state))
    predicted = forecast(
        plan_model, tried[-last:] if last else tried, iterations=iterations, seed=seed
    )
    if output is OutputFormat.json:
        typer.echo(json.dumps(predicted.to_json(), indent=2))
        return
    if not predicted.rehearsals:
        console.print(
            "no rehearsals yet: this forecast rests on the plan's estimates alone; rehearse with "
            f"`golive run {plan} --env {_rehearsal_env(plan_model)}`",
            markup=False,
        )
    console.print(_forecast_table(predicted))
    _print_forecast_summary(predicted)


def _forecast_table(predicted: Forecast) -> Table:
    table = Table(
        title=f"{predicted.plan_id}: forecast from {_rehearsal_count(predicted)}",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("step", "samples", "P50", "P90", "basis"):
        table.add_column(column, justify="left" if column in ("step", "basis") else "right")
    for step in predicted.steps:
        critical = step.step in predicted.critical_path
        table.add_row(
            f"[bold]{escape(step.step)}[/]" if critical else escape(step.step),
            str(len(step.samples)),
            format_duration(step.p50),
            format_duration(step.p90),
            _basis(step.basis),
        )
    return table


def _basis(basis: Basis) -> str:
    return {
        Basis.rehearsed: "rehearsed",
        Basis.weak: f"[yellow]weak (< {MIN_SAMPLES} samples)[/]",
        Basis.estimate: "[yellow]estimate[/]",
        Basis.unknown: "[red]no data: counted as 0[/]",
    }[basis]


def _print_forecast_summary(predicted: Forecast) -> None:
    console.print(
        f"[bold]finish[/]  P50 {format_duration(predicted.finish_p50)}  "
        f"P90 {format_duration(predicted.finish_p90)}  "
        f"[dim]({predicted.iterations:,} simulated runs)[/]"
    )
    path = " → ".join(predicted.critical_path) or "-"
    console.print(
        f"[bold]critical path[/]  {escape(path)}  "
        f"[dim](in {predicted.critical_share:.0%} of simulated runs)[/]"
    )
    note = predicted.window_note()
    if note is None:
        console.print("[dim]no window in the plan to compare with[/]")
    elif predicted.overflow:
        console.print(f"[yellow]warning: {note}: widen the window or shorten the plan[/]")
    else:
        console.print(f"[green]{note}[/]")
    if predicted.weak_steps:
        console.print(
            f"[yellow]weak forecast: fewer than {MIN_SAMPLES} rehearsed durations for "
            f"{escape(', '.join(predicted.weak_steps))}[/]"
        )
    if predicted.estimated_steps:
        console.print(
            "[yellow]never rehearsed (the plan's estimate stands in): "
            f"{escape(', '.join(predicted.estimated_steps))}[/]"
        )


def _rehearsal_count(predicted: Forecast) -> str:
    count = predicted.rehearsals
    return f"{count} rehearsal{'' if count == 1 else 's'}"
