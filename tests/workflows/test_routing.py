"""Routing to Logistics / Quality / Post-Sales and the hand-off deadline, decided by the pure
rule with an explicit Context (config/example.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.actions import dump_action
from deskbridge.workflows.decision import Context, Decision, Timer
from deskbridge.workflows.model import (
    Comment,
    EventKind,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
    TicketState,
    evolve,
)
from deskbridge.workflows.rules import evaluate_rules, evaluate_rules_to_state, evaluate_timer
from deskbridge.workflows.rules.routing import (
    HANDOFF,
    evaluate_routing,
    fire_handoff,
    handoff_timer_id,
)
from deskbridge.workflows.state import apply_event, mark_fired, new_state

RULES = load_rules(EXAMPLE_CONFIG)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TICKET = "zendesk:700"
AGENT = "9013300112004"
CUSTOMER = "81"
FRONTLINE = "360010000000"
LOGISTICS_GROUP = "360010000001"
QUALITY_GROUP = "360010000002"
LOGISTICS_MEMBER = "9013300113001"
QUALITY_MEMBER = "9013300114001"
SOMEONE_ELSES_GROUP = "360010000777"
HANDOFF_ID = "zendesk:700:routing.handoff"

WRONG_ITEM = {
    "subject": "Wrong item delivered",
    "description": "I ordered the oak dining table and you sent a pine one.",
}
WRONG_ITEM_REASON = 'subject mentions "wrong item" → wrong item delivered → Logistics'
UNCLEAR = {
    "subject": "Question about my order",
    "description": "Hello, please call me back about my order.",
}


def snapshot(**fields) -> TicketSnapshot:
    values = {
        "status": Status.open,
        "group": FRONTLINE,
        "assignee": AGENT,
        "requester": CUSTOMER,
        "created_at": T0,
        **fields,
    }
    return TicketSnapshot(**values)


def event(
    n: int,
    kind: EventKind = EventKind.updated,
    comment: Comment | None = None,
    at: datetime | None = None,
    **fields,
) -> TicketEvent:
    return TicketEvent(
        source=Source.zendesk,
        ticket_id="700",
        dedupe_key=f"e{n}",
        kind=kind,
        occurred_at=at or T0 + timedelta(minutes=n),
        ticket=snapshot(**fields),
        comment=comment,
    )


def comment(
    n: int, author: str, *, public: bool = True, agent: bool = True, body: str = "Looking."
) -> Comment:
    return Comment(id=f"c{n}", public=public, author_id=author, author_is_agent=agent, body=body)


def customer_says(n: int, body: str, **fields) -> TicketEvent:
    return event(
        n,
        EventKind.comment_added,
        comment(n, CUSTOMER, agent=False, body=body),
        **fields,
    )


def state(**fields) -> TicketState:
    values = {
        "key": TICKET,
        "source": Source.zendesk,
        "ticket_id": "700",
        "status": Status.open,
        "group": FRONTLINE,
        "assignee": AGENT,
        "requester": CUSTOMER,
        "created_at": T0,
        **fields,
    }
    return TicketState(**values)


def routed_to_logistics(**fields) -> TicketState:
    """The state right after deskbridge routed the wrong-item ticket (the group not yet echoed)."""
    values = {
        **WRONG_ITEM,
        "department": "logistics",
        "routed_departments": ["logistics"],
        "assigned_groups": [LOGISTICS_GROUP],
        **fields,
    }
    return state(**values)


def context(now: datetime = T0, previous: TicketState | None = None) -> Context:
    return Context(now=now, rules=RULES, previous=previous, related=())


def step(previous: TicketState | None, e: TicketEvent) -> tuple[TicketState, Decision]:
    """Fold one event and run the routing rule on it, as the service does (pure)."""
    folded, _ = apply_event(previous or new_state(e), e)
    decision = evaluate_routing(folded, e, context(e.occurred_at, previous))
    return evolve(folded, decision.updates), decision


def dumps(decision: Decision) -> list[dict]:
    return [dump_action(a) for a in decision.actions]


def route_actions(department: str, group: str, name: str, category: str, reason: str):
    key = f"{TICKET}:routing:{department}"
    channel = RULES.departments[department].slack_channel
    return [
        {
            "kind": "route",
            "ticket": TICKET,
            "rule": "routing",
            "reason": reason,
            "key": f"{key}:route",
            "params": {
                "department": department,
                "category": category,
                "channel": channel,
                "source": "phrase",
            },
        },
        {
            "kind": "assign",
            "ticket": TICKET,
            "rule": "routing",
            "reason": reason,
            "key": f"{key}:assign",
            "params": {"group": group},
        },
        {
            "kind": "tag",
            "ticket": TICKET,
            "rule": "routing",
            "reason": reason,
            "key": f"{key}:tag",
            "params": {"tags": [f"dept_{department}"]},
        },
        {
            "kind": "note",
            "ticket": TICKET,
            "rule": "routing",
            "reason": reason,
            "key": f"{key}:note",
            "params": {"body": f"deskbridge routed this ticket to {name}: {reason}."},
        },
    ]


# -- routing a classified ticket ----------------------------------------------------------


def test_wrong_item_ticket_is_routed_to_logistics_with_group_tag_note_and_handoff_timer():
    decision = evaluate_routing(state(**WRONG_ITEM), event(0, EventKind.created), context())

    assert dumps(decision) == route_actions(
        "logistics", LOGISTICS_GROUP, "Logistics", "wrong_item", WRONG_ITEM_REASON
    )
    assert decision.timers == [
        Timer(
            id=HANDOFF_ID,
            ticket=TICKET,
            kind=HANDOFF,
            due_at=T0 + timedelta(hours=4),
            payload={"department": "logistics"},
        )
    ]
    assert decision.cancel == []
    assert decision.updates == {
        "department": "logistics",
        "routed_departments": ["logistics"],
        "assigned_groups": [LOGISTICS_GROUP],
        "department_acted": False,
    }


def test_handoff_timer_uses_the_departments_own_window():
    quality = state(subject="Chair is defective", description="The chair broke after a week.")
    now = T0 + timedelta(minutes=30)
    decision = evaluate_routing(quality, event(0, EventKind.created), context(now))
    assert decision.actions[0].params["department"] == "quality"
    assert decision.timers == [
        Timer(
            id=HANDOFF_ID,
            ticket=TICKET,
            kind=HANDOFF,
            due_at=now + timedelta(hours=8),
            payload={"department": "quality"},
        )
    ]


def test_handoff_deadline_counts_business_hours_only():
    """A department's 4h run in the team's opening hours (09:00-18:00, London): a ticket
    routed on Friday at 17:00 is overdue on Monday at 12:00, not on Friday night; one routed
    before opening, at 13:00. Without business hours the window is calendar time."""
    friday_5pm = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
    early = datetime(2026, 3, 2, 8, 40, tzinfo=UTC)
    no_hours = RULES.model_copy(update={"business_hours": None})
    due = {}
    for name, rules, now in (
        ("friday", RULES, friday_5pm),
        ("before opening", RULES, early),
        ("no business hours", no_hours, friday_5pm),
    ):
        ctx = Context(now=now, rules=rules, previous=None, related=())
        [timer] = evaluate_routing(state(**WRONG_ITEM), event(0, EventKind.created), ctx).timers
        due[name] = timer.due_at
    assert due == {
        "friday": datetime(2026, 3, 9, 12, 0, tzinfo=UTC),
        "before opening": datetime(2026, 3, 2, 13, 0, tzinfo=UTC),
        "no business hours": datetime(2026, 3, 6, 21, 0, tzinfo=UTC),
    }
    ticket = routed_to_logistics()
    ctx = Context(now=due["no business hours"], rules=no_hours, previous=ticket, related=())
    [action] = fire_handoff(ticket, handoff(), ctx).actions
    assert action.reason == "Logistics has not acted within 4h of the hand-off"


def test_a_department_on_calendar_time_is_overdue_on_the_clock():
    """A logistics desk that works nights (`handoff_calendar_time: true`): a ticket routed to
    it on Friday at 17:00 is overdue at 21:00 that night, its lead told so; the other
    departments keep the team's opening hours (Quality's 8h, routed then: Monday 16:00)."""
    friday_5pm = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
    logistics = RULES.departments["logistics"].model_copy(update={"handoff_calendar_time": True})
    around_the_clock = RULES.model_copy(
        update={"departments": {**RULES.departments, "logistics": logistics}}
    )
    ctx = Context(now=friday_5pm, rules=around_the_clock, previous=None, related=())
    due = {}
    for name, fields in (("logistics", WRONG_ITEM), ("quality", {"subject": "Chair is defective"})):
        [timer] = evaluate_routing(state(**fields), event(0, EventKind.created), ctx).timers
        due[name] = (timer.payload["department"], timer.due_at)
    assert due == {
        "logistics": ("logistics", datetime(2026, 3, 6, 21, 0, tzinfo=UTC)),
        "quality": ("quality", datetime(2026, 3, 9, 16, 0, tzinfo=UTC)),
    }
    ticket = routed_to_logistics()
    late = Context(now=due["logistics"][1], rules=around_the_clock, previous=ticket, related=())
    [action] = fire_handoff(ticket, handoff(), late).actions
    assert action.reason == "Logistics has not acted within 4h of the hand-off"


# -- sources, in order: field, tags, phrases -----------------------------------------------


def test_the_explicit_field_beats_tags_and_phrases():
    ticket = state(**WRONG_ITEM, tags=["defect"], custom_fields={"problem_category": "Refund"})
    route = evaluate_routing(ticket, event(0, EventKind.created), context()).actions[0]
    assert dump_action(route) == {
        "kind": "route",
        "ticket": TICKET,
        "rule": "routing",
        "reason": 'field problem_category is "refund" → refund request → Post-Sales',
        "key": f"{TICKET}:routing:post_sales:route",
        "params": {
            "department": "post_sales",
            "category": "refund",
            "channel": "#dept-post-sales",
            "source": "field",
        },
    }


def test_tags_beat_phrases():
    ticket = state(**WRONG_ITEM, tags=["vip", "defect"])
    route = evaluate_routing(ticket, event(0, EventKind.created), context()).actions[0]
    assert dump_action(route) == {
        "kind": "route",
        "ticket": TICKET,
        "rule": "routing",
        "reason": 'tag "defect" → product defect → Quality/Production',
        "key": f"{TICKET}:routing:quality:route",
        "params": {
            "department": "quality",
            "category": "product_defect",
            "channel": "#dept-quality",
            "source": "tag",
        },
    }


def test_an_unknown_field_value_falls_through_to_tags():
    ticket = state(**WRONG_ITEM, tags=["defect"], custom_fields={"problem_category": "other"})
    route = evaluate_routing(ticket, event(0, EventKind.created), context()).actions[0]
    assert (route.reason, route.params["source"]) == (
        'tag "defect" → product defect → Quality/Production',
        "tag",
    )


def test_phrases_in_subject_and_description_when_there_is_no_field_or_tag():
    ticket = state(**WRONG_ITEM, tags=["vip"], custom_fields={"other_field": "refund"})
    route = evaluate_routing(ticket, event(0, EventKind.created), context()).actions[0]
    assert (route.reason, route.params["source"], route.params["category"]) == (
        WRONG_ITEM_REASON,
        "phrase",
        "wrong_item",
    )


# -- unclassified tickets ------------------------------------------------------------------

UNCLASSIFIED_NOTIFY = {
    "kind": "notify",
    "ticket": TICKET,
    "rule": "routing",
    "reason": "unclassified: no field, tag or phrase names an order problem — pick a department",
    "key": f"{TICKET}:routing:unclassified",
    "params": {"target": "assignee", "assignee": AGENT, "ask": "pick_department"},
}


def test_unclassified_ticket_asks_the_assignee_to_pick_a_department():
    decision = evaluate_routing(state(**UNCLEAR), event(0, EventKind.created), context())
    assert dumps(decision) == [UNCLASSIFIED_NOTIFY]
    assert decision.timers == []
    assert decision.updates == {}


def test_departments_scoring_too_close_ask_instead_of_routing():
    close = {"subject": "Table", "description": "The table is wobbly and it arrived late."}
    decision = evaluate_routing(state(**close), event(0, EventKind.created), context())
    assert dumps(decision) == [
        {
            **UNCLASSIFIED_NOTIFY,
            "reason": 'unclassified: Quality/Production ("wobbly", 1) and Logistics ("late", 1)'
            " score too close to choose — pick a department",
        }
    ]
    assert decision.updates == {}


def test_unclassified_notify_is_decided_only_once():
    """Through the rule registry, as the service runs it: the second event finds the notify's
    key among the ticket's fired keys."""
    ticket = None
    decided = []
    events = [
        event(0, EventKind.created, **UNCLEAR),
        event(1, EventKind.comment_added, comment(1, AGENT, public=False), **UNCLEAR),
        event(2, EventKind.tags_changed, tags=("chat",), **UNCLEAR),
    ]
    for e in events:
        previous = ticket
        ticket, _ = apply_event(ticket or new_state(e), e)
        decision = evaluate_rules(ticket, e, context(e.occurred_at, previous))
        ticket = mark_fired(evolve(ticket, decision.updates), [a.key for a in decision.actions])
        decided += [(e.dedupe_key, dump_action(a)) for a in decision.actions]
    assert [(k, a) for k, a in decided if a["rule"] == "routing"] == [("e0", UNCLASSIFIED_NOTIFY)]


