"""The checklist before the go-live: each item's state from its marks, and its verification.

Marks are append-only rows in the store (done, open, verified, failed); an item's state is its
latest mark. An item is overdue when it is not done and its due time (in the plan's timezone)
has passed. Anyone of the plan's people may mark an item, and a mark by someone other than its
owner is shown as made for the owner (`bob for alice`), unless `policy.checklist_marks:
owner_only` refuses it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from golive.actions.base import RunResources
from golive.engine.context import RunContext
from golive.plan.models import ChecklistItem, ChecklistMarks, Plan
from golive.store import ChecklistMark

VERIFIER = "golive"


class ItemState(StrEnum):
    done = "done"
    overdue = "overdue"
    pending = "pending"
    failed = "failed"  # its automatic verification failed (and it is not overdue yet)


class MarkState(StrEnum):
    done = "done"
    open = "open"
    verified = "verified"
    failed = "failed"


@dataclass(frozen=True)
class ItemStatus:
    item: ChecklistItem
    state: ItemState
    last: ChecklistMark | None

    @property
    def done(self) -> bool:
        return self.state is ItemState.done

    @property
    def marked_for(self) -> str | None:
        """`bob for alice` when the latest mark was made by someone other than the owner;
        None when the owner made it, golive verified it, or the item has no owner."""
        mark, owner = self.last, self.item.owner
        if mark is None or owner is None or mark.by in (owner, VERIFIER):
            return None
        return f"{mark.by} for {owner}"


def mark_refusal(plan: Plan, item: ChecklistItem, by: str) -> str | None:
    """Why `by` may not mark `item` (`policy.checklist_marks: owner_only`), or None if they may."""
    if plan.policy.checklist_marks is not ChecklistMarks.owner_only or by == item.owner:
        return None
    owner = item.owner or "nobody (give it an owner: in the plan)"
    return (
        f"checklist item '{item.id}' is marked by its owner only (policy.checklist_marks: "
        f"owner_only): ask {owner} to mark it"
    )


def statuses(plan: Plan, marks: Sequence[ChecklistMark], *, now: dt.datetime) -> list[ItemStatus]:
    """Every item of the plan's checklist with its state now, in the plan's order."""
    latest: dict[str, ChecklistMark] = {m.item: m for m in marks}
    local_now = now.astimezone(plan.zone).replace(tzinfo=None)
    result = []
    for item in plan.checklist:
        mark = latest.get(item.id)
        done = mark is not None and mark.state in (MarkState.done, MarkState.verified)
        if done:
            state = ItemState.done
        elif item.due is not None and local_now > item.due.end:
            state = ItemState.overdue
        elif mark is not None and mark.state == MarkState.failed:
            state = ItemState.failed
        else:
            state = ItemState.pending
        result.append(ItemStatus(item, state, mark))
    return result


async def verify(
    plan: Plan, items: Sequence[ChecklistItem], *, context: RunContext
) -> list[tuple[ChecklistItem, bool, str]]:
    """Run the automatic verification of each item that has one: (item, ok, summary)."""
    from golive.checks import evaluate

    resources = RunResources()
    results = []
    try:
        for item in items:
            if item.verify is None:
                continue
            outcome = await evaluate(
                item.verify,
                render=context.render,
                redact=context.redact,
                resources=resources,
                workdir=context.workdir,
                environ=context.base_environ,
                step_state=None,
            )
            results.append((item, outcome.ok, context.redact(outcome.summary)))
    finally:
        await resources.aclose()
    return results
