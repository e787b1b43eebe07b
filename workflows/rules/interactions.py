"""What people do with deskbridge's alerts in Slack, turned into ticket changes: acknowledge,
snooze, log the customer call, pick a department; and the alerts' own status line kept true
(a state change edits the first message of each thread)."""

from __future__ import annotations

from datetime import timedelta

from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.decision import Context, Decision, Timer
from deskbridge.workflows.model import EventKind, TicketEvent, TicketState

RULE = "slack"
SNOOZE = "slack.snooze"


def _thread_update(state: TicketState, key: str, reason: str, text: str) -> Action:
    """A reply in the ticket's alert threads that also refreshes their first message."""
    return Action(
        kind=ActionKind.notify,
        ticket=state.key,
        rule=RULE,
        reason=reason,
        key=key,
        params={"target": "thread", "refresh": True, "text": text},
    )


def evaluate_interactions(state: TicketState, event: TicketEvent, ctx: Context) -> Decision:
    by = event.meta.get("by", "someone")
    ticket = state.key
    if event.kind is EventKind.acknowledged:
        reason = f"acknowledged in Slack by {by}"
        return Decision(
            actions=[
                Action(
                    kind=ActionKind.note,
                    ticket=ticket,
                    rule=RULE,
                    reason=reason,
                    key=f"{ticket}:{RULE}:ack:note",
                    params={"body": f"deskbridge: alert acknowledged in Slack by {by}."},
                ),
                _thread_update(state, f"{ticket}:{RULE}:ack", reason, f"Acknowledged by {by}"),
            ]
        )
    if event.kind is EventKind.call_logged:
        reason = f"customer call logged in Slack by {by}"
        tag = ctx.rules.three_responses.call_logged_tag
        return Decision(
            actions=[
                Action(
                    kind=ActionKind.tag,
                    ticket=ticket,
                    rule=RULE,
                    reason=reason,
                    key=f"{ticket}:{RULE}:call_logged:tag",
                    params={"tags": [tag]},
                ),
                Action(
                    kind=ActionKind.note,
                    ticket=ticket,
                    rule=RULE,
                    reason=reason,
                    key=f"{ticket}:{RULE}:call_logged:note",
                    params={"body": f"deskbridge: {by} called the customer (logged in Slack)."},
                ),
                _thread_update(
                    state, f"{ticket}:{RULE}:call_logged", reason, f"Customer call logged by {by}"
                ),
            ]
        )
    if event.kind is EventKind.snoozed:
        minutes = int(event.meta.get("minutes", "30"))
        until = ctx.now + timedelta(minutes=minutes)
        return Decision(
            actions=[
                _thread_update(
                    state,
                    f"{ticket}:{RULE}:snooze:{event.dedupe_key}",
                    f"snoozed in Slack by {by}",
                    f"Snoozed for {minutes} min by {by}",
                )
            ],
            timers=[
                Timer(
                    id=f"{ticket}:{SNOOZE}",
                    ticket=ticket,
                    kind=SNOOZE,
                    due_at=until,
                    payload={"by": by, "minutes": minutes, "assignee": state.assignee or ""},
                )
            ],
        )
    previous = ctx.previous
    solved_now = state.status.is_done and previous is not None and not previous.status.is_done
    if solved_now and state.alerted:
        return Decision(
            actions=[
                _thread_update(
                    state,
                    f"{ticket}:{RULE}:{state.status.value}:{event.dedupe_key}",
                    f"the ticket is {state.status.value}",
                    f"Ticket {state.status.value}",
                )
            ]
        )
    return Decision()


def fire_snooze(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    if state.status.is_done:
        return Decision()
    minutes = timer.payload.get("minutes")
    return Decision(
        actions=[
            Action(
                kind=ActionKind.notify,
                ticket=state.key,
                rule=RULE,
                reason=f"snoozed {minutes} min ago by {timer.payload.get('by')} and still open",
                key=f"{state.key}:{RULE}:snooze_over:{timer.due_at.isoformat()}",
                params={"target": "assignee", "assignee": state.assignee, "text": "Snooze is over"},
            )
        ]
    )
