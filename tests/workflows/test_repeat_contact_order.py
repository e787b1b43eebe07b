"""A repeat contact on serve's path (the decider and the timer sweep, on SQLite and
PostgreSQL): the ticket opened later is the repeat, whichever ticket's events arrive first,
and the leads' review counts it on the same day either way."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from deskbridge.connectors.salesforce.parse import parse_salesforce
from deskbridge.store.events import shard_of
from deskbridge.store.outbox import list_actions
from deskbridge.store.tickets import REQUESTER_LOCK_CLASS
from deskbridge.workflows.decider import Decider
from deskbridge.workflows.digest import build_digest, build_period, repeat_window
from deskbridge.workflows.model import (
    EventKind,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
    evolve,
)
from deskbridge.workflows.service import WorkflowService
from tests.conftest import fixture_bytes

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
LATER = T0 + timedelta(hours=2)
TWO_CASES = "outbound_message__two_cases.xml"


def created(number: str, at: datetime, n: int = 1) -> TicketEvent:
    """Ticket `number` opened at `at` by requester 81 (the n-th delivery of its event)."""
    return TicketEvent(
        source=Source.zendesk,
        ticket_id=number,
        dedupe_key=f"zendesk:event:{number}-created-{n}",
        kind=EventKind.created,
        occurred_at=at,
        ticket=TicketSnapshot(
            subject="Delivery slot",
            description="Can I move it?",
            status=Status.open,
            requester="81",
            created_at=at,
        ),
    )


def served(engine: Engine, rules, arrivals: list[tuple[TicketEvent, datetime]]) -> list[tuple]:
    """Each event acknowledged and decided as it arrives, the timer sweep run just after it
    (as serve's timer loop, woken by a timer set, does); the risk actions queued, with their
    reasons, and the day's review's escalations and repeat contacts."""
    return served_in_batches(engine, rules, [[arrival] for arrival in arrivals])


def queued_risk_actions(engine: Engine) -> list[tuple[str, str, str]]:
    """The risk rule's actions in the outbox: (ticket, idempotency key, reason)."""
    with engine.connect() as connection:
        return [
            (r["ticket"], r["idempotency_key"], r["payload"]["reason"])
            for r in list_actions(connection)
            if r["payload"]["rule"] == "risk"
        ]


def served_in_batches(
    engine: Engine, rules, batches: list[list[tuple[TicketEvent, datetime]]]
) -> list[tuple]:
    """`served`, each list of events acknowledged before the decider takes them, in one
    batch."""
    service = WorkflowService(engine, rules)
    for batch in batches:
        for event, at in batch:
            service.store_events([event], "{}", at)
        at = batch[-1][1]
        service.decider.decide_pending(now=at)
        service.fire_due_timers(at + timedelta(seconds=1))
    queued = queued_risk_actions(engine)
    period = build_period(rules, T0.date())
    data = service.decider.store
    with data.reading() as session:
        digest = build_digest(rules, period, session.read_period(period, repeat_window(rules)))
    return [*queued, ("review", digest["escalations"], digest["repeat_contacts"])]


REASON = "risk 3 ≥ 3: the requester opened zendesk:700 too, within 14 days (repeat contact, 3)"
EXPECTED = [
    ("zendesk:701", f"zendesk:701:risk:repeat_contact:{part}", REASON)
    for part in ("escalate", "priority", "assign", "note")
] + [("review", 1, 1)]


def test_the_later_ticket_is_the_repeat_contact_when_it_arrives_first(engine, rules):
    """Ticket 701 (opened 11:00) is delivered first, 700 (opened 09:00) only at 12:00 and
    again at 12:05: 701 is escalated once as 700's repeat, 700 not at all, as when they come
    in order, and the review counts one escalation and one repeat contact on the day."""
    arrivals = [
        (created("701", LATER), LATER),
        (created("700", T0), LATER + timedelta(hours=1)),
        (created("700", T0, n=2), LATER + timedelta(hours=1, minutes=5)),
        (created("701", LATER, n=2), LATER + timedelta(hours=1, minutes=10)),
    ]
    assert served(engine, rules, arrivals) == EXPECTED


def test_the_later_ticket_is_the_repeat_contact_when_it_arrives_last(engine, rules):
    arrivals = [(created("700", T0), T0), (created("701", LATER), LATER)]
    assert served(engine, rules, arrivals) == EXPECTED


def test_a_batch_that_does_not_hold_the_later_ticket_leaves_its_timer_to_the_sweep(engine, rules):
    """700's events come in one batch after 701 was decided in another: the timer 700's
    first event sets on 701 is not fired by 700's next event in that batch (the batch does
    not hold 701), but stored and fired by the sweep, which reads 701."""
    replied = evolve(
        created("700", T0, n=2),
        {"kind": EventKind.updated, "occurred_at": LATER + timedelta(minutes=50)},
    )
    batches = [
        [(created("701", LATER), LATER)],
        [(created("700", T0), LATER + timedelta(hours=1)), (replied, LATER + timedelta(hours=1))],
    ]
    assert served_in_batches(engine, rules, batches) == EXPECTED


def test_the_readmes_salesforce_delivery_escalates_the_case_opened_later(engine, rules):
    """README, Try a webhook by hand: the Outbound Message's two cases from one contact come
    in LastModifiedDate order, the case opened at 10:20 first, the one opened at 09:15 (its
    last change at 10:21) after it. The case opened later is the repeat contact."""
    now = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)  # a Monday night: on call is paged
    service = WorkflowService(engine, rules)
    service.store_events(parse_salesforce(fixture_bytes(TWO_CASES), now), "{}", now)
    service.decider.decide_pending(now=now)
    service.fire_due_timers(now + timedelta(seconds=1))
    with engine.connect() as connection:
        risk = [
            (r["ticket"], r["action"], r["payload"].get("reason"))
            for r in list_actions(connection)
            if r["payload"]["rule"] in ("risk", "oncall")
        ]
    later, earlier = "salesforce:5005j00000TqW9aAAF", "salesforce:5005j00000TqW8hAAF"
    reason = f"risk 3 ≥ 3: the requester opened {earlier} too, within 14 days (repeat contact, 3)"
    paged = f"escalated to the specialist tier after hours — {reason}"
    assert risk == [
        (later, "escalate", reason),
        (later, "set_priority", reason),
        (later, "assign", reason),
        (later, "note", reason),
        (later, "page_oncall", paged),
        (later, "pager", paged),
    ]


