"""The step interface every action kind implements, local or remote, built-in or third-party.

An action is told what to do through a `StepContext` (the rendered step, where to report
output, how long it may take) and answers with one `Result` shape: ok, exit code, output tail,
duration, error, and for a fan-out a per-host map. The engine records the events around it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from golive.plan.models import Plan, Step, StepKind


@dataclass(frozen=True)
class Result:
    """How an action (or one host of it) ended."""

    ok: bool
    duration: float = 0.0
    exit_code: int | None = None
    output: str = ""
    error: str | None = None
    hosts: Mapping[str, Result] = field(default_factory=dict)

    @classmethod
    def failure(cls, error: str, *, duration: float = 0.0, exit_code: int | None = None) -> Result:
        return cls(ok=False, duration=duration, exit_code=exit_code, error=error)


@dataclass(frozen=True)
class StepContext:
    """What an action may know and do while it runs one attempt of one step."""

    run_id: str
    plan: Plan
    step: Step
    attempt: int
    env_name: str
    workdir: Path
    environ: Mapping[str, str]
    timeout: float | None
    render: Callable[[str], str]
    redact: Callable[[str], str]
    output: Callable[[str, str], None]  # (stream, line) -> recorded as StepOutput
    wait_for_person: Callable[[list[str], str], Awaitable[None]]
    monotonic: Callable[[], float]


class Action(Protocol):
    """One step kind: `run` does the step, `undo` reverts it (None when there is nothing to do)."""

    kind: ClassVar[StepKind]

    def supports(self, step: Step) -> str | None:
        """None if this action can run `step`, else why not (shown before the run starts)."""
        ...

    async def run(self, ctx: StepContext) -> Result: ...

    async def undo(self, ctx: StepContext) -> Result | None: ...
