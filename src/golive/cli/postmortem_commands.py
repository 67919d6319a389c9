"""Commands for the review of a run: `golive postmortem` and `golive audit verify|head`.

Heavy modules (the store, the engine, Jinja2) load inside the commands: `golive --help` and
other commands do not pay for them.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from golive.cli.app import app, console, console_err, exits
from golive.cli.options import AsOption, PlanOption, RunArg, StateOption

if TYPE_CHECKING:
    from golive.store import EventStore, RunRecord

audit_app = typer.Typer(
    name="audit",
    help="Check the audit chain of runs' event logs, and export a run's head hash.",
    no_args_is_help=True,
)
app.add_typer(audit_app)


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"


def _pick_run(
    store: EventStore, run: str | None, plan: Path | None, *, rehearsal: bool
) -> RunRecord:
    """RUN by id or prefix; else the latest production run (latest rehearsal with --rehearsal)."""
    from golive.errors import RunNotFound
    from golive.plan import load_plan

    plan_id = load_plan(plan).plan.golive if plan is not None else None
    if run:
        return store.find_run(run, plan_id=plan_id)
    runs = [r for r in store.runs(plan_id=plan_id) if r.rehearsal == rehearsal]
    if not runs:
        kind = "rehearsal" if rehearsal else "production run"
        other = "without --rehearsal" if rehearsal else "with --rehearsal for the latest rehearsal"
        raise RunNotFound(
            f"there is no {kind} in the state store {store.display_url}: name a RUN, or try {other}"
        )
    return runs[-1]


@app.command(name="postmortem")
@exits
def postmortem_command(
    run_id: str | None = typer.Argument(
        None, help="Run id or unique prefix (default: the latest production run)."
    ),
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
    output_format: ReportFormat = typer.Option(
        ReportFormat.md, "--format", "-f", help="md, html (one self-contained file) or json."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to FILE, not stdout."),
    rehearsal: bool = typer.Option(
        False, "--rehearsal", help="Without RUN: the latest rehearsal instead."
    ),
    lesson: str | None = typer.Option(None, "--lesson", help="Add a line to the review."),
    kind: str = typer.Option(
        "lesson", "--kind", help="The --lesson's kind: went_well, could_be_better or lesson."
    ),
    follow_up: str | None = typer.Option(None, "--follow-up", help="Add a follow-up action."),
    owner: str | None = typer.Option(None, "--owner", help="Who owns the --follow-up."),
    due: str | None = typer.Option(None, "--due", help="When the --follow-up is due: YYYY-MM-DD."),
    as_person: str | None = AsOption,
) -> int:
    """Draft the post-mortem of a run from its record; or add a lesson or follow-up to it."""
    from golive.cli.options import opened
    from golive.errors import UsageError

    with opened(state, plan) as store:
        record = _pick_run(store, run_id, plan, rehearsal=rehearsal)
        if lesson is not None or follow_up is not None:
            if as_person is None:
                raise UsageError("say who you are with --as PERSON to add to the review")
            return _add(store, record, lesson, kind, follow_up, owner, due, as_person)
        from golive.report.postmortem import render
        from golive.report.postmortem.load import load_postmortem

        text = render(load_postmortem(store=store, run_id=record.id), output_format.value)
    if output is None:
        typer.echo(text, nl=False)
        return 0
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}; choose another -o FILE") from None
    console_err.print(f"post-mortem of run {record.id} written to {output}", markup=False)
    return 0


def _add(
    store: EventStore,
    record: RunRecord,
    lesson: str | None,
    kind: str,
    follow_up: str | None,
    owner: str | None,
    due: str | None,
    by: str,
) -> int:
    from golive.engine.operator import read_state, run_plan
    from golive.errors import UsageError
    from golive.report.postmortem.notes import add_follow_up, add_lesson

    plan = run_plan(read_state(store, record.id), display=record.plan_path)
    if lesson is not None:
        add_lesson(store, record, plan, text=lesson, kind=kind, by=by)
        console.print(f"added to the review of run {record.id}", markup=False)
    if follow_up is not None:
        if owner is None:
            raise UsageError("a --follow-up needs an --owner (a person of the plan)")
        add_follow_up(store, record, plan, text=follow_up, owner=owner, due=due, by=by)
        console.print(f"follow-up added to run {record.id}", markup=False)
    return 0


@audit_app.command(name="verify")
@exits
def audit_verify(
    run_id: str | None = typer.Argument(None, help="Run id or unique prefix (default: every run)."),
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
    head: str | None = typer.Option(
        None, "--head", help="A head hash published earlier: it must still be in the chain."
    ),
) -> int:
    """Recompute the audit chain; name the first event altered, deleted or inserted (exit 1)."""
    from golive.cli.options import opened
    from golive.store.audit import verify_run

    with opened(state, plan) as store:
        if run_id:
            records = [_pick_run(store, run_id, plan, rehearsal=False)]
        else:
            plan_id = None
            if plan is not None:
                from golive.plan import load_plan

                plan_id = load_plan(plan).plan.golive
            records = store.runs(plan_id=plan_id)
        checks = [verify_run(store=store, run_id=r.id, head=head) for r in records]
    broken = 0
    for check in checks:
        if check.broken is None:
            console.print(f"{check.run_id}: {check.summary()}", markup=False)
        else:
            broken += 1
            console_err.print(f"{check.run_id}: {check.broken.message}", markup=False)
    if not checks:
        console.print("no runs to verify", markup=False)
    return 1 if broken else 0


@audit_app.command(name="head")
def audit_head(
    run_id: str | None = RunArg,
    plan: Path | None = PlanOption,
    state: str | None = StateOption,
) -> None:
    """Print the run's head hash: publish it (an update, a channel) to pin the log as it is."""
    from golive.cli.options import opened
    from golive.errors import StoreError
    from golive.store.audit import verify_run

    with opened(state, plan) as store:
        record = store.find_run(run_id) if run_id else store.latest_run()
        check = verify_run(store=store, run_id=record.id)
    if check.broken is not None:
        raise StoreError(f"run {record.id}: {check.broken.message}")
    typer.echo(check.head or "-")
    console_err.print(
        f"the head hash of run {record.id} ({check.events} events): publish it (an update, a "
        f"channel); later, `golive audit verify {record.id} --head HASH` shows the log still "
        "holds it",
        markup=False,
    )