# -- re-classification when the customer adds information ----------------------------------


def test_customer_comment_on_an_unclassified_ticket_routes_it():
    ticket, first = step(None, event(0, EventKind.created, **UNCLEAR))
    assert dumps(first) == [UNCLASSIFIED_NOTIFY]

    ticket, decision = step(
        ticket, customer_says(30, "The wardrobe arrived damaged, the box was crushed.", **UNCLEAR)
    )
    reason = 'the customer wrote "box was crushed" → damage in transit → Logistics'
    assert dumps(decision) == route_actions(
        "logistics", LOGISTICS_GROUP, "Logistics", "transit_damage", reason
    )
    assert decision.timers == [
        Timer(
            id=HANDOFF_ID,
            ticket=TICKET,
            kind=HANDOFF,
            due_at=T0 + timedelta(minutes=30, hours=4),
            payload={"department": "logistics"},
        )
    ]
    assert ticket.department == "logistics"


def test_an_agents_comment_does_not_reclassify():
    ticket, _ = step(None, event(0, EventKind.created, **UNCLEAR))
    agent_says = event(
        5,
        EventKind.comment_added,
        comment(5, AGENT, body="Sorry it arrived damaged, the box was crushed?"),
        **UNCLEAR,
    )
    ticket, decision = step(ticket, agent_says)
    # Still unclassified: the same notify (same key, so the registry drops it), no route.
    assert dumps(decision) == [UNCLASSIFIED_NOTIFY]
    assert (decision.timers, ticket.department, ticket.customer_messages) == ([], None, [])


