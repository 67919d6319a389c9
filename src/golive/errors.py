"""Every error golive raises on purpose, grouped by what the user does next.

    GoliveError                 anything golive reports to the user (exit code 1)
     +-- PlanError              the plan file is broken: fix the file (carries diagnostics)
     +-- UsageError             a command was called wrongly: fix the command line (exit 2)
     +-- StoreError             the state store cannot be used: check --state / GOLIVE_STATE
     +-- RunNotFound            no such run in the store: list runs with `golive status`
     +-- SecretError            a secret could not be read: set the variable or file it names
     +-- DecisionRejected       an operator decision does not fit the run's state now
     |    +-- LeaseHeld         another engine drives the run: decide from here, or wait
     +-- LeaseLost              this engine's lease on its run is gone: it stops, see who drives
     +-- StepFailed             a step failed: investigate, retry, skip or roll back

Anything else that escapes is a bug in golive: the CLI prints it with a request to report it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from golive.plan.diagnostics import Diagnostic


class GoliveError(Exception):
    """The root of golive's errors: the message says what happened and what to do next."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class PlanError(GoliveError):
    """The plan file is broken; `diagnostics` holds every problem found, errors first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        first = diagnostics[0].format() if diagnostics else "the plan is invalid"
        more = len(diagnostics) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''}: run `golive check`)"
        super().__init__(first + (tail if more > 0 else ""))


class UsageError(GoliveError):
    """A command was called with arguments that cannot work."""

    exit_code = 2


class StoreError(GoliveError):
    """The state store cannot be opened, migrated or written."""


class RunNotFound(GoliveError):
    """A run id (or "the latest run") that the store does not have."""


class SecretError(GoliveError):
    """A secret named by the plan could not be read from its source."""


class DecisionRejected(GoliveError):
    """An operator decision that does not apply to the run as it stands."""


class LeaseHeld(DecisionRejected):
    """Another engine holds the run's lease; `lease` is that engine's (a store Lease)."""

    def __init__(self, message: str, *, lease: Any) -> None:
        super().__init__(message)
        self.lease = lease


class LeaseLost(GoliveError):
    """An engine's lease expired or was taken over: the engine must stop acting on the run."""


class StepFailed(GoliveError):
    """A step ended in failure; `result` is the last attempt's outcome."""

    def __init__(self, message: str, *, step: str, result: Any = None) -> None:
        super().__init__(message)
        self.step = step
        self.result = result
