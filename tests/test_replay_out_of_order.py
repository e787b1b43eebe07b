"""Events delivered late or out of order decide what a clean, in-order replay decides
(DESIGN §3 step 4), through `deskbridge replay --until` (config/example.yaml)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.store.activity import read_period
from deskbridge.store.db import create_store_engine
from deskbridge.workflows.digest import build_digest, build_period, repeat_window
from deskbridge.workflows.replay import run_replay
from tests.test_replay_sla import (
    AGENT,
    answered_at_0905,
    body,
    customer,
    delivered,
    replay_sla,
    reply,
    status,
)


def replay_all(lines: list[dict], until: str, config: Path = EXAMPLE_CONFIG) -> list[dict]:
    """Every action replaying `lines` in arrival order decides, as JSON records."""
    text = "".join(json.dumps(line) + "\n" for line in in_arrival_order(lines))
    command = ["replay", "-", "--until", until, "--config", str(config)]
    result = CliRunner().invoke(main, command, input=text)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def in_arrival_order(lines: list[dict]) -> list[dict]:
    return sorted(lines, key=lambda line: line["at"])


# -- 1. a pending period delivered late ---------------------------------------------------

CREATED = "2026-03-09T09:00:00Z"  # Monday; urgent resolution target 9 business hours


def two_status_changes(
    ticket: str,
    first: tuple[str, str, str],
    second: tuple[str, str, str],
    tagged: str,
    arrivals: tuple[str, str | None] | None = None,
    between: Sequence[dict] = (),
) -> list[dict]:
    """An urgent ticket created 09:00 on 9 March and answered at 09:20, then `between`, two
    status changes (HH:MM, new, previous) and a tag change at `tagged` (HH:MM); the status
    changes delivered at `arrivals` (HH:MM each, None: when made) or when made."""
    changes = [
        status(ticket, f"2026-03-09T{at}:00Z", n, new, old, CREATED)
        for n, (at, new, old) in ((3, first), (4, second))
    ]
    for index, arrived in enumerate(arrivals or ()):
        if arrived is not None:
            changes[index] = delivered(changes[index], f"2026-03-09T{arrived}:00Z")
    return [
        body("created", ticket, CREATED, 1, status="NEW"),
        reply(ticket, "2026-03-09T09:20:00Z", 2, CREATED),
        *between,
        *changes,
        body("tags_changed", ticket, f"2026-03-09T{tagged}:00Z", 5, created=CREATED),
    ]


# Resolution (9 business hours from 09:00) paused from 10:00 to 12:00.
ON_HOLD_TWO_HOURS = [
    ("2026-03-09T17:45:00Z", "sla_warning", "resolution", "assignee"),
    ("2026-03-10T10:06:00Z", "sla_warning", "resolution", "lead"),
    ("2026-03-10T11:00:00Z", "sla_breach", "resolution", "lead"),
]


@pytest.mark.parametrize(
    "arrivals",
    [
        None,
        # The pending period and its end come after a later event (a 13:00 tag change).
        ("13:05", "13:10"),
        # Its end first, then its start.
        ("13:10", "13:05"),
        # Only the start late: the ticket was open again at 12:00, delivered in time.
        ("13:05", None),
    ],
    ids=["in order", "both late", "end before start", "start late"],
)
def test_a_pending_period_delivered_late_pauses_resolution_as_in_order(arrivals):
    lines = two_status_changes(
        "621", ("10:00", "PENDING", "OPEN"), ("12:00", "OPEN", "PENDING"), "13:00", arrivals
    )
    fired = replay_sla(in_arrival_order(lines), until="2026-03-11T00:00:00Z", metric="resolution")
    # Two business hours on hold: each deadline two business hours later than unpaused
    # (test_replay_sla's 15:45, 17:06, 18:00).
    assert fired == ON_HOLD_TWO_HOURS


@pytest.mark.parametrize("late", [False, True], ids=["in order", "both late"])
def test_a_pending_period_delivered_late_after_twenty_other_events_still_pauses_resolution(late):
    """Twenty tag changes (each a status point, all "open") before a pending period delivered
    late no longer push out when the clock started: the late period still pauses it."""
    tags = [
        body("tags_changed", "621", f"2026-03-09T09:{30 + n:02d}:00Z", 10 + n, created=CREATED)
        for n in range(20)
    ]
    lines = two_status_changes(
        "621",
        ("10:00", "PENDING", "OPEN"),
        ("12:00", "OPEN", "PENDING"),
        "13:00",
        ("13:05", "13:10") if late else None,
        between=tags,
    )
    fired = replay_sla(in_arrival_order(lines), until="2026-03-11T00:00:00Z", metric="resolution")
    assert fired == ON_HOLD_TWO_HOURS


def solved_and_reopened(ticket: str, late: bool) -> list[dict]:
    """Answered 09:20, solved 10:00 and reopened 11:00, both delivered after a 12:00 tag
    change when `late`."""
    return two_status_changes(
        ticket,
        ("10:00", "SOLVED", "OPEN"),
        ("11:00", "OPEN", "SOLVED"),
        "12:00",
        ("12:05", "12:10") if late else None,
    )


@pytest.mark.parametrize("late", [False, True], ids=["in order", "both late"])
def test_a_solve_and_reopen_delivered_late_restart_resolution_as_in_order(late):
    # Answered 09:20, solved 10:00 and reopened 11:00, both delivered after a 12:00 tag
    # change: as in writing order the solve meets the first resolution clock and the reopen
    # starts a new one (9 business hours from 11:00), not a one-hour pause of the first.
    lines = solved_and_reopened("661", late)
    fired = replay_sla(in_arrival_order(lines), until="2026-03-11T00:00:00Z", metric="resolution")
    assert fired == [
        ("2026-03-09T17:45:00Z", "sla_warning", "resolution", "assignee"),
        ("2026-03-10T10:06:00Z", "sla_warning", "resolution", "lead"),
        ("2026-03-10T11:00:00Z", "sla_breach", "resolution", "lead"),
    ]


@pytest.mark.parametrize("late", [False, True], ids=["in order", "both late"])
def test_a_solve_and_reopen_delivered_late_count_the_first_resolution_met(tmp_path, late):
    lines = solved_and_reopened("662", late)
    digest = replay_digest(tmp_path, lines, datetime(2026, 3, 9, 14, 0, tzinfo=UTC))
    assert digest["sla"] == {
        "first_reply": {"met": 1, "breached": 0},
        "next_reply": {"met": 0, "breached": 0},
        "resolution": {"met": 1, "breached": 0},
    }


def solves_in_review(tmp_path, lines: list[dict]) -> int:
    """Solves the leads' review of 9 March (at 16:00) credits to the ticket's assignee."""
    digest = replay_digest(tmp_path, lines, datetime(2026, 3, 9, 16, 0, tzinfo=UTC))
    (agent,) = [a for a in digest["agents"] if a["slack_id"] == "U02PRIYA01"]
    return agent["solved"]


@pytest.mark.parametrize("late", [False, True], ids=["in order", "both late"])
def test_a_solve_and_reopen_delivered_late_count_one_solve_in_the_review(tmp_path, late):
    # Solved 10:00 and reopened 11:00, both delivered after a 12:00 tag change (open): the
    # solve is a solve of the day, as in writing order, though the ticket was open when it came.
    assert solves_in_review(tmp_path, solved_and_reopened("663", late)) == 1


@pytest.mark.parametrize(
    "arrivals",
    [None, ("13:05", None, None), (None, "13:05", None), ("13:10", "13:05", None)],
    ids=["in order", "reopen late", "first solve late", "both late"],
)
def test_each_solve_of_a_ticket_solved_twice_counts_however_its_changes_come(tmp_path, arrivals):
    # Solved 10:00, reopened 11:00, solved again 13:00 (each change HH:MM, new, previous):
    # two solves, as in writing order, whichever of the first two changes comes after the
    # third. A change delivered late arrives at its HH:MM in `arrivals`.
    created, ticket = "2026-03-09T09:00:00Z", "664"
    changes = [
        status(ticket, f"2026-03-09T{at}:00Z", n, new, old, created)
        for n, (at, new, old) in enumerate(
            [("10:00", "SOLVED", "OPEN"), ("11:00", "OPEN", "SOLVED"), ("13:00", "SOLVED", "OPEN")],
            start=3,
        )
    ]
    for index, arrived in enumerate(arrivals or ()):
        if arrived is not None:
            changes[index] = delivered(changes[index], f"2026-03-09T{arrived}:00Z")
    lines = [
        body("created", ticket, created, 1, status="NEW"),
        reply(ticket, "2026-03-09T09:20:00Z", 2, created),
        *changes,
    ]
    assert solves_in_review(tmp_path, lines) == 2


@pytest.mark.parametrize("late", [False, True], ids=["in order", "solve late"])
def test_a_solve_delivered_after_twenty_later_events_counts_once(tmp_path, late):
    # Solved at 10:00; a tag change at 10:00:30 and twenty more to 10:20 carry the solved
    # status. Delivered after them all (at 12:05), the solve's own change is the same solve,
    # though the ticket's status points, kept to twenty, no longer hold the 10:00:30 one
    # that first showed it: one solve, as in writing order (it was two).
    created, ticket = "2026-03-09T09:00:00Z", "665"
    solve = status(ticket, "2026-03-09T10:00:00Z", 3, "SOLVED", "OPEN", created)
    tags = [
        body("tags_changed", ticket, at, 10 + n, status="SOLVED", created=created)
        for n, at in enumerate(
            ["2026-03-09T10:00:30Z"] + [f"2026-03-09T10:{m:02d}:00Z" for m in range(1, 21)]
        )
    ]
    lines = [
        body("created", ticket, created, 1, status="NEW"),
        reply(ticket, "2026-03-09T09:20:00Z", 2, created),
        delivered(solve, "2026-03-09T12:05:00Z") if late else solve,
        *tags,
    ]
    assert solves_in_review(tmp_path, lines) == 1


# -- 3. a reply delivered after the solve ---------------------------------------------------


def replay_digest(tmp_path, lines: list[dict], until: datetime) -> dict:
    """The leads' review of 9 March after replaying `lines` (in arrival order) into a store."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    rules = load_rules(EXAMPLE_CONFIG)
    text = [json.dumps(line) for line in in_arrival_order(lines)]
    assert all(isinstance(r, dict) for r in run_replay(text, rules, CONNECTORS, until, url))
    engine = create_store_engine(url)
    period = build_period(rules, date(2026, 3, 9))
    with engine.connect() as connection:
        digest = build_digest(rules, period, read_period(connection, period, repeat_window(rules)))
    engine.dispose()
    return digest


