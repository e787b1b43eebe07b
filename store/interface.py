"""The store's interface (what store/session.py's SqlStore and store/memory.py's MemoryStore
both implement) and the plain values both hand back: no SQLAlchemy here, so replay on the
memory store does not import it (about 0.25 s of CPU at start, benchmarks/README)."""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from deskbridge.workflows import activity as kinds
from deskbridge.workflows.actions import Action
from deskbridge.workflows.activity import Fact
from deskbridge.workflows.decision import RelatedTicket, Timer
from deskbridge.workflows.digest import Period, PeriodData
from deskbridge.workflows.frozen import quick_init
from deskbridge.workflows.model import TicketEvent, TicketState
from deskbridge.workflows.rotation import Override

if TYPE_CHECKING:
    from sqlalchemy import Engine

# A timer row's status.
PENDING, FIRED, CANCELLED, FAILED = "pending", "fired", "cancelled", "failed"

# A failed event's or timer's error ("Type: message") is kept up to this many characters.
ERROR_CHARS = 2000

# The requester's other tickets a repeat-contact check looks at: enough to say "repeat
# contact".
RELATED_MOST = 20

# Facts the review counts in its period (customer messages only bound unnecessary replies).
COUNTED = (
    kinds.CALL_LOGGED,
    kinds.CALL_REQUESTED,
    kinds.SOLVED,
    kinds.ROUTE,
    kinds.ESCALATE,
    kinds.HANDOFF_OVERDUE,
    kinds.SLA_MET,
    kinds.SLA_BREACH,
    kinds.SLA_BREACH_WITHDRAWN,
    kinds.CSAT_GOOD,
    kinds.CSAT_BAD,
)

# The audit trail's ticket column for decisions about the rotation rather than a ticket.
AUDIT_SUBJECT = "oncall"


@quick_init
@dataclass(frozen=True)
class StoredEvent:
    id: int
    dedupe_key: str
    ticket: str
    received_at: datetime
    # The normalised event: its JSON as stored (None for rows stored before the decider
    # existed), or the TicketEvent itself where the store keeps it parsed (in memory).
    event: str | TicketEvent | None


@quick_init
@dataclass(frozen=True)
class DueTimer:
    timer: Timer
    generation: int


def clip_error(error: str | None) -> str | None:
    """An error as the store keeps it (ERROR_CHARS); None stays None."""
    return None if error is None else error[:ERROR_CHARS]


def build_decision_rows(
    actions: list[Action], event_key: str | None, at: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "at": at,
            "ticket": a.ticket,
            "event_key": event_key,
            "rule": a.rule,
            "action": a.kind._value_,  # `.value`: a Python-level property call on 3.11
            "idempotency_key": a.key,
            "reason": a.reason,
        }
        for a in actions
    ]


def build_reply_row(comment_id: str, ticket: str, author: str | None, at: datetime) -> dict:
    return {"comment_id": f"{ticket}:{comment_id}", "ticket": ticket, "author": author, "at": at}


