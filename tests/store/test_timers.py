"""Timers as rows: schedule / replace / cancel, the due scan, and firing them exactly once,
also from two sweeps at the same moment (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select, text

from deskbridge.store.db import create_store_engine
from deskbridge.store.schema import audit, outbox
from deskbridge.store.timers import (
    cancel_timers,
    claim_due_timers,
    list_due_timers,
    list_failed_timers,
    list_timers,
    mark_timers_failed,
    mark_timers_fired,
    requeue_failed_timers,
    schedule_timers,
)
from deskbridge.workflows.actions import dump_action
from deskbridge.workflows.decision import Timer
from deskbridge.workflows.model import (
    Comment,
    EventKind,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
)
from deskbridge.workflows.rules.routing import HANDOFF
from deskbridge.workflows.service import WorkflowService

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
DEADLINE = T0 + timedelta(hours=4)  # Logistics' hand-off window in config/example.yaml


def timer(n: int, due: datetime, kind: str = HANDOFF, **payload) -> Timer:
    return Timer(
        id=f"zendesk:{n}:{kind}",
        ticket=f"zendesk:{n}",
        kind=kind,
        due_at=due,
        payload=payload or {"department": "logistics"},
    )


def claim(connection, timer_id: str, now: datetime):
    """The due timer `timer_id`, claimed (locked until commit) as the decider claims it."""
    [due] = [d for d in claim_due_timers(connection, now, 1000) if d.timer.id == timer_id]
    return due


def rows(engine) -> dict[str, dict]:
    with engine.connect() as connection:
        return {r["id"]: r for r in list_timers(connection)}


# -- schedule, replace, cancel -------------------------------------------------------------


def test_schedule_inserts_then_replaces_and_bumps_the_generation(engine):
    with engine.begin() as connection:
        schedule_timers(connection, [timer(1, T0), timer(2, T0 + timedelta(hours=1))])
    assert rows(engine) == {
        "zendesk:1:routing.handoff": {
            "id": "zendesk:1:routing.handoff",
            "ticket": "zendesk:1",
            "kind": HANDOFF,
            "due_at": T0,
            "generation": 0,
            "payload": {"department": "logistics"},
            "status": "pending",
            "error": None,
        },
        "zendesk:2:routing.handoff": {
            "id": "zendesk:2:routing.handoff",
            "ticket": "zendesk:2",
            "kind": HANDOFF,
            "due_at": T0 + timedelta(hours=1),
            "generation": 0,
            "payload": {"department": "logistics"},
            "status": "pending",
            "error": None,
        },
    }

    later = T0 + timedelta(hours=8)
    with engine.begin() as connection:
        schedule_timers(connection, [timer(1, later, department="quality")])
        schedule_timers(connection, [timer(1, later + timedelta(minutes=1), department="quality")])
    after = rows(engine)
    assert after["zendesk:1:routing.handoff"] == {
        "id": "zendesk:1:routing.handoff",
        "ticket": "zendesk:1",
        "kind": HANDOFF,
        "due_at": later + timedelta(minutes=1),
        "generation": 2,
        "payload": {"department": "quality"},
        "status": "pending",
        "error": None,
    }
    assert after["zendesk:2:routing.handoff"]["generation"] == 0


def test_a_failed_timer_keeps_its_error_until_set_again_or_put_back(engine):
    with engine.begin() as connection:
        schedule_timers(connection, [timer(1, T0), timer(2, T0), timer(3, T0)])
        failures = [
            (claim(connection, f"zendesk:{n}:routing.handoff", T0), f"KeyError: 'x{n}'")
            for n in (3, 1, 2)
        ]
        mark_timers_failed(connection, failures)
        # The rule set it again (the ticket moved on): pending, its error gone.
        schedule_timers(connection, [timer(2, DEADLINE)])
    with engine.connect() as connection:
        listed = list_failed_timers(connection)
    assert listed == [
        {
            "id": f"zendesk:{n}:routing.handoff",
            "ticket": f"zendesk:{n}",
            "kind": HANDOFF,
            "due_at": T0,
            "error": f"KeyError: 'x{n}'",
        }
        for n in (1, 3)
    ]
    set_again = rows(engine)["zendesk:2:routing.handoff"]
    assert (set_again["status"], set_again["due_at"], set_again["error"]) == (
        "pending",
        DEADLINE,
        None,
    )

    with engine.begin() as connection:
        assert requeue_failed_timers(connection, ["zendesk:3:routing.handoff", "nope"]) == 1
    after = rows(engine)
    assert [after[f"zendesk:{n}:routing.handoff"]["status"] for n in (1, 2, 3)] == [
        "failed",
        "pending",
        "pending",
    ]
    # Pending at its own due time, a new generation: the sweep fires it now, once.
    assert {
        k: after["zendesk:3:routing.handoff"][k] for k in ("due_at", "generation", "error")
    } == {
        "due_at": T0,
        "generation": 1,
        "error": None,
    }
    with engine.connect() as connection:
        due = [d.timer.id for d in claim_due_timers(connection, T0, 10)]
    assert due == ["zendesk:3:routing.handoff"]
    with engine.begin() as connection:
        assert requeue_failed_timers(connection) == 1
        assert requeue_failed_timers(connection) == 0


def test_rescheduling_a_fired_or_cancelled_timer_makes_it_pending_again(engine):
    with engine.begin() as connection:
        schedule_timers(connection, [timer(1, T0), timer(2, T0)])
        mark_timers_fired(connection, [claim(connection, "zendesk:1:routing.handoff", T0)])
        cancel_timers(connection, ["zendesk:2:routing.handoff"])
        schedule_timers(connection, [timer(1, DEADLINE), timer(2, DEADLINE)])
    assert {(k, r["status"], r["generation"], r["due_at"]) for k, r in rows(engine).items()} == {
        ("zendesk:1:routing.handoff", "pending", 1, DEADLINE),
        ("zendesk:2:routing.handoff", "pending", 2, DEADLINE),
    }


def test_cancel_only_touches_pending_timers(engine):
    with engine.begin() as connection:
        schedule_timers(connection, [timer(1, T0), timer(2, T0), timer(3, T0)])
        mark_timers_fired(connection, [claim(connection, "zendesk:3:routing.handoff", T0)])
        cancel_timers(connection, [])
        cancel_timers(
            connection,
            ["zendesk:1:routing.handoff", "zendesk:3:routing.handoff", "zendesk:9:unknown"],
        )
    assert {(k, r["status"], r["generation"]) for k, r in rows(engine).items()} == {
        ("zendesk:1:routing.handoff", "cancelled", 1),
        ("zendesk:2:routing.handoff", "pending", 0),
        ("zendesk:3:routing.handoff", "fired", 0),
    }
    with engine.begin() as connection:
        cancel_timers(connection, ["zendesk:1:routing.handoff"])  # already cancelled
    assert rows(engine)["zendesk:1:routing.handoff"]["generation"] == 1


def test_a_firing_that_raced_a_reschedule_is_not_marked_fired(engine):
    with engine.begin() as connection:
        schedule_timers(connection, [timer(1, T0)])
        stale = claim(connection, "zendesk:1:routing.handoff", T0)
        assert stale.generation == 0
        schedule_timers(connection, [timer(1, DEADLINE)])
        mark_timers_fired(connection, [stale])
    row = rows(engine)["zendesk:1:routing.handoff"]
    assert (row["status"], row["generation"], row["due_at"]) == ("pending", 1, DEADLINE)


# -- the due scan ----------------------------------------------------------------------------


def test_list_due_timers_returns_only_pending_due_rows_soonest_first(engine):
    now = T0 + timedelta(hours=1)
    with engine.begin() as connection:
        schedule_timers(
            connection,
            [
                timer(1, now - timedelta(minutes=10)),
                timer(2, now),  # due exactly now
                timer(3, now + timedelta(seconds=1)),  # not yet
                timer(4, now - timedelta(minutes=30)),
                timer(5, now - timedelta(minutes=20)),
                timer(6, now - timedelta(minutes=40)),
                timer(7, now + timedelta(days=30)),
            ],
        )
        cancel_timers(connection, ["zendesk:5:routing.handoff"])
        mark_timers_fired(connection, [claim(connection, "zendesk:6:routing.handoff", now)])
    with engine.connect() as connection:
        assert list_due_timers(connection, now, 100) == [
            ("zendesk:4:routing.handoff", "zendesk:4"),
            ("zendesk:1:routing.handoff", "zendesk:1"),
            ("zendesk:2:routing.handoff", "zendesk:2"),
        ]
        assert list_due_timers(connection, now, 2) == [
            ("zendesk:4:routing.handoff", "zendesk:4"),
            ("zendesk:1:routing.handoff", "zendesk:1"),
        ]
        assert list_due_timers(connection, T0 - timedelta(days=1), 100) == []
        # A due time in another offset is the same instant.
        other_zone = now.astimezone(ZoneInfo("America/New_York"))
        assert len(list_due_timers(connection, other_zone, 100)) == 3


def explain_due_scan(engine, tickets: list[str] | None) -> str:
    """The plan of list_due_timers' own SQL (of `tickets` when given), on 200 tickets' timers."""
    with engine.begin() as connection:
        schedule_timers(connection, [timer(n, T0 + timedelta(minutes=n)) for n in range(200)])
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM timers" in statement:
            captured.append((statement, parameters))

    sa_event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as connection:
            due = list_due_timers(connection, T0 + timedelta(minutes=10), 50, tickets)
    finally:
        sa_event.remove(engine, "before_cursor_execute", capture)
    if tickets is not None:
        assert due == [(f"zendesk:{n}:routing.handoff", f"zendesk:{n}") for n in (3, 7)]
    [(statement, parameters)] = captured

    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            # Tiny tables make a sequential scan cheapest; forbid it to see the usable path.
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + statement, parameters)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = " ".join(str(part) for row in cursor.fetchall() for part in row)
        cursor.close()
        connection.rollback()
    return plan


def test_the_due_scan_reads_through_the_status_due_index(engine):
    """The scan's own SQL, explained: it uses ix_timers_due rather than reading every timer."""
    plan = explain_due_scan(engine, None)
    assert "ix_timers_due" in plan, plan


