"""The requests of each group since a move, from nginx's JSON access log.

golive remembers where the log ended when traffic moved, and reads from there: a long log
costs only what was written since. Of each line it reads `msec` (epoch seconds, nginx's
`$msec`), `status`, `request_time` (seconds) and `group` (`$golive_group`, the group golive's
routing chose); without `group`, the last address of `upstream` (`$upstream_addr`) is looked up
among the groups' servers. Lines it cannot read are counted apart, never as requests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Sample:
    """What one group answered: how many requests, how many 5xx, and each one's latency."""

    errors: list[int] = field(default_factory=list)  # 1 for a 5xx answer, else 0
    latencies: list[float] = field(default_factory=list)  # seconds

    @property
    def requests(self) -> int:
        return len(self.errors)

    @property
    def error_count(self) -> int:
        return sum(self.errors)


@dataclass(frozen=True)
class Position:
    """Where the log ended, and when, at a move."""

    offset: int
    since: float  # epoch seconds: requests logged before are not counted


@dataclass
class Reading:
    samples: dict[str, Sample]
    unreadable: int = 0


def position(path: Path, *, since: float) -> Position:
    try:
        return Position(path.stat().st_size, since)
    except FileNotFoundError:
        return Position(0, since)


def read(
    path: Path, start: Position, *, servers: Mapping[str, Sequence[str]], groups: Sequence[str]
) -> Reading:
    """The samples of `groups` logged after `start` (a rotated log is read from its start)."""
    by_server = {server: group for group, found in servers.items() for server in found}
    reading = Reading({group: Sample() for group in groups})
    with path.open("rb") as file:
        size = file.seek(0, 2)
        file.seek(start.offset if start.offset <= size else 0)
        for line in file:
            if not line.endswith(b"\n"):
                break  # nginx is writing it: the next reading gets it whole
            entry = _entry(line, by_server)
            if entry is None:
                reading.unreadable += bool(line.strip())
                continue
            at, group, status, latency = entry
            sample = reading.samples.get(group)
            if sample is None or at < start.since:
                continue
            sample.errors.append(int(500 <= status < 600))
            sample.latencies.append(latency)
    return reading


def _entry(line: bytes, by_server: Mapping[str, str]) -> tuple[float, str, int, float] | None:
    try:
        entry = json.loads(line)
        at, status = float(entry["msec"]), int(entry["status"])
        latency = float(entry.get("request_time") or 0.0)
        group = str(entry.get("group") or "")
        if not group:
            last = str(entry.get("upstream") or "").split(",")[-1].strip()
            group = by_server.get(last, "")
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return at, group, status, latency
