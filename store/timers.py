"""Timers: deadlines as rows (DESIGN §7: never APScheduler one-off jobs).

A timer's id is deterministic; setting it again replaces its due time and bumps its generation,
cancelling bumps it too, so a firing that raced a change is recognised as stale. A timer whose
rule raised is marked `failed` with the error (`deskbridge timers --failed`; `deskbridge
redecide` puts it back).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from deskbridge.store.events import lock_ticket_shards
from deskbridge.store.interface import (
    CANCELLED,
    FAILED,
    FIRED,
    PENDING,
    DueTimer,
    clip_error,
)
from deskbridge.store.schema import timers
from deskbridge.store.sql import is_postgres, rows_as_dicts
from deskbridge.workflows.decision import Timer

_UPSERTS: dict[str, Any] = {}
_SET_COLUMNS = ("id", "ticket", "kind", "due_at", "payload", "status", "error")
_CANCEL = (
    update(timers)
    .where(timers.c.id == bindparam("timer_id"), timers.c.status == PENDING)
    .values(status=CANCELLED, generation=timers.c.generation + 1)
)


def _upsert_statement(connection: Connection):
    statement = _UPSERTS.get(connection.dialect.name)
    if statement is None:
        dialect = postgresql if is_postgres(connection) else sqlite
        insert = dialect.insert(timers).values(
            {c: bindparam(c) for c in _SET_COLUMNS} | {"generation": 0}
        )
        statement = insert.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "due_at": insert.excluded.due_at,
                "kind": insert.excluded.kind,
                "payload": insert.excluded.payload,
                "status": insert.excluded.status,
                "error": insert.excluded.error,
                "generation": timers.c.generation + 1,
            },
        )
        _UPSERTS[connection.dialect.name] = statement
    return statement


def schedule_timers(
    connection: Connection,
    new: list[Timer],
    status: str = PENDING,
    errors: Mapping[str, str] | None = None,
) -> None:
    """Set timers (executemany): a new id is inserted; a known one gets the new due time and
    payload, becomes pending again (a failed one forgets its error) and its generation moves
    on. A timer set and fired within one batch is stored `fired` (or `failed`, with its error
    from `errors` by id) outright, so the sweep never fires it."""
    new = list({t.id: t for t in new}.values())  # the last word on each id
    if new:
        errors = errors or {}
        rows = [
            {
                "id": t.id,
                "ticket": t.ticket,
                "kind": t.kind,
                "due_at": t.due_at,
                "payload": t.payload,
                "status": status,
                "error": clip_error(errors.get(t.id)),
            }
            for t in new
        ]
        connection.execute(_upsert_statement(connection), rows)


def cancel_timers(connection: Connection, ids: list[str]) -> None:
    if ids:
        connection.execute(_CANCEL, [{"timer_id": i} for i in ids])


def _select_due(
    query: Select, now: datetime, limit: int, tickets: Collection[str] | None
) -> Select:
    """`query` of the pending timers due by `now`, soonest first (then by id), only `tickets`'
    when given. Those go through the (ticket, status, due_at) index: SQLite, with no
    statistics (nothing here runs ANALYZE), would take (status, due_at) for its order and walk
    every overdue timer of every ticket (54 ms a decider batch with 50,000 overdue after an
    outage, 0.6 ms through the ticket's index). `status || ''` is not an indexed column, so
    the planner cannot pick (status, due_at); each ticket has a handful of timers to filter."""
    if tickets is None:
        query = query.where(timers.c.status == PENDING, timers.c.due_at <= now)
    else:
        query = query.where(
            timers.c.ticket.in_(list(tickets)),
            timers.c.status.concat("") == PENDING,
            timers.c.due_at <= now,
        )
    return query.order_by(timers.c.due_at, timers.c.id).limit(limit)


def list_due_timers(
    connection: Connection, now: datetime, limit: int, tickets: Collection[str] | None = None
) -> list[tuple[str, str]]:
    """(timer id, ticket) of pending timers due by `now`, soonest first (then by id, as they
    are claimed), only `tickets`' when given. Reads only the due rows (through the
    (status, due_at) index, or the tickets' own), however many timers wait in the future."""
    query = _select_due(select(timers.c.id, timers.c.ticket), now, limit, tickets)
    return [(r.id, r.ticket) for r in connection.execute(query)]


def claim_due_timers(
    connection: Connection, now: datetime, limit: int, tickets: Collection[str] | None = None
) -> list[DueTimer]:
    """Pending timers due by `now`, soonest first, locked until commit; only `tickets`' when
    given (the decider's batch: their timers due before its events). Reads only the due
    rows (as list_due_timers), however many timers wait in the future.

    PostgreSQL: first the tickets' decider partitions (waiting for a decider that holds one
    to commit its batch), then the rows of those tickets (SKIP LOCKED, so several sweeps
    share them). Partitions before rows is the deciders' order too: a sweep that locked a
    timer row and then waited for its partition deadlocked with a decider that held the
    partition and was cancelling that timer (an acknowledgement). A decider asking for its
    batch's tickets already holds their partitions (taken again at once, as they are its
    own) and, when none of them has a timer due, pays the one read that finds none."""
    if tickets is not None and not tickets:
        return []
    if is_postgres(connection):
        tickets = {ticket for _, ticket in list_due_timers(connection, now, limit, tickets)}
        if not tickets:
            return []
        lock_ticket_shards(connection, tickets)
        # Read again now the partitions are ours: a decider that held one may have
        # cancelled or moved these timers, or set others due for the same tickets.
    query = _select_due(select(timers), now, limit, tickets)
    if is_postgres(connection):
        query = query.with_for_update(skip_locked=True)
    return [
        DueTimer(
            timer=Timer(
                id=row.id, ticket=row.ticket, kind=row.kind, due_at=row.due_at, payload=row.payload
            ),
            generation=row.generation,
        )
        for row in connection.execute(query)
    ]


_MARK = (
    update(timers)
    .where(timers.c.id == bindparam("timer_id"), timers.c.generation == bindparam("gen"))
    .values(status=bindparam("status"), error=bindparam("error"))
)


def _mark(connection: Connection, done: list[tuple[DueTimer, str, str | None]]) -> None:
    """Claimed timers done: (timer, fired or failed, the error), each if still its generation."""
    if done:
        connection.execute(
            _MARK,
            [
                {"timer_id": d.timer.id, "gen": d.generation, "status": s, "error": clip_error(e)}
                for d, s, e in done
            ],
        )


def mark_timers_fired(connection: Connection, due: list[DueTimer]) -> None:
    _mark(connection, [(d, FIRED, None) for d in due])


def mark_timers_failed(connection: Connection, failures: Sequence[tuple[DueTimer, str]]) -> None:
    """Timers whose rule raised, with the error: kept out of the sweep, listed (`deskbridge
    timers --failed`) until `deskbridge redecide` puts them back."""
    _mark(connection, [(d, FAILED, error) for d, error in failures])


def list_failed_timers(connection: Connection, limit: int = 1000) -> list[dict[str, Any]]:
    """The failed timers, soonest due first: id, ticket, kind, due time and error."""
    query = (
        select(timers.c.id, timers.c.ticket, timers.c.kind, timers.c.due_at, timers.c.error)
        .where(timers.c.status == FAILED)
        .order_by(timers.c.due_at, timers.c.id)
        .limit(limit)
    )
    return rows_as_dicts(connection.execute(query))


def failed_timer_ids(connection: Connection, ids: Sequence[str] | None = None) -> list[str]:
    """The failed timers' ids (all, or those of `ids`): `redecide` follows them."""
    query = select(timers.c.id).where(timers.c.status == FAILED)
    if ids is not None:
        query = query.where(timers.c.id.in_(list(ids)))
    return list(connection.execute(query).scalars())


def timer_statuses(connection: Connection, ids: Sequence[str]) -> dict[str, str]:
    """The status of each of these timers."""
    query = select(timers.c.id, timers.c.status).where(timers.c.id.in_(list(ids)))
    return {n: v for n, v in connection.execute(query)}


def requeue_failed_timers(connection: Connection, ids: Sequence[str] | None = None) -> int:
    """Put failed timers (all, or those ids) back: pending at the due time they had, so the
    sweep fires them at once, as late as they are (a new generation, their error gone)."""
    statement = update(timers).where(timers.c.status == FAILED)
    if ids is not None:
        statement = statement.where(timers.c.id.in_(list(ids)))
    return connection.execute(
        statement.values(status=PENDING, error=None, generation=timers.c.generation + 1)
    ).rowcount


def count_timers(connection: Connection, status: str) -> int:
    return connection.execute(
        select(func.count()).select_from(timers).where(timers.c.status == status)
    ).scalar_one()


def next_due_at(connection: Connection) -> datetime | None:
    return connection.execute(
        select(func.min(timers.c.due_at)).where(timers.c.status == PENDING)
    ).scalar()


def list_timers(connection: Connection) -> list[dict]:
    return rows_as_dicts(connection.execute(select(timers).order_by(timers.c.id)))