QUALITY_UPDATE = (
    "Update: the pine table is defective, one leg snapped off and the drawer runner "
    "stopped working."
)
REROUTE_REASON = (
    'the customer wrote "stopped working" → product defect → Quality/Production '
    "(re-routed from Logistics)"
)


def test_customer_naming_another_departments_problem_reroutes_once():
    ticket, first = step(None, event(0, EventKind.created, **WRONG_ITEM))
    assert first.actions[0].key == f"{TICKET}:routing:logistics:route"

    now = T0 + timedelta(hours=1)
    ticket, decision = step(ticket, customer_says(60, QUALITY_UPDATE, at=now, **WRONG_ITEM))
    assert dumps(decision) == route_actions(
        "quality", QUALITY_GROUP, "Quality/Production", "product_defect", REROUTE_REASON
    )
    assert decision.timers == [
        Timer(
            id=HANDOFF_ID,
            ticket=TICKET,
            kind=HANDOFF,
            due_at=now + timedelta(hours=8),
            payload={"department": "quality"},
        )
    ]
    assert decision.updates == {
        "department": "quality",
        "routed_departments": ["logistics", "quality"],
        "assigned_groups": [LOGISTICS_GROUP, QUALITY_GROUP],
        "department_acted": False,
    }

    # More of the same: it is already there.
    _, again = step(
        ticket, customer_says(70, "The drawer is faulty and the hinge is broken.", **WRONG_ITEM)
    )
    assert again == Decision()


