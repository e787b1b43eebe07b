"""Public agent replies by author and time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from deskbridge.store.interface import build_reply_row
from deskbridge.store.schema import replies
from deskbridge.store.sql import prepare_insert_ignoring_conflicts


def record_replies(connection: Connection, rows: list[dict]) -> None:
    """Store public agent replies (executemany); a reply already stored is skipped."""
    if not rows:
        return
    statement = prepare_insert_ignoring_conflicts(
        connection, replies, "comment_id", ("comment_id", "ticket", "author", "at")
    )
    connection.execute(statement, rows)


def record_reply(
    connection: Connection, comment_id: str, ticket: str, author: str | None, at: datetime
) -> None:
    record_replies(connection, [build_reply_row(comment_id, ticket, author, at)])


def count_replies_by_author(
    connection: Connection, start: datetime, end: datetime
) -> dict[str, int]:
    query = (
        select(replies.c.author, func.count())
        .where(replies.c.at >= start, replies.c.at < end, replies.c.author.is_not(None))
        .group_by(replies.c.author)
    )
    return {author: count for author, count in connection.execute(query)}
