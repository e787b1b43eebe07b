"""Retention: rows past their keeping time, deleted in small batches (one short transaction
each, so webhooks and the decider are never held up for long).

Kept whatever their age: undecided and failed events, actions not yet performed (pending)
and dead letters (an operator looks at those), pending timers, ticket rows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, Table, delete, func, select

from deskbridge.store.events import DECIDED
from deskbridge.store.outbox import DONE
from deskbridge.store.schema import audit, events, outbox


def _purgeable(cutoffs: dict[str, datetime]) -> dict[str, tuple[Table, ColumnElement]]:
    """Per table, the rows older than its cutoff that may go."""
    return {
        "events": (
            events,
            (events.c.status == DECIDED) & (events.c.received_at < cutoffs["events"]),
        ),
        "outbox_done": (
            outbox,
            (outbox.c.status == DONE) & (outbox.c.done_at < cutoffs["outbox_done"]),
        ),
        "audit": (audit, audit.c.at < cutoffs["audit"]),
    }


def count_purgeable(engine: Engine, cutoffs: dict[str, datetime]) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(
                select(func.count()).select_from(table).where(where)
            ).scalar_one()
            for name, (table, where) in _purgeable(cutoffs).items()
        }


def purge(
    engine: Engine,
    cutoffs: dict[str, datetime],
    batch: int = 1000,
    writer: AbstractContextManager | None = None,
    on_batch: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Delete every purgeable row, `batch` rows per transaction; returns how many per table."""
    deleted: dict[str, int] = {}
    for name, (table, where) in _purgeable(cutoffs).items():
        ids = select(table.c.id).where(where).order_by(table.c.id).limit(batch).scalar_subquery()
        total = 0
        while True:
            with writer or nullcontext(), engine.begin() as connection:
                count = connection.execute(delete(table).where(table.c.id.in_(ids))).rowcount
            total += count
            if on_batch is not None and count:
                on_batch(name, count)
            if count < batch:
                break
        deleted[name] = total
    return deleted
