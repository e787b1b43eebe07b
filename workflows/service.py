"""load → decide → persist: one transaction per event (DESIGN §3 step 3)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from config.logging import log_event
from config.rules import RulesConfig
from store.audit import insert_decisions
from store.events import insert_event
from store.outbox import insert_actions
from store.tickets import lock_ticket, save_ticket
from workflows.actions import Action
from workflows.model import TicketEvent
from workflows.rules import evaluate_rules
from workflows.state import apply_event, mark_fired, new_state

log = logging.getLogger("deskbridge.workflows")


@dataclass
class EventOutcome:
    event: TicketEvent
    duplicate: bool
    actions: list[Action] = field(default_factory=list)


class WorkflowService:
    def __init__(self, engine: Engine, rules: RulesConfig):
        self.engine = engine
        self.rules = rules

    def accept_event(self, event: TicketEvent, body: str, now: datetime) -> EventOutcome:
        """Store the event, fold it into its ticket, decide and queue actions, in one
        transaction. A duplicate (known dedupe key) changes nothing."""
        with self.engine.begin() as connection:
            if not insert_event(connection, event, body, now):
                duplicate = True
            else:
                duplicate = False
                state = lock_ticket(connection, event.ticket_key, now) or new_state(event)
                state, stale = apply_event(state, event)
                decided = evaluate_rules(state, event, now, self.rules)
                actions = insert_actions(connection, decided, now)
                state = mark_fired(state, [a.key for a in decided])
                save_ticket(connection, state, now)
                insert_decisions(connection, actions, event.dedupe_key, now)
        if duplicate:
            log_event(
                log,
                logging.INFO,
                "webhook.duplicate",
                ticket=event.ticket_key,
                event=event.dedupe_key,
            )
            return EventOutcome(event=event, duplicate=True)
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
        for action in actions:
            log_event(
                log,
                logging.INFO,
                "decision.made",
                ticket=action.ticket,
                action=action.action.value,
                rule=action.rule,
                key=action.key,
            )
        return EventOutcome(event=event, duplicate=False, actions=actions)
