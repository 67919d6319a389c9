"""`golive hypercare`: the phase after the switch; close it early, sign off the handover."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from golive.cli.app import app, console
from golive.cli.options import (
    FormatOption,
    OutputFormat,
    PlanOption,
    RunArg,
    StateOption,
    find_run,
    opened,
)
from golive.cli.terminal import visible

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """Recent values as block characters, lowest to highest."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(SPARK[int((v - low) / span * (len(SPARK) - 1))] for v in values)


def feedback_line(plan: Any, run_id: str, *, store: Any) -> str | None:
    """The public feedback link for a plan with `hypercare.feedback: true`, at the address of
    `golive serve` given by GOLIVE_PUBLIC_URL (a path alone without it)."""
    import os

    if plan.hypercare is None or not plan.hypercare.feedback:
        return None
    from golive.web.feedback import feedback_url

    public = os.environ.get("GOLIVE_PUBLIC_URL", "").strip()
    link = feedback_url(store=store, run_id=run_id, public_url=public)
    if link and not public:
        link += "  (set GOLIVE_PUBLIC_URL to the address of golive serve for a full link)"
    return link


def _left(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m"


def hypercare_lines(view: dict[str, Any], objectives: list[dict[str, Any]]) -> list[str]:
    """The phase in lines, for `golive hypercare` and `golive status`."""
    lines = []
    if view["active"]:
        lines.append(f"hypercare: {_left(view['left'])} left (until {view['until']})")
    else:
        end = view["exit"] or {}
        by = f" by {end.get('by')}" if end.get("by") else ""
        why = f": {end.get('why')}" if end.get("why") else ""
        lines.append(f"hypercare ended ({end.get('reason')}){by}{why}")
    for m in view["monitors"]:
        mark = {"green": "●", "red": "✗", "unknown": "?"}[m["state"]]
        incident = f", incident {m['incident']}" if m["incident"] else ""
        spark = sparkline(m["values"])
        lines.append(
            f"  {mark} monitor {m['id']}: {m['state']}{incident}  {spark}  {m['detail']}".rstrip()
        )
    for i in view["incidents"]:
        status = "open" if i["open"] else f"resolved by {i['resolved_by']}"
        recovered = ", recovered" if i["recovered_at"] else ""
        lines.append(f"  ! incident {i['id']} ({i['severity']}, {status}{recovered}): {i['title']}")
    for o in objectives:
        lines.append(f"  ◎ objective {o['id']}: {o['verdict'].replace('_', ' ')} ({o['detail']})")
    if view["feedback"]:
        lines.append(f"  ✉ {view['feedback']} feedback report(s) from users")
    for c in view["criteria"]:
        lines.append(f"  {'✓' if c['holds'] else '·'} exit: {c['name']}: {c['detail']}")
    if view["active"]:
        if view["blocked_by"]:
            names = ", ".join(c["name"] for c in view["blocked_by"])
            lines.append(f"  the handover waits for: {names}")
        else:
            lines.append("  the exit criteria hold: the handover is next")
    return lines


@app.command()
def hypercare(
    run_id: str | None = RunArg,
    close: bool = typer.Option(False, "--close", help="End the hypercare now (needs --as, --why)."),
    sign_off: bool = typer.Option(False, "--sign-off", help="Sign off the handover (needs --as)."),
    by: str | None = typer.Option(None, "--as", help="Who you are: a person id of the plan."),
    why: str | None = typer.Option(None, "--why", help="Why it is closed, for the record."),
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
    output: OutputFormat = FormatOption,
) -> None:
    """Show the hypercare phase after the switch: time left, monitors, incidents, objectives,
    exit criteria and what blocks the handover; or close it, or sign it off."""
    from golive.engine.clock import clock_from_environment
    from golive.engine.hypercare import (
        close_hypercare,
        hypercare_view,
        objectives_view,
        sign_off_hypercare,
    )
    from golive.engine.operator import read_state, run_plan
    from golive.errors import UsageError

    if close and sign_off:
        raise UsageError("--close and --sign-off are two commands: give one of them")
    with opened(state, plan) as store:
        record = find_run(store, run_id, plan)
        if close:
            if not by:
                raise UsageError("--close needs who closes it: --as PERSON --why TEXT")
            close_hypercare(store=store, run=record, by=by, why=why or "")
            console.print(f"■ hypercare of run {record.id} closed by {by}: {why}", markup=False)
            return
        if sign_off:
            if not by:
                raise UsageError("--sign-off needs who signs off: --as PERSON")
            sign_off_hypercare(store=store, run=record, by=by, note=why)
            console.print(f"✓ {by} signed off the hypercare of run {record.id}", markup=False)
            return
        current = read_state(store, record.id)
    plan_model = run_plan(current, display=record.plan_path)
    view = hypercare_view(plan_model, current, clock_from_environment().now())
    objectives = objectives_view(plan_model, current)
    if output is OutputFormat.json:
        typer.echo(
            json.dumps({"run": record.id, "hypercare": view, "objectives": objectives}, indent=2)
        )
        return
    if view is None:
        if plan_model.hypercare is None:
            why_not = "its plan has no hypercare:"
        elif current.rehearsal:
            why_not = "a rehearsal has none unless run with --hypercare"
        else:
            why_not = "it starts when the steps complete"
        console.print(f"run {record.id}: no hypercare phase ({why_not})", markup=False)
        for o in objectives:
            console.print(
                visible(
                    f"  ◎ objective {o['id']}: {o['verdict'].replace('_', ' ')} ({o['detail']})"
                ),
                markup=False,
                highlight=False,
            )
        return
    console.print(f"run {record.id}", markup=False)
    for line in hypercare_lines(view, objectives):
        console.print(visible(line), markup=False, highlight=False)
    link = feedback_line(plan_model, record.id, store=store)
    if link:
        console.print(f"  feedback: {link}", markup=False, highlight=False)
