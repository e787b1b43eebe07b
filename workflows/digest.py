"""The leads' review (pure): per-agent responses against their tenure target, first-reply times,
unnecessary responses, calls, solves, SLA, departments, escalations, repeat contacts and the
recurring problem categories, for one local day or one week of the team's timezone.

Definitions (the README says the same):
- every figure is dated by the helpdesk's time (an event's, a deadline's, a ticket's creation),
  never by when deskbridge received or decided it: a late delivery counts on its own day;
- a *response* is a public written agent reply (one per comment id), credited to its author
  through the roster; authors not on the roster are reported as unmapped; a shift past
  midnight (hours to 24:00, then from 00:00 the next day) is the day's it began on: its replies
  count on that day, so such an agent's day runs from the end of the shift before; a review
  built while its day runs counts the shifts begun by then (one not begun has no target),
  judges a shift still running on the straight line over its hours to `now` (the pace
  checks' line: not behind for hours still to work), and judges such an agent whose shift
  is still to begin on the latest shift no review posted before could judge whole (begun or
  still running after the last posted review, back over weekends and holidays);
- the *target* is the daily target of the highest `coaching.targets` tier whose
  `from_months` full calendar months since `started_on` have passed on that day (an agent
  without `started_on` gets the highest tier), summed over the days the agent begins a shift from
  `started_on`; an agent who starts after the period is not listed with a target (only if
  they replied, like a lead);
- *first reply time* is the business time (the team calendar) from a ticket's creation to its
  first public agent reply, credited to that reply's author, for first replies in the period;
  median and 90th percentile (nearest rank) in minutes;
- an *unnecessary response* is a public reply by the same agent on the same ticket within
  `coaching.unnecessary_window` of their previous one, with no customer message in between;
- a category *spikes* when its count is at least 3 and at least twice its average over the
  four weeks before the period (per day for a daily review, per week for a weekly one); only
  once the store's categories go back that far (its first one dated on or before the first of
  those days): in a team's first four weeks the average would divide a week or two by four,
  and every category would read as a spike.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any, Literal
from zoneinfo import ZoneInfo

from deskbridge.config.rules import AgentConfig, RulesConfig, is_coached
from deskbridge.workflows import activity as facts
from deskbridge.workflows.business_hours import CALENDAR_TIME, BusinessCalendar, CalendarTime
from deskbridge.workflows.memo import Memo

METRICS = ("first_reply", "next_reply", "resolution")
TRAILING_WEEKS = 4
SPIKE_FACTOR = 2.0
SPIKE_MINIMUM = 3


@dataclass(frozen=True)
class Period:
    kind: Literal["day", "week"]
    first: date
    last: date  # inclusive
    start: datetime  # aware UTC
    end: datetime  # exclusive; "now" for a period still running
    # (slack id, start, end) of agents whose days are not the period's: a shift past midnight
    # is the day's it started on, so their period runs from the end of the shift begun the
    # day before it to the end of the one begun on its last day (cut at "now" like `end`).
    own_windows: tuple[tuple[str, datetime, datetime], ...] = ()
    # (slack id, day) of agents a day's review judges on another day's shift: while the day
    # runs, one whose shift of the day has not begun yet is judged on the latest shift that
    # no review posted before could judge whole (`_uncovered_shift`).
    shift_days: tuple[tuple[str, date], ...] = ()
    # When the period was built, for one still running (or with a shift still running): a
    # shift under way is judged on its hours so far. None: every shift judged whole.
    now: datetime | None = None

    def read_windows(
        self, count: Callable[[datetime, datetime], dict[tuple[str, str | None], int]]
    ) -> dict[str, dict[tuple[str, str | None], int]]:
        """`count` (a store's response count) in each agent's own window, by Slack id; each
        window counted once (agents on the same shifts share it)."""
        counted: dict[tuple[datetime, datetime], dict[tuple[str, str | None], int]] = {}
        for _, start, end in self.own_windows:
            if (start, end) not in counted:
                counted[(start, end)] = count(start, end)
        return {slack_id: counted[(start, end)] for slack_id, start, end in self.own_windows}

    @property
    def trailing_start(self) -> datetime:
        return self.start - timedelta(weeks=TRAILING_WEEKS)

    @property
    def trailing_units(self) -> int:
        return TRAILING_WEEKS * (7 if self.kind == "day" else 1)


def build_period(
    rules: RulesConfig, day: date, week: bool = False, now: datetime | None = None
) -> Period:
    """The local day (or Monday-to-Sunday week) holding `day`, cut at `now` if it is running."""
    zone = ZoneInfo(rules.team.timezone)
    first = day - timedelta(days=day.weekday()) if week else day
    last = first + timedelta(days=6 if week else 0)
    start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    own, earlier = [], []
    for agent in rules.agents:
        if not _past_midnight(rules, agent):  # most agents: their days are the period's
            continue
        uncovered = None if week or now is None else _uncovered_shift(rules, agent, first, now)
        if uncovered is not None:
            judged, *window = uncovered
            own.append((agent.slack_id, *window))
            earlier.append((agent.slack_id, judged))
            continue
        begins = _day_begins(rules, agent, first, start)
        ends = _day_begins(rules, agent, last + timedelta(days=1), end)
        if (begins, ends) != (start, end):
            if now is not None:
                ends = max(begins, min(ends, now))
            own.append((agent.slack_id, begins, ends))
    if now is not None:
        end = max(start, min(end, now))
    return Period(
        "week" if week else "day", first, last, start, end, tuple(own), tuple(earlier), now
    )


def posts_review(rules: RulesConfig, day: date) -> bool:
    """Whether the daily review posts on local `day`: on the team's business days (not on a
    weekend, holiday or closure), every day for a team without business hours."""
    calendar = rules.calendar
    return calendar is None or bool(calendar.intervals_on(day))


def posts_weekly_review(rules: RulesConfig, day: date, weekday: int) -> bool:
    """Whether the weekly review posts on local `day`: on its weekday; when that day is a
    holiday or closure of a day the team works (Good Friday), on the team's last business day
    before it in the same week instead, so the leads have it while they are in and it covers
    the same Monday-to-Sunday week. A weekday the team never works keeps it (the team chose it)."""
    if day.weekday() > weekday:
        return False
    chosen = day + timedelta(days=weekday - day.weekday())
    calendar = rules.calendar
    if calendar is None or not calendar.weekly_intervals_on(chosen) or posts_review(rules, chosen):
        return day == chosen
    return posts_review(rules, day) and not any(
        posts_review(rules, day + timedelta(days=n)) for n in range(1, (chosen - day).days)
    )


# How far back the last posted review is looked for (a long closure, a calendar with no hours).
REVIEW_LOOKBACK = timedelta(days=31)


def _uncovered_shift(
    rules: RulesConfig, agent: AgentConfig, day: date, now: datetime
) -> tuple[date, datetime, datetime] | None:
    """While local `day` runs (at `now`), when the agent's shift of `day` has not begun yet:
    the latest shift no daily review posted before could judge whole (begun after the last
    one, or still running when it posted: a night shift after a Friday's 17:30 review, over a
    weekend or a holiday), as its day and the agent's own window of that day. None when
    every shift since was judged whole, or the day's shift has begun."""
    today = working_intervals(rules, agent, day)
    if today and today[0][0] <= now:
        return None
    zone = ZoneInfo(rules.team.timezone)
    midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    if now < midnight:
        return None
    last = day - timedelta(days=1)
    while not posts_review(rules, last) and day - last < REVIEW_LOOKBACK:
        last -= timedelta(days=1)
    posted = datetime.combine(last, rules.coaching.digest.daily_at, tzinfo=zone).astimezone(UTC)
    earlier = day - timedelta(days=1)
    while earlier >= last:
        shifts = working_intervals(rules, agent, earlier)
        if shifts and shifts[-1][1] > posted:
            begins = datetime.combine(earlier, time(0), tzinfo=zone).astimezone(UTC)
            return earlier, _day_begins(rules, agent, earlier, begins), min(shifts[-1][1], now)
        earlier -= timedelta(days=1)
    return None


