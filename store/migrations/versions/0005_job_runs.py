"""job_runs: scheduled-job occurrences already run, one row each

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from deskbridge.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(64), primary_key=True),
        sa.Column("occurrence_at", UTCDateTime(), primary_key=True),
        sa.Column("run_at", UTCDateTime(), nullable=False),
        sa.Column("actions", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
