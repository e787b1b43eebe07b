"""Slack message references and the per-channel send pace."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select, update

from deskbridge.store.schema import slack_messages, slack_pace
from deskbridge.store.sql import (
    insert_ignoring_conflicts,
    is_postgres,
    prepare_insert_ignoring_conflicts,
)


@dataclass(frozen=True)
class PostedMessage:
    ticket: str
    channel: str
    ts: str
    thread_ts: str | None
    action_key: str
    payload: dict[str, Any]

    @property
    def channel_id(self) -> str:
        """Where Slack put it (a DM to a user id lands in a D… channel)."""
        return self.payload.get("channel_id") or self.channel

    @property
    def in_dm(self) -> bool:
        """Posted to one person: sent to their user id (U…, W…), or where Slack put it a D…
        conversation."""
        return self.channel.startswith(("U", "W")) or self.channel_id.startswith("D")

    @property
    def begins_thread(self) -> bool:
        """Whether the ticket's thread in its channel begins here: at an alert, recorded with
        the action it shows (and edited with the ticket's state). A coaching nudge about the
        ticket is a DM of its own, with nothing to edit: no thread begins there."""
        return self.thread_ts is None and "action" in self.payload


def _posted(row) -> PostedMessage:
    return PostedMessage(
        row.ticket, row.channel, row.ts, row.thread_ts, row.action_key, row.payload
    )


def find_posted(connection: Connection, action_key: str, channel: str) -> PostedMessage | None:
    row = connection.execute(
        select(slack_messages).where(
            slack_messages.c.action_key == action_key, slack_messages.c.channel == channel
        )
    ).first()
    return _posted(row) if row else None


def find_channel_id(connection: Connection, channel: str) -> str | None:
    """The conversation id Slack gave a channel as configured (a name, a user id for a DM),
    learnt from a message recorded there."""
    payload = connection.execute(
        select(slack_messages.c.payload)
        .where(slack_messages.c.channel == channel)
        .order_by(slack_messages.c.id)
        .limit(1)
    ).scalar()
    return payload.get("channel_id") if payload else None


def find_thread_root(connection: Connection, ticket: str, channel: str) -> PostedMessage | None:
    rows = connection.execute(
        select(slack_messages)
        .where(
            slack_messages.c.ticket == ticket,
            slack_messages.c.channel == channel,
            slack_messages.c.thread_ts.is_(None),
        )
        .order_by(slack_messages.c.id)
    )
    return next((m for m in map(_posted, rows) if m.begins_thread), None)


def list_thread_roots(connection: Connection, ticket: str) -> list[PostedMessage]:
    rows = connection.execute(
        select(slack_messages)
        .where(slack_messages.c.ticket == ticket, slack_messages.c.thread_ts.is_(None))
        .order_by(slack_messages.c.id)
    )
    return [m for m in map(_posted, rows) if m.begins_thread]


def list_batch_messages(
    connection: Connection, tickets: Collection[str], keys: Collection[str]
) -> list[PostedMessage]:
    """In one query, oldest first: the thread roots of `tickets` (as find_thread_root and
    list_thread_roots read them) and the messages recorded for the action `keys` (find_posted)."""
    if not tickets and not keys:
        return []
    rows = connection.execute(
        select(slack_messages)
        .where(
            or_(
                and_(
                    slack_messages.c.ticket.in_(list(tickets)),
                    slack_messages.c.thread_ts.is_(None),
                ),
                slack_messages.c.action_key.in_(list(keys)),
            )
        )
        .order_by(slack_messages.c.id)
    )
    return [_posted(r) for r in rows]


_RECORD_COLUMNS = ("ticket", "channel", "ts", "thread_ts", "action_key", "payload", "created_at")


def record_posted(connection: Connection, message: PostedMessage, now: datetime) -> None:
    record_posted_messages(connection, [(message, now)])


def record_posted_messages(
    connection: Connection, messages: list[tuple[PostedMessage, datetime]]
) -> None:
    """Record messages sent (executemany): (the message, when it was sent)."""
    if not messages:
        return
    statement = prepare_insert_ignoring_conflicts(
        connection, slack_messages, ("action_key", "channel"), _RECORD_COLUMNS
    )
    connection.execute(
        statement,
        [
            {
                "ticket": message.ticket,
                "channel": message.channel,
                "ts": message.ts,
                "thread_ts": message.thread_ts,
                "action_key": message.action_key,
                "payload": message.payload,
                "created_at": at,
            }
            for message, at in messages
        ],
    )


def reserve_send_slot(
    connection: Connection, channel: str, now: datetime, interval: timedelta
) -> timedelta:
    """Take the channel's next send slot if it is free now; else how long until it is."""
    wait, taken = book_send_slot(connection, channel, now, interval, timedelta(0))
    return timedelta(0) if taken else wait


# Built once: a send slot is booked for every message.
_SLOT = select(slack_pace.c.next_send_at).where(slack_pace.c.channel == bindparam("lane"))
_SLOT_LOCKED = _SLOT.with_for_update()
_BOOK = (
    update(slack_pace)
    .where(slack_pace.c.channel == bindparam("lane"))
    .values(next_send_at=bindparam("at"))
)


def book_send_slot(
    connection: Connection,
    channel: str,
    now: datetime,
    interval: timedelta,
    within: timedelta,
    not_before: datetime | None = None,
) -> tuple[timedelta, bool]:
    """Book the channel's next send slot, no sooner than `not_before`, if it is free within
    `within` of now: (how long until it, True). Further off: nothing is booked, (how long
    until it is free, False)."""
    query = _SLOT_LOCKED if is_postgres(connection) else _SLOT
    slot = connection.execute(query, {"lane": channel}).scalar()
    if slot is None:  # the channel's first message: its row, then read it as any other
        statement = prepare_insert_ignoring_conflicts(
            connection, slack_pace, "channel", ("channel", "next_send_at")
        )
        connection.execute(statement, {"channel": channel, "next_send_at": now})
        slot = connection.execute(query, {"lane": channel}).scalar_one()
    slot = max(slot, now, not_before or now)
    if slot - now > within:
        return slot - now, False
    connection.execute(_BOOK, {"lane": channel, "at": slot + interval})
    return slot - now, True


def hold_channel(connection: Connection, channel: str, until: datetime) -> None:
    """Slack said wait (429): nobody sends to the channel before `until`."""
    connection.execute(
        insert_ignoring_conflicts(connection, slack_pace, "channel").values(
            channel=channel, next_send_at=until
        )
    )
    connection.execute(
        update(slack_pace)
        .where(slack_pace.c.channel == channel, slack_pace.c.next_send_at < until)
        .values(next_send_at=until)
    )
