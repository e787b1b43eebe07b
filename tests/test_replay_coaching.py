"""Coaching and the leads' review, replayed: a generated day of 12 agents of mixed tenure gives
the figures computed from the plan in tests/teamday.py; duplicates and out-of-order deliveries
change nothing; nudges go only to the right agents at the right times."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

import pytest
import yaml

from deskbridge.config.rules import parse_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.store.activity import read_period
from deskbridge.store.db import create_store_engine
from deskbridge.workflows.digest import build_digest, build_period, repeat_window
from deskbridge.workflows.replay import run_replay
from tests.teamday import UNMAPPED, Day, agent_id, build_day, roster, slack_id

DAY = date(2026, 3, 2)  # a Monday
LONDON = ZoneInfo("Europe/London")
AGENTS = 12


def team_rules(
    agents: int = AGENTS,
    day: date = DAY,
    starts: dict | None = None,
    extra: tuple[dict, ...] = (),
    **coaching,
):
    """The example rules with the generated roster (`starts`: slack id → another started_on;
    `extra`: more agents)."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data.pop("oncall", None)  # its rotation names the example roster, replaced here
    members = roster(agents, day)
    for member in members:
        if member["slack_id"] in (starts or {}):
            member["started_on"] = starts[member["slack_id"]].isoformat()
    data["agents"] = [
        *members,
        {
            "name": "Sam Lead",
            "slack_id": "U0LEAD0001",
            "zendesk_id": "9020000009999",
            "role": "lead",
        },
        *extra,
    ]
    if coaching:
        data["coaching"] = coaching
    return parse_rules(data)


def replay_day(tmp_path, events, rules, until=None, name="store.db"):
    url = f"sqlite:///{tmp_path / name}"
    lines = [json.dumps(e) for e in events]
    records = list(run_replay(lines, rules, CONNECTORS, until=until, store=url))
    assert not [r for r in records if not isinstance(r, dict)]
    engine = create_store_engine(url)
    return records, engine


def digest_of(engine, rules, day=DAY, week=False):
    period = build_period(rules, day, week=week)
    with engine.connect() as connection:
        return build_digest(rules, period, read_period(connection, period, repeat_window(rules)))


def nearest_rank(values, fraction):
    ordered = sorted(values)
    return ordered[math.ceil(fraction * len(ordered)) - 1]


UNTIL = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def day_events():
    return build_day(AGENTS, DAY)


@pytest.fixture(scope="module")
def replayed(day_events, tmp_path_factory):
    """The generated day replayed once, deadlines and jobs run up to 18:00 (shared: a replay
    of the day takes a while)."""
    events, _ = day_events
    records, engine = replay_day(tmp_path_factory.mktemp("day"), events, team_rules(), UNTIL)
    yield records, engine
    engine.dispose()


def expected_agents(expected):
    out = []
    for i in range(AGENTS):
        tenure = {0: 13, 1: 1, 2: 2}[i % 3]  # 6 Jan a year ago; 40 days ago; 3 months tomorrow
        target = {0: 32, 1: 28, 2: 28}[i % 3]
        if i == 2:
            target = 0  # does not work on Mondays
        firsts = expected.first_replies[i]
        out.append(
            {
                "name": f"Agent {i:02d}",
                "slack_id": slack_id(i),
                "responses": expected.responses[i],
                "target": target,
                "tenure_months": tenure,
                "first_reply_median_minutes": round(median(firsts), 1),
                "first_reply_p90_minutes": round(nearest_rank(firsts, 0.9), 1),
                "unnecessary_responses": expected.unnecessary[i],
                "calls_requested": expected.calls_requested[i],
                "calls_logged": expected.calls_logged[i],
                "solved": expected.solved[i],
                "expected_by_now": None,  # a day judged whole
                "shift_ends": None,
                "shift_of": None,
            }
        )
    return out


def test_a_generated_day_gives_the_planned_figures(day_events, replayed):
    _, expected = day_events
    rules = team_rules()
    _, engine = replayed
    digest = digest_of(engine, rules)
    assert digest["date"] == "2026-03-02" and digest["period"] == "day"
    assert digest["agents"] == expected_agents(expected)
    assert digest["sla"] == {
        "first_reply": {"met": expected.sla_met["first_reply"], "breached": 0},
        "next_reply": {"met": expected.sla_met["next_reply"], "breached": 0},
        "resolution": {"met": expected.sla_met["resolution"], "breached": 0},
    }
    # Nobody from a department acts: a hand-off is overdue once its time (4h, Quality 8h)
    # passed by --until, unless the ticket was solved or escalated.
    last = UNTIL
    within = {"logistics": 4, "quality": 8, "post_sales": 4}
    overdue = {name: 0 for name in within}
    for created, department, solved, escalated in expected.routed_tickets:
        due = created + timedelta(hours=within[department])
        if due <= last and not escalated and (solved is None or solved > due):
            overdue[department] += 1
    assert digest["departments"] == {
        name: {
            "name": rules.departments[name].name,
            "routed": expected.routed[name],
            "overdue_handoffs": overdue[name],
        }
        for name in ("logistics", "quality", "post_sales")
    }
    assert overdue["logistics"] > 0 and overdue["quality"] == 0
    # A repeat contact weighs 3, the escalation threshold: each one is escalated.
    assert digest["repeat_contacts"] == expected.repeat_contacts == 3
    assert digest["escalations"] == expected.repeat_contacts
    # No history before the day: nothing to compare with, so no category is a spike (each
    # with 3+ tickets was one, against an average of 0).
    assert digest["categories"] == [
        {"name": name, "count": count, "trailing_average": None, "spike": False}
        for name, count in sorted(expected.categories.items(), key=lambda c: (-c[1], c[0]))
    ]
    assert digest["unmapped_authors"] == [{"id": f"zendesk:{UNMAPPED}", "responses": 1}]
    assert sum(a["responses"] for a in digest["agents"]) == sum(expected.responses.values())


