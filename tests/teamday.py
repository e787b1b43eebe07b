"""A generated working day of a resolution team, as Zendesk event-subscription deliveries, with
the figures the leads' review must show computed here from the plan itself (not by deskbridge).

`build_day(agents, day)` returns (events, expected, roster). Used by the coaching replay tests,
the digest benchmark (many agents, many days) and `python -m tests.teamday` (JSONL on stdout).
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
UNMAPPED = "9099999999999"
# Tags that route deterministically (the example config's categories).
CATEGORIES = [
    ("late_delivery", "delivery_delay", "logistics"),
    ("defective", "product_defect", "quality"),
    ("refund", "refund", "post_sales"),
]


@dataclass
class Expected:
    responses: Counter = field(default_factory=Counter)
    unnecessary: Counter = field(default_factory=Counter)
    first_replies: dict = field(default_factory=lambda: defaultdict(list))
    calls_requested: Counter = field(default_factory=Counter)
    calls_logged: Counter = field(default_factory=Counter)
    solved: Counter = field(default_factory=Counter)
    routed: Counter = field(default_factory=Counter)
    categories: Counter = field(default_factory=Counter)
    sla_met: Counter = field(default_factory=Counter)
    repeat_contacts: int = 0
    unmapped: int = 0
    # Responses per agent by local time (pace checks).
    reply_times: dict = field(default_factory=lambda: defaultdict(list))
    # Per routed ticket: (created, department, solved at or None, escalated).
    routed_tickets: list = field(default_factory=list)


def agent_id(i: int) -> str:
    return f"90200000000{i:02d}"


def slack_id(i: int) -> str:
    return f"U0COACH{i:02d}"


def roster(agents: int, day: date) -> list[dict]:
    """Mixed tenure: long-standing (32), new (28), and every third one reaching 3 full
    months the day after `day` (28 on `day`, 32 from the next)."""
    out = []
    for i in range(agents):
        if i % 3 == 0:
            started = date(day.year - 1, 1, 6)
        elif i % 3 == 1:
            started = day - timedelta(days=40)
        else:
            started = _months_before(day + timedelta(days=1), 3)
        entry = {
            "name": f"Agent {i:02d}",
            "slack_id": slack_id(i),
            "zendesk_id": agent_id(i),
            "role": "agent",
            "started_on": started.isoformat(),
        }
        if i == 1:
            entry["works"] = {"mon": ["12:00-18:00"], "tue": ["12:00-18:00"]}  # afternoons only
        if i == 2:
            entry["works"] = {"tue": ["09:00-18:00"], "wed": ["09:00-18:00"]}  # not on Mondays
        out.append(entry)
    return out


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 - months, 12)
    return date(day.year + year, month + 1, day.day)


class Day:
    def __init__(self, day: date, prefix: int = 0):
        self.day = day
        self.events: list[dict] = []
        self.counter = 0
        self.prefix = prefix
        self.tickets: dict[str, dict] = {}

    def at(self, minutes: int) -> datetime:
        """`minutes` after 09:00 local on the day."""
        local = datetime.combine(self.day, time(9), tzinfo=LONDON) + timedelta(minutes=minutes)
        return local.astimezone(UTC)

    def _id(self) -> str:
        self.counter += 1
        return f"{self.prefix:04d}-{self.day:%Y%m%d}-{self.counter:06d}"

    def _detail(self, tid: str, at: datetime, status: str, actor: str, via: str = "web") -> dict:
        t = self.tickets[tid]
        return {
            "actor_id": actor,
            "assignee_id": t["assignee"],
            "created_at": _iso(t["created"]),
            "description": "Please help with my order.",
            "group_id": "360009988771",
            "id": tid,
            "priority": "NORMAL",
            "requester_id": t["requester"],
            "status": status,
            "subject": f"Order {tid}",
            "tags": t["tags"],
            "type": "INCIDENT",
            "updated_at": _iso(at),
            "via": {"channel": via},
        }

    def _emit(self, at: datetime, kind: str, tid: str, detail: dict, event: dict) -> None:
        self.events.append(
            {
                "at": _iso(at),
                "source": "zendesk",
                "body": {
                    "account_id": 10234567,
                    "detail": detail,
                    "event": event,
                    "id": self._id(),
                    "subject": f"zen:ticket:{tid}",
                    "time": _iso(at),
                    "type": f"zen:event-type:ticket.{kind}",
                    "zendesk_event_version": "2022-11-06",
                },
            }
        )

    def created(
        self, tid: str, at: datetime, requester: str, assignee: str, tags: list[str]
    ) -> None:
        self.tickets[tid] = {
            "created": at,
            "requester": requester,
            "assignee": assignee,
            "tags": tags,
            "status": "OPEN",
        }
        self._emit(at, "created", tid, self._detail(tid, at, "NEW", requester), {})

    def comment(
        self, tid: str, at: datetime, author: str | None, voice: bool = False, public: bool = True
    ) -> None:
        """`author` None: the customer."""
        staff = author is not None
        who = author or self.tickets[tid]["requester"]
        self.counter += 1
        event = {
            "comment": {
                "author": {"id": who, "is_staff": staff, "name": "someone"},
                "body": "A call with the customer." if voice else "Thanks — looking into it now.",
                "id": f"c{self.prefix:04d}{self.counter:07d}",
                "is_public": public,
                **({"type": "VoiceComment"} if voice else {}),
            }
        }
        detail = self._detail(tid, at, "OPEN", who, via="voice" if voice else "web")
        self._emit(at, "comment_added", tid, detail, event)

    def solve(self, tid: str, at: datetime, by: str) -> None:
        detail = self._detail(tid, at, "SOLVED", by)
        self._emit(at, "status_changed", tid, detail, {"current": "SOLVED", "previous": "OPEN"})


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_agent_day(d: Day, i: int, tickets: int, expected: Expected, first_ticket: int) -> None:
    """One agent's tickets on the day, each in one of five shapes (see below)."""
    me = agent_id(i)
    for j in range(tickets):
        tid = str(first_ticket + j)
        created = (i * 7 + j * 43) % 360  # minutes after 09:00
        requester = f"77{first_ticket + j:09d}"
        repeat = i % 4 == 0 and j == 1
        if repeat:  # the requester of the ticket before writes again
            requester = f"77{first_ticket + j - 1:09d}"
            expected.repeat_contacts += 1
        tag, category, department = CATEGORIES[(i + j) % len(CATEGORIES)]
        d.created(tid, d.at(created), requester, me, [tag])
        expected.routed[department] += 1
        solved_at = None
        expected.categories[category] += 1
        first = created + 5 + (i * 11 + j * 17) % 90
        expected.first_replies[i].append(float(first - created))
        expected.sla_met["first_reply"] += 1
        shape = 1 if i == 0 else j % 5

        def reply(minute: int, tid: str = tid) -> None:
            d.comment(tid, d.at(minute), me)
            expected.responses[i] += 1
            expected.reply_times[i].append(d.at(minute))

        reply(first)
        if shape == 0:  # answered and solved
            d.comment(tid, d.at(first + 3), me, public=False)  # an internal note: not a response
            d.solve(tid, d.at(first + 20), me)
            solved_at = d.at(first + 20)
            expected.solved[i] += 1
            expected.sla_met["resolution"] += 1
        elif shape == 1:  # the customer answers, a second reply, solved
            d.comment(tid, d.at(first + 30), None)
            reply(first + 45)
            expected.sla_met["next_reply"] += 1
            d.solve(tid, d.at(first + 50), me)
            solved_at = d.at(first + 50)
            expected.solved[i] += 1
            expected.sla_met["resolution"] += 1
        elif shape == 2:  # a second reply 4 minutes later, nothing from the customer between
            reply(first + 4)
            expected.unnecessary[i] += 1
        elif shape == 3:  # three replies with the customer between: a call is requested
            d.comment(tid, d.at(first + 20), None)
            reply(first + 40)
            expected.sla_met["next_reply"] += 1
            d.comment(tid, d.at(first + 60), None)
            reply(first + 80)
            expected.sla_met["next_reply"] += 1
            expected.calls_requested[i] += 1
            if i % 2 == 0:  # the agent calls
                d.comment(tid, d.at(first + 90), me, voice=True)
                expected.calls_logged[i] += 1
            else:  # another written reply instead (a missed call)
                d.comment(tid, d.at(first + 95), None)
                reply(first + 100)
                expected.sla_met["next_reply"] += 1
        else:  # three quick replies in a row: two unnecessary, then a call is requested
            reply(first + 6)
            reply(first + 9)
            expected.unnecessary[i] += 2
            expected.calls_requested[i] += 1
        expected.routed_tickets.append((d.at(created), department, solved_at, repeat))


def build_day(agents: int, day: date, prefix: int = 0) -> tuple[list[dict], Expected]:
    d = Day(day, prefix)
    expected = Expected()
    next_ticket = 100000 + prefix * 100000
    for i in range(agents):
        tickets = 16 if i == 0 else 6 + i % 4
        plan_agent_day(d, i, tickets, expected, next_ticket)
        next_ticket += tickets
    # Someone not on the roster answers a ticket: counted, reported as unmapped.
    tid = str(next_ticket)
    d.created(tid, d.at(30), "7799", UNMAPPED, [])
    d.comment(tid, d.at(40), UNMAPPED)
    expected.unmapped += 1
    expected.first_replies[None].append(10.0)
    expected.sla_met["first_reply"] += 1
    d.events.sort(key=lambda e: e["at"])  # delivered in time order (the tests shuffle)
    return d.events, expected


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    when = date.fromisoformat(sys.argv[2]) if len(sys.argv) > 2 else date(2026, 3, 2)
    for line in build_day(count, when)[0]:
        print(json.dumps(line))
