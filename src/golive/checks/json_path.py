"""The small JSON path language of `json:` expectations: dotted keys and list indexes.

    status                 {"status": "ok"}
    data.items[0].status   {"data": {"items": [{"status": "ready"}]}}
    [2]                    the third element of a top-level list
    items[-1]              the last element

A key holding a dot or a bracket cannot be reached; that is the price of a language small enough
to need no quoting rules.
"""

from __future__ import annotations

import re
from typing import Any

_SEGMENT = re.compile(r"([^.\[\]]+)?((?:\[-?\d+\])*)")
_INDEX = re.compile(r"\[(-?\d+)\]")


class PathError(ValueError):
    """The path is malformed, or the document has nothing at it."""


def parse(path: str) -> list[str | int]:
    """`data.items[0].status` -> ["data", "items", 0, "status"]."""
    steps: list[str | int] = []
    for part in path.split("."):
        match = _SEGMENT.fullmatch(part)
        if not part or match is None or not (match.group(1) or match.group(2)):
            raise PathError(f"cannot read JSON path {path!r} (write it like data.items[0].status)")
        if match.group(1):
            steps.append(match.group(1))
        steps.extend(int(index) for index in _INDEX.findall(match.group(2)))
    return steps


def lookup(document: Any, path: str) -> Any:
    """The value at `path`; PathError naming the first part that is missing."""
    value = document
    walked = ""
    for step in parse(path):
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                raise PathError(f"no {walked}[{step}] in the JSON body")
            walked = f"{walked}[{step}]"
        else:
            if not isinstance(value, dict) or step not in value:
                raise PathError(f"no {walked + '.' if walked else ''}{step} in the JSON body")
            walked = f"{walked}.{step}" if walked else step
        value = value[step]
    return value
