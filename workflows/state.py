"""Folding events into ticket state (pure). Order-tolerant: snapshots apply newest-wins by
event time; replies are counted by comment id, so redeliveries and late arrivals count once."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from datetime import datetime
from itertools import repeat

from deskbridge.workflows.model import (
    KEEP_STATUS_POINTS,
    RAISE_FORGOTTEN,
    EventKind,
    Priority,
    Status,
    TicketEvent,
    TicketState,
    build_checked,
    evolve,
    status_point_time,
)
from deskbridge.workflows.rules.oncall import build_chain_key_prefix
from deskbridge.workflows.rules.sla import build_clock_key_prefix, is_public_agent_reply

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
    "number",
)


# Enough of the customer's words to re-classify, bounded so a long thread stays small.
MAX_MESSAGES = 10
MAX_MESSAGE_CHARS = 2000
# Comment ids kept per list, newest last, so a ticket row stays small however long the
# ticket lives: they are there to count a comment once when it comes again (the same comment
# through an event subscription and a trigger, a redelivery), which happens within minutes,
# not 50 comments later. Agent replies beyond these are counted (`earlier_public_agent_replies`).
KEEP_COMMENT_IDS = 50

# Members named once here: on 3.11 naming one on its class (`EventKind.call_logged`) goes through
# EnumType.__getattr__'s slow attribute path, and these are checked for every event.
_CALL_LOGGED, _ACKNOWLEDGED = EventKind.call_logged, EventKind.acknowledged


def new_state(event: TicketEvent) -> TicketState:
    """`TicketState(key=…, source=…, ticket_id=…)` of the event's ticket, made without
    validating again what the event's own validation checked (a ticket's first event: 5,500
    on a replayed week)."""
    return build_checked(
        TicketState,
        {"key": event.ticket_key, "source": event.source, "ticket_id": event.ticket_id},
    )


def apply_event(state: TicketState, event: TicketEvent) -> tuple[TicketState, bool]:
    """Return the state after `event`, and whether the event's snapshot was stale."""
    changes: dict = {}
    stale = state.snapshot_at is not None and event.occurred_at < state.snapshot_at
    if not stale:
        snapshot = event.ticket
        given = snapshot.__dict__  # the fields' values (getattr looks through the class first)
        for name in _SNAPSHOT_FIELDS:
            value = given[name]
            if value is not None:
                changes[name] = value
        if snapshot.tags is not None:
            changes["tags"] = list(snapshot.tags)
        if snapshot.custom_fields:
            changes["custom_fields"] = {**state.custom_fields, **snapshot.custom_fields}
        if state.raised_priority is not None and "priority" in changes:
            changes.update(_read_raised_priority(state, changes["priority"]))
        if changes:  # deskbridge's own events (Slack clicks) carry no snapshot
            changes["snapshot_at"] = event.occurred_at
    else:
        if state.created_at is None and event.ticket.created_at is not None:
            changes["created_at"] = event.ticket.created_at
        # A case's number never changes: a late snapshot still names it.
        if state.number is None and event.ticket.number is not None:
            changes["number"] = event.ticket.number
        # Later snapshots never carry field values (event subscriptions' detail has none): a
        # late field change still fills a field not known yet.
        unknown = {
            k: v for k, v in event.ticket.custom_fields.items() if k not in state.custom_fields
        }
        if unknown:
            changes["custom_fields"] = {**state.custom_fields, **unknown}

    status = event.ticket.status
    if status is not None:
        changes["status_points"] = _add_status_point(state.status_points, event.occurred_at, status)
        if not state.status_points and state.snapshot_at is not None:
            changes["status_points_partial"] = True  # a state stored before they were kept

    reopening = "status" in changes and not changes["status"].is_done
    if not stale and state.status.is_done and reopening:
        changes["reopened"] = True

    if event.kind is _CALL_LOGGED:
        if state.call_logged_by is None:
            changes["call_logged_by"] = event.meta.get("by", "someone")
        if state.call_at is None or event.occurred_at < state.call_at:
            changes["call_at"] = event.occurred_at
    if event.kind is _ACKNOWLEDGED and state.acknowledged_by is None:
        changes["acknowledged_by"] = event.meta.get("by", "someone")

    comment = event.comment
    if comment is not None:
        if is_public_agent_reply(comment) and comment.id not in state.public_agent_reply_ids:
            ids = [*state.public_agent_reply_ids, comment.id]
            if len(ids) > KEEP_COMMENT_IDS:
                earlier = len(ids) - KEEP_COMMENT_IDS
                changes["earlier_public_agent_replies"] = (
                    state.earlier_public_agent_replies + earlier
                )
                ids = ids[earlier:]
            changes["public_agent_reply_ids"] = ids
            latest = state.last_public_agent_reply_at
            if latest is None or event.occurred_at > latest:
                changes["last_public_agent_reply_at"] = event.occurred_at
                # The messages written at or before the newest reply are answered. (A reply
                # older than the newest answers none still waiting: all are newer than that.)
                waiting = state.unanswered_customer_message_at
                if waiting:
                    still = [at for at in waiting if at > event.occurred_at]
                    changes["unanswered_customer_message_at"] = still
        if comment.is_voice and comment.id not in state.voice_call_ids:
            changes["voice_call_ids"] = [*state.voice_call_ids, comment.id][-KEEP_COMMENT_IDS:]
            if state.call_at is None or event.occurred_at < state.call_at:
                changes["call_at"] = event.occurred_at
        is_customer = comment.public and not comment.author_is_agent
        description = (changes.get("description") or state.description or "").strip()
        is_customer = is_customer and comment.body.strip() != description
        if is_customer and comment.body and comment.id not in state.customer_comment_ids:
            changes["customer_comment_ids"] = [*state.customer_comment_ids, comment.id][
                -KEEP_COMMENT_IDS:
            ]
            messages = [*state.customer_messages, comment.body[:MAX_MESSAGE_CHARS]]
            changes["customer_messages"] = messages[-MAX_MESSAGES:]
            latest = state.last_public_agent_reply_at
            if latest is None or event.occurred_at > latest:  # not answered yet
                waiting = sorted([*state.unanswered_customer_message_at, event.occurred_at])
                changes["unanswered_customer_message_at"] = waiting[-KEEP_COMMENT_IDS:]
    return evolve(state, changes), stale


