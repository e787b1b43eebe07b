"""Folding events into ticket state (pure). Order-tolerant: snapshots apply newest-wins by
event time; replies are counted by comment id, so redeliveries and late arrivals count once."""

from __future__ import annotations

from deskbridge.workflows.model import EventKind, TicketEvent, TicketState

_SNAPSHOT_FIELDS = (
    "subject",
    "description",
    "status",
    "priority",
    "type",
    "group",
    "assignee",
    "requester",
    "organization",
    "channel",
    "created_at",
)


# Enough of the customer's words to re-classify, bounded so a long thread stays small.
MAX_MESSAGES = 10
MAX_MESSAGE_CHARS = 2000


def new_state(event: TicketEvent) -> TicketState:
    return TicketState(key=event.ticket_key, source=event.source, ticket_id=event.ticket_id)


def apply_event(state: TicketState, event: TicketEvent) -> tuple[TicketState, bool]:
    """Return the state after `event`, and whether the event's snapshot was stale."""
    changes: dict = {}
    stale = state.snapshot_at is not None and event.occurred_at < state.snapshot_at
    if not stale:
        snapshot = event.ticket
        for name in _SNAPSHOT_FIELDS:
            value = getattr(snapshot, name)
            if value is not None:
                changes[name] = value
        if snapshot.tags is not None:
            changes["tags"] = list(snapshot.tags)
        if snapshot.custom_fields:
            changes["custom_fields"] = {**state.custom_fields, **snapshot.custom_fields}
        if changes:  # deskbridge's own events (Slack clicks) carry no snapshot
            changes["snapshot_at"] = event.occurred_at
    else:
        if state.created_at is None and event.ticket.created_at is not None:
            changes["created_at"] = event.ticket.created_at
        # Later snapshots never carry field values (event subscriptions' detail has none): a
        # late field change still fills a field not known yet.
        unknown = {
            k: v for k, v in event.ticket.custom_fields.items() if k not in state.custom_fields
        }
        if unknown:
            changes["custom_fields"] = {**state.custom_fields, **unknown}

    reopening = "status" in changes and not changes["status"].is_done
    if not stale and state.status.is_done and reopening:
        changes["reopened"] = True

    if event.kind is EventKind.call_logged and state.call_logged_by is None:
        changes["call_logged_by"] = event.meta.get("by", "someone")
    if event.kind is EventKind.acknowledged and state.acknowledged_by is None:
        changes["acknowledged_by"] = event.meta.get("by", "someone")

    comment = event.comment
    if comment is not None:
        if comment.is_public_agent_reply and comment.id not in state.public_agent_reply_ids:
            changes["public_agent_reply_ids"] = [*state.public_agent_reply_ids, comment.id]
        if comment.is_voice and comment.id not in state.voice_call_ids:
            changes["voice_call_ids"] = [*state.voice_call_ids, comment.id]
        is_customer = comment.public and not comment.author_is_agent
        description = (changes.get("description") or state.description or "").strip()
        is_customer = is_customer and comment.body.strip() != description
        if is_customer and comment.body and comment.id not in state.customer_comment_ids:
            changes["customer_comment_ids"] = [*state.customer_comment_ids, comment.id]
            messages = [*state.customer_messages, comment.body[:MAX_MESSAGE_CHARS]]
            changes["customer_messages"] = messages[-MAX_MESSAGES:]
    return state.model_copy(update=changes), stale


def mark_fired(state: TicketState, keys: list[str]) -> TicketState:
    new = [k for k in keys if k not in state.fired]
    if not new:
        return state
    return state.model_copy(update={"fired": [*state.fired, *new]})
