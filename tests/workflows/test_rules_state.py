"""`evaluate_rules_to_state` and `evaluate_timer_to_state` hand the decider the state after
the decision's updates, worked out on the way through the rules: it must be exactly the copy
`evolve(state, decision.updates)` makes (the same values and the same fields set), on every
event and timer of a generated week, with the same decision as `evaluate_rules`. And an SLA
clock started by copying one, and an action built without validating its values again, are
what validation makes."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from benchmarks.make_week import generate
from deskbridge.connectors.parsing import parse_time
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.workflows.actions import ActionKind, build_action, dump_action, load_action
from deskbridge.workflows.decision import Context, Timer
from deskbridge.workflows.model import (
    EventKind,
    SlaClock,
    Source,
    TicketEvent,
    TicketState,
    evolve,
)
from deskbridge.workflows.rules import (
    evaluate_rules,
    evaluate_rules_to_state,
    evaluate_timer,
    evaluate_timer_to_state,
)
from deskbridge.workflows.rules.sla import _start
from deskbridge.workflows.state import apply_event, mark_fired, new_state

WEEK = datetime(2026, 3, 2, tzinfo=UTC)


def _assert_same(after: TicketState, state: TicketState, updates: dict) -> None:
    expected = evolve(state, updates)
    assert after == expected
    assert list(after.__dict__) == list(expected.__dict__)
    if not updates:
        assert after is state


def test_the_state_after_equals_evolving_with_the_updates(rules):
    lines = generate(agents=8, tickets_per_day=30, days=3, start=WEEK, seed=5)
    events = [
        (parse_time(line["at"], "at"), event)
        for line in lines
        for event in CONNECTORS[Source(line["source"])].parse(
            json.dumps(line["body"]).encode(), parse_time(line["at"], "at"), rules
        )
    ]
    states: dict[str, TicketState] = {}
    pending: dict[str, Timer] = {}  # each timer id's last word
    checked = {"events": 0, "timers": 0, "updated": 0, "alerted": 0}

    def fold(state: TicketState, decision, after: TicketState) -> None:
        _assert_same(after, state, decision.updates)
        checked["updated"] += bool(decision.updates)
        checked["alerted"] += "alerted" in decision.updates
        states[after.key] = mark_fired(after, [a.key for a in decision.actions])
        for timer_id in decision.cancel:
            pending.pop(timer_id, None)
        pending.update((timer.id, timer) for timer in decision.timers)

    for at, event in events:
        while due := [t for t in pending.values() if t.due_at <= at]:
            timer = min(due, key=lambda t: (t.due_at, t.id))
            del pending[timer.id]
            state = states[timer.ticket]
            ctx = Context(now=timer.due_at, rules=rules, previous=state)
            decision, after = evaluate_timer_to_state(state, timer, ctx)
            assert decision == evaluate_timer(state, timer, ctx)
            fold(state, decision, after)
            checked["timers"] += 1
        previous = states.get(event.ticket_key)
        state, _ = apply_event(previous or new_state(event), event)
        ctx = Context(now=at, rules=rules, previous=previous)
        decision, after = evaluate_rules_to_state(state, event, ctx)
        assert decision == evaluate_rules(state, event, ctx)
        fold(state, decision, after)
        checked["events"] += 1
    # The week exercised what matters: events, timers, updates and the alerted flag.
    assert checked["events"] == len(events) > 500
    assert checked["timers"] > 50
    assert checked["updated"] > 500
    assert checked["alerted"] > 10


def test_a_started_clock_is_the_one_validation_makes():
    for at in (
        datetime(2026, 3, 2, 9, 30, 15, 250, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/London")),
    ):
        for metric in ("first_reply", "next_reply", "resolution"):
            started = _start(metric, at)
            made = SlaClock(metric=metric, instance=at.isoformat(), started_at=at, running_since=at)
            assert started == made
            assert list(started.__dict__) == list(made.__dict__)
            assert repr(started) == repr(made)


def test_a_new_state_is_the_one_validation_makes():
    events = [
        _event(Source.zendesk, "7"),
        _event(Source.salesforce, "500Aa000001xYzAAI"),
    ]
    for event in events:
        made = TicketState(key=event.ticket_key, source=event.source, ticket_id=event.ticket_id)
        state = new_state(event)
        assert state == made
        assert list(state.__dict__) == list(made.__dict__)
        assert repr(state) == repr(made)
        assert state.source is event.source
    first, second = new_state(events[0]), new_state(events[0])
    assert first.tags is not second.tags  # default factories called for each state
    assert first.sla_clocks is not second.sla_clocks
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.subject = "changed"


def _event(source: Source, ticket_id: str) -> TicketEvent:
    return TicketEvent(
        source=source,
        ticket_id=ticket_id,
        dedupe_key=f"{source.value}:{ticket_id}:1",
        kind=EventKind.created,
        occurred_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    )


def test_an_action_built_is_the_one_validation_makes():
    built = build_action(
        "zendesk:7", "sla", ActionKind.sla_warning, "first_reply", "warn1", reason="due", used=0.75
    )
    fields = {"kind": "sla_warning", "ticket": "zendesk:7", "rule": "sla", "reason": "due"}
    made = load_action(
        {**fields, "key": "zendesk:7:sla:first_reply:warn1", "params": {"used": 0.75}}
    )
    assert built == made
    assert repr(built) == repr(made)
    assert dump_action(built) == {**fields, "key": made.key, "params": {"used": 0.75}}
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.reason = "changed"  # frozen as a validated one
    # Anything unusual goes through validation: a kind by its value, or refused.
    assert build_action("zendesk:7", "routing", "tag", "t", reason="r").kind is ActionKind.tag
    with pytest.raises(ValidationError):
        build_action("zendesk:7", "routing", "no_such_kind", reason="r")
    with pytest.raises(ValidationError):
        build_action("zendesk:7", "routing", ActionKind.tag, reason=None)
