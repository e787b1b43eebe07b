"""SLA timelines through `deskbridge replay --until` (config/example.yaml: Mon-Fri 09:00-18:00
Europe/London, England's bank holidays, closed 24 Dec 2026)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.store.activity import read_period
from deskbridge.store.db import create_store_engine
from deskbridge.workflows.digest import build_digest, build_period, repeat_window
from deskbridge.workflows.replay import run_replay

AGENT = "9013300112004"


def body(
    kind: str,
    ticket: str,
    at: str,
    n: int,
    status="OPEN",
    priority="URGENT",
    created=None,
    event=None,
) -> dict:
    return {
        "at": at,
        "source": "zendesk",
        "body": {
            "type": f"zen:event-type:ticket.{kind}",
            "id": f"evt-{ticket}-{n}",
            "time": at,
            "subject": f"zen:ticket:{ticket}",
            "detail": {
                "id": ticket,
                "status": status,
                "priority": priority,
                "assignee_id": AGENT,
                "requester_id": "77",
                "tags": [],
                "subject": "Sofa order question",
                "created_at": created or at,
                "updated_at": at,
                "via": {"channel": "web"},
            },
            "event": event or {},
        },
    }


def reply(ticket: str, at: str, n: int, created: str, **kw) -> dict:
    comment = {
        "comment": {
            "id": f"{ticket}{n}",
            "is_public": True,
            "body": "On it.",
            "author": {"id": AGENT, "is_staff": True, "name": "Priya"},
        }
    }
    return body("comment_added", ticket, at, n, created=created, event=comment, **kw)


def status(ticket: str, at: str, n: int, new: str, old: str, created: str) -> dict:
    return body(
        "status_changed",
        ticket,
        at,
        n,
        status=new,
        created=created,
        event={"current": new, "previous": old},
    )


def replay_sla(lines: list[dict], until: str, metric: str | None = None) -> list[tuple]:
    text = "".join(json.dumps(line) + "\n" for line in lines)
    result = CliRunner().invoke(main, ["replay", "-", "--until", until], input=text)
    assert result.exit_code == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    return [
        (o["at"], o["action"], o["metric"], o.get("target"))
        for o in out
        if o["rule"] == "sla" and (metric is None or o["metric"] == metric)
    ]


def test_friday_1755_urgent_ticket_warns_and_breaches_on_monday_morning():
    created = "2026-03-06T17:55:00Z"  # a Friday; London is on GMT in March before the 29th
    fired = replay_sla(
        [body("created", "601", created, 1, status="NEW")],
        until="2026-03-09T12:00:00Z",
        metric="first_reply",
    )
    assert fired == [
        ("2026-03-09T09:40:00Z", "sla_warning", "first_reply", "assignee"),  # 45 of 60 min
        ("2026-03-09T09:49:00Z", "sla_warning", "first_reply", "lead"),  # 54 of 60 min
        ("2026-03-09T09:55:00Z", "sla_breach", "first_reply", "lead"),
    ]


def test_the_same_over_christmas_skips_the_closure_and_bank_holidays():
    created = "2026-12-23T17:55:00Z"  # Wed; 24 closed, 25 Christmas, 28 Boxing Day observed
    fired = replay_sla(
        [body("created", "602", created, 1, status="NEW")],
        until="2026-12-30T00:00:00Z",
        metric="first_reply",
    )
    assert fired == [
        ("2026-12-29T09:40:00Z", "sla_warning", "first_reply", "assignee"),
        ("2026-12-29T09:49:00Z", "sla_warning", "first_reply", "lead"),
        ("2026-12-29T09:55:00Z", "sla_breach", "first_reply", "lead"),
    ]


def test_a_reply_before_the_warning_produces_no_sla_actions():
    created = "2026-03-09T10:00:00Z"
    lines = [
        body("created", "603", created, 1, status="NEW"),
        reply("603", "2026-03-09T10:30:00Z", 2, created),
    ]
    assert replay_sla(lines, until="2026-03-09T12:00:00Z") == []


def test_a_pending_period_pauses_resolution_by_exactly_its_length():
    created = "2026-03-09T09:00:00Z"  # Monday; urgent resolution target 9 business hours
    start = [
        body("created", "604", created, 1, status="NEW"),
        reply("604", "2026-03-09T09:20:00Z", 2, created),
    ]
    plain = replay_sla(start, until="2026-03-11T00:00:00Z", metric="resolution")
    paused = replay_sla(
        [
            *start,
            status("604", "2026-03-09T10:00:00Z", 3, "PENDING", "OPEN", created),
            status("604", "2026-03-09T12:00:00Z", 4, "OPEN", "PENDING", created),
        ],
        until="2026-03-11T00:00:00Z",
        metric="resolution",
    )
    assert plain == [
        ("2026-03-09T15:45:00Z", "sla_warning", "resolution", "assignee"),
        ("2026-03-09T17:06:00Z", "sla_warning", "resolution", "lead"),
        ("2026-03-09T18:00:00Z", "sla_breach", "resolution", "lead"),
    ]
    # Two business hours on hold: each deadline moves two business hours later.
    assert paused == [
        ("2026-03-09T17:45:00Z", "sla_warning", "resolution", "assignee"),
        ("2026-03-10T10:06:00Z", "sla_warning", "resolution", "lead"),
        ("2026-03-10T11:00:00Z", "sla_breach", "resolution", "lead"),
    ]


def test_solving_the_ticket_cancels_every_pending_sla_timer():
    created = "2026-03-09T09:00:00Z"
    lines = [
        body("created", "605", created, 1, status="NEW"),
        status("605", "2026-03-09T09:30:00Z", 2, "SOLVED", "NEW", created),
    ]
    assert replay_sla(lines, until="2026-03-12T00:00:00Z") == []


def test_priority_change_re_chooses_the_policy():
    created = "2026-03-09T09:00:00Z"
    lines = [
        body("created", "606", created, 1, status="NEW", priority="NORMAL"),
        body(
            "priority_changed",
            "606",
            "2026-03-09T09:10:00Z",
            2,
            priority="URGENT",
            created=created,
            event={"current": "URGENT", "previous": "NORMAL"},
        ),
    ]
    assert replay_sla(lines, until="2026-03-09T12:00:00Z", metric="first_reply") == [
        ("2026-03-09T09:45:00Z", "sla_warning", "first_reply", "assignee"),
        ("2026-03-09T09:54:00Z", "sla_warning", "first_reply", "lead"),
        ("2026-03-09T10:00:00Z", "sla_breach", "first_reply", "lead"),
    ]


def test_next_reply_runs_from_the_oldest_unanswered_customer_message():
    created = "2026-03-09T09:00:00Z"
    customer = {
        "comment": {
            "id": "607c",
            "is_public": True,
            "body": "Any news?",
            "author": {"id": "77", "is_staff": False, "name": "Dana"},
        }
    }
    customer2 = {
        "comment": {
            "id": "607d",
            "is_public": True,
            "body": "Hello??",
            "author": {"id": "77", "is_staff": False, "name": "Dana"},
        }
    }
    lines = [
        body("created", "607", created, 1, status="NEW"),
        reply("607", "2026-03-09T09:05:00Z", 2, created),
        body("comment_added", "607", "2026-03-09T10:00:00Z", 3, created=created, event=customer),
        body("comment_added", "607", "2026-03-09T10:30:00Z", 4, created=created, event=customer2),
    ]
    # urgent next reply: 2 business hours from 10:00, not from 10:30
    assert replay_sla(lines, until="2026-03-09T13:00:00Z", metric="next_reply") == [
        ("2026-03-09T11:30:00Z", "sla_warning", "next_reply", "assignee"),
        ("2026-03-09T11:48:00Z", "sla_warning", "next_reply", "lead"),
        ("2026-03-09T12:00:00Z", "sla_breach", "next_reply", "lead"),
    ]


def customer(ticket: str, at: str, n: int, created: str, text: str = "Any news?") -> dict:
    comment = {
        "comment": {
            "id": f"{ticket}{n}",
            "is_public": True,
            "body": text,
            "author": {"id": "77", "is_staff": False, "name": "Dana"},
        }
    }
    return body("comment_added", ticket, at, n, created=created, event=comment)


def delivered(line: dict, at: str) -> dict:
    """`line` as delivered late, at `at` (its event keeps the time it happened)."""
    return {**line, "at": at}


def answered_at_0905(ticket: str, created: str) -> list[dict]:
    """An urgent ticket created at `created` and first answered at 09:05 on 9 March."""
    return [
        body("created", ticket, created, 1, status="NEW"),
        reply(ticket, "2026-03-09T09:05:00Z", 2, created),
    ]


def conversation(ticket: str, said: list[tuple[str, str, str]], late: bool) -> list[dict]:
    """Ticket `ticket` (`answered_at_0905`), then what was `said`: (who, written at,
    delivered at), times HH:MM on 9 March; each delivered when written, or, `late`, when
    `said` gives."""
    created = "2026-03-09T09:00:00Z"
    lines = []
    for n, (who, written, arrived) in enumerate(said, 3):
        comment = customer if who == "customer" else reply
        line = comment(ticket, f"2026-03-09T{written}:00Z", n, created)
        lines.append(delivered(line, f"2026-03-09T{arrived if late else written}:00Z"))
    return answered_at_0905(ticket, created) + sorted(lines, key=lambda line: line["at"])


def next_reply_alerts(start: str | None) -> list[tuple]:
    """The warnings and breach of an urgent next-reply clock started at `start` (HH:MM on 9
    March; 2 business hours, warned at 75% and 90%) and not answered; none for None."""
    if start is None:
        return []
    at = datetime.fromisoformat(f"2026-03-09T{start}:00+00:00")
    return [
        ((at + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"), action, "next_reply", to)
        for minutes, action, to in (
            (90, "sla_warning", "assignee"),
            (108, "sla_warning", "lead"),
            (120, "sla_breach", "lead"),
        )
    ]


@pytest.mark.parametrize("late", [False, True], ids=["in order", "delivered late"])
@pytest.mark.parametrize(
    ("said", "waiting"),
    [
        # 10:00 is answered at 10:10, 10:15 at 10:20, each delivered after its answer (10:15
        # is newer than the clock's last fulfilment, 10:10, not than the newest reply): only
        # 11:00 waits.
        (
            [
                ("customer", "10:00", "10:11"),
                ("agent", "10:10", "10:10"),
                ("customer", "10:15", "10:21"),
                ("agent", "10:20", "10:20"),
                ("customer", "11:00", "11:00"),
            ],
            "11:00",
        ),
        # The 10:05 reply, delivered after the 10:30 message, answered 10:00, not 10:30.
        (
            [
                ("customer", "10:00", "10:00"),
                ("agent", "10:05", "10:31"),
                ("agent", "10:10", "10:10"),
                ("customer", "10:30", "10:30"),
            ],
            "10:30",
        ),
        # The older message delivered after the newer one: the clock runs from the older.
        ([("customer", "10:00", "10:31"), ("customer", "10:30", "10:30")], "10:00"),
        # The 09:55 reply, delivered after the 10:00 message, is older than it: 10:00 waits.
        ([("customer", "10:00", "10:00"), ("agent", "09:55", "10:02")], "10:00"),
        # 09:55 answered the 09:30 message (whose clock ran), not 10:00, delivered before it:
        # 10:00 waits, as in writing order.
        (
            [
                ("customer", "09:30", "09:30"),
                ("customer", "10:00", "10:00"),
                ("agent", "09:55", "10:02"),
            ],
            "10:00",
        ),
        # A reply written when the message was, or after it, answers it however late it comes.
        ([("customer", "10:00", "10:00"), ("agent", "10:00", "10:02")], None),
        (
            [
                ("customer", "09:30", "09:30"),
                ("customer", "10:00", "10:00"),
                ("agent", "10:00", "10:02"),
            ],
            None,
        ),
        (
            [
                ("customer", "09:30", "09:30"),
                ("customer", "10:00", "10:00"),
                ("agent", "10:10", "10:20"),
            ],
            None,
        ),
    ],
    ids=[
        "messages after their answers",
        "a reply after a newer message",
        "messages swapped",
        "a reply older than the message",
        "a reply between two messages",
        "a reply as old as the message",
        "a reply as old as the newer message",
        "a reply newer than both",
    ],
)
def test_the_next_reply_clock_is_the_same_however_late_each_comment_comes(said, waiting, late):
    lines = conversation("611", said, late)
    until = "2026-03-09T14:00:00Z"
    assert replay_sla(lines, until, metric="next_reply") == next_reply_alerts(waiting)


@pytest.mark.parametrize("late", [False, True], ids=["in order", "delivered late"])
def test_a_reply_between_two_messages_counts_in_the_digest_as_in_writing_order(tmp_path, late):
    # The 09:55 reply meets the 09:30 message's clock (met); 10:00 waits and breaches at 12:00.
    # Delivered late, the reply meets one clock and starts the next in one decision: the
    # leads' review still counts the first met.
    said = [
        ("customer", "09:30", "09:30"),
        ("customer", "10:00", "10:00"),
        ("agent", "09:55", "10:02"),
    ]
    lines = [json.dumps(line) for line in conversation("614", said, late)]
    url = f"sqlite:///{tmp_path / 'store.db'}"
    rules = load_rules(EXAMPLE_CONFIG)
    until = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    assert all(isinstance(r, dict) for r in run_replay(lines, rules, CONNECTORS, until, url))
    engine = create_store_engine(url)
    period = build_period(rules, date(2026, 3, 9))
    with engine.connect() as connection:
        digest = build_digest(rules, period, read_period(connection, period, repeat_window(rules)))
    engine.dispose()
    assert digest["sla"] == {
        "first_reply": {"met": 1, "breached": 0},
        "next_reply": {"met": 1, "breached": 1},
        "resolution": {"met": 0, "breached": 0},
    }


@pytest.mark.parametrize("late", [False, True], ids=["in order", "delivered late"])
def test_a_first_reply_delivered_after_a_newer_message_leaves_that_message_waiting(late):
    # Created 09:00; the customer writes again at 09:35; the first reply, written at 09:30, is
    # delivered (late) at 09:40, before the first-reply warning (09:45): the first-reply clock
    # is met at 09:30, and the 09:35 message starts the next-reply clock, as in writing order.
    created = "2026-03-09T09:00:00Z"
    first = reply("613", "2026-03-09T09:30:00Z", 2, created)
    lines = [
        body("created", "613", created, 1, status="NEW"),
        *([] if late else [first]),
        customer("613", "2026-03-09T09:35:00Z", 3, created),
        *([delivered(first, "2026-03-09T09:40:00Z")] if late else []),
    ]
    assert replay_sla(lines, until="2026-03-09T14:00:00Z") == [
        ("2026-03-09T11:05:00Z", "sla_warning", "next_reply", "assignee"),
        ("2026-03-09T11:23:00Z", "sla_warning", "next_reply", "lead"),
        ("2026-03-09T11:35:00Z", "sla_breach", "next_reply", "lead"),
    ]


def test_a_customer_message_delivered_twice_counts_when_it_first_came():
    # The 10:00 message comes again at 10:20 (a trigger after the event subscription), after
    # the 10:10 reply: it was answered, and starts no clock.
    created = "2026-03-09T09:00:00Z"
    message = customer("612", "2026-03-09T10:00:00Z", 3, created)
    again = delivered(message, "2026-03-09T10:20:00Z")
    again["body"] = {**message["body"], "id": "evt-612-again", "time": "2026-03-09T10:20:00Z"}
    lines = [
        *answered_at_0905("612", created),
        message,
        reply("612", "2026-03-09T10:10:00Z", 4, created),
        again,
    ]
    assert replay_sla(lines, until="2026-03-09T14:00:00Z", metric="next_reply") == []


def test_breach_reason_says_metric_target_and_time():
    created = "2026-03-06T17:55:00Z"
    text = json.dumps(body("created", "608", created, 1, status="NEW")) + "\n"
    result = CliRunner().invoke(
        main, ["replay", "-", "--until", "2026-03-09T12:00:00Z"], input=text
    )
    breach = next(json.loads(line) for line in result.stdout.splitlines() if '"sla_breach"' in line)
    assert breach == {
        "at": "2026-03-09T09:55:00Z",
        "ticket": "zendesk:608",
        "action": "sla_breach",
        "rule": "sla",
        "reason": "first reply target of 1h business-hours missed at Mon 09 Mar 09:55",
        "metric": "first_reply",
        "target": "lead",
        "channel": "#resolution-leads",
        "assignee": AGENT,
        "sla_target_s": 3600,
        "business_hours": True,
        "due_at": "2026-03-09T09:55:00+00:00",
        "late_by_s": 0,
        "policy": "urgent",
        "key": "zendesk:608:sla:first_reply:2026-03-06T17:55:00+00:00:breach",
    }
