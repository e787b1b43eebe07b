"""activity retention: facts found by time alone, for the retention purge

`retention.activity` purges facts older than its cutoff in small batches; without an index
leading with their time, each batch (and each hourly run finding nothing) would read the
whole table.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_activity_at", "activity", ["at"])


def downgrade() -> None:
    op.drop_index("ix_activity_at", "activity")
