"""tickets.number: the number people know a ticket by (a Salesforce CaseNumber), for look-ups

`/deskbridge ticket 00001042` (the CaseNumber Salesforce shows everywhere) answered "no such
ticket": cases were found only by their record id. A case stored before is found by its number
once its next notification names it. The first paragraph stays one line: alembic logs it as
the migration's name.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("number", sa.String(255)))
    op.create_index("ix_tickets_number", "tickets", ["number"])


def downgrade() -> None:
    op.drop_index("ix_tickets_number", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("number")