def _read_raised_priority(state: TicketState, read: Priority) -> Mapping[str, Priority | None]:
    """What a snapshot's priority `read` changes on a ticket the risk rule raised to a level
    its helpdesk writes as a value that reads back as another (TicketState.raised_priority:
    urgent, written High on a Salesforce case). That value echoed keeps the raised level (the
    case said High because deskbridge wrote High); the priority the ticket had, before the echo
    came, was read before the write landed (read as it is, as a Zendesk ticket's would be); any
    other is a person's change: taken, and the raise forgotten (High after that is high)."""
    if read is state.raised_priority_echo:
        if state.raised_priority_from is None:
            return {"priority": state.raised_priority}
        return {"priority": state.raised_priority, "raised_priority_from": None}
    if read is state.raised_priority_from:
        return {}
    return RAISE_FORGOTTEN


def _add_status_point(
    points: list[tuple[datetime, Status]], at: datetime, status: Status
) -> list[tuple[datetime, Status]]:
    """`points` with (`at`, `status`) in time order (after those of the same time: a
    snapshot of the same instant wins as newest-wins folds it), the newest KEEP_STATUS_POINTS."""
    point = (at, status)
    if not points or points[-1][0] <= at:  # in order: most events
        if points and points[-1] == point:
            return points  # the same snapshot again (a redelivery)
        return _bound_status_points([*points, point])
    if point in points:
        return points
    where = bisect_right(points, at, key=status_point_time)
    return _bound_status_points([*points[:where], point, *points[where:]])