def test_no_ping_pong_back_to_a_department_it_was_already_routed_to():
    ticket, _ = step(None, event(0, EventKind.created, **WRONG_ITEM))
    ticket, _ = step(ticket, customer_says(60, QUALITY_UPDATE, **WRONG_ITEM))
    assert ticket.department == "quality"

    back = (
        "And you sent the wrong item anyway: the wrong colour, the wrong size and the "
        "wrong model. Not what I ordered."
    )
    ticket, decision = step(ticket, customer_says(90, back, **WRONG_ITEM))
    assert decision == Decision()
    assert (ticket.department, ticket.routed_departments) == ("quality", ["logistics", "quality"])


# -- people moving the ticket ----------------------------------------------------------------


def test_group_change_by_a_person_stops_routing():
    before = routed_to_logistics(group=LOGISTICS_GROUP)
    moved = event(30, EventKind.group_changed, group=SOMEONE_ELSES_GROUP, **WRONG_ITEM)
    ticket, decision = step(before, moved)
    assert decision.actions == []
    assert decision.timers == []
    # Moving the ticket is also the department acting: the hand-off timer goes.
    assert decision.cancel == [HANDOFF_ID]
    assert decision.updates == {"department_acted": True, "routed_by_hand": True}

    _, later = step(ticket, customer_says(60, QUALITY_UPDATE, **WRONG_ITEM))
    assert later == Decision()


