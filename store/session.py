"""The store as the decider, the job runner and replay use it: one interface, two stores.

`Store` opens transactions; each yields a `StoreSession`, the operations deciding needs
(claim undecided events, load and save ticket states, set and claim timers, queue actions,
record audit rows, replies and facts, claim job runs, read periods for the scheduled jobs).
`SqlStore` (here) runs them on a SQLAlchemy engine with the repositories of this package;
`MemoryStore` (store/memory.py) keeps the same data in Python structures, for replay. The
decider has one code path over either.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from deskbridge.store import activity, audit, events, jobs, oncall, outbox, replies, tickets
from deskbridge.store import timers as timer_rows
from deskbridge.store.interface import (  # noqa: F401 (Store, StoreSession, as_store: here as before)
    PENDING,
    DueTimer,
    Store,
    StoredEvent,
    StoreSession,
    as_store,
)
from deskbridge.workflows.actions import Action
from deskbridge.workflows.activity import Fact
from deskbridge.workflows.decision import RelatedTicket, Timer
from deskbridge.workflows.digest import Period, PeriodData
from deskbridge.workflows.model import TicketEvent, TicketState
from deskbridge.workflows.rotation import Override


class SqlSession:
    """A StoreSession over one SQLAlchemy connection in a transaction."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def insert_ticket_events(self, received: Sequence[tuple[TicketEvent, str, datetime]]) -> int:
        """Store (event, body, received at) as undecided; returns how many were new."""
        rows = [events.build_event_row(e, body, at) for e, body, at in received]
        return events.insert_events(self.connection, rows)

    def lock_shards(self, most: int) -> list[int] | None:
        return events.lock_shards(self.connection, most)

    def claim_undecided_events(
        self, limit: int, shards: list[int] | None = None
    ) -> list[StoredEvent]:
        return events.claim_undecided_events(self.connection, limit, shards)

    def claim_ticket_events(
        self, tickets: Collection[str], until: datetime, limit: int | None = None
    ) -> list[StoredEvent]:
        return events.claim_ticket_events(self.connection, tickets, until, limit)

    def mark_events_decided(self, ids: Sequence[int], at: datetime) -> bool:
        return events.mark_events_decided(self.connection, ids, at)

    def mark_events_failed(self, failures: Sequence[tuple[int, str]], at: datetime) -> None:
        events.mark_events_failed(self.connection, failures, at)

    def load_ticket_versions(self, keys: Collection[str]) -> dict[str, int]:
        return tickets.load_ticket_versions(self.connection, keys)

    def load_ticket_states(
        self, keys: Collection[str]
    ) -> dict[str, tuple[int, TicketState | None]]:
        return tickets.load_ticket_states(self.connection, keys)

    def save_tickets(self, saves: Sequence[tuple[TicketState, int | None]], now: datetime) -> bool:
        return tickets.save_tickets(self.connection, saves, now)

    def list_tickets_of_requesters(
        self, requesters: Collection[str], since: datetime, until: datetime
    ) -> dict[str, list[RelatedTicket]]:
        return tickets.list_tickets_of_requesters(self.connection, requesters, since, until)

    def lock_requesters(self, requesters: Collection[str]) -> None:
        tickets.lock_requesters(self.connection, requesters)

    def list_requester_ticket_keys(
        self, requesters: Collection[str], since: datetime, until: datetime
    ) -> list[tuple[str, str, datetime]]:
        return tickets.list_requester_ticket_keys(self.connection, requesters, since, until)

    def list_requester_tickets(
        self, source: str, requester: str, exclude: str, since: datetime, until: datetime
    ) -> list[RelatedTicket]:
        return tickets.list_requester_tickets(
            self.connection, source, requester, exclude, since, until
        )

    def claim_due_timers(
        self, now: datetime, limit: int, tickets: Collection[str] | None = None
    ) -> list[DueTimer]:
        return timer_rows.claim_due_timers(self.connection, now, limit, tickets)

    def next_due_at(self) -> datetime | None:
        return timer_rows.next_due_at(self.connection)

    def schedule_timers(
        self, new: list[Timer], status: str = PENDING, errors: Mapping[str, str] | None = None
    ) -> None:
        timer_rows.schedule_timers(self.connection, new, status, errors)

    def cancel_timers(self, ids: list[str]) -> None:
        timer_rows.cancel_timers(self.connection, ids)

    def mark_timers_fired(self, due: list[DueTimer]) -> None:
        timer_rows.mark_timers_fired(self.connection, due)

    def mark_timers_failed(self, failures: Sequence[tuple[DueTimer, str]]) -> None:
        timer_rows.mark_timers_failed(self.connection, failures)

    def insert_actions(self, actions: list[Action], now: datetime) -> list[Action]:
        return outbox.insert_actions(self.connection, actions, now)

    def insert_decision_rows(self, rows: list[dict[str, Any]]) -> None:
        audit.insert_decision_rows(self.connection, rows)

    def record_replies(self, rows: list[dict]) -> None:
        replies.record_replies(self.connection, rows)

    def record_facts(self, new: list[Fact]) -> None:
        activity.record_facts(self.connection, new)

    def insert_override(self, override: Override, now: datetime) -> int:
        return oncall.insert_override(self.connection, override, now)

    def list_overrides(self, ending_after: datetime | None = None) -> list[Override]:
        return oncall.list_overrides(self.connection, ending_after)

    def list_oncall_overrides(self, ending_after: datetime) -> list[Override]:
        return oncall.list_overrides(self.connection, ending_after=ending_after)

    def list_paged_tickets(self, since: datetime, until: datetime) -> list[TicketState]:
        return oncall.list_paged_tickets(self.connection, since, until)

    def claim_job_run(self, job: str, occurrence_at: datetime, now: datetime) -> bool:
        return jobs.claim_job_run(self.connection, job, occurrence_at, now)

    def record_job_actions(self, job: str, occurrence_at: datetime, actions: int) -> None:
        jobs.record_job_actions(self.connection, job, occurrence_at, actions)

    def read_job_run_span(self) -> tuple[datetime, datetime] | None:
        return jobs.read_job_run_span(self.connection)

    def read_period(self, period: Period, repeat_window: timedelta) -> PeriodData:
        return activity.read_period(self.connection, period, repeat_window)

    def read_period_replies(self, period: Period) -> PeriodData:
        return activity.read_period_replies(self.connection, period)

    def read_latest_dated(self) -> datetime | None:
        return activity.read_latest_dated(self.connection)


