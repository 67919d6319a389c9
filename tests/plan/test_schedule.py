"""The window judged against policy: the days it touches, quiet hours, weekdays, holidays."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from golive.plan.models import Plan, Window
from golive.plan.schedule import days_touched, holiday_calendar, inside_quiet_hours, window_findings


def window(start: str, end: str) -> Window:
    return Window.model_validate({"start": start, "end": end})


def findings(start: str, end: str, **policy: Any) -> list[tuple[str, str]]:
    plan = Plan.model_validate(
        {"golive": "p", "title": "t", "window": {"start": start, "end": end}, "policy": policy}
    )
    return [(f.rule, f.message) for f in window_findings(plan)]


# --- days touched -----------------------------------------------------------------------------


def test_a_window_inside_one_day_touches_that_day() -> None:
    assert days_touched(window("2026-12-06 09:00", "2026-12-06 17:00")) == [dt.date(2026, 12, 6)]


def test_a_window_ending_at_midnight_does_not_touch_the_next_day() -> None:
    assert days_touched(window("2026-12-06 20:00", "2026-12-07 00:00")) == [dt.date(2026, 12, 6)]


def test_a_window_ending_a_minute_after_midnight_touches_the_next_day() -> None:
    touched = days_touched(window("2026-12-06 20:00", "2026-12-07 00:01"))
    assert touched == [dt.date(2026, 12, 6), dt.date(2026, 12, 7)]


def test_a_window_on_the_last_day_of_the_calendar_does_not_overflow() -> None:
    # regression: stepping one day past 9999-12-31 raised OverflowError out of `golive check`
    assert days_touched(window("9999-12-31 20:00", "9999-12-31 23:00")) == [dt.date.max]


# --- quiet hours ------------------------------------------------------------------------------

NIGHT = (dt.time(20), dt.time(6))


@pytest.mark.parametrize(
    ("start", "end", "inside"),
    [
        ("2026-12-06 20:00", "2026-12-07 06:00", True),  # exactly the quiet hours
        ("2026-12-06 22:00", "2026-12-07 02:00", True),
        ("2026-12-07 01:00", "2026-12-07 05:00", True),  # starts after midnight
        ("2026-12-07 05:00", "2026-12-07 06:00", True),  # ends on the last quiet minute
        ("2026-12-06 19:59", "2026-12-06 23:00", False),  # starts a minute early
        ("2026-12-06 20:00", "2026-12-07 06:01", False),  # ends a minute late
        ("2026-12-07 06:00", "2026-12-07 07:00", False),  # starts as the quiet hours end
        ("2026-12-06 20:00", "2026-12-07 21:00", False),  # runs into the next night
        ("2026-12-06 12:00", "2026-12-06 13:00", False),
    ],
)
def test_quiet_hours_wrapping_midnight(start: str, end: str, inside: bool) -> None:
    assert inside_quiet_hours(window(start, end), *NIGHT) is inside


@pytest.mark.parametrize(
    ("start", "end", "inside"),
    [
        ("2026-12-06 09:00", "2026-12-06 17:00", True),
        ("2026-12-06 16:00", "2026-12-06 18:00", False),
        ("2026-12-06 08:00", "2026-12-06 10:00", False),
        ("2026-12-06 09:00", "2026-12-07 10:00", False),
    ],
)
def test_quiet_hours_within_a_day(start: str, end: str, inside: bool) -> None:
    assert inside_quiet_hours(window(start, end), dt.time(9), dt.time(17)) is inside


def test_quiet_hours_that_start_where_they_end_hold_any_window() -> None:
    long = window("2026-12-06 13:37", "2026-12-09 08:00")
    assert inside_quiet_hours(long, dt.time(0), dt.time(0))


def test_quiet_hours_at_the_end_of_the_calendar_do_not_overflow() -> None:
    # regression: the stretch's end was computed as a date one day past 9999-12-31
    late = window("9999-12-31 21:00", "9999-12-31 23:00")
    assert inside_quiet_hours(late, dt.time(20), dt.time(23, 30))
    assert not inside_quiet_hours(late, dt.time(20), dt.time(22))


# --- findings ---------------------------------------------------------------------------------


def test_a_window_within_policy_has_no_findings() -> None:
    assert findings("2026-12-06 20:00", "2026-12-07 06:00", quiet_hours="20:00-06:00") == []


def test_a_forbidden_weekday_is_reported_once_however_long_the_window() -> None:
    # regression: a finding per day, so a 300-day window printed 43 Friday errors
    found = findings("2026-01-04 20:00", "2026-10-31 06:00", never_on=["friday", "saturday"])
    assert found == [
        (
            "forbidden-weekday",
            "the window falls on a Friday (2026-01-09), which policy.never_on forbids",
        ),
        (
            "forbidden-weekday",
            "the window falls on a Saturday (2026-01-10), which policy.never_on forbids",
        ),
    ]


def test_a_public_holiday_is_named_with_its_day() -> None:
    found = findings("2027-03-29 20:00", "2027-03-30 06:00", holidays="BE", never_on=[])
    assert found == [
        ("holiday", "the window falls on a public holiday in BE: Easter Monday (2027-03-29)")
    ]


def test_several_public_holidays_are_one_finding_per_region() -> None:
    found = findings("2026-12-20 20:00", "2027-01-10 06:00", holidays=["be"], never_on=[])
    assert found == [
        (
            "holiday",
            "the window falls on 2 public holidays in BE: "
            "Christmas Day (2026-12-25), New Year's Day (2027-01-01)",
        )
    ]


def test_an_unknown_holiday_region_is_reported_at_the_policy() -> None:
    plan = Plan.model_validate(
        {
            "golive": "p",
            "title": "t",
            "window": {"start": "2026-12-06 20:00", "end": "2026-12-07 06:00"},
            "policy": {"holidays": ["BE", "XX"]},
        }
    )
    (finding,) = window_findings(plan)
    assert finding.key == ("policy", "holidays", 1)
    assert finding.message == "unknown country or subdivision code 'XX'"


def test_a_freeze_touching_the_window_by_one_day_is_reported() -> None:
    found = findings("2026-12-20 20:00", "2026-12-21 01:00", freeze=["2026-12-21..2027-01-04"])
    assert found == [("freeze", "the window overlaps the change freeze 2026-12-21..2027-01-04")]


def test_a_window_of_centuries_is_one_finding_and_judged_fast() -> None:
    # regression: every day of 0001..9999 was judged against four holiday calendars:
    # 48 seconds and 530,266 errors
    started = time.perf_counter()
    found = findings("0001-01-01 20:00", "9999-12-30 03:00", holidays=["BE", "US-CA"])
    assert time.perf_counter() - started < 1.0
    assert found == [
        (
            "window-too-long",
            "the window lasts 3652056 days; a go-live window lasts hours or days",
        )
    ]


def test_holiday_calendar_knows_countries_and_subdivisions() -> None:
    assert holiday_calendar("BE", [2027])[dt.date(2027, 3, 29)] == "Easter Monday"
    assert dt.date(2027, 3, 31) in holiday_calendar("us-ca", [2027])  # Cesar Chavez Day
    for unknown in ("XX", "BE-XX", "", "-"):
        with pytest.raises(ValueError, match="unknown country or subdivision code"):
            holiday_calendar(unknown, [2027])
