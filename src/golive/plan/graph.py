"""The steps as a dependency graph: order, cycles, critical path."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class Node(Protocol):
    """What the graph needs of a step (a `Step`, or a step of the plan's outline)."""

    @property
    def id(self) -> str: ...

    @property
    def needs(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class CriticalPath:
    steps: tuple[str, ...]
    total: dt.timedelta


class StepGraph:
    """Steps and their `needs`; unknown needs are ignored here (lint reports them)."""

    def __init__(self, steps: Sequence[Node]) -> None:
        self.ids = [s.id for s in steps]
        known = set(self.ids)
        self.needs: dict[str, tuple[str, ...]] = {}
        for step in steps:
            self.needs.setdefault(
                step.id, tuple(dict.fromkeys(n for n in step.needs if n in known))
            )
        self.dependents: dict[str, list[str]] = {i: [] for i in self.needs}
        for step_id, needs in self.needs.items():
            for need in needs:
                self.dependents[need].append(step_id)

    def find_cycle(self) -> list[str] | None:
        """A dependency cycle as [a, b, c, a], or None when the graph is acyclic."""
        state: dict[str, int] = {}
        for root in self.needs:
            if state.get(root):
                continue
            stack: list[tuple[str, int]] = [(root, 0)]
            trail: list[str] = []
            while stack:
                node, index = stack.pop()
                if index == 0:
                    state[node] = 1
                    trail.append(node)
                needs = self.needs[node]
                if index < len(needs):
                    stack.append((node, index + 1))
                    nxt = needs[index]
                    if state.get(nxt) == 1:
                        cycle = trail[trail.index(nxt) :]
                        return [*cycle, nxt]
                    if not state.get(nxt):
                        stack.append((nxt, 0))
                else:
                    state[node] = 2
                    trail.pop()
        return None

    def order(self) -> list[str]:
        """A topological order that keeps the file's order wherever the graph allows."""
        remaining = {i: len(n) for i, n in self.needs.items()}
        position = {step_id: index for index, step_id in enumerate(self.needs)}
        # a heap of (file position, id): the earliest ready step first, in O(n log n)
        ready = [(position[i], i) for i, count in remaining.items() if count == 0]
        heapq.heapify(ready)
        result: list[str] = []
        while ready:
            _, current = heapq.heappop(ready)
            result.append(current)
            for dependent in self.dependents[current]:
                remaining[dependent] -= 1
                if remaining[dependent] == 0:
                    heapq.heappush(ready, (position[dependent], dependent))
        if len(result) != len(self.needs):
            raise ValueError("the step graph has a cycle")
        return result

    def ancestors(self, step_id: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.needs.get(step_id, ()))
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(self.needs[current])
        return seen

    def critical_path(self, duration: Callable[[str], dt.timedelta]) -> CriticalPath:
        """The longest chain of durations through the graph (the shortest possible run)."""
        finish: dict[str, dt.timedelta] = {}
        via: dict[str, str | None] = {}
        for step_id in self.order():
            before = max(self.needs[step_id], key=lambda n: finish[n], default=None)
            start = finish[before] if before else dt.timedelta()
            finish[step_id] = start + duration(step_id)
            via[step_id] = before
        if not finish:
            return CriticalPath((), dt.timedelta())
        last: str | None = max(finish, key=lambda s: finish[s])
        total = finish[last] if last else dt.timedelta()
        chain: list[str] = []
        while last:
            chain.append(last)
            last = via[last]
        return CriticalPath(tuple(reversed(chain)), total)


def finish_times(graph: StepGraph, durations: Mapping[str, float]) -> dict[str, float]:
    """Earliest finish of every step, in seconds, given each step's duration."""
    finish: dict[str, float] = {}
    for step_id in graph.order():
        start = max((finish[n] for n in graph.needs[step_id]), default=0.0)
        finish[step_id] = start + durations.get(step_id, 0.0)
    return finish
