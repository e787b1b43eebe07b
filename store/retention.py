"""Retention: rows past their keeping time, deleted in small batches (one short transaction
each, so webhooks and the decider are never held up for long).

Kept whatever their age: undecided and failed events, actions not yet performed (pending)
and dead letters (an operator looks at those), pending timers, ticket rows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Engine, Integer, Table, delete, func, select

from deskbridge.store.events import DECIDED
from deskbridge.store.outbox import DONE
from deskbridge.store.schema import activity, audit, events, outbox, replies


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
        "activity": (activity, activity.c.at < cutoffs["activity"]),
        "replies": (replies, replies.c.at < cutoffs["replies"]),
    }


def count_purgeable(connection: Connection, cutoffs: dict[str, datetime]) -> dict[str, int]:
    """Counts only, on a connection that may be read-only (`purge --dry-run` changes nothing)."""
    return {
        name: connection.execute(select(func.count()).select_from(table).where(where)).scalar_one()
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
        [key] = table.primary_key.columns
        ids = select(key).where(where).limit(batch)
        if isinstance(key.type, Integer):  # serial ids: the oldest first
            ids = ids.order_by(key)
        # Facts and replies are keyed by text: any `batch` old ones, found through their time
        # index (sorting every old row by key for each batch would cost more than it helps).
        ids = ids.scalar_subquery()
        total = 0
        while True:
            with writer or nullcontext(), engine.begin() as connection:
                count = connection.execute(delete(table).where(key.in_(ids))).rowcount
            total += count
            if on_batch is not None and count:
                on_batch(name, count)
            if count < batch:
                break
        deleted[name] = total
    return deleted
