"""Ticket state rows, locked for the length of an event's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from store.schema import tickets
from store.sql import insert_ignoring_conflicts, is_postgres
from workflows.model import TicketState


def lock_ticket(connection: Connection, key: str, now: datetime) -> TicketState | None:
    """Return the ticket's state, holding a row lock until commit (PostgreSQL); SQLite's
    `BEGIN IMMEDIATE` already serialises writers. None for a ticket not seen before."""
    connection.execute(
        insert_ignoring_conflicts(connection, tickets, "key").values(
            key=key, state={}, version=0, updated_at=now
        )
    )
    query = select(tickets.c.state).where(tickets.c.key == key)
    if is_postgres(connection):
        query = query.with_for_update()
    state = connection.execute(query).scalar_one()
    return TicketState.model_validate(state) if state else None


def save_ticket(connection: Connection, state: TicketState, now: datetime) -> None:
    connection.execute(
        update(tickets)
        .where(tickets.c.key == state.key)
        .values(
            state=state.model_dump(mode="json"),
            version=tickets.c.version + 1,
            updated_at=now,
        )
    )


def load_ticket(connection: Connection, key: str) -> TicketState | None:
    state = connection.execute(select(tickets.c.state).where(tickets.c.key == key)).scalar()
    return TicketState.model_validate(state) if state else None
