"""Go/No-Go gates: when the votes cast so far decide a gate.

A gate opens when its `needs` are done; its automatic checks run first; then it waits for its
approvers. Any no-go decides at once (no-go); otherwise it is a go as soon as the number of
go votes reaches the quorum (`all`: every approver). An approver may change their vote while
the gate is open: the latest vote counts. Every vote is a `GateVoted` event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from golive.engine.events import Vote

if TYPE_CHECKING:
    from golive.plan.models import Step


@dataclass(frozen=True)
class Ballot:
    vote: Vote
    comment: str | None


@dataclass(frozen=True)
class Verdict:
    """Where a gate stands: decided or not, and if so which way and why."""

    decided: bool
    go: bool
    reason: str
    waiting_for: tuple[str, ...] = ()


def verdict(gate: Step, ballots: Mapping[str, Ballot]) -> Verdict:
    """The gate's verdict from the latest ballot of each approver (others' ballots ignored)."""
    counted = {who: b for who, b in ballots.items() if who in gate.approvers}
    against = [(who, b) for who, b in counted.items() if b.vote is Vote.no_go]
    if against:
        who, ballot = against[0]
        because = f": {ballot.comment}" if ballot.comment else ""
        return Verdict(True, False, f"no-go from {who}{because}")
    ayes = sorted(who for who, b in counted.items() if b.vote is Vote.go)
    needed = gate.quorum_of()
    if len(ayes) >= needed:
        return Verdict(True, True, f"go from {', '.join(ayes)}" if ayes else "no approval needed")
    waiting = tuple(a for a in gate.approvers if a not in counted)
    return Verdict(False, False, f"{len(ayes)} of {needed} go votes", waiting)