def test_group_change_by_a_person_before_routing_stops_routing_too():
    ticket, first = step(None, event(0, EventKind.created, **UNCLEAR))
    assert dumps(first) == [UNCLASSIFIED_NOTIFY]
    ticket, decision = step(
        ticket, event(10, EventKind.group_changed, group=SOMEONE_ELSES_GROUP, **UNCLEAR)
    )
    assert decision == Decision(updates={"routed_by_hand": True})

    _, later = step(
        ticket, event(20, EventKind.subject_changed, group=SOMEONE_ELSES_GROUP, **WRONG_ITEM)
    )
    assert later == Decision()


def test_the_echo_of_deskbridges_own_assign_is_not_a_person_routing():
    ticket, _ = step(None, event(0, EventKind.created, **WRONG_ITEM))
    assert (ticket.group, ticket.assigned_groups) == (FRONTLINE, [LOGISTICS_GROUP])

    ticket, echo = step(
        ticket, event(1, EventKind.group_changed, group=LOGISTICS_GROUP, **WRONG_ITEM)
    )
    assert echo == Decision()
    assert (ticket.routed_by_hand, ticket.department_acted) == (False, False)


def test_moving_a_ticket_back_to_an_earlier_departments_group_is_a_person_routing():
    before = routed_to_logistics(
        department="quality",
        routed_departments=["logistics", "quality"],
        assigned_groups=[LOGISTICS_GROUP, QUALITY_GROUP],
        group=QUALITY_GROUP,
    )
    _, decision = step(
        before, event(30, EventKind.group_changed, group=LOGISTICS_GROUP, **WRONG_ITEM)
    )
    assert decision.updates == {"department_acted": True, "routed_by_hand": True}
    assert decision.cancel == [HANDOFF_ID]


SPECIALISTS_GROUP = "360010000009"


def test_a_ticket_routed_and_escalated_at_once_records_only_the_owner_written():
    """The rules' merge keeps one owner write a decision (the specialists', the last rule's):
    the department's group, never written, stayed in the groups the state says deskbridge
    assigned."""
    threat = {**WRONG_ITEM, "description": WRONG_ITEM["description"] + " My lawyer will hear."}
    created = event(0, EventKind.created, **threat)
    folded, _ = apply_event(new_state(created), created)

    decision, after = evaluate_rules_to_state(folded, created, context())

    owners = [
        (a.kind.value, a.rule, a.params.get("group"))
        for a in decision.actions
        if a.kind.value in ("route", "escalate", "assign")
    ]
    assert owners == [
        ("route", "routing", None),
        ("escalate", "risk", None),
        ("assign", "risk", SPECIALISTS_GROUP),
    ]
    assert decision.updates["assigned_groups"] == [SPECIALISTS_GROUP]
    assert after.assigned_groups == [SPECIALISTS_GROUP]
    assert after == evolve(folded, decision.updates)


