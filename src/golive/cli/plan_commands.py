"""Commands about the plan file itself: check, show, init, schema."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from golive.cli.app import app, console, exits
from golive.cli.options import FormatOption, OutputFormat, PlanArg
from golive.cli.readiness import check_readiness, print_readiness, readiness_json
from golive.errors import GoliveError, UsageError
from golive.plan import CheckResult, Severity, check_plan, load_plan
from golive.plan.graph import StepGraph
from golive.plan.models import Plan, StepKind
from golive.plan.schedule import window_findings
from golive.plan.starter import render_starter
from golive.plan.values import format_duration

EnvOption = typer.Option(
    None, "--env", "-e", help="Check references against this environment only."
)


@app.command()
@exits
def check(
    plan: Path = PlanArg,
    env: str | None = EnvOption,
    output: OutputFormat = FormatOption,
    state: str | None = typer.Option(
        None,
        "--state",
        help="State store URL, for readiness (default: GOLIVE_STATE, or "
        ".golive/state.db beside the plan; never created by check).",
    ),
    ready: bool = typer.Option(
        False, "--ready", help="Also exit 1 when the plan is not ready for production."
    ),
) -> int:
    """Validate and lint a plan: every problem as file:line:col, exit 1 on any error.

    Then say whether the plan is ready for production, from its rehearsals in the state store.
    """
    result = check_plan(plan, env=env)
    verdict = check_readiness(result, state=state) if result.ok else None
    if output is OutputFormat.json:
        data = _check_json(result)
        if verdict is not None:
            data["readiness"] = readiness_json(verdict)
        console.print_json(data=data)
    else:
        _print_check(result)
        if verdict is not None:
            print_readiness(verdict, path=result.path)
    unready = verdict is None or isinstance(verdict, str) or not verdict.ready
    return 1 if not result.ok or (ready and unready) else 0


def _check_json(result: CheckResult) -> dict[str, object]:
    return {
        "file": str(result.path),
        "ok": result.ok,
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "diagnostics": [d.to_json() for d in result.diagnostics],
    }


def _print_check(result: CheckResult) -> None:
    for diagnostic in result.diagnostics:
        style = "bold red" if diagnostic.severity is Severity.error else "yellow"
        line = Text(diagnostic.format())
        line.highlight_regex(rf": {diagnostic.severity}:", style)
        console.print(line)
    errors, warnings = len(result.errors), len(result.warnings)
    summary = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    if errors:
        console.print(f"[bold red]✗[/] {result.path}: {summary}")
    else:
        plan = result.plan
        steps = f"{_plural(len(plan.steps), 'step')}, " if plan else ""
        console.print(f"[bold green]✓[/] {result.path}: plan OK ({steps}{summary})")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@app.command()
def show(plan: Path = PlanArg, env: str | None = EnvOption) -> None:
    """Print a readable outline: window and policy, people, checklist, steps, critical path."""
    plan_file = load_plan(plan, env=env)
    outline = plan_file.plan
    console.print(
        f"[bold]{escape(outline.title)}[/]  [dim]({outline.golive}, times in {outline.timezone})[/]"
    )
    _print_window(outline)
    _print_people(outline)
    _print_checklist(outline)
    _print_steps(outline)


def _print_window(plan: Plan) -> None:
    window = plan.window
    if window is None:
        console.print("\n[bold]Window[/]  none set: add window: {start, end}")
        return
    span = f"{window.start:%a %Y-%m-%d %H:%M} → {window.end:%a %Y-%m-%d %H:%M}"
    console.print(f"\n[bold]Window[/]  {span}  ({format_duration(window.length)})")
    findings = list(window_findings(plan))
    policy = plan.policy
    rules = [f"never on {', '.join(policy.never_on)}" if policy.never_on else "any weekday"]
    if policy.quiet_hours:
        rules.append(f"quiet hours {policy.quiet_hours}")
    if policy.holiday_regions:
        rules.append(f"holidays {', '.join(policy.holiday_regions)}")
    rules += [f"freeze {period}" for period in policy.freeze]
    verdict = "[green]within policy[/]" if not findings else "[bold red]breaks policy[/]"
    console.print(f"Policy  {verdict}: {escape('; '.join(rules))}")
    for finding in findings:
        console.print(f"  [red]✗[/] {escape(finding.message)}")
    needs = [f"{policy.rehearsals_needed} rehearsal(s)"]
    if plan.verify_passes_needed:
        needs.append(f"{plan.verify_passes_needed} with every verify step passing")
    if policy.rollback_rehearsed:
        needs.append("a rehearsed rollback")
    if policy.rollback_within:
        needs.append(f"rollback within {format_duration(policy.rollback_within)}")
    console.print(f"Needs   {', '.join(needs)} before production")


def _print_people(plan: Plan) -> None:
    if not plan.people:
        return
    table = Table(
        title="People", title_justify="left", title_style="bold", box=None, pad_edge=False
    )
    for column in ("id", "name", "role", "contact"):
        table.add_column(column, style="dim" if column == "id" else None)
    for person_id, person in plan.people.items():
        table.add_row(
            *(Text(v) for v in (person_id, person.name, person.role or "-", person.contact or "-"))
        )
    console.print()
    console.print(table)


def _print_checklist(plan: Plan) -> None:
    if not plan.checklist:
        return
    table = Table(
        title="Checklist", title_justify="left", title_style="bold", box=None, pad_edge=False
    )
    for column in ("id", "item", "owner", "due", "verify"):
        table.add_column(column, style="dim" if column == "id" else None)
    for item in sorted(plan.checklist, key=lambda i: i.due.end if i.due else dt.datetime.max):
        verify = "auto" if item.verify else "manual"
        table.add_row(
            item.id, Text(item.title), item.owner or "[red]none[/]", str(item.due or "-"), verify
        )
    console.print()
    console.print(table)


def _print_steps(plan: Plan) -> None:
    graph = StepGraph(plan.steps)
    estimates = {s.id: s.estimate or dt.timedelta() for s in plan.steps}
    path = graph.critical_path(estimates.__getitem__)
    table = Table(title="Steps", title_justify="left", title_style="bold", box=None, pad_edge=False)
    for column in ("#", "step", "kind", "owner", "needs", "estimate", "undo"):
        table.add_column(column, justify="right" if column in ("#", "estimate") else "left")
    for number, step_id in enumerate(graph.order(), start=1):
        step = plan.step(step_id)
        owner = step.owner or (", ".join(step.approvers) if step.kind is StepKind.gate else "-")
        critical = "[bold]" if step_id in path.steps else ""
        kind = step.kind.value + (f" on {step.on}" if step.on else "")
        undo = "yes" if step.undo or step.undoes_itself else "-"
        table.add_row(
            str(number),
            f"{critical}{step_id}",
            kind,
            owner,
            ", ".join(step.needs) or "-",
            format_duration(step.estimate) if step.estimate else "-",
            undo,
        )
    console.print()
    console.print(table)
    console.print(f"\n[bold]Critical path[/]  {' → '.join(path.steps) or '-'}")
    console.print(
        f"[bold]Total[/]  {format_duration(path.total)} if every estimate holds"
        + (f", in a window of {format_duration(plan.window.length)}" if plan.window else "")
    )


@app.command()
def init(
    directory: Path = typer.Argument(Path("."), help="Where to write the plan."),
    name: str | None = typer.Option(
        None, "--name", help="The go-live id (default: the directory name)."
    ),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA timezone of the plan's times."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing plan."),
) -> None:
    """Write a commented starter plan that passes `golive check`."""
    plan_id = _slug(name or directory.resolve().name or "my-go-live")
    target = directory / f"{plan_id}.golive.yaml"
    if target.exists() and not force:
        raise GoliveError(f"{target} exists already; pass --force to overwrite it")
    if target.exists() and not target.is_file():  # writing to a FIFO would block
        raise GoliveError(f"{target} exists and is not a regular file; remove it first")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"--timezone {timezone!r} is not an IANA timezone (e.g. Europe/Brussels)"
        ) from None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        text = render_starter(
            plan_id=plan_id, filename=target.name, timezone=timezone, today=dt.date.today()
        )
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise GoliveError(f"cannot write {target}: {exc.strerror}") from None
    result = check_plan(target)
    if not result.ok:  # a bug in the starter plan, not the user's doing
        raise GoliveError(f"the starter plan does not pass check: {result.errors[0].format()}")
    console.print(f"[green]✓[/] wrote {target}")
    console.print(f"  next: golive check {target}   then   golive show {target}")


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "my-go-live"
    return slug[:64]


@app.command()
def schema() -> None:
    """Print the JSON Schema of the plan format (for editor completion)."""
    document = Plan.model_json_schema(by_alias=True)
    document = {
        **document,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "golive plan",
    }
    typer.echo(json.dumps(document, indent=2))
