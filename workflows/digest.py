"""The leads' review (pure): per-agent responses against their tenure target, first-reply times,
unnecessary responses, calls, solves, SLA, departments, escalations, repeat contacts and the
recurring problem categories, for one local day or one week of the team's timezone.

Definitions (the README says the same):
- every figure is dated by the helpdesk's time (an event's, a deadline's, a ticket's creation),
  never by when deskbridge received or decided it: a late delivery counts on its own day;
- a *response* is a public written agent reply (one per comment id), credited to its author
  through the roster; authors not on the roster are reported as unmapped;
- the *target* is the daily target of the highest `coaching.targets` tier whose
  `from_months` full calendar months since `started_on` have passed on that day (an agent
  without `started_on` gets the highest tier), summed over the days the agent works from
  `started_on`; an agent who starts after the period is not listed with a target (only if
  they replied, like a lead);
- *first reply time* is the business time (the team calendar) from a ticket's creation to its
  first public agent reply, credited to that reply's author, for first replies in the period;
  median and 90th percentile (nearest rank) in minutes;
- an *unnecessary response* is a public reply by the same agent on the same ticket within
  `coaching.unnecessary_window` of their previous one, with no customer message in between;
- a category *spikes* when its count is at least 3 and at least twice its average over the
  four weeks before the period (per day for a daily review, per week for a weekly one).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any, Literal
from zoneinfo import ZoneInfo

from deskbridge.config.rules import AgentConfig, RulesConfig
from deskbridge.workflows import activity as facts
from deskbridge.workflows.business_hours import CALENDAR_TIME, BusinessCalendar, CalendarTime

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
    if now is not None:
        end = max(start, min(end, now))
    return Period("week" if week else "day", first, last, start, end)


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
    # Category counts in the period and in the four weeks before it.
    categories: dict[str, int] = field(default_factory=dict)
    trailing_categories: dict[str, int] = field(default_factory=dict)

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


def period_target(rules: RulesConfig, agent: AgentConfig, period: Period) -> int:
    zone = ZoneInfo(rules.team.timezone)
    today = (period.end - timedelta(microseconds=1)).astimezone(zone).date()
    return sum(
        daily_target(rules, agent, day)
        for day in local_days(period)
        if day <= max(today, period.first) and working_intervals(rules, agent, day)
    )


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
        }


def _round(value: float) -> float:
    return round(value, 1)


def coached_agents(rules: RulesConfig) -> list[AgentConfig]:
    """The resolution agents: role `agent`, and not a member of a department (Logistics and
    the others answer routed tickets; they have no response target)."""
    members = {m for d in rules.departments.values() for m in d.members}
    return [
        a
        for a in rules.agents
        if a.role == "agent" and not {a.zendesk_id, a.salesforce_id} & members
    ]


def build_agent_figures(
    rules: RulesConfig, period: Period, data: PeriodData
) -> tuple[list[AgentFigures], dict[str, int]]:
    """Figures per coached agent (and anyone else on the roster who replied), and responses
    by authors not on the roster (`source:id` → count)."""
    # The roster's one look-up (a Salesforce user id in either form, config/rules.py).
    roster = rules.agent_by_helpdesk_id
    figures = {a.slack_id: AgentFigures(a) for a in rules.agents}
    unmapped: Counter[str] = Counter()

    for (source, author), count in data.responses.items():
        agent = roster(source, author)
        if agent is not None:
            figures[agent.slack_id].responses += count
        else:
            unmapped[f"{source}:{author or '(no author id)'}"] += count
    calendar = rules.calendar or CALENDAR_TIME
    firsts = find_first_replies(data.first_replies, calendar)
    for (source, author), values in firsts.items():
        agent = roster(source, author)
        if agent is not None:
            figures[agent.slack_id].first_replies += values
    window = rules.coaching.unnecessary_window
    extra = find_unnecessary(data.repeated_replies, window)
    for (source, author), tickets in extra.items():
        agent = roster(source, author)
        if agent is not None:
            figures[agent.slack_id].unnecessary += tickets
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
        item.target = period_target(rules, agent, period)
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


def build_digest(rules: RulesConfig, period: Period, data: PeriodData) -> dict[str, Any]:
    """The review as one JSON-able object (the `deskbridge digest --format json` shape)."""
    agents, unmapped = build_agent_figures(rules, period, data)
    kinds: Counter[tuple[str, str | None]] = Counter()
    for (kind, detail, _, _), count in data.facts.items():
        kinds[(kind, detail)] += count
    sla = {
        metric: {
            "met": kinds[(facts.SLA_MET, metric)],
            "breached": kinds[(facts.SLA_BREACH, metric)],
        }
        for metric in METRICS
    }
    departments = {
        key: {
            "routed": kinds[(facts.ROUTE, key)],
            "overdue_handoffs": kinds[(facts.HANDOFF_OVERDUE, key)],
        }
        for key in rules.departments
    }
    categories = []
    for name, count in data.categories.items():
        average = data.trailing_categories.get(name, 0) / period.trailing_units
        categories.append(
            {
                "name": name,
                "count": count,
                "trailing_average": round(average, 2),
                "spike": count >= SPIKE_MINIMUM and count >= SPIKE_FACTOR * average,
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
        "repeat_contacts": data.repeat_contacts,
        "categories": categories[: rules.coaching.digest.top_categories],
        "unmapped_authors": [{"id": k, "responses": v} for k, v in unmapped.items()],
    }
