"""replies: public agent replies by author and time

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from deskbridge.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replies",
        sa.Column("comment_id", sa.String(128), primary_key=True),
        sa.Column("ticket", sa.String(128), nullable=False),
        sa.Column("author", sa.String(128)),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_replies_author_at", "replies", ["author", "at"])


def downgrade() -> None:
    op.drop_table("replies")
