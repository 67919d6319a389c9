"""`http_error_rate:` checks: the share of 5xx answers in the recent part of a JSON access log.

The log has one JSON object a line, as nginx writes it with a `log_format ... escape=json`
(docs/checks.md shows one). golive reads two fields: the time (`time`, ISO-8601 like nginx's
`$time_iso8601`, or `msec`, seconds since the epoch like `$msec`) and `status`. It reads the file
backwards from its end and stops at the first line older than the period, so a large log costs
only its recent part. Lines it cannot read are counted apart, never as requests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golive.checks.outcome import CheckOutcome
from golive.plan.models import ErrorRateCheck
from golive.plan.values import format_duration

DEFAULT_PERIOD = dt.timedelta(minutes=5)
CHUNK = 1 << 16


@dataclass(frozen=True)
class Tally:
    requests: int = 0
    errors: int = 0
    unreadable: int = 0


def period_of(check: ErrorRateCheck) -> dt.timedelta:
    """The period looked at: `over`, else a monitor's `every`, else five minutes."""
    return check.over or check.every or DEFAULT_PERIOD


async def check_error_rate(
    check: ErrorRateCheck,
    *,
    render: Callable[[str], str],
    redact: Callable[[str], str],
    workdir: Path | None = None,
    now: Callable[[], float] = time.time,
) -> CheckOutcome:
    """Count the requests of the last `over` and how many of them answered 5xx."""
    path = Path(render(check.http_error_rate))
    if workdir is not None and not path.is_absolute():
        path = workdir / path
    period = period_of(check)
    try:
        tally = await asyncio.to_thread(count, path, since=now() - period.total_seconds())
    except OSError as exc:
        return CheckOutcome(False, redact(f"cannot read the access log {path}: {exc.strerror}"))
    return _judge(check, tally, f"in the last {format_duration(period)}")


def _judge(check: ErrorRateCheck, tally: Tally, when: str) -> CheckOutcome:
    details: dict[str, Any] = {
        "requests": tally.requests,
        "errors": tally.errors,
        "unreadable_lines": tally.unreadable,
    }
    if tally.requests < max(check.min_requests, 1):
        need = max(check.min_requests, 1)
        return CheckOutcome(False, f"only {tally.requests} requests {when}, need {need}", details)
    rate = tally.errors / tally.requests
    details["error_rate"] = rate
    share = f"{rate * 100:.2f}% errors ({tally.errors} of {tally.requests} requests {when})"
    bound = f"{check.below * 100:g}%"
    if rate >= check.below:
        return CheckOutcome(False, f"{share}, expected below {bound}", details)
    return CheckOutcome(True, f"{share}, below {bound}", details)


def count(path: Path, *, since: float) -> Tally:
    """Tally the entries logged at or after `since` (epoch seconds), newest first."""
    requests = errors = unreadable = 0
    for line in _lines_backwards(path):
        entry = _read(line)
        if entry is None:
            unreadable += 1
            continue
        at, status = entry
        if at < since:
            break
        requests += 1
        errors += 500 <= status < 600
    return Tally(requests, errors, unreadable)


def _read(line: bytes) -> tuple[float, int] | None:
    """(when, status) of one log line, or None if it is not a line golive can read."""
    try:
        entry = json.loads(line)
        status = int(entry["status"])
        if "msec" in entry:
            return float(entry["msec"]), status
        stamp = dt.datetime.fromisoformat(str(entry["time"]))
    except (ValueError, TypeError, KeyError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.astimezone()  # a time without an offset is the machine's local time
    return stamp.timestamp(), status


def _lines_backwards(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        position = file.seek(0, 2)
        pending = b""
        while position > 0:
            step = min(CHUNK, position)
            position -= step
            file.seek(position)
            lines = (file.read(step) + pending).split(b"\n")
            pending = lines[0]
            for line in reversed(lines[1:]):
                if line.strip():
                    yield line
        if pending.strip():
            yield pending
