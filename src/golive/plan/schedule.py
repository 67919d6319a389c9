"""The schedule judged against policy: weekdays, public holidays, freezes, quiet hours.

`window_findings` judges the plan's window (for `golive check`); `hypercare_findings` the days
after it that hypercare needs staff on duty (warnings of `golive check`); `start_findings` judges
the moment a production run starts (for `golive run`, which refuses it unless overridden).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import holidays as holidays_lib

from golive.plan.models import Plan, Policy, Window
from golive.plan.values import TimeRange, Weekday


@dataclass(frozen=True)
class Finding:
    """A policy rule the window breaks; `key` names the plan key to point at."""

    rule: str
    key: tuple[str | int, ...]
    message: str
    hint: str


MAX_WINDOW = dt.timedelta(days=366)


def days_touched(window: Window) -> list[dt.date]:
    """Every calendar day the window has at least one minute in."""
    first = window.start.date()
    last = (window.end - dt.timedelta(microseconds=1)).date()
    # counted, not stepped: stepping past 9999-12-31 overflows
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def holiday_calendar(region: str, years: list[int]) -> dict[dt.date, str]:
    """Public holidays of a country (BE) or a subdivision (US-CA); ValueError if unknown."""
    country, _, subdivision = region.strip().upper().partition("-")
    try:
        calendar = holidays_lib.country_holidays(country, subdiv=subdivision or None, years=years)
    except (NotImplementedError, KeyError, ValueError):
        shown = region if len(region) <= 20 else region[:17] + "..."
        raise ValueError(f"unknown country or subdivision code '{shown}'") from None
    return {day: str(name) for day, name in calendar.items()}


def window_findings(plan: Plan) -> Iterator[Finding]:
    """Every way the plan's window breaks its policy (nothing when there is no window)."""
    window = plan.window
    if window is None:
        return
    if window.length > MAX_WINDOW:
        # a typo in a year, most likely; judging every day of it would take minutes
        yield Finding(
            "window-too-long",
            ("window", "end"),
            f"the window lasts {window.length.days} days; a go-live window lasts hours or days",
            "check the dates of window.start and window.end",
        )
        return
    days = days_touched(window)
    policy = plan.policy
    yield from _weekdays(days, policy)
    yield from _holidays(days, policy)
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


def _weekdays(days: list[dt.date], policy: Policy) -> Iterator[Finding]:
    """One finding per forbidden weekday, naming the first day the window touches it."""
    seen: set[Weekday] = set()
    for day in days:
        weekday = Weekday.of(day)
        if weekday in policy.never_on and weekday not in seen:
            seen.add(weekday)
            yield Finding(
                "forbidden-weekday",
                ("window", "start"),
                f"the window falls on a {weekday.capitalize()} ({day}), "
                "which policy.never_on forbids",
                "move the window to another day",
            )


def _holidays(days: list[dt.date], policy: Policy) -> Iterator[Finding]:
    """One finding per holiday region the window breaks, naming its first holidays."""
    for index, region in enumerate(policy.holiday_regions):
        key: tuple[str | int, ...] = ("policy", "holidays") + (
            (index,) if isinstance(policy.holidays, list) else ()
        )
        try:
            calendar = holiday_calendar(region, sorted({d.year for d in days}))
        except ValueError as exc:
            yield Finding("holiday", key, str(exc), "use an ISO 3166 code like BE, FR or US-CA")
            continue
        hit = [f"{calendar[day]} ({day})" for day in days if day in calendar]
        if not hit:
            continue
        shown = ", ".join(hit[:3]) + (f" and {len(hit) - 3} more" if len(hit) > 3 else "")
        what = "a public holiday" if len(hit) == 1 else f"{len(hit)} public holidays"
        yield Finding(
            "holiday",
            ("window", "start"),
            f"the window falls on {what} in {region.upper()}: {shown}",
            "move the window to a working period",
        )


