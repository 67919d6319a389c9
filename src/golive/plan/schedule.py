"""The schedule window judged against policy: weekdays, public holidays, freezes, quiet hours."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import holidays as holidays_lib

from golive.plan.models import Plan, Window


@dataclass(frozen=True)
class Finding:
    """A policy rule the window breaks; `key` names the plan key to point at."""

    rule: str
    key: tuple[str | int, ...]
    message: str
    hint: str


def days_touched(window: Window) -> list[dt.date]:
    """Every calendar day the window has at least one minute in."""
    last_moment = window.end - dt.timedelta(microseconds=1)
    day, days = window.start.date(), []
    while day <= last_moment.date():
        days.append(day)
        day += dt.timedelta(days=1)
    return days


def holiday_calendar(region: str, years: list[int]) -> dict[dt.date, str]:
    """Public holidays of a country (BE) or a subdivision (US-CA); ValueError if unknown."""
    country, _, subdivision = region.strip().upper().partition("-")
    try:
        calendar = holidays_lib.country_holidays(country, subdiv=subdivision or None, years=years)
    except (NotImplementedError, KeyError, ValueError):
        raise ValueError(f"unknown country or subdivision code '{region}'") from None
    return {day: str(name) for day, name in calendar.items()}


def window_findings(plan: Plan) -> Iterator[Finding]:
    """Every way the plan's window breaks its policy (nothing when there is no window)."""
    window = plan.window
    if window is None:
        return
    days = days_touched(window)
    policy = plan.policy
    for day in days:
        weekday = day.strftime("%A").lower()
        if weekday in policy.never_on:
            yield Finding(
                "forbidden-weekday",
                ("window", "start"),
                f"the window falls on a {weekday.capitalize()} ({day}), "
                "which policy.never_on forbids",
                "move the window to another day",
            )
    for index, region in enumerate(policy.holiday_regions):
        key: tuple[str | int, ...] = ("policy", "holidays") + (
            (index,) if isinstance(policy.holidays, list) else ()
        )
        try:
            calendar = holiday_calendar(region, sorted({d.year for d in days}))
        except ValueError as exc:
            yield Finding("holiday", key, str(exc), "use an ISO 3166 code like BE, FR or US-CA")
            continue
        for day in days:
            if day in calendar:
                yield Finding(
                    "holiday",
                    ("window", "start"),
                    f"the window falls on a public holiday in {region.upper()}: "
                    f"{calendar[day]} ({day})",
                    "move the window to a working period",
                )
    for index, period in enumerate(policy.freeze):
        if period.overlaps(days[0], days[-1]):
            yield Finding(
                "freeze",
                ("window", "start"),
                f"the window overlaps the change freeze {period}",
                f"move it outside the freeze (policy.freeze[{index}])",
            )
    quiet = policy.quiet_hours
    if quiet is not None and not inside_quiet_hours(window, quiet.start, quiet.end):
        yield Finding(
            "quiet-hours",
            ("window", "start"),
            f"the window {window.start:%H:%M}-{window.end:%H:%M} leaves the quiet hours {quiet}",
            "keep the whole window inside policy.quiet_hours",
        )


def inside_quiet_hours(window: Window, start: dt.time, end: dt.time) -> bool:
    """Whether the whole window lies inside one stretch of the daily quiet hours."""
    begins = window.start.time()
    wraps = start > end
    in_range = (begins >= start or begins <= end) if wraps else start <= begins <= end
    if not in_range:
        return False
    stretch_end = dt.datetime.combine(window.start.date(), end)
    if stretch_end < window.start:
        stretch_end += dt.timedelta(days=1)
    return window.end <= stretch_end
