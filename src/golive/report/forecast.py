"""How long the production run will take, predicted from the rehearsals.

Each step's successful durations in rehearsal runs are its samples. A Monte Carlo run over the
step graph draws every step's duration from its samples (a smoothed bootstrap: a sample picked
at random, then jittered multiplicatively, so that three rehearsals do not mean only three
possible futures), lets each step start when the last of its needs finishes, and records when
the run ends and which chain of steps made it end then. The finish times' P50 and P90, and the
most frequent critical path, are the forecast.

Steps that never succeeded in a rehearsal fall back to the plan's `estimate`, drawn with a wider
jitter; a step with neither counts as 0 and is flagged. Parallelism is assumed unlimited
(`--max-parallel` is not modelled).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from golive.engine.state import StepStatus
from golive.plan.graph import StepGraph
from golive.plan.models import Plan
from golive.plan.values import format_duration
from golive.report.history import RunAndState, rehearsals

DEFAULT_ITERATIONS = 10_000
MIN_SAMPLES = 3  # below this many rehearsed durations a step's forecast is weak
# Jitter: the standard deviation of the log of the multiplier applied to a drawn duration.
MIN_SPREAD = 0.05  # at least ±5%: identical rehearsals do not promise an identical go-live
ONE_SAMPLE_SPREAD = 0.15
ESTIMATE_SPREAD = 0.25  # an estimate is a guess
SHORTEST = 0.001  # seconds; durations are jittered in log space, where 0 does not exist

if TYPE_CHECKING:  # numpy is imported where it is used: every golive command imports this module
    import numpy as np
    import numpy.typing as npt

    Floats = npt.NDArray[np.float64]


class Basis(StrEnum):
    """Where a step's forecast comes from."""

    rehearsed = "rehearsed"  # at least MIN_SAMPLES rehearsed durations
    weak = "weak"  # fewer rehearsed durations
    estimate = "estimate"  # never rehearsed: the plan's estimate
    unknown = "unknown"  # neither rehearsed nor estimated: counted as 0


@dataclass(frozen=True)
class StepForecast:
    """One step: its rehearsed durations (seconds) and their P50 and P90."""

    step: str
    samples: tuple[float, ...]
    estimate: float | None
    p50: float
    p90: float

    @property
    def basis(self) -> Basis:
        if len(self.samples) >= MIN_SAMPLES:
            return Basis.rehearsed
        if self.samples:
            return Basis.weak
        return Basis.estimate if self.estimate is not None else Basis.unknown


@dataclass(frozen=True)
class Forecast:
    """The predicted production run, in seconds."""

    plan_id: str
    rehearsals: int  # rehearsal runs the samples came from
    steps: tuple[StepForecast, ...]  # in dependency order
    iterations: int
    seed: int | None
    finish_p50: float
    finish_p90: float
    critical_path: tuple[str, ...]  # the most frequent one
    critical_share: float  # of iterations in which it was the critical path
    window: float | None  # the window's length
    within_window: float | None  # share of iterations that finished inside the window

    @property
    def overflow(self) -> bool:
        """Whether the P90 finish is later than the window's end."""
        return self.window is not None and self.finish_p90 > self.window

    @property
    def weak_steps(self) -> list[str]:
        return [s.step for s in self.steps if s.basis is Basis.weak]

    @property
    def estimated_steps(self) -> list[str]:
        return [s.step for s in self.steps if s.basis in (Basis.estimate, Basis.unknown)]

    @property
    def weak(self) -> bool:
        """Some step has fewer than MIN_SAMPLES rehearsed durations."""
        return any(s.basis is not Basis.rehearsed for s in self.steps)

    def window_note(self) -> str | None:
        """`P90 finish 3h20m overflows the 3h window (40% of simulated runs fit)`, or None."""
        if self.window is None or self.within_window is None:
            return None
        verb = "overflows" if self.overflow else "fits"
        fit = f"{self.within_window:.0%} of simulated runs fit"
        return (
            f"P90 finish {format_duration(self.finish_p90)} {verb} the "
            f"{format_duration(self.window)} window ({fit})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan_id,
            "rehearsals": self.rehearsals,
            "iterations": self.iterations,
            "seed": self.seed,
            "steps": [
                {
                    "id": s.step,
                    "basis": s.basis.value,
                    "samples": list(s.samples),
                    "estimate": s.estimate,
                    "p50": s.p50,
                    "p90": s.p90,
                }
                for s in self.steps
            ],
            "finish": {"p50": self.finish_p50, "p90": self.finish_p90},
            "critical_path": {"steps": list(self.critical_path), "share": self.critical_share},
            "window": self.window,
            "within_window": self.within_window,
            "overflow": self.overflow,
            "weak": self.weak,
        }


