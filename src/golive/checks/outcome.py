"""What every check answers, and what it may keep for the run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

SHORT = 60


@dataclass(frozen=True)
class CheckOutcome:
    """How one evaluation of a check ended.

    `summary` is one line for people ("HTTP 200 in 43 ms", "expected 200, got 503");
    `details` holds the figures behind it (status, latency_ms, days_left, value...), JSON-ready.
    """

    ok: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0


class Resources(Protocol):
    """Where checks keep what lasts for a run (HTTP clients, database engines):
    `golive.actions.base.RunResources`, which closes them when the run ends."""

    def get(self, key: str, factory: Callable[[], T]) -> T: ...


def shorten(text: str, limit: int = SHORT) -> str:
    """One line of at most `limit` characters, for quoting a query or a body in a summary."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 3]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "..."


def first_line(error: BaseException) -> str:
    """An exception's message without the stack of context drivers like to add."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """A JSON-ready value with every text in it (keys too) passed through `redact`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v, redact) for v in value]
    return value