class StoreSession(Protocol):
    """One transaction's view of the store (also what scheduled jobs read: JobReader)."""

    # -- events
    def insert_ticket_events(
        self, received: Sequence[tuple[TicketEvent, str, datetime]]
    ) -> int: ...
    def lock_shards(self, most: int) -> list[int] | None: ...
    def claim_undecided_events(
        self, limit: int, shards: list[int] | None = None
    ) -> list[StoredEvent]: ...
    def claim_ticket_events(
        self, tickets: Collection[str], until: datetime, limit: int | None = None
    ) -> list[StoredEvent]: ...
    def mark_events_decided(self, ids: Sequence[int], at: datetime) -> bool: ...
    def mark_events_failed(self, failures: Sequence[tuple[int, str]], at: datetime) -> None: ...

    # -- tickets
    def load_ticket_versions(self, keys: Collection[str]) -> dict[str, int]: ...
    def load_ticket_states(
        self, keys: Collection[str]
    ) -> dict[str, tuple[int, TicketState | None]]: ...
    def save_tickets(
        self, saves: Sequence[tuple[TicketState, int | None]], now: datetime
    ) -> bool: ...
    def list_tickets_of_requesters(
        self, requesters: Collection[str], since: datetime, until: datetime
    ) -> dict[str, list[RelatedTicket]]: ...
    def lock_requesters(self, requesters: Collection[str]) -> None: ...
    def list_requester_ticket_keys(
        self, requesters: Collection[str], since: datetime, until: datetime
    ) -> list[tuple[str, str, datetime]]: ...
    def list_requester_tickets(
        self, source: str, requester: str, exclude: str, since: datetime, until: datetime
    ) -> list[RelatedTicket]: ...

    # -- timers
    def claim_due_timers(
        self, now: datetime, limit: int, tickets: Collection[str] | None = None
    ) -> list[DueTimer]: ...
    def next_due_at(self) -> datetime | None: ...
    def schedule_timers(
        self, new: list[Timer], status: str = PENDING, errors: Mapping[str, str] | None = None
    ) -> None: ...
    def cancel_timers(self, ids: list[str]) -> None: ...
    def mark_timers_fired(self, due: list[DueTimer]) -> None: ...
    def mark_timers_failed(self, failures: Sequence[tuple[DueTimer, str]]) -> None: ...

    # -- what was decided
    def insert_actions(self, actions: list[Action], now: datetime) -> list[Action]: ...
    def insert_decision_rows(self, rows: list[dict[str, Any]]) -> None: ...
    def record_replies(self, rows: list[dict]) -> None: ...
    def record_facts(self, new: list[Fact]) -> None: ...

    # -- on call
    def insert_override(self, override: Override, now: datetime) -> int: ...
    def list_overrides(self, ending_after: datetime | None = None) -> list[Override]: ...
    def list_oncall_overrides(self, ending_after: datetime) -> list[Override]: ...
    def list_paged_tickets(self, since: datetime, until: datetime) -> list[TicketState]: ...

    # -- scheduled jobs
    def claim_job_run(self, job: str, occurrence_at: datetime, now: datetime) -> bool: ...
    def record_job_actions(self, job: str, occurrence_at: datetime, actions: int) -> None: ...
    def read_job_run_span(self) -> tuple[datetime, datetime] | None: ...
    def read_period(self, period: Period, repeat_window: timedelta) -> PeriodData: ...
    def read_period_replies(self, period: Period) -> PeriodData: ...
    def read_latest_dated(self) -> datetime | None: ...


class Store(Protocol):
    # The one writer's lock (SQLite: everything in the process that writes queues on it).
    writer: AbstractContextManager
    # Whether a decider reads a batch in a snapshot of its own and then writes it in a short
    # write transaction (SQLite), rather than all in one transaction (PostgreSQL, memory).
    split_reads: bool
    # Whether insert_ticket_events keeps the request bodies (the memory store does not, so
    # replay need not write them out).
    keeps_bodies: bool
    # Whether other deciders (another process, serve's timer sweep) may write tickets while
    # a batch decides: a database, not replay's memory store.
    shared: bool
    # What a write raises when a row it relies on changed meanwhile (a unique key taken by
    # another decider): the decider rolls back and decides the batch again.
    conflicts: tuple[type[Exception], ...]

    def reading(self) -> AbstractContextManager[StoreSession]:
        """A read transaction (on SQLite a WAL snapshot that waits for no writer)."""
        ...

    def writing(self) -> AbstractContextManager[StoreSession]:
        """A write transaction, committed at the end, rolled back on an exception."""
        ...


def as_store(store: Engine | Store) -> Store:
    """A store for `store`: an engine is wrapped in a SqlStore, a store is itself. (An engine
    exists only once SQLAlchemy is imported, so nothing imports it to ask.)"""
    sqlalchemy = sys.modules.get("sqlalchemy")
    if sqlalchemy is not None and isinstance(store, sqlalchemy.Engine):
        from deskbridge.store.session import SqlStore

        return SqlStore(store)
    return store
