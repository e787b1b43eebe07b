"""outbox: on-call pages queued in their ticket's people lane moved to its page lane

Pages have had a lane of their own, page:<ticket> (Action.lane), so that a page never waits
out the retries of its ticket's failing channel post. Rows an older version queued kept the
ticket's people lane, and a page still in flight at an upgrade waited behind that post (up to
its 8 attempts, about 5 minutes) to wake someone. Every such row is moved, not only the
pending ones: `outbox retry` checks a dead page against the later rows of its lane, which are
now page:<ticket>. A row an older worker still queues after this ran (a rolling upgrade)
keeps the people lane and is only as late as before the upgrade. The first paragraph stays
one line: alembic logs it as the migration's name.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The lanes as this migration found them, written out: a later change of Action.lane must
# not change what this migration did.
_MOVE = sa.text(
    "UPDATE outbox SET lane = 'page:' || ticket "
    "WHERE action = 'page_oncall' AND lane = 'people:' || ticket"
)
_BACK = sa.text(
    "UPDATE outbox SET lane = 'people:' || ticket "
    "WHERE action = 'page_oncall' AND lane = 'page:' || ticket"
)


def upgrade() -> None:
    op.execute(_MOVE)


def downgrade() -> None:
    # An older version orders a ticket's pages with its other messages.
    op.execute(_BACK)
