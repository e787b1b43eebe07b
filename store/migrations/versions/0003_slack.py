"""Slack message refs and pacing, outbox lanes, ticket assignee/status columns

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from deskbridge.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("assignee", sa.String(128)))
    op.add_column("tickets", sa.Column("status", sa.String(16)))
    op.create_index("ix_tickets_assignee", "tickets", ["assignee"])
    op.add_column("outbox", sa.Column("lane", sa.String(255)))
    op.create_index("ix_outbox_lane", "outbox", ["lane", "status"])
    op.create_table(
        "slack_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32)),
        sa.Column("action_key", sa.String(255), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("action_key", "channel", name="uq_slack_messages_action_channel"),
    )
    op.create_index("ix_slack_messages_ticket", "slack_messages", ["ticket", "channel"])
    op.create_table(
        "slack_pace",
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("next_send_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slack_pace")
    op.drop_table("slack_messages")
    op.drop_index("ix_outbox_lane", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lane")
    op.drop_index("ix_tickets_assignee", "tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("status")
        batch.drop_column("assignee")
