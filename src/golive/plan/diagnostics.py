"""Problems found in a plan, each pinned to a file, line and column."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    error = "error"
    warning = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem: `plan.golive.yaml:14:12: error: message (hint)`."""

    file: str
    line: int
    column: int
    severity: Severity
    message: str
    hint: str | None = None
    rule: str = "schema"

    def format(self) -> str:
        """The one line a terminal shows; control characters from the plan come out escaped."""
        hint = f" ({self.hint})" if self.hint else ""
        return printable(
            f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}{hint}"
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# C0/C1 controls (ESC starts terminal escape sequences), line separators, lone surrogates
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with every character that could move a terminal's cursor written as an escape."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


# difflib compares a word with every choice, in time that grows with both lengths: a check
# spends at most this many comparisons on hints (a plan with 10,000 wrong names among 10,000
# right ones would otherwise take minutes), and none on words longer than a name can be.
MAX_HINT_COMPARISONS = 100_000
MAX_HINT_WORD = 100


def did_you_mean(word: str, choices: Collection[str]) -> str | None:
    """A hint naming the closest known word, if any is close enough."""
    if len(word) > MAX_HINT_WORD or len(choices) > MAX_HINT_COMPARISONS:
        return None
    names = [c for c in choices if len(c) <= MAX_HINT_WORD]
    matches = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


class Hints:
    """Did-you-mean hints for one check, within `MAX_HINT_COMPARISONS` in all: past that, a
    diagnostic keeps its other hint."""

    def __init__(self, budget: int = MAX_HINT_COMPARISONS) -> None:
        self.left = budget

    def did_you_mean(self, word: str, choices: Collection[str]) -> str | None:
        if len(choices) > self.left:
            return None
        self.left -= len(choices)
        return did_you_mean(word, choices)


def sort_key(diagnostic: Diagnostic) -> tuple[int, int, int, str]:
    return (
        diagnostic.line,
        diagnostic.column,
        0 if diagnostic.severity is Severity.error else 1,
        diagnostic.message,
    )
