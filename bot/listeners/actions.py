"""Buttons on deskbridge's alerts. Listeners ack first, check who may act, then hand the click
to the workflow service as an event, exactly like a webhook: the rules write back to the
helpdesk and edit the message through the outbox. A double click or a Slack retry is the same
event (same dedupe key) and changes nothing."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import App
from slack_sdk.errors import SlackClientError

from deskbridge.bot.blocks import (
    ACK,
    CALL_LOGGED,
    OPEN_TICKET,
    PAGE_BLOCK,
    PICK_DEPARTMENT,
    SNOOZE_30,
    SNOOZE_120,
    escape,
)
from deskbridge.config.logging import log_event
from deskbridge.config.rules import RulesConfig
from deskbridge.store.outbox import find_action
from deskbridge.store.tickets import load_ticket
from deskbridge.workflows.model import EventKind, OncallChain, TicketEvent
from deskbridge.workflows.rotation import format_local
from deskbridge.workflows.rules.routing import picked_key

log = logging.getLogger("deskbridge.slack")

KINDS = {
    ACK: (EventKind.acknowledged, {}),
    SNOOZE_30: (EventKind.snoozed, {"minutes": "30"}),
    SNOOZE_120: (EventKind.snoozed, {"minutes": "120"}),
    CALL_LOGGED: (EventKind.call_logged, {}),
    PICK_DEPARTMENT: (EventKind.department_picked, {}),
}


def may_act(runtime, user_id: str, state) -> tuple[bool, Any]:
    """The ticket's assignee, the team's leads and the people paged for it may act on its
    alerts."""
    rules = runtime.rules
    agent = rules.agent_by_slack_id(user_id)
    if agent is None:
        return False, None
    if agent.role == "lead":
        return True, agent
    if state.oncall is not None and user_id in state.oncall.paged:
        return True, agent
    assignee = rules.agent_by_helpdesk_id(state.source.value, state.assignee)
    return assignee is not None and assignee.slack_id == user_id, agent


def build_slack_event(
    state, kind: EventKind, user_id: str, dedupe_key: str, vendor_type: str, meta: dict, now
) -> TicketEvent:
    """A person acting in Slack, as an event about the ticket (`meta["by"]` names them)."""
    return TicketEvent(
        source=state.source,
        ticket_id=state.ticket_id,
        dedupe_key=dedupe_key,
        kind=kind,
        occurred_at=now,
        actor_id=user_id,
        vendor_type=vendor_type,
        meta=meta,
    )


def describe_stopped_chain(rules: RulesConfig, chain: OncallChain) -> str:
    """Why `/deskbridge ack` has nothing to stop: who acknowledged the chain and when, or when
    it ended with the ticket solved (in the team's timezone)."""
    zone = ZoneInfo(rules.team.timezone)
    if chain.acknowledged_at is not None:
        return (
            f"Already acknowledged by {escape(chain.acknowledged_by or 'someone')} at "
            f"{format_local(chain.acknowledged_at, zone)}: the on-call chain is stopped, "
            "no more pages for it."
        )
    if chain.withdrawn_at is not None:
        return (
            f"Nothing to acknowledge: the page was withdrawn at "
            f"{format_local(chain.withdrawn_at, zone)}, the customer having been answered "
            "before it; no more pages for it."
        )
    # Solved ends a chain for good, even if the ticket is open again since.
    return (
        f"Nothing to acknowledge: the ticket was solved at {format_local(chain.solved_at, zone)}, "
        "which ended its on-call chain; no more pages for it."
    )


def describe_older_page(current: OncallChain | None) -> str:
    """Why an Acknowledge on a page of an earlier chain of the ticket records nothing."""
    if current is not None and current.running:
        return (
            "Nothing acknowledged: this page is from an earlier on-call chain of this ticket, "
            "which has ended. A newer page for it is running: acknowledge that one, or use "
            "`/deskbridge ack`."
        )
    return (
        "Nothing acknowledged: this page is from an earlier on-call chain of this ticket, "
        "which has ended; no more pages for it."
    )


def describe_routed(runtime, state, department: str) -> str | None:
    """Why a department picked on the question's menu changes nothing, or None when it
    would route the ticket: a department chosen by a person stands (picked in Slack first:
    by whom and when, as a page's Acknowledge says who acknowledged first), and one the
    ticket is with already."""
    departments = runtime.rules.departments
    current = departments.get(state.department) if state.department else None
    if state.routed_by_hand:
        if current is None:  # a group that is no department's
            return (
                "Nothing changed: the ticket was moved by hand in the helpdesk, and its "
                "routing there stands."
            )
        with runtime.engine.connect() as connection:
            picked = find_action(connection, picked_key(state.key, state.department))
        if picked is None:
            # Moved in the helpdesk, or picked here and the line since purged
            # (retention.outbox_done): not said which.
            return (
                f"Nothing changed: a person already chose {escape(current.name)} for it, "
                "here or in the helpdesk, and that stands. To send it elsewhere, move it to "
                "that group in the helpdesk."
            )
        line, at = picked
        zone = ZoneInfo(runtime.rules.team.timezone)
        return (
            f"Nothing changed: already sent to {escape(current.name)} by "
            f"{escape(line.params.get('by') or 'someone')} at {format_local(at, zone)}. "
            "To send it elsewhere, move it to that group in the helpdesk."
        )
    if current is not None and department == state.department:
        return f"Nothing changed: the ticket is with {escape(current.name)} already."
    return None


def handle_click(
    runtime, tell: Callable[[str | None, str, str], None], body: dict[str, Any], action: dict
) -> str:
    """Turn one click into a ticket event; returns the outcome (for logs and tests). A click
    that changes nothing is explained to its person by `tell(channel, user, text)`."""
    action_id = action["action_id"]
    kind, meta = KINDS[action_id]
    meta = dict(meta)
    value = action.get("value") or action.get("selected_option", {}).get("value", "")
    ticket_key, _, department = value.partition("|")
    if department:
        meta["department"] = department
    user_id = body["user"]["id"]
    channel = (body.get("channel") or body.get("container") or {}).get("id") or (
        body.get("container", {}).get("channel_id")
    )
    message_ts = (body.get("message") or body.get("container") or {}).get("ts") or ""
    with runtime.engine.connect() as connection:
        state = load_ticket(connection, ticket_key)
    if state is None:
        tell(channel, user_id, "deskbridge no longer knows this ticket.")
        return "unknown_ticket"
    allowed, agent = may_act(runtime, user_id, state)
    if not allowed:
        log_event(
            log,
            logging.WARNING,
            "slack.action_refused",
            ticket=ticket_key,
            action=action_id,
            user=user_id,
        )
        # Someone on the roster is refused for who they are on this ticket, not for being
        # unknown: telling them to add themselves to the roster sends them the wrong way.
        fix = (
            "Ask them."
            if agent is not None
            else "Ask them, or add yourself to the roster in deskbridge's config."
        )
        tell(
            channel,
            user_id,
            "Only the ticket's assignee, a team lead or the person paged can act on this alert. "
            + fix,
        )
        return "refused"
    chain = state.oncall
    block_id = action.get("block_id") or ""
    if action_id == ACK and block_id.startswith(PAGE_BLOCK):
        # A page's button names its chain. A copy shown before that chain ended (acknowledged,
        # withdrawn, solved; the edit that took its button away not yet seen) records nothing:
        # a withdrawn page's click would acknowledge a false alarm, and a newer chain of the
        # same ticket, which the clicker has not seen, must not be stopped by an old page.
        if chain is None or block_id != PAGE_BLOCK + chain.id:
            over = describe_older_page(chain)
        elif not chain.running:
            over = describe_stopped_chain(runtime.rules, chain)
        else:
            over = None
        if over is not None:
            log_event(log, logging.INFO, "slack.page_over", ticket=ticket_key, user=user_id)
            tell(channel, user_id, over)
            return "page_over"
    if action_id == PICK_DEPARTMENT and department not in runtime.rules.departments:
        # An old message's choice, from before the config changed: said, not stored.
        log_event(log, logging.INFO, "slack.unknown_department", ticket=ticket_key)
        names = ", ".join(d.name for d in runtime.rules.departments.values())
        tell(
            channel,
            user_id,
            f"That department is no longer in deskbridge's config. Pick one of: {names}.",
        )
        return "unknown_department"
    if action_id == PICK_DEPARTMENT:
        over = describe_routed(runtime, state, department)
        if over is not None:
            return _tell_pick_over(tell, channel, user_id, ticket_key, over)
    meta["by"] = agent.name
    now = runtime.clock()
    # The same person clicking the same button on the same message is one event. A snooze is
    # one per click (Slack's action_ts, kept by a redelivery): the same alert snoozed again
    # after the first snooze ran out is snoozed again, not a duplicate.
    key = f"slack:{action_id}:{ticket_key}:{message_ts}:{user_id}:{department}"
    if kind is EventKind.snoozed:
        key += f":{action.get('action_ts', '')}"
    event = build_slack_event(
        state,
        kind,
        user_id,
        key,
        f"slack:{action_id}",
        meta,
        now,
    )
    outcome = runtime.service.accept_event(event, json.dumps(body), now)
    log_event(
        log,
        logging.INFO,
        "slack.action",
        ticket=ticket_key,
        action=action_id,
        user=user_id,
        duplicate=outcome.duplicate,
        actions=len(outcome.actions),
    )
    if action_id == PICK_DEPARTMENT and not outcome.duplicate and not outcome.actions:
        # Another lead's pick was decided between this one's check above and its decision
        # (two picks at once): this one changed nothing, and its person is told so.
        with runtime.engine.connect() as connection:
            now_state = load_ticket(connection, ticket_key)
        over = describe_routed(runtime, now_state, department) if now_state else None
        if over is not None:
            return _tell_pick_over(tell, channel, user_id, ticket_key, over)
    return "duplicate" if outcome.duplicate else "accepted"


def _tell_pick_over(
    tell: Callable[[str | None, str, str], None],
    channel: str | None,
    user_id: str,
    ticket_key: str,
    over: str,
) -> str:
    """A pick that changes nothing (describe_routed's `over`): logged and told its person."""
    log_event(log, logging.INFO, "slack.pick_over", ticket=ticket_key, user=user_id)
    tell(channel, user_id, over)
    return "pick_over"


# Where a click's listener leaves the note for its person, for tell_clicker (bolt copies the
# request's context, this key included, to a lazy listener).
NOTE = "deskbridge_note"


def tell_clicker(context, client) -> None:
    """An ephemeral answer to a click that changed nothing, posted after the click was
    answered (a bolt lazy listener): bolt answers only once the listener returns
    (process_before_response), and this call with the client's retries (a 429's Retry-After,
    timeouts) could take longer than the 3 s Slack waits. Said if Slack takes it: while
    Slack's API fails, the failure is logged (the click has nothing to retry)."""
    note = context.get(NOTE)
    if not note or not note["channel"]:
        return
    try:
        client.chat_postEphemeral(**note)
    except (SlackClientError, OSError) as exc:
        log_event(log, logging.WARNING, "slack.tell_failed", error=type(exc).__name__)


def register_actions(app: App, runtime) -> None:
    clicks = re.compile("^(" + "|".join(re.escape(a) for a in KINDS) + ")$")

    def on_click(ack, body, action, context):
        ack()

        def tell(channel: str | None, user: str, text: str) -> None:
            context[NOTE] = {"channel": channel, "user": user, "text": text}

        handle_click(runtime, tell, body, action)

    # Decided within the request (a stored event, or a 503 while the store is down); the note
    # goes after the answer.
    app.action(clicks)(ack=on_click, lazy=[tell_clicker])

    @app.action(OPEN_TICKET)
    def on_open(ack):
        ack()  # a link button: Slack opens the URL, nothing to do
