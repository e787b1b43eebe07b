"""A ticket row stays small for the ticket's whole life (issue 12): comment ids beyond the
newest KEEP_COMMENT_IDS are only counted, and the fired keys of SLA clock instances and
on-call chains that are over are forgotten. Deciding is unchanged by it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.schema import tickets
from deskbridge.workflows import decider as decider_module
from deskbridge.workflows import state as state_module
from deskbridge.workflows.model import (
    Comment,
    EventKind,
    OncallChain,
    Priority,
    SlaClock,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
    evolve,
)
from deskbridge.workflows.service import WorkflowService
from deskbridge.workflows.state import new_state
from tests.conftest import fire_timers_until

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
REPLIES = 500
AGENT = "9013300112004"
SNAPSHOT = TicketSnapshot(
    subject="Wrong item delivered",
    description="I ordered the oak dining table and you sent a pine one.",
    status=Status.open,
    priority=Priority.urgent,  # short SLA targets, and after-hours breaches page on call
    group="360010000000",
    assignee=AGENT,
    requester="cust-1",
    created_at=T0,
)


def event(name: str, at: datetime, comment: Comment | None = None, via: str = "event"):
    return TicketEvent(
        source=Source.zendesk,
        ticket_id="1",
        dedupe_key=f"zendesk:{via}:{name}",
        kind=EventKind.comment_added if comment else EventKind.created,
        occurred_at=at,
        ticket=SNAPSHOT,
        comment=comment,
    )


def agent_reply(n: int) -> Comment:
    return Comment(id=f"r{n:04d}", public=True, author_id=AGENT, author_is_agent=True, body="On it")


def customer_message(n: int) -> Comment:
    return Comment(
        id=f"m{n:04d}", public=True, author_id="cust-1", author_is_agent=False, body="Any news?"
    )


def live_a_long_ticket(
    rules, replies: int = REPLIES, checkpoints: tuple[int, ...] = (60, 100, 250)
) -> tuple[list[tuple], dict[int, int], dict, WorkflowService]:
    """`replies` agent replies, each answering a customer message three hours late (so every next
    reply clock warns and breaches, after hours too), timers fired at their due times.
    Returns every action decided, the stored row's size after each of `checkpoints` replies
    and the last, the final row (benchmarks/ticket_row_size.py prints the same life)."""
    engine = create_store_engine("sqlite://")
    migrate_store(engine)
    service = WorkflowService(engine, rules)
    decided: list[tuple] = []
    sizes: dict[int, int] = {}

    def fire_until(limit: datetime) -> None:
        for due, outcome in fire_timers_until(service, limit):
            decided.extend((due, a.kind.value, a.key, a.reason) for a in outcome.actions)

    def accept(item: TicketEvent) -> None:
        fire_until(item.occurred_at)
        outcome = service.accept_event(item, "{}", item.occurred_at)
        decided.extend((item.occurred_at, a.kind.value, a.key, a.reason) for a in outcome.actions)

    def stored() -> dict:
        with engine.connect() as connection:
            return connection.execute(select(tickets.c.state)).scalar_one()

    at = T0
    accept(event("created", at))
    for n in range(1, replies + 1):
        at += timedelta(minutes=50)
        accept(event(f"m{n}", at, customer_message(n)))
        at += timedelta(hours=3, minutes=10)
        accept(event(f"r{n}", at, agent_reply(n)))
        if n in checkpoints or n == replies:
            sizes[n] = len(json.dumps(stored()))
    return decided, sizes, stored(), service


def test_a_ticket_with_500_replies_keeps_a_bounded_row_and_decides_the_same(rules, monkeypatch):
    decided, sizes, final, service = live_a_long_ticket(rules)

    # Bounded: the row after 500 replies is as big as after 60 (a count grew by two digits).
    assert sizes[REPLIES] <= sizes[60] + 2, sizes
    assert sizes[REPLIES] < 6_000, sizes
    assert final["public_agent_reply_ids"] == [f"r{n:04d}" for n in range(451, 501)]
    assert final["earlier_public_agent_replies"] == 450
    assert final["customer_comment_ids"] == [f"m{n:04d}" for n in range(451, 501)]
    instance = final["sla_clocks"]["next_reply"]["instance"]
    sla_keys = [k for k in final["fired"] if ":sla:next_reply:" in k]
    assert all(instance in k for k in sla_keys), sla_keys  # only the last clock's stages
    assert len(final["fired"]) < 40

    # The 3-response rule asked for a call at the 3rd reply and told the lead at the 4th,
    # once each, and counts every reply.
    three = [(at, key, reason) for at, _, key, reason in decided if ":three_responses:" in key]
    assert [(key, reason) for _, key, reason in three] == [
        (
            "zendesk:1:three_responses:call_customer",
            "3rd written reply without resolution — call the customer",
        ),
        (
            "zendesk:1:three_responses:tag",
            "3rd written reply without resolution — call the customer",
        ),
        (
            "zendesk:1:three_responses:note",
            "3rd written reply without resolution — call the customer",
        ),
        (
            "zendesk:1:three_responses:lead",
            "4th written reply and still no call logged after the call was requested — "
            "the team lead should step in",
        ),
    ]
    # Every stage of every next reply clock was decided once (no key twice).
    keys = [key for _, _, key, _ in decided]
    assert len(keys) == len(set(keys))
    # The urgent 2h next reply target is in business hours: an answer 3h10 later breaches it
    # when the working day holds two hours of the wait (113 of the 500 clocks).
    assert sum(":sla:next_reply:" in k and k.endswith(":breach") for k in keys) == 113

    # Idempotent: the newest reply delivered again through a trigger counts once, decides
    # nothing.
    again = event("r500-again", T0 + timedelta(days=400), agent_reply(REPLIES), via="trigger")
    outcome = service.accept_event(again, "{}", again.occurred_at)
    assert outcome.actions == []
    with service.engine.connect() as connection:
        state = connection.execute(select(tickets.c.state)).scalar_one()
    assert state["earlier_public_agent_replies"] + len(state["public_agent_reply_ids"]) == 500


@pytest.mark.source_only  # patches the state module's constant and function
def test_compacting_changes_no_decision(rules, monkeypatch):
    replies = 120  # past KEEP_COMMENT_IDS, with 120 closed next reply clocks
    decided, sizes, _, _ = live_a_long_ticket(rules, replies)
    assert {kind for _, kind, _, _ in decided} >= {
        "call_customer",
        "sla_warning",
        "sla_breach",
        "page_oncall",
        "notify",
    }

    monkeypatch.setattr(state_module, "KEEP_COMMENT_IDS", 10**9)
    monkeypatch.setattr(state_module, "compact_fired", lambda state, fired: fired)
    uncompacted, grown, _, _ = live_a_long_ticket(rules, replies)

    assert uncompacted == decided
    assert grown[replies] > 2 * sizes[replies]  # what the row grew to without compacting


def test_only_new_fired_keys_are_compacted_while_the_clocks_and_chain_stay(rules, monkeypatch):
    """The decider passes the state whose fired keys were compacted (mark_fired's
    `compacted`): while the clock instances and the chain are the same, only new keys are
    looked at. The rows stored and the decisions are those of compacting every key after
    every decision."""
    decided, sizes, final, _ = live_a_long_ticket(rules, 80, checkpoints=(10, 40))

    always = state_module.mark_fired
    monkeypatch.setattr(
        decider_module, "mark_fired", lambda state, keys, compacted=None: always(state, keys)
    )
    assert live_a_long_ticket(rules, 80, checkpoints=(10, 40))[:3] == (decided, sizes, final)


def test_mark_fired_compacts_old_keys_only_when_a_clock_instance_or_the_chain_changed():
    old_key, routed = "zendesk:1:sla:next_reply:old:warn1", "zendesk:1:routing:route"
    clock = SlaClock(metric="next_reply", instance="new", started_at=T0, running_since=T0)
    earlier = evolve(
        new_state(event("created", T0)),
        {"fired": [old_key, routed], "sla_clocks": {"next_reply": clock}},
    )
    paused = evolve(earlier, {"sla_clocks": {"next_reply": evolve(clock, {"running_since": None})}})
    restarted = evolve(
        earlier, {"sla_clocks": {"next_reply": evolve(clock, {"instance": "newer"})}}
    )
    chain = OncallChain(id="c1", trigger="t", reason="r", started_at=T0, steps=[])
    paged = evolve(earlier, {"oncall": chain})
    escalate, stale = "zendesk:1:risk:escalate", "zendesk:1:sla:first_reply:gone:breach"

    # The same instance (paused, not restarted): the old keys are taken as compacted.
    assert state_module.mark_fired(paused, [], compacted=earlier) is paused
    assert state_module.mark_fired(paused, [escalate, stale], compacted=earlier).fired == [
        old_key,
        routed,
        escalate,
    ]
    # A new instance, a new chain, or no earlier state: every key is compacted again.
    assert state_module.mark_fired(restarted, [], compacted=earlier).fired == [routed]
    assert state_module.mark_fired(paged, [escalate], compacted=earlier).fired == [
        routed,
        escalate,
    ]
    assert state_module.mark_fired(paused, []).fired == [routed]
