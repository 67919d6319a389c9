"""The post-mortem of a run, built from the plan and the run's event log (nothing else).

`build_postmortem` is pure: the same plan, events and rehearsals give the same model, so a
review rendered twice is the same bytes. Its time is the last event's, never the clock's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from golive.engine.events import (
    DecisionMade,
    FollowUpAdded,
    GateVoted,
    HypercareExited,
    HypercareStarted,
    IncidentOpened,
    IncidentResolved,
    IssueRaised,
    IssueResolved,
    LessonAdded,
    ObjectiveEvaluated,
    Recorded,
    RollbackStarted,
    StepFailed,
    StepMarkedDone,
    StepOutput,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    StepWaiting,
)
from golive.engine.state import RunState, StepStatus
from golive.plan.graph import StepGraph, finish_times
from golive.plan.models import Plan, StepKind
from golive.report.history import RunAndState, TableFigures, forward_duration, rehearsals
from golive.report.postmortem.document import (
    Audit,
    Ballot,
    DecisionRow,
    Entry,
    FollowUp,
    GateRow,
    Hypercare,
    IncidentRow,
    IssueRow,
    Postmortem,
    RehearsalHistory,
    RehearsalRow,
    Review,
    RollbackRow,
    StepRow,
    Summary,
    TableRow,
    TrafficMove,
    TrafficRow,
    UpdateRow,
)
from golive.store.audit import ChainCheck

OVERRUN_MARKS = 3  # the steps over their estimate by most are marked, at most this many
LESSON_KINDS = ("went_well", "could_be_better", "lesson")


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat()


def _seconds(later: dt.datetime | None, earlier: dt.datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds(), 3)


def build_postmortem(
    plan: Plan,
    events: Sequence[Recorded],
    *,
    run_id: str,
    tried: Sequence[RunAndState] = (),
    chain: ChainCheck | None = None,
) -> Postmortem:
    """The post-mortem of run `run_id` of `plan`, from its `events` (every one, by seq), the
    plan's earlier runs `tried` (its rehearsals are compared with this run), and the result of
    the audit chain's check if there is one."""
    state = RunState.fold(run_id, events)
    rehearsed = [pair for pair in rehearsals(tried) if pair[0].id != run_id]
    samples = _rehearsal_percentiles(rehearsed)
    critical = _critical_path(plan, state)
    steps = _steps(plan, state, samples, set(critical))
    gates = _gates(plan, state, events)
    issues = _issues(state, events)
    hypercare = _hypercare(events)
    history = _history(plan, state, rehearsed)
    rollbacks = _rollbacks(plan, state, events)
    summary = _summary(plan, state, events)
    return Postmortem(
        summary=summary,
        steps=steps,
        critical_path=critical,
        gates=gates,
        decisions=_decisions(events),
        rollbacks=rollbacks,
        verification=_verification(plan, events),
        traffic=_traffic(plan, state, events),
        issues=issues,
        updates=[UpdateRow(_iso(u.at) or "", u.by, u.severity, u.text) for u in state.updates],
        hypercare=hypercare,
        rehearsals=history,
        review=_review(summary, steps, gates, issues, hypercare, rollbacks, events),
        audit=None
        if chain is None
        else Audit(chain.holds, chain.events, chain.head, _chain_message(chain)),
        as_of=_iso(events[-1].at) if events else None,
    )


def _chain_message(chain: ChainCheck) -> str:
    if chain.broken is None:
        return f"all {chain.events} events chain to the head hash below"
    return chain.broken.message


def _summary(plan: Plan, state: RunState, events: Sequence[Recorded]) -> Summary:
    end = state.finished_at or (events[-1].at if events else None)
    duration = _seconds(end, state.started_at)
    start_at = end_at = None
    length = used = None
    within = None
    if plan.window is not None:
        start_at = _localized(plan, plan.window.start)
        end_at = _localized(plan, plan.window.end)
        length = plan.window.length.total_seconds()
        if duration is not None and length:
            used = round(duration / length, 4)
        if state.started_at is not None and end is not None:
            within = start_at <= state.started_at and end <= end_at
    return Summary(
        plan_id=plan.golive,
        title=plan.title,
        run_id=state.run_id,
        env=state.env,
        release=state.release,
        rehearsal=state.rehearsal,
        outcome=state.outcome.value if state.outcome else state.status.value,
        started_at=_iso(state.started_at),
        finished_at=_iso(state.finished_at),
        duration=duration,
        window_start=_iso(start_at),
        window_end=_iso(end_at),
        window_length=length,
        window_used=used,
        within_window=within,
        people=_people(state, events),
    )


def _localized(plan: Plan, moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=plan.zone)


