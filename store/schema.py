"""Tables. Changes here need a migration in store/migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData()


class UTCDateTime(TypeDecorator):
    """Aware UTC in, aware UTC out, on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_sqlite_utc(value: datetime | None) -> str | None:
    """What UTCDateTime and SQLite's DATETIME make of a value together (naive UTC text,
    microseconds always written), in one call instead of their two Python layers and a
    7-field format: the acknowledgement's committing thread did this twice a row (callgrind,
    benchmarks/README.md tenth session). Whoever uses it checks it against SQLAlchemy's own
    processor first (EventInserter), so a different storage format falls back to that."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # orjson writes an aware UTC time as "2026-03-02T08:00:27.123456+00:00" (quoted) in a
    # third of isoformat's instructions (callgrind: 4.9k against 14k, its keyword parsing and
    # printf); without microseconds it leaves them out (not 34 bytes): isoformat then.
    written = _dumps(value)
    if len(written) == 34:
        return written[1:27].translate(_T_AS_SPACE).decode()
    # The UTC text with its "+00:00" cut off (the year always has 4 digits): replace(tzinfo=
    # None) cost as much as the isoformat (callgrind: 10k instructions, its keyword parsing).
    return value.isoformat(" ", "microseconds")[:26]


_dumps = orjson.dumps
_T_AS_SPACE = bytes.maketrans(b"T", b" ")


# Every accepted inbound event, stored before we answer 200. dedupe_key is the provider's id.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(255), nullable=False, unique=True),
    Column("source", String(32), nullable=False),
    Column("ticket", String(128), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("body", Text, nullable=False),
    # The decider's work queue: undecided → decided, or failed (the rules raised) with the
    # error, until `deskbridge redecide` puts it back.
    Column("status", String(16), nullable=False, default="undecided"),
    # The normalised TicketEvent (JSON), parsed once at the door; deciding reads only this.
    Column("event", Text),
    # Which of the decider partitions the ticket falls in (several deciders on PostgreSQL
    # each hold some partitions, so one ticket's events are decided by one of them, in order).
    Column("shard", Integer, nullable=False, default=0),
    Column("decided_at", UTCDateTime()),
    Column("error", Text),
    Index("ix_events_status", "status", "shard", "id"),
    Index("ix_events_received", "received_at"),
)

# Folded ticket state (workflows.model.TicketState as JSON).
tickets = Table(
    "tickets",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Copied out of the state for repeat-contact look-ups.
    Column("requester", String(128)),
    Column("created_at", UTCDateTime()),
    # Copied out for Slack's "my tickets" and "team" views.
    Column("assignee", String(128)),
    Column("status", String(16)),
    # Copied out for `/deskbridge ticket 00001042`: the number people know a ticket by where
    # it is not its id (TicketState.number).
    Column("number", String(255)),
    # Covering the digest's repeat-contact count and the related-tickets look-up.
    Index("ix_tickets_requester_created_at", "requester", "created_at", "key"),
    Index("ix_tickets_assignee", "assignee"),
    Index("ix_tickets_created_at_requester", "created_at", "requester", "key"),
    Index("ix_tickets_number", "number"),
)

# Side effects to perform exactly once. status: pending | done | dead.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("ticket", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", Text),
    Column("result", JSON),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime()),
    # When the row was first claimed: where a check for a message sent by an attempt that
    # died before recording it starts.
    Column("first_attempt_at", UTCDateTime()),
    # When an operator last put the row back in the queue (`deskbridge outbox retry`): where
    # its patience with a rate limit starts again (the dispatcher's THROTTLE_PATIENCE).
    Column("requeued_at", UTCDateTime()),
    # Rows in one lane (a Slack channel) are performed in order: a throttled row holds the
    # rows behind it.
    Column("lane", String(255)),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_lane", "lane", "status"),
)

# Deadlines (SLA, hand-off, re-page). id is deterministic; generation cancels stale ones.
timers = Table(
    "timers",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("ticket", String(128), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("generation", Integer, nullable=False, default=0),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    # A failed timer's error, "Type: message" (its rule raised), for `deskbridge timers
    # --failed`; the log names only the type (the message may quote the ticket).
    Column("error", Text),
    Index("ix_timers_due", "status", "due_at"),
    # A decider batch's tickets' due timers (claim_due_timers with tickets).
    Index("ix_timers_ticket_due", "ticket", "status", "due_at"),
)

# Why every action was decided: one row per decision.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("ticket", String(128), nullable=False),
    Column("event_key", String(255)),
    Column("rule", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_audit_ticket", "ticket"),
)

# Slack messages deskbridge posted: the first per (ticket, channel) is the thread root that
# later messages reply to and that state changes edit. (action_key, channel) is unique, so a
# retried action never posts twice to a channel it already reached.
slack_messages = Table(
    "slack_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket", String(128), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("thread_ts", String(32)),
    Column("action_key", String(255), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("action_key", "channel", name="uq_slack_messages_action_channel"),
    Index("ix_slack_messages_ticket", "ticket", "channel"),
)

# One message per second per channel, across processes: the next free send slot.
slack_pace = Table(
    "slack_pace",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("next_send_at", UTCDateTime(), nullable=False),
)

# Public agent replies, one row per comment: replies per agent per day (Slack views, coaching).
replies = Table(
    "replies",
    metadata,
    Column("comment_id", String(128), primary_key=True),
    Column("ticket", String(128), nullable=False),
    Column("author", String(128)),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_replies_author_at", "author", "at"),
    # Covering the digest's reads (store/activity.py): no table row read per match.
    Index("ix_replies_at_ticket_author", "at", "ticket", "author", "comment_id"),
    Index("ix_replies_ticket_at_author", "ticket", "at", "author", "comment_id"),
)

# Scheduled-job occurrences already run (DESIGN §3 step 7): the row is claimed in the
# transaction that queues the occurrence's actions, so one instance runs each occurrence.
job_runs = Table(
    "job_runs",
    metadata,
    Column("job", String(64), primary_key=True),
    Column("occurrence_at", UTCDateTime(), primary_key=True),
    Column("run_at", UTCDateTime(), nullable=False),
    Column("actions", Integer, nullable=False, default=0),
)

# On-call overrides made in Slack by leads; the rules file's static ones are not stored.
# Later rows win over earlier ones where they overlap (id order).
oncall_overrides = Table(
    "oncall_overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person", String(32), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("created_by", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_oncall_overrides_ends_at", "ends_at"),
)


# Countable facts for coaching and the leads' digest (workflows/activity.py): customer
# messages, calls, solves, routes, escalations, SLA outcomes … one row per unique key.
activity = Table(
    "activity",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("ticket", String(128), nullable=False),
    Column("person", String(128)),
    Column("detail", String(64)),
    # Covering the digest's counts per kind and its customer-message look-ups.
    Index("ix_activity_kind_at_detail", "kind", "at", "detail", "person", "ticket"),
    Index("ix_activity_ticket_kind_at", "ticket", "kind", "at"),
    # Retention finds the old facts by time alone (store/retention.py).
    Index("ix_activity_at", "at"),
)