def test_a_thank_you_note_is_not_asked_for_a_department():
    thanks = {"subject": "Thank you!", "description": "Just wanted to say thanks, all good."}
    _, decision = step(None, event(0, EventKind.created, **thanks))
    assert decision == Decision()


# -- the department acting -----------------------------------------------------------------


def test_public_reply_from_a_department_member_cancels_the_handoff():
    reply = event(60, EventKind.comment_added, comment(60, LOGISTICS_MEMBER), **WRONG_ITEM)
    ticket, decision = step(routed_to_logistics(), reply)
    assert decision == Decision(cancel=[HANDOFF_ID], updates={"department_acted": True})
    assert ticket.department_acted is True


def test_internal_note_from_a_department_member_cancels_the_handoff():
    note = event(
        60, EventKind.comment_added, comment(60, LOGISTICS_MEMBER, public=False), **WRONG_ITEM
    )
    _, decision = step(routed_to_logistics(), note)
    assert decision == Decision(cancel=[HANDOFF_ID], updates={"department_acted": True})


def test_replies_from_outside_the_department_are_not_the_handoff():
    for author in (AGENT, QUALITY_MEMBER):
        reply = event(60, EventKind.comment_added, comment(60, author), **WRONG_ITEM)
        assert step(routed_to_logistics(), reply)[1] == Decision()


def test_a_members_reply_counts_once():
    reply = event(60, EventKind.comment_added, comment(60, LOGISTICS_MEMBER), **WRONG_ITEM)
    _, decision = step(routed_to_logistics(department_acted=True), reply)
    assert decision == Decision()


# -- the hand-off deadline -----------------------------------------------------------------


def handoff(department: str = "logistics", hours: int = 4) -> Timer:
    return Timer(
        id=HANDOFF_ID,
        ticket=TICKET,
        kind=HANDOFF,
        due_at=T0 + timedelta(hours=hours),
        payload={"department": department},
    )


def test_handoff_deadline_with_nobody_acting_tells_the_lead_once():
    due = T0 + timedelta(hours=4)
    ticket = routed_to_logistics()
    decision = fire_handoff(ticket, handoff(), context(due, ticket))
    expected = {
        "kind": "notify",
        "ticket": TICKET,
        "rule": "routing",
        "reason": "Logistics has not acted within 4h of the hand-off (business hours)",
        "key": f"{TICKET}:routing:logistics:handoff_overdue",
        "params": {"target": "lead", "channel": "#resolution-leads", "department": "logistics"},
    }
    assert dumps(decision) == [expected]
    assert (decision.timers, decision.cancel, decision.updates) == ([], [], {})

    # Through the timer registry: once decided, never again.
    assert dumps(evaluate_timer(ticket, handoff(), context(due, ticket))) == [expected]
    fired = mark_fired(ticket, [expected["key"]])
    assert evaluate_timer(fired, handoff(), context(due, fired)) == Decision()


def test_handoff_reason_names_the_departments_window():
    ticket = state(
        subject="Chair is defective",
        department="quality",
        routed_departments=["quality"],
        assigned_groups=[QUALITY_GROUP],
    )
    due = T0 + timedelta(hours=8)
    [action] = fire_handoff(ticket, handoff("quality", 8), context(due, ticket)).actions
    assert (
        action.reason
        == "Quality/Production has not acted within 8h of the hand-off (business hours)"
    )


def test_no_lead_alert_when_the_department_acted_the_ticket_is_solved_or_moved_on():
    due = T0 + timedelta(hours=4)
    for ticket in (
        routed_to_logistics(department_acted=True),
        routed_to_logistics(status=Status.solved),
        routed_to_logistics(status=Status.closed),
        routed_to_logistics(routed_by_hand=True),
        # Re-routed to Quality since the Logistics timer was set.
        routed_to_logistics(department="quality", routed_departments=["logistics", "quality"]),
    ):
        assert fire_handoff(ticket, handoff(), context(due, ticket)) == Decision()