def test_duplicates_and_out_of_order_deliveries_change_nothing(tmp_path, day_events, replayed):
    events, _ = day_events
    rules = team_rules()
    clean_records, clean = replayed
    shuffled = list(events)
    rng = random.Random(7)
    # Swap neighbours (often two events of one ticket), and deliver every 5th event twice.
    # On one ticket, only the agent's own comments trade places: the SLA rule decides next-reply
    # clocks in the order it sees a customer message, a reply and a solve (a reply arriving
    # after the solve leaves the clock stopped, not met): that order is the SLA rule's, not
    # the counters'.
    for index in range(0, len(shuffled) - 1, 3):
        a, b = shuffled[index], shuffled[index + 1]
        same = a["body"]["subject"] == b["body"]["subject"]
        if same and not (_from_agent(a) and _from_agent(b)):
            continue
        if rng.random() < 0.6:
            shuffled[index], shuffled[index + 1] = b, a
    shuffled += [shuffled[i] for i in range(0, len(shuffled), 5)]
    assert sum(1 for x, y in zip(events, shuffled, strict=False) if x is not y) > 100
    messy_records, messy = replay_day(tmp_path, shuffled, rules, UNTIL, name="messy.db")
    assert digest_of(messy, rules) == digest_of(clean, rules)
    # The coaching decided is the same too (the same keys; times may differ by delivery).
    coached = {r["key"] for r in clean_records if r["action"] == "coach"}
    assert {r["key"] for r in messy_records if r["action"] == "coach"} == coached
    messy.dispose()


def _from_agent(event: dict) -> bool:
    comment = event["body"]["event"].get("comment")
    return comment is not None and comment["author"]["is_staff"]


def test_the_target_switches_on_the_day_three_full_months_are_reached(tmp_path):
    rules = team_rules()
    engine = create_store_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    from deskbridge.store.db import migrate_store

    migrate_store(engine)
    # Agent 05 started on 3 Dec 2025: 28 on Monday 2 March, 32 from Tuesday 3 March.
    assert roster(AGENTS, DAY)[5]["started_on"] == "2025-12-03"
    monday = {a["name"]: a for a in digest_of(engine, rules, DAY)["agents"]}
    tuesday = {a["name"]: a for a in digest_of(engine, rules, DAY + timedelta(days=1))["agents"]}
    assert (monday["Agent 05"]["target"], monday["Agent 05"]["tenure_months"]) == (28, 2)
    assert (tuesday["Agent 05"]["target"], tuesday["Agent 05"]["tenure_months"]) == (32, 3)
    # The weekly target adds the days each agent works: 5 x 28 + 4 x 32 … for agent 05.
    week = {a["name"]: a for a in digest_of(engine, rules, DAY, week=True)["agents"]}
    assert week["Agent 05"]["target"] == 28 + 4 * 32
    assert week["Agent 02"]["target"] == 32 + 32  # works Tuesday and Wednesday only
    engine.dispose()


def pace_expectation(expected, check: time):
    """Who gets a pace nudge at a check, computed from the plan: working agents whose
    responses so far are below target x the share of their working day gone."""
    at = datetime.combine(DAY, check, tzinfo=LONDON).astimezone(UTC)
    out = {}
    for i in range(AGENTS):
        if i == 2:
            continue  # not on Mondays
        start, end = (time(12), time(18)) if i == 1 else (time(9), time(18))
        if not start <= check < end:
            continue
        target = 32 if i % 3 == 0 else 28
        hours = end.hour - start.hour
        done = (check.hour + check.minute / 60) - start.hour
        responses = sum(1 for t in expected.reply_times[i] if t < at)  # before the check
        if 0 < responses < target * done / hours:  # no reply yet: away, not nudged
            rate = max(1, round((target - responses) / (hours - done)))
            out[slack_id(i)] = (
                f"{responses} of {target} by {check:%H:%M} — "
                f"about {rate} an hour keeps you on track"
            )
    return out


def test_pace_nudges_go_to_working_agents_behind_once_per_check(day_events, replayed):
    _, expected = day_events
    records, _ = replayed
    pace = [r for r in records if r["action"] == "coach" and r["kind"] == "pace"]
    for check in (time(11), time(13), time(15, 30)):
        at = datetime.combine(DAY, check, tzinfo=LONDON).astimezone(UTC)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        got = {r["person"]: r["reason"] for r in pace if r["at"] == stamp}
        assert got == pace_expectation(expected, check), check
    # Agent 01 works afternoons: nothing at 11:00. Agent 02 is off on Mondays: nothing at all.
    assert not [r for r in pace if r["person"] == slack_id(2)]
    assert {r["at"] for r in pace if r["person"] == slack_id(1)} <= {
        "2026-03-02T13:00:00Z",
        "2026-03-02T15:30:00Z",
    }
    assert len({r["key"] for r in pace}) == len(pace)
    assert all(r["ticket"] == "job:pace_check" and r["rule"] == "coaching" for r in pace)


def test_a_reached_target_gets_exactly_one_target_reached(day_events, replayed):
    _, expected = day_events
    records, _ = replayed
    reached = [r for r in records if r["action"] == "coach" and r["kind"] == "target_reached"]
    # Only agent 00 (16 tickets x 2 replies = 32) reaches a target.
    assert expected.responses[0] == 32
    assert [(r["person"], r["responses"], r["target"]) for r in reached] == [(slack_id(0), 32, 32)]
    last_reply = max(expected.reply_times[0])
    # At the first 5-minute check after the 32nd reply.
    first_check = last_reply + timedelta(minutes=5 - last_reply.minute % 5)
    assert reached[0]["at"] == first_check.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_nothing_on_a_weekend_or_a_holiday(tmp_path):
    # The same team's day on Saturday 7 March, and on Good Friday (3 April 2026, an English
    # bank holiday): replies are counted, but nobody is nudged and no daily digest is posted.
    rules = team_rules(4)
    for day in (date(2026, 3, 7), date(2026, 4, 3)):
        events, expected = build_day(4, day)
        until = datetime.combine(day, time(23), tzinfo=UTC)
        records, engine = replay_day(tmp_path, events, rules, until=until, name=f"{day}.db")
        assert [r for r in records if r["action"] == "coach"] == []
        assert [r for r in records if r["ticket"] == "job:daily_digest"] == []
        digest = digest_of(engine, rules, day)
        assert sum(a["responses"] for a in digest["agents"]) == sum(expected.responses.values())
        assert {a["target"] for a in digest["agents"]} == {0}
        engine.dispose()


def test_unnecessary_replies_nudge_once_a_day_naming_the_tickets(day_events, replayed):
    _, expected = day_events
    records, _ = replayed
    nudges = [r for r in records if r["action"] == "coach" and r["kind"] == "unnecessary_replies"]
    over = {slack_id(i) for i, n in expected.unnecessary.items() if n > 3 and i != 2}
    assert {r["person"] for r in nudges} == over
    assert len(nudges) == len(over)  # once a day each
    for nudge in nudges:
        assert nudge["tickets"] and all(t.startswith("zendesk:") for t in nudge["tickets"])
        assert f"tickets {', '.join(t.split(':')[1] for t in nudge['tickets'])}" in nudge["reason"]


