"""outbox.first_attempt_at: when an action was first tried (where a lookup for it starts)

Where the lookup for a message an earlier attempt may have posted starts. The first
paragraph stays one line: alembic logs it as the migration's name.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from deskbridge.store.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("first_attempt_at", UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("first_attempt_at")