def _bound_status_points(points: list[tuple[datetime, Status]]) -> list[tuple[datetime, Status]]:
    """At most KEEP_STATUS_POINTS: first the inner points of runs of one status go (oldest
    first; a run's first and last stay, so when each status began and was last seen is kept),
    then the oldest. Most events repeat the status (a tag, a comment): dropping the oldest
    alone let twenty of them push out the clock's start, and a pending period delivered late
    could no longer be placed."""
    extra = len(points) - KEEP_STATUS_POINTS
    if extra <= 0:
        return points
    kept = [points[0]]
    for index in range(1, len(points) - 1):
        status = points[index][1]
        if extra and points[index - 1][1] == status == points[index + 1][1]:
            extra -= 1  # inside a run: its neighbours carry the same status
            continue
        kept.append(points[index])
    kept.append(points[-1])
    return kept[-KEEP_STATUS_POINTS:]


def mark_fired(
    state: TicketState, keys: list[str], compacted: TicketState | None = None
) -> TicketState:
    """Remember the keys of actions just decided, and forget those of SLA clocks and on-call
    chains that are over (see `compact_fired`). `compacted`, when given, is an earlier state
    of the ticket whose `fired` (the same list as `state`'s) was compacted when it was made:
    if the clock instances and the chain are still the same, only the new keys can be over,
    and the rest are not looked at again (most decisions change neither; compacting every key
    after every decision was most of this step's cost)."""
    fired = state.fired
    new = [k for k in keys if k not in fired]
    if compacted is not None and compacted.fired is fired and _same_lives(compacted, state):
        if not new:
            return state
        kept = [*fired, *compact_fired(state, new)]  # a key is kept or not on its own
    else:
        kept = compact_fired(state, [*fired, *new])
    if kept == fired:
        return state
    return evolve(state, {"fired": kept})


def _same_lives(a: TicketState, b: TicketState) -> bool:
    """Whether `compact_fired` keeps the same keys for both: the same SLA clock instances by
    metric and the same on-call chain (the ticket's key never changes)."""
    # Each chain read once (a pydantic field read is a slow attribute path on 3.11): asked
    # after every decision.
    chain, other_chain = a.oncall, b.oncall
    if chain is not other_chain and (chain and chain.id) != (other_chain and other_chain.id):
        return False
    clocks, others = a.sla_clocks, b.sla_clocks
    if clocks is others:
        return True
    return clocks.keys() == others.keys() and all(
        clocks[metric].instance == clock.instance for metric, clock in others.items()
    )


def compact_fired(state: TicketState, fired: list[str]) -> list[str]:
    """`fired` without the keys no rule can decide again, so it stays bounded over a ticket's
    life: the warnings and breaches of an SLA clock instance that is no longer the ticket's
    (every customer message starts a new next-reply instance; `fire_sla` acts only for the
    current one), the pages of an on-call chain that is no longer the ticket's (a stale
    chain's timer does nothing) and the chain's notes about such breaches. A key that came
    back anyway would still be queued once: the outbox skips a known idempotency key."""
    sla = build_clock_key_prefix(state.key)
    oncall = build_chain_key_prefix(state.key)
    # Each key tested in C (map), not by a generator's frame: 143,000 keys on the week.
    if not any(map(str.startswith, fired, repeat((sla, oncall)))):
        return list(fired)  # no SLA or on-call key (most new keys): nothing to look up
    live_sla = tuple(
        build_clock_key_prefix(state.key, m, c.instance) for m, c in state.sla_clocks.items()
    )
    live_chain = (
        build_chain_key_prefix(state.key, state.oncall.id) if state.oncall is not None else None
    )
    kept = []
    for key in fired:
        if key.startswith(sla) and not key.startswith(live_sla):
            continue
        if key.startswith(oncall):
            if live_chain is None or not key.startswith(live_chain):
                continue
            # "Also: breached" told in the chain's thread, for a breach that cannot recur.
            at = key.find(sla, len(live_chain))
            if at >= 0 and not key.startswith(live_sla, at):
                continue
        kept.append(key)
    return kept