def _day_begins(rules: RulesConfig, agent: AgentConfig, day: date, midnight: datetime) -> datetime:
    """When the agent's local `day` begins: at `midnight`, or when the shift they began the
    day before ends, if it runs past midnight."""
    shifts = working_intervals(rules, agent, day - timedelta(days=1))
    return max(midnight, shifts[-1][1]) if shifts else midnight


@dataclass(frozen=True)
class FirstReply:
    """A ticket's first public agent reply, dated in the period."""

    ticket: str
    author: str | None
    created_at: datetime  # the ticket's creation
    at: datetime


@dataclass(frozen=True)
class RepeatedReply:
    """A public reply dated in the period that follows the same author's previous reply on the
    ticket with no customer message in between (unnecessary when within the window)."""

    ticket: str
    author: str
    previous: datetime
    at: datetime


# (kind, detail, helpdesk, person) of a fact.
FactGroup = tuple[str, str | None, str, str | None]


@dataclass
class PeriodData:
    """What the store holds for a period (store/activity.py reads it, counting in SQL)."""

    # Public replies dated in the period per (helpdesk, author id); None: no author id.
    responses: dict[tuple[str, str | None], int] = field(default_factory=dict)
    # The same in the period's own window of an agent whose shifts run past midnight, by
    # Slack id (`Period.own_windows`).
    own_responses: dict[str, dict[tuple[str, str | None], int]] = field(default_factory=dict)
    # Tickets whose first reply is dated in the period (tickets with a creation time).
    first_replies: list[FirstReply] = field(default_factory=list)
    # Replies in the period after the same author's previous one, no customer message between,
    # ordered by ticket and time.
    repeated_replies: list[RepeatedReply] = field(default_factory=list)
    # Facts dated in the period (the kinds the review counts), counted per group.
    facts: dict[FactGroup, int] = field(default_factory=dict)
    # Tickets opened in the period whose requester opened another on the same helpdesk within
    # the repeat window before.
    repeat_contacts: int = 0
    # Tickets escalated in the period (a ticket raised to the leads after the specialists is
    # two escalations, one ticket).
    escalated_tickets: int = 0
    # Category counts in the period and in the four weeks before it.
    categories: dict[str, int] = field(default_factory=dict)
    trailing_categories: dict[str, int] = field(default_factory=dict)
    # When the store's category counts begin (its earliest category); None: none yet.
    categories_since: datetime | None = None

    def count_facts(self, kind: str) -> int:
        return sum(n for (k, _, _, _), n in self.facts.items() if k == kind)


