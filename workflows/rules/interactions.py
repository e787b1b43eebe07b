"""What people do with deskbridge's alerts in Slack, turned into ticket changes: acknowledge,
snooze, log the customer call, pick a department; and the alerts' own status line kept true
(a state change edits the first message of each thread)."""

from __future__ import annotations

from datetime import timedelta

from deskbridge.workflows.actions import Action, ActionKind, build_action
from deskbridge.workflows.decision import Context, Decision, Timer
from deskbridge.workflows.model import EventKind, TicketEvent, TicketState

RULE = "interactions"
SNOOZE = "interactions.snooze"


def _thread_update(
    state: TicketState,
    discriminator: tuple[str, ...],
    reason: str,
    text: str,
    **params: str | list[str],
) -> Action:
    """A reply in the ticket's alert threads that also refreshes their first message."""
    return build_action(
        state.key,
        RULE,
        ActionKind.notify,
        *discriminator,
        reason=reason,
        target="thread",
        refresh=True,
        text=text,
        **params,
    )


# What a person records in Slack: (discriminator, reason, note on the ticket, thread line).
_RECORDED = {
    EventKind.acknowledged: (
        "ack",
        "acknowledged in Slack by {by}",
        "deskbridge: alert acknowledged in Slack by {by}.",
        "Acknowledged by {by}",
    ),
    EventKind.call_logged: (
        "call_logged",
        "customer call logged in Slack by {by}",
        "deskbridge: {by} called the customer (logged in Slack).",
        "Customer call logged by {by}",
    ),
}


# Named once: on 3.11 `EventKind.x` goes through EnumType.__getattr__, on every event.
_SNOOZED, _ACKNOWLEDGED = EventKind.snoozed, EventKind.acknowledged


def _once_for(state: TicketState, event: TicketEvent) -> tuple[str, ...]:
    """What the recording is once for, beyond its kind. An acknowledgement: the ticket's
    on-call chain when it has one (a ticket solved, reopened and paged again is acknowledged
    afresh: noted, told, its new page's button gone), else the ticket's alerts. Not the click:
    two clicks for one chain (the page and its thread, two people paged) are one
    acknowledgement. A logged call is once per ticket: the 3-response rule asks for one call
    in a ticket's life, and its button goes once the call is logged."""
    chain = state.oncall
    if chain is not None and event.kind is _ACKNOWLEDGED:
        return (chain.id,)
    return ()


def _reply_where(state: TicketState, event: TicketEvent) -> dict[str, str | list[str]]:
    """Where a recording is said: the channels' threads (a DM's one reader sees the edited
    first message, and is most often who recorded it: the assignee logging the call from the
    3-response DM, the person paged acknowledging from the page). An acknowledgement also
    in the DMs of the others the chain paged: woken by it, they learn someone took it."""
    chain = state.oncall
    if event.kind is not _ACKNOWLEDGED or chain is None:
        return {"reply_in": "channels"}
    others = [p for p in chain.paged if p != event.actor_id]
    return {"reply_in": "channels", "reply_dm": others}


def evaluate_interactions(state: TicketState, event: TicketEvent, ctx: Context) -> Decision:
    by = event.meta.get("by", "someone")
    ticket = state.key
    if event.kind in _RECORDED:
        what, reason, note, line = (text.format(by=by) for text in _RECORDED[event.kind])
        actions = []
        if event.kind is EventKind.call_logged:
            tag = ctx.rules.three_responses.call_logged_tag
            actions.append(
                build_action(ticket, RULE, ActionKind.tag, what, "tag", reason=reason, tags=[tag])
            )
        once = (what, *_once_for(state, event))
        actions += [
            build_action(ticket, RULE, ActionKind.note, *once, "note", reason=reason, body=note),
            _thread_update(state, once, reason, line, **_reply_where(state, event)),
        ]
        return Decision(actions=actions)
    if event.kind is _SNOOZED:
        minutes = int(event.meta.get("minutes", "30"))
        until = ctx.now + timedelta(minutes=minutes)
        return Decision(
            actions=[
                _thread_update(
                    state,
                    ("snooze", event.dedupe_key),
                    f"snoozed in Slack by {by}",
                    f"Snoozed for {minutes} min by {by}",
                    reply_in="channels",  # who snoozed is reminded; a DM's reader asked nothing
                )
            ],
            timers=[
                Timer(
                    id=f"{ticket}:{SNOOZE}",
                    ticket=ticket,
                    kind=SNOOZE,
                    due_at=until,
                    payload={
                        "by": by,
                        "minutes": minutes,
                        "assignee": state.assignee or "",
                        # Whom to remind: who pressed Snooze (a lead snoozing a breach in the
                        # lead channel), not the assignee, who asked for nothing.
                        "person": event.actor_id or "",
                    },
                )
            ],
        )
    previous = ctx.previous
    solved_now = state.status.is_done and previous is not None and not previous.status.is_done
    if solved_now and state.alerted:
        status = state.status._value_  # `.value` is a Python-level property call on 3.11
        return Decision(
            actions=[
                # Said once to each channel that had the ticket (its department, the leads,
                # the specialists, on call). In a DM the edited first message already shows
                # it to the one reader: often who solved it, or someone paged who is also in
                # the on-call channel (a solve after a night's pages said it six times).
                _thread_update(
                    state,
                    (status, event.dedupe_key),
                    f"the ticket is {status}",
                    f"Ticket {status}",
                    reply_in="channels",
                )
            ]
        )
    return Decision()


def fire_snooze(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    if state.status.is_done:
        return Decision()
    by, minutes = timer.payload.get("by"), timer.payload.get("minutes")
    person = timer.payload.get("person")
    # A DM to them (a Slack user id is a channel to post to). A snooze set before its timer
    # named the person reminds the assignee, as it did then.
    audience = {"channel": person} if person else {"assignee": state.assignee}
    reminder = build_action(
        state.key,
        RULE,
        ActionKind.notify,
        "snooze_over",
        timer.due_at.isoformat(),
        reason=f"snoozed {minutes} min ago by {by} and still open",
        target="person" if person else "assignee",
        **audience,
        text="Snooze is over",
    )
    return Decision(actions=[reminder])
