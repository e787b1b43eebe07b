"""activity: countable facts for coaching and the digest; replies indexed by time and ticket

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from deskbridge.store.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ticket", sa.String(128), nullable=False),
        sa.Column("person", sa.String(128)),
        sa.Column("detail", sa.String(64)),
    )
    op.create_index("ix_activity_kind_at", "activity", ["kind", "at"])
    op.create_index("ix_activity_ticket", "activity", ["ticket", "at"])
    op.create_index("ix_replies_at", "replies", ["at"])
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    op.create_index("ix_replies_ticket_at", "replies", ["ticket", "at"])


def downgrade() -> None:
    op.drop_index("ix_replies_ticket_at", "replies")
    op.drop_index("ix_replies_at", "replies")
    op.drop_index("ix_tickets_created_at", "tickets")
    op.drop_table("activity")
