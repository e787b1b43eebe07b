"""Facts for coaching and the digest (workflows/activity.py), and the reads behind the review."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from deskbridge.store.schema import activity, replies, tickets
from deskbridge.store.sql import insert_ignoring_conflicts
from deskbridge.workflows import activity as kinds
from deskbridge.workflows.activity import CATEGORY, CUSTOMER_MESSAGE, Fact
from deskbridge.workflows.digest import FactRow, Period, PeriodData, Reply

# Facts the review counts in its period (customer messages are read per ticket instead).
COUNTED = (
    kinds.CALL_LOGGED,
    kinds.CALL_REQUESTED,
    kinds.SOLVED,
    kinds.ROUTE,
    kinds.ESCALATE,
    kinds.HANDOFF_OVERDUE,
    kinds.SLA_MET,
    kinds.SLA_BREACH,
    kinds.CSAT_GOOD,
    kinds.CSAT_BAD,
)


def record_facts(connection: Connection, new: list[Fact]) -> None:
    """Store facts; a known key (a redelivered event, a replayed action) is skipped."""
    if not new:
        return
    statement = insert_ignoring_conflicts(connection, activity, "key")
    connection.execute(
        statement,
        [
            {
                "key": f.key,
                "at": f.at,
                "kind": f.kind,
                "ticket": f.ticket,
                "person": f.person,
                "detail": f.detail,
            }
            for f in new
        ],
    )


def _count_categories(connection: Connection, start: datetime, end: datetime) -> dict[str, int]:
    query = (
        select(activity.c.detail, func.count())
        .where(activity.c.kind == CATEGORY, activity.c.at >= start, activity.c.at < end)
        .group_by(activity.c.detail)
    )
    return {name: count for name, count in connection.execute(query)}


def read_period(connection: Connection, period: Period, repeat_window: timedelta) -> PeriodData:
    """Everything `workflows.digest.build_digest` needs for `period`."""
    start, end = period.start, period.end
    touched = (
        select(replies.c.ticket)
        .where(replies.c.at >= start, replies.c.at < end)
        .distinct()
        .scalar_subquery()
    )
    reply_rows = [
        Reply(r.ticket, r.author, r.at)
        for r in connection.execute(
            select(replies.c.ticket, replies.c.author, replies.c.at).where(
                replies.c.ticket.in_(touched), replies.c.at < end
            )
        )
    ]
    messages = [
        (r.ticket, r.at)
        for r in connection.execute(
            select(activity.c.ticket, activity.c.at).where(
                activity.c.kind == CUSTOMER_MESSAGE,
                activity.c.ticket.in_(touched),
                activity.c.at < end,
            )
        )
    ]
    created = {
        r.key: r.created_at
        for r in connection.execute(
            select(tickets.c.key, tickets.c.created_at).where(
                tickets.c.key.in_(touched), tickets.c.created_at.is_not(None)
            )
        )
    }
    fact_rows = [
        FactRow(r.kind, r.ticket, r.person, r.detail)
        for r in connection.execute(
            select(activity.c.kind, activity.c.ticket, activity.c.person, activity.c.detail).where(
                activity.c.at >= start,
                activity.c.at < end,
                activity.c.kind.in_(COUNTED),
            )
        )
    ]
    new_tickets = [
        (r.key, r.requester, r.created_at)
        for r in connection.execute(
            select(tickets.c.key, tickets.c.requester, tickets.c.created_at).where(
                tickets.c.created_at >= start - repeat_window,
                tickets.c.created_at < end,
                tickets.c.requester.is_not(None),
            )
        )
    ]
    return PeriodData(
        replies=reply_rows,
        customer_messages=messages,
        created=created,
        facts=fact_rows,
        new_tickets=new_tickets,
        categories=_count_categories(connection, start, end),
        trailing_categories=_count_categories(connection, period.trailing_start, start),
    )