# -- finished tickets ----------------------------------------------------------------------


def test_solved_and_closed_tickets_are_not_routed():
    for status in (Status.solved, Status.closed):
        decision = evaluate_routing(
            state(**WRONG_ITEM, status=status), event(0, status=status), context()
        )
        assert decision == Decision()
    unclear = evaluate_routing(state(**UNCLEAR, status=Status.solved), event(0), context())
    assert unclear == Decision()


def test_handoff_timer_id_is_deterministic_per_ticket():
    assert handoff_timer_id(TICKET) == HANDOFF_ID


def test_a_category_field_set_by_an_event_subscription_routes_even_when_it_arrives_late():
    """custom_field_changed carries the field by id (routing.category_field_id); the snapshot
    of a later event never carries field values, so a late field change still counts."""
    from deskbridge.connectors.zendesk.parse import parse_zendesk
    from tests.conftest import fixture_bytes

    rules = RULES.model_copy(
        update={"routing": RULES.routing.model_copy(update={"category_field_id": "360012345678"})}
    )
    (changed,) = parse_zendesk(
        fixture_bytes("ticket_custom_field_changed__problem_category.json"), T0
    )
    later = event(1, at=changed.occurred_at + timedelta(minutes=5), **UNCLEAR)
    folded, _ = apply_event(new_state(later), later)
    folded, stale = apply_event(folded, evolve(changed, {"ticket_id": "700"}))
    assert stale
    assert folded.custom_fields == {"360012345678": "product_defect"}
    decision = evaluate_routing(
        folded, changed, Context(now=T0, rules=rules, previous=None, related=())
    )
    route = next(a for a in decision.actions if a.kind.value == "route")
    assert (route.params["department"], route.params["source"], route.reason) == (
        "quality",
        "field",
        'field 360012345678 is "product_defect" → product defect → Quality/Production',
    )


def test_a_classification_kept_for_a_tickets_inputs_is_not_given_for_other_inputs():
    """classify_state keeps each classification by the ticket's text inputs (most events
    change none of them): changing any one input, or the rules, must classify again."""
    from deskbridge.workflows.classify import classify_ticket
    from deskbridge.workflows.rules.routing import classify_state

    def worked_out(ticket: TicketState, rules) -> str:
        result = classify_ticket(
            rules.routing,
            subject=ticket.subject,
            description=ticket.description,
            tags=ticket.tags,
            fields=ticket.custom_fields,
            customer_messages=ticket.customer_messages,
            department_names={k: d.name for k, d in rules.departments.items()},
        )
        return result.reason

    base = state(**UNCLEAR)
    variants = {
        "subject": state(**{**UNCLEAR, "subject": "Wrong item delivered"}),
        "description": state(**{**UNCLEAR, "description": "The parcel never arrived."}),
        "tags": state(**UNCLEAR, tags=["missing_parts"]),
        "field": state(**UNCLEAR, custom_fields={"problem_category": "delivery_delay"}),
        "message": state(**UNCLEAR, customer_messages=["The table top arrived cracked."]),
    }
    assert classify_state(base, RULES).reason == worked_out(base, RULES)
    assert classify_state(base, RULES).asks
    for name, variant in variants.items():
        assert classify_state(variant, RULES).reason == worked_out(variant, RULES), name
        assert classify_state(variant, RULES).reason != classify_state(base, RULES).reason, name
    # Other rules (phrases edited): their own classification, not the one kept for RULES.
    edited = RULES.model_copy(
        update={
            "routing": RULES.routing.model_copy(
                update={"not_a_problem": [*RULES.routing.not_a_problem, "wrong item"]}
            )
        }
    )
    wrong_item = variants["subject"]
    assert classify_state(wrong_item, edited).reason == worked_out(wrong_item, edited)
    assert classify_state(wrong_item, edited).department is None
    assert classify_state(wrong_item, RULES).department == "logistics"