def describe_period(kind: str, digest: dict) -> str:
    day = date.fromisoformat(digest["date"])
    if kind == "week":
        return f"week of {day:%a %d %b %Y}"
    return f"{day:%a %d %b %Y}"


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has fewer days."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def tenure_months(started_on: date, day: date) -> int:
    """Full calendar months from `started_on` to `day` (3 months from 2 June is 2 September)."""
    months = (day.year - started_on.year) * 12 + day.month - started_on.month
    while months > 0 and add_months(started_on, months) > day:
        months -= 1
    return max(months, 0)


def daily_target(rules: RulesConfig, agent: AgentConfig, day: date) -> int:
    targets = rules.coaching.targets
    if agent.started_on is None:
        return targets[-1].responses
    months = tenure_months(agent.started_on, day)
    return [t for t in targets if t.from_months <= months][-1].responses


def working_intervals(
    rules: RulesConfig, agent: AgentConfig, day: date
) -> tuple[tuple[datetime, datetime], ...]:
    """The agent's shifts that begin on a local day, as UTC instants (`_hours_on`). A shift
    past midnight is written as the config asks, split there ("22:00-24:00" on one day,
    "00:00-06:00" on the next): hours that end at midnight and hours that start at the next
    midnight are one shift, the day's it began on. So a night agent's five shifts are five
    days' targets, not six, and their Tuesday morning is Monday's shift. A whole day's hours
    (00:00-24:00) are that day's own, so round-the-clock hours are one shift a day."""
    hours = _hours_on(rules, agent, day)
    if not hours or not _past_midnight(rules, agent):
        return hours
    # Told apart by the roster's week, not by the days' hours: a shift begun on a holiday (or
    # before `started_on`) is not worked, after midnight either, and one begun the day before
    # a holiday runs to its end.
    before = _week_hours_on(rules, agent, day - timedelta(days=1))
    if before and before[-1][1] == hours[0][0] and not _whole_day(hours, hours[0]):
        hours = hours[1:]  # the end of the shift begun the day before
    after = _week_hours_on(rules, agent, day + timedelta(days=1))
    if hours and after and hours[-1][1] == after[0][0] and not _whole_day(after, after[0]):
        hours = (*hours[:-1], (hours[-1][0], after[0][1]))
    return hours


