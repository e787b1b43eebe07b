"""Business calendar arithmetic (pure): opening hours per weekday in a timezone, minus
holidays and closure dates. All arithmetic is done in UTC on the real instants of each opening
interval, so DST changes, midnight and back-to-back holidays need no special cases."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from deskbridge.config.rules import BusinessHoursConfig

# A calendar with no opening hours for this long is refused rather than searched forever.
MAX_SEARCH_DAYS = 3660


def merge_intervals(
    intervals: Iterable[tuple[datetime, datetime]],
) -> tuple[tuple[datetime, datetime], ...]:
    """Half-open intervals in order, overlapping ones merged into one."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


class BusinessCalendar:
    """`week[0]` is Monday: a list of (open, close) local times; close may be 24:00 as
    time.max. `closed_on(day)` says whether a local date is a holiday or closure."""

    def __init__(
        self,
        timezone: str,
        week: list[list[tuple[time, time]]],
        holidays: frozenset[date] | None = None,
        holiday_calendar: object | None = None,
    ):
        if len(week) != 7:
            raise ValueError("week needs 7 days, Monday first")
        if not any(week):
            raise ValueError("a business calendar needs some opening hours")
        self.zone = ZoneInfo(timezone)
        self.week = [sorted(day) for day in week]
        self._closures = holidays or frozenset()
        # A `holidays` package calendar: membership expands to new years on demand.
        self._holiday_calendar = holiday_calendar

    def closed_on(self, day: date) -> bool:
        if day in self._closures:
            return True
        return self._holiday_calendar is not None and day in self._holiday_calendar

    @lru_cache(maxsize=4096)  # noqa: B019 — calendars live as long as the config
    def intervals_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's opening intervals as UTC instants."""
        if self.closed_on(day):
            return ()
        out = []
        for opens, closes in self.week[day.weekday()]:
            start = datetime.combine(day, opens, tzinfo=self.zone)
            end = (
                datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
                if closes == time.max
                else datetime.combine(day, closes, tzinfo=self.zone)
            )
            start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
            if end_utc > start_utc:
                out.append((start_utc, end_utc))
        # A boundary in a spring-forward gap maps past the jump (and configured intervals may
        # overlap): merge overlaps so no instant counts twice and intervals stay in order.
        return merge_intervals(out)

    def _intervals_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        day = moment.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(MAX_SEARCH_DAYS):
            yield from self.intervals_on(day + timedelta(days=offset))
        raise ValueError(f"no opening hours within {MAX_SEARCH_DAYS} days of {moment}")

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when `duration` of business time has passed since `start`."""
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        start = start.astimezone(UTC)
        remaining = duration
        for opens, closes in self._intervals_from(start):
            if closes <= start:
                continue
            begin = max(opens, start)
            available = closes - begin
            if remaining <= available:
                if remaining == timedelta(0):
                    return begin
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable")

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time in [a, b); negative when b is before a."""
        if b < a:
            return -self.business_time_between(b, a)
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        total = timedelta(0)
        for opens, closes in self._intervals_from(a):
            if opens >= b:
                break
            overlap = min(closes, b) - max(opens, a)
            if overlap > timedelta(0):
                total += overlap
        return total

    def is_open(self, moment: datetime) -> bool:
        moment = moment.astimezone(UTC)
        day = moment.astimezone(self.zone).date()
        return any(
            opens <= moment < closes
            for d in (day - timedelta(days=1), day)
            for opens, closes in self.intervals_on(d)
        )


class CalendarTime:
    """The same interface over plain elapsed time (targets measured in calendar time)."""

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        return b - a


CALENDAR_TIME = CalendarTime()


def build_calendar(config: BusinessHoursConfig, default_timezone: str) -> BusinessCalendar:
    """The calendar a rules file's `business_hours` describe (in the team's timezone unless
    they name their own)."""
    holiday_calendar = None
    if config.holidays is not None:
        import holidays  # only teams with public holidays pay for loading it

        holiday_calendar = holidays.country_holidays(
            config.holidays.country, subdiv=config.holidays.subdivision
        )
    week = [
        list(config.week.get(day, [])) for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    ]
    return BusinessCalendar(
        config.timezone or default_timezone,
        week,
        holidays=frozenset(config.closures),
        holiday_calendar=holiday_calendar,
    )
