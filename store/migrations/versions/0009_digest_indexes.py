"""digest indexes: covering indexes for the review's reads of replies and customer messages

The digest (store/activity.py) counts replies per author in a period and looks up, per reply,
the ticket's earlier replies (first reply, same author's previous one, ordered by time then
comment id) and the customer messages between two replies. With every column those reads need
in the index, SQLite answers them from the index alone instead of one table row per match.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_replies_at", "replies")
    op.drop_index("ix_replies_ticket_at", "replies")
    op.drop_index("ix_activity_ticket", "activity")
    op.create_index(
        "ix_replies_at_ticket_author", "replies", ["at", "ticket", "author", "comment_id"]
    )
    op.create_index(
        "ix_replies_ticket_at_author", "replies", ["ticket", "at", "author", "comment_id"]
    )
    op.create_index("ix_activity_ticket_kind_at", "activity", ["ticket", "kind", "at"])


def downgrade() -> None:
    op.drop_index("ix_activity_ticket_kind_at", "activity")
    op.drop_index("ix_replies_ticket_at_author", "replies")
    op.drop_index("ix_replies_at_ticket_author", "replies")
    op.create_index("ix_activity_ticket", "activity", ["ticket", "at"])
    op.create_index("ix_replies_ticket_at", "replies", ["ticket", "at"])
    op.create_index("ix_replies_at", "replies", ["at"])
