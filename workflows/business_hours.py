"""Business calendar arithmetic (pure): opening hours per weekday in a timezone, minus
holidays and closure dates. All arithmetic is done in UTC on the real instants of each opening
interval, so DST changes, midnight and back-to-back holidays need no special cases."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate, islice, pairwise
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from deskbridge.config.rules import BusinessHoursConfig

# Days in a row without opening hours (holidays and closures can close every day of a
# stretch) after which a calendar is refused rather than searched forever. A span of any
# length is walked: the walk stops at the span's end (or where the business time runs out).
MAX_CLOSED_DAYS = 3660
# Openings closed_from looks through for a closing: three weeks of split days, and then some.
_CLOSING_LOOKAHEAD = 64
# Days of opening intervals a calendar first lays out for bisection (a deadline is rarely
# further), and the most it keeps (beyond that it walks the days).
TIMELINE_DAYS = 16
# Days before the first question's the first timeline lays out too (see _timeline).
TIMELINE_LOOKBACK_DAYS = 7
TIMELINE_MOST_DAYS = 4000


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


def open_per_week(week: Iterable[Iterable[tuple[time, time]]]) -> timedelta:
    """The opening hours of a week as written, overlapping hours once (holidays and clock
    changes aside). `week` lists each day's (open, close) local times; close may be time.max."""
    total = timedelta(0)
    for day in week:
        spans = [(_since_midnight(opens), _since_midnight(closes)) for opens, closes in day]
        reached = timedelta(0)
        for opens, closes in sorted(spans):
            total += max(closes - max(opens, reached), timedelta(0))
            reached = max(reached, closes)
    return total


