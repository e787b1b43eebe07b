"""The 3-response rule: not solved after N public agent replies → call the customer;
one more written reply with no call logged → tell the team lead."""

from __future__ import annotations

from deskbridge.config.rules import RulesConfig
from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.decision import Context, Decision
from deskbridge.workflows.model import TicketEvent, TicketState

RULE = "three_responses"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def call_logged(state: TicketState, rules: RulesConfig) -> bool:
    return (
        bool(state.voice_call_ids)
        or state.call_logged_by is not None
        or state.has_tag(rules.three_responses.call_logged_tag)
    )


def evaluate_three_responses(state: TicketState, event: TicketEvent, ctx: Context) -> Decision:
    """Level-triggered on the folded state, so out-of-order events decide the same thing;
    `state.fired` keeps each decision to once per ticket."""
    rules = ctx.rules
    config = rules.three_responses
    if not config.enabled or state.status.is_done or call_logged(state, rules):
        return Decision()
    replies = state.public_agent_replies
    ticket = state.key
    call_key = f"{ticket}:{RULE}:call_customer"
    actions: list[Action] = []
    if replies >= config.threshold and call_key not in state.fired:
        reason = f"{_ordinal(replies)} written reply without resolution — call the customer"
        actions += [
            Action(
                kind=ActionKind.call_customer,
                ticket=ticket,
                rule=RULE,
                reason=reason,
                key=call_key,
                params={"target": "assignee", "assignee": state.assignee, "replies": replies},
            ),
            Action(
                kind=ActionKind.tag,
                ticket=ticket,
                rule=RULE,
                reason=reason,
                key=f"{ticket}:{RULE}:tag",
                params={"tags": [config.call_required_tag]},
            ),
            Action(
                kind=ActionKind.note,
                ticket=ticket,
                rule=RULE,
                reason=reason,
                key=f"{ticket}:{RULE}:note",
                params={"body": config.note.format(replies=replies)},
            ),
        ]
    lead_key = f"{ticket}:{RULE}:lead"
    already_asked = call_key in state.fired or actions
    if replies >= config.threshold + 1 and already_asked and lead_key not in state.fired:
        actions.append(
            Action(
                kind=ActionKind.notify,
                ticket=ticket,
                rule=RULE,
                reason=(
                    f"{_ordinal(replies)} written reply and still no call logged "
                    f"after the call was requested — the team lead should step in"
                ),
                key=lead_key,
                params={
                    "target": "lead",
                    "channel": rules.team.lead_channel,
                    "assignee": state.assignee,
                    "replies": replies,
                },
            )
        )
    return Decision(actions=actions)