def solved_after_reply(ticket: str, written: str, solved: str, arrived: str | None) -> list[dict]:
    """An urgent ticket created 09:00 on 9 March, answered once at `written` and solved at
    `solved` (HH:MM); the reply delivered at `arrived`, after the solve, or when written."""
    created = "2026-03-09T09:00:00Z"
    answer = reply(ticket, f"2026-03-09T{written}:00Z", 2, created)
    return [
        body("created", ticket, created, 1, status="NEW"),
        delivered(answer, f"2026-03-09T{arrived}:00Z") if arrived else answer,
        status(ticket, f"2026-03-09T{solved}:00Z", 3, "SOLVED", "OPEN", created),
    ]


@pytest.mark.parametrize("late", [False, True], ids=["in order", "delivered late"])
def test_a_reply_delivered_after_the_solve_meets_its_clock_as_in_order(tmp_path, late):
    # Answered at 09:30 (within the hour), solved at 09:40, the reply delivered at 09:45
    # (before the first reply's warning): the first reply was met, as in writing order.
    lines = solved_after_reply("631", "09:30", "09:40", "09:45" if late else None)
    digest = replay_digest(tmp_path, lines, datetime(2026, 3, 9, 14, 0, tzinfo=UTC))
    assert digest["sla"] == {
        "first_reply": {"met": 1, "breached": 0},
        "next_reply": {"met": 0, "breached": 0},
        "resolution": {"met": 1, "breached": 0},
    }


