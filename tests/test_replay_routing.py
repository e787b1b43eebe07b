"""Routing, hand-off deadlines and risk escalation through `deskbridge replay` (issue 3's
"Done when"), with Zendesk event-subscription bodies and config/example.yaml."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.workflows.replay import run_replay

AGENT = "9013300112004"
FRONTLINE = "360010000000"
LOGISTICS_GROUP = "360010000001"
SPECIALISTS = "360010000009"
LOGISTICS_MEMBER = "9013300113001"  # departments.logistics.members[0]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
RULES = load_rules(EXAMPLE_CONFIG)

WRONG_ITEM = {
    "subject": "Wrong item delivered",
    "description": "I ordered the oak dining table and you sent a pine one.",
}
WRONG_ITEM_REASON = 'subject mentions "wrong item" → wrong item delivered → Logistics'
OMBUDSMAN = {
    "subject": "Refund for my sofa",
    "description": "I was promised a refund weeks ago. I will take this to the ombudsman.",
}


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Ticket:
    """Builds event-subscription bodies for one ticket; every body carries the snapshot."""

    def __init__(self, number: str, created: datetime, text: dict, requester: str = "81", **detail):
        self.number = number
        self.created = created
        self.detail = {
            "id": number,
            "status": "OPEN",
            "priority": "NORMAL",
            "group_id": FRONTLINE,
            "assignee_id": AGENT,
            "requester_id": requester,
            "tags": [],
            "via": {"channel": "web"},
            **text,
            **detail,
        }
        self.n = 0

    def body(self, kind: str, at: datetime, event: dict | None = None, **detail) -> dict:
        self.n += 1
        return {
            "at": iso(at),
            "source": "zendesk",
            "body": {
                "type": f"zen:event-type:ticket.{kind}",
                "id": f"evt-{self.number}-{self.n}",
                "time": iso(at),
                "subject": f"zen:ticket:{self.number}",
                "detail": {
                    **self.detail,
                    "created_at": iso(self.created),
                    "updated_at": iso(at),
                    **detail,
                },
                "event": event or {},
            },
        }

    def created_event(self) -> dict:
        return self.body("created", self.created)

    def comment(
        self, at: datetime, author: str, body: str, *, public=True, staff=True, **detail
    ) -> dict:
        event = {
            "comment": {
                "id": f"{self.number}0{self.n + 1}",
                "is_public": public,
                "body": body,
                "author": {"id": author, "is_staff": staff, "name": "Someone"},
            }
        }
        return self.body("comment_added", at, event, **detail)

    def customer(self, at: datetime, body: str, **detail) -> dict:
        return self.comment(at, self.detail["requester_id"], body, staff=False, **detail)

    def group_changed(self, at: datetime, group: str) -> dict:
        self.detail["group_id"] = group
        return self.body("group_assignment_changed", at, {"current": group})


def replay(lines: list[dict], *args: str, rules=("routing", "risk")) -> list[dict]:
    text = "".join(json.dumps(line) + "\n" for line in lines)
    result = CliRunner().invoke(main, ["replay", "-", *args], input=text)
    assert result.exit_code == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return [o for o in out if o["rule"] in rules]


def replay_in_batches(lines: list[dict], batch: int, rules=("routing", "risk")) -> list[dict]:
    """`replay`, deciding `batch` events a batch."""
    records = run_replay([json.dumps(line) for line in lines], RULES, CONNECTORS, batch=batch)
    return [r for r in records if r["rule"] in rules]


def route_records(ticket: str, at: datetime, reason: str = WRONG_ITEM_REASON) -> list[dict]:
    key = f"zendesk:{ticket}:routing:logistics"
    common = {"at": iso(at), "ticket": f"zendesk:{ticket}", "rule": "routing", "reason": reason}
    return [
        {
            **common,
            "action": "route",
            "department": "logistics",
            "category": "wrong_item",
            "channel": "#dept-logistics",
            "source": "phrase",
            "key": f"{key}:route",
        },
        {**common, "action": "assign", "group": LOGISTICS_GROUP, "key": f"{key}:assign"},
        {**common, "action": "tag", "tags": ["dept_logistics"], "key": f"{key}:tag"},
        {
            **common,
            "action": "note",
            "body": f"deskbridge routed this ticket to Logistics: {reason}.",
            "key": f"{key}:note",
        },
    ]


def lead_alert(ticket: str, at: datetime) -> dict:
    return {
        "at": iso(at),
        "ticket": f"zendesk:{ticket}",
        "action": "notify",
        "rule": "routing",
        "reason": "Logistics has not acted within 4h of the hand-off (business hours)",
        "target": "lead",
        "channel": "#resolution-leads",
        "department": "logistics",
        "key": f"zendesk:{ticket}:routing:logistics:handoff_overdue",
    }


# -- routing and the hand-off --------------------------------------------------------------


def test_wrong_item_ticket_is_routed_once_to_logistics_with_group_tag_and_note():
    ticket = Ticket("601", T0, WRONG_ITEM)
    lines = [
        ticket.created_event(),
        # Zendesk echoes deskbridge's own group change, then the customer writes again.
        ticket.group_changed(T0 + timedelta(minutes=1), LOGISTICS_GROUP),
        ticket.customer(T0 + timedelta(minutes=20), "It is the wrong colour as well."),
    ]
    assert replay(lines) == route_records("601", T0)


def test_reply_from_logistics_before_the_deadline_means_no_lead_alert():
    for public in (True, False):
        ticket = Ticket("602", T0, WRONG_ITEM)
        lines = [
            ticket.created_event(),
            ticket.group_changed(T0 + timedelta(minutes=1), LOGISTICS_GROUP),
            ticket.comment(
                T0 + timedelta(hours=3, minutes=59),
                LOGISTICS_MEMBER,
                "We are collecting the pine table tomorrow.",
                public=public,
            ),
        ]
        out = replay(lines, "--until", iso(T0 + timedelta(days=2)))
        assert out == route_records("602", T0), public


def test_no_reply_from_logistics_gives_exactly_one_lead_alert_at_the_deadline():
    ticket = Ticket("603", T0, WRONG_ITEM)
    lines = [
        ticket.created_event(),
        ticket.group_changed(T0 + timedelta(minutes=1), LOGISTICS_GROUP),
        ticket.customer(T0 + timedelta(hours=1), "Any news?"),
        # A reply from the frontline agent is not Logistics acting.
        ticket.comment(T0 + timedelta(hours=2), AGENT, "Chasing Logistics for you."),
    ]
    out = replay(lines, "--until", iso(T0 + timedelta(days=2)))
    assert out == [*route_records("603", T0), lead_alert("603", T0 + timedelta(hours=4))]


def test_a_logistics_reply_after_the_deadline_comes_too_late_for_the_alert():
    ticket = Ticket("604", T0, WRONG_ITEM)
    lines = [
        ticket.created_event(),
        ticket.comment(T0 + timedelta(hours=5), LOGISTICS_MEMBER, "Collecting it tomorrow."),
    ]
    out = replay(lines, "--until", iso(T0 + timedelta(days=1)))
    assert out == [*route_records("604", T0), lead_alert("604", T0 + timedelta(hours=4))]


# -- risk escalation -----------------------------------------------------------------------


def escalation(ticket: str, at: datetime, names: list[str], score: float, reason: str):
    key = f"zendesk:{ticket}:risk:{'+'.join(names)}"
    common = {"at": iso(at), "ticket": f"zendesk:{ticket}", "rule": "risk", "reason": reason}
    return [
        {
            **common,
            "action": "escalate",
            "target": "specialists",
            "channel": "#resolution-specialists",
            "lead_channel": "#resolution-leads",
            "signals": names,
            "score": score,
            "key": f"{key}:escalate",
        },
        {**common, "action": "set_priority", "priority": "urgent", "key": f"{key}:priority"},
        {
            **common,
            "action": "assign",
            "group": SPECIALISTS,
            "escalated": True,
            "key": f"{key}:assign",
        },
        {
            **common,
            "action": "note",
            "body": f"deskbridge escalated this ticket to the specialist tier: {reason}.",
            "key": f"{key}:note",
        },
    ]


def test_a_ticket_mentioning_the_ombudsman_is_escalated_once():
    ticket = Ticket("611", T0, OMBUDSMAN)
    lines = [
        ticket.created_event(),
        ticket.body(
            "priority_changed",
            T0 + timedelta(minutes=2),
            {"current": "URGENT", "previous": "NORMAL"},
            priority="URGENT",
        ),
        # The same signal again, later: nothing new.
        ticket.customer(
            T0 + timedelta(days=1), "I have now written to the ombudsman.", priority="URGENT"
        ),
        ticket.customer(
            T0 + timedelta(days=2), "The ombudsman has my case number.", priority="URGENT"
        ),
    ]
    out = replay(lines, "--until", iso(T0 + timedelta(days=3)), rules=("risk",))
    assert out == escalation("611", T0, ["legal"], 3, 'risk 3 ≥ 3: mentions "ombudsman" (legal, 3)')


def test_a_second_ticket_from_the_same_requester_within_14_days_is_escalated():
    first = Ticket("621", T0, {"subject": "Delivery slot", "description": "Can I move it?"})
    second_at = T0 + timedelta(days=5)
    second = Ticket(
        "622", second_at, {"subject": "Delivery slot again", "description": "Still no slot."}
    )
    other = Ticket(
        "623", second_at, {"subject": "Delivery slot", "description": "Hi."}, requester="99"
    )
    lines = [
        first.created_event(),
        other.created_event(),
        second.created_event(),
        # The same signal again on the second ticket: nothing new.
        second.customer(second_at + timedelta(hours=1), "Hello? Any news on the slot?"),
        second.body("tags_changed", second_at + timedelta(days=1), tags=["chased"]),
    ]
    out = replay(lines, rules=("risk",))
    reason = "risk 3 ≥ 3: the requester opened zendesk:621 too, within 14 days (repeat contact, 3)"
    assert out == escalation("622", second_at, ["repeat_contact"], 3, reason)


def test_the_later_ticket_is_the_repeat_contact_whichever_ticket_arrives_first():
    """The ticket opened later (by its own creation time, not by arrival) is the repeat
    contact, escalated once, its reason naming the earlier ticket, as the playbook has it.
    The helpdesk delivering the earlier ticket's events last (a retry after an outage), twice,
    or the later ticket's events again, decides what the clean delivery decides: the
    escalation dated when the later ticket was opened, nothing on the earlier one."""
    first = Ticket("626", T0, {"subject": "Delivery slot", "description": "Can I move it?"})
    second_at = T0 + timedelta(hours=2)
    second = Ticket(
        "627", second_at, {"subject": "Delivery slot again", "description": "Still no slot."}
    )
    first_created, second_created = first.created_event(), second.created_event()
    chased = second.customer(second_at + timedelta(hours=3), "Hello? Any news on the slot?")
    late = second_at + timedelta(hours=1)
    written = second.customer(second_at + timedelta(minutes=30), "It was due today.")
    asked = first.customer(late + timedelta(minutes=30), "Can I move it to Friday?")
    clean = [first_created, second_created, written, asked, chased]
    reversed_ = [second_created, written, {**first_created, "at": iso(late)}, asked, chased]
    duplicated = [
        second_created,
        written,
        {**first_created, "at": iso(late)},
        asked,
        {**second_created, "at": iso(late + timedelta(minutes=1))},
        {**first_created, "at": iso(late + timedelta(minutes=2))},
        chased,
        {**first_created, "at": iso(late + timedelta(hours=4))},
    ]
    reason = "risk 3 ≥ 3: the requester opened zendesk:626 too, within 14 days (repeat contact, 3)"
    expected = escalation("627", second_at, ["repeat_contact"], 3, reason)
    for lines in (clean, reversed_, duplicated):
        assert replay(lines, rules=("risk",)) == expected
        # Smaller batches: the earlier ticket's event is decided in another batch than the
        # later ticket's, and the timer it sets on the later one is fired by a batch that
        # reads that ticket from the store.
        for batch in (1, 2):
            assert replay_in_batches(lines, batch, rules=("risk",)) == expected


def test_a_later_ticket_is_escalated_when_its_earlier_contacts_first_event_comes_after_it():
    """The earlier ticket's first event deskbridge sees is later than the later ticket (it
    was opened before deskbridge was connected, and only an update came): the later ticket
    is escalated at that event, as the repeat, and the earlier one is not."""
    first = Ticket("628", T0, {"subject": "Delivery slot", "description": "Can I move it?"})
    second_at = T0 + timedelta(hours=2)
    second = Ticket(
        "629", second_at, {"subject": "Delivery slot again", "description": "Still no slot."}
    )
    update_at = second_at + timedelta(hours=1)
    lines = [
        second.created_event(),
        first.customer(update_at, "Any news on my delivery slot?"),
        second.customer(update_at + timedelta(hours=1), "Hello?"),
    ]
    reason = "risk 3 ≥ 3: the requester opened zendesk:628 too, within 14 days (repeat contact, 3)"
    assert replay(lines, rules=("risk",)) == escalation(
        "629", update_at, ["repeat_contact"], 3, reason
    )


def test_a_third_contact_within_the_window_of_the_second_is_a_repeat_contact_too():
    """A (Mon 5 Jan), B (Thu 15 Jan), C (Mon 26 Jan): B is escalated as A's repeat; C is 11
    days after B (21 after A, outside the window) and is escalated as B's repeat, not passed
    over because B was escalated for a repeat contact of its own."""
    a_at = datetime(2026, 1, 5, 10, tzinfo=UTC)
    b_at, c_at = a_at + timedelta(days=10), a_at + timedelta(days=21)
    a = Ticket("641", a_at, {"subject": "Delivery slot", "description": "Can I move it?"})
    b = Ticket("642", b_at, {"subject": "Delivery slot again", "description": "Still no slot."})
    c = Ticket("643", c_at, {"subject": "Delivery slot", "description": "Hello again."})
    lines = [
        a.created_event(),
        b.created_event(),
        c.created_event(),
        # C's next event: escalated once.
        c.customer(c_at + timedelta(hours=1), "Hello? Any news on the slot?"),
    ]
    out = replay(lines, rules=("risk",))
    reason = "risk 3 ≥ 3: the requester opened zendesk:{} too, within 14 days (repeat contact, 3)"
    assert out == [
        *escalation("642", b_at, ["repeat_contact"], 3, reason.format("641")),
        *escalation("643", c_at, ["repeat_contact"], 3, reason.format("642")),
    ]


def test_a_ticket_from_the_same_requester_outside_the_window_is_not_a_repeat_contact():
    first = Ticket("631", T0, {"subject": "Delivery slot", "description": "Can I move it?"})
    later = T0 + timedelta(days=14, minutes=1)
    second = Ticket("632", later, {"subject": "Delivery slot", "description": "Hello again."})
    assert replay([first.created_event(), second.created_event()], rules=("risk",)) == []


def test_a_new_stronger_signal_escalates_again_and_only_once():
    ticket = Ticket("641", T0, OMBUDSMAN)
    lines = [
        ticket.created_event(),
        ticket.body("tags_changed", T0 + timedelta(hours=1), tags=["vip"]),
        ticket.body("tags_changed", T0 + timedelta(hours=2), tags=["vip", "chased"]),
    ]
    out = replay(lines, rules=("risk",))
    legal = escalation("641", T0, ["legal"], 3, 'risk 3 ≥ 3: mentions "ombudsman" (legal, 3)')
    both = escalation(
        "641",
        T0 + timedelta(hours=1),
        ["legal", "vip"],
        6,
        'risk 6 ≥ 3: mentions "ombudsman" (legal, 3); tagged "vip" (vip, 3)',
    )
    # The ticket's priority is still NORMAL in the helpdesk snapshots (no echo here).
    assert out == legal + both


# -- duplicates and out-of-order deliveries --------------------------------------------------


def scenario() -> list[dict]:
    """Several tickets over three days, in the order the events happened."""
    routed = Ticket("651", T0, WRONG_ITEM, requester="81")
    answered = Ticket("652", T0 + timedelta(minutes=5), WRONG_ITEM, requester="82")
    unclear = Ticket(
        "653",
        T0 + timedelta(minutes=10),
        {"subject": "Question about my order", "description": "Please call me back."},
        requester="83",
    )
    legal = Ticket("654", T0 + timedelta(minutes=15), OMBUDSMAN, requester="84")
    day3 = T0 + timedelta(days=2)
    repeat = Ticket(
        "655", day3, {"subject": "Me again", "description": "Is the table coming?"}, "81"
    )
    return [
        # Day 1, a busy hour.
        routed.created_event(),
        answered.created_event(),
        unclear.created_event(),
        legal.created_event(),
        routed.group_changed(T0 + timedelta(minutes=16), LOGISTICS_GROUP),
        answered.group_changed(T0 + timedelta(minutes=17), LOGISTICS_GROUP),
        unclear.customer(
            T0 + timedelta(minutes=20), "The wardrobe arrived damaged, the box was crushed."
        ),
        legal.customer(T0 + timedelta(minutes=25), "I mean it: the ombudsman."),
        answered.comment(
            T0 + timedelta(minutes=40), LOGISTICS_MEMBER, "Collecting it.", public=False
        ),
        routed.customer(T0 + timedelta(minutes=45), "Any news on my table?"),
        # Day 3: the first requester again.
        repeat.created_event(),
        repeat.customer(day3 + timedelta(minutes=10), "I already wrote about the table."),
        repeat.body("tags_changed", day3 + timedelta(minutes=20), tags=["chased"]),
    ]


def deliver(lines: list[dict], order: list[int]) -> list[dict]:
    """The bodies in `order`: the helpdesk delivered them out of order."""
    return arrive([lines[i] for i in order])


def arrive(lines: list[dict]) -> list[dict]:
    """The lines as given, arriving at the clean sequence's arrival times (the clock moves
    forward), but none before its own time: a helpdesk delivers an event late, never early
    (one stamped more than MAX_CLOCK_SKEW after it arrives is refused)."""
    arrivals = sorted(line["at"] for line in lines)
    out, last = [], ""
    for line, at in zip(lines, arrivals, strict=True):
        last = max(last, at, line["at"])
        out.append({**line, "at": last})
    return out


def outcome(lines: list[dict], *args: str) -> set[tuple[str, str, str]]:
    return {(o["ticket"], o["action"], o["key"]) for o in replay(lines, *args)}


def shuffled_orders(lines: list[dict], seeds: range) -> list[list[int]]:
    """Shuffles within each day (deliveries are late by minutes, not days). A department's
    reply is never delivered before anything else about its ticket: deskbridge must have
    routed the ticket for the department to answer it."""
    days: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        days.setdefault(line["at"][:10], []).append(index)
    orders = []
    for seed in seeds:
        rng = random.Random(seed)
        order: list[int] = []
        for indexes in days.values():
            chunk = indexes[:]
            rng.shuffle(chunk)
            order += chunk
        for position, index in enumerate(order):
            event = lines[index]["body"]
            author = event["event"].get("comment", {}).get("author", {}).get("id")
            ticket = event["detail"]["id"]
            earlier = [lines[i]["body"]["detail"]["id"] for i in order[:position]]
            if author == LOGISTICS_MEMBER and ticket not in earlier:
                later = next(
                    p
                    for p in range(position + 1, len(order))
                    if lines[order[p]]["body"]["detail"]["id"] == ticket
                )
                order[position], order[later] = order[later], order[position]
        orders.append(order)
    return orders


CLEAN_UNTIL = iso(T0 + timedelta(days=4))


def test_the_clean_scenario_decides_what_the_issue_asks_for():
    decided = outcome(scenario(), "--until", CLEAN_UNTIL)
    steps = (("route", "route"), ("assign", "assign"), ("tag", "tag"), ("note", "note"))
    escalation_steps = (
        ("escalate", "escalate"),
        ("set_priority", "priority"),
        ("assign", "assign"),
        ("note", "note"),
    )
    expected = {
        (f"zendesk:{t}", a, f"zendesk:{t}:routing:{d}:{k}")
        for t, d in (
            ("651", "logistics"),
            ("652", "logistics"),
            ("653", "logistics"),
            ("654", "post_sales"),
        )
        for a, k in steps
    }
    expected |= {
        (f"zendesk:{t}", a, f"zendesk:{t}:risk:{names}:{k}")
        for t, names in (("654", "legal"), ("655", "repeat_contact"))
        for a, k in escalation_steps
    }
    expected |= {
        ("zendesk:653", "notify", "zendesk:653:routing:unclassified"),
        ("zendesk:655", "notify", "zendesk:655:routing:unclassified"),
        # 652 was answered by Logistics in time; 654 was escalated, so the specialist tier
        # owns it and no hand-off alert fires; the others were not answered.
        ("zendesk:651", "notify", "zendesk:651:routing:logistics:handoff_overdue"),
        ("zendesk:653", "notify", "zendesk:653:routing:logistics:handoff_overdue"),
    }
    # 654 is routed and escalated by one event (a legal threat in a new ticket): one owner
    # write, the specialists'; it was assigned to Post-Sales' group, then at once moved on.
    expected.remove(("zendesk:654", "assign", "zendesk:654:routing:post_sales:assign"))
    assert decided == expected


def test_duplicated_deliveries_change_nothing():
    clean = scenario()
    noisy = []
    for index, line in enumerate(clean):
        noisy.append(line)
        if index % 2 == 0:
            noisy.append(line)
    noisy += clean[::3]  # late redeliveries of old events
    noisy = arrive(noisy)
    assert outcome(noisy) == outcome(clean)
    assert outcome(noisy, "--until", CLEAN_UNTIL) == outcome(clean, "--until", CLEAN_UNTIL)


UNCLEAR_CREATED, UNCLEAR_EXPLAINED = 2, 6  # indexes in scenario()
ASKED = ("zendesk:653", "notify", "zendesk:653:routing:unclassified")


def expected_for(order: list[int], clean: set) -> set:
    """The clean sequence's actions. One difference is right: when the customer's comment
    naming the problem is delivered before the ticket's creation, deskbridge never sees the
    ticket unclassified, routes it at once and does not ask the agent to pick a department."""
    if order.index(UNCLEAR_EXPLAINED) < order.index(UNCLEAR_CREATED):
        return clean - {ASKED}
    return clean


def test_shuffled_deliveries_give_the_same_actions_as_the_clean_sequence():
    clean = scenario()
    expected = outcome(clean)
    expected_with_timers = outcome(clean, "--until", CLEAN_UNTIL)
    orders = shuffled_orders(clean, range(12))
    # The seeds cover both cases of the one allowed difference.
    assert {o.index(UNCLEAR_EXPLAINED) < o.index(UNCLEAR_CREATED) for o in orders} == {
        True,
        False,
    }
    for order in orders:
        lines = deliver(clean, order)
        assert outcome(lines) == expected_for(order, expected), order
        assert outcome(lines, "--until", CLEAN_UNTIL) == expected_for(
            order, expected_with_timers
        ), order


def test_shuffled_and_duplicated_deliveries_together():
    clean = scenario()
    expected = outcome(clean, "--until", CLEAN_UNTIL)
    for order in shuffled_orders(clean, range(100, 106)):
        doubled = [i for index in order for i in ((index, index) if index % 3 else (index,))]
        lines = arrive([clean[i] for i in doubled])
        assert outcome(lines, "--until", CLEAN_UNTIL) == expected_for(order, expected), order
