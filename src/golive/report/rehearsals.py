"""Which rehearsals count for the plan as it stands now, step by step.

A step's digest is a hash of its definition as written (`golive.plan.digest`). Each run's
`RunStarted` records the digests of the plan it ran; for a run logged before golive recorded
them, they are derived from the plan text the event keeps. A rehearsal counts for a
step only if it ran that step as it is defined now: after a change, only the changed (and
added) steps need rehearsing again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from golive.engine.state import RunState, StepStatus
from golive.errors import PlanError
from golive.plan import parse_plan_text
from golive.plan.digest import step_digests
from golive.plan.models import Plan, StepKind
from golive.report.history import RunAndState, completed, completed_with_exceptions, short_id

Digests = dict[str, str]  # step id -> digest


def run_digests(state: RunState, *, display: str, cache: dict[str, Digests]) -> Digests:
    """The digests of the plan a run started with: as its RunStarted recorded them, else
    (older logs) from the plan text it kept; none if that cannot be read any more (each of its
    steps then counts as changed). `cache` is by plan text: most runs share a plan."""
    if state.step_digests:
        return state.step_digests
    found = cache.get(state.plan_text)
    if found is None:
        try:
            found = step_digests(parse_plan_text(state.plan_text, display=display))
        except PlanError:
            found = {}
        cache[state.plan_text] = found
    return found


@dataclass(frozen=True)
class Changes:
    """The steps of the plan now against those of the last counted rehearsal."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def to_rehearse(self) -> list[str]:
        return [*self.changed, *self.added]

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def to_json(self) -> dict[str, list[str]]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed}


@dataclass(frozen=True)
class Rehearsed:
    """What the rehearsals prove about the plan as it stands."""

    completed: int  # rehearsals in which every step succeeded
    with_exceptions: list[str]  # runs that reached their end past a skipped step: `id: steps`
    per_step: dict[str, int]  # step -> completed rehearsals that ran its current definition
    changes: Changes  # since the last completed rehearsal
    verify_steps: list[str]
    verify_passes: int  # rehearsals in which every verify step, as defined now, passed

    @property
    def current(self) -> int:
        """Completed rehearsals of the plan as it stands: the least any of its steps had."""
        return min(self.per_step.values(), default=self.completed)

    def behind(self, needed: int) -> list[str]:
        """The steps rehearsed, as they stand, fewer than `needed` times."""
        return [step for step, count in self.per_step.items() if count < needed]


def rehearsed(plan: Plan, tried: Sequence[RunAndState]) -> Rehearsed:
    """Count `tried` (rehearsal runs, oldest first) for `plan` as it stands now."""
    now = step_digests(plan)
    cache: dict[str, Digests] = {}
    per_step = dict.fromkeys(now, 0)
    verify_steps = [s.id for s in plan.steps if s.kind is StepKind.verify]
    passes, done, last = 0, 0, None
    exceptional: list[str] = []
    for record, state in tried:
        ran = run_digests(state, display=record.plan_path, cache=cache)
        if verify_steps and all(_passed(state, ran, now, s) for s in verify_steps):
            passes += 1
        if completed_with_exceptions(state):
            skipped = [s.id for s in state.steps.values() if s.status is StepStatus.skipped]
            exceptional.append(f"{short_id(record.id)}: {', '.join(skipped)} skipped")
        if not completed(state):
            continue
        done, last = done + 1, ran
        for step_id, digest in now.items():
            if ran.get(step_id) == digest and step_id in state.steps:
                per_step[step_id] += 1
    return Rehearsed(
        completed=done,
        with_exceptions=exceptional,
        per_step=per_step,
        changes=_changes(now, last),
        verify_steps=verify_steps,
        verify_passes=passes,
    )


def _passed(state: RunState, ran: Digests, now: Digests, step_id: str) -> bool:
    step = state.steps.get(step_id)
    return (
        step is not None
        and step.status is StepStatus.succeeded
        and step.marked_by is None  # a person's word is not an integrity check
        and ran.get(step_id) == now.get(step_id)
    )


def _changes(now: Digests, last: Digests | None) -> Changes:
    if last is None:
        return Changes()
    return Changes(
        added=[s for s in now if s not in last],
        changed=[s for s in now if s in last and last[s] != now[s]],
        removed=[s for s in last if s not in now],
    )
