"""The go-live call from the terminal: updates, the issues log, acknowledgements, and the
notification worker. The same code paths as mission control (golive.engine.call)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from golive.cli.app import app, console
from golive.cli.options import PlanOption, StateOption, opened
from golive.engine.events import Severity

if TYPE_CHECKING:
    from golive.store import EventStore, RunRecord

issue_app = typer.Typer(
    name="issue",
    help="The run's issues log: raise, comment, resolve.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(issue_app)

RunId = typer.Argument(..., help="Run id or a unique prefix.")
By = typer.Option(..., "--as", help="Who you are: a person id of the plan.")
SeverityOption = typer.Option(Severity.info, "--severity", "-s", help="info, warning or critical.")


@contextmanager
def _run_as(
    state: str | None, plan: Path | None, run_id: str, by: str
) -> Iterator[tuple[EventStore, RunRecord]]:
    """The store and the run, once --as is known to be a person of the run's plan."""
    from golive.engine.operator import check_person, read_state, run_plan

    with opened(state, plan) as store:
        record = store.find_run(run_id)
        check_person(run_plan(read_state(store, record.id), display=record.plan_path), by)
        yield store, record


@app.command()
def update(
    run_id: str = RunId,
    text: str = typer.Argument(..., help="The update, for everyone on the call."),
    by: str = By,
    severity: Severity = SeverityOption,
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
) -> None:
    """Post an update to the go-live call (mission control, and the channels)."""
    from golive.engine.call import post_update

    with _run_as(state, plan, run_id, by) as (store, record):
        posted = post_update(store, record, text=text, severity=severity, by=by)
    console.print(f"update {posted.seq} posted to run {record.id} ({severity})")


@issue_app.command("raise")
def issue_raise(
    run_id: str = RunId,
    title: str = typer.Argument(..., help="What is wrong, in a line."),
    by: str = By,
    severity: Severity = SeverityOption,
    owner: str | None = typer.Option(None, "--owner", help="Who owns it: a person id."),
    step: str | None = typer.Option(None, "--step", help="The step it is about."),
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
) -> None:
    """Raise an issue; prints its id."""
    from golive.engine.call import raise_issue

    with _run_as(state, plan, run_id, by) as (store, record):
        raised = raise_issue(
            store, record, title=title, severity=severity, by=by, owner=owner, step=step
        )
    console.print(f"issue {raised.seq} raised in run {record.id}")


@issue_app.command("comment")
def issue_comment(
    run_id: str = RunId,
    issue: int = typer.Argument(..., help="The issue's id."),
    text: str = typer.Argument(..., help="The comment."),
    by: str = By,
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
) -> None:
    """Comment on an open issue."""
    from golive.engine.call import comment_issue

    with _run_as(state, plan, run_id, by) as (store, record):
        comment_issue(store, record, issue=issue, text=text, by=by)
    console.print(f"comment added to issue {issue} of run {record.id}")


@issue_app.command("resolve")
def issue_resolve(
    run_id: str = RunId,
    issue: int = typer.Argument(..., help="The issue's id."),
    resolution: str = typer.Argument(..., help="How it was resolved."),
    by: str = By,
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
) -> None:
    """Resolve an open issue (an incident too: its id is an issue id)."""
    from golive.engine.call import resolve_issue

    with _run_as(state, plan, run_id, by) as (store, record):
        resolve_issue(store, record, issue=issue, resolution=resolution, by=by)
    console.print(f"issue {issue} of run {record.id} resolved")


@app.command()
def ack(
    run_id: str = RunId,
    item: str = typer.Argument(..., help="An incident or issue id, or a waiting step's id."),
    by: str = By,
    note: str | None = typer.Option(None, "--note", help="A word for the others."),
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
) -> None:
    """Acknowledge an incident, an issue or a waiting step: its escalation stops climbing."""
    from golive.engine.call import acknowledge

    with opened(state, plan) as store:
        record = store.find_run(run_id)
        acknowledge(store, record, item=item, by=by, note=note)
    console.print(f"{item} acknowledged by {by} in run {record.id}; its escalation stops")


@app.command()
def notify(
    run_id: str | None = typer.Argument(None, help="Run id or a unique prefix."),
    checklist: Path | None = typer.Option(
        None, "--checklist", help="Deliver this plan's overdue checklist notifications instead."
    ),
    env: str | None = typer.Option(
        None,
        "--env",
        "-e",
        help="With --checklist: the environment whose secrets fill the URLs (default: production).",
    ),
    once: bool = typer.Option(False, "--once", help="Deliver what is due now, then stop."),
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
) -> None:
    """Deliver a run's notifications when no engine runs (escalations in hypercare, retries),
    or with --checklist PLAN those of its overdue checklist items. Safe beside an engine or
    `golive serve`: a notification is claimed before it is sent."""
    from golive.errors import UsageError

    if (run_id is None) == (checklist is None):
        raise UsageError(
            "name a run (golive notify RUN) or a plan (golive notify --checklist PLAN)"
        )
    if checklist is not None:
        _notify_checklist(checklist, env=env, once=once, state=state)
    else:
        assert run_id is not None
        _notify_run(run_id, once=once, plan=plan, state=state)


def _notify_run(run_id: str, *, once: bool, plan: Path | None, state: str | None) -> None:
    from golive.engine.clock import clock_from_environment
    from golive.engine.operator import read_state, run_plan
    from golive.notify.courier import run_courier

    with opened(state, plan) as store:
        record = store.find_run(run_id)
        model = run_plan(read_state(store, record.id), display=record.plan_path)
        courier = run_courier(store, record, model, clock=clock_from_environment())
        sent = _repeat(lambda: courier.deliver(flush=once), courier.deliver, once=once)
    console.print(f"{sent} message(s) sent for run {record.id}")


def _notify_checklist(path: Path, *, env: str | None, once: bool, state: str | None) -> None:
    from golive.engine.clock import clock_from_environment
    from golive.notify.checklist import ChecklistCourier, renderers
    from golive.plan import load_plan

    model = load_plan(path, env=env).plan
    render, redact = renderers(model, path, env=env, strict=True)
    with opened(state, path, create=True) as store:
        courier = ChecklistCourier(
            store=store, plan=model, render=render, redact=redact, clock=clock_from_environment()
        )
        sent = _repeat(courier.deliver, courier.deliver, once=once)
    console.print(f"{sent} message(s) sent for the checklist of {model.golive}")


def _repeat(first: Callable[[], int], then: Callable[[], int], *, once: bool) -> int:
    """`first()`, then `then()` every poll until interrupted (unless `once`): messages sent."""
    import time

    from golive.notify.courier import POLL_SECONDS

    sent = first()
    try:
        while not once:
            time.sleep(POLL_SECONDS)
            sent += then()
    except KeyboardInterrupt:
        pass
    return sent