def _week_hours_on(
    rules: RulesConfig, agent: AgentConfig, day: date
) -> tuple[tuple[datetime, datetime], ...]:
    """The hours the agent's week (roster `works`, else business hours) lists for a local
    day's weekday, holidays, closures and `started_on` aside."""
    calendar = rules.agent_calendar(agent) if agent.works is not None else rules.calendar
    return () if calendar is None else calendar.weekly_intervals_on(day)


def _past_midnight(rules: RulesConfig, agent: AgentConfig) -> bool:
    """Whether any of the agent's days has hours to 24:00 (only then can a shift run on)."""
    calendar = rules.agent_calendar(agent) if agent.works is not None else rules.calendar
    return calendar is not None and any(
        closes == time.max for day in calendar.week for _, closes in day
    )


def _whole_day(
    day: tuple[tuple[datetime, datetime], ...], first: tuple[datetime, datetime]
) -> bool:
    """Whether a day's first hours, from midnight, run to the next midnight: at least 23 hours
    (a local day is 23 to 25), and nothing after them that day."""
    return len(day) == 1 and first[1] - first[0] >= timedelta(hours=23)


def _hours_on(
    rules: RulesConfig, agent: AgentConfig, day: date
) -> tuple[tuple[datetime, datetime], ...]:
    """The agent's working hours on a local day, as UTC instants: their roster `works`, else the
    team's business hours (all day when there are none); none on holidays and closures, nor
    before their `started_on` (so no target and no nudges for days before they join)."""
    if agent.started_on is not None and day < agent.started_on:
        return ()
    team = rules.calendar
    if agent.works is None:
        if team is not None:
            return team.intervals_on(day)
        zone = ZoneInfo(rules.team.timezone)
        start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        return ((start, end),)
    if team is not None and team.closed_on(day):
        return ()
    own = rules.agent_calendar(agent)
    return () if own is None else own.intervals_on(day)


def local_days(period: Period) -> list[date]:
    days, day = [], period.first
    while day <= period.last:
        days.append(day)
        day += timedelta(days=1)
    return days


def shift_progress(
    rules: RulesConfig, agent: AgentConfig, day: date, at: datetime
) -> tuple[timedelta, timedelta]:
    """(hours worked by `at`, all the hours) of the agent's shifts of local `day`: the straight
    line pace checks and a review of a running shift judge by, from 0 when the shift begins
    to the day's target when it ends."""
    intervals = working_intervals(rules, agent, day)
    total = sum((end - start for start, end in intervals), timedelta(0))
    done = sum((min(end, at) - start for start, end in intervals if start < at), timedelta(0))
    return done, total