def test_a_batchs_tickets_due_timers_are_read_through_their_own_index(engine):
    """The decider's read of its batch's tickets' due timers goes to those tickets' rows, not
    through every overdue timer of every ticket (after an outage, tens of thousands a batch).
    SQLite has no statistics here, and on (status, due_at) alone it would walk them all."""
    plan = explain_due_scan(engine, ["zendesk:7", "zendesk:3", "zendesk:150"])
    assert "ix_timers_ticket_due" in plan, plan


# -- firing ---------------------------------------------------------------------------------


def wrong_item_created(number: int, at: datetime = T0) -> TicketEvent:
    return TicketEvent(
        source=Source.zendesk,
        ticket_id=str(number),
        dedupe_key=f"zendesk:event:created-{number}",
        kind=EventKind.created,
        occurred_at=at,
        ticket=TicketSnapshot(
            subject="Wrong item delivered",
            description="I ordered the oak dining table and you sent a pine one.",
            status=Status.open,
            group="360010000000",
            assignee="9013300112004",
            requester=f"cust-{number}",
            created_at=at,
        ),
    )


def handoff_rows(engine) -> list[dict]:
    with engine.connect() as connection:
        query = (
            select(outbox.c.idempotency_key, outbox.c.ticket, outbox.c.action, outbox.c.status)
            .where(outbox.c.idempotency_key.like("%handoff_overdue"))
            .order_by(outbox.c.idempotency_key)
        )
        return [dict(r._mapping) for r in connection.execute(query)]


