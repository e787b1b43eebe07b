"""The 3-response rule: not solved after N public agent replies → call the customer;
one more written reply with no call logged → tell the team lead."""

from __future__ import annotations

from deskbridge.config.rules import RulesConfig
from deskbridge.workflows.actions import Action, ActionKind, build_action, build_key
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


def call_requested(state: TicketState) -> bool:
    """Whether the rule has already asked for a customer call on this ticket."""
    return build_key(state.key, RULE, "call_customer") in state.fired


def evaluate_three_responses(state: TicketState, event: TicketEvent, ctx: Context) -> Decision:
    """Level-triggered on the folded state, so out-of-order events decide the same thing;
    `state.fired` keeps each decision to once per ticket."""
    rules = ctx.rules
    config = rules.three_responses
    if not config.enabled or state.status.is_done:
        return Decision()
    replies = state.public_agent_replies
    # Most events: too few replies to ask anything, so no call or keys to look for.
    if replies < config.threshold or call_logged(state, rules):
        return Decision()
    ticket = state.key
    actions: list[Action] = []
    if replies >= config.threshold and not call_requested(state):
        reason = f"{_ordinal(replies)} written reply without resolution — call the customer"
        actions += [
            build_action(
                ticket,
                RULE,
                ActionKind.call_customer,
                "call_customer",
                reason=reason,
                target="assignee",
                assignee=state.assignee,
                replies=replies,
            ),
            build_action(
                ticket, RULE, ActionKind.tag, "tag", reason=reason, tags=[config.call_required_tag]
            ),
            build_action(
                ticket,
                RULE,
                ActionKind.note,
                "note",
                reason=reason,
                body=config.note.format(replies=replies),
            ),
        ]
    already_asked = call_requested(state) or actions
    lead_told = build_key(ticket, RULE, "lead") in state.fired
    if replies >= config.threshold + 1 and already_asked and not lead_told:
        actions.append(
            build_action(
                ticket,
                RULE,
                ActionKind.notify,
                "lead",
                reason=(
                    f"{_ordinal(replies)} written reply and still no call logged "
                    f"after the call was requested — the team lead should step in"
                ),
                target="lead",
                channel=rules.team.lead_channel,
                assignee=state.assignee,
                replies=replies,
            )
        )
    return Decision(actions=actions)
