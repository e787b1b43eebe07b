"""The workflow service: store events (the acknowledgement), and decide them with the decider.

The webhook only stores (`store_events`) and wakes the decider thread. Callers that need the
decision at once (Slack buttons and commands, tests) use `accept_event`: store, then decide
whatever is pending, this event included, before returning its actions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from deskbridge.config.rules import RulesConfig
from deskbridge.store.events import (
    UNDECIDED,
    EventInserter,
    EventNotifier,
    build_event_row,
    event_status,
)
from deskbridge.store.outbox import list_event_actions
from deskbridge.workflows.actions import Action
from deskbridge.workflows.decider import Decider
from deskbridge.workflows.metrics import Metrics
from deskbridge.workflows.model import TicketEvent


@dataclass
class EventOutcome:
    event: TicketEvent
    duplicate: bool
    actions: list[Action] = field(default_factory=list)


@dataclass
class TimerOutcome:
    timer_id: str
    ticket: str
    due_at: datetime
    actions: list[Action] = field(default_factory=list)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WorkflowService:
    def __init__(
        self,
        engine: Engine,
        rules: RulesConfig,
        clock: Callable[[], datetime] = _utc_now,
        metrics: Metrics | None = None,
    ):
        self.engine = engine
        self.rules = rules
        self.decider = Decider(engine, rules, clock, metrics)
        # SQLite: acknowledgements commit in groups under the one writer's lock.
        writer = self.decider.writer if engine.dialect.name == "sqlite" else None
        self.inserter = EventInserter(engine, writer)
        # Deciders in other processes (worker beside gunicorn) are told after the commit.
        self.notifier = EventNotifier.for_engine(engine)

    def store_events(self, events: Sequence[TicketEvent], body: str, now: datetime) -> int:
        """The acknowledgement: insert the events as undecided in one transaction and wake the
        deciders, this process's and (PostgreSQL) the others'. Returns how many were new (0:
        all duplicates)."""
        rows = [build_event_row(e, body, now) for e in events]
        inserted = self.inserter.insert(rows)  # under the writer's lock (SQLite)
        if inserted:
            self.decider.wake()
            self.notifier.notify()
        return inserted

    def accept_event(self, event: TicketEvent, body: str, now: datetime) -> EventOutcome:
        """Store the event and decide it now; a duplicate (known dedupe key) changes nothing."""
        if not self.store_events([event], body, now):
            return EventOutcome(event=event, duplicate=True)
        deadline = time.monotonic() + 10
        while True:
            for decided in self.decider.decide_pending(now=now):
                if decided.cause == event.dedupe_key:
                    return EventOutcome(event=event, duplicate=False, actions=decided.actions)
            # Decided meanwhile by the decider thread (or another decider holds the ticket).
            with self.decider.writer, self.engine.connect() as connection:
                if event_status(connection, event.dedupe_key) != UNDECIDED:
                    actions = list_event_actions(connection, event.dedupe_key)
                    return EventOutcome(event=event, duplicate=False, actions=actions)
            if time.monotonic() > deadline:
                return EventOutcome(event=event, duplicate=False)
            time.sleep(0.01)

    def fire_due_timers(self, now: datetime, limit: int = 500) -> list[TimerOutcome]:
        """Fire every timer due by `now` (up to `limit`) in one transaction."""
        return [
            TimerOutcome(d.cause.removeprefix("timer:"), d.ticket, d.due_at, d.actions)
            for d in self.decider.fire_due_timers(now, limit)
            if d.error is None
        ]