def test_a_due_handoff_fires_exactly_once_and_queues_its_lead_alert(engine, rules):
    service = WorkflowService(engine, rules)
    accepted = service.accept_event(wrong_item_created(48213), "{}", T0)
    assert [a.kind.value for a in accepted.actions if a.rule == "routing"] == [
        "route",
        "assign",
        "tag",
        "note",
    ]
    timer_id = "zendesk:48213:routing.handoff"
    assert rows(engine)[timer_id]["due_at"] == DEADLINE

    assert service.fire_due_timers(DEADLINE - timedelta(seconds=1)) == []

    [fired] = [o for o in service.fire_due_timers(DEADLINE) if o.timer_id == timer_id]
    assert (fired.ticket, fired.due_at) == ("zendesk:48213", DEADLINE)
    assert [dump_action(a) for a in fired.actions] == [
        {
            "kind": "notify",
            "ticket": "zendesk:48213",
            "rule": "routing",
            "reason": "Logistics has not acted within 4h of the hand-off (business hours)",
            "key": "zendesk:48213:routing:logistics:handoff_overdue",
            "params": {
                "target": "lead",
                "channel": "#resolution-leads",
                "department": "logistics",
            },
        }
    ]
    assert rows(engine)[timer_id]["status"] == "fired"
    assert handoff_rows(engine) == [
        {
            "idempotency_key": "zendesk:48213:routing:logistics:handoff_overdue",
            "ticket": "zendesk:48213",
            "action": "notify",
            "status": "pending",
        }
    ]
    with engine.connect() as connection:
        payload = connection.execute(
            select(outbox.c.payload).where(
                outbox.c.idempotency_key == "zendesk:48213:routing:logistics:handoff_overdue"
            )
        ).scalar_one()
        reasons = connection.execute(
            select(audit.c.event_key, audit.c.reason).where(audit.c.action == "notify")
        ).all()
    assert payload == dump_action(fired.actions[0])
    assert [tuple(r) for r in reasons] == [
        (f"timer:{timer_id}", "Logistics has not acted within 4h of the hand-off (business hours)")
    ]

    # Later sweeps find nothing left to fire.
    later = service.fire_due_timers(DEADLINE + timedelta(days=1))
    assert all(o.timer_id != timer_id for o in later)
    assert len(handoff_rows(engine)) == 1


