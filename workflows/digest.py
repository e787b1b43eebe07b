"""The leads' review (pure): per-agent responses against their tenure target, first-reply times,
unnecessary responses, calls, solves, SLA, departments, escalations, repeat contacts and the
recurring problem categories, for one local day or one week of the team's timezone.

Definitions (the README says the same):
- a *response* is a public written agent reply (one per comment id), credited to its author
  through the roster; authors not on the roster are reported as unmapped;
- the *target* is the daily target of the highest `coaching.targets` tier whose
  `from_months` full calendar months since `started_on` have passed on that day (an agent
  without `started_on` gets the highest tier), summed over the days the agent works;
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
from deskbridge.workflows.business_hours import CALENDAR_TIME

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
class Reply:
    ticket: str
    author: str | None
    at: datetime


@dataclass(frozen=True)
class FactRow:
    kind: str
    ticket: str
    person: str | None
    detail: str | None


@dataclass
class PeriodData:
    """What the store holds for a period (store/activity.py reads it)."""

    # Every reply (up to the period's end) on the tickets that got one in the period.
    replies: list[Reply] = field(default_factory=list)
    # Customer messages on those tickets: (ticket, at).
    customer_messages: list[tuple[str, datetime]] = field(default_factory=list)
    # Creation time of those tickets.
    created: dict[str, datetime] = field(default_factory=dict)
    # Facts dated within the period.
    facts: list[FactRow] = field(default_factory=list)
    # Tickets created from `repeat window` before the period to its end: (key, requester, at).
    new_tickets: list[tuple[str, str, datetime]] = field(default_factory=list)
    # Category counts in the period and in the four weeks before it.
    categories: dict[str, int] = field(default_factory=dict)
    trailing_categories: dict[str, int] = field(default_factory=dict)


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
    team's business hours (all day when there are none); none on holidays and closures."""
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
    replies: Iterable[Reply],
    customer_messages: Iterable[tuple[str, datetime]],
    window: timedelta,
    start: datetime,
    end: datetime,
) -> dict[tuple[str, str], list[str]]:
    """(source, author) → the ticket of each unnecessary response dated in [start, end)."""
    messages: dict[str, list[datetime]] = defaultdict(list)
    for ticket, at in customer_messages:
        messages[ticket].append(at)
    last: dict[tuple[str, str | None], datetime] = {}
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for reply in sorted(replies, key=lambda r: (r.ticket, r.at)):
        key = (reply.ticket, reply.author)
        previous = last.get(key)
        last[key] = reply.at
        if previous is None or reply.author is None or not start <= reply.at < end:
            continue
        if reply.at - previous <= window and not any(
            previous < m <= reply.at for m in messages.get(reply.ticket, ())
        ):
            found[(_source(reply.ticket), reply.author)].append(reply.ticket)
    return found


def find_first_replies(
    replies: Iterable[Reply],
    created: dict[str, datetime],
    calendar,
    start: datetime,
    end: datetime,
) -> dict[tuple[str, str | None], list[float]]:
    """(source, author) → business minutes to each ticket's first reply dated in [start, end)."""
    first: dict[str, Reply] = {}
    for reply in replies:
        if reply.ticket not in first or reply.at < first[reply.ticket].at:
            first[reply.ticket] = reply
    minutes: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for ticket, reply in first.items():
        opened = created.get(ticket)
        if opened is None or not start <= reply.at < end:
            continue
        waited = (
            calendar.business_time_between(opened, reply.at) if reply.at > opened else timedelta(0)
        )
        minutes[(_source(ticket), reply.author)].append(waited.total_seconds() / 60)
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


def _roster(rules: RulesConfig) -> dict[tuple[str, str], AgentConfig]:
    index = {}
    for agent in rules.agents:
        if agent.zendesk_id:
            index[("zendesk", agent.zendesk_id)] = agent
        if agent.salesforce_id:
            index[("salesforce", agent.salesforce_id)] = agent
    return index


