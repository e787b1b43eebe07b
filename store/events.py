"""Raw inbound events, deduplicated by the provider's id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from deskbridge.store.schema import events
from deskbridge.store.sql import insert_ignoring_conflicts
from deskbridge.workflows.model import TicketEvent


def insert_event(
    connection: Connection, event: TicketEvent, body: str, received_at: datetime
) -> bool:
    """Store the event; False when its dedupe key was already stored (a duplicate)."""
    statement = insert_ignoring_conflicts(connection, events, "dedupe_key").values(
        dedupe_key=event.dedupe_key,
        source=event.source.value,
        ticket=event.ticket_key,
        kind=event.kind.value,
        occurred_at=event.occurred_at,
        received_at=received_at,
        body=body,
    )
    return connection.execute(statement.returning(events.c.id)).first() is not None


def count_events(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(events)).scalar_one()
