"""The small value types a plan is written in: durations, percentages, local times, ranges.

Each is an `Annotated` pydantic type: it parses the human spelling used in plan files
("90m", "0.5%", "2026-12-06 20:00", "20:00-06:00", "2026-12-21..2027-01-04") once, and
shows up in the JSON Schema as a string with a pattern, so editors can complete it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?(ms|s|m|h|d|w)\s*)+$"
_TEN_YEARS = 10 * 365 * 86400


def parse_duration(value: Any) -> dt.timedelta:
    """Parse "90m", "1h30m", "800ms", "2d" (or a bare number of seconds) into a timedelta."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 90m, 1h30m or 800ms, got {_show(value)}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a duration like 90m, 1h30m or 800ms, got {_show(value)}")
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {_show(value)}")
        seconds = float(min(value, _TEN_YEARS + 1))  # float(10**400) would overflow
    elif isinstance(value, str):
        text = value.replace(" ", "").lower()
        if not text or _DURATION_PART.sub("", text):
            raise ValueError(f"expected a duration like 90m, 1h30m or 800ms, got {_show(value)}")
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(text))
    else:
        raise ValueError(f"expected a duration like 90m, 1h30m or 800ms, got {_show(value)}")
    # the bound also keeps timedelta() from overflowing on 1e30 or 99999999999w
    if seconds > _TEN_YEARS:
        raise ValueError(f"duration {_show(value)} is longer than ten years")
    return dt.timedelta(seconds=seconds)


def format_duration(value: dt.timedelta | float | None) -> str:
    """Render a duration compactly for people: 45m, 1h30m, 2.5s, 120ms."""
    if value is None:
        return "-"
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s".replace(".0s", "s")
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"


def parse_percent(value: Any) -> float:
    """Parse "0.5%" into a fraction between 0 and 1. A bare number is refused: 0.5 could mean
    half or half a percent, and on a go-live night that difference matters."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            fraction = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"expected a percentage like 0.5% or 25%, got {value!r}") from None
        if not 0 <= fraction <= 1:
            raise ValueError(f"a percentage must be between 0% and 100%, got {value!r}")
        return fraction
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"write a percentage with its % sign (0.5% or 50%), got {value!r}")
    raise ValueError(f"expected a percentage like 0.5% or 25%, got {_show(value)}")


_DATETIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def parse_local_datetime(value: Any) -> dt.datetime:
    """Parse a wall-clock time in the plan's timezone: "2026-12-06 20:00" (a date means 00:00)."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        for fmt in _DATETIME_FORMATS:
            try:
                return dt.datetime.strptime(value.strip(), fmt)
            except ValueError:
                continue
        try:
            return dt.datetime.combine(dt.date.fromisoformat(value.strip()), dt.time())
        except ValueError:
            pass
    raise ValueError(f"expected a date and time like 2026-12-06 20:00, got {_show(value)}")


@dataclass(frozen=True)
class Deadline:
    """A due date: a day (due by the end of it) or a precise local time."""

    at: dt.datetime
    whole_day: bool

    @property
    def end(self) -> dt.datetime:
        """The last moment the item may still be done."""
        if not self.whole_day:
            return self.at
        if self.at.date() == dt.date.max:  # the day after 9999-12-31 does not exist
            return dt.datetime.max
        return self.at + dt.timedelta(days=1)

    def __str__(self) -> str:
        return self.at.strftime("%Y-%m-%d" if self.whole_day else "%Y-%m-%d %H:%M")