def hypercare_findings(plan: Plan) -> Iterator[Finding]:
    """The days of the hypercare period (window end + hypercare.duration) that the policy keeps
    free of go-lives: a `never_on` weekday, a public holiday, a change freeze. Nothing without a
    window or hypercare; the window's own days are `window_findings`' to judge."""
    window, hypercare = plan.window, plan.hypercare
    if window is None or hypercare is None or hypercare.duration > MAX_WINDOW:
        return
    try:
        until = window.end + hypercare.duration
    except OverflowError:  # past 9999-12-31: nothing to staff
        return
    own = set(days_touched(window))
    days = [d for d in days_touched(Window(start=window.end, end=until)) if d not in own]
    if not days or until <= window.end:
        return
    period = f"the hypercare period ({window.end:%a %Y-%m-%d %H:%M} to {until:%a %Y-%m-%d %H:%M})"
    hint = "plan staff on duty for those days, or move the window: the first 48 h need them"
    policy = plan.policy
    weekdays = [d for d in days if Weekday.of(d) in policy.never_on]
    if weekdays:
        shown = ", ".join(f"{Weekday.of(d).capitalize()} {d}" for d in weekdays[:3])
        yield Finding(
            "hypercare-weekday",
            ("hypercare", "duration"),
            f"{period} takes in {shown}, which policy.never_on keeps free of go-lives",
            hint,
        )
    for region in policy.holiday_regions:
        try:
            calendar = holiday_calendar(region, sorted({d.year for d in days}))
        except ValueError:
            continue  # window_findings reports an unknown region
        hit = [f"{calendar[d]} ({d})" for d in days if d in calendar]
        if hit:
            yield Finding(
                "hypercare-holiday",
                ("hypercare", "duration"),
                f"{period} takes in a public holiday in {region.upper()}: {', '.join(hit[:3])}",
                hint,
            )
    for freeze in policy.freeze:
        # a freeze the window is in already is an error of the window: said once
        if freeze.overlaps(days[0], days[-1]) and not freeze.overlaps(min(own), max(own)):
            yield Finding(
                "hypercare-freeze",
                ("hypercare", "duration"),
                f"{period} overlaps the change freeze {freeze}",
                hint,
            )


def inside_quiet_hours(window: Window, start: dt.time, end: dt.time) -> bool:
    """Whether the whole window lies inside one stretch of the daily quiet hours.

    The hours may wrap past midnight (20:00-06:00); a range that starts where it ends
    (00:00-00:00) is quiet all day.
    """
    quiet = TimeRange(start, end)
    begins = window.start.time()
    if quiet.all_day:
        return True
    if not quiet.contains(begins):
        return False
    # what is left of the stretch the window starts in, measured on the clock face
    on_clock = dt.datetime.combine(dt.date.min, end) - dt.datetime.combine(dt.date.min, begins)
    return window.length <= on_clock % dt.timedelta(days=1)


def start_findings(plan: Plan, now: dt.datetime) -> list[Finding]:
    """Why a production run may not start at `now` (aware): outside the plan's window, on a
    `never_on` weekday, on a public holiday, in a change freeze, or outside the quiet hours.
    Empty when it may."""
    local = now.astimezone(plan.zone).replace(tzinfo=None)
    day, policy, findings = local.date(), plan.policy, []
    stamp = f"{local:%a %Y-%m-%d %H:%M} {plan.timezone}"
    window = plan.window
    if window is not None and not window.start <= local < window.end:
        findings.append(
            Finding(
                "outside-window",
                ("window", "start"),
                f"it is {stamp}, outside the window "
                f"{window.start:%Y-%m-%d %H:%M}-{window.end:%Y-%m-%d %H:%M}",
                "start it within the window, or move the window",
            )
        )
    weekday = Weekday.of(day)
    if weekday in policy.never_on:
        findings.append(
            Finding(
                "forbidden-weekday",
                ("policy", "never_on"),
                f"it is {stamp}, and policy.never_on forbids a {weekday.capitalize()}",
                "start it on another day",
            )
        )
    for region in policy.holiday_regions:
        try:
            name = holiday_calendar(region, [day.year]).get(day)
        except ValueError:
            continue  # `golive check` reports an unknown region
        if name is not None:
            findings.append(
                Finding(
                    "holiday",
                    ("policy", "holidays"),
                    f"it is {stamp}, {name}, a public holiday in {region.upper()}",
                    "start it on a working day",
                )
            )
    for period in policy.freeze:
        if period.overlaps(day, day):
            findings.append(
                Finding(
                    "freeze",
                    ("policy", "freeze"),
                    f"it is {stamp}, inside the change freeze {period}",
                    "start it after the freeze",
                )
            )
    quiet = policy.quiet_hours
    if quiet is not None and not TimeRange(quiet.start, quiet.end).contains(local.time()):
        findings.append(
            Finding(
                "quiet-hours",
                ("policy", "quiet_hours"),
                f"it is {stamp}, outside the quiet hours {quiet}",
                "start it within policy.quiet_hours",
            )
        )
    return findings