# PostgreSQL's answers that a transaction was given up for another's sake, not for the
# store's health: deadlock_detected (two deciders' batches locking requesters in different
# orders, one having held some at its read) and serialization_failure. Done again, it passes.
_GIVEN_UP = frozenset({"40P01", "40001"})


class TransactionGivenUp(Exception):
    """A write transaction PostgreSQL rolled back for another's sake (_GIVEN_UP): a conflict
    the decider decides again at once, not a store that is down."""


class SqlStore:
    """The store on a database (SQLite or PostgreSQL), through SQLAlchemy."""

    def __init__(self, engine: Engine):
        self.engine = engine
        sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer: everything in this process that writes queues on this lock in
        # Python instead of polling in SQLite's busy handler (which stretched p99 to seconds).
        self.writer: AbstractContextManager = threading.Lock() if sqlite else nullcontext()
        self.split_reads = sqlite
        self.keeps_bodies = True
        self.shared = True
        self.conflicts: tuple[type[Exception], ...] = (IntegrityError, TransactionGivenUp)

    @contextmanager
    def reading(self) -> Iterator[SqlSession]:
        options = {"sqlite_deferred": True} if self.split_reads else {}
        with (
            self.engine.connect().execution_options(**options) as connection,
            connection.begin(),
        ):
            yield SqlSession(connection)

    @contextmanager
    def writing(self) -> Iterator[SqlSession]:
        try:
            with self.writer, self.engine.begin() as connection:
                yield SqlSession(connection)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) in _GIVEN_UP:
                raise TransactionGivenUp(exc.orig.sqlstate) from exc
            raise