def expected_by(target: int, done: timedelta, total: timedelta) -> int:
    """Responses due after `done` of `total` working hours on the straight line to `target`,
    rounded up: a count below it is behind (exact, not floating point)."""
    if total <= timedelta(0):
        return target
    return -((-target * done) // total)


@dataclass(frozen=True)
class Judgement:
    """What a review judges an agent's responses against."""

    target: int  # the whole targets of the shifts judged
    # Due by the period's `now` while one of them still runs (None: all judged whole), and
    # when that shift ends.
    expected: int | None = None
    ends: datetime | None = None
    # The day of the shift judged, when not the review's own (`Period.shift_days`).
    shift_of: date | None = None


def judge_agent(rules: RulesConfig, agent: AgentConfig, period: Period) -> Judgement:
    """The targets of the agent's shifts in the period that have begun by its end (`now`
    for a period still running): an agent whose shift has not begun is not behind, and one
    whose shift still runs at `now` is judged on its hours so far (`shift_progress`)."""
    judged = dict(period.shift_days).get(agent.slack_id)
    if judged is not None:
        days = [judged]
    else:
        zone = ZoneInfo(rules.team.timezone)
        today = (period.end - timedelta(microseconds=1)).astimezone(zone).date()
        days = [day for day in local_days(period) if day <= max(today, period.first)]
    target = due = 0
    ends = None
    for day in days:
        shifts = working_intervals(rules, agent, day)
        # A judged shift of another day has begun (`_uncovered_shift`).
        if not shifts or (judged is None and shifts[0][0] >= period.end):
            continue
        day_target = daily_target(rules, agent, day)
        target += day_target
        now = period.now
        if now is not None and shifts[0][0] <= now < shifts[-1][1]:
            ends = shifts[-1][1]
            due += expected_by(day_target, *shift_progress(rules, agent, day, now))
        else:
            due += day_target
    return Judgement(target, None if ends is None else due, ends, judged)


def period_target(rules: RulesConfig, agent: AgentConfig, period: Period) -> int:
    """The whole targets of the agent's shifts the period judges (`judge_agent`)."""
    return judge_agent(rules, agent, period).target


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _source(ticket: str) -> str:
    return ticket.split(":", 1)[0]


def find_unnecessary(
    repeated: Iterable[RepeatedReply], window: timedelta
) -> dict[tuple[str, str], list[str]]:
    """(source, author) → the ticket of each unnecessary response (within `window` of the
    author's previous reply on the ticket, no customer message in between)."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for reply in repeated:
        if reply.at - reply.previous <= window:
            found[(_source(reply.ticket), reply.author)].append(reply.ticket)
    return found


def find_first_replies(
    firsts: Iterable[FirstReply], calendar: BusinessCalendar | CalendarTime
) -> dict[tuple[str, str | None], list[float]]:
    """(source, author) → business minutes from each ticket's creation to its first reply."""
    minutes: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for reply in firsts:
        opened = reply.created_at
        waited = (
            calendar.business_time_between(opened, reply.at) if reply.at > opened else timedelta(0)
        )
        minutes[(_source(reply.ticket), reply.author)].append(waited.total_seconds() / 60)
    return minutes


@dataclass
class AgentFigures:
    agent: AgentConfig
    responses: int = 0
    target: int = 0
    tenure: int | None = None
    first_replies: list[float] = field(default_factory=list)
    unnecessary: list[str] = field(default_factory=list)
    calls_requested: int = 0
    calls_logged: int = 0
    solved: int = 0
    # Due by now while a shift still runs (`Judgement`), when it ends (team time), and the
    # day of the shift judged when not the review's own.
    expected: int | None = None
    shift_ends: datetime | None = None
    shift_of: date | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.agent.name,
            "slack_id": self.agent.slack_id,
            "responses": self.responses,
            "target": self.target,
            "tenure_months": self.tenure,
            "first_reply_median_minutes": _round(median(self.first_replies))
            if self.first_replies
            else None,
            "first_reply_p90_minutes": _round(_percentile(self.first_replies, 0.9))
            if self.first_replies
            else None,
            "unnecessary_responses": len(self.unnecessary),
            "calls_requested": self.calls_requested,
            "calls_logged": self.calls_logged,
            "solved": self.solved,
            "expected_by_now": self.expected,
            "shift_ends": None if self.shift_ends is None else self.shift_ends.isoformat(),
            "shift_of": None if self.shift_of is None else self.shift_of.isoformat(),
        }