def _people(state: RunState, events: Sequence[Recorded]) -> list[str]:
    """Who was on the call: whoever started the run or did something recorded in it."""
    found = {state.started_by} if state.started_by else set()
    for recorded in events:
        by = getattr(recorded.event, "by", None)
        if isinstance(by, str) and by and getattr(recorded.event, "source", None) != "feedback":
            found.add(by)
    return sorted(found)


def _rehearsal_percentiles(rehearsed: Sequence[RunAndState]) -> dict[str, tuple[float, float]]:
    samples: dict[str, list[float]] = {}
    for _, state in rehearsed:
        for step in state.steps.values():
            if step.status is StepStatus.succeeded and step.duration is not None:
                samples.setdefault(step.id, []).append(step.duration)
    return {
        step: (_percentile(values, 50), _percentile(values, 90)) for step, values in samples.items()
    }


def _percentile(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return round(ordered[0], 3)
    position = (len(ordered) - 1) * percent / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 3)


def _critical_path(plan: Plan, state: RunState) -> list[str]:
    """The chain of steps that set the run's end: from the step that finished last, back
    through the need of each that finished last."""
    graph = StepGraph(plan.steps)
    finished = {s.id: s.finished_at for s in state.steps.values() if s.finished_at is not None}
    if not finished:
        return []
    current: str | None = max(finished, key=lambda step: (finished[step], step))
    chain: list[str] = []
    while current is not None:
        chain.append(current)
        needs = [n for n in graph.needs.get(current, ()) if n in finished]
        current = max(needs, key=lambda step: (finished[step], step)) if needs else None
    return list(reversed(chain))


def _steps(
    plan: Plan,
    state: RunState,
    samples: dict[str, tuple[float, float]],
    critical: set[str],
) -> list[StepRow]:
    over: dict[str, float] = {}
    for step in plan.steps:
        ran = state.steps.get(step.id)
        if step.estimate is not None and ran is not None and ran.duration is not None:
            over[step.id] = round(ran.duration - step.estimate.total_seconds(), 3)
    worst = sorted((s for s, by in over.items() if by > 0), key=lambda s: (-over[s], s))
    marked = set(worst[:OVERRUN_MARKS])
    estimates = {s.id: s.estimate.total_seconds() for s in plan.steps if s.estimate is not None}
    planned_end = finish_times(StepGraph(plan.steps), estimates)
    rows = []
    for step in plan.steps:
        ran = state.steps.get(step.id)
        p50, p90 = samples.get(step.id, (None, None))
        rows.append(
            StepRow(
                id=step.id,
                title=step.label,
                kind=step.kind.value,
                owner=step.owner,
                status=ran.status.value if ran else StepStatus.pending.value,
                attempts=ran.attempt if ran else 0,
                start=_seconds(ran.started_at, state.started_at) if ran else None,
                planned_start=round(planned_end[step.id] - estimates.get(step.id, 0.0), 3),
                duration=None if ran is None or ran.duration is None else round(ran.duration, 3),
                estimate=step.estimate.total_seconds() if step.estimate else None,
                over_by=over.get(step.id),
                overran=step.id in marked,
                rehearsal_p50=p50,
                rehearsal_p90=p90,
                critical=step.id in critical,
                error=ran.error if ran else None,
            )
        )
    return rows


def _gates(plan: Plan, state: RunState, events: Sequence[Recorded]) -> list[GateRow]:
    rows = []
    for step in plan.steps:
        if step.kind is not StepKind.gate:
            continue
        opened = _first_at(events, step.id, (StepWaiting, StepStarted))
        decided = _last_at(events, step.id, (StepSucceeded, StepFailed, StepSkipped))
        votes = [
            Ballot(
                r.event.by,
                r.event.vote.value,
                r.event.comment,
                _iso(r.at) or "",
                _seconds(r.at, opened),
            )
            for r in events
            if isinstance(r.event, GateVoted) and r.event.step == step.id
        ]
        ran = state.steps.get(step.id)
        rows.append(
            GateRow(
                step=step.id,
                title=step.label,
                approvers=list(step.approvers),
                quorum=str(step.quorum),
                status=ran.status.value if ran else StepStatus.pending.value,
                opened_at=_iso(opened),
                decided_at=_iso(decided),
                decision_time=_seconds(decided, opened),
                votes=votes,
                evidence=_evidence(events, step.id),
            )
        )
    return rows


def _evidence(events: Sequence[Recorded], step: str) -> list[str]:
    """What a gate's checks found: the output its last attempt recorded."""
    lines: list[str] = []
    for recorded in events:
        event = recorded.event
        if event.step != step:
            continue
        if isinstance(event, StepStarted):
            lines = []
        if isinstance(event, StepOutput):
            text = event.text
            lines.extend(line for line in text.splitlines() if line.strip())
    return lines[-20:]


def _first_at(events: Sequence[Recorded], step: str, kinds: tuple[type, ...]) -> dt.datetime | None:
    return next((r.at for r in events if r.event.step == step and isinstance(r.event, kinds)), None)


