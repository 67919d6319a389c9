"""`golive checklist`: the checklist before the go-live, its marks and its verifications."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from golive.cli.app import app, console
from golive.cli.options import OutputFormat, StateOption, now, opened
from golive.cli.terminal import visible
from golive.engine.checklist import (
    VERIFIER,
    ItemState,
    ItemStatus,
    MarkState,
    mark_refusal,
    statuses,
    verify,
)
from golive.engine.context import RunContext
from golive.errors import GoliveError, UsageError
from golive.notify.checklist import failing_lines
from golive.plan import Plan, load_plan
from golive.plan.diagnostics import did_you_mean
from golive.store import EventStore
from golive.store.checklist_outbox import ChecklistDelivery, ChecklistKey, ChecklistOutbox

STYLE = {
    ItemState.done: ("✓", "green"),
    ItemState.overdue: ("✗", "bold red"),
    ItemState.failed: ("✗", "red"),
    ItemState.pending: ("·", ""),
}


@app.command(name="checklist")
def checklist_command(
    plan: Path = typer.Argument(..., help="The plan file."),
    env: str | None = typer.Option(
        None, "--env", "-e", help="Environment for the verifications (default: production)."
    ),
    done: str | None = typer.Option(None, "--done", help="Mark this item done."),
    reopen: str | None = typer.Option(None, "--reopen", help="Mark this item not done again."),
    by: str | None = typer.Option(None, "--as", help="Who marks it: a person id of the plan."),
    note: str | None = typer.Option(None, "--note", help="What was done, for the record."),
    run_checks: bool = typer.Option(
        True, "--verify/--no-verify", help="Run the automatic verifications."
    ),
    state: str | None = StateOption,
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Output format."),
) -> None:
    """Show the checklist (owner, due date, done / overdue / pending), run its automatic
    verifications, and mark items done."""
    plan_file = load_plan(plan, env=env)
    model = plan_file.plan
    with opened(state, plan, create=True) as store:
        for item_id, mark in ((done, MarkState.done), (reopen, MarkState.open)):
            if item_id is not None:
                _mark(store, model, item_id, mark, by=by, note=note)
        if run_checks and done is None and reopen is None:
            _verify(store, model, plan, env)
        current = statuses(model, store.checklist_marks(model.golive), now=now())
        deliveries = ChecklistOutbox(store).deliveries(model.golive)
    if output is OutputFormat.json:
        typer.echo(json.dumps([_json(s, deliveries) for s in current], indent=2))
    else:
        _print(model, current)
        open_items = {s.item.id for s in current if not s.done}
        for line in failing_lines(list(deliveries.values()), open_items=open_items):
            console.print(line, markup=False, style="red" if "FAILING" in line else "dim")


def _mark(
    store: EventStore,
    plan: Plan,
    item_id: str,
    state: MarkState,
    *,
    by: str | None,
    note: str | None,
) -> None:
    ids = [item.id for item in plan.checklist]
    if item_id not in ids:
        hint = did_you_mean(item_id, ids)
        raise UsageError(
            f"no checklist item '{item_id}' in the plan" + (f"; {hint}" if hint else "")
        )
    if by is None:
        raise UsageError("say who marks it: --as PERSON")
    if by not in plan.people:
        raise UsageError(f"--as {by}: not a person of this plan (known: {', '.join(plan.people)})")
    item = next(i for i in plan.checklist if i.id == item_id)
    refusal = mark_refusal(plan, item, by)
    if refusal is not None:
        raise GoliveError(refusal)
    store.mark_checklist(plan.golive, item_id, state=state.value, by=by, note=note)
    word = "done" if state is MarkState.done else "open again"
    behalf = f" for {item.owner}" if item.owner not in (None, by) else ""
    console.print(f"✓ {item_id} marked {word} by {by}{behalf}", markup=False)


def _verify(store: EventStore, plan: Plan, path: Path, env: str | None) -> None:
    items = [item for item in plan.checklist if item.verify is not None]
    if not items:
        return
    target = env or next((e for e in plan.environments if plan.is_production(e)), None)
    if target is None:
        raise UsageError("the checklist verifications need an environment: pass --env ENV")
    context = RunContext.build(plan, env=target, release=None, run_id="checklist", plan_path=path)
    for item, ok, summary in asyncio.run(verify(plan, items, context=context)):
        state = MarkState.verified if ok else MarkState.failed
        store.mark_checklist(plan.golive, item.id, state=state.value, by=VERIFIER, note=summary)


def _print(plan: Plan, current: list[ItemStatus]) -> None:
    table = Table(box=None, pad_edge=False, header_style="dim")
    for column in ("", "item", "title", "owner", "due", "state"):
        table.add_column(
            column, ratio=1 if column == "title" else None, no_wrap=column in ("due", "state")
        )
    for status in sorted(current, key=lambda s: s.item.due.end if s.item.due else dt.datetime.max):
        icon, style = STYLE[status.state]
        title = Text(status.item.title)
        if status.last is not None and status.last.note:
            title.append(f"\n{visible(status.last.note)}", style="dim")
        table.add_row(
            Text(icon, style=style),
            status.item.id,
            title,
            status.item.owner or "-",
            str(status.item.due or "-"),
            Text(_state_text(status), style=style),
        )
    console.print(f"[bold]{escape(plan.title)}[/]: checklist")
    console.print(table)
    counts = {state: sum(1 for s in current if s.state is state) for state in ItemState}
    console.print(", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no items")


def _state_text(status: ItemStatus) -> str:
    mark = status.last
    if mark is None:
        return status.state.value
    when = mark.at.astimezone().strftime("%m-%d %H:%M")
    who = "verified" if mark.by == VERIFIER else (status.marked_for or mark.by)
    return f"{status.state.value} · {who} · {when}"


def _json(
    status: ItemStatus, deliveries: dict[ChecklistKey, ChecklistDelivery]
) -> dict[str, object]:
    mark = status.last
    notifications = [
        {
            "rule": d.key.rule,
            "recipient": d.key.recipient,
            "due": d.key.due,
            "state": d.state,
            "attempts": d.attempts,
            "error": d.error,
            "retry_at": d.retry_at.isoformat() if d.retry_at else None,
        }
        for key, d in sorted(deliveries.items())
        if key.item == status.item.id
    ]
    return {
        "notifications": notifications,
        "id": status.item.id,
        "title": status.item.title,
        "owner": status.item.owner,
        "due": str(status.item.due) if status.item.due else None,
        "state": status.state.value,
        "last_mark": None
        if mark is None
        else {
            "state": mark.state,
            "by": mark.by,
            "for": None if status.marked_for is None else status.item.owner,
            "note": mark.note,
            "at": mark.at.isoformat(),
        },
    }
