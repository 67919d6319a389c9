"""The facts that pre-fill the review: what suggests something went well or could be better."""

from __future__ import annotations

from typing import TYPE_CHECKING

from golive.plan.values import format_duration

if TYPE_CHECKING:
    from golive.report.postmortem.document import (
        GateRow,
        Hypercare,
        IssueRow,
        RollbackRow,
        StepRow,
        Summary,
    )

LATE_VOTE = 600.0  # seconds from a gate opening to its decision that make a vote late


def facts(
    summary: Summary,
    steps: list[StepRow],
    gates: list[GateRow],
    issues: list[IssueRow],
    hypercare: Hypercare,
    rollbacks: list[RollbackRow],
) -> tuple[list[str], list[str]]:
    """(went well, could be better), each a list of one-line facts."""
    good: list[str] = []
    better: list[str] = []
    if summary.outcome == "completed":
        good.append(f"The run completed in {format_duration(summary.duration)}.")
    else:
        better.append(f"The run ended {summary.outcome.replace('_', ' ')}.")
    if summary.within_window is True:
        good.append("It stayed inside the planned window.")
    elif summary.within_window is False:
        better.append("It did not stay inside the planned window.")
    estimated = [s for s in steps if s.over_by is not None]
    on_time = [s for s in estimated if s.over_by is not None and s.over_by <= 0]
    if estimated and len(on_time) == len(estimated):
        good.append(f"All {len(estimated)} estimated steps finished within their estimate.")
    elif on_time:
        good.append(f"{len(on_time)} of {len(estimated)} estimated steps finished on time.")
    for step in steps:
        if step.overran and step.over_by is not None and step.estimate is not None:
            better.append(
                f"Step {step.id} took {format_duration(step.duration)}, "
                f"{format_duration(step.over_by)} over its estimate of "
                f"{format_duration(step.estimate)}."
            )
    for step in steps:
        if step.attempts > 1:
            better.append(f"Step {step.id} needed {step.attempts} attempts.")
    for gate in gates:
        if gate.decision_time is not None and gate.decision_time > LATE_VOTE:
            better.append(f"Gate {gate.step} took {format_duration(gate.decision_time)} to decide.")
        elif gate.decision_time is not None and gate.votes:
            good.append(
                f"Gate {gate.step} was decided in {format_duration(gate.decision_time)} "
                f"by {len(gate.votes)} vote(s)."
            )
    for issue in issues:
        if issue.time_to_resolution is None:
            better.append(f"Issue #{issue.id} ({issue.title}) is still open.")
        else:
            good.append(
                f"Issue #{issue.id} ({issue.title}) was resolved in "
                f"{format_duration(issue.time_to_resolution)}."
            )
    for rollback in rollbacks:
        if rollback.within is False:
            better.append(
                f"The rollback took {format_duration(rollback.duration)}, longer than the "
                f"{format_duration(rollback.rollback_within)} the policy allows."
            )
    if hypercare.started:
        if hypercare.incidents:
            better.append(f"Hypercare had {len(hypercare.incidents)} incident(s).")
        else:
            good.append("Hypercare had no incidents.")
        missed = [name for name, verdict in hypercare.objectives.items() if verdict == "not_met"]
        if missed:
            better.append(f"Objectives not met: {', '.join(missed)}.")
    return good, better
