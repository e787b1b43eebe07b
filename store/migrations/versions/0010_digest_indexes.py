"""digest indexes: covering indexes for the review's reads (store/activity.py)

The digest counts replies and facts per group in a period and looks up, per reply, the
ticket's earlier replies and the customer messages between two replies, and per new ticket the
requester's earlier ones. With every column those reads need in the index, SQLite answers them
from the index alone instead of reading a table row per match (a ticket row carries its whole
state). The indexes replace narrower ones on the same leading columns: no table gains one.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# name → (table, columns) before and after.
BEFORE = {
    "ix_replies_at": ("replies", ["at"]),
    "ix_replies_ticket_at": ("replies", ["ticket", "at"]),
    "ix_activity_ticket": ("activity", ["ticket", "at"]),
    "ix_activity_kind_at": ("activity", ["kind", "at"]),
    "ix_tickets_requester": ("tickets", ["requester"]),
    "ix_tickets_created_at": ("tickets", ["created_at"]),
}
AFTER = {
    "ix_replies_at_ticket_author": ("replies", ["at", "ticket", "author", "comment_id"]),
    "ix_replies_ticket_at_author": ("replies", ["ticket", "at", "author", "comment_id"]),
    "ix_activity_ticket_kind_at": ("activity", ["ticket", "kind", "at"]),
    "ix_activity_kind_at_detail": ("activity", ["kind", "at", "detail", "person", "ticket"]),
    "ix_tickets_requester_created_at": ("tickets", ["requester", "created_at", "key"]),
    "ix_tickets_created_at_requester": ("tickets", ["created_at", "requester", "key"]),
}


def _replace(old: dict, new: dict) -> None:
    for name, (table, _) in old.items():
        op.drop_index(name, table)
    for name, (table, columns) in new.items():
        op.create_index(name, table, columns)


def upgrade() -> None:
    _replace(BEFORE, AFTER)


def downgrade() -> None:
    _replace(AFTER, BEFORE)