def _last_at(events: Sequence[Recorded], step: str, kinds: tuple[type, ...]) -> dt.datetime | None:
    found = None
    for recorded in events:
        if recorded.event.step == step and isinstance(recorded.event, kinds):
            found = recorded.at
    return found


def _decisions(events: Sequence[Recorded]) -> list[DecisionRow]:
    rows = []
    for recorded in events:
        event, at = recorded.event, _iso(recorded.at) or ""
        if isinstance(event, DecisionMade):
            rows.append(DecisionRow(at, event.by, event.decision.value, event.step, event.why))
        elif isinstance(event, StepMarkedDone):
            rows.append(DecisionRow(at, event.by, "marked_done", event.step, event.note))
        elif isinstance(event, StepSkipped) and event.by is not None:
            rows.append(DecisionRow(at, event.by, "skip", event.step, event.reason))
    return rows


def _rollbacks(plan: Plan, state: RunState, events: Sequence[Recorded]) -> list[RollbackRow]:
    bound = plan.policy.rollback_within
    within_seconds = bound.total_seconds() if bound is not None else None
    rows = []
    for recorded in events:
        if isinstance(recorded.event, RollbackStarted):
            duration = state.rollback_duration
            rows.append(
                RollbackRow(
                    started_at=_iso(recorded.at) or "",
                    by=recorded.event.by,
                    reason=recorded.event.reason,
                    duration=None if duration is None else round(duration, 3),
                    complete=state.rollback_complete,
                    rollback_within=within_seconds,
                    within=None
                    if duration is None or within_seconds is None
                    else duration <= within_seconds,
                )
            )
    return rows


def _verification(plan: Plan, events: Sequence[Recorded]) -> list[TableRow]:
    last: dict[str, list[Any]] = {}
    for recorded in events:
        event = recorded.event
        if isinstance(event, StepSucceeded | StepFailed) and event.step is not None:
            details = event.details or {}
            if isinstance(details.get("tables"), list):
                last[event.step] = details["tables"]
    rows = []
    for step in plan.steps:
        for figures in last.get(step.id, []):
            if isinstance(figures, dict):
                t = TableFigures.of(step.id, figures)
                rows.append(
                    TableRow(
                        t.step,
                        t.table,
                        t.ok,
                        t.source_rows,
                        t.target_rows,
                        t.missing,
                        t.extra,
                        t.changed,
                        t.error,
                    )
                )
    return rows


def _traffic(plan: Plan, state: RunState, events: Sequence[Recorded]) -> list[TrafficRow]:
    last: dict[str, list[Any]] = {}
    for recorded in events:
        event = recorded.event
        if isinstance(event, StepSucceeded | StepFailed) and event.step is not None:
            moves = (event.details or {}).get("moves")
            last[event.step] = moves if isinstance(moves, list) else []
    rows = []
    for step in plan.steps:
        if step.kind is not StepKind.traffic:
            continue
        moves = [_move(m) for m in last.get(step.id, []) if isinstance(m, dict)]
        verdicts = [m.verdict for m in moves if m.event == "analysed" and m.verdict]
        ran = state.steps.get(step.id)
        rows.append(
            TrafficRow(
                step=step.id,
                status=ran.status.value if ran else StepStatus.pending.value,
                verdict=verdicts[-1] if verdicts else None,
                moves=moves,
            )
        )
    return rows


def _move(figures: dict[str, Any]) -> TrafficMove:
    def text(name: str) -> str | None:
        value = figures.get(name)
        return None if value is None else str(value)

    share = figures.get("share")
    return TrafficMove(
        event=str(figures.get("event", "")),
        routing=text("routing"),
        share=float(share) if isinstance(share, int | float) else None,
        verdict=text("verdict"),
        decision=text("decision"),
        reason=text("reason"),
    )


def _issues(state: RunState, events: Sequence[Recorded]) -> list[IssueRow]:
    sources = {r.seq: r.event.source for r in events if isinstance(r.event, IssueRaised)}
    rows = []
    for issue in state.issues.values():
        rows.append(
            IssueRow(
                id=issue.id,
                title=issue.title,
                severity=issue.severity,
                by=issue.by,
                source=sources.get(issue.id),
                step=issue.step,
                raised_at=_iso(issue.at) or "",
                resolved_at=_iso(issue.resolved_at),
                resolved_by=issue.resolved_by,
                resolution=issue.resolution,
                time_to_resolution=_seconds(issue.resolved_at, issue.at),
            )
        )
    rows.extend(_incident_issues(state, events))
    return sorted(rows, key=lambda row: row.id)


