"""Finding the action for a step kind. Built-ins register through the same entry point group
(`golive.actions`) a third-party package would use; nothing is loaded at import time.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from golive.actions.base import Action
from golive.errors import GoliveError
from golive.plan.models import Plan, StepKind

GROUP = "golive.actions"


@cache
def actions() -> dict[StepKind, Action]:
    """Every installed action, by the step kind it runs."""
    found: dict[StepKind, Action] = {}
    for entry in entry_points(group=GROUP):
        factory = entry.load()
        action: Action = factory()
        found.setdefault(action.kind, action)
    return found


def action_for(kind: StepKind) -> Action:
    try:
        return actions()[kind]
    except KeyError:
        raise GoliveError(f"no action is installed for '{kind}' steps") from None


def unsupported(plan: Plan) -> list[str]:
    """Why each step this golive cannot run can't be run: checked before a run starts."""
    problems = []
    installed = actions()
    for step in plan.steps:
        action = installed.get(step.kind)
        reason = (
            f"'{step.kind}' steps are not supported yet"
            if action is None
            else action.supports(step)
        )
        if reason:
            problems.append(f"{step.id}: {reason}")
    return problems
