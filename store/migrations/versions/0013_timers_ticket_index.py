"""timers by ticket: an index on (ticket, status, due_at) for a batch's tickets' due timers

The decider fires the due timers of its batch's tickets before their events; with only the
(status, due_at) index that read walked every overdue timer of every ticket (after an outage,
tens of thousands) on every batch. The first paragraph stays one line: alembic logs it as the
migration's name.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_timers_ticket_due", "timers", ["ticket", "status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_timers_ticket_due", table_name="timers")
