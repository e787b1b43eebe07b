"""The 3-response rule, decided on folded state with an explicit `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deskbridge.workflows.actions import ActionKind, dump_action
from deskbridge.workflows.decision import Context, Timer
from deskbridge.workflows.model import (
    Comment,
    EventKind,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
    evolve,
)
from deskbridge.workflows.rules.three_responses import evaluate_three_responses, fire_lead
from deskbridge.workflows.state import apply_event, mark_fired, new_state

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def event(
    n: int,
    kind=EventKind.comment_added,
    status=Status.open,
    tags=(),
    public=True,
    agent=True,
    voice=False,
    comment_id=None,
    ticket="48213",
) -> TicketEvent:
    comment = None
    if kind is EventKind.comment_added:
        comment = Comment(
            id=comment_id or f"c{n}",
            public=public,
            author_id="900",
            author_is_agent=agent,
            is_voice=voice,
            body="reply",
        )
    return TicketEvent(
        source=Source.zendesk,
        ticket_id=ticket,
        dedupe_key=f"e{n}",
        kind=kind,
        occurred_at=T0 + timedelta(minutes=n),
        ticket=TicketSnapshot(
            status=status, tags=tuple(tags), assignee="900", subject="Parcel stuck"
        ),
        comment=comment,
    )


def run(events, rules):
    """Fold and decide like the service does, firing the lead timer at its due time (before
    an event arriving after it; the rest after the last event); return [(event dedupe key or
    timer id, action)]."""
    state = None
    decided = []
    timers: dict[str, Timer] = {}

    def fire(before: datetime | None) -> None:
        nonlocal state
        for timer in sorted(timers.values(), key=lambda t: t.due_at):
            if before is None or timer.due_at <= before:
                del timers[timer.id]
                actions = fire_lead(state, timer, Context(now=timer.due_at, rules=rules)).actions
                state = mark_fired(state, [a.key for a in actions])
                decided.extend((timer.id, a) for a in actions)

    for e in events:
        fire(e.occurred_at)
        state = state or new_state(e)
        state, _ = apply_event(state, e)
        decision = evaluate_three_responses(state, e, Context(now=e.occurred_at, rules=rules))
        state = mark_fired(evolve(state, decision.updates), [a.key for a in decision.actions])
        timers.update((t.id, t) for t in decision.timers)
        decided += [(e.dedupe_key, a) for a in decision.actions]
    fire(None)
    return decided, state


def test_third_public_agent_reply_asks_for_a_call(rules):
    decided, _ = run([event(1), event(2), event(3)], rules)
    assert [(k, dump_action(a)) for k, a in decided] == [
        (
            "e3",
            {
                "kind": "call_customer",
                "ticket": "zendesk:48213",
                "rule": "three_responses",
                "reason": "3rd written reply without resolution — call the customer",
                "key": "zendesk:48213:three_responses:call_customer",
                "params": {"target": "assignee", "assignee": "900", "replies": 3},
            },
        ),
        (
            "e3",
            {
                "kind": "tag",
                "ticket": "zendesk:48213",
                "rule": "three_responses",
                "reason": "3rd written reply without resolution — call the customer",
                "key": "zendesk:48213:three_responses:tag",
                "params": {"tags": ["call_required"]},
            },
        ),
        (
            "e3",
            {
                "kind": "note",
                "ticket": "zendesk:48213",
                "rule": "three_responses",
                "reason": "3rd written reply without resolution — call the customer",
                "key": "zendesk:48213:three_responses:note",
                "params": {
                    "body": "deskbridge: 3 written replies and the ticket is not "
                    "solved. Per the 3-response rule, please call the customer and "
                    "log the call."
                },
            },
        ),
    ]


def test_fourth_reply_without_a_call_tells_the_lead_once(rules):
    decided, _ = run([event(i) for i in range(1, 7)], rules)
    lead = [(k, a) for k, a in decided if a.kind is ActionKind.notify]
    assert len(lead) == 1
    key, action = lead[0]
    # Told when the 4th reply's grace (5 minutes) is over, by its timer.
    assert key == "zendesk:48213:three_responses:lead"
    assert action.params == {
        "target": "lead",
        "channel": "#resolution-leads",
        "assignee": "900",
        "replies": 4,
    }
    assert action.reason == (
        "4th written reply and still no call logged after the call was "
        "requested — the team lead should step in"
    )
    assert [a.kind for _, a in decided].count(ActionKind.call_customer) == 1


def test_solved_after_two_replies_gives_nothing(rules):
    decided, _ = run(
        [event(1), event(2), event(3, kind=EventKind.status_changed, status=Status.solved)], rules
    )
    assert decided == []


def test_reply_that_solves_the_ticket_does_not_ask_for_a_call(rules):
    decided, _ = run([event(1), event(2), event(3, status=Status.solved)], rules)
    assert decided == []


def test_private_notes_and_customer_comments_do_not_count(rules):
    decided, state = run([event(1), event(2, public=False), event(3, agent=False), event(4)], rules)
    assert decided == []
    assert state.public_agent_reply_ids == ["c1", "c4"]


def test_redelivered_comment_counts_once(rules):
    decided, state = run([event(1), event(2), event(3, comment_id="c2")], rules)
    assert decided == []
    assert state.public_agent_replies == 2


def test_voice_call_satisfies_the_rule(rules):
    decided, _ = run([event(1), event(2, voice=True), event(3), event(4), event(5)], rules)
    assert decided == []


def test_call_logged_tag_stops_the_lead_alert(rules):
    decided, _ = run(
        [
            event(1),
            event(2),
            event(3),
            event(4, tags=["call_logged"]),
            event(5, tags=["call_logged"]),
        ],
        rules,
    )
    assert [a.kind for _, a in decided] == [
        ActionKind.call_customer,
        ActionKind.tag,
        ActionKind.note,
    ]


def test_out_of_order_replies_decide_the_same_actions(rules):
    clean, _ = run([event(i) for i in range(1, 5)], rules)
    shuffled, _ = run([event(3), event(1), event(4), event(2)], rules)
    assert sorted(a.key for _, a in clean) == sorted(a.key for _, a in shuffled)


def test_stale_snapshot_does_not_reopen_a_solved_ticket(rules):
    solved = event(10, kind=EventKind.status_changed, status=Status.solved)
    late_reply = event(3, status=Status.open)  # happened before the solve, arrived after
    decided, state = run([event(1), event(2), solved, late_reply], rules)
    assert state.status is Status.solved
    assert decided == []


def test_threshold_and_tags_come_from_the_config(rules):
    custom = rules.model_copy(
        update={
            "three_responses": rules.three_responses.model_copy(
                update={"threshold": 2, "call_required_tag": "ring_customer"}
            )
        }
    )
    decided, _ = run([event(1), event(2)], custom)
    tag = next(a for _, a in decided if a.kind is ActionKind.tag)
    assert tag.params == {"tags": ["ring_customer"]}
    assert decided[0][1].reason == "2nd written reply without resolution — call the customer"


def test_disabled_rule_decides_nothing(rules):
    off = rules.model_copy(
        update={"three_responses": rules.three_responses.model_copy(update={"enabled": False})}
    )
    assert run([event(i) for i in range(1, 6)], off)[0] == []


def test_a_call_made_before_the_fourth_reply_spares_the_lead_whichever_comes_first(rules):
    # Replies at 09:01-09:03 (the call is asked for), a Talk call at 09:04, the 4th reply at
    # 09:05: in writing order and with the call's event after the reply's (within the grace),
    # the lead is not told.
    replies = [event(1), event(2), event(3), event(5)]
    call = event(4, voice=True, comment_id="v4")
    in_order, _ = run([*replies[:3], call, replies[3]], rules)
    late_call, state = run([*replies, call], rules)
    assert [(k, a.kind) for k, a in in_order] == [
        ("e3", ActionKind.call_customer),
        ("e3", ActionKind.tag),
        ("e3", ActionKind.note),
    ]
    assert [(k, a.key) for k, a in late_call] == [(k, a.key) for k, a in in_order]
    assert (state.call_at, state.lead_check_by) == (
        T0 + timedelta(minutes=4),
        T0 + timedelta(minutes=10),
    )


# Monday 2 March 2026, London on GMT, open 09:00-18:00 on weekdays.
NIGHT = 12 * 60  # minutes after T0: 21:00
TUESDAY_OPENING = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def lead_alerts(rules, events) -> list[tuple[datetime, dict]]:
    """When each lead alert of the rule goes out (its timer's due time) and what it says."""
    state, out = None, []
    for e in events:
        state = state or new_state(e)
        state, _ = apply_event(state, e)
        decision = evaluate_three_responses(state, e, Context(now=e.occurred_at, rules=rules))
        state = mark_fired(evolve(state, decision.updates), [a.key for a in decision.actions])
        for timer in decision.timers:
            fired = fire_lead(state, timer, Context(now=timer.due_at, rules=rules))
            out += [(timer.due_at, dump_action(a)) for a in fired.actions]
    return out


def test_a_fourth_reply_at_night_tells_the_lead_at_the_next_opening(rules):
    """An agent on a late evening writes the 4th reply at 21:04 with no call: the lead was
    told at 21:09, when the hand-off and SLA alerts to the lead wait for business hours. It
    now goes out at Tuesday's 09:00 opening."""
    alerts = lead_alerts(rules, [event(NIGHT + n) for n in range(1, 5)])

    assert alerts == [
        (
            TUESDAY_OPENING,
            {
                "kind": "notify",
                "ticket": "zendesk:48213",
                "rule": "three_responses",
                "reason": "4th written reply and still no call logged after the call was "
                "requested — the team lead should step in",
                "key": "zendesk:48213:three_responses:lead",
                "params": {
                    "target": "lead",
                    "channel": "#resolution-leads",
                    "assignee": "900",
                    "replies": 4,
                },
            },
        )
    ]


def test_a_call_made_before_the_opening_spares_the_lead_a_night_reply_would_have_told(rules):
    # The 4th reply at 21:04, then the customer called at 08:30 the next morning.
    replies = [event(NIGHT + n) for n in range(1, 5)]
    call = event(NIGHT + 11 * 60 + 30, voice=True, comment_id="v9")

    decided, state = run([*replies, call], rules)

    assert [a.kind for _, a in decided] == [
        ActionKind.call_customer,
        ActionKind.tag,
        ActionKind.note,
    ]
    assert state.lead_check_by == TUESDAY_OPENING


def test_a_fourth_reply_in_business_hours_still_tells_the_lead_after_the_grace(rules):
    alerts = lead_alerts(rules, [event(n) for n in range(1, 5)])

    assert [(at, a["key"]) for at, a in alerts] == [
        (T0 + timedelta(minutes=9), "zendesk:48213:three_responses:lead")
    ]