def test_missed_call_and_slow_first_reply_nudges(replayed):
    records, _ = replayed
    missed = [r for r in records if r["action"] == "coach" and r["kind"] == "missed_call"]
    lead = [r for r in records if r["action"] == "notify" and r["rule"] == "three_responses"]
    # Every 4th written reply after a requested call tells the lead and coaches the agent
    # (when they are working: agent 01's morning tickets tell only the lead).
    assert missed and len(missed) <= len(lead)
    # Decided on the lead's timer, by the same call check: each nudge beside its lead alert.
    assert {(r["ticket"], r["at"]) for r in missed} <= {(r["ticket"], r["at"]) for r in lead}
    assert all(r["person"] != slack_id(2) for r in missed)
    # First replies all came within the 8h default target: no slow_first_reply.
    assert not [r for r in records if r.get("kind") == "slow_first_reply"]


def test_switched_off_kinds_are_not_sent(tmp_path):
    events, _ = build_day(4, DAY)  # agent 00 reaches the target; agent 03 misses a call
    rules = team_rules(4, nudges={"pace": False, "unnecessary_replies": False})
    records, engine = replay_day(tmp_path, events, rules, UNTIL)
    kinds = {r["kind"] for r in records if r["action"] == "coach"}
    assert "pace" not in kinds and "unnecessary_replies" not in kinds
    assert "target_reached" in kinds and "missed_call" in kinds
    engine.dispose()


def test_agent_ids_are_consistent():
    assert agent_id(3) == "9020000000003"


def csat_trigger(ticket: str, rating: str, at: str, event_id: str) -> dict:
    """A Zendesk trigger on "Satisfaction changed" posting the rating in `fields`."""
    return {
        "at": at,
        "source": "zendesk",
        "body": {
            "ticket_id": ticket,
            "status": "Solved",
            "assignee_id": agent_id(0),
            "updated_at": at,
            "event_id": event_id,
            "fields": {"satisfaction": rating},
        },
    }


def test_csat_ratings_from_a_trigger_are_counted_once(tmp_path):
    from deskbridge.bot.digest import render_table
    from deskbridge.workflows.digest import count_csat

    events, _ = build_day(4, DAY)
    rules = team_rules(4)
    first, second = events[0]["body"]["detail"]["id"], events[-1]["body"]["detail"]["id"]
    ratings = [
        csat_trigger(first, "Good", "2026-03-02T16:00:00Z", "csat-1"),
        csat_trigger(first, "Good", "2026-03-02T16:00:00Z", "csat-1"),  # delivered twice
        csat_trigger(second, "Bad", "2026-03-02T16:10:00Z", "csat-2"),
        csat_trigger(second, "Bad, I'm unsatisfied", "2026-03-02T16:20:00Z", "csat-3"),  # same
        csat_trigger(first, "Offered", "2026-03-02T16:30:00Z", "csat-4"),  # not a rating
    ]
    _, engine = replay_day(tmp_path, events + ratings, rules)
    period = build_period(rules, DAY)
    with engine.connect() as connection:
        data = read_period(connection, period, repeat_window(rules))
    assert count_csat(data) == {"good": 1, "bad": 1}
    text = render_table(build_digest(rules, period, data), "Team", count_csat(data))
    assert "CSAT: 1 good / 1 bad" in text
    engine.dispose()


def test_replay_reusing_its_period_reads_decides_exactly_what_reading_every_time_does(
    tmp_path, monkeypatch
):
    """Replay's checks reuse a period read while nothing was written. Replies that arrive
    20 minutes before their own time (a skewed helpdesk clock) are rows dated after the
    checks that follow, which must still count them once their time has come: the nudge
    comes at the 10:05 check (not never), as with a store read at every check."""
    rules = team_rules(unnecessary_nudge_after=1)
    day = Day(DAY)
    agent = agent_id(0)
    day.created("7001", day.at(0), "81", agent, [])
    for minutes in (60, 62, 64):  # 10:00, 10:02, 10:04 local: two unnecessary replies
        day.comment("7001", day.at(minutes), agent)
    early = [
        {**e, "at": _iso(datetime.fromisoformat(e["at"]) - timedelta(minutes=20))}
        for e in day.events
    ]
    reused, _ = replay_day(tmp_path, early, rules, UNTIL, name="reused.db")
    monkeypatch.setattr(
        "deskbridge.workflows.job_runner._ReusingReader._reuse",
        lambda self, what, period, read: read(),
    )
    read_every_time, _ = replay_day(tmp_path, early, rules, UNTIL, name="fresh.db")
    nudges = [(r["at"], r["kind"]) for r in reused if r["action"] == "coach"]
    assert nudges == [
        ("2026-03-02T10:05:00Z", "unnecessary_replies"),
        ("2026-03-02T11:00:00Z", "pace"),
        ("2026-03-02T13:00:00Z", "pace"),
        ("2026-03-02T15:30:00Z", "pace"),
    ]
    assert reused == read_every_time


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_an_agent_who_has_not_started_has_no_target_and_no_nudges(tmp_path):
    # Agent 03's replies on Monday would earn pace nudges; with started_on Wednesday 4 March
    # they earn none that day, the daily review lists them without a target (like a lead who
    # answered), and the week's target counts Wednesday to Friday only (3 x 28, tenure 0).
    events, expected = build_day(4, DAY)
    on_time = team_rules(4)
    late = team_rules(4, starts={slack_id(3): DAY + timedelta(days=2)})
    records, engine = replay_day(tmp_path, events, on_time, UNTIL, name="on_time.db")
    late_records, late_engine = replay_day(tmp_path, events, late, UNTIL, name="late.db")

    def coached(rows):
        return [(r["at"], r["kind"]) for r in rows if r.get("person") == slack_id(3)]

    assert [kind for _, kind in coached(records)].count("pace") >= 1
    assert coached(late_records) == []
    others = [r["key"] for r in records if r["action"] == "coach" and r["person"] != slack_id(3)]
    assert [r["key"] for r in late_records if r["action"] == "coach"] == others
    monday = {a["name"]: a for a in digest_of(late_engine, late)["agents"]}
    assert monday["Agent 03"] == {
        **monday["Agent 03"],
        "responses": expected.responses[3],
        "target": 0,
        "tenure_months": None,
    }
    week = {a["name"]: a for a in digest_of(late_engine, late, week=True)["agents"]}
    assert (week["Agent 03"]["target"], week["Agent 03"]["tenure_months"]) == (3 * 28, 0)
    assert digest_of(engine, on_time, week=True)["agents"][3]["target"] == 5 * 32
    engine.dispose()
    late_engine.dispose()