def _round(value: float) -> float:
    return round(value, 1)


def coached_agents(rules: RulesConfig) -> tuple[AgentConfig, ...]:
    """The resolution agents: role `agent`, and not a member of a department (Logistics and
    the others answer routed tickets; they have no response target). Found once per rules
    (their roster and departments do not change): the coaching checks ask every few
    minutes, each time over the whole roster and every department's members."""
    found = _COACHED.get(rules, ())
    if found is None:
        departments = rules.departments.values()
        found = _COACHED.put(
            rules,
            (),
            tuple(a for a in rules.agents if is_coached(a, departments)),
        )
    return found


_COACHED = Memo(8)


def build_reply_figures(rules: RulesConfig, data: PeriodData) -> dict[str, AgentFigures]:
    """Each roster agent's responses and unnecessary replies (by Slack id), as
    `build_agent_figures` counts them: all the coaching checks read, every few minutes,
    without the review's judgements, first replies and facts."""
    return _reply_figures(rules, data)[0]


def _reply_figures(
    rules: RulesConfig, data: PeriodData
) -> tuple[dict[str, AgentFigures], Counter[str]]:
    """Figures by Slack id for the whole roster with their responses and unnecessary
    replies, and responses by authors not on the roster."""
    roster = rules.agent_by_helpdesk_id
    figures = {a.slack_id: AgentFigures(a) for a in rules.agents}
    unmapped: Counter[str] = Counter()

    # An agent with a window of their own (a shift past midnight) has the replies in it; a
    # hand-made PeriodData without that window's count has the period's.
    own = data.own_responses
    for (source, author), count in data.responses.items():
        agent = roster(source, author)
        if agent is None:
            unmapped[f"{source}:{author or '(no author id)'}"] += count
        elif agent.slack_id not in own:
            figures[agent.slack_id].responses += count
    for slack_id, counts in own.items():
        for (source, author), count in counts.items():
            agent = roster(source, author)
            if agent is not None and agent.slack_id == slack_id:
                figures[slack_id].responses += count
    window = rules.coaching.unnecessary_window
    extra = find_unnecessary(data.repeated_replies, window)
    for (source, author), tickets in extra.items():
        agent = roster(source, author)
        if agent is not None:
            figures[agent.slack_id].unnecessary += tickets
    return figures, unmapped


def build_agent_figures(
    rules: RulesConfig, period: Period, data: PeriodData
) -> tuple[list[AgentFigures], dict[str, int]]:
    """Figures per coached agent (and anyone else on the roster who replied), and responses
    by authors not on the roster (`source:id` → count)."""
    # The roster's one look-up (a Salesforce user id in either form, config/rules.py).
    roster = rules.agent_by_helpdesk_id
    figures, unmapped = _reply_figures(rules, data)
    calendar = rules.calendar or CALENDAR_TIME
    firsts = find_first_replies(data.first_replies, calendar)
    for (source, author), values in firsts.items():
        agent = roster(source, author)
        if agent is not None:
            figures[agent.slack_id].first_replies += values
    counted = {
        facts.CALL_REQUESTED: "calls_requested",
        facts.CALL_LOGGED: "calls_logged",
        facts.SOLVED: "solved",
    }
    for (kind, _, source, person), count in data.facts.items():
        name = counted.get(kind)
        agent = roster(source, person) if name else None
        if agent is not None:
            target = figures[agent.slack_id]
            setattr(target, name, getattr(target, name) + count)
    coached = {a.slack_id for a in coached_agents(rules)}
    out = []
    for agent in sorted(rules.agents, key=lambda a: a.name):
        item = figures[agent.slack_id]
        # Not started by the period's end: not on the team yet, like a lead for the review.
        joined = agent.started_on is None or agent.started_on <= period.last
        if agent.slack_id not in coached or not joined:
            if item.responses:  # a lead or a department member who answered: shown, no target
                out.append(item)
            continue
        judgement = judge_agent(rules, agent, period)
        item.target, item.expected, item.shift_of = (
            judgement.target,
            judgement.expected,
            judgement.shift_of,
        )
        if judgement.ends is not None:
            item.shift_ends = judgement.ends.astimezone(ZoneInfo(rules.team.timezone))
        item.tenure = tenure_months(agent.started_on, period.last) if agent.started_on else None
        out.append(item)
    return out, dict(sorted(unmapped.items()))