def step_samples(runs: Sequence[RunAndState]) -> dict[str, list[float]]:
    """Every step's successful durations in the rehearsal runs, oldest first."""
    samples: dict[str, list[float]] = {}
    for _, state in rehearsals(runs):
        for step in state.steps.values():
            if step.status is StepStatus.succeeded and step.duration is not None:
                samples.setdefault(step.id, []).append(step.duration)
    return samples


def forecast(
    plan: Plan,
    runs: Sequence[RunAndState],
    *,
    iterations: int = DEFAULT_ITERATIONS,
    seed: int | None = None,
) -> Forecast:
    """Predict the production run of `plan` from its rehearsal runs among `runs`.

    Raises ValueError if the step graph has a cycle (`golive check` reports it).
    """
    import numpy as np

    if iterations < 1:
        raise ValueError("a forecast needs at least one iteration")
    graph = StepGraph(plan.steps)
    order = graph.order()
    samples = step_samples(runs)
    steps = tuple(_step_forecast(plan, step_id, samples.get(step_id, [])) for step_id in order)
    rng = np.random.default_rng(seed)
    finish, paths = _simulate(graph, order, _draws(steps, iterations, rng))
    path, share = _most_frequent(paths, order)
    window = plan.window.length.total_seconds() if plan.window else None
    p50, p90 = (float(v) for v in np.percentile(finish, [50, 90])) if order else (0.0, 0.0)
    return Forecast(
        plan_id=plan.golive,
        rehearsals=sum(1 for _, state in rehearsals(runs) if state.started_at is not None),
        steps=steps,
        iterations=iterations,
        seed=seed,
        finish_p50=p50,
        finish_p90=p90,
        critical_path=path,
        critical_share=share,
        window=window,
        within_window=None if window is None else float(np.mean(finish <= window)),
    )


def _step_forecast(plan: Plan, step_id: str, samples: list[float]) -> StepForecast:
    import numpy as np

    estimate = plan.step(step_id).estimate
    seconds = estimate.total_seconds() if isinstance(estimate, dt.timedelta) else None
    if samples:
        p50, p90 = (float(v) for v in np.percentile(samples, [50, 90]))
    else:
        p50 = p90 = seconds or 0.0
    return StepForecast(step_id, tuple(samples), seconds, p50, p90)


def _draws(steps: Sequence[StepForecast], iterations: int, rng: np.random.Generator) -> Floats:
    """A (steps x iterations) matrix of simulated durations."""
    import numpy as np

    draws = np.zeros((len(steps), iterations))
    for row, step in enumerate(steps):
        if step.samples:
            logs = np.log(np.maximum(np.asarray(step.samples), SHORTEST))
            picked = logs[rng.integers(0, len(logs), size=iterations)]
            draws[row] = np.exp(picked + rng.normal(0.0, _spread(logs), size=iterations))
        elif step.estimate:
            draws[row] = step.estimate * np.exp(rng.normal(0.0, ESTIMATE_SPREAD, size=iterations))
    return draws


def _spread(logs: Floats) -> float:
    """The jitter for a step's samples: Silverman's bandwidth of their logs, with a floor."""
    import numpy as np

    if len(logs) == 1:
        return ONE_SAMPLE_SPREAD
    silverman = 1.06 * float(np.std(logs, ddof=1)) * math.pow(len(logs), -0.2)
    return max(MIN_SPREAD, silverman)


def _simulate(
    graph: StepGraph, order: list[str], draws: Floats
) -> tuple[Floats, npt.NDArray[np.bool_]]:
    """Each iteration's finish time, and the steps on its critical path (iterations x steps)."""
    import numpy as np

    count, iterations = draws.shape
    index = {step_id: row for row, step_id in enumerate(order)}
    columns = np.arange(iterations)
    finish = np.zeros((count, iterations))
    via = np.full((count, iterations), -1, dtype=np.int64)  # the need that finished last
    for row, step_id in enumerate(order):
        needs = np.array([index[n] for n in graph.needs[step_id]], dtype=np.int64)
        start: Floats | float = 0.0
        if len(needs):
            latest = finish[needs].argmax(axis=0)
            via[row] = needs[latest]
            start = finish[via[row], columns]
        finish[row] = start + draws[row]
    on_path = np.zeros((iterations, count), dtype=bool)
    if not count:
        return np.zeros(iterations), on_path
    current = finish.argmax(axis=0)
    total = finish[current, columns]
    while (active := current >= 0).any():
        on_path[columns[active], current[active]] = True
        current = np.where(active, via[np.maximum(current, 0), columns], -1)
    return total, on_path


def _most_frequent(paths: npt.NDArray[np.bool_], order: list[str]) -> tuple[tuple[str, ...], float]:
    import numpy as np

    if not order:
        return (), 0.0
    # One opaque key per path (its bits, packed): sorting those is far faster than rows.
    packed = np.ascontiguousarray(np.packbits(paths, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    best = int(counts.argmax())
    on_path = paths[first[best]]
    chain = tuple(step_id for step_id, on in zip(order, on_path, strict=True) if on)
    return chain, float(counts[best]) / len(paths)
