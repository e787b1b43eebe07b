"""outbox.requeued_at: when an operator last put a dead letter back in the queue

A requeued row keeps its first attempt's time (where a look for what an earlier attempt
delivered starts); its patience with a rate limit counts from this instead, so a retried
dead letter is not at once out of patience. The first paragraph stays one line: alembic logs
it as the migration's name.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from deskbridge.store.schema import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("requeued_at", UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("requeued_at")
