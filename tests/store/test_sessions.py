"""The two stores behind one interface (store/session.py): the memory store answers every
operation the decider and the job runner use exactly as the SQL store does."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.memory import MemoryStore
from deskbridge.store.session import SqlStore
from deskbridge.store.timers import FAILED, FIRED, DueTimer, list_timers
from deskbridge.workflows.activity import CATEGORY, CUSTOMER_MESSAGE, ESCALATE, SOLVED, Fact
from deskbridge.workflows.decider import Decider
from deskbridge.workflows.decision import RelatedTicket, Timer
from deskbridge.workflows.digest import FirstReply, Period, RepeatedReply
from deskbridge.workflows.job_runner import JobRunner
from deskbridge.workflows.model import (
    Comment,
    EventKind,
    Source,
    TicketEvent,
    TicketSnapshot,
    TicketState,
    evolve,
    load_event_json,
)
from deskbridge.workflows.rotation import Override
from deskbridge.workflows.schedule import Job
from tests.store.minute_job import every_minute, post_minute
from tests.test_failed_timers import ERROR, FIRST_WARN, break_sla_rule
from tests.workflows.test_sla_timers import event as urgent

HOUR = timedelta(hours=1)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
        return
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate_store(engine)
    yield SqlStore(engine)
    engine.dispose()


def event(ticket: str, n: int) -> TicketEvent:
    return TicketEvent(
        source=Source.zendesk,
        ticket_id=ticket,
        dedupe_key=f"e-{ticket}-{n}",
        kind=EventKind.comment_added,
        occurred_at=T0 + timedelta(minutes=n),
        ticket=TicketSnapshot(subject="Parcel"),
        comment=Comment(id=f"c{n}", public=True, author_is_agent=True),
    )


def state(ticket: str, requester: str | None, created: datetime | None, **more) -> TicketState:
    return TicketState(
        key=f"zendesk:{ticket}",
        source=Source.zendesk,
        ticket_id=ticket,
        requester=requester,
        created_at=created,
        **more,
    )


def test_events_are_claimed_in_arrival_order_deduplicated_and_decided_once(store):
    with store.writing() as session:
        received = [(event("1", 1), "{}", T0), (event("2", 1), "{}", T0), (event("1", 1), "{}", T0)]
        assert session.insert_ticket_events(received) == 2
        assert session.insert_ticket_events([(event("1", 2), "{}", T0)]) == 1
    with store.writing() as session:
        claimed = session.claim_undecided_events(2)
        assert [(e.dedupe_key, e.ticket, e.received_at) for e in claimed] == [
            ("e-1-1", "zendesk:1", T0),
            ("e-2-1", "zendesk:2", T0),
        ]
        loaded = [
            e if isinstance(e, TicketEvent) else load_event_json(e)
            for e in (c.event for c in claimed)
        ]
        assert loaded == [event("1", 1), event("2", 1)]
        assert session.mark_events_decided([claimed[0].id], T0)
        session.mark_events_failed([(claimed[1].id, "ValueError: no")], T0)
    with store.writing() as session:
        assert session.mark_events_decided([claimed[0].id], T0) is False  # decided already
        assert [e.dedupe_key for e in session.claim_undecided_events(10)] == ["e-1-2"]


def test_a_sweep_claims_its_tickets_undecided_events_arrived_by_then_in_arrival_order(store):
    """claim_ticket_events: the events the timer sweep decides before firing. Only the given
    tickets', undecided ones, arrived by `until`; a ticket's events stop at its first
    undecided one stamped later, even when a later one is stamped earlier (another host's
    clock)."""
    second = timedelta(seconds=1)
    with store.writing() as session:
        session.insert_ticket_events(
            [
                (event("1", 1), "{}", T0),
                (event("2", 1), "{}", T0),
                (event("3", 1), "{}", T0),
                (event("1", 2), "{}", T0 + 5 * second),  # decided below
                (event("1", 3), "{}", T0 + 10 * second),
                (event("2", 2), "{}", T0 + 11 * second),  # after `until`
                (event("2", 3), "{}", T0 + 9 * second),  # stamped earlier: waits for 2-2
                (event("1", 4), "{}", T0 + 10 * second),
            ]
        )
    with store.writing() as session:
        [decided] = [e for e in session.claim_undecided_events(10) if e.dedupe_key == "e-1-2"]
        assert session.mark_events_decided([decided.id], T0)
    with store.reading() as session:
        claimed = session.claim_ticket_events({"zendesk:1", "zendesk:2"}, T0 + 10 * second)
        assert [(e.dedupe_key, e.ticket, e.received_at) for e in claimed] == [
            ("e-1-1", "zendesk:1", T0),
            ("e-2-1", "zendesk:2", T0),
            ("e-1-3", "zendesk:1", T0 + 10 * second),
            ("e-1-4", "zendesk:1", T0 + 10 * second),
        ]
        assert session.claim_ticket_events({"zendesk:4"}, T0 + 10 * second) == []
        assert session.claim_ticket_events(set(), T0 + 10 * second) == []
        # A bounded sweep: the first of them in arrival order.
        capped = session.claim_ticket_events({"zendesk:1", "zendesk:2"}, T0 + 10 * second, 3)
        assert [e.dedupe_key for e in capped] == ["e-1-1", "e-2-1", "e-1-3"]


def test_a_sweep_claims_its_tickets_events_alike_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite: above")
    test_a_sweep_claims_its_tickets_undecided_events_arrived_by_then_in_arrival_order(
        SqlStore(engine)
    )


def test_ticket_versions_are_checked_on_save(store):
    first = state("1", "r1", T0)
    with store.writing() as session:
        assert session.load_ticket_versions(["zendesk:1"]) == {}
        assert session.save_tickets([(first, None)], T0)
    with store.writing() as session:
        assert session.load_ticket_versions(["zendesk:1", "zendesk:2"]) == {"zendesk:1": 1}
        assert session.load_ticket_states(["zendesk:1"]) == {"zendesk:1": (1, first)}
        again = evolve(first, {"subject": "changed"})
        assert session.save_tickets([(again, 1)], T0)
    with store.writing() as session:
        assert session.load_ticket_states(["zendesk:1"]) == {"zendesk:1": (2, again)}
        assert session.save_tickets([(first, 1)], T0) is False  # someone else's version 2


def test_a_requester_s_other_tickets_in_the_window(store):
    with store.writing() as session:
        session.save_tickets(
            [
                (state("1", "r1", T0, escalation_signals=["threat"]), None),
                (state("2", "r1", T0 + timedelta(days=2)), None),
                (state("3", "r1", T0 + timedelta(days=30)), None),
                (state("4", "r2", T0 + timedelta(hours=1)), None),
                (state("5", "r1", None), None),
                # Stored in UTC whatever the offset it was given with.
                (state("6", "r2", T0.astimezone(timezone(timedelta(hours=2)))), None),
            ],
            T0,
        )
    since, until = T0 - timedelta(days=14), T0 + timedelta(days=14)
    with store.reading() as session:
        assert session.list_tickets_of_requesters(["r1", "r2", "r9"], since, until) == {
            "r1": [
                RelatedTicket("zendesk:1", T0, ("threat",)),
                RelatedTicket("zendesk:2", T0 + timedelta(days=2)),
            ],
            "r2": [
                RelatedTicket("zendesk:6", T0),
                RelatedTicket("zendesk:4", T0 + timedelta(hours=1)),
            ],
        }
        found = session.list_requester_tickets("zendesk", "r1", "zendesk:2", since, until)
        assert found == [RelatedTicket("zendesk:1", T0, ("threat",))]
        assert found[0].created_at.tzinfo is UTC
        assert session.list_requester_tickets("salesforce", "r1", "x", since, until) == []


def test_timers_set_again_cancelled_claimed_in_due_order_and_fired_once(store):
    later = T0 + timedelta(minutes=30)
    local = timezone(timedelta(hours=-5))
    with store.writing() as session:
        session.schedule_timers(
            [
                Timer("b", "zendesk:1", "sla", T0, {"stage": "warn"}),
                Timer("a", "zendesk:1", "sla", T0),
                Timer("c", "zendesk:2", "handoff", later),
                Timer("d", "zendesk:2", "handoff", T0),
            ]
        )
        session.schedule_timers([Timer("c", "zendesk:2", "handoff", T0.astimezone(local))])
        session.cancel_timers(["d", "unknown"])
        assert session.next_due_at() == T0
    with store.writing() as session:
        due = session.claim_due_timers(T0, 10)
        assert [(d.timer.id, d.timer.due_at, d.generation) for d in due] == [
            ("a", T0, 0),
            ("b", T0, 0),
            ("c", T0, 1),
        ]
        assert due[1].timer.payload == {"stage": "warn"}
        assert due[2].timer.due_at.tzinfo is UTC
        assert [d.timer.id for d in session.claim_due_timers(T0, 2)] == ["a", "b"]
        session.mark_timers_fired(due[:1])
        session.mark_timers_failed([(due[1], "ValueError: no")])
        # A firing of an older generation (the timer was set again since) changes nothing.
        session.mark_timers_fired([DueTimer(due[2].timer, 0)])
    with store.writing() as session:
        assert [d.timer.id for d in session.claim_due_timers(later, 10)] == ["c"]
        session.schedule_timers([Timer("e", "zendesk:3", "sla", T0)], FIRED)
        assert session.next_due_at() == T0
    with store.reading() as session:
        assert [d.timer.id for d in session.claim_due_timers(later, 10)] == ["c"]


def test_a_decider_claims_only_its_batch_s_tickets_due_timers(store):
    """claim_due_timers with tickets (the decider's batch): those tickets' timers due by
    then, soonest first; the others stay claimable by the sweep."""
    with store.writing() as session:
        session.schedule_timers(
            [
                Timer("a", "zendesk:1", "sla", T0 + 2 * HOUR),
                Timer("b", "zendesk:2", "sla", T0),
                Timer("c", "zendesk:1", "sla", T0 + HOUR),
                Timer("d", "zendesk:3", "sla", T0),
                Timer("e", "zendesk:1", "sla", T0 + 3 * HOUR),
            ]
        )
    with store.writing() as session:
        due = session.claim_due_timers(T0 + 2 * HOUR, 10, {"zendesk:1", "zendesk:4"})
        assert [(d.timer.id, d.timer.ticket, d.timer.due_at) for d in due] == [
            ("c", "zendesk:1", T0 + HOUR),
            ("a", "zendesk:1", T0 + 2 * HOUR),
        ]
        ids = [d.timer.id for d in session.claim_due_timers(T0 + 2 * HOUR, 1, {"zendesk:1"})]
        assert ids == ["c"]
        assert session.claim_due_timers(T0 + 2 * HOUR, 10, {"zendesk:4"}) == []
        assert session.claim_due_timers(T0 + 2 * HOUR, 10, set()) == []
    with store.writing() as session:
        ids = [d.timer.id for d in session.claim_due_timers(T0 + 2 * HOUR, 10)]
        assert ids == ["b", "d", "c", "a"]


def test_a_decider_claims_its_tickets_timers_alike_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite: above")
    test_a_decider_claims_only_its_batch_s_tickets_due_timers(SqlStore(engine))


def test_an_action_is_queued_once_by_key(store):
    from deskbridge.workflows.actions import Action, ActionKind

    def action(key: str) -> Action:
        return Action(kind=ActionKind.tag, ticket="zendesk:1", rule="r", key=key, reason="x")

    with store.writing() as session:
        assert [a.key for a in session.insert_actions([action("k1"), action("k1")], T0)] == ["k1"]
        assert [a.key for a in session.insert_actions([action("k1"), action("k2")], T0)] == ["k2"]


def test_a_transaction_that_raises_leaves_nothing(store):
    with pytest.raises(RuntimeError), store.writing() as session:
        session.insert_ticket_events([(event("1", 1), "{}", T0)])
        session.save_tickets([(state("1", "r1", T0), None)], T0)
        session.schedule_timers([Timer("a", "zendesk:1", "sla", T0)])
        session.record_replies(
            [{"comment_id": "zendesk:1:c1", "ticket": "zendesk:1", "author": "a", "at": T0}]
        )
        session.record_facts([Fact("f1", T0, CATEGORY, "zendesk:1", detail="damage")])
        assert session.claim_job_run("minute", T0, T0)
        raise RuntimeError("the job failed")
    with store.reading() as session:
        assert session.claim_undecided_events(10) == []
        assert session.load_ticket_versions(["zendesk:1"]) == {}
        assert session.next_due_at() is None
        assert session.read_job_run_span() is None
        assert session.read_latest_dated() in (None, T0)  # memory: only reused less
        period = Period(
            "day", T0.date(), T0.date(), T0 - timedelta(hours=9), T0 + timedelta(hours=9)
        )
        assert session.read_period(period, timedelta(days=14)).categories == {}
        assert session.read_period_replies(period).responses == {}
    with store.writing() as session:  # the same rows can be written afterwards
        assert session.insert_ticket_events([(event("1", 1), "{}", T0)]) == 1
        assert session.claim_job_run("minute", T0, T0)


def test_timers_set_again_and_cancelled_in_a_transaction_that_raises_are_as_before(store):
    later = T0 + timedelta(hours=1)
    with store.writing() as session:
        session.schedule_timers(
            [Timer("a", "zendesk:1", "sla", T0), Timer("b", "zendesk:1", "sla", T0 + HOUR)]
        )
    with pytest.raises(RuntimeError), store.writing() as session:
        session.schedule_timers([Timer("a", "zendesk:1", "sla", later + HOUR, {"stage": "x"})])
        session.cancel_timers(["b"])
        session.schedule_timers(
            [Timer("c", "zendesk:2", "sla", T0), Timer("b", "zendesk:1", "sla", T0)]
        )
        session.cancel_timers(["a", "c"])
        raise RuntimeError("the batch failed")
    with store.reading() as session:
        assert session.next_due_at() == T0
        due = session.claim_due_timers(later + 2 * HOUR, 10)
        assert [(d.timer.id, d.timer.due_at, d.timer.payload, d.generation) for d in due] == [
            ("a", T0, {}, 0),
            ("b", T0 + HOUR, {}, 0),
        ]


def test_a_failing_job_leaves_no_run_and_is_run_again(store, rules):
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    failed = []

    def flaky(occurrence, rules_, reader):
        if not failed:
            failed.append(occurrence)
            raise RuntimeError("store hiccup")
        return post_minute(occurrence, rules_, reader)

    runner = JobRunner(store, rules, {"minute": Job("minute", every_minute, flaky)})
    job = runner.jobs["minute"]
    assert runner.run_occurrence(job, at, at) is None
    with store.reading() as session:
        assert session.read_job_run_span() is None
    outcome = runner.run_occurrence(job, at, at + timedelta(minutes=1))
    assert [a.key for a in outcome.actions] == ["job:minute:test:2026-03-02T12:00:00Z"]
    assert runner.run_occurrence(job, at, at + timedelta(minutes=2)) is None  # run once
    with store.reading() as session:
        assert session.read_job_run_span() == (at + timedelta(minutes=1), at + timedelta(minutes=1))


def test_overrides_and_paged_tickets(store):
    paged = state("7", "r1", T0)
    with store.writing() as session:
        first = session.insert_override(Override("U1", T0, T0 + timedelta(hours=8)), T0)
        second = session.insert_override(
            Override("U2", T0 + timedelta(days=1), T0 + timedelta(days=2), by="U9"), T0
        )
        assert (first, second) == (1, 2)
        session.save_tickets([(paged, None), (state("8", "r1", T0), None)], T0)
        session.insert_decision_rows(
            [
                {
                    "at": T0 + timedelta(hours=1),
                    "ticket": "zendesk:7",
                    "event_key": "e",
                    "rule": "oncall",
                    "action": "page_oncall",
                    "idempotency_key": "p1",
                    "reason": "after hours",
                }
            ]
        )
    with store.reading() as session:
        assert session.list_overrides() == [
            Override("U1", T0, T0 + timedelta(hours=8), by=""),
            Override("U2", T0 + timedelta(days=1), T0 + timedelta(days=2), by="U9"),
        ]
        assert [o.person for o in session.list_oncall_overrides(T0 + timedelta(hours=9))] == ["U2"]
        assert session.list_paged_tickets(T0, T0 + timedelta(hours=2)) == [paged]
        assert session.list_paged_tickets(T0 + timedelta(hours=2), T0 + timedelta(hours=3)) == []


def test_period_reads(store):
    """Responses per author, first replies, same-author repeats (broken by a customer
    message), counted facts, categories and repeat contacts."""

    def reply(ticket: str, n: int, author: str | None, minutes: int) -> dict:
        at = T0 + timedelta(minutes=minutes)
        return {
            "comment_id": f"zendesk:{ticket}:{n}",
            "ticket": f"zendesk:{ticket}",
            "author": author,
            "at": at,
        }

    day = Period("day", T0.date(), T0.date(), T0 - timedelta(hours=9), T0 + timedelta(hours=15))
    with store.writing() as session:
        session.save_tickets(
            [
                (state("1", "r1", T0 - timedelta(hours=1)), None),
                (state("2", "r1", T0 - timedelta(days=3)), None),  # r1's earlier ticket
                (state("3", "r2", None), None),
            ],
            T0,
        )
        session.record_replies(
            [
                reply("1", 1, "a", 10),
                reply("1", 2, "a", 20),  # a repeat of 1
                reply("1", 3, "b", 25),
                reply("1", 4, "a", 40),  # after the customer's message at 30: not a repeat
                reply("1", 5, None, 50),
                reply("3", 1, "a", 5),
                reply("3", 2, "a", 5),  # same instant, later comment id: a repeat
            ]
        )
        session.record_facts(
            [
                Fact("m1", T0 + timedelta(minutes=30), CUSTOMER_MESSAGE, "zendesk:1"),
                Fact("s1", T0 + timedelta(minutes=45), SOLVED, "zendesk:1", person="a"),
                Fact("s2", T0 + timedelta(minutes=46), SOLVED, "zendesk:1", person="a"),
                Fact("c1", T0, CATEGORY, "zendesk:1", detail="damage"),
                Fact("c2", T0 - timedelta(days=7), CATEGORY, "zendesk:2", detail="damage"),
                # Ticket 1 raised twice (the specialists, then the leads), 3 once, 2 the day
                # before: three escalations in the day, two tickets.
                Fact("e1", T0 + timedelta(minutes=5), ESCALATE, "zendesk:1"),
                Fact("e2", T0 + timedelta(minutes=55), ESCALATE, "zendesk:1"),
                Fact("e3", T0 + timedelta(minutes=6), ESCALATE, "zendesk:3"),
                Fact("e4", T0 - timedelta(days=1), ESCALATE, "zendesk:2"),
            ]
        )
    with store.reading() as session:
        data = session.read_period(day, timedelta(days=14))
        assert data.responses == {("zendesk", None): 1, ("zendesk", "a"): 5, ("zendesk", "b"): 1}
        assert sorted(data.first_replies, key=lambda f: f.ticket) == [
            FirstReply("zendesk:1", "a", T0 - timedelta(hours=1), T0 + timedelta(minutes=10))
        ]
        assert data.repeated_replies == [
            RepeatedReply("zendesk:1", "a", T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)),
            RepeatedReply("zendesk:3", "a", T0 + timedelta(minutes=5), T0 + timedelta(minutes=5)),
        ]
        assert data.facts == {
            (ESCALATE, None, "zendesk", None): 3,
            (SOLVED, None, "zendesk", "a"): 2,
        }
        assert data.escalated_tickets == 2
        assert data.repeat_contacts == 1
        assert data.categories == {"damage": 1}
        assert data.trailing_categories == {"damage": 1}
        replies_only = session.read_period_replies(day)
        assert replies_only.responses == data.responses
        assert replies_only.repeated_replies == data.repeated_replies
        assert replies_only.first_replies == [] and replies_only.facts == {}
        assert session.read_latest_dated() == T0 + timedelta(minutes=55)


def test_a_timer_cancelled_and_set_again_in_a_rolled_back_transaction_is_pending_as_before(store):
    with store.writing() as session:
        session.schedule_timers([Timer("a", "zendesk:1", "sla", T0)])
    with pytest.raises(RuntimeError), store.writing() as session:
        # A clock stopped and started again in one batch: its timer cancelled, then set again.
        session.cancel_timers(["a"])
        session.schedule_timers([Timer("a", "zendesk:1", "sla", T0 + timedelta(hours=1))])
        raise RuntimeError("the batch failed")
    with store.reading() as session:
        assert session.next_due_at() == T0
        due = session.claim_due_timers(T0, 10)
        assert [(d.timer.id, d.timer.due_at, d.generation) for d in due] == [("a", T0, 0)]


def _apply_timer_operations(session, operations: list[tuple[str, str, int]]) -> None:
    for kind, timer_id, minutes in operations:
        timer = Timer(timer_id, "zendesk:1", "sla", T0 + timedelta(minutes=minutes))
        if kind == "set":
            session.schedule_timers([timer])
        elif kind == "set fired":
            session.schedule_timers([timer], FIRED)
        elif kind == "set failed":
            session.schedule_timers([timer], FAILED, {timer_id: f"KeyError: {minutes}"})
        elif kind == "cancel":
            session.cancel_timers([timer_id])
        else:
            due = session.claim_due_timers(T0 + timedelta(minutes=10), 100)
            mine = [d for d in due if d.timer.id == timer_id]
            if kind == "fire":
                session.mark_timers_fired(mine)
            else:
                session.mark_timers_failed([(d, f"ValueError: {timer_id} {minutes}") for d in mine])


@pytest.mark.parametrize("seed", range(40))
def test_timer_changes_committed_or_rolled_back_leave_memory_and_sql_alike(seed, tmp_path):
    """The memory store changes timer rows in place (set again, cancelled) and undoes those
    changes on a rollback: any mix of them, in transactions that commit or raise, leaves the
    timers as SQL leaves them (seeds 9 and 12 catch an undo that puts a copy of a row back),
    failed ones with the same error."""
    import random

    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate_store(engine)
    stores = (MemoryStore(), SqlStore(engine))
    kinds = ("set", "set fired", "set failed", "cancel", "fire", "fail")
    choose = random.Random(seed)
    for _ in range(6):
        operations = [
            (choose.choice(kinds), choose.choice("abc"), choose.randint(0, 5))
            for _ in range(choose.randint(1, 5))
        ]
        raises = choose.random() < 0.5
        timers = []
        for store in stores:
            with contextlib.suppress(RuntimeError), store.writing() as session:
                _apply_timer_operations(session, operations)
                if raises:
                    raise RuntimeError("the batch failed")
            with store.reading() as session:
                due = session.claim_due_timers(T0 + timedelta(minutes=10), 100)
                timers.append(
                    (
                        session.next_due_at(),
                        [(d.timer.id, d.timer.due_at, d.generation) for d in due],
                    )
                )
        assert timers[0] == timers[1], operations
        with engine.connect() as connection:
            assert stores[0].list_timers() == list_timers(connection), operations
    engine.dispose()


def test_a_timer_set_and_failed_within_a_batch_is_stored_failed_with_its_error(
    store, rules, monkeypatch
):
    """A batch whose first event sets a timer due before its next one fires it in the batch
    and stores it done outright (replay's batches, and a live batch behind): when its rule
    raised, failed with the error, on either store."""
    break_sla_rule(monkeypatch)
    later = T0 + 2 * HOUR
    with store.writing() as session:
        session.insert_ticket_events(
            [
                (urgent(1, T0, EventKind.created), "{}", T0),
                (urgent(2, later, EventKind.priority_changed), "{}", later),
            ]
        )

    decided = Decider(store, rules, lambda: later).decide_in_time_order()

    assert [(d.cause, d.error) for d in decided if d.is_timer] == [(f"timer:{FIRST_WARN}", ERROR)]
    if isinstance(store, MemoryStore):
        timers = store.list_timers()
    else:
        with store.engine.connect() as connection:
            timers = list_timers(connection)
    assert {t["id"]: (t["status"], t["error"]) for t in timers} == {
        FIRST_WARN: ("failed", ERROR),
        "zendesk:7:sla:resolution:warn1": ("pending", None),
        "zendesk:7:oncall.unanswered": ("pending", None),
    }
