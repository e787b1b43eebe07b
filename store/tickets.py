"""Ticket state rows, locked for the length of an event's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from deskbridge.store.schema import tickets
from deskbridge.store.sql import insert_ignoring_conflicts, is_postgres
from deskbridge.workflows.decision import RelatedTicket
from deskbridge.workflows.model import Status, TicketState


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
            requester=state.requester,
            created_at=state.created_at,
            assignee=state.assignee,
            status=state.status.value,
        )
    )


def list_requester_tickets(
    connection: Connection,
    source: str,
    requester: str,
    exclude: str,
    since: datetime,
    until: datetime,
    limit: int = 20,
) -> list[RelatedTicket]:
    """The requester's other tickets on the same helpdesk opened in [since, until), oldest
    first (at most `limit`: enough to say "repeat contact"), with what each was escalated for."""
    query = (
        select(tickets.c.key, tickets.c.created_at, tickets.c.state)
        .where(
            tickets.c.requester == requester,
            tickets.c.key != exclude,
            tickets.c.key.startswith(f"{source}:"),
            tickets.c.created_at >= since,
            tickets.c.created_at < until,
        )
        .order_by(tickets.c.created_at)
        .limit(limit)
    )
    return [
        RelatedTicket(
            key=r.key,
            created_at=r.created_at,
            escalation_signals=tuple((r.state or {}).get("escalation_signals") or ()),
        )
        for r in connection.execute(query)
    ]


def load_ticket(connection: Connection, key: str) -> TicketState | None:
    state = connection.execute(select(tickets.c.state).where(tickets.c.key == key)).scalar()
    return TicketState.model_validate(state) if state else None


def list_open_tickets(connection: Connection, assignee: str | None = None) -> list[TicketState]:
    """Tickets not solved or closed, optionally only those assigned to `assignee`."""
    done = [status.value for status in Status if status.is_done]
    query = select(tickets.c.state).where(tickets.c.status.not_in(done))
    if assignee is not None:
        query = query.where(tickets.c.assignee == assignee)
    return [TicketState.model_validate(s) for s in connection.execute(query).scalars() if s]