def parse_deadline(value: Any) -> Deadline:
    if isinstance(value, Deadline):
        return value
    whole_day = (isinstance(value, dt.date) and not isinstance(value, dt.datetime)) or (
        isinstance(value, str) and len(value.strip()) == 10
    )
    return Deadline(parse_local_datetime(value), whole_day)


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of days, written 2026-12-21..2027-01-04 (or a single day)."""

    first: dt.date
    last: dt.date

    def overlaps(self, start: dt.date, end: dt.date) -> bool:
        return self.first <= end and start <= self.last

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}..{self.last}"


def parse_date_range(value: Any) -> DateRange:
    if isinstance(value, DateRange):
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return DateRange(value, value)
    if isinstance(value, str):
        first_text, sep, last_text = value.strip().partition("..")
        try:
            first = dt.date.fromisoformat(first_text.strip())
            last = dt.date.fromisoformat(last_text.strip()) if sep else first
        except ValueError:
            pass
        else:
            if last < first:
                raise ValueError(f"freeze range {_show(value)} ends before it starts")
            return DateRange(first, last)
    raise ValueError(f"expected a day or a range like 2026-12-21..2027-01-04, got {_show(value)}")


@dataclass(frozen=True)
class TimeRange:
    """Daily hours, written "20:00-06:00"; a range may wrap past midnight."""

    start: dt.time
    end: dt.time

    @property
    def all_day(self) -> bool:
        """00:00-00:00 (any range that starts where it ends) covers the whole day."""
        return self.start == self.end

    def contains(self, moment: dt.time) -> bool:
        if self.all_day:
            return True
        if self.start < self.end:
            return self.start <= moment <= self.end
        return moment >= self.start or moment <= self.end

    @property
    def length(self) -> dt.timedelta:
        start = dt.datetime.combine(dt.date.min, self.start)
        end = dt.datetime.combine(dt.date.min, self.end)
        return (end - start) % dt.timedelta(days=1) or dt.timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_time_range(value: Any) -> TimeRange:
    if isinstance(value, TimeRange):
        return value
    if isinstance(value, str):
        start_text, sep, end_text = value.strip().partition("-")
        try:
            if sep:
                return TimeRange(
                    dt.time.fromisoformat(start_text.strip()),
                    dt.time.fromisoformat(end_text.strip()),
                )
        except ValueError:
            pass
    raise ValueError(f"expected daily hours like 20:00-06:00, got {_show(value)}")


class Weekday(StrEnum):
    monday = "monday"
    tuesday = "tuesday"
    wednesday = "wednesday"
    thursday = "thursday"
    friday = "friday"
    saturday = "saturday"
    sunday = "sunday"

    @classmethod
    def of(cls, day: dt.date) -> Weekday:
        return list(cls)[day.weekday()]


def _weekday(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _string_schema(pattern: str | None, description: str) -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string", "description": description}
    if pattern:
        schema["pattern"] = pattern
    return WithJsonSchema(schema)


Duration = Annotated[
    dt.timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": DURATION_PATTERN}, {"type": "number"}],
            "description": "A duration: 90m, 1h30m, 45s, 800ms, 2d",
        }
    ),
]
Percent = Annotated[
    float,
    BeforeValidator(parse_percent),
    _string_schema(r"^\s*\d+(\.\d+)?\s*%$", "A percentage: 0.5%, 25%"),
]
LocalDateTime = Annotated[
    dt.datetime,
    BeforeValidator(parse_local_datetime),
    _string_schema(
        r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$", "Local time: 2026-12-06 20:00"
    ),
]
DueDate = Annotated[
    Deadline,
    BeforeValidator(parse_deadline),
    PlainSerializer(str, return_type=str),
    _string_schema(
        r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$",
        "Due by: a day (its end) or a local time: 2026-12-04, 2026-12-06 19:00",
    ),
]
FreezeRange = Annotated[
    DateRange,
    BeforeValidator(parse_date_range),
    PlainSerializer(str, return_type=str),
    _string_schema(r"^\d{4}-\d{2}-\d{2}(\.\.\d{4}-\d{2}-\d{2})?$", "Days: 2026-12-21..2027-01-04"),
]
DailyHours = Annotated[
    TimeRange,
    BeforeValidator(parse_time_range),
    PlainSerializer(str, return_type=str),
    _string_schema(r"^\d{1,2}:\d{2}-\d{1,2}:\d{2}$", "Daily hours, may wrap midnight: 20:00-06:00"),
]
WeekdayName = Annotated[Weekday, BeforeValidator(_weekday)]