@pytest.mark.parametrize("late", [False, True], ids=["in order", "delivered late"])
def test_a_slow_first_reply_delivered_after_the_solve_is_coached_as_in_order(late):
    # Answered at 10:30, 90 minutes into a 60-minute target, solved at 10:40, the reply
    # delivered at 10:45: the agent is coached as in writing order.
    lines = solved_after_reply("632", "10:30", "10:40", "10:45" if late else None)
    out = replay_all(lines, "2026-03-09T14:00:00Z")
    coached = [
        (o["kind"], o["person"], o["key"], o["reason"])
        for o in out
        if o["action"] == "coach" and o["kind"] != "pace"
    ]
    assert coached == [
        (
            "slow_first_reply",
            "U02PRIYA01",
            "zendesk:632:coaching:slow_first_reply",
            "This first reply took 1h30 of business time against a 1h target — picking up "
            "new tickets early keeps customers calm",
        ),
    ]


def test_a_slow_first_reply_against_a_calendar_target_says_calendar_time(tmp_path):
    # The urgent policy's first reply on calendar time: the nudge said "of business time".
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    urgent = next(p for p in rules["sla"]["policies"] if p["name"] == "urgent")
    urgent["calendar_time"] = ["first_reply"]
    config = tmp_path / "rules.yaml"
    config.write_text(yaml.safe_dump(rules, allow_unicode=True))
    lines = solved_after_reply("634", "10:30", "10:40", None)

    out = replay_all(lines, "2026-03-09T14:00:00Z", config)

    assert [o["reason"] for o in out if o["action"] == "coach" and o["kind"] != "pace"] == [
        "This first reply took 1h30 of calendar time against a 1h target — picking up new "
        "tickets early keeps customers calm"
    ]


@pytest.mark.parametrize("late", [False, True], ids=["in order", "delivered late"])
def test_a_reply_delivered_after_a_reopen_leaves_the_next_message_its_clock_as_in_order(late):
    # Answered at 09:30, solved 09:40, reopened 10:00, the customer wrote again at 10:05; the
    # 09:30 reply delivered at 10:10, after all of it. As in writing order the 10:05 message
    # waits on the next reply clock (urgent: 2 business hours), warned and breached at 12:05.
    created = "2026-03-09T09:00:00Z"
    answer = reply("633", "2026-03-09T09:30:00Z", 2, created)
    lines = [
        body("created", "633", created, 1, status="NEW"),
        delivered(answer, "2026-03-09T10:10:00Z") if late else answer,
        status("633", "2026-03-09T09:40:00Z", 3, "SOLVED", "OPEN", created),
        status("633", "2026-03-09T10:00:00Z", 4, "OPEN", "SOLVED", created),
        customer("633", "2026-03-09T10:05:00Z", 5, created),
    ]
    fired = replay_sla(in_arrival_order(lines), "2026-03-10T00:00:00Z", metric="next_reply")
    assert fired == [
        ("2026-03-09T11:35:00Z", "sla_warning", "next_reply", "assignee"),
        ("2026-03-09T11:53:00Z", "sla_warning", "next_reply", "lead"),
        ("2026-03-09T12:05:00Z", "sla_breach", "next_reply", "lead"),
    ]