def _since_midnight(moment: time) -> timedelta:
    if moment == time.max:  # 24:00
        return timedelta(days=1)
    return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second)


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
        self._holiday_calendar: Any = holiday_calendar
        # The opening intervals of a stretch of days, for bisection (see _timeline).
        self._kept: _Timeline | None = None

    def closed_on(self, day: date) -> bool:
        if day in self._closures:
            return True
        return self._holiday_calendar is not None and day in self._holiday_calendar

    @lru_cache(maxsize=4096)  # noqa: B019 — calendars live as long as the config
    def intervals_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's opening intervals as UTC instants."""
        return () if self.closed_on(day) else self.weekly_intervals_on(day)

    @lru_cache(maxsize=4096)  # noqa: B019 — calendars live as long as the config
    def weekly_intervals_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The intervals the week lists for the day's weekday, as UTC instants, whether or not
        the day is a holiday or closure."""
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
        day = moment.astimezone(self.zone).date() - _ONE_DAY
        closed = 0
        while True:
            intervals = self.intervals_on(day)
            if intervals:
                closed = 0
                yield from intervals
            else:
                closed += 1
                if closed >= MAX_CLOSED_DAYS:
                    raise ValueError(f"no opening hours in the {MAX_CLOSED_DAYS} days to {day}")
            day += _ONE_DAY

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when `duration` of business time has passed since `start`."""
        if duration < _NO_TIME:
            raise ValueError("duration must not be negative")
        start = start.astimezone(UTC)
        kept = self._kept
        if kept is not None and kept.covers_from <= start:  # the usual case: no date sums
            found = kept.add(start, duration)
            if found is not None:
                return found
        day = start.astimezone(self.zone).date() - _ONE_DAY
        span = _TIMELINE_SPAN
        while span.days <= TIMELINE_MOST_DAYS:
            timeline = self._timeline(day, day + span)
            if timeline is None:
                break
            found = timeline.add(start, duration)
            if found is not None:
                return found
            span *= 4  # not enough business time in that stretch: look further
        return self._walk_add(start, duration)

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time in [a, b); negative when b is before a."""
        if b < a:
            return -self.business_time_between(b, a)
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        kept = self._kept
        if kept is not None and kept.covers_from <= a and b <= kept.covers_until:
            return kept.position(b) - kept.position(a)
        first = a.astimezone(self.zone).date() - _ONE_DAY
        timeline = self._timeline(first, b.astimezone(self.zone).date() + _ONE_DAY)
        if timeline is None:
            return self._walk_between(a, b)
        return timeline.position(b) - timeline.position(a)

    # The arithmetic interval by interval, as defined: what the timeline computes with
    # bisection, and what is used where there is no timeline (overlapping days, far spans).

    def _walk_add(self, start: datetime, duration: timedelta) -> datetime:
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

    def _walk_between(self, a: datetime, b: datetime) -> timedelta:
        total = timedelta(0)
        for opens, closes in self._intervals_from(a):
            if opens >= b:
                break
            overlap = min(closes, b) - max(opens, a)
            if overlap > timedelta(0):
                total += overlap
        return total

    def _timeline(self, first: date, last: date) -> _Timeline | None:
        """The opening intervals of the local days first..last (at least), in one sorted
        sequence with the business time before each; None when the days' intervals overlap
        (then only the walk is exact) or the stretch is too long to keep."""
        timeline = self._kept
        if timeline is not None and timeline.first <= first and last <= timeline.last:
            return timeline
        if timeline is not None:  # grow the kept one, so neighbouring questions reuse it
            first, last = min(first, timeline.first), max(last, timeline.last)
        else:
            # The first one starts days before the first question: a clock that started
            # before it (a ticket's creation, the day before) is otherwise before the kept
            # timeline's covers_from, and every sum from it took the slow path (96% of them on
            # the generated week's first 6,000 lines).
            first -= _LOOKBACK
        if (last - first).days > TIMELINE_MOST_DAYS:
            return None
        intervals = [
            interval
            for offset in range((last - first).days + 1)
            for interval in self.intervals_on(first + timedelta(days=offset))
        ]
        if any(opens < closes for (_, closes), (opens, _) in pairwise(intervals)):
            return None
        timeline = _Timeline(first, last, intervals, self.zone)
        self._kept = timeline
        return timeline

    def open_from(self, moment: datetime) -> datetime:
        """`moment` when open then, else the next opening (a closing instant is closed)."""
        return self.add_business_time(moment, _NO_TIME)

    def closed_from(self, moment: datetime) -> datetime | None:
        """The first instant at or after `moment` outside business hours (`moment` itself when
        closed then, else when the opening it falls in ends); None for hours that never close
        (every day round the clock) within the weeks looked at."""
        moment = moment.astimezone(UTC)
        for opens, closes in islice(self._intervals_from(moment), _CLOSING_LOOKAHEAD):
            if closes <= moment:
                continue
            if opens > moment:
                return moment
            moment = closes  # open until then; a next opening may follow at once
        return None

    def is_open(self, moment: datetime) -> bool:
        moment = moment.astimezone(UTC)
        day = moment.astimezone(self.zone).date()
        return any(
            opens <= moment < closes
            for d in (day - _ONE_DAY, day)
            for opens, closes in self.intervals_on(d)
        )


class _Timeline:
    """Opening intervals in order, none overlapping, with the business time before each: an
    instant's business position is one bisection, not a walk over the days before it."""

    def __init__(
        self, first: date, last: date, intervals: list[tuple[datetime, datetime]], zone: ZoneInfo
    ):
        self.first, self.last = first, last
        # Instants whose arithmetic needs no interval outside this timeline: from the start
        # of the day after next (a local date the day before which is `first` or later,
        # whatever the zone does around midnight) to the last closing.
        midnight = datetime.combine(first + timedelta(days=2), time(0), tzinfo=zone)
        self.covers_from = midnight.astimezone(UTC)
        self.covers_until = intervals[-1][1] if intervals else self.covers_from
        self.opens = [opens for opens, _ in intervals]
        self.closes = [closes for _, closes in intervals]
        self.before = list(accumulate((c - o for o, c in intervals), initial=timedelta(0)))

    def position(self, moment: datetime) -> timedelta:
        """Business time from the first interval's opening to `moment`."""
        i = bisect_right(self.closes, moment)  # the first interval still open after it
        if i == len(self.closes):
            return self.before[i]
        into = moment - self.opens[i]
        return self.before[i] + into if into > _NO_TIME else self.before[i]

    def add(self, start: datetime, duration: timedelta) -> datetime | None:
        """The instant `duration` of business time after `start`, or None when it lies
        beyond the timeline's last interval."""
        target = self.position(start) + duration
        before = self.before
        # The first interval whose end is at or past the target (the end itself when the
        # target falls exactly there: that instant, not the next opening).
        k = bisect_left(before, target, lo=bisect_right(self.closes, start) + 1) - 1
        if k >= len(self.opens):
            return None
        return self.opens[k] + (target - before[k])


# Made once: the SLA rule plans three stage timers per clock change (100,000 additions and
# 170,000 positions on a replayed week), and `timedelta(0)` is a call each time.
_NO_TIME = timedelta(0)
# The same for the days the calendar steps by: `timedelta(days=1)` costs ten times a date's
# subtraction (its keywords parsed), and a sum or span the kept timeline does not answer made
# two (three per event on the generated week).
_ONE_DAY = timedelta(days=1)
_TIMELINE_SPAN = timedelta(days=TIMELINE_DAYS)
_LOOKBACK = timedelta(days=TIMELINE_LOOKBACK_DAYS)


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
        # Only teams with public holidays pay for loading it, and for their country alone.
        from deskbridge.workflows.lazy_imports import country_holidays

        holiday_calendar = country_holidays(
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