def _call_logged_click(ticket: str, at: datetime, slack_user: str, name: str, ts: str):
    """The "Call logged" button of the call DM, as bot/listeners/actions.py records it."""
    from deskbridge.workflows.model import EventKind, Source, TicketEvent

    return TicketEvent(
        source=Source.zendesk,
        ticket_id=ticket,
        dedupe_key=f"slack:deskbridge.call_logged:zendesk:{ticket}:{ts}:{slack_user}:",
        kind=EventKind.call_logged,
        occurred_at=at,
        actor_id=slack_user,
        vendor_type="slack:deskbridge.call_logged",
        meta={"by": name},
    )


def _call_requested(ticket: str, requester: str) -> Day:
    """Agent 00's ticket with 3 written replies, each after the customer's: the 3-response
    rule asks for a call."""
    d = Day(DAY)
    d.created(ticket, d.at(0), requester, agent_id(0), [])
    for minute in (10, 30, 50):
        d.comment(ticket, d.at(minute - 5), None)
        d.comment(ticket, d.at(minute), agent_id(0))
    return d


def _calls(feed, rules) -> tuple[int, int]:
    """Agent 00's calls asked / made in the day's review."""
    period = build_period(rules, DAY)
    with feed.store.reading() as session:
        digest = build_digest(rules, period, session.read_period(period, repeat_window(rules)))
    row = next(a for a in digest["agents"] if a["slack_id"] == slack_id(0))
    return row["calls_requested"], row["calls_logged"]


@pytest.mark.parametrize("click_first", [False, True], ids=["talk_then_click", "click_then_talk"])
def test_a_call_made_through_talk_and_logged_in_slack_counts_once(click_first):
    # Agent 00's ticket gets 3 written replies: the 3-response rule asks for a call. They call
    # through Zendesk Talk (a voice comment on the ticket) and, as the DM asks, press "Call
    # logged"; the lead presses it too. One call was made: calls asked / made 1 / 1, in
    # whichever order the voice comment and the clicks arrive. A second Talk call later is a
    # second call.
    from deskbridge.connectors.zendesk.parse import parse_zendesk
    from deskbridge.workflows.replay import ReplayFeed
    from deskbridge.workflows.rules import JOBS

    rules = team_rules(4)
    me = agent_id(0)
    d = _call_requested("5501", "7701")
    d.comment("5501", d.at(70), me, voice=True)
    *before, voice = d.events
    clicks = [
        _call_logged_click("5501", d.at(72), slack_id(0), "Agent 00", "1.2"),
        _call_logged_click("5501", d.at(73), "U0LEAD0001", "Sam Lead", "1.2"),
    ]
    feed = ReplayFeed(rules, JOBS)
    out = []

    def deliver(line: dict, at: datetime) -> None:
        raw = json.dumps(line["body"])
        out.extend(feed.add(parse_zendesk(raw.encode(), at), raw, at))

    for line in before:
        deliver(line, datetime.fromisoformat(line["at"]))
    if not click_first:
        deliver(voice, d.at(70))
    for click in clicks:
        out.extend(feed.add([click], "{}", click.occurred_at))
    if click_first:  # Talk posts the voice comment after the clicks (occurred at 70 still)
        deliver(voice, d.at(75))

    out.extend(feed.finish(None))
    assert [o["ticket"] for o in out if o["action"] == "call_customer"] == ["zendesk:5501"]
    assert _calls(feed, rules) == (1, 1)
    d.comment("5501", d.at(120), me, voice=True)  # another call, an hour later
    deliver(d.events[-1], d.at(120))
    out.extend(feed.finish(None))
    assert _calls(feed, rules) == (1, 2)


def test_a_call_logged_by_its_tag_in_zendesk_counts_as_made():
    # The 3-response rule counts the call_logged tag as the call (the lead is not told of the
    # 4th reply), and so must the review: an agent who called and tagged the ticket in
    # Zendesk, as example.yaml says, was listed as calls asked / made 1 / 0. The Slack click
    # after it (whose write-back is the same tag) is the same call.
    from deskbridge.connectors.zendesk.parse import parse_zendesk
    from deskbridge.workflows.replay import ReplayFeed
    from deskbridge.workflows.rules import JOBS

    rules = team_rules(4)
    me = agent_id(0)
    d = _call_requested("5601", "7702")
    d.tickets["5601"]["tags"] = ["call_required", "call_logged"]
    detail = d._detail("5601", d.at(70), "OPEN", me)
    tags = {"current": ["call_required", "call_logged"], "previous": ["call_required"]}
    d._emit(d.at(70), "tags_changed", "5601", detail, tags)
    d.comment("5601", d.at(90), me)  # a 4th written reply, after the call
    feed = ReplayFeed(rules, JOBS)
    out = []
    for line in d.events:
        at = datetime.fromisoformat(line["at"])
        raw = json.dumps(line["body"])
        out.extend(feed.add(parse_zendesk(raw.encode(), at), raw, at))
    out.extend(feed.finish(d.at(180)))

    assert _calls(feed, rules) == (1, 1)
    assert [o for o in out if o["action"] == "notify" and o.get("target") == "lead"] == []
    click = _call_logged_click("5601", d.at(185), slack_id(0), "Agent 00", "1.3")
    out.extend(feed.add([click], "{}", click.occurred_at))
    out.extend(feed.finish(None))
    assert _calls(feed, rules) == (1, 1)


SF_USER_15, SF_USER_18 = "0055j00000F3x9Z", "0055j00000F3x9ZAAR"