@pytest.mark.parametrize(
    ("arrival", "reopened_at"),
    [
        (None, "10:00"),
        # The message reaches deskbridge at 10:40, after a 10:30 tag change.
        ("2026-03-09T10:40:00Z", "10:00"),
        # No reopen of its own: the customer's message reopens the ticket (as Zendesk does).
        ("reopens", "10:05"),
    ],
    ids=["in order", "message late", "the message reopens"],
)
def test_a_ticket_solved_unanswered_and_reopened_watches_the_customer_s_new_message(
    arrival, reopened_at
):
    # Created 09:00, solved 09:30 with no reply (its first-reply clock stops unmet), reopened,
    # and the customer writes again at 10:05. As on an answered ticket reopened (above), the
    # message starts the next-reply clock (urgent: 2 business hours, breach 12:05) and the
    # reopen restarts resolution (9 business hours: breach Tuesday at the reopen's time).
    created = "2026-03-09T09:00:00Z"
    message = customer("634", "2026-03-09T10:05:00Z", 5, created)
    lines = [
        body("created", "634", created, 1, status="NEW"),
        status("634", "2026-03-09T09:30:00Z", 3, "SOLVED", "NEW", created),
        body("tags_changed", "634", "2026-03-09T10:30:00Z", 6, created=created),
    ]
    if arrival != "reopens":  # otherwise the message's OPEN snapshot reopens it
        lines.append(status("634", "2026-03-09T10:00:00Z", 4, "OPEN", "SOLVED", created))
        message = delivered(message, arrival) if arrival else message
    fired = replay_sla(in_arrival_order([*lines, message]), "2026-03-11T00:00:00Z")
    minute = int(reopened_at[3:])
    assert fired == [
        ("2026-03-09T11:35:00Z", "sla_warning", "next_reply", "assignee"),
        ("2026-03-09T11:53:00Z", "sla_warning", "next_reply", "lead"),
        ("2026-03-09T12:05:00Z", "sla_breach", "next_reply", "lead"),
        (f"2026-03-09T16:{45 + minute:02d}:00Z", "sla_warning", "resolution", "assignee"),
        (f"2026-03-10T09:{6 + minute:02d}:00Z", "sla_warning", "resolution", "lead"),
        (f"2026-03-10T10:{minute:02d}:00Z", "sla_breach", "resolution", "lead"),
    ]


@pytest.mark.parametrize("late", [False, True], ids=["in order", "solve late"])
def test_a_solve_delivered_late_stops_the_first_reply_clock_as_in_order(late):
    # High priority (first reply 4 business hours), created 09:00 and solved at 09:30 with
    # no reply; a 10:30 tag change's snapshot says open again (the ticket was reopened). The
    # solve delivered at 10:35, after the tag change: as in writing order its first-reply
    # clock stopped unmet at 09:30 (no warning nor breach at 12:00/12:36/13:00), and
    # resolution (18 business hours) runs again from the reopen.
    created = "2026-03-09T09:00:00Z"
    solved = status("671", "2026-03-09T09:30:00Z", 2, "SOLVED", "NEW", created)
    solved["body"]["detail"]["priority"] = "HIGH"
    lines = [
        body("created", "671", created, 1, status="NEW", priority="HIGH"),
        delivered(solved, "2026-03-09T10:35:00Z") if late else solved,
        body("tags_changed", "671", "2026-03-09T10:30:00Z", 3, priority="HIGH", created=created),
    ]
    fired = replay_sla(in_arrival_order(lines), "2026-03-12T00:00:00Z")
    assert fired == [
        ("2026-03-10T15:00:00Z", "sla_warning", "resolution", "assignee"),
        ("2026-03-10T17:42:00Z", "sla_warning", "resolution", "lead"),
        ("2026-03-11T10:30:00Z", "sla_breach", "resolution", "lead"),
    ]


# -- 2. a breach known late says how late -------------------------------------------------


def test_warnings_known_before_the_deadline_still_go_out_when_a_message_comes_late():
    # The same message reached deskbridge at 11:50: the deadline (12:00) is still ahead, so
    # its warnings go out (at their times, as in writing order), then the breach on time.
    created = "2026-03-09T09:00:00Z"
    late = delivered(customer("642", "2026-03-09T10:00:00Z", 3, created), "2026-03-09T11:50:00Z")
    out = replay_all([*answered_at_0905("642", created), late], "2026-03-09T14:00:00Z")
    fired = [o for o in out if o["rule"] == "sla"]
    assert [(o["at"], o["action"], o.get("due_at"), o.get("late_by_s")) for o in fired] == [
        ("2026-03-09T11:30:00Z", "sla_warning", "2026-03-09T12:00:00+00:00", None),
        ("2026-03-09T11:48:00Z", "sla_warning", "2026-03-09T12:00:00+00:00", None),
        ("2026-03-09T12:00:00Z", "sla_breach", "2026-03-09T12:00:00+00:00", 0),
    ]


def test_a_breach_known_only_when_a_late_message_arrives_says_how_late_it_is():
    # The customer wrote at 10:00 (urgent next reply: 2 business hours, breach at 12:00); the
    # message reached deskbridge at 12:30. Its breach is decided at its time, as in writing
    # order, when it arrives, and says it went out 30 min late; its warnings (11:30, 11:48),
    # known only after the deadline, are not sent beside it ("due at 12:00" at 12:30).
    created = "2026-03-09T09:00:00Z"
    late = delivered(customer("641", "2026-03-09T10:00:00Z", 3, created), "2026-03-09T12:30:00Z")
    out = replay_all([*answered_at_0905("641", created), late], "2026-03-09T14:00:00Z")
    fired = [o for o in out if o["rule"] == "sla"]
    assert [(o["at"], o["action"], o.get("due_at"), o.get("late_by_s")) for o in fired] == [
        ("2026-03-09T12:00:00Z", "sla_breach", "2026-03-09T12:00:00+00:00", 1800),
    ]
    assert fired[-1]["reason"] == (
        "next reply target of 2h business-hours missed at Mon 09 Mar 12:00, 30 min ago"
    )


