"""`step:` checks: a step of the same run has succeeded (a gate's `checks: [verify-data]`)."""

from __future__ import annotations

from collections.abc import Callable

from golive.checks.outcome import CheckOutcome
from golive.plan.models import StepCheck


def check_step(check: StepCheck, *, step_state: Callable[[str], str | None] | None) -> CheckOutcome:
    """Pass when the step has succeeded in this run; `step_state` gives a step's status."""
    if step_state is None:
        return CheckOutcome(False, f"step {check.step}: this check needs a run to look at")
    status = step_state(check.step)
    details = {"step": check.step, "status": status}
    if status is None:
        return CheckOutcome(False, f"no step {check.step} in this run", details)
    if status == "succeeded":
        return CheckOutcome(True, f"step {check.step} succeeded", details)
    return CheckOutcome(False, f"step {check.step} has not succeeded (it is {status})", details)