def repeat_window(rules: RulesConfig) -> timedelta:
    """How far back another ticket from the same requester makes a repeat contact."""
    return rules.risk.repeat_contact_window if rules.risk is not None else timedelta(days=14)


def count_csat(data: PeriodData) -> dict[str, int]:
    """Satisfaction ratings received in the period (outside the digest's JSON shape, which
    the issue fixes; shown in the text, Slack and team views)."""
    return {"good": data.count_facts(facts.CSAT_GOOD), "bad": data.count_facts(facts.CSAT_BAD)}


def has_baseline(rules: RulesConfig, period: Period, since: datetime | None) -> bool:
    """Whether the categories counted go back over the whole four weeks before `period`: the
    first one on or before the local day those weeks begin (a first day begun at 08:00 is
    a whole working day)."""
    if since is None:
        return False
    first = since.astimezone(ZoneInfo(rules.team.timezone)).date()
    return first <= period.first - timedelta(weeks=TRAILING_WEEKS)


def build_digest(rules: RulesConfig, period: Period, data: PeriodData) -> dict[str, Any]:
    """The review as one JSON-able object (the `deskbridge digest --format json` shape)."""
    agents, unmapped = build_agent_figures(rules, period, data)
    kinds: Counter[tuple[str, str | None]] = Counter()
    for (kind, detail, _, _), count in data.facts.items():
        kinds[(kind, detail)] += count
    # A breach withdrawn (met in time, known after the alert) is counted met, not breached.
    sla = {
        metric: {
            "met": kinds[(facts.SLA_MET, metric)],
            "breached": kinds[(facts.SLA_BREACH, metric)]
            - kinds[(facts.SLA_BREACH_WITHDRAWN, metric)],
        }
        for metric in METRICS
    }
    departments = {
        key: {
            "name": department.name,  # what the leads call it: "Post-Sales", not post_sales
            "routed": kinds[(facts.ROUTE, key)],
            "overdue_handoffs": kinds[(facts.HANDOFF_OVERDUE, key)],
        }
        for key, department in rules.departments.items()
    }
    baseline = has_baseline(rules, period, data.categories_since)
    categories = []
    for name, count in data.categories.items():
        average = data.trailing_categories.get(name, 0) / period.trailing_units
        categories.append(
            {
                "name": name,
                "count": count,
                # None: no four weeks to compare with yet, so no spike either.
                "trailing_average": round(average, 2) if baseline else None,
                "spike": baseline and count >= SPIKE_MINIMUM and count >= SPIKE_FACTOR * average,
            }
        )
    categories.sort(key=lambda c: (-c["count"], c["name"]))
    return {
        "date": period.first.isoformat(),
        "period": period.kind,
        "agents": [a.as_json() for a in agents],
        "sla": sla,
        "departments": departments,
        "escalations": data.count_facts(facts.ESCALATE),
        "escalated_tickets": data.escalated_tickets,
        "repeat_contacts": data.repeat_contacts,
        "categories": categories[: rules.coaching.digest.top_categories],
        "unmapped_authors": [{"id": k, "responses": v} for k, v in unmapped.items()],
    }