# -- 4. the 3-response rule's lead alert ----------------------------------------------------


def replies_and_call(call: str | None, arrived: str | None) -> list[dict]:
    """Ticket 651 (created 09:00 on 9 March): four written replies at 09:10, 09:20, 09:30
    (the call is asked for) and 10:00, and a call through Zendesk Talk at `call` (HH:MM),
    delivered at `arrived` (or when made)."""
    created = "2026-03-09T09:00:00Z"
    lines = [body("created", "651", created, 1, status="NEW")]
    for n, at in enumerate(("09:10", "09:20", "09:30", "10:00"), 2):
        lines.append(reply("651", f"2026-03-09T{at}:00Z", n, created))
    if call is not None:
        made = reply("651", f"2026-03-09T{call}:00Z", 9, created)
        made["body"]["event"]["comment"].update(type="VoiceComment", body="A call.")
        lines.append(delivered(made, f"2026-03-09T{arrived or call}:00Z"))
    return lines


def lead_alerts(lines: list[dict]) -> list[dict]:
    out = replay_all(lines, "2026-03-09T14:00:00Z")
    return [o for o in out if o["rule"] == "three_responses" and o["action"] == "notify"]


LEAD_ALERT = {
    "ticket": "zendesk:651",
    "action": "notify",
    "rule": "three_responses",
    "reason": "4th written reply and still no call logged after the call was requested — the "
    "team lead should step in",
    "target": "lead",
    "channel": "#resolution-leads",
    "assignee": AGENT,
    "replies": 4,
    "key": "zendesk:651:three_responses:lead",
}


def test_a_fourth_reply_with_no_call_tells_the_lead_after_the_grace():
    # 10:00 plus three_responses.lead_grace (5 minutes): a call made before the 4th reply
    # whose event comes a little late still spares the lead.
    assert lead_alerts(replies_and_call(None, None)) == [
        {"at": "2026-03-09T10:05:00Z", **LEAD_ALERT}
    ]


@pytest.mark.parametrize("arrived", [None, "10:01", "10:04"], ids=["in order", "1 min", "4 min"])
def test_a_call_made_before_the_fourth_reply_and_delivered_after_it_spares_the_lead(arrived):
    assert lead_alerts(replies_and_call("09:45", arrived)) == []


def test_a_call_delivered_after_the_lead_was_told_tells_nothing_more():
    # The call (09:45) reached deskbridge at 10:30: the lead was told at 10:05, which cannot
    # be unsent; the late call doubles nothing.
    assert lead_alerts(replies_and_call("09:45", "10:30")) == [
        {"at": "2026-03-09T10:05:00Z", **LEAD_ALERT}
    ]


@pytest.mark.parametrize("late", [False, True], ids=["in order", "reply delivered late"])
def test_a_call_made_after_the_grace_tells_the_lead_however_the_reply_comes(late):
    # The call at 10:10 came after the 4th reply's grace: the lead is told, in writing order
    # at 10:05. Delivered after the call (at 10:20), the 4th reply still tells the lead, as
    # it arrives (past its grace).
    lines = replies_and_call("10:10", None)
    if late:
        lines[4] = delivered(lines[4], "2026-03-09T10:20:00Z")
    at = "2026-03-09T10:20:00Z" if late else "2026-03-09T10:05:00Z"
    assert lead_alerts(lines) == [{"at": at, **LEAD_ALERT}]


@pytest.mark.parametrize("late", [False, True], ids=["in order", "3rd reply late"])
def test_a_call_before_the_fourth_reply_spares_the_lead_when_the_third_reply_comes_late(late):
    # Replies 09:10, 09:20, 09:30, 10:00; a Talk call at 10:03, within the 4th reply's grace:
    # in writing order the lead is not told. The 3rd reply (09:30) delivered at 10:01, after
    # the 4th: the count reaches 4 on the 3rd reply's event, whose time plus the grace (09:35)
    # is taken as the deadline, already past: the lead is told at once, at 10:01.
    lines = replies_and_call("10:03", None)
    if late:
        lines[3] = delivered(lines[3], "2026-03-09T10:01:00Z")
    assert lead_alerts(in_arrival_order(lines)) == []


def test_a_reopened_ticket_still_tells_the_lead_after_one_more_reply():
    # 4th reply 10:00 without a call; solved 10:02 (before the grace's end at 10:05: the
    # timer finds it solved); reopened 11:00, a 5th written reply at 11:30 and still no call.
    # Before c0f025a the lead was told (at 10:00); with it never (lead_check_by set once).
    # Told the grace after the reopen, as the rule checks an open ticket.
    lines = replies_and_call(None, None)
    created = "2026-03-09T09:00:00Z"
    lines += [
        status("651", "2026-03-09T10:02:00Z", 20, "SOLVED", "OPEN", created),
        status("651", "2026-03-09T11:00:00Z", 21, "OPEN", "SOLVED", created),
        reply("651", "2026-03-09T11:30:00Z", 22, created),
    ]
    assert lead_alerts(lines) == [{"at": "2026-03-09T11:05:00Z", **LEAD_ALERT}]