@pytest.mark.source_only
def test_a_tag_or_field_no_category_names_does_not_read_the_texts_again(monkeypatch):
    """An agent's tag ("vip_followup") or a field other than the category's changes no
    phrase's answer: classify_state gives the answer the texts gave, without scanning them
    again; a tag or field value that names a category still decides (classify_ticket's)."""
    from deskbridge.workflows import classify
    from deskbridge.workflows.rules.routing import classify_state

    scans = []
    scan_texts = classify._scan_texts
    monkeypatch.setattr(classify, "_scan_texts", lambda *args: scans.append(1) or scan_texts(*args))
    texts = {
        "subject": "Sofa delivery",
        "description": "The parcel never arrived and the tracking has not moved in a week.",
    }
    base = classify_state(state(**texts), RULES)
    assert scans, "the texts are read the first time"
    scans.clear()
    for ticket in (
        state(**texts, tags=["vip_followup"]),
        state(**texts, tags=["vip_followup", "callback"]),
        state(**texts, custom_fields={"order_number": "A-1001"}),
        state(**texts, tags=["callback"], custom_fields={"order_number": "A-1002"}),
    ):
        assert classify_state(ticket, RULES) == base
    assert scans == []
    assert base.department == "logistics"
    assert base.source == "phrase"
    tagged = classify_state(state(**texts, tags=["vip_followup", "missing_parts"]), RULES)
    assert (tagged.category, tagged.department, tagged.source) == (
        "missing_parts",
        "quality",
        "tag",
    )
    filled = classify_state(
        state(**texts, custom_fields={"problem_category": "missing_parts"}), RULES
    )
    assert (filled.category, filled.department, filled.source) == (
        "missing_parts",
        "quality",
        "field",
    )


def fold(previous: TicketState | None, e: TicketEvent) -> tuple[TicketState, Decision]:
    """Fold one event through every rule, as the decider does (pure)."""
    folded, _ = apply_event(previous or new_state(e), e)
    decision, after = evaluate_rules_to_state(folded, e, context(e.occurred_at, previous))
    return mark_fired(after, [a.key for a in decision.actions]), decision


def handoffs(decision: Decision) -> tuple[list[str], list[str]]:
    """The hand-off timers a decision sets, and those it cancels."""
    return (
        [t.id for t in decision.timers if t.kind == HANDOFF],
        [i for i in decision.cancel if i == HANDOFF_ID],
    )


# An escalated ticket has no hand-off deadline (fire_handoff: the specialist tier owns it; the
# department's alert says "no hand-off deadline"): its timer was kept all the same and fired
# for nothing, routed and escalated by one event, escalated after its routing, or routed after
# its escalation.


def test_a_ticket_routed_and_escalated_at_once_keeps_no_hand_off_timer():
    threat = {**WRONG_ITEM, "description": WRONG_ITEM["description"] + " My lawyer will hear."}
    _, decision = fold(None, event(0, EventKind.created, **threat))

    assert [a.kind.value for a in decision.actions if a.kind.value in ("route", "escalate")] == [
        "route",
        "escalate",
    ]
    assert handoffs(decision) == ([], [HANDOFF_ID])


def test_escalating_a_routed_ticket_cancels_its_hand_off_timer():
    routed, decision = fold(None, event(0, EventKind.created, **WRONG_ITEM))
    assert handoffs(decision) == ([HANDOFF_ID], [])

    _, decision = fold(routed, customer_says(1, "My lawyer will hear of this.", **WRONG_ITEM))

    assert next(a.kind.value for a in decision.actions if a.rule == "risk") == "escalate"
    assert handoffs(decision) == ([], [HANDOFF_ID])


def test_a_department_picked_for_an_escalated_ticket_sets_no_hand_off_timer():
    unclear = {**UNCLEAR, "description": UNCLEAR["description"] + " My lawyer will hear."}
    escalated, decision = fold(None, event(0, EventKind.created, **unclear))
    assert escalated.escalation_signals == ["legal"]
    assert handoffs(decision) == ([], [])

    picked = evolve(
        event(1, **unclear),
        {"kind": EventKind.department_picked, "meta": {"department": "logistics", "by": "Lena"}},
    )
    _, decision = fold(escalated, picked)

    assert next(a.kind.value for a in decision.actions if a.rule == "routing") == "route"
    assert handoffs(decision) == ([], [])
