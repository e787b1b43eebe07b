"""events: the decider's queue (status, normalised event, shard, decided_at, error)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from deskbridge.store.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Events stored before this were decided in the request that stored them.
    op.add_column(
        "events",
        sa.Column("status", sa.String(16), nullable=False, server_default="decided"),
    )
    op.add_column("events", sa.Column("event", sa.Text))
    op.add_column("events", sa.Column("shard", sa.Integer, nullable=False, server_default="0"))
    op.add_column("events", sa.Column("decided_at", UTCDateTime()))
    op.add_column("events", sa.Column("error", sa.Text))
    op.create_index("ix_events_status", "events", ["status", "shard", "id"])
    op.create_index("ix_events_received", "events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_events_received", "events")
    op.drop_index("ix_events_status", "events")
    with op.batch_alter_table("events") as batch:
        for name in ("error", "decided_at", "shard", "event", "status"):
            batch.drop_column(name)
