"""The rule registry: name → pure function (state, event, now, rules) -> list[Action]."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from config.rules import RulesConfig
from workflows.actions import Action
from workflows.model import TicketEvent, TicketState
from workflows.rules.three_responses import evaluate_three_responses

Rule = Callable[[TicketState, TicketEvent, datetime, RulesConfig], list[Action]]

RULES: dict[str, Rule] = {
    "three_responses": evaluate_three_responses,
}


def evaluate_rules(
    state: TicketState, event: TicketEvent, now: datetime, rules: RulesConfig
) -> list[Action]:
    """Every rule's actions for this event, minus those already decided for the ticket."""
    actions: list[Action] = []
    seen = set(state.fired)
    for rule in RULES.values():
        for action in rule(state, event, now, rules):
            if action.key not in seen:
                seen.add(action.key)
                actions.append(action)
    return actions