@pytest.mark.parametrize("listed", [SF_USER_15, SF_USER_18], ids=["roster_15", "roster_18"])
@pytest.mark.parametrize("sent", [SF_USER_15, SF_USER_18], ids=["sent_15", "sent_18"])
def test_a_salesforce_user_id_in_either_form_credits_the_agent(listed, sent):
    # Salesforce shows user ids in 15 characters (Classic URLs, report exports) and sends 18
    # (the API, outbound messages, Flow): the roster may hold either, the replies carry either.
    # Zendesk ids are numbers, matched as they are: an 18-digit id is not the 15-digit one.
    from deskbridge.workflows.digest import PeriodData, build_agent_figures
    from deskbridge.workflows.model import Source

    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["agents"].append(
        {
            "name": "Sofia Sf",
            "slack_id": "U02SOFIA01",
            "salesforce_id": listed,
            "zendesk_id": "901330011299901",
            "role": "agent",
            "started_on": "2024-01-08",
        }
    )
    rules = parse_rules(data)
    sofia = rules.agent_by_slack_id("U02SOFIA01")
    assert rules.agent_by_helpdesk_id(Source.salesforce, sent) is sofia  # coaching, Slack
    assert rules.agent_by_helpdesk_id(Source.zendesk, "901330011299901777") is None
    period = build_period(rules, DAY)
    replies = {
        ("salesforce", sent): 30,
        # Another user: 15 characters in another case are another record (an 18-character
        # id in one case is Sofia's: its suffix spells the case, c857c39).
        ("salesforce", SF_USER_15.lower()): 2,
        ("zendesk", "901330011299901777"): 4,
    }
    figures, unmapped = build_agent_figures(rules, period, PeriodData(responses=replies))
    row = next(f for f in figures if f.agent is sofia)
    assert (row.responses, row.target, unmapped) == (
        30,
        32,
        {"salesforce:0055j00000f3x9z": 2, "zendesk:901330011299901777": 4},
    )


# Nadia works five night shifts, Monday to Friday 22:00-06:00, written as the config asks
# (split at midnight, "22:00-24:00" then "00:00-06:00" the next day).
NIGHTS, MORNINGS = ["22:00-24:00"], ["00:00-06:00"]
NADIA_ID = "9020000000077"
NADIA = {
    "name": "Nadia Night",
    "slack_id": "U0NADIA001",
    "zendesk_id": NADIA_ID,
    "role": "agent",
    "started_on": "2024-01-08",
    "works": {
        "mon": NIGHTS,
        "tue": MORNINGS + NIGHTS,
        "wed": MORNINGS + NIGHTS,
        "thu": MORNINGS + NIGHTS,
        "fri": MORNINGS + NIGHTS,
        "sat": MORNINGS,
    },
}


def test_a_night_agent_has_one_daily_target_per_shift():
    # Five shifts of 8 h: the week's target is 5 x 32, not 6 x 32 because Friday's shift
    # runs into Saturday; Saturday's review has no target, Monday's and Friday's one each.
    # Round-the-clock hours (00:00-24:00 every day) stay one shift a day: 7 x 32.
    from deskbridge.workflows.digest import period_target, working_intervals

    always = {**NADIA, "slack_id": "U0ALWAYS01", "zendesk_id": "9020000000078"}
    always["works"] = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    always["works"] |= {"sat": ["00:00-24:00"], "sun": ["00:00-24:00"]}
    rules = team_rules(0, extra=(NADIA, always))
    nadia, clock = rules.agent_by_slack_id("U0NADIA001"), rules.agent_by_slack_id("U0ALWAYS01")
    week = build_period(rules, DAY, week=True)  # Mon 2 - Sun 8 March 2026
    assert (period_target(rules, nadia, week), period_target(rules, clock, week)) == (
        5 * 32,
        7 * 32,
    )
    targets = [
        period_target(rules, nadia, build_period(rules, DAY + timedelta(d))) for d in (0, 4, 5)
    ]
    assert targets == [32, 32, 0]
    london = datetime(2026, 3, 6, 22, tzinfo=UTC)  # London is on UTC in early March
    assert working_intervals(rules, nadia, date(2026, 3, 6)) == (
        (london, london + timedelta(hours=8)),
    )
    assert working_intervals(rules, nadia, date(2026, 3, 7)) == ()


def test_a_night_shifts_replies_count_on_the_day_it_began(tmp_path):
    # Nadia answers at 23:00 and 23:30 on Monday and at 01:00 and 05:00 on Tuesday (Monday's
    # shift), then at 22:30 on Tuesday and 02:00 on Wednesday (Tuesday's). Monday's review
    # shows 4, Tuesday's 2; the week 6. With a target of 3, the check after her third reply
    # (Tuesday 01:05, still Monday's shift) thanks her once, for Monday.
    rules = team_rules(0, extra=(NADIA,))
    small = team_rules(0, extra=(NADIA,), targets=[{"from_months": 0, "responses": 3}])
    d = Day(DAY)
    d.created("6601", d.at(13 * 60 + 50), "7701", NADIA_ID, [])  # Monday 22:50
    for hours in (14, 14.5, 16, 20, 37.5, 41):  # after Monday 09:00
        d.comment("6601", d.at(int(hours * 60) - 5), None)
        d.comment("6601", d.at(int(hours * 60)), NADIA_ID)
    until = datetime(2026, 3, 4, 12, tzinfo=UTC)
    records, engine = replay_day(tmp_path, d.events, small, until, name="small.db")
    _, full = replay_day(tmp_path, d.events, rules, until, name="full.db")

    def nadia(digest):
        return next(a for a in digest["agents"] if a["slack_id"] == "U0NADIA001")

    days = [nadia(digest_of(full, rules, DAY + timedelta(n))) for n in (0, 1, 2)]
    assert [(a["responses"], a["target"]) for a in days] == [(4, 32), (2, 32), (0, 32)]
    week = nadia(digest_of(full, rules, DAY, week=True))
    assert (week["responses"], week["target"]) == (6, 5 * 32)
    assert digest_of(full, rules)["unmapped_authors"] == []
    reached = [
        (r["at"], r["key"], r["responses"], r["target"])
        for r in records
        if r["action"] == "coach" and r["kind"] == "target_reached"
    ]
    assert reached == [
        (
            "2026-03-03T01:05:00Z",
            "job:coaching_check:coaching:2026-03-02:U0NADIA001:target_reached",
            3,
            3,
        )
    ]
    engine.dispose()
    full.dispose()


