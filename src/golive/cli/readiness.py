"""The readiness verdict as the command line shows it: after `golive check`, and before a
production `golive run`. The verdict itself is `golive.report.readiness`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape

from golive.cli.app import console
from golive.cli.options import now, state_url
from golive.plan import CheckResult
from golive.plan.models import Plan
from golive.report.readiness import Readiness, plan_readiness


def check_readiness(result: CheckResult, *, state: str | None) -> Readiness | str | None:
    """The readiness of a checked plan: None if it did not parse, the message if the store fails."""
    if result.plan is None:
        return None
    return readiness_of(result.plan, result.path, state=state)


def readiness_of(plan: Plan, plan_path: Path, *, state: str | None) -> Readiness | str:
    """Rehearsals, rollback, forecast and checklist against policy, from the plan's store (or
    --state); the message if the store cannot be read. Creates no store where there is none."""
    return plan_readiness(plan, store_url=state_url(state, plan_path), now=now())


def readiness_json(verdict: Readiness | str) -> dict[str, Any]:
    if isinstance(verdict, str):
        return {"verdict": "unknown", "reasons": [verdict]}
    return verdict.to_json()


def print_readiness(verdict: Readiness | str, *, path: Path) -> None:
    if isinstance(verdict, str):
        console.print(f"[yellow]readiness: unknown: {escape(verdict)}[/]")
        return
    predicted = verdict.forecast
    note = predicted.window_note() if predicted is not None else None
    if predicted is not None and note is not None:
        count = predicted.rehearsals
        source = f", from {count} rehearsal{'' if count == 1 else 's'}"
        if predicted.overflow:
            console.print(f"[yellow]{escape(str(path))}: warning: forecast: {note}{source}[/]")
        else:
            console.print(f"[dim]forecast: {note}{source}[/]")
    colour = "green" if verdict.ready else "bold red"
    word = "ready" if verdict.ready else "not ready"
    rest = escape(verdict.summary().removeprefix(word))
    console.print(f"readiness: [{colour}]{word}[/]{rest}")
    if verdict.checklist_on_behalf:
        marked = ", ".join(verdict.checklist_on_behalf)
        console.print(f"[dim]checklist marked for their owner: {escape(marked)}[/]")
