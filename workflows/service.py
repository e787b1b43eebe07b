"""load → decide → persist: one transaction per event or due timer (DESIGN §3 steps 3 and 5)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine

from deskbridge.config.logging import log_event
from deskbridge.config.rules import RulesConfig
from deskbridge.store.audit import insert_decisions
from deskbridge.store.events import insert_event
from deskbridge.store.outbox import insert_actions
from deskbridge.store.replies import record_reply
from deskbridge.store.tickets import list_requester_tickets, lock_ticket, save_ticket
from deskbridge.store.timers import (
    cancel_timers,
    list_due_timers,
    lock_due_timer,
    mark_timer_fired,
    schedule_timers,
)
from deskbridge.workflows.actions import Action
from deskbridge.workflows.decision import Context, Decision
from deskbridge.workflows.model import TicketEvent, TicketState
from deskbridge.workflows.rules import evaluate_rules, evaluate_timer
from deskbridge.workflows.state import apply_event, mark_fired, new_state

log = logging.getLogger("deskbridge.workflows")


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


class WorkflowService:
    def __init__(self, engine: Engine, rules: RulesConfig):
        self.engine = engine
        self.rules = rules
        # SQLite has one writer: threads that wait for it in Python queue in order, instead of
        # polling in SQLite's busy handler (which stretched p99 latency to seconds).
        self._writer = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self._writer, self.engine.begin() as connection:
            yield connection

    def accept_event(self, event: TicketEvent, body: str, now: datetime) -> EventOutcome:
        """Store the event, fold it into its ticket, decide, and queue actions and timers, in
        one transaction. A duplicate (known dedupe key) changes nothing."""
        with self._transaction() as connection:
            if not insert_event(connection, event, body, now):
                log_event(
                    log,
                    logging.INFO,
                    "webhook.duplicate",
                    ticket=event.ticket_key,
                    event=event.dedupe_key,
                )
                return EventOutcome(event=event, duplicate=True)
            previous = lock_ticket(connection, event.ticket_key, now)
            state, stale = apply_event(previous or new_state(event), event)
            related = ()
            risk = self.rules.risk
            if state.requester and state.created_at and risk is not None and risk.enabled:
                # Only what repeat-contact detection needs: tickets opened in the window around
                # this one (after it too: the earlier ticket's events may arrive last).
                related = tuple(
                    list_requester_tickets(
                        connection,
                        state.source.value,
                        state.requester,
                        state.key,
                        since=state.created_at - risk.repeat_contact_window,
                        until=state.created_at + risk.repeat_contact_window,
                    )
                )
            ctx = Context(now=now, rules=self.rules, previous=previous, related=related)
            decision = evaluate_rules(state, event, ctx)
            actions = self._persist(connection, state, decision, event.dedupe_key, now)
            if event.comment is not None and event.comment.is_public_agent_reply:
                record_reply(
                    connection,
                    event.comment.id,
                    state.key,
                    event.comment.author_id,
                    event.occurred_at,
                )
        log_event(
            log,
            logging.INFO,
            "event.accepted",
            ticket=event.ticket_key,
            kind=event.kind.value,
            event=event.dedupe_key,
            stale=stale,
            actions=len(actions),
        )
        self._log_decisions(actions)
        return EventOutcome(event=event, duplicate=False, actions=actions)

    def fire_due_timers(self, now: datetime, limit: int = 500) -> list[TimerOutcome]:
        """Fire every timer due by `now` (up to `limit`), each in its own transaction. Safe to
        run from several loops at once: a timer fires once per generation."""
        # On SQLite even this read begins IMMEDIATE (store/db.py), so it queues on the writer
        # lock like any writer; polling SQLite's busy handler instead, the sweep starved behind
        # webhook writers for seconds.
        with self._writer, self.engine.connect() as connection:
            due = list_due_timers(connection, now, limit)
        outcomes = []
        for timer_id, ticket in due:
            with self._transaction() as connection:
                state = lock_ticket(connection, ticket, now)
                locked = lock_due_timer(connection, timer_id, now)
                if locked is None:
                    continue  # fired, cancelled or moved by someone else meanwhile
                mark_timer_fired(connection, locked)
                if state is None:
                    continue  # no ticket to act on; the timer is spent
                ctx = Context(now=now, rules=self.rules, previous=state)
                decision = evaluate_timer(state, locked.timer, ctx)
                actions = self._persist(connection, state, decision, f"timer:{timer_id}", now)
            log_event(
                log,
                logging.INFO,
                "timer.fired",
                ticket=ticket,
                kind=locked.timer.kind,
                late_ms=int((now - locked.timer.due_at).total_seconds() * 1000),
                actions=len(actions),
            )
            self._log_decisions(actions)
            outcomes.append(TimerOutcome(timer_id, ticket, locked.timer.due_at, actions))
        return outcomes

    def _persist(
        self,
        connection: Connection,
        state: TicketState,
        decision: Decision,
        cause: str,
        now: datetime,
    ) -> list[Action]:
        actions = insert_actions(connection, decision.actions, now)
        if decision.updates:
            state = state.model_copy(update=decision.updates)
        state = mark_fired(state, [a.key for a in decision.actions])
        cancel_timers(
            connection, [t for t in decision.cancel if t not in {n.id for n in decision.timers}]
        )
        schedule_timers(connection, decision.timers)
        save_ticket(connection, state, now)
        insert_decisions(connection, actions, cause, now)
        return actions

    def _log_decisions(self, actions: list[Action]) -> None:
        for action in actions:
            log_event(
                log,
                logging.INFO,
                "decision.made",
                ticket=action.ticket,
                action=action.kind.value,
                rule=action.rule,
                key=action.key,
            )
