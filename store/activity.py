"""Facts for coaching and the digest (workflows/activity.py), and the reads behind the review."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import ColumnElement, Connection, FromClause, and_, exists, func, or_, select

from deskbridge.store.interface import COUNTED
from deskbridge.store.schema import activity, replies, tickets
from deskbridge.store.sql import insert_ignoring_conflicts, ticket_source
from deskbridge.workflows.activity import CATEGORY, CUSTOMER_MESSAGE, ESCALATE, Fact
from deskbridge.workflows.digest import (
    FactGroup,
    FirstReply,
    Period,
    PeriodData,
    RepeatedReply,
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


def _count_responses(
    connection: Connection, start: datetime, end: datetime
) -> dict[tuple[str, str | None], int]:
    source = ticket_source(connection, replies.c.ticket)
    query = (
        select(source, replies.c.author, func.count())
        .where(replies.c.at >= start, replies.c.at < end)
        .group_by(source, replies.c.author)
    )
    return {(source, author): count for source, author, count in connection.execute(query)}


def _before(later: FromClause, earlier: FromClause) -> ColumnElement[bool]:
    """`earlier` is a reply before `later` (same instant: the smaller comment id first, so
    replies stamped alike still have an order)."""
    return or_(
        earlier.c.at < later.c.at,
        and_(earlier.c.at == later.c.at, earlier.c.comment_id < later.c.comment_id),
    )


def _list_first_replies(connection: Connection, start: datetime, end: datetime) -> list[FirstReply]:
    earlier = replies.alias("earlier")
    query = (
        select(replies.c.ticket, replies.c.author, tickets.c.created_at, replies.c.at)
        .join(tickets, tickets.c.key == replies.c.ticket)
        .where(
            replies.c.at >= start,
            replies.c.at < end,
            tickets.c.created_at.is_not(None),
            ~exists().where(earlier.c.ticket == replies.c.ticket, _before(replies, earlier)),
        )
    )
    return [FirstReply(*row) for row in connection.execute(query)]


def _list_repeated_replies(
    connection: Connection, start: datetime, end: datetime
) -> list[RepeatedReply]:
    earlier = replies.alias("earlier")
    previous = (
        select(func.max(earlier.c.at))
        .where(
            earlier.c.ticket == replies.c.ticket,
            earlier.c.author == replies.c.author,
            _before(replies, earlier),
        )
        .scalar_subquery()
    )
    mine = (
        select(replies.c.ticket, replies.c.author, previous.label("previous"), replies.c.at)
        .where(replies.c.at >= start, replies.c.at < end, replies.c.author.is_not(None))
        .subquery()
    )
    customer_between = exists().where(
        activity.c.ticket == mine.c.ticket,
        activity.c.at > mine.c.previous,
        activity.c.at <= mine.c.at,
        activity.c.kind == CUSTOMER_MESSAGE,
    )
    query = (
        select(mine)
        .where(mine.c.previous.is_not(None), ~customer_between)
        .order_by(mine.c.ticket, mine.c.at)
    )
    return [RepeatedReply(*row) for row in connection.execute(query)]


def _count_facts(connection: Connection, start: datetime, end: datetime) -> dict[FactGroup, int]:
    source = ticket_source(connection, activity.c.ticket)
    columns = (activity.c.kind, activity.c.detail, source, activity.c.person)
    query = (
        select(*columns, func.count())
        .where(activity.c.at >= start, activity.c.at < end, activity.c.kind.in_(COUNTED))
        .group_by(*columns)
    )
    return {tuple(row[:4]): row[4] for row in connection.execute(query)}


def _count_repeat_contacts(
    connection: Connection, start: datetime, end: datetime, window: timedelta
) -> int:
    other = tickets.alias("other")
    previous = (
        select(func.max(other.c.created_at))
        .where(
            other.c.requester == tickets.c.requester,
            ticket_source(connection, other.c.key) == ticket_source(connection, tickets.c.key),
            other.c.created_at < tickets.c.created_at,
        )
        .scalar_subquery()
    )
    opened = (
        select(tickets.c.created_at, previous.label("previous"))
        .where(
            tickets.c.created_at >= start,
            tickets.c.created_at < end,
            tickets.c.requester.is_not(None),
        )
        .subquery()
    )
    query = select(opened).where(opened.c.previous.is_not(None))
    # Only tickets with an earlier one from the same requester come back; the window is
    # checked here, as date arithmetic in SQL differs between SQLite and PostgreSQL.
    return sum(1 for at, before in connection.execute(query) if at - before <= window)


def read_period(connection: Connection, period: Period, repeat_window: timedelta) -> PeriodData:
    """Everything `workflows.digest.build_digest` needs for `period`, counted in SQL: rows come
    back per group (authors, fact kinds) or only where a figure needs their times."""
    start, end = period.start, period.end
    return PeriodData(
        responses=_count_responses(connection, start, end),
        own_responses=period.read_windows(partial(_count_responses, connection)),
        first_replies=_list_first_replies(connection, start, end),
        repeated_replies=_list_repeated_replies(connection, start, end),
        facts=_count_facts(connection, start, end),
        repeat_contacts=_count_repeat_contacts(connection, start, end, repeat_window),
        escalated_tickets=connection.execute(
            select(func.count(activity.c.ticket.distinct())).where(
                activity.c.at >= start, activity.c.at < end, activity.c.kind == ESCALATE
            )
        ).scalar_one(),
        categories=_count_categories(connection, start, end),
        trailing_categories=_count_categories(connection, period.trailing_start, start),
        categories_since=connection.execute(
            select(func.min(activity.c.at)).where(activity.c.kind == CATEGORY)
        ).scalar(),
    )


def read_period_replies(connection: Connection, period: Period) -> PeriodData:
    """Only responses and same-author repeats in `period`: what the coaching checks every few
    minutes need (a response count, unnecessary replies), without the review's other reads."""
    return PeriodData(
        responses=_count_responses(connection, period.start, period.end),
        own_responses=period.read_windows(partial(_count_responses, connection)),
        repeated_replies=_list_repeated_replies(connection, period.start, period.end),
    )


def read_latest_dated(connection: Connection) -> datetime | None:
    """The latest date on any row a period read can see (replies, facts, ticket creation)."""
    dates = [
        connection.execute(select(func.max(column))).scalar()
        for column in (replies.c.at, activity.c.at, tickets.c.created_at)
    ]
    return max((d for d in dates if d is not None), default=None)