def test_a_department_reply_cancels_the_handoff_so_nothing_fires(engine, rules):
    service = WorkflowService(engine, rules)
    service.accept_event(wrong_item_created(48214), "{}", T0)
    reply = TicketEvent(
        source=Source.zendesk,
        ticket_id="48214",
        dedupe_key="zendesk:event:reply-48214",
        kind=EventKind.comment_added,
        occurred_at=T0 + timedelta(hours=1),
        ticket=wrong_item_created(48214).ticket,
        comment=Comment(
            id="c1",
            public=False,
            author_id="9013300113002",
            author_is_agent=True,
            body="Collecting it tomorrow.",
        ),
    )
    service.accept_event(reply, "{}", T0 + timedelta(hours=1))
    row = rows(engine)["zendesk:48214:routing.handoff"]
    assert (row["status"], row["generation"]) == ("cancelled", 1)
    assert all(
        o.timer_id != "zendesk:48214:routing.handoff" for o in service.fire_due_timers(DEADLINE)
    )
    assert handoff_rows(engine) == []


def test_two_sweeps_at_the_same_moment_never_fire_a_timer_twice(engine, store_url, rules):
    tickets = range(70001, 70051)
    service = WorkflowService(engine, rules)
    for number in tickets:
        service.accept_event(wrong_item_created(number), "{}", T0)
    now = DEADLINE + timedelta(minutes=1)
    with engine.connect() as connection:
        due = list_due_timers(connection, now, 1000)
    handoffs = {f"zendesk:{n}:routing.handoff" for n in tickets}
    assert {timer_id for timer_id, _ in due} == handoffs

    engines = [create_store_engine(store_url) for _ in range(2)]
    barrier = threading.Barrier(len(engines))
    results: list[list] = [[] for _ in engines]
    errors: list[BaseException] = []

    def sweep(index: int) -> None:
        try:
            sweeper = WorkflowService(engines[index], rules)
            barrier.wait(timeout=30)
            results[index] = sweeper.fire_due_timers(now)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for other in engines:
        other.dispose()
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)

    fired = [o.timer_id for result in results for o in result]
    assert sorted(fired) == sorted(handoffs)  # every one, none twice
    assert all(len(o.actions) == 1 for result in results for o in result)
    assert handoff_rows(engine) == [
        {
            "idempotency_key": f"zendesk:{n}:routing:logistics:handoff_overdue",
            "ticket": f"zendesk:{n}",
            "action": "notify",
            "status": "pending",
        }
        for n in tickets
    ]
    with engine.connect() as connection:
        audited = connection.execute(
            text("SELECT count(*) FROM audit WHERE idempotency_key LIKE '%handoff_overdue'")
        ).scalar_one()
    assert audited == len(handoffs)
    assert {r["status"] for k, r in rows(engine).items() if k in handoffs} == {"fired"}


def test_a_sweeper_killed_holding_due_timers_leaves_every_one_to_the_other_once(
    engine, store_url, rules
):
    """reliability.md §6 D22: two processes sweep the same store; the one that claimed the
    due timers dies before committing (its connection ends, as SIGKILL ends it). The other,
    waiting meanwhile rather than firing them too, takes them over: each fires exactly
    once. There is no leader to elect: a claim is a row lock (SKIP LOCKED) under the
    tickets' partition locks, held until commit. PostgreSQL only: on SQLite one process
    writes at a time (one sweeping process, DESIGN §7)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite: one writer, and a claim is that process's transaction")
    tickets = range(70101, 70151)
    service = WorkflowService(engine, rules)
    for number in tickets:
        service.accept_event(wrong_item_created(number), "{}", T0)
    now = DEADLINE + timedelta(minutes=10)
    handoffs = {f"zendesk:{n}:routing.handoff" for n in tickets}

    dying, standby_engine = create_store_engine(store_url), create_store_engine(store_url)
    connection = dying.connect()
    try:
        connection.begin()
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert {d.timer.id for d in claim_due_timers(connection, now, 1000)} >= handoffs

        fired: list = []
        standby = threading.Thread(
            target=lambda: fired.extend(WorkflowService(standby_engine, rules).fire_due_timers(now))
        )
        standby.start()
        standby.join(timeout=1.0)
        assert standby.is_alive()  # waiting for the claim, not firing beside it
        assert handoff_rows(engine) == []

        with engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        standby.join(timeout=30)
        assert not standby.is_alive()
    finally:
        with contextlib.suppress(Exception):
            connection.close()
        dying.dispose()
        standby_engine.dispose()

    assert sorted(o.timer_id for o in fired) == sorted(handoffs)
    assert [r["idempotency_key"] for r in handoff_rows(engine)] == [
        f"zendesk:{n}:routing:logistics:handoff_overdue" for n in tickets
    ]
    assert {r["status"] for k, r in rows(engine).items() if k in handoffs} == {"fired"}
