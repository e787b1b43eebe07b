"""The 3-response rule: not solved after N public agent replies → call the customer;
one more written reply with no call logged → tell the team lead.

The lead is told `three_responses.lead_grace` after that reply (a timer), not at once: a call
made before the reply whose event comes a little later (a Zendesk Talk comment delivered
after the reply, a retried webhook) still counts, as it does in writing order. Whether the
call counts goes by when it was made, not when its event came: a call made after the grace
tells the lead even when its event came before the reply's. A grace ending outside the
team's business hours is held to the next opening, and a call made by then counts.
The agent's `missed_call` nudge (workflows/rules/coaching.py) goes by the same timer and
check."""

from __future__ import annotations

from datetime import datetime

from deskbridge.config.rules import RulesConfig
from deskbridge.workflows.actions import Action, ActionKind, build_action, build_key
from deskbridge.workflows.decision import Context, Decision, Timer, view_of
from deskbridge.workflows.model import TicketEvent, TicketState

RULE = "three_responses"
LEAD_TIMER = "three_responses.lead"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def call_logged(state: TicketState, rules: RulesConfig) -> bool:
    return (
        bool(state.voice_call_ids)
        or state.call_logged_by is not None
        or state.has_tag(rules.three_responses.call_logged_tag)
    )


def call_made_by(state: TicketState, rules: RulesConfig, by: datetime) -> bool:
    """Whether a customer call was made by `by`. A call known by its time (a voice comment,
    a "Call logged" click) goes by that time: the `call_logged_tag` the click writes back
    comes after it. Known only by the tag (or stored before call times were kept): made."""
    if state.call_at is not None:
        return state.call_at <= by
    return call_logged(state, rules)


def call_requested(state: TicketState) -> bool:
    """Whether the rule has already asked for a customer call on this ticket."""
    return build_key(state.key, RULE, "call_customer") in state.fired


def lead_timer_id(ticket: str) -> str:
    return f"{ticket}:{RULE}:lead"


def _lead_payload(by: datetime, replies: int, event: TicketEvent) -> dict:
    payload: dict = {"by": by.isoformat(), "replies": replies}
    comment = event.comment
    if comment is not None and comment.is_public_agent_reply and comment.author_id:
        # Whom the coaching rule's missed_call nudge goes to when the grace is over: the
        # reply's writer (a helpdesk id), not whoever holds the ticket by then.
        payload["author"] = comment.author_id
    return payload


def lead_check_by(timer: Timer) -> datetime:
    """By when a call must have been made, for the lead timer `timer`."""
    return datetime.fromisoformat(timer.payload["by"])


def evaluate_three_responses(state: TicketState, event: TicketEvent, ctx: Context) -> Decision:
    """Level-triggered on the folded state, so out-of-order events decide the same thing;
    `state.fired` keeps each decision to once per ticket."""
    rules = ctx.rules
    view = view_of(rules)
    if not view.three_responses_on or state.status.is_done:
        return Decision()
    # `state.public_agent_replies`, its two fields read (from compiled code the property is a
    # call into Python, on every event).
    replies = state.earlier_public_agent_replies + len(state.public_agent_reply_ids)
    # Most events: too few replies to ask anything, so no call or keys to look for.
    if replies < view.three_responses_threshold:
        return Decision()
    config = view.three_responses
    ticket = state.key
    decision = Decision()
    actions: list[Action] = decision.actions
    logged = call_logged(state, rules)
    if not logged and not call_requested(state):
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
    if (
        replies >= config.threshold + 1
        and state.lead_check_by is None
        and (actions or call_requested(state))
    ):
        # A call made by the reply past the threshold (or the event that found one) plus the
        # grace spares the lead. Checked once: the grace after the reply arrived, or at once
        # when it arrived after that time (as in writing order, the lead is due to hear).
        grace = config.lead_grace
        # An older reply delivered late (after the newest) goes by the newest, the reply
        # past the threshold in writing order.
        written = state.last_public_agent_reply_at
        by = max(event.occurred_at, written or event.occurred_at) + grace
        due = ctx.now + grace if ctx.now < by else ctx.now
        calendar = view.calendar
        if calendar is not None and not calendar.is_open(by):
            # As the hand-off and business-hours SLA alerts, the lead hears in business
            # hours: a reply at night is theirs at the next opening (not dropped), and a
            # call made by then spares them.
            by = calendar.open_from(by)
            due = max(due, by)
        if not call_made_by(state, rules, by):
            decision.timers.append(
                Timer(
                    lead_timer_id(ticket),
                    ticket,
                    LEAD_TIMER,
                    due,
                    _lead_payload(by, replies, event),
                )
            )
            decision.updates["lead_check_by"] = by
    return decision


def fire_lead(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    """The grace after the reply past the threshold is over: tell the team lead, unless a
    call was made by then, the ticket is solved or the lead was told already."""
    rules = ctx.rules
    by = lead_check_by(timer)
    told = build_key(state.key, RULE, "lead") in state.fired
    if state.status.is_done and state.lead_check_by is not None and not told:
        # Solved within the grace: checked again if it is reopened, as before the grace.
        return Decision(updates={"lead_check_by": None})
    if (
        not rules.three_responses.enabled
        or state.status.is_done
        or not call_requested(state)
        or told
        or call_made_by(state, rules, by)
    ):
        return Decision()
    replies = timer.payload.get("replies", state.public_agent_replies)
    return Decision(
        actions=[
            build_action(
                state.key,
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
        ]
    )
