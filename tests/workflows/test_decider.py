"""The decider: batches in one transaction, poison events marked failed and re-decided, cached
states checked against the stored version, and three deciders racing on PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy import event as sa_event

from deskbridge.cli import main
from deskbridge.store.audit import list_decisions
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.events import (
    EventNotifier,
    build_event_row,
    count_events,
    insert_events,
    lock_ticket_shards,
    requeue_failed_events,
)
from deskbridge.store.interface import Store
from deskbridge.store.memory import MemoryStore
from deskbridge.store.outbox import list_actions
from deskbridge.store.schema import events as events_table
from deskbridge.store.session import SqlSession, SqlStore
from deskbridge.store.tickets import load_ticket
from deskbridge.store.timers import list_timers, schedule_timers
from deskbridge.workflows import rules as rules_module
from deskbridge.workflows.decider import Decider
from deskbridge.workflows.decision import Timer
from deskbridge.workflows.digest import build_digest, build_period, repeat_window
from deskbridge.workflows.metrics import Metrics
from deskbridge.workflows.model import (
    Comment,
    EventKind,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
    dump_state,
    evolve,
)
from deskbridge.workflows.replay import ReplayFeed, _records
from deskbridge.workflows.service import WorkflowService
from tests.conftest import postgres_schema
from tests.workflows.test_sla_timers import event as urgent

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def reply(ticket: int, n: int, at: datetime | None = None) -> TicketEvent:
    """The n-th public agent reply on a ticket (no subject: routing asks, nothing else)."""
    return TicketEvent(
        source=Source.zendesk,
        ticket_id=str(ticket),
        dedupe_key=f"zendesk:event:{ticket}-{n}",
        kind=EventKind.comment_added,
        occurred_at=at or T0 + timedelta(minutes=n),
        ticket=TicketSnapshot(status=Status.open, assignee="9013300112004"),
        comment=Comment(id=f"{ticket}-{n}", public=True, author_id="900", author_is_agent=True),
    )


def store(engine, *events: TicketEvent, at: datetime = T0) -> None:
    with engine.begin() as connection:
        insert_events(connection, [build_event_row(e, "{}", at) for e in events])


def statuses(engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as connection:
        query = select(events_table.c.dedupe_key, events_table.c.status, events_table.c.error)
        return {k: (s, e) for k, s, e in connection.execute(query)}


def call_customer_keys(engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(
            r["idempotency_key"] for r in list_actions(connection) if r["action"] == "call_customer"
        )


def test_a_batch_is_one_transaction_and_decides_in_arrival_order(engine, rules):
    store(engine, *[reply(1, n) for n in (1, 2, 3)], *[reply(2, n) for n in (1, 2)])
    # Statements per transaction: the batch's writes all go in one.
    transactions: list[list[str]] = [[]]

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        transactions[-1].append(statement.split()[0].upper())

    def commit(conn) -> None:
        transactions.append([])

    sa_event.listen(engine, "before_cursor_execute", record)
    sa_event.listen(engine, "commit", commit)
    try:
        decided = Decider(engine, rules, lambda: T0).decide_pending()
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
        sa_event.remove(engine, "commit", commit)
    writing = [t for t in transactions if {"INSERT", "UPDATE"} & set(t)]
    assert len(writing) == 1
    # Tickets, audit, replies, outbox, timers and the events' marks, each one statement.
    assert writing[0].count("UPDATE") + writing[0].count("INSERT") <= 8
    assert [d.cause for d in decided] == [
        "zendesk:event:1-1",
        "zendesk:event:1-2",
        "zendesk:event:1-3",
        "zendesk:event:2-1",
        "zendesk:event:2-2",
    ]
    assert [[a.kind.value for a in d.actions if a.rule == "three_responses"] for d in decided] == [
        [],
        [],
        ["call_customer", "tag", "note"],
        [],
        [],
    ]
    with engine.connect() as connection:
        assert count_events(connection, "decided") == 5
        assert load_ticket(connection, "zendesk:1").public_agent_reply_ids == ["1-1", "1-2", "1-3"]
    assert Decider(engine, rules, lambda: T0).decide_pending() == []


def test_steps_aside_after_each_slice_of_work_not_after_each_event(engine, rules, monkeypatch):
    import deskbridge.workflows.decider as module

    decider = Decider(engine, rules, lambda: T0)
    decided: list[int] = []
    asides: list[int] = []
    decide_event = decider._decide_event

    def counting(connection, batch, row):
        decided.append(row.id)
        decide_event(connection, batch, row)

    monkeypatch.setattr(decider, "_decide_event", counting)
    monkeypatch.setattr(decider, "step_aside", lambda for_timers=False: asides.append(len(decided)))

    store(engine, *(reply(48700 + i, 1) for i in range(6)))
    monkeypatch.setattr(module, "STEP_EVERY", 3600.0)  # a slice longer than the batch's work
    assert len(decider.decide_pending()) == 6
    assert asides == []

    store(engine, *(reply(48800 + i, 1) for i in range(3)))
    monkeypatch.setattr(module, "STEP_EVERY", 0.0)  # every event is a slice
    assert len(decider.decide_pending()) == 3
    assert asides == [7, 8, 9]


def test_a_batch_ends_early_while_webhooks_are_being_acknowledged(engine, rules, monkeypatch):
    """While an acknowledgement is in flight a batch stops after ACK_BATCH_MAX of deciding,
    so its write (SQLite's one writer, which acknowledgements wait for) stays short; the rest
    of its claim stays undecided and is decided next, in arrival order, each event once."""
    import deskbridge.workflows.decider as module

    decider = Decider(engine, rules, lambda: T0)
    store(engine, reply(1, 1), reply(2, 1), reply(1, 2), reply(3, 1))
    monkeypatch.setattr(module, "ACK_BATCH_MAX", 0.0)  # every event is a batch's worth
    batches = []
    with decider.acknowledging():
        while decided := decider.decide_pending():
            batches.append([d.cause for d in decided])
    assert batches == [
        ["zendesk:event:1-1"],
        ["zendesk:event:2-1"],
        ["zendesk:event:1-2"],
        ["zendesk:event:3-1"],
    ]
    assert {k: s for k, (s, _) in statuses(engine).items()} == {
        "zendesk:event:1-1": "decided",
        "zendesk:event:2-1": "decided",
        "zendesk:event:1-2": "decided",
        "zendesk:event:3-1": "decided",
    }
    # It also claims at most ACK_BATCH_CLAIM events then, however quick they are to decide.
    store(engine, reply(4, 1), reply(5, 1), reply(4, 2))
    monkeypatch.setattr(module, "ACK_BATCH_MAX", 3600.0)
    monkeypatch.setattr(module, "ACK_BATCH_CLAIM", 2)
    with decider.acknowledging():
        assert [d.cause for d in decider.decide_pending()] == [
            "zendesk:event:4-1",
            "zendesk:event:5-1",
        ]
    # With nothing being acknowledged a batch takes its whole claim.
    store(engine, reply(6, 1), reply(7, 1))
    assert [d.cause for d in decider.decide_pending()] == [
        "zendesk:event:4-2",
        "zendesk:event:6-1",
        "zendesk:event:7-1",
    ]


def test_further_behind_than_its_lag_the_decider_takes_whole_batches(engine, rules, monkeypatch):
    """Short batches cost the decider more per event: once the events it decides arrived
    ACK_PRIORITY_LAG or more before `now`, it claims whole batches again, acknowledgements in
    flight or not, so the lag stays bounded."""
    import deskbridge.workflows.decider as module

    monkeypatch.setattr(module, "ACK_BATCH_MAX", 3600.0)
    monkeypatch.setattr(module, "ACK_BATCH_CLAIM", 2)
    decider = Decider(engine, rules, lambda: T0 + timedelta(seconds=module.ACK_PRIORITY_LAG))
    store(engine, *(reply(n, 1) for n in range(1, 6)))
    with decider.acknowledging():
        # Not known to be behind yet: a short batch, which finds it is; then a whole one.
        assert len(decider.decide_pending()) == 2
        assert len(decider.decide_pending()) == 3
        store(engine, reply(6, 1), reply(7, 1), reply(8, 1), at=T0 + timedelta(seconds=0.5))
        assert len(decider.decide_pending()) == 3  # still whole: it was behind
        # It has caught up with recent events: short batches again.
        store(engine, reply(9, 1), reply(10, 1), reply(11, 1), at=T0 + timedelta(seconds=0.6))
        assert len(decider.decide_pending()) == 2


def test_replay_batches_fire_a_timer_set_again_at_its_stored_due_time_once(
    engine, rules, monkeypatch
):
    """decide_in_time_order: a stored timer claimed by the batch, then set again by an event
    of the batch with the same due time, fires once, at that time, between the events (the
    two heap entries tie on due time and id and must never be compared themselves)."""
    due = T0 + timedelta(minutes=30)

    def again(state, event, ctx):
        decision = rules_module.Decision()
        if state.key == "zendesk:8":
            decision.timers.append(Timer("zendesk:8:test.x", "zendesk:8", "test.x", due))
        return decision

    monkeypatch.setattr(rules_module, "RULES", {"again": again})  # no other rule's timers
    with engine.begin() as connection:
        schedule_timers(
            connection,
            [
                Timer("zendesk:9:test.a", "zendesk:9", "test.a", T0 + timedelta(minutes=1)),
                Timer("zendesk:8:test.x", "zendesk:8", "test.x", due),
            ],
        )
    store(engine, reply(8, 1), at=T0 + timedelta(minutes=5))
    store(engine, reply(8, 2), at=T0 + timedelta(minutes=40))

    decided = Decider(engine, rules, lambda: T0).decide_in_time_order()

    # Ticket 9 has no state: its timer is spent without a decision.
    assert [(d.cause, d.at, d.error) for d in decided] == [
        ("zendesk:event:8-1", T0 + timedelta(minutes=5), None),
        ("timer:zendesk:8:test.x", due, None),
        ("zendesk:event:8-2", T0 + timedelta(minutes=40), None),
    ]


@pytest.mark.parametrize("at_due_time", [False, True])
def test_a_timer_set_while_firing_and_already_due_fires_in_the_same_batch_in_due_order(
    engine, rules, monkeypatch, at_due_time
):
    """fire_due_timers: a timer that firing another sets (a chain's next link), itself due by
    the batch's `now`, fires in the same batch at its place in due order among the claimed
    ones, as it would have had it been stored beforehand; past a full claim's last timer it
    waits for the next batch."""

    def link(n: int) -> Timer:
        due = T0 + timedelta(minutes=5 + 10 * (n - 1))
        return Timer(f"zendesk:8:test.chain{n}", "zendesk:8", "test.chain", due, {"n": n})

    def chain(state, timer, ctx):
        n = timer.payload["n"]
        return rules_module.Decision(timers=[link(n + 1)] if n < 3 else [])

    monkeypatch.setattr(rules_module, "RULES", {})
    monkeypatch.setattr(rules_module, "TIMER_RULES", {"test.chain": chain, "test.b": chain})
    store(engine, reply(8, 1), reply(9, 1))
    decider = Decider(engine, rules, lambda: T0)
    decider.decide_pending()
    other = Timer("zendesk:9:test.b", "zendesk:9", "test.b", T0 + timedelta(minutes=12), {"n": 3})
    with engine.begin() as connection:
        schedule_timers(connection, [link(1), other])
    now = T0 + timedelta(hours=1)

    def fire(limit: int) -> list[tuple[str, datetime]]:
        return [(d.cause, d.at) for d in decider.fire_due_timers(now, limit, at_due_time)]

    def fired(*timers: Timer) -> list[tuple[str, datetime]]:
        return [(f"timer:{t.id}", t.due_at if at_due_time else now) for t in timers]

    # A full claim (2): the chain's second link, due after its last timer, waits.
    assert fire(2) == fired(link(1), other)
    assert fire(2) == fired(link(2), link(3))
    assert fire(2) == []
    with engine.begin() as connection:
        schedule_timers(connection, [link(1), other])
    assert fire(500) == fired(link(1), other, link(2), link(3))
    with engine.connect() as connection:
        timers = {t["id"]: t["status"] for t in list_timers(connection)}
    assert timers == {
        "zendesk:8:test.chain1": "fired",
        "zendesk:8:test.chain2": "fired",
        "zendesk:8:test.chain3": "fired",
        "zendesk:9:test.b": "fired",
    }


def test_a_poison_event_is_marked_failed_and_blocks_no_other_ticket(
    engine, store_url, rules, monkeypatch
):
    def poison(state, event, ctx):
        if state.key == "zendesk:66":
            raise ValueError("cannot handle ticket 66")
        return rules_module.Decision()

    monkeypatch.setitem(rules_module.RULES, "poison", poison)
    metrics = Metrics()
    store(engine, reply(66, 1), reply(7, 1), reply(7, 2), reply(7, 3))
    decided = Decider(engine, rules, lambda: T0, metrics).decide_pending()
    assert [(d.cause, d.error) for d in decided] == [
        ("zendesk:event:66-1", "ValueError: cannot handle ticket 66"),
        ("zendesk:event:7-1", None),
        ("zendesk:event:7-2", None),
        ("zendesk:event:7-3", None),
    ]
    assert statuses(engine)["zendesk:event:66-1"] == (
        "failed",
        "ValueError: cannot handle ticket 66",
    )
    assert call_customer_keys(engine) == ["zendesk:7:three_responses:call_customer"]
    assert metrics.registry.get_sample_value("deskbridge_events_failed_total") == 1
    with engine.connect() as connection:
        assert load_ticket(connection, "zendesk:66") is None  # the failed fold left no trace

    env = {"DATABASE_URL": store_url}
    listed = CliRunner().invoke(main, ["events", "--failed"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "zendesk:66" in listed.output
    assert "ValueError: cannot handle ticket 66" in listed.output
    assert "zendesk:7" not in listed.output
    assert listed.stderr == (
        f"1 failed event in {store_url}\n"
        "after the fix, deskbridge redecide decides them again (--id N, the first column: only "
        "those given)\n"
    )
    heading, row = listed.stdout.splitlines()
    assert heading.split()[:2] == ["id", "ticket"]
    with engine.connect() as connection:  # the first column is the id redecide --id takes
        query = select(events_table.c.id).where(events_table.c.dedupe_key == "zendesk:event:66-1")
        assert row.split()[0] == str(connection.execute(query).scalar_one())
    counted = CliRunner().invoke(main, ["events"], env=env)
    assert (counted.exit_code, counted.stdout, counted.stderr) == (
        0,
        f"4 events in {store_url}: 0 undecided, 3 decided, 1 failed\n",
        "deskbridge events --failed lists the failed ones\n",
    )

    again = CliRunner().invoke(main, ["redecide"], env=env)  # still poisoned
    assert again.exit_code == 1
    assert "1 event put back; 0 decided, 1 failed again" in again.output

    monkeypatch.delitem(rules_module.RULES, "poison")  # the fix
    store(engine, reply(66, 2), reply(66, 3))
    fixed = CliRunner().invoke(main, ["redecide"], env=env)
    assert fixed.exit_code == 0, fixed.output
    assert "1 event put back; 3 decided, 0 failed again" in fixed.output
    assert set(statuses(engine).values()) == {("decided", None)}
    assert call_customer_keys(engine) == [
        "zendesk:66:three_responses:call_customer",
        "zendesk:7:three_responses:call_customer",
    ]
    listed = CliRunner().invoke(main, ["events", "--failed"], env=env)
    assert "zendesk:66" not in listed.output


def test_redecide_counts_the_events_not_the_timers_due_before_them(
    engine, store_url, rules, monkeypatch
):
    """A failed event put back is decided after its ticket's timers due before it, and
    `redecide` says how many events it decided, not how many events and timers (the timers
    are counted as fired)."""

    def poison(state, event, ctx):
        if event.dedupe_key == "zendesk:event:8-2":
            raise ValueError("poison")
        return rules_module.Decision()

    monkeypatch.setitem(rules_module.RULES, "poison", poison)
    for n in (1, 2):
        store(engine, reply(8, n), at=T0 + timedelta(minutes=n))
        Decider(engine, rules, lambda at=T0 + timedelta(minutes=n): at).decide_pending()
    assert statuses(engine)["zendesk:event:8-2"] == ("failed", "ValueError: poison")
    monkeypatch.delitem(rules_module.RULES, "poison")  # the fix
    monkeypatch.setitem(rules_module.TIMER_RULES, "test.x", lambda s, t, c: rules_module.Decision())
    due = T0 + timedelta(minutes=1, seconds=30)
    with engine.begin() as connection:
        schedule_timers(connection, [Timer("zendesk:8:test.x", "zendesk:8", "test.x", due)])

    fixed = CliRunner().invoke(main, ["redecide"], env={"DATABASE_URL": store_url})

    assert fixed.exit_code == 0, fixed.output
    # Fired: test.x, before the event; then, in the sweep after the events, the resolution
    # clock's three stages, overdue since no sweep ran.
    assert fixed.stdout == (
        "1 event put back; 1 decided, 0 failed again\n0 timers put back; 4 fired, 0 failed again\n"
    )
    assert statuses(engine)["zendesk:event:8-2"] == ("decided", None)
    assert timer_statuses(engine) == {
        "zendesk:8:test.x": "fired",
        "zendesk:8:sla:resolution:warn1": "fired",
        "zendesk:8:sla:resolution:warn2": "fired",
        "zendesk:8:sla:resolution:breach": "fired",
    }


def _message(n: int, minutes: int, agent: bool) -> TicketEvent:
    """Comment 5-n on ticket 5 (normal priority), by the agent or the customer."""
    return TicketEvent(
        source=Source.zendesk,
        ticket_id="5",
        dedupe_key=f"zendesk:event:5-{n}",
        kind=EventKind.comment_added,
        occurred_at=T0 + timedelta(minutes=minutes),
        ticket=TicketSnapshot(status=Status.open, assignee="9013300112004", created_at=T0),
        comment=Comment(
            id=f"5-{n}",
            public=True,
            author_id="900" if agent else "77",
            author_is_agent=agent,
            body=f"message {n}",
        ),
    )


@pytest.mark.parametrize("poisoned", [None, "zendesk:event:5-3"], ids=["clean", "redecided"])
def test_a_customer_message_redecided_after_its_reply_warns_as_a_clean_run_does(
    engine, rules, monkeypatch, poisoned
):
    # The customer writes at 10:00 (5-3), the agent answers at 10:10 (5-4). 5-3 fails until
    # a fix lands at 10:30, after the reply was decided: re-decided then, it starts no
    # next-reply clock (the 10:10 reply answered it). The customer writes again at 11:00 (5-5)
    # and waits: the warnings and the breach are that message's, as without the failure.
    def poison(state, event, ctx):
        if event.dedupe_key == poisoned:
            raise ValueError("poison")
        return rules_module.Decision()

    monkeypatch.setitem(rules_module.RULES, "poison", poison)
    for event in [
        _message(1, 0, False),
        _message(2, 10, True),
        _message(3, 60, False),
        _message(4, 70, True),
    ]:  # each arrives and is decided in its turn
        store(engine, event, at=event.occurred_at)
        Decider(engine, rules, lambda at=event.occurred_at: at).decide_pending()
    monkeypatch.delitem(rules_module.RULES, "poison")  # the fix
    with engine.begin() as connection:
        assert requeue_failed_events(connection) == (1 if poisoned else 0)
    Decider(engine, rules, lambda: T0 + timedelta(minutes=90)).decide_pending()
    store(engine, _message(5, 120, False), at=T0 + timedelta(minutes=120))
    Decider(engine, rules, lambda: T0 + timedelta(minutes=120)).decide_pending()
    decider = Decider(engine, rules, lambda: T0 + timedelta(days=3))
    while decider.fire_due_timers(T0 + timedelta(days=3), at_due_time=True):  # each on time
        pass
    assert set(statuses(engine).values()) == {("decided", None)}
    with engine.connect() as connection:
        sla = [
            (r["action"], r["idempotency_key"])
            for r in list_actions(connection)
            if r["action"].startswith("sla_")
        ]
    # normal next reply: 8 business hours from Monday 11:00, warnings at 75% and 90%
    assert sla == [
        ("sla_warning", "zendesk:5:sla:next_reply:2026-03-02T11:00:00+00:00:warn1"),
        ("sla_warning", "zendesk:5:sla:next_reply:2026-03-02T11:00:00+00:00:warn2"),
        ("sla_breach", "zendesk:5:sla:next_reply:2026-03-02T11:00:00+00:00:breach"),
    ]


# -- the sweep and the decider behind it ------------------------------------------------------

SAT = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)  # Saturday night: after hours, on call
PAGE_DUE = SAT + timedelta(minutes=10)  # the chain's next step (zendesk:7:oncall.step)


def paged_and_acknowledged(engine, rules, minutes: int = 9) -> TicketEvent:
    """Ticket 7 created at 02:00 and paged (step 0, the next due at 02:10); the on-call
    person's acknowledgement stored at 02:09 (the 200 sent to Slack), or `minutes` after
    02:00, not decided yet."""
    store(engine, urgent(1, SAT, EventKind.created, Status.new, created=SAT), at=SAT)
    [created] = Decider(engine, rules, lambda: SAT).decide_pending()
    assert [a.kind.value for a in created.actions][-2:] == ["page_oncall", "pager"]
    at = SAT + timedelta(minutes=minutes)
    ack = urgent(2, at, EventKind.acknowledged, meta={"by": "Tomo"})
    ack = evolve(ack, {"ticket": TicketSnapshot()})  # from Slack: no snapshot
    store(engine, ack, at=at)
    return ack


def timer_statuses(engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {t["id"]: t["status"] for t in list_timers(connection)}


@pytest.mark.parametrize("order", ["sweep first", "replay"])
def test_an_acknowledgement_stored_before_the_next_page_is_due_stops_it_though_undecided(
    engine, rules, order
):
    """The decider behind (lag, a worker restarting while gunicorn stores): the sweep at
    02:10:01 decides the ticket's acknowledgement of 02:09 before the step due at 02:10, as
    a replay does, and pages nobody."""
    ack = paged_and_acknowledged(engine, rules)
    late = PAGE_DUE + timedelta(seconds=1)
    decider = Decider(engine, rules, lambda: late)
    if order == "sweep first":
        decided = decider.fire_due_timers(late) + decider.decide_pending()
    else:
        decided = decider.decide_in_time_order() + decider.fire_due_timers(
            late + timedelta(minutes=30), at_due_time=True
        )
    assert [(d.cause, d.at, d.error) for d in decided] == [
        ("zendesk:event:7-2", ack.occurred_at, None)
    ]
    assert [(a.kind.value, a.key) for a in decided[0].actions] == [
        ("note", "zendesk:7:interactions:ack:2026-03-07T02:00:00+00:00:note"),
        ("notify", "zendesk:7:interactions:ack:2026-03-07T02:00:00+00:00"),
        ("pager", "zendesk:7:oncall:2026-03-07T02:00:00+00:00:acknowledge"),
    ]
    assert statuses(engine)["zendesk:event:7-2"] == ("decided", None)
    assert timer_statuses(engine)["zendesk:7:oncall.step"] == "cancelled"


def test_a_reply_stored_just_before_the_breach_stops_it_though_undecided(engine, rules):
    """The same race on an SLA: the agent's first reply stored at 09:59:30, not decided when
    the sweep fires the first-reply breach due at 10:00; the reply is decided first, and
    the breach timer is cancelled, not fired."""
    store(engine, urgent(1, T0, EventKind.created, Status.new), at=T0)
    decider = Decider(engine, rules, lambda: T0)
    decider.decide_pending()
    warned = decider.fire_due_timers(T0 + timedelta(minutes=55))
    assert [d.cause for d in warned] == [
        "timer:zendesk:7:sla:first_reply:warn1",
        "timer:zendesk:7:sla:first_reply:warn2",
    ]
    first = urgent(
        2,
        T0 + timedelta(minutes=59, seconds=30),
        EventKind.comment_added,
        comment=Comment(id="c2", public=True, author_id="900", author_is_agent=True),
    )
    store(engine, first, at=first.occurred_at)
    late = T0 + timedelta(hours=1, seconds=1)
    decided = decider.fire_due_timers(late)
    assert [(d.cause, d.at, d.error) for d in decided] == [
        ("zendesk:event:7-2", first.occurred_at, None)
    ]
    assert decided[0].actions == []  # the reply in time: nothing to say
    assert timer_statuses(engine)["zendesk:7:sla:first_reply:breach"] == "cancelled"
    assert decider.decide_pending() == []


def replayed(rules, *arrivals: tuple[TicketEvent, datetime]) -> list[dict]:
    """What `deskbridge replay` prints for these events, each arriving at its time."""
    feed = ReplayFeed(rules, {})
    records: list[dict] = []
    for event, at in arrivals:
        records += feed.add([event], "", at)
    return records + list(feed.finish(None))


def decisions(decided) -> list[tuple]:
    return [(d.cause, d.at, d.error, [(a.kind.value, a.key) for a in d.actions]) for d in decided]


def test_a_breach_due_before_a_reply_fires_first_though_the_sweep_is_behind(engine, rules):
    """The converse race, in the decider: the sweep is behind (load, a restart, a long batch)
    and the first-reply breach due at 10:00 has not fired when the agent's reply stored at
    10:05 is decided. The batch first fires the ticket's timers due by 10:05, each at its due
    time (the warnings at 09:45 and 09:54 and the breach at 10:00), then decides the reply:
    as replay does. Before, the reply stopped the clock and the breach was never alerted."""
    created = urgent(1, T0, EventKind.created, Status.new)
    store(engine, created, at=T0)
    first = Decider(engine, rules, lambda: T0).decide_pending()
    at = T0 + timedelta(minutes=65)
    comment = Comment(id="c2", public=True, author_id="900", author_is_agent=True)
    answer = urgent(2, at, EventKind.comment_added, comment=comment)
    store(engine, answer, at=at)

    decided = Decider(engine, rules, lambda: at + timedelta(seconds=1)).decide_pending()

    timer = "timer:zendesk:7:sla:first_reply"
    key = "zendesk:7:sla:first_reply:2026-03-02T09:00:00+00:00"
    # The warnings fire at their places but, sent at 10:05, after the deadline, say nothing
    # beside the breach.
    assert decisions(decided) == [
        (f"{timer}:warn1", T0 + timedelta(minutes=45), None, []),
        (f"{timer}:warn2", T0 + timedelta(minutes=54), None, []),
        (f"{timer}:breach", T0 + timedelta(minutes=60), None, [("sla_breach", f"{key}:breach")]),
        ("zendesk:event:7-2", at, None, []),
    ]
    assert timer_statuses(engine) == {
        "zendesk:7:sla:first_reply:warn1": "fired",
        "zendesk:7:sla:first_reply:warn2": "fired",
        "zendesk:7:sla:first_reply:breach": "fired",
        "zendesk:7:sla:resolution:warn1": "pending",
        "zendesk:7:oncall.unanswered": "cancelled",  # answered: no page at closing
    }
    assert statuses(engine)["zendesk:event:7-2"] == ("decided", None)
    with engine.connect() as connection:
        audit = [
            (r["event_key"], r["idempotency_key"]) for r in list_decisions(connection, "zendesk:7")
        ]
        queued = [r["idempotency_key"] for r in list_actions(connection)]
    assert audit == [
        ("zendesk:event:7-1", "zendesk:7:routing:unclassified"),
        (f"{timer}:breach", f"{key}:breach"),
    ]
    assert queued == [k for _, k in audit]
    # What replay decides for the same arrivals, record for record, but that the breach went
    # out 5 minutes and a second after its time (the sweep behind) and says so, without the
    # warnings: replay's went out at their times.
    expected = [
        r for r in replayed(rules, (created, T0), (answer, at)) if r["action"] != "sla_warning"
    ]
    breach = next(r for r in expected if r["action"] == "sla_breach")
    assert (breach["late_by_s"], breach["reason"]) == (
        0,
        "first reply target of 1h business-hours missed at Mon 02 Mar 10:00",
    )
    breach.update(late_by_s=301, reason=f"{breach['reason']}, 5 min ago")
    assert list(_records(first + decided)) == expected


def correct_a_breach(store: Engine | Store, rules) -> tuple[list[tuple], dict]:
    """Urgent ticket 7 created at 09:00 (first reply due 10:00), its breach fired at 10:00,
    then the reply written at 09:50 stored and decided at 10:30: what the timers and the
    reply decided, and the first reply's count in the leads' review of the day."""
    sql = SqlStore(store) if isinstance(store, Engine) else store
    comment = Comment(id="c2", public=True, author_id="900", author_is_agent=True)
    answer = urgent(2, T0 + timedelta(minutes=50), EventKind.comment_added, comment=comment)
    arrived = T0 + timedelta(minutes=90)
    with sql.writing() as session:
        session.insert_ticket_events([(urgent(1, T0, EventKind.created, Status.new), "{}", T0)])
    decider = Decider(sql, rules, lambda: T0)
    decider.decide_pending()
    fired = decider.fire_due_timers(T0 + timedelta(hours=1))
    with sql.writing() as session:
        session.insert_ticket_events([(answer, "{}", arrived)])
    decided = Decider(sql, rules, lambda: arrived).decide_pending()
    period = build_period(rules, T0.date())
    with sql.reading() as session:
        digest = build_digest(rules, period, session.read_period(period, repeat_window(rules)))
    actions = [(d.cause, [(a.kind.value, a.key) for a in d.actions]) for d in fired + decided]
    return actions, digest["sla"]["first_reply"]


def test_a_breach_corrected_by_a_late_reply_counts_met_in_the_review(engine, rules):
    """serve's path (the decider on SQLite and PostgreSQL): a reply written before its
    deadline and delivered after the breach alert withdraws the breach, and the review
    counts the clock met. Its breach fact stays (a fact is kept once by its key, never
    replaced): the withdrawal is a fact of its own, on the breach's day."""
    assert correct_a_breach(engine, rules) == CORRECTED


def test_a_breach_corrected_by_a_late_reply_counts_met_in_the_review_on_the_memory_store(rules):
    assert correct_a_breach(MemoryStore(), rules) == CORRECTED


_KEY = "zendesk:7:sla:first_reply:2026-03-02T09:00:00+00:00"
CORRECTED = (
    [
        # The sweep fires the three at 10:00: the warnings, due at 09:45 and 09:54 but sent
        # only once the deadline has passed, are not sent beside the breach.
        ("timer:zendesk:7:sla:first_reply:warn1", []),
        ("timer:zendesk:7:sla:first_reply:warn2", []),
        ("timer:zendesk:7:sla:first_reply:breach", [("sla_breach", f"{_KEY}:breach")]),
        ("zendesk:event:7-2", [("notify", f"{_KEY}:breach_withdrawn")]),
    ],
    {"met": 1, "breached": 0},
)


def test_a_page_step_due_before_an_acknowledgement_pages_first_though_the_sweep_is_behind(
    engine, rules
):
    """The same on call: the step due at 02:10 has not fired when the acknowledgement stored
    at 02:15 is decided. The step pages first, at 02:10 (and sets the next, due at 02:20),
    then the acknowledgement stops the chain: as replay does. Before, the acknowledgement
    cancelled the step, and the page due five minutes before it was never sent."""
    ack = paged_and_acknowledged(engine, rules, minutes=15)

    decided = Decider(
        engine, rules, lambda: ack.occurred_at + timedelta(seconds=1)
    ).decide_pending()

    chain = "zendesk:7:oncall:2026-03-07T02:00:00+00:00"
    assert decisions(decided) == [
        (
            "timer:zendesk:7:oncall.step",
            PAGE_DUE,
            None,
            [("page_oncall", f"{chain}:1"), ("pager", f"{chain}:trigger:1")],
        ),
        (
            "zendesk:event:7-2",
            ack.occurred_at,
            None,
            [
                ("note", "zendesk:7:interactions:ack:2026-03-07T02:00:00+00:00:note"),
                ("notify", "zendesk:7:interactions:ack:2026-03-07T02:00:00+00:00"),
                ("pager", f"{chain}:acknowledge"),
            ],
        ),
    ]
    # The step fired; the 02:20 one it set, cancelled by the acknowledgement in the same
    # batch, was never stored: nobody is paged again.
    assert timer_statuses(engine) == {
        "zendesk:7:oncall.step": "fired",
        "zendesk:7:sla:first_reply:warn1": "pending",  # Monday's business hours
        "zendesk:7:sla:resolution:warn1": "pending",
        # The unanswered watch (its page would be skipped: on call was paged for this wait).
        "zendesk:7:oncall.unanswered": "pending",
    }
    created = urgent(1, SAT, EventKind.created, Status.new, created=SAT)
    replay = replayed(rules, (created, SAT), (ack, ack.occurred_at))
    assert [r for r in replay if r["at"] != "2026-03-07T02:00:00Z"] == list(_records(decided))


@pytest.mark.parametrize("timer_limit", [2, 500])
def test_a_sweep_decides_at_most_its_event_limit_and_keeps_replays_order(
    engine, rules, monkeypatch, timer_limit
):
    """After an outage the timers' tickets have many undecided events: a sweep decides at most
    `event_limit` of them and fires only the timers due by the first one it leaves behind;
    the next sweeps (and the decider, for a ticket with no timer left) go on from there.
    Every event and timer is decided once, each ticket's in replay's order."""
    wait, tick = timedelta(minutes=3), timedelta(minutes=10)

    def on_event(state, event, ctx):
        # Each event sets its ticket's wait timer again; its first one starts the ticks.
        timers = [Timer(f"{state.key}:test.wait", state.key, "test.wait", ctx.now + wait)]
        if ctx.previous is None:
            timers.append(Timer(f"{state.key}:test.tick", state.key, "test.tick", ctx.now + tick))
        return rules_module.Decision(timers=timers)

    def on_tick(state, timer, ctx):  # the next tick, four in all
        after = Timer(timer.id, timer.ticket, timer.kind, timer.due_at + tick)
        return rules_module.Decision(timers=[after] if timer.due_at < T0 + 4 * tick else [])

    monkeypatch.setattr(rules_module, "RULES", {"on_event": on_event})
    monkeypatch.setattr(
        rules_module,
        "TIMER_RULES",
        {"test.wait": lambda state, timer, ctx: rules_module.Decision(), "test.tick": on_tick},
    )
    # Ticket 1 every 2 minutes from 09:01, 2 from 09:02, 3 every 3 minutes (its wait timer
    # due as the next event arrives: the timer goes first), then a pause.
    minutes = {1: range(1, 40, 2), 2: range(2, 41, 2), 3: range(3, 40, 3)}
    arrivals = sorted(
        (T0 + timedelta(minutes=m), t, n)
        for t, ms in minutes.items()
        for n, m in enumerate([0, *ms], 1)
    )
    arrivals = [(reply(t, n, at), at) for at, t, n in arrivals]
    started = [(e, at) for e, at in arrivals if at == T0]
    for event, at in started:  # decided on time: each ticket's timers are set
        store(engine, event, at=at)
    decided = Decider(engine, rules, lambda: T0).decide_pending()
    for event, at in arrivals[len(started) :]:  # stored while the decider was down
        store(engine, event, at=at)

    late = T0 + timedelta(hours=1)
    decider = Decider(engine, rules, lambda: late)
    sweeps = []
    while batch := decider.fire_due_timers(late, timer_limit, event_limit=3):
        sweeps.append([d.cause for d in batch if not d.is_timer])
        decided += batch
    assert all(len(events) <= 3 for events in sweeps)
    assert any(len(events) == 3 for events in sweeps)  # and events were left behind
    while batch := decider.decide_pending():  # tickets whose timer the events moved past
        decided += batch
    while batch := decider.fire_due_timers(late, timer_limit, event_limit=3):
        decided += batch

    replay = Decider(MemoryStore(), rules, lambda: late)
    with replay.store.writing() as session:
        session.insert_ticket_events([(e, "", at) for e, at in arrivals])
    replayed_order = []
    while batch := replay.decide_in_time_order():
        replayed_order += batch
    while batch := replay.fire_due_timers(late, at_due_time=True):
        replayed_order += batch

    def by_ticket(results) -> dict[str, list[tuple[str, datetime]]]:
        order: dict[str, list[tuple[str, datetime]]] = {}
        for d in results:
            assert d.error is None
            order.setdefault(d.ticket, []).append((d.cause, d.due_at or d.at))
        return order

    assert by_ticket(decided) == by_ticket(replayed_order)
    events = [d.cause for d in decided if not d.is_timer]
    assert sorted(events) == sorted(e.dedupe_key for e, _ in arrivals)  # each once
    fired = [(d.cause, d.due_at) for d in decided if d.is_timer]
    assert len(set(fired)) == len(fired)
    assert set(statuses(engine).values()) == {("decided", None)}
    assert set(timer_statuses(engine).values()) == {"fired"}


def test_an_event_that_fails_in_the_sweep_is_marked_failed_and_the_page_fires_after_it(
    engine, rules, monkeypatch
):
    """A poison event never holds a ticket's timers back: decided first by the sweep, it is
    marked failed (as the decider marks it) and the step due after it fires in the same
    batch; the failed event is not waited for again by the next step either."""
    ack = paged_and_acknowledged(engine, rules)

    def poison(state, event, ctx):
        if event.kind is EventKind.acknowledged:
            raise ValueError("cannot read the acknowledgement")
        return rules_module.Decision()

    monkeypatch.setitem(rules_module.RULES, "poison", poison)
    late = PAGE_DUE + timedelta(seconds=1)
    decider = Decider(engine, rules, lambda: late)
    decided = decider.fire_due_timers(late)
    assert [(d.cause, d.at, d.error) for d in decided] == [
        ("zendesk:event:7-2", ack.occurred_at, "ValueError: cannot read the acknowledgement"),
        ("timer:zendesk:7:oncall.step", late, None),
    ]
    assert [(a.kind.value, a.key) for a in decided[1].actions] == [
        ("page_oncall", "zendesk:7:oncall:2026-03-07T02:00:00+00:00:1"),
        ("pager", "zendesk:7:oncall:2026-03-07T02:00:00+00:00:trigger:1"),
    ]
    assert statuses(engine)["zendesk:event:7-2"] == (
        "failed",
        "ValueError: cannot read the acknowledgement",
    )
    assert decider.decide_pending() == []
    step_due = late + timedelta(minutes=10)
    later = decider.fire_due_timers(step_due)
    assert [(d.cause, d.at, d.error) for d in later] == [
        ("timer:zendesk:7:oncall.step", step_due, None)
    ]


@pytest.mark.parametrize("ack_minutes", [9, 15], ids=["before the step", "after the step"])
def test_a_sweep_waits_for_the_partition_of_a_deciding_batch_and_never_deadlocks_with_it(
    engine, store_url, rules, monkeypatch, ack_minutes
):
    """PostgreSQL: a decider's batch holds ticket 7's partition while it decides the
    acknowledgement, which cancels the step due. The sweep takes partitions before timer
    rows: it waits for that batch to commit, then finds the step cancelled. (Locking the
    timer row first and then waiting for the partition was a deadlock: PostgreSQL aborted
    the decider's cancelling write, and the sweep paged.) An acknowledgement after the step
    was due: the batch claims the step's row itself (its partition first, as the sweep) and
    fires it before the acknowledgement; the sweep, let in after the commit, finds it fired
    and pages nobody again."""
    if engine.dialect.name != "postgresql":
        pytest.skip("partition locks are PostgreSQL's")
    ack = paged_and_acknowledged(engine, rules, ack_minutes)
    holding, release = threading.Event(), threading.Event()

    def hold(state, event, ctx):
        if event.kind is EventKind.acknowledged:
            holding.set()
            release.wait(10)
        return rules_module.Decision()

    monkeypatch.setitem(rules_module.RULES, "hold", hold)
    late = max(PAGE_DUE, ack.occurred_at) + timedelta(seconds=1)
    sweeper = create_store_engine(store_url)
    results: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def run(name: str, work) -> None:
        try:
            results[name] = [d.cause for d in work()]
        except BaseException as exc:  # reported below
            errors.append(exc)

    deciding = threading.Thread(
        target=run, args=("decider", Decider(engine, rules, lambda: late).decide_pending)
    )
    sweeping = threading.Thread(
        target=run,
        args=("sweep", lambda: Decider(sweeper, rules, lambda: late).fire_due_timers(late)),
    )
    deciding.start()
    assert holding.wait(10)
    sweeping.start()
    sweeping.join(0.5)
    assert sweeping.is_alive()  # waiting for the partition
    release.set()
    for thread in (deciding, sweeping):
        thread.join(30)
    sweeper.dispose()
    assert errors == []
    with engine.connect() as connection:
        pages = [r["idempotency_key"] for r in list_actions(connection) if r["action"] == "pager"]
    chain = "zendesk:7:oncall:2026-03-07T02:00:00+00:00"
    if ack_minutes < 10:
        assert results == {"decider": ["zendesk:event:7-2"], "sweep": []}
        assert timer_statuses(engine)["zendesk:7:oncall.step"] == "cancelled"
        assert pages == [f"{chain}:trigger:0", f"{chain}:acknowledge"]
    else:
        assert results == {
            "decider": ["timer:zendesk:7:oncall.step", "zendesk:event:7-2"],
            "sweep": [],
        }
        assert timer_statuses(engine)["zendesk:7:oncall.step"] == "fired"
        assert pages == [f"{chain}:trigger:0", f"{chain}:trigger:1", f"{chain}:acknowledge"]


def test_a_cached_state_changed_by_another_decider_is_read_again(engine, store_url, rules):
    """Two deciders (two processes) take turns on one ticket: each sees the other's replies."""
    other = create_store_engine(store_url)
    first, second = Decider(engine, rules, lambda: T0), Decider(other, rules, lambda: T0)
    try:
        for n, decider in ((1, first), (2, second), (3, first), (4, second)):
            store(engine, reply(5, n))
            assert [d.cause for d in decider.decide_pending()] == [f"zendesk:event:5-{n}"]
    finally:
        other.dispose()
    with engine.connect() as connection:
        state = load_ticket(connection, "zendesk:5")
    assert state.public_agent_reply_ids == ["5-1", "5-2", "5-3", "5-4"]
    assert call_customer_keys(engine) == ["zendesk:5:three_responses:call_customer"]
    with engine.connect() as connection:
        actions = [r["action"] for r in list_actions(connection)]
    assert actions.count("call_customer") == 1


def test_beyond_its_bound_the_cache_forgets_the_tickets_written_longest_ago(
    engine, rules, monkeypatch
):
    """A forgotten ticket that comes back is read from the store and decided as if it had
    stayed: the third reply on ticket 1 asks for the call to the customer either way."""
    read: list[list[str]] = []
    load = SqlSession.load_ticket_states

    def reading(session, keys):
        read.append(sorted(keys))
        return load(session, keys)

    monkeypatch.setattr(SqlSession, "load_ticket_states", reading)
    steps = [[reply(1, 1), reply(1, 2)], [reply(2, 1)], [reply(3, 1)], [reply(1, 3)]]

    def decide_steps(on, cache_tickets: int) -> tuple[list, list[list[str]], list[dict]]:
        decider = Decider(on, rules, lambda: T0, cache_tickets=cache_tickets)
        decided, cached = [], []
        read.clear()
        for events in steps:
            store(on, *events)
            decided += [
                (d.cause, [(a.kind.value, a.key) for a in d.actions])
                for d in decider.decide_pending()
            ]
            cached.append(list(decider._cache))
        with on.connect() as connection:
            states = [dump_state(load_ticket(connection, f"zendesk:{n}")) for n in (1, 2, 3)]
        return decided, cached, states

    decided, cached, states = decide_steps(engine, cache_tickets=2)
    assert cached == [
        ["zendesk:1"],
        ["zendesk:1", "zendesk:2"],
        ["zendesk:2", "zendesk:3"],
        ["zendesk:3", "zendesk:1"],
    ]
    # The store is asked for the states of stored tickets not held (new ones have no row).
    assert read == [[], [], [], ["zendesk:1"]]
    assert decided[-1] == (
        "zendesk:event:1-3",
        [
            ("call_customer", "zendesk:1:three_responses:call_customer"),
            ("tag", "zendesk:1:three_responses:tag"),
            ("note", "zendesk:1:three_responses:note"),
        ],
    )
    # The same as a decider that forgot nothing, on a store of its own.
    other = create_store_engine("sqlite://")
    migrate_store(other)
    try:
        assert decide_steps(other, cache_tickets=100)[::2] == (decided, states)
        assert read == [[], [], [], []]
    finally:
        other.dispose()


def test_a_store_in_another_schema_never_holds_this_stores_partitions(engine, rules):
    """Advisory locks are database-wide: a decider of another schema's store (another team,
    a parallel test) holding a ticket's partition must not stop this store's decider."""
    if engine.dialect.name != "postgresql":
        pytest.skip("partition locks are PostgreSQL's")
    with postgres_schema() as other_url:
        other = create_store_engine(other_url)
        try:
            with other.begin() as connection:
                lock_ticket_shards(connection, ["zendesk:5"])  # held until this block ends
                store(engine, reply(5, 1))
                decided = Decider(engine, rules, lambda: T0).decide_pending()
                assert [d.cause for d in decided] == ["zendesk:event:5-1"]
        finally:
            other.dispose()


def test_three_deciders_racing_on_postgresql_decide_each_event_once_in_order(
    engine, store_url, rules
):
    if engine.dialect.name != "postgresql":
        pytest.skip("several deciders coordinate through PostgreSQL (SQLite has one writer)")
    tickets, per_ticket = 50, 40  # 2,000 events
    engines = [create_store_engine(store_url) for _ in range(3)]
    deciders = [Decider(e, rules, lambda: T0, batch=100, shards_per_batch=8) for e in engines]
    done = threading.Event()
    decided: list[list[str]] = [[] for _ in deciders]
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            while True:
                batch = deciders[index].decide_pending()
                decided[index] += [d.cause for d in batch if d.error is None]
                if not batch:
                    if done.is_set():
                        with engines[index].connect() as connection:
                            if count_events(connection, "undecided") == 0:
                                return
                    time.sleep(0.01)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    # Stored as the webhook stores them, in rounds, while the deciders run.
    for n in range(1, per_ticket + 1):
        store(engine, *[reply(t, n) for t in range(1, tickets + 1)])
    done.set()
    for thread in threads:
        thread.join(timeout=300)
    for other in engines:
        other.dispose()
    assert errors == []
    assert not any(t.is_alive() for t in threads)

    everything = [cause for result in decided for cause in result]
    assert len(everything) == tickets * per_ticket  # each decided once ...
    assert len(set(everything)) == tickets * per_ticket  # ... by one decider
    assert sum(1 for result in decided if result) >= 2  # they really raced
    assert set(statuses(engine).values()) == {("decided", None)}
    with engine.connect() as connection:
        for t in range(1, tickets + 1):
            # Folded in arrival order: replies are appended as the decider folds them.
            state = load_ticket(connection, f"zendesk:{t}")
            assert state.public_agent_reply_ids == [f"{t}-{n}" for n in range(1, per_ticket + 1)]
    assert call_customer_keys(engine) == sorted(
        f"zendesk:{t}:three_responses:call_customer" for t in range(1, tickets + 1)
    )


def test_events_stored_by_another_process_wake_the_decider_on_postgresql(engine, store_url, rules):
    if engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite one process stores and decides")
    from deskbridge.store.events import listen_for_events

    woken, stop = threading.Event(), threading.Event()
    listener = threading.Thread(target=listen_for_events, args=(engine, woken.set, stop))
    listener.start()
    web = create_store_engine(store_url)  # a gunicorn worker's engine
    try:
        assert woken.wait(10)  # the first wake: whatever was stored before it listened
        woken.clear()
        assert WorkflowService(web, rules).store_events([reply(1, 1)], "{}", T0) == 1
        assert woken.wait(10)
    finally:
        stop.set()
        listener.join(timeout=10)
        web.dispose()
    assert not listener.is_alive()


def test_a_lost_listen_connection_is_logged_as_an_outage(engine, rules, monkeypatch, caplog):
    """While PostgreSQL was down the listener logged an ERROR every 5 s and nothing when it
    listened again; it now logs as the other loops do: the start, once a minute, the end."""
    if engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    import psycopg

    from deskbridge.store import db
    from deskbridge.store import events as events_module

    connect, calls = db.connect_with_deadline, []

    def down_for_five_tries(*args, **kwargs):
        calls.append(kwargs)
        if len(calls) <= 5:
            raise psycopg.OperationalError("connection refused")
        return connect(*args, **kwargs)

    monkeypatch.setattr(db, "connect_with_deadline", down_for_five_tries)
    monkeypatch.setattr(events_module, "LISTEN_RETRY_S", 0.01)
    caplog.set_level("INFO", logger="deskbridge.decider")
    woken, stop = threading.Event(), threading.Event()
    listener = threading.Thread(
        target=events_module.listen_for_events, args=(engine, woken.set, stop)
    )
    listener.start()
    try:
        assert woken.wait(10)  # listening at the sixth try
    finally:
        stop.set()
        listener.join(timeout=10)
    logged = [
        (
            r.levelname,
            r.getMessage(),
            {k: v for k, v in r.deskbridge_fields.items() if k != "down_s"},
        )
        for r in caplog.records
    ]
    assert logged == [
        ("ERROR", "decider.listen_failed", {"error": "OperationalError"}),
        ("INFO", "decider.listen_recovered", {"failures": 5}),
    ]
    # Each try with the engine's timeouts and keep-alives.
    assert {kwargs["connect_timeout"] for kwargs in calls} == {5}
    assert {kwargs["tcp_user_timeout"] for kwargs in calls} == {15000}


class _RecordingConnection:
    """A pooled DBAPI connection whose cursors and commits record what reaches the driver."""

    def __init__(self, connection, record):
        self._connection, self._record = connection, record

    def __getattr__(self, name):
        return getattr(self._connection, name)

    def cursor(self):
        cursor, record = self._connection.cursor(), self._record

        class Cursor:
            def __getattr__(self, name):
                return getattr(cursor, name)

            def execute(self, statement, *args):
                record(statement)
                return cursor.execute(statement, *args)

        return Cursor()

    def commit(self):
        self._record("COMMIT")
        return self._connection.commit()


def test_the_acknowledgement_is_one_insert_and_notifies_after_its_commit(
    engine, rules, monkeypatch
):
    """The acknowledging transaction runs the INSERT and nothing else, and commits before
    store_events returns: a NOTIFY in it made PostgreSQL serialise every acknowledgement's
    commit. It is sent afterwards, on PostgreSQL only, by the notifier's own thread."""
    service = WorkflowService(engine, rules)
    statements: list[tuple[str, str]] = []

    def record(statement: str) -> None:
        statements.append((threading.current_thread().name, statement.split()[0].upper()))

    def notified() -> list[tuple[str, str]]:
        return [(t, s) for t, s in statements if s == "NOTIFY"]

    # Every connection of the engine, SQLAlchemy's (the notifier's) included, comes from here.
    raw_connection = engine.raw_connection
    monkeypatch.setattr(
        engine, "raw_connection", lambda: _RecordingConnection(raw_connection(), record)
    )
    assert service.store_events([reply(1, 1)], "{}", T0) == 1
    # On SQLite, the store's committing thread runs it (group commit, store/events.py).
    sqlite = engine.dialect.name == "sqlite"
    committer = "deskbridge-ack-commit" if sqlite else threading.current_thread().name
    acknowledging = [s for t, s in statements if t == committer]
    deadline = time.monotonic() + (10 if engine.dialect.name == "postgresql" else 0.2)
    while not notified() and time.monotonic() < deadline:
        time.sleep(0.01)
    # One row: the INSERT commits itself on both, SQLite's connection in autocommit
    # (store/db.py) and PostgreSQL's (one round trip, store/events.py).
    assert acknowledging == ["INSERT"]
    # Committed when store_events returned: another connection reads it.
    with engine.connect() as connection:
        assert count_events(connection) == 1
    if engine.dialect.name == "postgresql":
        assert notified() == [("deskbridge-notifier", "NOTIFY")]
    else:  # the deciders are in the process that stores
        assert notified() == []
    # Several rows at once: on SQLite, BEGIN IMMEDIATE (store/db.py), the INSERTs and COMMIT;
    # on PostgreSQL still one statement.
    del statements[:]
    assert service.store_events([reply(2, 1), reply(2, 2)], "{}", T0) == 2
    acknowledging = [s for t, s in statements if t == committer]
    assert acknowledging == (["BEGIN", "INSERT", "INSERT", "COMMIT"] if sqlite else ["INSERT"])
    with engine.connect() as connection:
        assert count_events(connection) == 3


def test_acknowledgements_committed_while_a_notify_is_sent_share_the_next_one():
    gate, second = threading.Event(), threading.Event()
    sent: list[str] = []

    def send() -> None:
        sent.append(threading.current_thread().name)
        if len(sent) == 1:
            assert gate.wait(10)  # the first NOTIFY is slow to commit
        elif len(sent) == 2:
            second.set()

    notifier = EventNotifier(send, min_interval=0)
    notifier.notify()
    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.005)
    for _ in range(5):  # five acknowledgements commit while it is in flight
        notifier.notify()
    gate.set()
    assert second.wait(10)
    time.sleep(0.2)
    # One more NOTIFY for all five, sent after their commits; none afterwards.
    assert sent == ["deskbridge-notifier", "deskbridge-notifier"]
    notifier.notify()  # a later acknowledgement gets its own
    deadline = time.monotonic() + 10
    while len(sent) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.1)
    assert len(sent) == 3
