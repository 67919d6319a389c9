"""Finding the action for a step. Built-ins register through the same entry point group
(`golive.actions`) a third-party package would use; nothing is loaded at import time.

Several actions may serve one step kind (a local `run` and a `run` with `on: GROUP` over SSH):
the first whose `supports(step)` says yes takes the step.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from golive.actions.base import Action
from golive.errors import GoliveError
from golive.plan.models import Plan, Step, StepKind

GROUP = "golive.actions"


@cache
def _installed() -> tuple[dict[StepKind, tuple[Action, ...]], dict[str, str]]:
    found: dict[StepKind, list[Action]] = {}
    broken: dict[str, str] = {}
    points = sorted(
        entry_points(group=GROUP), key=lambda e: (not e.value.startswith("golive."), e.name)
    )
    for entry in points:
        try:
            action: Action = entry.load()()
        except Exception as exc:  # a broken plugin must not take every other step kind down
            broken[entry.name] = f"{entry.value} cannot be loaded ({type(exc).__name__}: {exc})"
            continue
        found.setdefault(action.kind, []).append(action)
    return {kind: tuple(candidates) for kind, candidates in found.items()}, broken


def actions() -> dict[StepKind, tuple[Action, ...]]:
    """Every installed action, by the step kind it runs, built-ins first."""
    return _installed()[0]


def broken_plugins() -> dict[str, str]:
    """Entry points of the `golive.actions` group that failed to load, and why."""
    return _installed()[1]


def why_not(step: Step) -> str | None:
    """None if an installed action can run `step`, else why none can."""
    candidates = actions().get(step.kind, ())
    if not candidates:
        broken = broken_plugins().get(step.kind.value)
        if broken:
            return f"the action for '{step.kind}' steps is installed but broken: {broken}"
        return f"'{step.kind}' steps are not supported yet"
    reasons = [action.supports(step) for action in candidates]
    if any(reason is None for reason in reasons):
        return None
    return "; ".join(r for r in reasons if r)


def action_for(step: Step) -> Action:
    for action in actions().get(step.kind, ()):
        if action.supports(step) is None:
            return action
    raise GoliveError(f"step {step.id}: {why_not(step)}")


def unsupported(plan: Plan) -> list[str]:
    """Why each step this golive cannot run can't be run: checked before a run starts."""
    return [f"{step.id}: {reason}" for step in plan.steps if (reason := why_not(step))]
