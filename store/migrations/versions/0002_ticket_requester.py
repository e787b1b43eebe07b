"""tickets.requester and tickets.created_at for repeat-contact look-ups

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from deskbridge.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("requester", sa.String(128)))
    op.add_column("tickets", sa.Column("created_at", UTCDateTime()))
    op.create_index("ix_tickets_requester", "tickets", ["requester"])


def downgrade() -> None:
    op.drop_index("ix_tickets_requester", "tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("created_at")
        batch.drop_column("requester")