def test_two_deciders_deciding_a_customers_two_tickets_at_once_find_the_repeat(engine, rules):
    """Two deciders on PostgreSQL (two workers) decide 700 and 701, in two partitions, at
    the same time: each read the requester's tickets before the other's was written, so
    neither saw the other, and 701 was never escalated as 700's repeat. The one writing
    second now sees the other's ticket and decides its batch again."""
    if engine.dialect.name != "postgresql":
        pytest.skip("two deciders decide two partitions at once only on PostgreSQL")
    assert shard_of("zendesk:700") != shard_of("zendesk:701")
    first = WorkflowService(engine, rules)
    second = Decider(engine, rules, lambda: LATER)
    read, go_on = threading.Event(), threading.Event()
    read_related = first.decider._read_related

    def read_then_wait(session, batch):
        read_related(session, batch)
        if not read.is_set():  # its first attempt: the other decides meanwhile
            read.set()
            assert go_on.wait(10)

    first.decider._read_related = read_then_wait
    first.store_events([created("700", T0)], "{}", T0)
    deciding = threading.Thread(target=first.decider.decide_pending, kwargs={"now": T0})
    deciding.start()
    assert read.wait(10)  # 700's partition held, its batch read, not written
    first.store_events([created("701", LATER)], "{}", LATER)
    decided = second.decide_pending(now=LATER)
    assert [d.ticket for d in decided] == ["zendesk:701"]
    go_on.set()
    deciding.join(10)
    assert not deciding.is_alive()
    first.fire_due_timers(LATER + timedelta(seconds=1))

    assert queued_risk_actions(engine) == EXPECTED[:-1]


def requester_lock_waits(engine: Engine) -> int:
    """Deciders waiting for a requester another holds, in this test's schema."""
    query = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        f"AND classid::bigint = ({REQUESTER_LOCK_CLASS})::bigint & 4294967295"
    )
    with engine.connect() as connection:
        return connection.exec_driver_sql(query).scalar()


def test_a_batch_decided_again_for_a_repeat_holds_the_requester_until_it_is_written(engine, rules):
    """As above, and while 700's batch is decided again, a third decider decides the
    requester's third ticket, 702: it waits for 700's batch to be written, rather than write
    702 under it and roll it back once more (one requester opening many tickets at once, an
    integration, rolled batches back until the decider gave up on them). 701 and 702 are
    700's repeat contacts."""
    if engine.dialect.name != "postgresql":
        pytest.skip("two deciders decide two partitions at once only on PostgreSQL")
    assert len({shard_of(f"zendesk:{n}") for n in (700, 701, 702)}) == 3
    first = WorkflowService(engine, rules)
    attempts, go_on = [threading.Event(), threading.Event()], threading.Event()
    read_related = first.decider._read_related

    def read_then_wait(session, batch):
        read_related(session, batch)
        attempt = next((a for a in attempts if not a.is_set()), None)
        if attempt is not None:
            attempt.set()
            assert go_on.wait(10)
            if attempt is attempts[0]:
                go_on.clear()

    first.decider._read_related = read_then_wait
    first.store_events([created("700", T0)], "{}", T0)
    deciding = threading.Thread(target=first.decider.decide_pending, kwargs={"now": T0})
    deciding.start()
    assert attempts[0].wait(10)
    first.store_events([created("701", LATER)], "{}", LATER)
    Decider(engine, rules, lambda: LATER).decide_pending(now=LATER)
    go_on.set()
    assert attempts[1].wait(10)  # decided again, read, not written
    third = LATER + timedelta(minutes=5)
    first.store_events([created("702", third)], "{}", third)
    other = Decider(engine, rules, lambda: third)
    deciding_702 = threading.Thread(target=other.decide_pending, kwargs={"now": third})
    deciding_702.start()
    for _ in range(100):  # 702's batch waits for the requester 700's batch holds
        if requester_lock_waits(engine) or not deciding_702.is_alive():
            break
        time.sleep(0.1)
    assert requester_lock_waits(engine) == 1
    go_on.set()
    for thread in (deciding, deciding_702):
        thread.join(10)
        assert not thread.is_alive()
    first.fire_due_timers(third + timedelta(seconds=1))

    escalated = [(t, k.rsplit(":", 1)[1]) for t, k, _ in queued_risk_actions(engine)]
    assert sorted(set(escalated)) == [
        (f"zendesk:{n}", part)
        for n in (701, 702)
        for part in ("assign", "escalate", "note", "priority")
    ]