def test_the_review_at_1730_judges_a_night_agent_on_her_own_shift(tmp_path):
    # The daily review posts at 17:30. Nadia's Monday shift (22:00-06:00) has not begun at
    # Monday's: she is judged on the last one no review could judge, Friday night's (27
    # February, no replies here: 0 of 32). At Tuesday's her last shift, Monday night's, has
    # ended: its 4 replies against its target, not Tuesday's shift still to begin (0 of 32).
    # A day agent (Agent 00, 09:00-18:00) is judged on her day.
    rules = team_rules(1, extra=(NADIA,))
    d = Day(DAY)
    d.created("6602", d.at(60), "7702", agent_id(0), [])  # Monday 10:00
    d.comment("6602", d.at(90), agent_id(0))
    d.created("6601", d.at(13 * 60 + 50), "7701", NADIA_ID, [])  # Monday 22:50
    for hours in (14, 14.5, 16, 20):  # Monday 23:00, 23:30, Tuesday 01:00, 05:00
        d.comment("6601", d.at(int(hours * 60) - 5), None)
        d.comment("6601", d.at(int(hours * 60)), NADIA_ID)
    records, engine = replay_day(tmp_path, d.events, rules, datetime(2026, 3, 3, 18, tzinfo=UTC))
    engine.dispose()
    posted = [
        (r["at"], [(a["slack_id"], a["responses"], a["target"]) for a in r["digest"]["agents"]])
        for r in records
        if r["ticket"] == "job:daily_digest"
    ]
    assert posted == [
        ("2026-03-02T17:30:00Z", [("U0COACH00", 1, 32), ("U0NADIA001", 0, 32)]),
        ("2026-03-03T17:30:00Z", [("U0COACH00", 0, 32), ("U0NADIA001", 4, 32)]),
    ]