def build_agent_figures(
    rules: RulesConfig, period: Period, data: PeriodData
) -> tuple[list[AgentFigures], dict[str, int]]:
    """Figures per coached agent (and anyone else on the roster who replied), and responses
    by authors not on the roster (`source:id` → count)."""
    roster = _roster(rules)
    figures = {a.slack_id: AgentFigures(a) for a in rules.agents}
    unmapped: Counter[str] = Counter()

    def who(ticket: str, person: str | None) -> AgentFigures | None:
        agent = roster.get((_source(ticket), person)) if person else None
        return figures[agent.slack_id] if agent else None

    for reply in data.replies:
        if not period.start <= reply.at < period.end:
            continue
        target = who(reply.ticket, reply.author)
        if target is not None:
            target.responses += 1
        else:
            unmapped[f"{_source(reply.ticket)}:{reply.author or '(no author id)'}"] += 1
    calendar = rules.calendar or CALENDAR_TIME
    firsts = find_first_replies(data.replies, data.created, calendar, period.start, period.end)
    for (source, author), values in firsts.items():
        agent = roster.get((source, author)) if author else None
        if agent is not None:
            figures[agent.slack_id].first_replies += values
    window = rules.coaching.unnecessary_window
    extra = find_unnecessary(data.replies, data.customer_messages, window, period.start, period.end)
    for (source, author), tickets in extra.items():
        agent = roster.get((source, author))
        if agent is not None:
            figures[agent.slack_id].unnecessary += tickets
    counted = {
        facts.CALL_REQUESTED: "calls_requested",
        facts.CALL_LOGGED: "calls_logged",
        facts.SOLVED: "solved",
    }
    for row in data.facts:
        name = counted.get(row.kind)
        target = who(row.ticket, row.person) if name else None
        if target is not None:
            setattr(target, name, getattr(target, name) + 1)
    coached = {a.slack_id for a in coached_agents(rules)}
    out = []
    for agent in sorted(rules.agents, key=lambda a: a.name):
        item = figures[agent.slack_id]
        if agent.slack_id not in coached:
            if item.responses:  # a lead or a department member who answered: shown, no target
                out.append(item)
            continue
        item.target = period_target(rules, agent, period)
        item.tenure = tenure_months(agent.started_on, period.last) if agent.started_on else None
        out.append(item)
    return out, dict(sorted(unmapped.items()))


def count_repeat_contacts(
    new_tickets: list[tuple[str, str, datetime]], window: timedelta, start: datetime, end: datetime
) -> int:
    """Tickets opened in [start, end) whose requester opened another ticket on the same
    helpdesk within `window` before."""
    by_requester: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for key, requester, at in new_tickets:
        by_requester[(_source(key), requester)].append(at)
    count = 0
    for key, requester, at in new_tickets:
        if start <= at < end and any(
            at - window <= other < at for other in by_requester[(_source(key), requester)]
        ):
            count += 1
    return count


def repeat_window(rules: RulesConfig) -> timedelta:
    """How far back another ticket from the same requester makes a repeat contact."""
    return rules.risk.repeat_contact_window if rules.risk is not None else timedelta(days=14)


def count_csat(data: PeriodData) -> dict[str, int]:
    """Satisfaction ratings received in the period (outside the digest's JSON shape, which
    the issue fixes; shown in the text, Slack and team views)."""
    good = sum(1 for row in data.facts if row.kind == facts.CSAT_GOOD)
    bad = sum(1 for row in data.facts if row.kind == facts.CSAT_BAD)
    return {"good": good, "bad": bad}


def build_digest(rules: RulesConfig, period: Period, data: PeriodData) -> dict[str, Any]:
    """The review as one JSON-able object (the `deskbridge digest --format json` shape)."""
    agents, unmapped = build_agent_figures(rules, period, data)
    kinds = Counter((row.kind, row.detail) for row in data.facts)
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
    window = repeat_window(rules)
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
        "escalations": sum(1 for row in data.facts if row.kind == facts.ESCALATE),
        "repeat_contacts": count_repeat_contacts(
            data.new_tickets, window, period.start, period.end
        ),
        "categories": categories[: rules.coaching.digest.top_categories],
        "unmapped_authors": [{"id": k, "responses": v} for k, v in unmapped.items()],
    }
