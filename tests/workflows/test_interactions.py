"""Actions and their keys (DESIGN rule 6), and the `interactions` rule: what people do with
deskbridge's alerts in Slack, turned into ticket changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deskbridge.workflows.actions import ActionKind, build_action, build_key
from deskbridge.workflows.decision import Context, Timer
from deskbridge.workflows.model import EventKind, Source, Status, TicketEvent, TicketSnapshot
from deskbridge.workflows.rules import evaluate_rules, evaluate_timer
from deskbridge.workflows.rules.interactions import evaluate_interactions
from deskbridge.workflows.state import apply_event, mark_fired, new_state

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEAD = "U02SAMWL01"  # who clicks (the ticket is assignee 900's)


def test_a_key_is_ticket_rule_and_discriminator_joined_by_colons():
    assert build_key(
        "zendesk:48213", "sla", "first_reply", "2026-03-02T09:00:00+00:00", "warn1"
    ) == ("zendesk:48213:sla:first_reply:2026-03-02T09:00:00+00:00:warn1")
    assert build_key("salesforce:500Hp00001", "three_responses", "lead") == (
        "salesforce:500Hp00001:three_responses:lead"
    )


def test_build_action_keeps_the_params_in_the_order_given():
    action = build_action(
        "zendesk:48213", "routing", ActionKind.tag, "logistics", "tag", reason="why", tags=["a"]
    )
    assert action.to_record() == {
        "ticket": "zendesk:48213",
        "action": "tag",
        "rule": "routing",
        "reason": "why",
        "tags": ["a"],
        "key": "zendesk:48213:routing:logistics:tag",
    }


def _clicked(
    kind: EventKind, n: int, source: Source = Source.zendesk, ticket: str = "48213", **meta: str
) -> TicketEvent:
    return TicketEvent(
        source=source,
        ticket_id=ticket,
        dedupe_key=f"slack:{n}",
        kind=kind,
        occurred_at=T0 + timedelta(minutes=n),
        actor_id=LEAD,
        ticket=TicketSnapshot(status=Status.open, assignee="900", subject="Parcel stuck"),
        meta={"by": "Priya", **meta},
    )


def _decide(event: TicketEvent, rules) -> list[dict]:
    state, _ = apply_event(new_state(event), event)
    decision = evaluate_rules(state, event, Context(now=event.occurred_at, rules=rules))
    return [a.to_record() for a in decision.actions if a.rule == "interactions"]


def test_an_acknowledgement_is_noted_and_told_in_the_thread(rules):
    assert _decide(_clicked(EventKind.acknowledged, 1), rules) == [
        {
            "ticket": "zendesk:48213",
            "action": "note",
            "rule": "interactions",
            "reason": "acknowledged in Slack by Priya",
            "body": "deskbridge: alert acknowledged in Slack by Priya.",
            "key": "zendesk:48213:interactions:ack:note",
        },
        {
            "ticket": "zendesk:48213",
            "action": "notify",
            "rule": "interactions",
            "reason": "acknowledged in Slack by Priya",
            "target": "thread",
            "refresh": True,
            "text": "Acknowledged by Priya",
            # No chain on the ticket: no paged person's DM to tell.
            "reply_in": "channels",
            "key": "zendesk:48213:interactions:ack",
        },
    ]


def test_a_logged_call_tags_notes_and_tells_the_thread(rules):
    tag = rules.three_responses.call_logged_tag
    records = _decide(_clicked(EventKind.call_logged, 2), rules)
    assert [(r["action"], r["key"]) for r in records] == [
        ("tag", "zendesk:48213:interactions:call_logged:tag"),
        ("note", "zendesk:48213:interactions:call_logged:note"),
        ("notify", "zendesk:48213:interactions:call_logged"),
    ]
    assert records[0]["tags"] == [tag]
    assert records[1]["body"] == "deskbridge: Priya called the customer (logged in Slack)."
    assert records[2]["text"] == "Customer call logged by Priya"


def test_a_call_logged_on_a_case_decides_no_tag_it_cannot_carry(rules):
    # A case has no tags: the call_logged tag was decided, queued and logged for it, then
    # skipped by the Salesforce writer. The note and the thread's line are the same.
    case = "5005j00000SCEN1AAA"
    records = _decide(_clicked(EventKind.call_logged, 2, Source.salesforce, case), rules)
    assert records == [
        {
            "ticket": f"salesforce:{case}",
            "action": "note",
            "rule": "interactions",
            "reason": "customer call logged in Slack by Priya",
            "body": "deskbridge: Priya called the customer (logged in Slack).",
            "key": f"salesforce:{case}:interactions:call_logged:note",
        },
        {
            "ticket": f"salesforce:{case}",
            "action": "notify",
            "rule": "interactions",
            "reason": "customer call logged in Slack by Priya",
            "target": "thread",
            "refresh": True,
            "text": "Customer call logged by Priya",
            "reply_in": "channels",
            "key": f"salesforce:{case}:interactions:call_logged",
        },
    ]


def test_the_salesforce_writer_skips_what_the_rules_no_longer_decide_for_a_case():
    # Rows queued by an earlier deskbridge, which decided tags for cases: one declaration.
    from deskbridge.connectors.salesforce.connector import SKIPPED_ACTIONS
    from deskbridge.workflows.actions import UNCARRIED

    uncarried = dict(UNCARRIED)
    assert uncarried == {Source.salesforce: {ActionKind.tag: "salesforce cases have no tags"}}
    assert SKIPPED_ACTIONS is UNCARRIED[Source.salesforce]


def _snooze_timer(kind: str, **person: str) -> Timer:
    return Timer(
        id=f"zendesk:48213:{kind}",
        ticket="zendesk:48213",
        kind=kind,
        due_at=T0 + timedelta(minutes=33),
        payload={"by": "Priya", "minutes": 30, "assignee": "900", **person},
    )


def test_a_snooze_sets_its_timer_and_its_end_reminds_who_snoozed(rules):
    # The reminder went to the assignee (900), who had asked for nothing, and the person who
    # pressed Snooze to be reminded heard nothing.
    event = _clicked(EventKind.snoozed, 3, minutes="30")
    state, _ = apply_event(new_state(event), event)
    decision = evaluate_interactions(state, event, Context(now=event.occurred_at, rules=rules))
    assert decision.timers == [_snooze_timer("interactions.snooze", person=LEAD)]
    assert [a.key for a in decision.actions] == ["zendesk:48213:interactions:snooze:slack:3"]

    fired = evaluate_timer(state, decision.timers[0], Context(now=T0, rules=rules))
    assert [a.to_record() for a in fired.actions] == [
        {
            "ticket": "zendesk:48213",
            "action": "notify",
            "rule": "interactions",
            "reason": "snoozed 30 min ago by Priya and still open",
            "target": "person",
            "channel": LEAD,
            "text": "Snooze is over",
            "key": "zendesk:48213:interactions:snooze_over:2026-03-02T09:33:00+00:00",
        }
    ]


def test_a_snooze_set_before_timers_named_the_person_reminds_the_assignee(rules):
    event = _clicked(EventKind.snoozed, 3, minutes="30")
    state, _ = apply_event(new_state(event), event)
    fired = evaluate_timer(
        state, _snooze_timer("interactions.snooze"), Context(now=T0, rules=rules)
    )
    assert [(a.params["target"], a.params.get("assignee")) for a in fired.actions] == [
        ("assignee", "900")
    ]


def test_a_snooze_stored_under_the_rules_old_name_still_fires(rules):
    event = _clicked(EventKind.snoozed, 3, minutes="30")
    state, _ = apply_event(new_state(event), event)
    fired = evaluate_timer(state, _snooze_timer("slack.snooze"), Context(now=T0, rules=rules))
    assert [a.key for a in fired.actions] == [
        "zendesk:48213:interactions:snooze_over:2026-03-02T09:33:00+00:00"
    ]


def test_a_call_logged_again_later_in_the_tickets_life_changes_nothing(rules):
    # The 3-response rule asks for one customer call in a ticket's life and the button goes
    # once it is logged: a later "call logged" (another copy of the message, a second person)
    # is the same call, not a new one to tag, note and tell again.
    first = _clicked(EventKind.call_logged, 2)
    state, _ = apply_event(new_state(first), first)
    decision = evaluate_rules(state, first, Context(now=first.occurred_at, rules=rules))
    state = mark_fired(state, [a.key for a in decision.actions])
    later = _clicked(EventKind.call_logged, 600, by="Lena")
    state, _ = apply_event(state, later)
    again = evaluate_rules(state, later, Context(now=later.occurred_at, rules=rules))
    assert [a.key for a in again.actions if a.rule == "interactions"] == []
    assert state.call_logged_by == "Priya"
