"""The small value types plans are written in: durations, percentages, times, ranges, amounts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from golive.plan.models import Amount, HostAmount, Policy
from golive.plan.values import (
    DateRange,
    Deadline,
    TimeRange,
    Weekday,
    format_duration,
    parse_date_range,
    parse_deadline,
    parse_duration,
    parse_local_datetime,
    parse_percent,
    parse_time_range,
)

# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90m", 5400),
        ("1h30m", 5400),
        (" 1h 30m ", 5400),
        ("800ms", 0.8),
        ("2d", 172800),
        ("1w", 604800),
        ("1.5h", 5400),
        ("0s", 0),
        (45, 45),
        (2.5, 2.5),
        ("3650d", 3650 * 86400),
    ],
)
def test_duration_reads_the_human_spellings(text: Any, seconds: float) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10 minutes", "expected a duration like 90m"),
        ("", "expected a duration like 90m"),
        ("-5m", "expected a duration like 90m"),
        ("m", "expected a duration like 90m"),
        (True, "expected a duration like 90m"),
        ([5], "expected a duration like 90m, 1h30m or 800ms, got [5]"),
        (-1, "cannot be negative"),
        (float("inf"), "got inf"),
        (float("nan"), "got nan"),
        ("3651d", "longer than ten years"),
        (10**20, "longer than ten years"),
        pytest.param(10**400, "longer than ten years", id="10**400"),
        pytest.param("9" * 400 + "s", "longer than ten years", id="400 nines"),
    ],
)
def test_duration_rejects_what_is_not_one_with_a_message_not_a_crash(
    value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        parse_duration(value)
    assert len(str(caught.value)) < 120


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.12, "120ms"),
        (2.5, "2.5s"),
        (45, "45s"),
        (300, "5m"),
        (330, "5m30s"),
        (5400, "1h30m"),
        (7200, "2h"),
        (90000, "25h"),
    ],
)
def test_durations_are_shown_compactly(seconds: float, shown: str) -> None:
    assert format_duration(dt.timedelta(seconds=seconds)) == shown
    assert format_duration(seconds) == shown


def test_no_duration_is_shown_as_a_dash() -> None:
    assert format_duration(None) == "-"


@given(minutes=st.integers(min_value=1, max_value=60 * 24 * 365))
def test_a_whole_number_of_minutes_reads_back_from_how_it_is_shown(minutes: int) -> None:
    duration = dt.timedelta(minutes=minutes)
    assert parse_duration(format_duration(duration)) == duration


# --- percentages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fraction"),
    [
        ("0.5%", 0.005),
        ("25%", 0.25),
        (" 25 %", 0.25),
        ("100%", 1.0),
        ("0%", 0.0),
    ],
)
def test_percentage_reads_into_a_fraction(value: Any, fraction: float) -> None:
    assert parse_percent(value) == pytest.approx(fraction)


@pytest.mark.parametrize(
    "value", ["150%", "-1%", "abc%", "%", "25", "nan%", "inf%", True, None, 1.5, 0.005, 1, [25]]
)
def test_percentage_outside_0_to_100_or_misspelled_is_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match="percentage"):
        parse_percent(value)


# --- local times and deadlines ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-06 20:00",
        "2026-12-06T20:00",
        "2026-12-06 20:00:00",
        " 2026-12-06 20:00 ",
        dt.datetime(2026, 12, 6, 20, tzinfo=dt.UTC),
    ],
)
def test_local_time_reads_wall_clock_time_without_a_zone(value: Any) -> None:
    assert parse_local_datetime(value) == dt.datetime(2026, 12, 6, 20, 0)


def test_a_date_alone_is_midnight() -> None:
    assert parse_local_datetime("2026-12-06") == dt.datetime(2026, 12, 6)
    assert parse_local_datetime(dt.date(2026, 12, 6)) == dt.datetime(2026, 12, 6)


@pytest.mark.parametrize("value", ["2026-02-30 10:00", "tomorrow", "", 20261206, None])
def test_impossible_or_vague_times_are_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match="expected a date and time like 2026-12-06 20:00"):
        parse_local_datetime(value)


def test_a_due_day_lasts_until_its_end() -> None:
    due = parse_deadline("2026-12-04")
    assert due.whole_day
    assert due.end == dt.datetime(2026, 12, 5)
    assert str(due) == "2026-12-04"


def test_a_due_time_is_that_moment() -> None:
    due = parse_deadline("2026-12-06 19:00")
    assert not due.whole_day
    assert due.end == dt.datetime(2026, 12, 6, 19)
    assert str(due) == "2026-12-06 19:00"


def test_a_due_day_at_the_end_of_the_calendar_ends_without_overflowing() -> None:
    # regression: 9999-12-31 + 1 day raised OverflowError out of `golive check`
    assert Deadline(dt.datetime(9999, 12, 31), whole_day=True).end == dt.datetime.max


# --- freeze ranges ----------------------------------------------------------------------------


def test_freeze_range_reads_a_range_or_a_single_day() -> None:
    assert parse_date_range("2026-12-21..2027-01-04") == DateRange(
        dt.date(2026, 12, 21), dt.date(2027, 1, 4)
    )
    assert parse_date_range("2026-12-25") == DateRange(dt.date(2026, 12, 25), dt.date(2026, 12, 25))
    assert parse_date_range(dt.date(2026, 12, 25)).first == dt.date(2026, 12, 25)
    assert str(parse_date_range("2026-12-21 .. 2027-01-04")) == "2026-12-21..2027-01-04"


def test_freeze_range_that_ends_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        parse_date_range("2027-01-04..2026-12-21")


@pytest.mark.parametrize("value", ["2026-12-21..", "..", "december", 5])
def test_freeze_range_misspelled_is_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match="expected a day or a range"):
        parse_date_range(value)


def test_freeze_range_overlap_includes_both_ends() -> None:
    freeze = DateRange(dt.date(2026, 12, 21), dt.date(2027, 1, 4))
    assert freeze.overlaps(dt.date(2026, 12, 20), dt.date(2026, 12, 21))
    assert freeze.overlaps(dt.date(2027, 1, 4), dt.date(2027, 1, 5))
    assert not freeze.overlaps(dt.date(2026, 12, 19), dt.date(2026, 12, 20))
    assert not freeze.overlaps(dt.date(2027, 1, 5), dt.date(2027, 1, 6))


# --- quiet hours ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        ("20:00", True),
        ("23:59", True),
        ("00:00", True),
        ("05:59", True),
        ("06:00", True),
        ("06:01", False),
        ("12:00", False),
        ("19:59", False),
    ],
)
def test_quiet_hours_wrapping_midnight_contain_the_night(moment: str, inside: bool) -> None:
    night = parse_time_range("20:00-06:00")
    assert night.contains(dt.time.fromisoformat(moment)) is inside
    assert night.length == dt.timedelta(hours=10)


@pytest.mark.parametrize(
    ("moment", "inside"), [("09:00", True), ("17:00", True), ("08:59", False), ("17:01", False)]
)
def test_quiet_hours_within_a_day_contain_their_ends(moment: str, inside: bool) -> None:
    day = parse_time_range("09:00-17:00")
    assert day.contains(dt.time.fromisoformat(moment)) is inside
    assert day.length == dt.timedelta(hours=8)


def test_quiet_hours_that_start_where_they_end_cover_the_whole_day() -> None:
    always = parse_time_range("00:00-00:00")
    assert always.all_day
    assert always.length == dt.timedelta(days=1)
    assert all(always.contains(dt.time(hour)) for hour in range(24))


@pytest.mark.parametrize("value", ["20:00", "25:00-06:00", "20:00-", "", "night", 2000])
def test_quiet_hours_misspelled_are_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match="expected daily hours like 20:00-06:00"):
        parse_time_range(value)


def test_quiet_hours_show_as_written() -> None:
    assert str(TimeRange(dt.time(20), dt.time(6))) == "20:00-06:00"


# --- weekdays and amounts ---------------------------------------------------------------------


def test_weekday_of_a_date() -> None:
    assert Weekday.of(dt.date(2026, 12, 6)) is Weekday.sunday
    assert Weekday.of(dt.date(2026, 12, 11)) is Weekday.friday


def test_weekday_names_are_read_in_any_case() -> None:
    assert Policy(never_on=["Friday", " SUNDAY "]).never_on == [Weekday.friday, Weekday.sunday]


amount = TypeAdapter(HostAmount)


def test_amount_is_a_count_or_a_share_of_hosts() -> None:
    assert amount.validate_python(2) == Amount(count=2)
    assert amount.validate_python("25%") == Amount(fraction=0.25)
    assert str(amount.validate_python(2)) == "2"
    assert str(amount.validate_python("25%")) == "25%"


@pytest.mark.parametrize(
    ("written", "total", "at_least", "hosts"),
    [
        (2, 10, 0, 2),
        ("25%", 4, 0, 1),
        ("10%", 4, 0, 0),
        ("10%", 4, 1, 1),
        (0, 4, 1, 1),
        ("100%", 7, 0, 7),
    ],
)
def test_amount_of_a_host_group(written: Any, total: int, at_least: int, hosts: int) -> None:
    assert amount.validate_python(written).of(total, at_least=at_least) == hosts


@pytest.mark.parametrize("value", [2.5, True, "two", "150%", -1, None])
def test_amount_that_is_not_a_count_or_a_share_is_rejected(value: Any) -> None:
    with pytest.raises(ValidationError):
        amount.validate_python(value)
