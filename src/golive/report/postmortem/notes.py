"""What people add to a post-mortem: lessons and follow-ups, appended as events so that the
review is part of the record."""

from __future__ import annotations

import datetime as dt

from golive.engine.events import Event, FollowUpAdded, LessonAdded, encode
from golive.errors import UsageError
from golive.plan.models import Plan
from golive.report.postmortem.model import LESSON_KINDS
from golive.store import EventRecord, EventStore, RunRecord

MAX_TEXT = 2000


def _text(value: str, *, what: str) -> str:
    text = value.strip()
    if not text:
        raise UsageError(f"{what} is empty: write something")
    if len(text) > MAX_TEXT:
        raise UsageError(f"{what} has {len(text)} characters; at most {MAX_TEXT}")
    return text


def _person(plan: Plan, who: str, *, what: str) -> str:
    if who not in plan.people:
        known = ", ".join(plan.people) or "nobody: add people: to the plan"
        raise UsageError(f"{what} {who}: not a person of this plan (known: {known})")
    return who


def _append(store: EventStore, run_id: str, event: Event) -> EventRecord:
    type_name, step, data = encode(event)
    return store.append(run_id, type_name, step=step, data=data)


def add_lesson(
    store: EventStore, run: RunRecord, plan: Plan, *, text: str, kind: str, by: str
) -> EventRecord:
    """Add a line to the review: went_well, could_be_better or lesson."""
    if kind not in LESSON_KINDS:
        raise UsageError(f"kind {kind!r} is not one of {', '.join(LESSON_KINDS)}")
    lesson = LessonAdded(
        text=_text(text, what="the lesson"), by=_person(plan, by, what="--as"), kind=kind
    )
    return _append(store, run.id, lesson)


def add_follow_up(
    store: EventStore,
    run: RunRecord,
    plan: Plan,
    *,
    text: str,
    owner: str,
    due: str | None,
    by: str,
) -> EventRecord:
    """Add a follow-up action with its owner (a person of the plan) and due date (YYYY-MM-DD)."""
    if due is not None and due.strip():
        try:
            due = dt.date.fromisoformat(due.strip()).isoformat()
        except ValueError:
            raise UsageError(f"due date {due!r} is not a date: write it as YYYY-MM-DD") from None
    else:
        due = None
    follow_up = FollowUpAdded(
        text=_text(text, what="the follow-up"),
        owner=_person(plan, owner, what="owner"),
        due=due,
        by=_person(plan, by, what="--as"),
    )
    return _append(store, run.id, follow_up)