def test_lead_grace_0m_is_accepted_and_tells_the_lead_with_the_fourth_reply(tmp_path):
    # config/example.yaml says "0m: at once": check-config accepts it, and the lead is told
    # at the 4th reply (10:00), not 5 minutes later.
    config = tmp_path / "rules.yaml"
    config.write_text(EXAMPLE_CONFIG.read_text().replace("lead_grace: 5m", "lead_grace: 0m"))
    checked = CliRunner().invoke(main, ["check-config", str(config)])
    assert checked.exit_code == 0, checked.output
    text = "".join(json.dumps(line) + "\n" for line in replies_and_call(None, None))
    args = ["replay", "-", "--until", "2026-03-09T14:00:00Z", "--config", str(config)]
    result = CliRunner().invoke(main, args, input=text)
    assert result.exit_code == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    alerts = [o for o in out if o["rule"] == "three_responses" and o["action"] == "notify"]
    assert alerts == [{"at": "2026-03-09T10:00:00Z", **LEAD_ALERT}]


def missed_call_nudges(lines: list[dict]) -> list[tuple[str, str]]:
    out = replay_all(lines, "2026-03-09T14:00:00Z")
    return [
        (o["at"], o["key"]) for o in out if o["rule"] == "coaching" and "missed_call" in o["key"]
    ]


MISSED_CALL_NUDGE = {
    "ticket": "zendesk:651",
    "action": "coach",
    "rule": "coaching",
    "reason": "Another written reply went out after a call was suggested — a quick call usually "
    "settles it faster; press Call logged when you have called",
    "person": "U02PRIYA01",
    "kind": "missed_call",
    "responses": None,
    "target": 32,
    "key": "zendesk:651:coaching:missed_call",
}


def test_a_fourth_reply_with_no_call_nudges_its_writer_with_the_lead_alert():
    # The nudge goes by the lead's timer: 10:00 plus the grace, beside the lead's alert.
    out = replay_all(replies_and_call(None, None), "2026-03-09T14:00:00Z")
    told = [o for o in out if o["ticket"] == "zendesk:651" and o["at"] > "2026-03-09T09:59"]
    assert told == [
        {"at": "2026-03-09T10:05:00Z", **LEAD_ALERT},
        {"at": "2026-03-09T10:05:00Z", **MISSED_CALL_NUDGE},
    ]


def test_the_missed_call_nudge_goes_to_the_fourth_replys_writer():
    # Lena wrote the 4th reply on Priya's ticket: the nudge is hers (the writer the timer
    # kept), not the assignee's.
    lines = replies_and_call(None, None)
    lines[4]["body"]["event"]["comment"]["author"]["id"] = "9013300112027"
    out = replay_all(lines, "2026-03-09T14:00:00Z")
    nudges = [o for o in out if o["action"] == "coach" and o["ticket"] == "zendesk:651"]
    assert nudges == [{"at": "2026-03-09T10:05:00Z", **MISSED_CALL_NUDGE, "person": "U02LENAF01"}]


@pytest.mark.parametrize(
    ("call", "arrived"),
    [("09:58", "10:02"), ("10:03", None)],
    ids=["call made before the 4th reply, delivered after it", "call made within the grace"],
)
def test_a_call_made_by_the_end_of_the_grace_spares_the_agent_as_the_lead(call, arrived):
    # Before, the nudge was decided as the 4th reply (10:00) arrived: a call made at 09:58
    # whose Talk comment came at 10:02, or one made at 10:03, left the agent nudged for a call
    # they had made, while the lead (who waits the grace) was rightly not told.
    lines = replies_and_call(call, arrived)
    assert missed_call_nudges(in_arrival_order(lines)) == []
    assert lead_alerts(in_arrival_order(lines)) == []


@pytest.mark.parametrize("late", [False, True], ids=["in order", "reply delivered late"])
def test_a_call_made_after_the_grace_leaves_its_nudge_however_the_reply_comes(late):
    # The 4th written reply (10:00) went out with no call made by the grace's end: the agent
    # is nudged, in writing order at 10:05, with the lead. Delivered after the call of 10:10
    # (at 10:20), that call was once taken for one made before it, and the nudge was lost;
    # now it goes out as the reply arrives (past its grace), as the lead's alert.
    lines = replies_and_call("10:10", None)
    if late:
        lines[4] = delivered(lines[4], "2026-03-09T10:20:00Z")
    at = "2026-03-09T10:20:00Z" if late else "2026-03-09T10:05:00Z"
    assert missed_call_nudges(in_arrival_order(lines)) == [(at, "zendesk:651:coaching:missed_call")]


@pytest.mark.parametrize(
    ("switched", "write"),
    [
        ("missed_call: true", "missed_call: false"),
        ("coaching:\n  enabled: true", "coaching:\n  enabled: false"),
    ],
    ids=["missed_call nudge off", "coaching off"],
)
def test_the_lead_timer_nudges_nobody_when_the_nudge_is_switched_off(tmp_path, switched, write):
    # The nudge moved onto the lead's timer (274aaf6): switched off, the lead is still told at
    # 10:05 and the agent is not nudged (no test held the timer's nudge to these switches).
    config = tmp_path / "rules.yaml"
    text = EXAMPLE_CONFIG.read_text()
    assert text.count(switched) == 1
    config.write_text(text.replace(switched, write))
    out = replay_all(replies_and_call(None, None), "2026-03-09T14:00:00Z", config)
    told = [o for o in out if o["ticket"] == "zendesk:651" and o["at"] > "2026-03-09T09:59"]
    assert told == [{"at": "2026-03-09T10:05:00Z", **LEAD_ALERT}]