# Rita works 12:00-20:00 on weekdays: at the 17:30 review, 2.5 of her 8 hours are still to go.
RITA_ID = "9020000000088"
RITA = {
    "name": "Rita Late",
    "slack_id": "U0RITA0001",
    "zendesk_id": RITA_ID,
    "role": "agent",
    "started_on": "2024-01-08",
    "works": {day: ["12:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
}


def posted_reviews(records):
    return [
        (
            r["at"],
            [
                (
                    a["slack_id"],
                    a["responses"],
                    a["target"],
                    a.get("expected_by_now"),
                    a.get("shift_ends"),
                )
                for a in r["digest"]["agents"]
            ],
        )
        for r in records
        if r["ticket"] == "job:daily_digest"
    ]


def test_the_review_judges_a_shift_still_running_on_its_hours_so_far(tmp_path):
    # At 17:30 Rita has 5.5 of her 8 hours behind her: on the pace checks' straight line 22
    # of 32 are due, and she has 22, so she is not behind (✅), and the review says her shift
    # runs to 20:00. Agent 00 (09:00-18:00) with 1 reply is behind the 31 due by 17:30
    # (32 x 8.5 / 9, rounded up). The week's review on Friday at 16:00 has four whole days
    # and Friday's 4 of 8 hours for Rita: 4 x 32 + 16 due of 5 x 32.
    from deskbridge.bot.digest import build_digest_message

    rules = team_rules(1, extra=(RITA,))
    d = Day(DAY)
    d.created("6602", d.at(60), "7702", agent_id(0), [])  # Monday 10:00
    d.comment("6602", d.at(90), agent_id(0))
    d.created("6603", d.at(170), "7703", RITA_ID, [])  # Monday 11:50
    for k in range(22):  # 12:05 to 17:20
        d.comment("6603", d.at(185 + 15 * k - 5), None)
        d.comment("6603", d.at(185 + 15 * k), RITA_ID)
    records, engine = replay_day(tmp_path, d.events, rules, datetime(2026, 3, 2, 18, tzinfo=UTC))
    engine.dispose()
    ends = "2026-03-02T{}:00:00+00:00"  # London is on UTC in early March
    assert posted_reviews(records) == [
        (
            "2026-03-02T17:30:00Z",
            [
                ("U0COACH00", 1, 32, 31, ends.format(18)),
                ("U0RITA0001", 22, 32, 22, ends.format(20)),
            ],
        )
    ]
    [review] = [r["digest"] for r in records if r["ticket"] == "job:daily_digest"]
    lines = build_digest_message(review, rules.team.name)["blocks"][1]["text"]["text"]
    assert lines.splitlines() == [
        "⏳ *Agent 00* 1/32 · on shift to 18:00, 31 due by now · first reply 30 min"
        " · calls asked/made 0/0 · solved 0",
        "✅ *Rita Late* 22/32 · on shift to 20:00, 22 due by now · first reply 15 min"
        " · calls asked/made 1/0 · solved 0",
    ]
    from deskbridge.workflows.digest import judge_agent

    rita = rules.agent_by_slack_id("U0RITA0001")
    friday = datetime(2026, 3, 6, 16, tzinfo=UTC)
    week = judge_agent(rules, rita, build_period(rules, DAY, week=True, now=friday))
    assert (week.target, week.expected, week.ends) == (5 * 32, 4 * 32 + 16, friday.replace(hour=20))
    # Built after her shift, the day is judged whole, as before.
    after = judge_agent(
        rules, rita, build_period(rules, DAY, now=datetime(2026, 3, 2, 20, tzinfo=UTC))
    )
    assert (after.target, after.expected, after.ends) == (32, None, None)


def night_replies(day: date, author: str, hours: tuple[float, ...]) -> list[dict]:
    """A ticket opened at 22:20 on `day` for `author`, who replies at each of `hours` (after
    09:00 that day), a customer message before each."""
    d = Day(day)
    d.created("6601", d.at(13 * 60 + 20), "7701", author, [])
    for h in hours:
        d.comment("6601", d.at(int(h * 60) - 5), None)
        d.comment("6601", d.at(int(h * 60)), author)
    return d.events


def daily_reviews(records) -> list[tuple[str, list[tuple]]]:
    """Each posted daily review: its time, and (responses, target, shift_of) per agent."""
    return [
        (r["at"], [(a["responses"], a["target"], a.get("shift_of")) for a in r["digest"]["agents"]])
        for r in records
        if r["ticket"] == "job:daily_digest"
    ]


def test_a_night_shift_no_posted_review_covered_is_judged_in_the_next_one(tmp_path):
    # Friday's review posts at 17:30, before Nadia's Friday shift (22:00-06:00) begins; no
    # review posts on Saturday or Sunday. Monday's, her Monday shift not begun, judges her
    # on Friday night's shift: its 3 replies against its target (not 0 of 0).
    from deskbridge.bot.digest import agent_lines

    rules = team_rules(0, extra=(NADIA,))
    # Friday 22:30, Saturday 01:00, 03:00
    events = night_replies(date(2026, 3, 6), NADIA_ID, (13.5, 16, 18))
    records, engine = replay_day(tmp_path, events, rules, datetime(2026, 3, 9, 18, tzinfo=UTC))
    engine.dispose()
    assert daily_reviews(records) == [("2026-03-09T17:30:00Z", [(3, 32, "2026-03-06")])]
    [monday] = [r["digest"] for r in records if r["ticket"] == "job:daily_digest"]
    assert agent_lines(monday) == [
        "⏳ *Nadia Night* 3/32 · Fri's shift · calls asked/made 0/0 · solved 0"
    ]


def test_after_a_holiday_the_review_looks_back_to_the_last_one_posted(tmp_path):
    # Monday 4 May 2026 is a bank holiday in England: no review posts, so the last before
    # Tuesday's posted on Friday, before Nina's Friday night shift began. Tuesday's review,
    # her Tuesday shift not begun, judges her on Friday night's (2 replies of 32), not on
    # Monday (0 of 0, as if there were nothing to judge).
    nina = {
        **NADIA,
        "name": "Nina Weekend",
        "slack_id": "U0NINA0001",
        "zendesk_id": "9020000000099",
        "works": {"tue": NIGHTS, "wed": MORNINGS, "fri": NIGHTS, "sat": MORNINGS},
    }
    rules = team_rules(0, extra=(nina,))
    # Friday 22:30, Saturday 02:00 (BST)
    events = night_replies(date(2026, 5, 1), nina["zendesk_id"], (13.5, 17))
    records, engine = replay_day(tmp_path, events, rules, datetime(2026, 5, 5, 18, tzinfo=UTC))
    engine.dispose()
    assert daily_reviews(records) == [("2026-05-05T16:30:00Z", [(2, 32, "2026-05-01")])]


def test_a_night_shift_next_to_a_holiday_is_the_shift_of_the_day_it_began(tmp_path):
    # Good Friday (3 April 2026) and Easter Monday are bank holidays in England. Nadia's
    # Thursday shift (22:00-06:00) began on a working day: it runs to 06:00 on Friday, and her
    # replies at 22:30, 02:00 and 04:00 are Thursday's 3. Her Friday and Monday shifts, begun
    # on the holidays, are not worked: their hours after midnight are no shifts of their own
    # (no Saturday target, the week's is 4 x 32). Tuesday's review, the first posted after
    # Thursday's, judges her on Thursday night's shift, not on Tuesday's morning hours
    # (0 of 32). With a target of 3, the check after her third reply (04:05 on the holiday,
    # still Thursday's shift) thanks her.
    from deskbridge.workflows.digest import period_target, working_intervals

    rules = team_rules(0, extra=(NADIA,))
    small = team_rules(0, extra=(NADIA,), targets=[{"from_months": 0, "responses": 3}])
    nadia = rules.agent_by_slack_id("U0NADIA001")
    # Thursday 22:30, Friday 02:00, 04:00 (BST)
    events = night_replies(date(2026, 4, 2), NADIA_ID, (13.5, 17, 19))
    until = datetime(2026, 4, 7, 18, tzinfo=UTC)
    thanked, small_engine = replay_day(tmp_path, events, small, until, name="small.db")
    small_engine.dispose()
    assert [(r["at"], r["key"]) for r in thanked if r["action"] == "coach"] == [
        ("2026-04-03T03:05:00Z", "job:coaching_check:coaching:2026-04-02:U0NADIA001:target_reached")
    ]
    records, engine = replay_day(tmp_path, events, rules, until)
    [thursday] = digest_of(engine, rules, date(2026, 4, 2))["agents"]
    [week] = digest_of(engine, rules, date(2026, 3, 30), week=True)["agents"]
    engine.dispose()
    assert daily_reviews(records) == [("2026-04-07T16:30:00Z", [(3, 32, "2026-04-02")])]
    assert (thursday["responses"], thursday["target"]) == (3, 32)
    assert (week["responses"], week["target"]) == (3, 4 * 32)
    assert period_target(rules, nadia, build_period(rules, date(2026, 4, 4))) == 0
    assert working_intervals(rules, nadia, date(2026, 4, 2)) == (
        (datetime(2026, 4, 2, 21, tzinfo=UTC), datetime(2026, 4, 3, 5, tzinfo=UTC)),
    )
    assert working_intervals(rules, nadia, date(2026, 4, 4)) == ()
    assert working_intervals(rules, nadia, date(2026, 4, 7)) == (
        (datetime(2026, 4, 7, 21, tzinfo=UTC), datetime(2026, 4, 8, 5, tzinfo=UTC)),
    )


def test_a_night_agents_own_window_is_not_reused_from_another_shift(tmp_path):
    # Nadia's Friday night shift has her 3 replies (a target of 3: reached, thanked once, for
    # Friday). On Monday the 09:00 check reads the day while her Monday shift is still to begin
    # (her window then is Friday night's); from 22:00, her Monday shift begun with no reply,
    # replay must not reuse that read: no "3 of 3" thanks for Monday.
    rules = team_rules(1, extra=(NADIA,), targets=[{"from_months": 0, "responses": 3}])
    events = night_replies(date(2026, 3, 6), NADIA_ID, (13.5, 16, 18))
    records, engine = replay_day(tmp_path, events, rules, datetime(2026, 3, 9, 23, tzinfo=UTC))
    engine.dispose()
    reached = [
        (r["at"], r["person"], r["responses"])
        for r in records
        if r["action"] == "coach" and r["kind"] == "target_reached"
    ]
    assert reached == [("2026-03-07T03:05:00Z", "U0NADIA001", 3)]


def test_a_closure_and_a_team_on_night_hours_go_by_the_day_a_shift_begins():
    # Nadia's Wednesday shift runs into the closure on 24 December to 06:00, none begins
    # on it; Tuesday 29 December, after Boxing Day (observed Monday 28), has only its own
    # shift, not the morning of one begun on the holiday. An agent on the team's hours (no
    # `works`), were those Nadia's nights, has the same shifts around Good Friday.
    from deskbridge.config.rules import BusinessHoursConfig
    from deskbridge.workflows.digest import working_intervals

    rules = team_rules(0, extra=(NADIA,))
    nadia = rules.agent_by_slack_id("U0NADIA001")
    night = timedelta(hours=8)
    wednesday = datetime(2026, 12, 23, 22, tzinfo=UTC)  # London is on UTC in December
    tuesday = datetime(2026, 12, 29, 22, tzinfo=UTC)
    assert [working_intervals(rules, nadia, date(2026, 12, d)) for d in (23, 24, 29)] == [
        ((wednesday, wednesday + night),),
        (),
        ((tuesday, tuesday + night),),
    ]
    member = {k: v for k, v in NADIA.items() if k != "works"}
    member |= {"slack_id": "U0TEAMNT01", "zendesk_id": "9020000000079"}
    hours = {**rules.business_hours.model_dump(), "week": NADIA["works"]}
    nights = team_rules(0, extra=(member,)).model_copy(
        update={"business_hours": BusinessHoursConfig.model_validate(hours)}
    )
    agent = nights.agent_by_slack_id("U0TEAMNT01")
    thursday = datetime(2026, 4, 2, 21, tzinfo=UTC)  # 22:00 BST
    assert [working_intervals(nights, agent, date(2026, 4, d)) for d in (2, 3, 4)] == [
        ((thursday, thursday + night),),
        (),
        (),
    ]


def test_a_pace_check_goes_by_the_shift_a_holiday_night_belongs_to(tmp_path):
    # Nadia replies at 22:30 on Thursday 2 April and at 01:00 and 02:30 on Good Friday (her
    # Thursday shift), then at 01:00 on Saturday, when no shift of hers runs (none began on
    # the holiday). A pace check at 03:00 nudges her on Good Friday, 5 of her 8 hours done
    # with 3 of 32 (20 due); none on Saturday, whose early hours are no shift with a target.
    rules = team_rules(0, extra=(NADIA,), pace_checks=["03:00"])
    events = night_replies(date(2026, 4, 2), NADIA_ID, (13.5, 16, 17.5, 40))
    records, engine = replay_day(tmp_path, events, rules, datetime(2026, 4, 7, 18, tzinfo=UTC))
    engine.dispose()
    paced = [
        (r["at"], r["person"], r["reason"], r["responses"], r["target"])
        for r in records
        if r["action"] == "coach" and r["kind"] == "pace"
    ]
    assert paced == [
        (
            "2026-04-03T02:00:00Z",
            "U0NADIA001",
            "3 of 32 by 03:00 — about 10 an hour keeps you on track",
            3,
            32,
        )
    ]


def test_the_checks_figures_are_the_reviews_responses_and_unnecessary_replies():
    """The coaching checks read each agent's responses and unnecessary replies from
    build_reply_figures, without the review's judgements: the same counts as the review's
    build_agent_figures gives, own windows, unmapped authors and both helpdesks included."""
    from deskbridge.workflows.digest import (
        PeriodData,
        RepeatedReply,
        build_agent_figures,
        build_reply_figures,
    )

    rules = parse_rules(yaml.safe_load(EXAMPLE_CONFIG.read_text()))
    period = build_period(rules, DAY)
    agents = [a for a in rules.agents if a.zendesk_id][:3]
    first, second, third = (a.zendesk_id for a in agents)
    at = datetime(2026, 3, 2, 10, tzinfo=UTC)
    data = PeriodData(
        responses={("zendesk", first): 7, ("zendesk", second): 3, ("zendesk", "999"): 5},
        own_responses={agents[2].slack_id: {("zendesk", third): 4, ("zendesk", first): 9}},
        repeated_replies=[
            RepeatedReply("zendesk:1", first, at - timedelta(minutes=5), at),
            RepeatedReply("zendesk:2", first, at - timedelta(hours=5), at),
            RepeatedReply("zendesk:3", second, at - timedelta(minutes=1), at),
        ],
    )
    review, _ = build_agent_figures(rules, period, data)
    checks = build_reply_figures(rules, data)
    assert set(checks) == {a.slack_id for a in rules.agents}
    for row in review:
        mine = checks[row.agent.slack_id]
        assert (mine.responses, mine.unnecessary) == (row.responses, row.unnecessary)
    assert [checks[a.slack_id].responses for a in agents] == [7, 3, 4]
    assert checks[agents[0].slack_id].unnecessary == ["zendesk:1"]


def test_the_weekly_review_on_a_holiday_posts_the_business_day_before_it():
    # Good Friday (3 April 2026) and Christmas Day (a Friday, the 24th a closure in the
    # example): the Friday 16:00 review went to the lead channel while nobody was in. It
    # posts on the team's last business day before it in the same week, at the same time,
    # about the same Monday-to-Sunday week; an ordinary week keeps its Friday.
    from deskbridge.config.rules import load_rules
    from deskbridge.config.settings import EXAMPLE_CONFIG
    from deskbridge.workflows.rules.coaching import weekly_digest_occurrences

    rules = load_rules(EXAMPLE_CONFIG)

    def weekly(first: str, last: str) -> list[str]:
        start = datetime.fromisoformat(first + "T00:00:00+00:00")
        end = datetime.fromisoformat(last + "T00:00:00+00:00")
        return [at.isoformat() for at in weekly_digest_occurrences(rules, start, end)]

    assert weekly("2026-03-23", "2026-04-13") == [
        "2026-03-27T16:00:00+00:00",  # Friday (GMT)
        "2026-04-02T15:00:00+00:00",  # Thursday before Good Friday, 16:00 BST
        "2026-04-10T15:00:00+00:00",  # Friday again (Easter Monday does not move it)
    ]
    assert weekly("2026-12-21", "2026-12-28") == ["2026-12-23T16:00:00+00:00"]


def test_a_weekly_review_on_a_day_the_team_never_works_keeps_its_day(tmp_path):
    from deskbridge.config.rules import load_rules
    from deskbridge.config.settings import EXAMPLE_CONFIG
    from deskbridge.workflows.rules.coaching import weekly_digest_occurrences

    text = EXAMPLE_CONFIG.read_text().replace(
        'weekly_on: "friday 16:00"', 'weekly_on: "sunday 18:00"'
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    rules = load_rules(path)
    start = datetime.fromisoformat("2026-03-30T00:00:00+00:00")
    end = datetime.fromisoformat("2026-04-06T00:00:00+00:00")
    assert [at.isoformat() for at in weekly_digest_occurrences(rules, start, end)] == [
        "2026-04-05T17:00:00+00:00"  # Easter Sunday, 18:00 BST: the day the team chose
    ]
