"""Business calendar arithmetic: exact instants around closes, weekends, UK bank holidays,
closures and DST changes, several intervals a day, 24:00 closing; then properties (hypothesis)
that hold for any start and duration on the example calendar and on a split-day one."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskbridge.config.rules import load_rules, parse_opening_hours
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.business_hours import CALENDAR_TIME, BusinessCalendar, open_per_week

LONDON = ZoneInfo("Europe/London")
H = timedelta(hours=1)
M = timedelta(minutes=1)
NINE_TO_SIX = [(time(9), time(18))]
NO_HOURS: list[tuple[time, time]] = []


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def uk_holidays():
    return holidays.country_holidays("GB", subdiv="ENG")


def weekdays(hours, sat=NO_HOURS, sun=NO_HOURS):
    return [list(hours)] * 5 + [list(sat), list(sun)]


EXAMPLE = load_rules(EXAMPLE_CONFIG).calendar
DIRECT = BusinessCalendar(
    "Europe/London",
    weekdays(NINE_TO_SIX),
    holidays=frozenset({date(2026, 12, 24)}),
    holiday_calendar=uk_holidays(),
)
# Lunch closed 12:30-13:30 (given out of order: the calendar sorts a day's intervals).
SPLIT = BusinessCalendar(
    "Europe/London",
    weekdays([(time(13, 30), time(18)), (time(9), time(12, 30))]),
    holidays=frozenset({date(2026, 12, 24)}),
    holiday_calendar=uk_holidays(),
)
# A weekend night shift: Saturday 22:00-24:00 runs straight into Sunday 00:00-02:00.
OVERNIGHT = BusinessCalendar(
    "Europe/London",
    weekdays([(time(9), time(17))], sat=[(time(22), time.max)], sun=[(time(0), time(2))]),
)
# Boundaries inside the spring-forward gap (01:00-02:00 in London on the last Sunday of March).
GAP = BusinessCalendar("Europe/London", [[(time(0), time(1, 30)), (time(2), time.max)]] * 7)
ALWAYS_LONDON = BusinessCalendar("Europe/London", [[(time(0), time.max)]] * 7)
ALWAYS_LORD_HOWE = BusinessCalendar("Australia/Lord_Howe", [[(time(0), time.max)]] * 7)
ALWAYS_SAO_PAULO = BusinessCalendar("America/Sao_Paulo", [[(time(0), time.max)]] * 7)


@pytest.fixture(params=["example_config", "direct"])
def uk(request) -> BusinessCalendar:
    return EXAMPLE if request.param == "example_config" else DIRECT


def day_length(calendar: BusinessCalendar, day: date) -> timedelta:
    return sum((closes - opens for opens, closes in calendar.intervals_on(day)), timedelta(0))


def local_midnight(calendar: BusinessCalendar, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=calendar.zone)


# --- the calendar built from config -------------------------------------------------------


def test_example_config_builds_the_uk_calendar():
    assert EXAMPLE is not None
    assert EXAMPLE.zone == LONDON
    assert EXAMPLE.week == weekdays(NINE_TO_SIX)
    rules = load_rules(EXAMPLE_CONFIG)
    assert rules.calendar is rules.calendar  # built once, when the rules were loaded
    assert EXAMPLE.closed_on(date(2026, 12, 24))  # the configured closure
    assert EXAMPLE.closed_on(date(2026, 12, 28))  # Boxing Day (observed)
    assert EXAMPLE.closed_on(date(2026, 4, 3))  # Good Friday
    assert not EXAMPLE.closed_on(date(2026, 12, 23))


def test_opening_hours_per_week_count_overlaps_once_and_24_00_as_midnight():
    assert open_per_week(weekdays(NINE_TO_SIX)) == 45 * H
    tuesday = [(time(9), time(18)), (time(17), time(19)), (time(9, 30), time(10))]
    assert open_per_week([tuesday, [(time(22), time.max)], [(time(0), time.max)], []]) == 36 * H


def test_opening_hours_24_00_is_time_max():
    assert parse_opening_hours("22:00-24:00") == (time(22), time.max)


@pytest.mark.parametrize("hours", ["22:00-06:00", "18:00-09:00", "09:00-09:00", "00:00-00:00"])
def test_opening_hours_past_midnight_are_told_to_split_there(hours):
    with pytest.raises(ValueError) as raised:
        parse_opening_hours(hours)
    assert str(raised.value) == (
        "opening hours must close after they open: split hours past midnight there, "
        'e.g. "22:00-24:00" on one day and "00:00-06:00" on the next'
    )


# --- adding business time (UK calendar) -------------------------------------------------------


def test_add_within_a_day(uk):
    # January: London is on GMT, so local times equal UTC.
    assert uk.add_business_time(utc(2026, 1, 13, 10), 2 * H + 30 * M) == utc(2026, 1, 13, 12, 30)
    # In summer (BST) the same local arithmetic is an hour earlier in UTC.
    assert uk.add_business_time(london(2026, 6, 9, 10), 2 * H) == utc(2026, 6, 9, 11)


def test_add_across_the_close_continues_next_morning(uk):
    assert uk.add_business_time(utc(2026, 1, 13, 17), 2 * H) == utc(2026, 1, 14, 10)
    assert uk.add_business_time(utc(2026, 1, 13, 17, 59, 59), 2 * M) == utc(2026, 1, 14, 9, 1, 59)


def test_add_landing_exactly_on_the_close_stays_on_it(uk):
    assert uk.add_business_time(utc(2026, 1, 13, 17), H) == utc(2026, 1, 13, 18)
    assert uk.add_business_time(utc(2026, 1, 13, 17), H + timedelta(microseconds=1)) == (
        utc(2026, 1, 14, 9) + timedelta(microseconds=1)
    )


def test_friday_1755_plus_one_hour_is_monday_0955(uk):
    friday = utc(2026, 1, 16, 17, 55)
    assert uk.add_business_time(friday, H) == utc(2026, 1, 19, 9, 55)
    # The SLA warnings at 75% and 90% of a 1-hour target.
    assert uk.add_business_time(friday, 45 * M) == utc(2026, 1, 19, 9, 40)
    assert uk.add_business_time(friday, 54 * M) == utc(2026, 1, 19, 9, 49)
    # In summer: Friday 17:55 BST → Monday 09:55 BST.
    assert uk.add_business_time(london(2026, 6, 12, 17, 55), H) == utc(2026, 6, 15, 8, 55)


def test_add_over_a_weekend(uk):
    # Friday 15:00 + 12 h: 3 h on Friday, 9 h on Monday, landing on Monday's close.
    assert uk.add_business_time(utc(2026, 1, 16, 15), 12 * H) == utc(2026, 1, 19, 18)
    assert uk.add_business_time(utc(2026, 1, 16, 15), 12 * H + M) == utc(2026, 1, 20, 9, 1)
    # A whole working week from Monday's opening.
    assert uk.add_business_time(utc(2026, 1, 12, 9), 45 * H) == utc(2026, 1, 16, 18)
    assert uk.add_business_time(utc(2026, 1, 12, 9), 45 * H + M) == utc(2026, 1, 19, 9, 1)


def test_add_over_christmas_2026(uk):
    # 24 Dec closure, 25 Dec (Fri) and 26 Dec (Sat) bank holidays, Sunday, 28 Dec Boxing Day
    # (observed): Wednesday 23 Dec 17:00 + 2 h → Tuesday 29 Dec 10:00.
    assert uk.add_business_time(utc(2026, 12, 23, 17), 2 * H) == utc(2026, 12, 29, 10)
    assert uk.add_business_time(utc(2026, 12, 23, 17, 55), H) == utc(2026, 12, 29, 9, 55)
    # Friday 18 Dec 17:55 + 1 h is an ordinary Monday.
    assert uk.add_business_time(utc(2026, 12, 18, 17, 55), H) == utc(2026, 12, 21, 9, 55)
    # New Year's Day 2027 is a Friday: Thursday 31 Dec 17:55 + 1 h → Monday 4 Jan 2027.
    assert uk.add_business_time(utc(2026, 12, 31, 17, 55), H) == utc(2027, 1, 4, 9, 55)
    # Started on a closed day.
    assert uk.add_business_time(utc(2026, 12, 24, 12), H) == utc(2026, 12, 29, 10)
    assert uk.add_business_time(utc(2026, 12, 28, 12), H) == utc(2026, 12, 29, 10)


def test_add_over_easter_2026(uk):
    # Good Friday 3 Apr and Easter Monday 6 Apr around a weekend (BST: UTC+1).
    assert uk.add_business_time(london(2026, 4, 2, 17), 2 * H) == utc(2026, 4, 7, 9)
    assert uk.add_business_time(london(2026, 4, 2, 17, 55), H) == london(2026, 4, 7, 9, 55)


def test_start_outside_opening_hours(uk):
    assert uk.add_business_time(utc(2026, 1, 13, 7, 30), H) == utc(2026, 1, 13, 10)
    assert uk.add_business_time(utc(2026, 1, 13, 20), H) == utc(2026, 1, 14, 10)
    assert uk.add_business_time(utc(2026, 1, 13, 0), H) == utc(2026, 1, 13, 10)
    assert uk.add_business_time(utc(2026, 1, 17, 12), H) == utc(2026, 1, 19, 10)  # Saturday
    assert uk.add_business_time(london(2026, 4, 3, 11), H) == london(2026, 4, 7, 10)  # Good Fri


def test_start_given_in_another_timezone(uk):
    new_york = ZoneInfo("America/New_York")
    start = datetime(2026, 1, 13, 5, tzinfo=new_york)  # 10:00 in London
    result = uk.add_business_time(start, H)
    assert result == utc(2026, 1, 13, 11)
    assert result.tzinfo is UTC


def test_zero_duration(uk):
    inside = london(2026, 6, 9, 10, 15)
    assert uk.add_business_time(inside, timedelta(0)) == inside
    assert uk.add_business_time(inside, timedelta(0)).tzinfo is UTC
    assert uk.add_business_time(utc(2026, 1, 13, 9), timedelta(0)) == utc(2026, 1, 13, 9)
    # Outside opening hours, zero business time later is the next opening.
    assert uk.add_business_time(utc(2026, 1, 13, 7), timedelta(0)) == utc(2026, 1, 13, 9)
    assert uk.add_business_time(utc(2026, 1, 13, 18), timedelta(0)) == utc(2026, 1, 14, 9)
    assert uk.add_business_time(utc(2026, 12, 24, 9), timedelta(0)) == utc(2026, 12, 29, 9)
    assert uk.business_time_between(inside, inside) == timedelta(0)


def test_negative_duration_raises(uk):
    with pytest.raises(ValueError):
        uk.add_business_time(utc(2026, 1, 13, 10), -timedelta(microseconds=1))


def test_no_opening_hours_at_all_is_refused():
    with pytest.raises(ValueError):
        BusinessCalendar("UTC", [[]] * 7)
    with pytest.raises(ValueError):
        BusinessCalendar("UTC", [NINE_TO_SIX] * 5)

    class EveryDay:
        def __contains__(self, day):
            return True

    shut = BusinessCalendar("UTC", [NINE_TO_SIX] * 7, holiday_calendar=EveryDay())
    with pytest.raises(ValueError, match="no opening hours in the 3660 days"):
        shut.add_business_time(utc(2026, 1, 1), H)
    with pytest.raises(ValueError, match="no opening hours in the 3660 days"):
        shut.business_time_between(utc(2014, 1, 1), utc(2026, 1, 1))


# --- spans longer than the calendar lays out (TIMELINE_MOST_DAYS) --------------------------------


def test_spans_of_any_length_are_measured_and_added():
    # Mon 2 Jun 2014 09:00 to Mon 2 Mar 2026 09:00 is 613 weeks of 45 hours (a ticket created
    # in 2014, answered now); to Mon 2 Mar 2099 another 3,809 weeks. Walked to the span's end.
    cal = BusinessCalendar("UTC", weekdays(NINE_TO_SIX))
    created, now, far = utc(2014, 6, 2, 9), utc(2026, 3, 2, 9), utc(2099, 3, 2, 9)
    assert cal.business_time_between(created, now) == 613 * 45 * H
    assert cal.business_time_between(now, created) == -613 * 45 * H
    assert cal.business_time_between(now, far) == 3809 * 45 * H
    assert cal.business_time_between(created, far) == (613 + 3809) * 45 * H
    # Landing exactly on a close stays on it: the Friday before.
    assert cal.add_business_time(created, 613 * 45 * H) == utc(2026, 2, 27, 18)
    assert cal.add_business_time(created, 613 * 45 * H + M) == utc(2026, 3, 2, 9, 1)
    assert cal.add_business_time(now, 3809 * 45 * H) == utc(2099, 2, 27, 18)


def test_a_long_span_with_holidays_is_the_sum_of_its_days():
    # The example calendar (UK holidays, the configured closure) over twelve years.
    first, last = date(2014, 6, 2), date(2026, 3, 3)
    days = (first + timedelta(days=n) for n in range((last - first).days))
    expected = sum((day_length(EXAMPLE, day) for day in days), timedelta(0))
    assert expected == 26739 * H  # 613 weeks and a Monday of 45 hours, less 95 closed days
    measured = EXAMPLE.business_time_between(
        local_midnight(EXAMPLE, first), local_midnight(EXAMPLE, last)
    )
    assert measured == expected


def test_years_closed_in_a_row_are_walked_past():
    # Closed (closures) for five years, open again after: fewer than 3660 closed days.
    closed = frozenset(date(2020, 1, 1) + timedelta(days=n) for n in range(5 * 365))
    cal = BusinessCalendar("UTC", [NINE_TO_SIX] * 7, holidays=closed)
    assert cal.add_business_time(utc(2019, 12, 31, 17), 2 * H) == utc(2024, 12, 30, 10)
    assert cal.business_time_between(utc(2019, 12, 31, 17), utc(2024, 12, 30, 10)) == 2 * H


# --- DST in Europe/London ----------------------------------------------------------------------


def test_business_days_keep_nine_hours_across_dst(uk):
    for first in (date(2026, 3, 23), date(2026, 10, 19)):
        for offset in range(14):
            day = first + timedelta(days=offset)
            length = day_length(uk, day)
            if day.weekday() >= 5 or uk.closed_on(day):
                assert length == timedelta(0), day
                continue
            assert length == 9 * H, day
            ((opens, closes),) = uk.intervals_on(day)
            assert opens.astimezone(LONDON).time() == time(9), day
            assert closes.astimezone(LONDON).time() == time(18), day


def test_add_across_the_spring_change(uk):
    # Sunday 29 Mar 2026 clocks go forward: Friday 17:00 GMT + 2 h → Monday 10:00 BST.
    assert uk.add_business_time(utc(2026, 3, 27, 17), 2 * H) == utc(2026, 3, 30, 9)
    # Friday 09:00 GMT → Monday 09:00 BST is 71 h elapsed but exactly 9 business hours.
    friday, monday = london(2026, 3, 27, 9), london(2026, 3, 30, 9)
    assert monday.astimezone(UTC) - friday.astimezone(UTC) == 71 * H
    assert uk.business_time_between(friday, monday) == 9 * H
    assert uk.add_business_time(friday, 9 * H) == utc(2026, 3, 27, 18)
    assert uk.add_business_time(friday, 9 * H + M) == utc(2026, 3, 30, 8, 1)


def test_add_across_the_autumn_change(uk):
    # Sunday 25 Oct 2026 clocks go back: Friday 17:00 BST + 2 h → Monday 10:00 GMT.
    assert uk.add_business_time(london(2026, 10, 23, 17), 2 * H) == utc(2026, 10, 26, 10)
    friday, monday = london(2026, 10, 23, 9), london(2026, 10, 26, 9)
    assert monday.astimezone(UTC) - friday.astimezone(UTC) == 73 * H
    assert uk.business_time_between(friday, monday) == 9 * H


def test_whole_weeks_across_dst(uk):
    # Mon 23 Mar - Fri 3 Apr: nine working days (Good Friday is a holiday).
    start = local_midnight(uk, date(2026, 3, 23))
    assert uk.business_time_between(start, local_midnight(uk, date(2026, 4, 4))) == 81 * H
    # Mon 19 Oct - Fri 30 Oct: ten working days.
    start = local_midnight(uk, date(2026, 10, 19))
    assert uk.business_time_between(start, local_midnight(uk, date(2026, 10, 31))) == 90 * H


# --- several intervals a day -------------------------------------------------------------------


def test_split_day_skips_lunch():
    assert day_length(SPLIT, date(2026, 1, 13)) == 8 * H
    assert SPLIT.add_business_time(utc(2026, 1, 13, 12), H) == utc(2026, 1, 13, 14)
    assert SPLIT.add_business_time(utc(2026, 1, 13, 12), 30 * M) == utc(2026, 1, 13, 12, 30)
    assert SPLIT.add_business_time(utc(2026, 1, 13, 12), 31 * M) == utc(2026, 1, 13, 13, 31)
    assert SPLIT.add_business_time(utc(2026, 1, 13, 12, 45), timedelta(0)) == utc(
        2026, 1, 13, 13, 30
    )
    assert SPLIT.add_business_time(utc(2026, 1, 13, 12, 45), M) == utc(2026, 1, 13, 13, 31)
    assert SPLIT.business_time_between(utc(2026, 1, 13, 12), utc(2026, 1, 13, 14)) == H
    assert SPLIT.business_time_between(utc(2026, 1, 13, 12, 30), utc(2026, 1, 13, 13, 30)) == (
        timedelta(0)
    )
    # Friday 17:30 + 4 h: 30 min on Friday, Monday 09:00-12:30, landing on the lunch break.
    assert SPLIT.add_business_time(utc(2026, 1, 16, 17, 30), 4 * H) == utc(2026, 1, 19, 12, 30)
    assert SPLIT.add_business_time(utc(2026, 1, 16, 17, 30), 4 * H + M) == utc(2026, 1, 19, 13, 31)
    # Summer, so UTC is an hour behind.
    assert SPLIT.add_business_time(london(2026, 6, 9, 12), H) == utc(2026, 6, 9, 13)
    assert not SPLIT.is_open(utc(2026, 1, 13, 12, 30))
    assert not SPLIT.is_open(utc(2026, 1, 13, 12, 45))
    assert SPLIT.is_open(utc(2026, 1, 13, 13, 30))
    assert SPLIT.is_open(utc(2026, 1, 13, 12, 29, 59))


def test_split_day_over_christmas():
    # Wed 23 Dec 17:00 + 2 h: 1 h on Wednesday, then Tuesday 29 Dec 09:00 + 1 h.
    assert SPLIT.add_business_time(utc(2026, 12, 23, 17), 2 * H) == utc(2026, 12, 29, 10)
    assert SPLIT.add_business_time(utc(2026, 12, 23, 17), 5 * H) == utc(2026, 12, 29, 14)


# --- 24:00 closing and overnight-adjacent intervals --------------------------------------------


def test_saturday_night_runs_into_sunday():
    saturday, sunday = date(2026, 1, 17), date(2026, 1, 18)
    assert OVERNIGHT.intervals_on(saturday) == ((utc(2026, 1, 17, 22), utc(2026, 1, 18)),)
    assert OVERNIGHT.intervals_on(sunday) == ((utc(2026, 1, 18), utc(2026, 1, 18, 2)),)
    assert OVERNIGHT.add_business_time(utc(2026, 1, 17, 23, 30), H) == utc(2026, 1, 18, 0, 30)
    assert OVERNIGHT.add_business_time(utc(2026, 1, 17, 23), 2 * H) == utc(2026, 1, 18, 1)
    assert OVERNIGHT.add_business_time(utc(2026, 1, 17, 23), 3 * H) == utc(2026, 1, 18, 2)
    assert OVERNIGHT.add_business_time(utc(2026, 1, 17, 23), 4 * H) == utc(2026, 1, 19, 10)
    assert OVERNIGHT.add_business_time(utc(2026, 1, 17, 12), H) == utc(2026, 1, 17, 23)
    assert OVERNIGHT.add_business_time(utc(2026, 1, 18), timedelta(0)) == utc(2026, 1, 18)
    assert OVERNIGHT.business_time_between(utc(2026, 1, 17, 21), utc(2026, 1, 18, 3)) == 4 * H
    assert OVERNIGHT.business_time_between(utc(2026, 1, 17, 23), utc(2026, 1, 18, 1)) == 2 * H
    # Friday 16:30 → Saturday 23:00 → Monday 10:00.
    assert OVERNIGHT.add_business_time(utc(2026, 1, 16, 16, 30), 5 * H + 30 * M) == utc(
        2026, 1, 19, 10
    )
    assert OVERNIGHT.is_open(utc(2026, 1, 17, 23, 59, 59, 999999))
    assert OVERNIGHT.is_open(utc(2026, 1, 18))
    assert OVERNIGHT.is_open(utc(2026, 1, 18, 1, 59))
    assert not OVERNIGHT.is_open(utc(2026, 1, 18, 2))
    assert not OVERNIGHT.is_open(utc(2026, 1, 17, 21, 59))


def test_night_shift_across_dst():
    # Sat 28 Mar 22:00 GMT - Sun 29 Mar 02:00 BST is three real hours.
    start, end = london(2026, 3, 28, 22), london(2026, 3, 29, 2)
    assert OVERNIGHT.business_time_between(start, end) == 3 * H
    assert OVERNIGHT.add_business_time(start, 3 * H) == utc(2026, 3, 29, 1)
    assert OVERNIGHT.add_business_time(start, 3 * H + M) == london(2026, 3, 30, 9, 1)
    # Sat 24 Oct 22:00 BST - Sun 25 Oct 02:00 GMT is five real hours.
    start, end = london(2026, 10, 24, 22), london(2026, 10, 25, 2)
    assert OVERNIGHT.business_time_between(start, end) == 5 * H
    assert OVERNIGHT.add_business_time(start, 5 * H) == utc(2026, 10, 25, 2)
    assert OVERNIGHT.add_business_time(start, 4 * H) == utc(2026, 10, 25, 1)


# --- DST changes inside opening hours ----------------------------------------------------------


def test_always_open_london_days_are_23_and_25_hours():
    cal = ALWAYS_LONDON
    for day, hours in [
        (date(2026, 3, 28), 24),
        (date(2026, 3, 29), 23),
        (date(2026, 3, 30), 24),
        (date(2026, 10, 24), 24),
        (date(2026, 10, 25), 25),
        (date(2026, 10, 26), 24),
    ]:
        start, end = local_midnight(cal, day), local_midnight(cal, day + timedelta(days=1))
        assert cal.business_time_between(start, end) == hours * H, day
        assert day_length(cal, day) == hours * H, day
    # Over the spring change, 1 h of business time from 00:30 GMT lands at 02:30 BST.
    assert cal.add_business_time(london(2026, 3, 29, 0, 30), H) == london(2026, 3, 29, 2, 30)
    # Over the autumn change, 3 h from 00:00 BST lands at 02:00 GMT.
    assert cal.add_business_time(london(2026, 10, 25), 3 * H) == london(2026, 10, 25, 2)


def test_lord_howe_half_hour_shift():
    cal = ALWAYS_LORD_HOWE
    for day, length in [
        (date(2026, 4, 5), 24 * H + 30 * M),
        (date(2026, 10, 4), 23 * H + 30 * M),
        (date(2026, 10, 5), 24 * H),
    ]:
        start, end = local_midnight(cal, day), local_midnight(cal, day + timedelta(days=1))
        assert cal.business_time_between(start, end) == length, day


def test_sao_paulo_midnight_changes():
    # Brazil's DST (until 2019) started and ended at local midnight.
    cal = ALWAYS_SAO_PAULO
    for day, hours in [
        (date(2018, 11, 3), 24),
        (date(2018, 11, 4), 23),  # 00:00 → 01:00: the day starts at 01:00
        (date(2019, 2, 16), 25),  # 24:00 → 23:00 again
        (date(2019, 2, 17), 24),
    ]:
        assert day_length(cal, day) == hours * H, day
    sao_paulo = ZoneInfo("America/Sao_Paulo")
    night = BusinessCalendar(
        "America/Sao_Paulo",
        weekdays([(time(9), time(18))], sat=[(time(22), time.max)], sun=[(time(0), time(2))]),
    )
    # Sat 3 Nov 2018 22:00 (-03) → Sun 4 Nov 02:00 (-02): 2 h + 1 h, no gap, no overlap.
    start = datetime(2018, 11, 3, 22, tzinfo=sao_paulo)
    end = datetime(2018, 11, 4, 2, tzinfo=sao_paulo)
    assert night.business_time_between(start, end) == 3 * H
    assert night.add_business_time(start, 2 * H) == utc(2018, 11, 4, 3)
    assert night.add_business_time(start, 3 * H) == utc(2018, 11, 4, 4)
    # Sat 16 Feb 2019 22:00 (-02) → Sun 17 Feb 02:00 (-03): 3 h + 2 h.
    start = datetime(2019, 2, 16, 22, tzinfo=sao_paulo)
    end = datetime(2019, 2, 17, 2, tzinfo=sao_paulo)
    assert night.business_time_between(start, end) == 5 * H


def test_boundaries_inside_the_spring_gap_do_not_count_twice():
    # 01:30 does not exist on 29 Mar 2026 in London: the clock jumps from 01:00 GMT to
    # 02:00 BST, when the second interval is already open. Business time cannot exceed the
    # 23 real hours of the day, and adding more time must never land earlier.
    cal = GAP
    day = date(2026, 3, 29)
    start, end = local_midnight(cal, day), local_midnight(cal, day + timedelta(days=1))
    assert cal.business_time_between(start, end) == 23 * H
    assert day_length(cal, day) == 23 * H
    assert cal.add_business_time(start, 90 * M) <= cal.add_business_time(start, 91 * M)
    assert cal.add_business_time(start, 23 * H) == end
    # An interval wholly inside the gap never happens.
    cal = BusinessCalendar("Europe/London", [[(time(1, 15), time(1, 45)), (time(2), time(3))]] * 7)
    assert day_length(cal, day) == H
    assert cal.intervals_on(day) == ((utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),)


def test_overlapping_intervals_count_once():
    cal = BusinessCalendar("UTC", [[(time(9), time(13)), (time(12), time(18))]] * 7)
    assert cal.business_time_between(utc(2026, 1, 13), utc(2026, 1, 14)) == 9 * H
    assert cal.add_business_time(utc(2026, 1, 13, 9), 9 * H) == utc(2026, 1, 13, 18)


# --- business_time_between and is_open ---------------------------------------------------------


def test_business_time_between_has_a_symmetric_sign(uk):
    pairs = [
        (utc(2026, 1, 13, 10), utc(2026, 1, 13, 12)),
        (utc(2026, 1, 16, 17, 55), utc(2026, 1, 19, 9, 55)),
        (utc(2026, 12, 23, 17), utc(2026, 12, 29, 10)),
        (utc(2026, 1, 17, 10), utc(2026, 1, 17, 12)),  # Saturday: zero either way
    ]
    for a, b in pairs:
        forward = uk.business_time_between(a, b)
        assert uk.business_time_between(b, a) == -forward
        assert forward >= timedelta(0)
    assert uk.business_time_between(utc(2026, 1, 16, 17, 55), utc(2026, 1, 19, 9, 55)) == H
    assert uk.business_time_between(utc(2026, 12, 29, 10), utc(2026, 12, 23, 17)) == -2 * H
    # From Mon 21 Dec to Mon 4 Jan 2027: 21-23 and 29-31 Dec are the only working days.
    assert uk.business_time_between(utc(2026, 12, 21, 9), utc(2027, 1, 4, 9)) == 54 * H


def test_is_open(uk):
    assert uk.is_open(utc(2026, 1, 13, 9))
    assert uk.is_open(utc(2026, 1, 13, 17, 59, 59, 999999))
    assert not uk.is_open(utc(2026, 1, 13, 18))
    assert not uk.is_open(utc(2026, 1, 13, 8, 59, 59))
    assert not uk.is_open(utc(2026, 1, 17, 12))  # Saturday
    assert not uk.is_open(utc(2026, 12, 24, 12))  # closure
    assert not uk.is_open(utc(2026, 12, 28, 12))  # Boxing Day (observed)
    assert not uk.is_open(london(2026, 4, 6, 12))  # Easter Monday
    assert uk.is_open(utc(2026, 12, 29, 9))
    # BST: 08:30 UTC is 09:30 in London.
    assert uk.is_open(utc(2026, 6, 9, 8, 30))
    assert not uk.is_open(utc(2026, 6, 9, 17, 30))
    assert uk.is_open(london(2026, 6, 9, 17, 30))


def test_calendar_time_is_plain_elapsed_time():
    start = utc(2026, 1, 16, 17, 55)
    assert CALENDAR_TIME.add_business_time(start, H) == utc(2026, 1, 16, 18, 55)
    assert CALENDAR_TIME.business_time_between(start, utc(2026, 1, 19, 9, 55)) == 64 * H
    assert CALENDAR_TIME.business_time_between(utc(2026, 1, 19, 9, 55), start) == -64 * H


# --- properties ---------------------------------------------------------------------------------

PROPERTY_CALENDARS = {"example": EXAMPLE, "split": SPLIT, "overnight": OVERNIGHT, "gap": GAP}
calendars = pytest.mark.parametrize("cal", PROPERTY_CALENDARS.values(), ids=PROPERTY_CALENDARS)
fast = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIRST, LAST = date(2024, 1, 1), date(2028, 12, 31)
any_instant = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
# Whole and half hours in London hit opening and closing instants exactly.
round_instant = st.builds(
    lambda day, hour, minute: datetime.combine(day, time(hour, minute), tzinfo=LONDON),
    st.dates(FIRST, LAST),
    st.integers(0, 23),
    st.sampled_from([0, 30]),
)


def last_sunday(year: int, month: int) -> date:
    day = date(year, month, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


# The days around each change of the clocks in London, to the minute.
DST_CHANGES = [last_sunday(y, m) for y in range(2024, 2029) for m in (3, 10)]
near_dst = st.builds(
    lambda day, minutes: (
        datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC) + minutes * M
    ),
    st.sampled_from(DST_CHANGES).map(lambda day: day - timedelta(days=2)),
    st.integers(0, 4 * 24 * 60),
)
instants = st.one_of(any_instant, round_instant, near_dst)
durations = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=200)),
    st.integers(0, 400).map(lambda n: n * 30 * M),
)
positive = durations.filter(lambda d: d > timedelta(0))
offsets = st.timedeltas(min_value=timedelta(days=-40), max_value=timedelta(days=40))


def within_an_interval(cal: BusinessCalendar, moment: datetime) -> bool:
    """Inside an opening interval, its closing instant included."""
    day = moment.astimezone(cal.zone).date()
    intervals = cal.intervals_on(day - timedelta(days=1)) + cal.intervals_on(day)
    return any(opens < moment <= closes for opens, closes in intervals)


@calendars
@fast
@given(start=instants, duration=durations)
def test_adding_then_measuring_returns_the_duration(cal, start, duration):
    result = cal.add_business_time(start, duration)
    assert result >= start
    assert result.tzinfo is UTC
    assert cal.business_time_between(start, result) == duration


@calendars
@fast
@given(start=instants, duration=positive)
def test_results_never_land_outside_opening_hours(cal, start, duration):
    result = cal.add_business_time(start, duration)
    day = result.astimezone(cal.zone).date()
    ends = {c for d in (day - timedelta(days=1), day) for _, c in cal.intervals_on(d)}
    assert cal.is_open(result) or result in ends
    assert within_an_interval(cal, result)


@calendars
@fast
@given(start=instants)
def test_zero_duration_lands_on_an_open_instant(cal, start):
    result = cal.add_business_time(start, timedelta(0))
    assert cal.is_open(result)
    # Compared in UTC: a local time in a DST gap never equals another zone's datetime (PEP 495),
    # though it names the same instant.
    assert result == start.astimezone(UTC) or not cal.is_open(start)
    assert cal.business_time_between(start, result) == timedelta(0)


@calendars
@fast
@given(start=instants, later_by=offsets, duration=durations)
def test_monotonic_in_the_start(cal, start, later_by, duration):
    s1, s2 = sorted([start, start + later_by])
    assert cal.add_business_time(s1, duration) <= cal.add_business_time(s2, duration)


@calendars
@fast
@given(start=instants, d1=durations, d2=durations)
def test_monotonic_in_the_duration(cal, start, d1, d2):
    d1, d2 = sorted([d1, d2])
    assert cal.add_business_time(start, d1) <= cal.add_business_time(start, d2)


@calendars
@fast
@given(start=instants, a=positive, b=positive)
def test_adding_is_additive(cal, start, a, b):
    assert cal.add_business_time(cal.add_business_time(start, a), b) == cal.add_business_time(
        start, a + b
    )


@calendars
@fast
@given(a=instants, to_b=offsets, to_c=offsets)
def test_measuring_is_additive(cal, a, to_b, to_c):
    b, c = a + to_b, a + to_c
    between = cal.business_time_between
    assert between(a, b) + between(b, c) == between(a, c)
    assert between(b, a) == -between(a, b)


@calendars
@fast
@given(a=instants, to_b=offsets)
def test_business_time_never_exceeds_elapsed_time(cal, a, to_b):
    a, b = sorted([a, a + to_b])
    assert timedelta(0) <= cal.business_time_between(a, b) <= b - a


@calendars
@fast
@given(moment=instants)
def test_is_open_agrees_with_measuring(cal, moment):
    # Opening hours change on whole minutes, so over the next second it is open throughout
    # or closed throughout.
    moment = moment.replace(microsecond=0)
    second = timedelta(seconds=1)
    assert cal.is_open(moment) == (cal.business_time_between(moment, moment + second) == second)


SPRING_CHANGES = [day for day in DST_CHANGES if day.month == 3]
near_spring_gap = st.builds(
    lambda day, minutes: (
        datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC) + minutes * M
    ),
    st.sampled_from(SPRING_CHANGES).map(lambda day: day - timedelta(days=1)),
    st.integers(0, 2 * 24 * 60),
)
short = st.integers(0, 48 * 60).map(lambda n: n * M)


@fast
@given(start=near_spring_gap, d1=short, d2=short)
def test_gap_calendar_around_the_spring_change(start, d1, d2):
    d1, d2 = sorted([d1, d2])
    r1, r2 = GAP.add_business_time(start, d1), GAP.add_business_time(start, d2)
    assert r1 <= r2
    assert GAP.business_time_between(start, r2) == d2
    assert GAP.business_time_between(r1, r2) <= r2 - r1


@pytest.mark.parametrize("cal", [ALWAYS_LONDON, ALWAYS_LORD_HOWE], ids=["london", "lord_howe"])
@fast
@given(start=instants, duration=durations, later_by=offsets)
def test_always_open_is_elapsed_time(cal, start, duration, later_by):
    start = start.astimezone(UTC)  # aware arithmetic within one zone is wall-clock arithmetic
    assert cal.add_business_time(start, duration) == start + duration
    assert cal.business_time_between(start, start + later_by) == later_by


def test_rules_changed_by_copy_get_their_own_calendar():
    rules = load_rules(EXAMPLE_CONFIG)
    hours = rules.business_hours.model_copy(update={"timezone": "America/New_York"})
    moved = rules.model_copy(update={"business_hours": hours})
    assert moved.calendar.zone == ZoneInfo("America/New_York")
    assert rules.calendar.zone == LONDON  # the original keeps its own
    assert rules.model_copy(update={"agents": []}).calendar is rules.calendar
    # The roster's own working weeks follow a copy's roster and zone.
    priya = rules.agents[0].model_copy(update={"works": {"mon": [(time(9), time(13))]}})
    rostered = rules.model_copy(update={"agents": [priya]})
    assert rules.agent_calendar(priya) is None
    assert rostered.agent_calendar(priya).intervals_on(date(2026, 3, 2)) == (
        (datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 13, tzinfo=UTC)),
    )
    in_new_york = rostered.model_copy(update={"business_hours": hours})
    assert in_new_york.agent_calendar(priya).zone == ZoneInfo("America/New_York")
    assert rules.model_copy(update={"business_hours": None}).calendar is None


# The calendars with their opening intervals laid out for bisection (BusinessCalendar's
# timeline) must answer exactly as walking the intervals one by one, as defined.
WALKED = [*PROPERTY_CALENDARS.values(), OVERNIGHT, GAP, ALWAYS_LORD_HOWE, ALWAYS_SAO_PAULO]
walked = pytest.mark.parametrize("cal", WALKED)


@walked
@fast
@given(start=instants, duration=durations)
def test_adding_by_bisection_equals_walking_the_intervals(cal, start, duration):
    assert cal.add_business_time(start, duration) == cal._walk_add(start.astimezone(UTC), duration)


@walked
@fast
@given(a=instants, to_b=offsets)
def test_measuring_by_bisection_equals_walking_the_intervals(cal, a, to_b):
    b = a + to_b
    expected = (
        cal._walk_between(a.astimezone(UTC), b.astimezone(UTC))
        if b >= a
        else -cal._walk_between(b.astimezone(UTC), a.astimezone(UTC))
    )
    assert cal.business_time_between(a, b) == expected


@pytest.mark.source_only  # replaces a calendar's method: a compiled calendar's is read-only
def test_a_timeline_is_not_used_where_days_overlap():
    # A day's intervals never overlap once merged, and touching ones (Saturday to 24:00,
    # Sunday from 00:00) are fine; overlapping days could only come from a zone's clock going
    # back across midnight: here the calendar is made to lay out two overlapping intervals.
    cal = BusinessCalendar("Europe/London", weekdays(NINE_TO_SIX))
    monday = date(2026, 3, 2)
    assert cal._timeline(monday, monday + timedelta(days=3)) is not None
    laid_out = cal.intervals_on
    first = laid_out(monday)[0]
    overlapping = (first[0], first[1] + timedelta(days=1))  # runs past Tuesday's opening
    cal.intervals_on = lambda day: (overlapping,) if day == monday else laid_out(day)
    cal._kept = None
    assert cal._timeline(monday, monday + timedelta(days=3)) is None
    start = utc(2026, 3, 2, 10)
    assert cal.add_business_time(start, 30 * H) == cal._walk_add(start, 30 * H)


# Any calendar: opening hours on 15-minute boundaries (up to three intervals a day, 24:00
# closing, closed days), closure dates, in zones with DST, half-hour DST and midnight changes.
ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Pacific/Auckland",
    "Asia/Beirut",
]


@st.composite
def day_hours(draw) -> list[tuple[time, time]]:
    cuts = sorted(set(draw(st.lists(st.integers(0, 96), max_size=6))))
    hours = []
    for opens, closes in zip(cuts[::2], cuts[1::2], strict=False):
        closing = time.max if closes == 96 else time(closes // 4, closes % 4 * 15)
        hours.append((time(opens // 4, opens % 4 * 15), closing))
    return hours


@st.composite
def any_calendar(draw) -> BusinessCalendar:
    week = [draw(day_hours()) for _ in range(7)]
    if not any(week):
        week[0] = NINE_TO_SIX
    offsets = draw(st.lists(st.integers(0, 400), max_size=30))
    closures = frozenset(date(2026, 1, 1) + timedelta(days=n) for n in offsets)
    return BusinessCalendar(draw(st.sampled_from(ZONES)), week, holidays=closures)


quarter_hours = st.builds(
    lambda quarters, seconds: utc(2026, 1, 1) + quarters * 15 * M + timedelta(seconds=seconds),
    st.integers(0, 365 * 24 * 4),
    st.integers(0, 899),
)


@fast
@given(cal=any_calendar(), start=quarter_hours, other=quarter_hours, minutes=st.integers(0, 43200))
def test_any_calendar_answers_by_bisection_as_by_walking(cal, start, other, minutes):
    duration = minutes * M
    due = cal.add_business_time(start, duration)
    assert due == cal._walk_add(start, duration)
    assert cal.business_time_between(start, due) == duration
    a, b = sorted([start, other])
    assert cal.business_time_between(a, b) == cal._walk_between(a, b)
    # Again on the calendar as the first questions left it (its kept timeline grown).
    assert cal.add_business_time(other, duration) == cal._walk_add(other, duration)


def test_closed_from_is_the_moment_itself_when_closed_else_the_closing_of_its_opening():
    always = BusinessCalendar("Europe/London", [[(time(0), time.max)]] * 7)
    assert [
        EXAMPLE.closed_from(london(2026, 1, 16, 17, 59)),  # Friday: closes at 18:00
        EXAMPLE.closed_from(london(2026, 1, 16, 18, 1)),  # closed already
        EXAMPLE.closed_from(london(2026, 1, 17, 10)),  # Saturday
        SPLIT.closed_from(london(2026, 1, 16, 12)),  # lunch
        OVERNIGHT.closed_from(london(2026, 1, 17, 23)),  # Saturday night runs into Sunday
        always.closed_from(london(2026, 1, 16, 12)),  # never closes
    ] == [
        utc(2026, 1, 16, 18),
        utc(2026, 1, 16, 18, 1),
        utc(2026, 1, 17, 10),
        utc(2026, 1, 16, 12, 30),
        utc(2026, 1, 18, 2),
        None,
    ]