def test_a_ticket_solved_within_the_grace_nudges_nobody():
    # Solved at 10:03, within the grace of the 4th reply (10:00): neither the lead nor the
    # agent hears of the call at 10:05 (the nudge checks the ticket as the lead's alert does).
    lines = replies_and_call(None, None)
    lines.append(status("651", "2026-03-09T10:03:00Z", 10, "SOLVED", "OPEN", lines[0]["at"]))
    assert lead_alerts(lines) == []
    assert missed_call_nudges(lines) == []


# -- 5. a reply written in time and delivered after its breach alert ------------------------

FIRST_REPLY = "zendesk:681:sla:first_reply:2026-03-09T11:00:00+00:00"
FIRST_REPLY_BREACH = {
    "at": "2026-03-09T12:00:00Z",
    "ticket": "zendesk:681",
    "action": "sla_breach",
    "rule": "sla",
    "reason": "first reply target of 1h business-hours missed at Mon 09 Mar 12:00",
    "metric": "first_reply",
    "target": "lead",
    "channel": "#resolution-leads",
    "assignee": AGENT,
    "sla_target_s": 3600,
    "business_hours": True,
    "due_at": "2026-03-09T12:00:00+00:00",
    "late_by_s": 0,
    "policy": "urgent",
    "key": f"{FIRST_REPLY}:breach",
}
FIRST_REPLY_CORRECTION = {
    "at": "2026-03-09T12:30:00Z",
    "ticket": "zendesk:681",
    "action": "notify",
    "rule": "sla",
    "reason": "correction: first reply target met — the reply written Mon 09 Mar 11:50, before "
    "the 12:00 deadline, reached deskbridge after the breach alert",
    "metric": "first_reply",
    "target": "lead",
    "channel": "#resolution-leads",
    "assignee": AGENT,
    "due_at": "2026-03-09T12:00:00+00:00",
    "met_at": "2026-03-09T11:50:00+00:00",
    "withdraws": f"{FIRST_REPLY}:breach",
    "key": f"{FIRST_REPLY}:breach_withdrawn",
}


def first_reply_after_the_breach(written: str, *arrivals: str) -> list[dict]:
    """Urgent ticket 681 created at 11:00 on 9 March (first reply due 12:00), answered at
    `written` (HH:MM), the reply delivered at each of `arrivals` (HH:MM)."""
    created = "2026-03-09T11:00:00Z"
    answer = reply("681", f"2026-03-09T{written}:00Z", 2, created)
    return [
        body("created", "681", created, 1, status="NEW"),
        *(delivered(answer, f"2026-03-09T{at}:00Z") for at in arrivals),
    ]


def lead_sla_alerts(lines: list[dict]) -> list[dict]:
    """The SLA rule's breaches and corrections (its warnings left out)."""
    out = replay_all(lines, "2026-03-09T18:00:00Z")
    return [o for o in out if o["rule"] == "sla" and o["action"] != "sla_warning"]


def test_a_reply_written_before_the_deadline_and_delivered_after_the_breach_corrects_it():
    # Written 11:50, ten minutes before the deadline, it reached deskbridge at 12:30 (a
    # Salesforce redelivery, a Zendesk retry): the breach went to the leads at 12:00, and
    # they are told it was not one when the reply arrives. Before, nothing told them.
    lines = first_reply_after_the_breach("11:50", "12:30")
    assert lead_sla_alerts(lines) == [FIRST_REPLY_BREACH, FIRST_REPLY_CORRECTION]


def test_a_reply_written_after_the_deadline_and_delivered_late_leaves_the_breach_alone():
    lines = first_reply_after_the_breach("12:10", "12:30")
    assert lead_sla_alerts(lines) == [FIRST_REPLY_BREACH]


def test_a_reply_written_at_the_deadline_s_very_second_corrects_the_breach_fired_then():
    # The breach timer due at 12:00:00 fires before the reply stamped 12:00:00 is decided
    # (timers due by an event's time first), but the reply met its target: the lead hears so.
    lines = first_reply_after_the_breach("12:00", "12:00")
    correction = {
        **FIRST_REPLY_CORRECTION,
        "at": "2026-03-09T12:00:00Z",
        "reason": "correction: first reply target met — the reply written Mon 09 Mar 12:00, at "
        "the 12:00 deadline, reached deskbridge after the breach alert",
        "met_at": "2026-03-09T12:00:00+00:00",
    }
    assert lead_sla_alerts(lines) == [FIRST_REPLY_BREACH, correction]


def test_a_reply_within_a_longer_target_set_after_the_breach_leaves_the_breach_alone(tmp_path):
    # Breached at 12:00 against the urgent hour; the priority lowered at 12:10 (the default
    # policy's 8 hours) and the reply written at 12:20, in order: it came after the time the
    # alert named, and the breach was true.
    created = "2026-03-09T11:00:00Z"
    lines = [
        body("created", "681", created, 1, status="NEW"),
        body("tags_changed", "681", "2026-03-09T12:10:00Z", 2, priority="NORMAL", created=created),
        reply("681", "2026-03-09T12:20:00Z", 3, created, priority="NORMAL"),
    ]
    assert lead_sla_alerts(lines) == [FIRST_REPLY_BREACH]
    digest = replay_digest(tmp_path, lines, datetime(2026, 3, 9, 18, 0, tzinfo=UTC))
    assert digest["sla"]["first_reply"] == {"met": 0, "breached": 1}


