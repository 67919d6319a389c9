"""Step output on its way to the event log: lines are gathered per step and recorded in
batches (one `StepOutput` per stream and host), so that a chatty step costs a few events, not
one per line, and a watcher still sees its output within a fraction of a second."""

from __future__ import annotations

from collections.abc import Callable

from golive.engine.events import StepOutput

FLUSH_LINES = 50
FLUSH_SECONDS = 0.25


class OutputBuffer:
    """Lines per step, recorded when there are enough of them, or when they have waited long
    enough (`flush_all(older_than=...)` from the run loop), or when the step ends."""

    def __init__(self, record: Callable[[StepOutput], object], monotonic: Callable[[], float]):
        self._record = record
        self._monotonic = monotonic
        self._lines: dict[str, list[tuple[str, str | None, str]]] = {}
        self._flushed_at: dict[str, float] = {}

    def add(self, step_id: str, stream: str, line: str, host: str | None = None) -> None:
        lines = self._lines.setdefault(step_id, [])
        lines.append((stream, host, line))
        if len(lines) >= FLUSH_LINES:
            self.flush(step_id)

    def flush(self, step_id: str) -> None:
        lines = self._lines.pop(step_id, None)
        self._flushed_at[step_id] = self._monotonic()
        if not lines:
            return
        groups: dict[tuple[str, str | None], list[str]] = {}
        for stream, host, line in lines:
            groups.setdefault((stream, host), []).append(line)
        for (stream, host), texts in groups.items():
            self._record(StepOutput(step=step_id, stream=stream, text="\n".join(texts), host=host))

    def flush_all(self, *, older_than: float = 0.0) -> None:
        now = self._monotonic()
        for step_id in list(self._lines):
            if now - self._flushed_at.get(step_id, 0.0) >= older_than:
                self.flush(step_id)
