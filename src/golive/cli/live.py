"""Watching a run in the terminal: a live Rich board on a TTY, plain lines elsewhere (CI logs)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from golive.cli.terminal import visible, visible_lines
from golive.engine.events import (
    Acknowledged,
    DecisionMade,
    GateVoted,
    IssueCommented,
    IssueRaised,
    IssueResolved,
    NotificationFailed,
    NotificationSent,
    PolicyOverridden,
    Recorded,
    RollbackFinished,
    RollbackStarted,
    RunFinished,
    RunPaused,
    RunResumed,
    StepFailed,
    StepInterrupted,
    StepMarkedDone,
    StepOutput,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    StepWaiting,
    UndoFailed,
    UndoInterrupted,
    UndoSkipped,
    UndoStarted,
    UndoSucceeded,
    UpdatePosted,
    Vote,
)
from golive.engine.progress import eta_seconds
from golive.engine.state import RunState, StepStatus, UndoStatus
from golive.plan.graph import StepGraph
from golive.plan.values import format_duration

if TYPE_CHECKING:
    from golive.plan.models import Plan
    from golive.plan.outline import PlanOutline

    Shown = Plan | PlanOutline  # the board draws the plan, or its outline (status)

ICONS = {
    StepStatus.pending: ("·", "dim"),
    StepStatus.running: ("▶", "bold cyan"),
    StepStatus.waiting: ("⌛", "bold yellow"),
    StepStatus.retrying: ("↻", "yellow"),
    StepStatus.succeeded: ("✓", "green"),
    StepStatus.failed: ("✗", "bold red"),
    StepStatus.interrupted: ("?", "bold magenta"),
    StepStatus.skipped: ("↷", "dim"),
}


def next_actions(state: RunState, plan: Shown) -> list[str]:
    """What the run waits for, as the commands that would unblock it."""
    lines = []
    for step_id, why in state.blocked.items():
        lines.append(
            f"decision on {step_id} ({why}): golive decide {state.run_id} "
            f"retry|skip|rollback|abort --step {step_id} --as PERSON"
            + (
                f"  or  golive done {state.run_id} {step_id} --as PERSON"
                if state.step(step_id).undo is UndoStatus.none
                else ""
            )
        )
    for step in state.steps.values():
        if step.status is StepStatus.waiting and plan.step(step.id).kind == "gate":
            for person in _not_voted(plan, state, step.id):
                lines.append(
                    f"{person} to vote at {step.id}: golive gate {state.run_id} "
                    f"{step.id} go|no-go --as {person}"
                )
        elif step.status is StepStatus.waiting:
            who = ", ".join(step.waiting_for) or "someone"
            lines.append(
                f"{who} to do '{step.waiting_what}': golive done {state.run_id} {step.id} "
                f"--as {step.waiting_for[0] if step.waiting_for else 'PERSON'}"
            )
    return lines


class Board:
    """The live terminal view: every step, progress and ETA, output tails, what it waits for."""

    def __init__(self, plan: Shown, state: RunState) -> None:
        self.plan, self.state = plan, state
        self.graph = StepGraph(plan.steps)
        self.order = self.graph.order()

    def __rich__(self) -> RenderableType:
        state, now = self.state, dt.datetime.now(dt.UTC)
        done = sum(1 for s in self.order if state.step(s).done)
        end = state.finished_at if state.status.finished and state.finished_at else now
        elapsed = (end - state.started_at).total_seconds() if state.started_at else 0.0
        eta = eta_seconds(self.plan, state, now=now)
        kind = "rehearsal" if state.rehearsal else "PRODUCTION"
        header = Text.from_markup(
            f"[bold]{escape(visible(self.plan.title))}[/]  run [bold]{state.run_id}[/]  "
            f"{state.env} ({kind})"
            + (f"  release {escape(visible(state.release))}" if state.release else "")
        )
        status = Text.from_markup(
            f"{_status_markup(state)}  {done}/{len(self.order)} steps  "
            f"elapsed {format_duration(elapsed)}" + (f"  ETA {format_duration(eta)}" if eta else "")
        )
        parts: list[RenderableType] = [header, status, self._table(now)]
        for step in state.steps.values():
            if step.status is StepStatus.running and step.output:
                lines = [visible(line) for line in list(step.output)[-3:]]
                tail = "\n".join(f"  {step.id} │ {line}" for line in lines)
                parts.append(Text(tail, style="dim"))
        for line in next_actions(state, self.plan):
            parts.append(Text.from_markup(f"[bold yellow]waiting:[/] {escape(visible(line))}"))
        return Group(*parts)

    def _table(self, now: dt.datetime) -> Table:
        table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
        for column in ("", "step", "owner", "time / estimate", "detail"):
            table.add_column(column, no_wrap=column != "detail", overflow="ellipsis")
        for step_id in self.order:
            step, st = self.plan.step(step_id), self.state.step(step_id)
            icon, style = ICONS[st.status]
            table.add_row(
                Text(icon, style=style),
                Text(step_id, style=style),
                visible(step.owner or ", ".join(step.approvers) or "-"),
                _timing(st.duration, st.attempt_started_at, st.status, step.estimate, now),
                Text(
                    visible(_detail(self.state, step_id, self.plan)), style="dim" if st.done else ""
                ),
            )
        return table


def _timing(
    duration: float | None,
    started: dt.datetime | None,
    status: StepStatus,
    estimate: dt.timedelta | None,
    now: dt.datetime,
) -> str:
    if status in (StepStatus.running, StepStatus.waiting) and started:
        spent = format_duration((now - started).total_seconds())
    elif duration is not None:
        spent = format_duration(duration)
    else:
        spent = ""
    return f"{spent} / {format_duration(estimate)}" if estimate else spent


def _not_voted(plan: Shown, state: RunState, gate: str) -> list[str]:
    return [a for a in plan.step(gate).approvers if a not in state.step(gate).ballots]


def _ballots(state: RunState, step_id: str) -> str:
    ballots = state.step(step_id).ballots
    return ", ".join(
        f"{who} {'go' if b.vote is Vote.go else 'NO-GO'}" for who, b in ballots.items()
    )


def _detail(state: RunState, step_id: str, plan: Shown) -> str:
    st = state.step(step_id)
    if st.status is StepStatus.waiting and plan.step(step_id).kind == "gate":
        votes = f"votes: {_ballots(state, step_id)}; " if st.ballots else ""
        return f"{votes}waiting for {', '.join(_not_voted(plan, state, step_id))}"
    if st.undo is not UndoStatus.none:
        return f"undo {st.undo}" + (f": {st.undo_error}" if st.undo_error else "")
    if st.status is StepStatus.failed or st.status is StepStatus.retrying:
        return f"attempt {st.attempt}: {st.error}"
    if st.status is StepStatus.waiting:
        return f"waiting for {', '.join(st.waiting_for) or 'someone'}: {st.waiting_what}"
    if st.status is StepStatus.interrupted:
        return "interrupted: did it complete?"
    if st.status is StepStatus.skipped:
        return st.skipped_reason or "skipped"
    if st.marked_by:
        return f"marked done by {st.marked_by}"
    if st.status is StepStatus.running and st.output:
        return st.output[-1]
    return ""


def _status_markup(state: RunState) -> str:
    colours = {
        "running": "cyan",
        "paused": "bold yellow",
        "rolling_back": "bold magenta",
        "completed": "bold green",
        "failed": "bold red",
        "rolled_back": "bold magenta",
        "aborted": "bold red",
    }
    return f"[{colours[state.status]}]{state.status.replace('_', ' ').upper()}[/]"


class PlainPrinter:
    """One line per fact, for logs: what started, ended, failed, waits, and output lines."""

    def __init__(self, console: Console, plan: Plan) -> None:
        self.console, self.plan = console, plan

    def __call__(self, recorded: Recorded, state: RunState) -> None:
        line = self.describe(recorded, state)
        if line:
            stamp = recorded.at.astimezone().strftime("%H:%M:%S")
            self.console.print(f"{stamp} {line}", markup=False, highlight=False)

    def describe(self, recorded: Recorded, state: RunState) -> str | None:
        """The fact in words: one line, or one per line of output, with control characters of
        the log (escape sequences, carriage returns, newlines) made visible."""
        e = recorded.event
        if isinstance(e, StepOutput):
            if e.stream == "traffic":
                return None  # a traffic step's figures: its stdout says the same for people
            where = visible(f"{e.step} [{e.host}]" if e.host else f"{e.step}")
            return "\n".join(f"  {where} │ {line}" for line in visible_lines(e.text))
        line = self._fact(recorded, state)
        return visible(line) if line is not None else None

    def _fact(self, recorded: Recorded, state: RunState) -> str | None:
        e, step = recorded.event, recorded.event.step
        match e:
            case StepStarted():
                return f"▶ {step} started" + (f" (attempt {e.attempt})" if e.attempt > 1 else "")
            case StepSucceeded():
                return f"✓ {step} succeeded in {format_duration(e.duration)}"
            case StepFailed():
                retry = ", will retry" if e.will_retry else ""
                return f"✗ {step} failed (attempt {e.attempt}{retry}): {e.error}"
            case StepWaiting() if e.what.startswith("Go/No-Go"):
                return f"⌛ {step} waits for votes from {', '.join(e.who) or 'its approvers'}" + (
                    f"  → golive gate {state.run_id} {step} go|no-go --as {e.who[0]}"
                    if e.who
                    else ""
                )
            case StepWaiting():
                return f"⌛ {step} waits for {', '.join(e.who) or 'someone'}: {e.what}" + (
                    f"  → golive done {state.run_id} {step} --as {e.who[0]}" if e.who else ""
                )
            case StepMarkedDone():
                return f"✓ {step} marked done by {e.by}" + (f": {e.note}" if e.note else "")
            case StepSkipped():
                return f"↷ {step} skipped: {e.reason}"
            case StepInterrupted():
                return f"? {step} was interrupted" + (", running it again" if e.rerun else "")
            case PolicyOverridden():
                return f"⚠ policy overridden by {e.by} ({', '.join(e.rules)}): {e.why}"
            case UndoInterrupted():
                return f"? undo of {step} was interrupted" + (
                    ", running it again" if e.rerun else ""
                )
            case RunResumed():
                return f"● resumed by {e.by} (process {e.pid} on {e.host})"
            case RunPaused():
                return (
                    f"⏸ paused on {step}: {e.reason}  → golive decide {state.run_id} "
                    f"retry|skip|rollback|abort --step {step} --as PERSON"
                )
            case GateVoted():
                shown = "go" if e.vote is Vote.go else "NO-GO"
                return f"⚑ {e.by} voted {shown} at {step}" + (f": {e.comment}" if e.comment else "")
            case DecisionMade():
                return (
                    f"⚑ {e.by} decided {e.decision}"
                    + (f" {step}" if step else "")
                    + (f": {e.why}" if e.why else "")
                )
            case RollbackStarted():
                return f"⟲ rollback started by {e.by}: {e.reason}"
            case UndoStarted():
                return f"⟲ undoing {step}"
            case UndoSucceeded():
                return f"⟲ {step} undone in {format_duration(e.duration)}"
            case UndoFailed():
                return f"✗ undo of {step} failed: {e.error}"
            case UndoSkipped():
                return f"⟲ {step}: {e.reason}"
            case RollbackFinished():
                state_word = "complete" if e.complete else "INCOMPLETE"
                return f"⟲ rollback {state_word} in {format_duration(e.duration)}"
            case RunFinished():
                return f"■ run {e.outcome.replace('_', ' ')} in {format_duration(e.duration)}"
            case UpdatePosted():
                return f"✉ {e.severity.upper()} update from {e.by}: {e.text}"
            case IssueRaised():
                about = f" on {step}" if step else ""
                owner = f", owner {e.owner}" if e.owner else ""
                kind = f"{e.severity}{about}{owner}"
                return f"! issue {recorded.seq} ({kind}) raised by {e.by}: {e.title}"
            case IssueCommented():
                return f"! issue {e.issue}: {e.by} commented: {e.text}"
            case IssueResolved():
                return f"! issue {e.issue} resolved by {e.by}: {e.resolution}"
            case NotificationSent():
                return f"→ message to {e.recipient} sent ({len(e.notifications)} notification(s))"
            case NotificationFailed():
                then = f"retry at {e.retry_at[11:19]} UTC" if e.retry_at else "given up"
                return f"→ message to {e.recipient} FAILED (attempt {e.attempt}, {then}): {e.error}"
            case Acknowledged():
                return f"✓ {e.item} acknowledged by {e.by}" + (f": {e.note}" if e.note else "")
        return _hypercare_fact(recorded)


def _hypercare_fact(recorded: Recorded) -> str | None:
    """The hypercare phase's events in words (heartbeats are not news)."""
    from golive.engine import events as ev

    e = recorded.event
    match e:
        case ev.HypercareStarted():
            return f"◉ hypercare started until {e.until} ({len(e.monitors)} monitor(s))"
        case ev.MonitorChecked() if not e.heartbeat:
            return f"{'●' if e.ok else '✗'} monitor {e.monitor}: {e.detail}"
        case ev.IncidentOpened():
            return f"! incident {recorded.seq} ({e.severity}) opened: {e.title}: {e.detail}"
        case ev.IncidentResolved():
            down = format_duration(e.down_for)
            return f"! incident {e.issue}: {e.monitor} recovered after {down}"
        case ev.ObjectiveEvaluated():
            return f"◎ objective {e.objective}: {e.verdict.replace('_', ' ')} ({e.detail})"
        case ev.HypercareSignedOff():
            return f"✓ hypercare signed off by {e.by}"
        case ev.HypercareExited():
            return f"◉ hypercare ended ({e.reason}) by {e.by}" + (f": {e.why}" if e.why else "")
    return None


@contextmanager
def live_board(console: Console, plan: Plan, state: RunState) -> Iterator[None]:
    """Show the board, refreshed several times a second, while the block runs."""
    board = Board(plan, state)
    with Live(board, console=console, refresh_per_second=8, transient=False):
        yield