def _incident_issues(state: RunState, events: Sequence[Recorded]) -> list[IssueRow]:
    """Hypercare's incidents are issue-log entries too (their id is their seq)."""
    opened = {
        r.seq: r
        for r in events
        if isinstance(r.event, IncidentOpened) and r.seq not in state.issues
    }
    resolved = {
        r.event.issue: r
        for r in events
        if isinstance(r.event, IssueResolved) and r.event.issue in opened
    }
    rows = []
    for seq, recorded in opened.items():
        event = recorded.event
        assert isinstance(event, IncidentOpened)
        done = resolved.get(seq)
        rows.append(
            IssueRow(
                id=seq,
                title=event.title,
                severity=event.severity.value,
                by=f"monitor {event.monitor}",
                source="hypercare",
                step=None,
                raised_at=_iso(recorded.at) or "",
                resolved_at=_iso(done.at) if done else None,
                resolved_by=getattr(done.event, "by", None) if done else None,
                resolution=getattr(done.event, "resolution", None) if done else None,
                time_to_resolution=_seconds(done.at, recorded.at) if done else None,
            )
        )
    return rows


def _hypercare(events: Sequence[Recorded]) -> Hypercare:
    started = next((r for r in events if isinstance(r.event, HypercareStarted)), None)
    if started is None:
        return Hypercare(started=False)
    assert isinstance(started.event, HypercareStarted)
    incidents: dict[int, IncidentRow] = {}
    objectives: dict[str, str] = {}
    feedback = 0
    exited = None
    resolved: dict[int, str] = {}
    for recorded in events:
        event = recorded.event
        if isinstance(event, IncidentOpened):
            incidents[recorded.seq] = IncidentRow(
                recorded.seq,
                event.monitor,
                event.title,
                event.severity.value,
                _iso(recorded.at) or "",
                None,
                None,
            )
        elif isinstance(event, IncidentResolved) and event.issue in incidents:
            row = incidents[event.issue]
            incidents[event.issue] = IncidentRow(
                row.id,
                row.monitor,
                row.title,
                row.severity,
                row.opened_at,
                round(event.down_for, 3),
                row.resolved_at,
            )
        elif isinstance(event, IssueResolved):
            resolved[event.issue] = _iso(recorded.at) or ""
        elif isinstance(event, ObjectiveEvaluated):
            objectives[event.objective] = event.verdict
        elif isinstance(event, IssueRaised) and event.source == "feedback":
            feedback += 1
        elif isinstance(event, HypercareExited):
            exited = recorded
    rows = [
        IncidentRow(
            r.id, r.monitor, r.title, r.severity, r.opened_at, r.recovered_after, resolved.get(r.id)
        )
        for r in incidents.values()
    ]
    exit_event = exited.event if exited is not None else None
    return Hypercare(
        started=True,
        started_at=_iso(started.at),
        until=started.event.until,
        monitors=list(started.event.monitors),
        incidents=rows,
        objectives=objectives,
        feedback=feedback,
        exited_at=_iso(exited.at) if exited is not None else None,
        exit_reason=exit_event.reason if isinstance(exit_event, HypercareExited) else None,
        exited_by=exit_event.by if isinstance(exit_event, HypercareExited) else None,
    )


def _history(plan: Plan, state: RunState, rehearsed: Sequence[RunAndState]) -> RehearsalHistory:
    runs = [
        RehearsalRow(
            record.id,
            record.env,
            (s.outcome.value if s.outcome else s.status.value),
            None if forward_duration(s) is None else round(forward_duration(s) or 0.0, 3),
        )
        for record, s in rehearsed
    ]
    durations = [r.duration for r in runs if r.duration is not None and r.outcome == "completed"]
    p50 = _percentile(durations, 50) if durations else None
    p90 = _percentile(durations, 90) if durations else None
    actual = forward_duration(state)
    return RehearsalHistory(len(runs), runs, p50, p90, None if actual is None else round(actual, 3))


def _review(
    summary: Summary,
    steps: list[StepRow],
    gates: list[GateRow],
    issues: list[IssueRow],
    hypercare: Hypercare,
    rollbacks: list[RollbackRow],
    events: Sequence[Recorded],
) -> Review:
    from golive.report.postmortem.facts import facts

    good, better = facts(summary, steps, gates, issues, hypercare, rollbacks)
    went_well = [Entry(text) for text in good]
    could_be_better = [Entry(text) for text in better]
    lessons: list[Entry] = []
    follow_ups: list[FollowUp] = []
    for recorded in events:
        event = recorded.event
        at = _iso(recorded.at)
        if isinstance(event, LessonAdded):
            entry = Entry(event.text, event.by, at)
            {"went_well": went_well, "could_be_better": could_be_better}.get(
                event.kind, lessons
            ).append(entry)
        elif isinstance(event, FollowUpAdded):
            follow_ups.append(FollowUp(event.text, event.owner, event.due, event.by, at))
    return Review(went_well, could_be_better, lessons, follow_ups)
