"""timers.error: a failed timer's error, kept for `deskbridge timers --failed` and `redecide`

A timer whose rule raised was marked failed with its message stored nowhere, listed nowhere,
and never fired again once the rule was fixed. The first paragraph stays one line: alembic
logs it as the migration's name.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("timers", sa.Column("error", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.drop_column("error")
