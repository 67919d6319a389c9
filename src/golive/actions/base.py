"""The step interface every action kind implements, local or remote, built-in or third-party.

An action is told what to do through a `StepContext` (the rendered step, where to report
output, how long it may take) and answers with one `Result` shape: ok, exit code, output tail,
duration, error, and for a fan-out a per-host map. The engine records the events around it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from golive.engine.gates import Verdict
from golive.plan.models import Plan, Step, StepKind

T = TypeVar("T")


@dataclass(frozen=True)
class Result:
    """How an action (or one host of it) ended."""

    ok: bool
    duration: float = 0.0
    exit_code: int | None = None
    output: str = ""
    error: str | None = None
    hosts: Mapping[str, Result] = field(default_factory=dict)
    details: dict[str, Any] | None = None  # figures for the record (JSON), e.g. a verification's

    @classmethod
    def failure(cls, error: str, *, duration: float = 0.0, exit_code: int | None = None) -> Result:
        return cls(ok=False, duration=duration, exit_code=exit_code, error=error)

    def host_summary(self) -> dict[str, dict[str, Any]] | None:
        """The per-host outcome as the event log keeps it (None for a single local action)."""
        if not self.hosts:
            return None
        return {
            host: {
                "ok": r.ok,
                "exit_code": r.exit_code,
                "duration": round(r.duration, 6),
                "error": r.error,
                # whether the command reached the host (an unreachable host has nothing to undo)
                "touched": r.ok or r.exit_code is not None,
            }
            for host, r in self.hosts.items()
        }


class OutputSink(Protocol):
    """Where an action sends each line of output; `host` names the host of a fan-out."""

    def __call__(self, stream: str, line: str, /, *, host: str | None = None) -> None: ...


class ProcessSink(Protocol):
    """Told of each process an action starts for its command: `host` for a remote one (None:
    this machine), `started` its start time in clock ticks after boot if the action knows it.
    The engine records it, so that a later engine finds the command if this one dies."""

    def __call__(
        self, pid: int, /, *, host: str | None = None, started: int | None = None
    ) -> None: ...


def _unrecorded(pid: int, /, *, host: str | None = None, started: int | None = None) -> None:
    return None


class RunResources:
    """What actions keep for the length of a run (SSH connections, HTTP clients, database
    engines), created on first use and closed by the engine when the run ends."""

    def __init__(self) -> None:
        self._items: dict[str, object] = {}

    def get(self, key: str, factory: Callable[[], T]) -> T:
        if key not in self._items:
            self._items[key] = factory()
        item: T = self._items[key]  # type: ignore[assignment]
        return item

    async def aclose(self) -> None:
        items, self._items = list(self._items.values()), {}
        for item in reversed(items):
            close = getattr(item, "aclose", None) or getattr(item, "close", None)
            if close is not None:
                outcome = close()
                if inspect.isawaitable(outcome):
                    await outcome


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
    output: OutputSink  # (stream, line, host=None) -> recorded as StepOutput
    wait_for_person: Callable[[list[str], str], Awaitable[None]]
    monotonic: Callable[[], float]
    resources: RunResources = field(default_factory=RunResources)
    hosts: tuple[str, ...] = ()  # the hosts of `step.on` in this environment
    changed_hosts: tuple[str, ...] | None = None  # for undo: the hosts the step touched
    wait_for_votes: Callable[[], Awaitable[Verdict]] | None = None  # gates: until decided
    step_status: Callable[[str], str | None] = lambda _step: None  # another step's status
    process_started: ProcessSink = _unrecorded  # each process started for the command
    recorded: Mapping[str, Any] | None = None  # the details of the step's latest attempt


class Action(Protocol):
    """One step kind: `run` does the step, `undo` reverts it (None when there is nothing to do)."""

    kind: ClassVar[StepKind]

    def supports(self, step: Step) -> str | None:
        """None if this action can run `step`, else why not (shown before the run starts)."""
        ...

    async def run(self, ctx: StepContext) -> Result: ...

    async def undo(self, ctx: StepContext) -> Result | None: ...