def test_a_late_reply_delivered_again_corrects_the_breach_once():
    # The same event again at 12:40, and the same comment in another event at 12:45 (a
    # trigger's and an event subscription's, or a Salesforce redelivery under a new id).
    lines = first_reply_after_the_breach("11:50", "12:30", "12:40")
    again = delivered(lines[1], "2026-03-09T12:45:00Z")
    again["body"] = {**again["body"], "id": "evt-681-2-again"}
    assert lead_sla_alerts([*lines, again]) == [FIRST_REPLY_BREACH, FIRST_REPLY_CORRECTION]


@pytest.mark.parametrize(
    ("written", "counted"),
    [("11:50", {"met": 1, "breached": 0}), ("12:10", {"met": 0, "breached": 1})],
    ids=["written in time", "written late"],
)
def test_the_review_counts_a_corrected_breach_met(tmp_path, written, counted):
    lines = first_reply_after_the_breach(written, "12:30")
    digest = replay_digest(tmp_path, lines, datetime(2026, 3, 9, 18, 0, tzinfo=UTC))
    assert digest["sla"]["first_reply"] == counted


def next_reply_written_in_time() -> list[dict]:
    """The customer wrote at 10:00 (urgent next reply: 2 business hours, due 12:00); the
    answer written 11:50 reached deskbridge at 12:30."""
    created = "2026-03-09T09:00:00Z"
    answer = reply("682", "2026-03-09T11:50:00Z", 4, created)
    return [
        *answered_at_0905("682", created),
        customer("682", "2026-03-09T10:00:00Z", 3, created),
        delivered(answer, "2026-03-09T12:30:00Z"),
    ]


def solve_made_in_time() -> list[dict]:
    """Urgent resolution: 9 business hours from 09:00, due 18:00. Solved at 17:50, the
    change delivered at 18:30."""
    created = "2026-03-09T09:00:00Z"
    solve = status("683", "2026-03-09T17:50:00Z", 3, "SOLVED", "OPEN", created)
    return [*answered_at_0905("683", created), delivered(solve, "2026-03-09T18:30:00Z")]


@pytest.mark.parametrize(
    ("lines", "clock", "breach", "correction"),
    [
        (
            next_reply_written_in_time(),
            "zendesk:682:sla:next_reply:2026-03-09T10:00:00+00:00",
            ("12:00", "next reply target of 2h business-hours missed at Mon 09 Mar 12:00"),
            (
                "12:30",
                "correction: next reply target met — the reply written Mon 09 Mar 11:50, before "
                "the 12:00 deadline, reached deskbridge after the breach alert",
            ),
        ),
        (
            solve_made_in_time(),
            "zendesk:683:sla:resolution:2026-03-09T09:00:00+00:00",
            ("18:00", "resolution target of 9h business-hours missed at Mon 09 Mar 18:00"),
            (
                "18:30",
                "correction: resolution target met — the solve made Mon 09 Mar 17:50, before "
                "the 18:00 deadline, reached deskbridge after the breach alert",
            ),
        ),
    ],
    ids=["next reply", "resolution"],
)
def test_a_next_reply_or_a_solve_made_in_time_and_delivered_after_the_breach_corrects_it(
    tmp_path, lines, clock, breach, correction
):
    metric = clock.split(":")[3]
    out = replay_all(lines, "2026-03-10T00:00:00Z")
    alerts = [
        (o["at"], o["action"], o["key"], o["reason"])
        for o in out
        if o["rule"] == "sla" and o["action"] != "sla_warning" and o["metric"] == metric
    ]
    assert alerts == [
        (f"2026-03-09T{breach[0]}:00Z", "sla_breach", f"{clock}:breach", breach[1]),
        (f"2026-03-09T{correction[0]}:00Z", "notify", f"{clock}:breach_withdrawn", correction[1]),
    ]
    digest = replay_digest(tmp_path, lines, datetime(2026, 3, 10, 0, 0, tzinfo=UTC))
    assert digest["sla"][metric] == {"met": 1, "breached": 0}


def test_a_reply_delivered_after_the_breach_and_the_solve_corrects_the_breach(tmp_path):
    # Written 11:50, the ticket solved at 12:15 (after the 12:00 breach), the reply delivered
    # at 12:30: as in writing order it met the first reply clock, which the solve had stopped.
    lines = [
        *first_reply_after_the_breach("11:50", "12:30"),
        status("681", "2026-03-09T12:15:00Z", 3, "SOLVED", "OPEN", "2026-03-09T11:00:00Z"),
    ]
    assert lead_sla_alerts(in_arrival_order(lines)) == [FIRST_REPLY_BREACH, FIRST_REPLY_CORRECTION]
    digest = replay_digest(tmp_path, lines, datetime(2026, 3, 9, 18, 0, tzinfo=UTC))
    assert digest["sla"]["first_reply"] == {"met": 1, "breached": 0}
