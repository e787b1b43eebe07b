"""Timers: deadlines as rows (DESIGN §7: never APScheduler one-off jobs).

A timer's id is deterministic; setting it again replaces its due time and bumps its generation,
cancelling bumps it too, so a firing that raced a change is recognised as stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from deskbridge.store.schema import timers
from deskbridge.store.sql import is_postgres, rows_as_dicts
from deskbridge.workflows.decision import Timer

PENDING, FIRED, CANCELLED = "pending", "fired", "cancelled"


@dataclass(frozen=True)
class DueTimer:
    timer: Timer
    generation: int


def schedule_timers(connection: Connection, new: list[Timer]) -> None:
    for timer in new:
        changed = connection.execute(
            update(timers)
            .where(timers.c.id == timer.id)
            .values(
                due_at=timer.due_at,
                kind=timer.kind,
                payload=timer.payload,
                status=PENDING,
                generation=timers.c.generation + 1,
            )
        ).rowcount
        if not changed:
            connection.execute(
                insert(timers).values(
                    id=timer.id,
                    ticket=timer.ticket,
                    kind=timer.kind,
                    due_at=timer.due_at,
                    payload=timer.payload,
                    status=PENDING,
                    generation=0,
                )
            )


def cancel_timers(connection: Connection, ids: list[str]) -> None:
    if ids:
        connection.execute(
            update(timers)
            .where(timers.c.id.in_(ids), timers.c.status == PENDING)
            .values(status=CANCELLED, generation=timers.c.generation + 1)
        )


def list_due_timers(connection: Connection, now: datetime, limit: int) -> list[tuple[str, str]]:
    """(timer id, ticket) of pending timers due by `now`, soonest first. Reads only the due
    rows through the (status, due_at) index, however many timers wait in the future."""
    query = (
        select(timers.c.id, timers.c.ticket)
        .where(timers.c.status == PENDING, timers.c.due_at <= now)
        .order_by(timers.c.due_at)
        .limit(limit)
    )
    return [(r.id, r.ticket) for r in connection.execute(query)]


def lock_due_timer(connection: Connection, timer_id: str, now: datetime) -> DueTimer | None:
    """The timer if it is still pending and due, locked until commit (its ticket is locked
    first by the caller, so overlapping sweeps serialise on the ticket)."""
    query = select(timers).where(
        timers.c.id == timer_id, timers.c.status == PENDING, timers.c.due_at <= now
    )
    if is_postgres(connection):
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        return None
    return DueTimer(
        timer=Timer(
            id=row.id, ticket=row.ticket, kind=row.kind, due_at=row.due_at, payload=row.payload
        ),
        generation=row.generation,
    )


def mark_timer_fired(connection: Connection, due: DueTimer) -> None:
    connection.execute(
        update(timers)
        .where(timers.c.id == due.timer.id, timers.c.generation == due.generation)
        .values(status=FIRED)
    )


def next_due_at(connection: Connection) -> datetime | None:
    return connection.execute(
        select(func.min(timers.c.due_at)).where(timers.c.status == PENDING)
    ).scalar()


def list_timers(connection: Connection) -> list[dict]:
    return rows_as_dicts(connection.execute(select(timers).order_by(timers.c.id)))
