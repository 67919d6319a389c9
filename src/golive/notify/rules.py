"""The rule table: from a run's events to the notifications owed, each with a stable id.

A notification's id is `SEQ:RULE:RECIPIENT` (`SEQ:escalation.LEVEL:RECIPIENT` for a level of a
ladder): the event it comes from, the rule, who gets it. The same log gives the same ids in any
process, so the log itself is the outbox: deciding needs no write, and a crash between an event
and its delivery loses nothing (docs/notifications.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from golive.engine.events import (
    Acknowledged,
    GateVoted,
    IncidentOpened,
    IssueRaised,
    IssueResolved,
    Outcome,
    Recorded,
    RollbackFinished,
    RollbackStarted,
    RunFinished,
    RunPaused,
    RunStarted,
    Severity,
    StepFailed,
    StepMarkedDone,
    StepSkipped,
    StepSucceeded,
    StepWaiting,
    UpdatePosted,
)
from golive.plan.models import Escalation, NotificationRule, Plan, StepKind

CHANNEL = "channel:"
HYPERCARE = "hypercare:"
SEVERITIES = {Severity.info: 0, Severity.warning: 1, Severity.critical: 2}

DEFAULT_RULES: dict[NotificationRule, tuple[str, ...]] = {
    NotificationRule.gate_opened: ("concerned",),  # the approvers who have not voted yet
    NotificationRule.step_waiting: ("concerned",),  # the manual step's owner
    NotificationRule.run_paused: ("managers",),
    NotificationRule.rollback_started: ("everyone", "channels"),
    NotificationRule.rollback_finished: ("everyone", "channels"),
    NotificationRule.run_started: ("channels",),
    NotificationRule.run_finished: ("channels",),
    NotificationRule.update_posted: ("channels",),
    NotificationRule.issue_raised: ("concerned", "channels"),  # the owner
    NotificationRule.incident_opened: ("escalation", "channels"),
    NotificationRule.checklist_overdue: ("concerned",),  # the item's owner (checklist.py)
}


@dataclass(frozen=True)
class Notification:
    """One message owed to one recipient (a person id, or `channel:N` of the plan's channels)."""

    id: str
    recipient: str
    due: dt.datetime
    subject: str
    happened: str
    expected: str
    item: str | None = None  # what an Acknowledged stops (an escalation's item)


@dataclass(frozen=True)
class _Moment:
    rule: NotificationRule
    subject: str
    happened: str
    expected: str
    concerned: tuple[str, ...] = ()
    severity: Severity | None = None
    ladder: tuple[Escalation, ...] = ()
    item: str | None = None


def managers(plan: Plan) -> list[str]:
    """`notifications.managers`, or the people whose role names a manager (else everyone)."""
    if plan.notifications.managers:
        return list(plan.notifications.managers)
    named = [pid for pid, p in plan.people.items() if p.role and "manager" in p.role.lower()]
    return named or list(plan.people)


def channel_ids(plan: Plan, *, hypercare: bool = False) -> list[str]:
    """The recipient ids of the stakeholder channels (`channel:N`); for hypercare's incidents,
    hypercare's own channels (`hypercare:N`) if it has any."""
    if hypercare and plan.hypercare and plan.hypercare.channels:
        return [f"{HYPERCARE}{i}" for i in range(len(plan.hypercare.channels))]
    return [f"{CHANNEL}{i}" for i in range(len(plan.channels))]


def channel_url(plan: Plan, recipient: str) -> str | None:
    """The (templated) URL of a channel recipient id, None if there is no such channel."""
    for prefix, urls in (
        (CHANNEL, plan.channels),
        (HYPERCARE, plan.hypercare.channels if plan.hypercare else []),
    ):
        if recipient.startswith(prefix):
            index = int(recipient.removeprefix(prefix))
            return urls[index] if index < len(urls) else None
    return None


def is_channel(recipient: str) -> bool:
    return recipient.startswith((CHANNEL, HYPERCARE))


def decide(plan: Plan, events: Sequence[Recorded], *, now: dt.datetime) -> list[Notification]:
    """Every notification the run's events call for by `now`, in order (escalation levels fall
    due with time; an acknowledged item climbs no further)."""
    settled = _settled_items(events)
    owed: list[Notification] = []
    for recorded in events:
        moment = _moment(plan, recorded, events)
        if moment is None or moment.rule in plan.notifications.mute:
            continue
        owed.extend(_notifications(plan, recorded, moment, now=now, settled=settled))
    unique = {n.id: n for n in reversed(owed)}  # a rule may name the ladder twice: once each
    return [n for n in owed if unique.pop(n.id, None) is not None]


def _notifications(
    plan: Plan,
    recorded: Recorded,
    moment: _Moment,
    *,
    now: dt.datetime,
    settled: dict[str, list[int]],
) -> Iterable[Notification]:
    seen: set[str] = set()
    muted = set(plan.notifications.mute)
    for audience in plan.notifications.rules.get(moment.rule, DEFAULT_RULES[moment.rule]):
        if audience == "escalation":
            yield from _ladder(plan, recorded, moment, now=now, settled=settled, muted=muted)
            continue
        for recipient in _audience(plan, audience, moment):
            if recipient in seen or recipient in muted:
                continue
            if is_channel(recipient) and "channels" in muted:
                continue
            seen.add(recipient)
            yield _notification(recorded, moment, f"{moment.rule}", recipient, recorded.at)
    if moment.item is not None and moment.rule in (
        NotificationRule.gate_opened,
        NotificationRule.step_waiting,
    ):
        yield from _ladder(plan, recorded, moment, now=now, settled=settled, muted=muted)


def _ladder(
    plan: Plan,
    recorded: Recorded,
    moment: _Moment,
    *,
    now: dt.datetime,
    settled: dict[str, list[int]],
    muted: set[str],
) -> Iterable[Notification]:
    stops = settled.get(moment.item or "", [])
    for level, step in enumerate(moment.ladder):
        due = recorded.at + step.after
        if due > now or any(seq > recorded.seq for seq in stops):
            return  # not yet, or someone acknowledged: the ladder stops here
        for person in step.notify:
            if person not in muted:
                yield _notification(recorded, moment, f"escalation.{level}", person, due)


def _notification(
    recorded: Recorded, moment: _Moment, rule: str, recipient: str, due: dt.datetime
) -> Notification:
    return Notification(
        id=f"{recorded.seq}:{rule}:{recipient}",
        recipient=recipient,
        due=due,
        subject=moment.subject,
        happened=moment.happened,
        expected=moment.expected if not is_channel(recipient) else "",
        item=moment.item,
    )


def recipients(plan: Plan, rule: NotificationRule, *, concerned: Sequence[str]) -> list[str]:
    """Who gets a notification of `rule` (its row of `notifications.rules`, else the default),
    muted people and channels left out; `concerned` are the people it is about."""
    moment = _Moment(rule, "", "", "", concerned=tuple(concerned))
    muted = set(plan.notifications.mute)
    found: list[str] = []
    for audience in plan.notifications.rules.get(rule, DEFAULT_RULES[rule]):
        for recipient in _audience(plan, audience, moment):
            if recipient in found or recipient in muted:
                continue
            if is_channel(recipient) and "channels" in muted:
                continue
            found.append(recipient)
    return found


def _audience(plan: Plan, audience: str, moment: _Moment) -> list[str]:
    if audience == "channels":
        if (
            moment.severity is not None
            and SEVERITIES[moment.severity] < SEVERITIES[Severity(plan.notifications.severity)]
        ):
            return []
        return channel_ids(plan, hypercare=moment.rule is NotificationRule.incident_opened)
    if audience == "everyone":
        return list(plan.people)
    if audience == "managers":
        return managers(plan)
    if audience == "concerned":
        return [p for p in moment.concerned if p in plan.people]
    return [audience] if audience in plan.people else []


def _settled_items(events: Sequence[Recorded]) -> dict[str, list[int]]:
    """Item -> the seqs at which someone took it on (an ack, a vote, the step done, resolved)."""
    settled: dict[str, list[int]] = {}
    for recorded in events:
        event, item = recorded.event, None
        if isinstance(event, Acknowledged):
            item = event.item
        elif isinstance(event, IssueResolved):
            item = str(event.issue)
        elif isinstance(
            event, GateVoted | StepMarkedDone | StepSucceeded | StepSkipped | StepFailed
        ):
            item = event.step
        if item is not None:
            settled.setdefault(item, []).append(recorded.seq)
    return settled


def _moment(plan: Plan, recorded: Recorded, events: Sequence[Recorded]) -> _Moment | None:
    event = recorded.event
    title = plan.title
    if isinstance(event, StepWaiting) and event.step is not None:
        return _waiting(plan, event)
    if isinstance(event, RunPaused):
        return _Moment(
            NotificationRule.run_paused,
            f"{title}: the run paused",
            f"The run paused: {event.reason}.",
            "Decide what happens next: retry, skip, roll back or abort.",
        )
    if isinstance(event, RollbackStarted):
        return _Moment(
            NotificationRule.rollback_started,
            f"{title}: ROLLBACK started",
            f"{event.by} started a rollback: {event.reason}.",
            "Stand by; follow the rollback on the run page.",
        )
    if isinstance(event, RollbackFinished):
        word = "complete" if event.complete else "INCOMPLETE"
        return _Moment(
            NotificationRule.rollback_finished,
            f"{title}: rollback {word}",
            f"The rollback finished ({word}) in {event.duration:.0f}s.",
            "Check your systems" + ("." if event.complete else "; some undo steps failed."),
        )
    if isinstance(event, RunStarted):
        kind = "rehearsal" if event.rehearsal else "go-live"
        return _Moment(
            NotificationRule.run_started,
            f"{title}: the {kind} started",
            f"{event.started_by} started the {kind} against {event.env}"
            + (f", release {event.release}." if event.release else "."),
            "",
        )
    if isinstance(event, RunFinished):
        words = {
            Outcome.completed: "completed",
            Outcome.failed: "failed",
            Outcome.rolled_back: "was rolled back",
            Outcome.aborted: "was aborted",
        }
        return _Moment(
            NotificationRule.run_finished,
            f"{title}: the run {words[event.outcome]}",
            f"The run {words[event.outcome]} after {event.duration:.0f}s.",
            "",
        )
    if isinstance(event, UpdatePosted):
        return _Moment(
            NotificationRule.update_posted,
            f"{title}: {event.severity} update",
            f"[{event.severity}] {event.by}: {event.text}",
            "",
            severity=event.severity,
        )
    if isinstance(event, IssueRaised):
        return _Moment(
            NotificationRule.issue_raised,
            f"{title}: issue {recorded.seq} ({event.severity})",
            f"{event.by} raised issue {recorded.seq} ({event.severity}): {event.title}",
            f"You own it: acknowledge with `golive ack {{run}} {recorded.seq} --as YOU`.",
            concerned=(event.owner,) if event.owner else (),
            severity=event.severity,
        )
    if isinstance(event, IncidentOpened):
        ladder = tuple(plan.hypercare.escalation) if plan.hypercare else ()
        return _Moment(
            NotificationRule.incident_opened,
            f"{title}: INCIDENT {recorded.seq} ({event.severity}): {event.title}",
            f"Monitor {event.monitor} failed: {event.detail}",
            f"Acknowledge it (run page, API, or `golive ack {{run}} {recorded.seq} --as YOU`); "
            "until someone does, the escalation ladder climbs.",
            severity=event.severity,
            ladder=ladder,
            item=str(recorded.seq),
        )
    return None


def _waiting(plan: Plan, event: StepWaiting) -> _Moment:
    step_id = event.step or ""
    try:
        step = plan.step(step_id)
    except KeyError:
        step = None
    label = step.label if step is not None else step_id
    if step is not None and step.kind is StepKind.gate:
        return _Moment(
            NotificationRule.gate_opened,
            f"{plan.title}: Go/No-Go {label} waits for your vote",
            f"The gate {label} opened: {event.what}.",
            f"Vote go or no-go: `golive gate {{run}} {step_id} go --as YOU`, or on the run page.",
            concerned=tuple(event.who),
            ladder=tuple(plan.escalation),
            item=step_id,
        )
    return _Moment(
        NotificationRule.step_waiting,
        f"{plan.title}: step {label} waits for you",
        f"The manual step {label} waits: {event.what}.",
        f"Do it, then mark it done: `golive done {{run}} {step_id} --as YOU`, or on the run page.",
        concerned=tuple(event.who),
        ladder=tuple(plan.escalation),
        item=step_id,
    )
