"""Store repositories and the migration, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from deskbridge.store.events import count_events, insert_event
from deskbridge.store.outbox import insert_actions, list_actions
from deskbridge.store.schema import metadata, timers
from deskbridge.store.tickets import load_ticket, lock_ticket, save_ticket
from deskbridge.workflows.actions import Action, ActionKind, dump_action
from deskbridge.workflows.model import EventKind, Source, TicketEvent, TicketState

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_event(key: str = "e1") -> TicketEvent:
    return TicketEvent(
        source=Source.zendesk,
        ticket_id="7",
        dedupe_key=key,
        kind=EventKind.created,
        occurred_at=NOW,
    )


def test_migration_creates_exactly_the_declared_schema(engine):
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
        tables = set(inspect(connection).get_table_names())
    assert diff == []
    assert {"events", "tickets", "outbox", "timers", "audit", "alembic_version"} <= tables


def test_migration_is_idempotent(engine):
    from deskbridge.store.db import migrate_store

    with engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    # Second run: nothing to do, nothing breaks, and it says so (before and after: the head).
    assert migrate_store(engine) == (heads[0], heads[0])
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_heads() == heads
        assert compare_metadata(context, metadata) == []
    assert len(heads) == 1


def test_event_dedupe_key_is_unique(engine):
    with engine.begin() as connection:
        assert insert_event(connection, make_event(), "{}", NOW) is True
        assert insert_event(connection, make_event(), "{}", NOW) is False
        assert count_events(connection) == 1


def test_body_with_unicode_is_stored_byte_exact(engine):
    body = '{"subject": "Colis 📦 perdu — שלום \\u0000 \\ud800"}'
    with engine.begin() as connection:
        insert_event(connection, make_event(), body, NOW)
    with engine.connect() as connection:
        from deskbridge.store.schema import events

        assert connection.execute(select(events.c.body)).scalar_one() == body


def test_ticket_state_round_trips_and_versions(engine):
    state = TicketState(
        key="zendesk:7",
        source=Source.zendesk,
        ticket_id="7",
        tags=["vip"],
        public_agent_reply_ids=["1", "2"],
        snapshot_at=NOW,
    )
    with engine.begin() as connection:
        assert lock_ticket(connection, "zendesk:7", NOW) is None
        save_ticket(connection, state, NOW)
    with engine.begin() as connection:
        assert lock_ticket(connection, "zendesk:7", NOW) == state
    with engine.connect() as connection:
        assert load_ticket(connection, "zendesk:7") == state


def test_outbox_skips_known_idempotency_keys(engine):
    action = Action(
        kind=ActionKind.tag,
        ticket="zendesk:7",
        rule="r",
        reason="why",
        key="zendesk:7:r:tag",
        params={"tags": ["x"]},
    )
    with engine.begin() as connection:
        assert insert_actions(connection, [action], NOW) == [action]
        assert insert_actions(connection, [action], NOW) == []
        rows = list_actions(connection)
    assert len(rows) == 1
    row = rows[0]
    assert (row["status"], row["attempts"], row["next_attempt_at"], row["payload"]) == (
        "pending",
        0,
        NOW,
        dump_action(action),
    )


def test_times_come_back_aware_utc(engine):
    paris = timezone(timedelta(hours=1))
    with engine.begin() as connection:
        connection.execute(
            timers.insert().values(
                id="t1",
                ticket="zendesk:7",
                kind="sla",
                due_at=datetime(2026, 3, 2, 10, 0, tzinfo=paris),
                generation=0,
                payload={},
                status="pending",
            )
        )
        due = connection.execute(select(timers.c.due_at)).scalar_one()
    assert due == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)


def test_requester_tickets_in_a_window_around_a_ticket_with_their_escalations(engine):
    """Repeat-contact look-up: the requester's other tickets opened in [since, until) on the
    same helpdesk, oldest first, each with the signals it was escalated for."""
    from deskbridge.store.tickets import list_requester_tickets
    from deskbridge.workflows.decision import RelatedTicket

    def ticket(number: str, created: datetime, requester: str = "81", **fields) -> TicketState:
        return TicketState(
            key=f"zendesk:{number}",
            source=Source.zendesk,
            ticket_id=number,
            requester=requester,
            created_at=created,
            **fields,
        )

    rows = [
        ticket("1", NOW - timedelta(days=3)),
        ticket("2", NOW + timedelta(days=2), escalation_signals=["repeat_contact"]),
        ticket("3", NOW),  # the ticket itself
        ticket("4", NOW - timedelta(days=20)),  # before the window
        ticket("5", NOW + timedelta(days=1), requester="99"),  # someone else
    ]
    with engine.begin() as connection:
        for row in rows:
            lock_ticket(connection, row.key, NOW)
            save_ticket(connection, row, NOW)
        found = list_requester_tickets(
            connection,
            "zendesk",
            "81",
            "zendesk:3",
            since=NOW - timedelta(days=14),
            until=NOW + timedelta(days=14),
        )
    assert found == [
        RelatedTicket("zendesk:1", NOW - timedelta(days=3), ()),
        RelatedTicket("zendesk:2", NOW + timedelta(days=2), ("repeat_contact",)),
    ]
