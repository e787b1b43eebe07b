"""On-call overrides made in Slack: stored, audited, read back in the order they were made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select

from deskbridge.store.interface import AUDIT_SUBJECT
from deskbridge.store.schema import audit, oncall_overrides, tickets
from deskbridge.workflows.model import TicketState, load_state
from deskbridge.workflows.rotation import Override


def insert_override(connection: Connection, override: Override, now: datetime) -> int:
    """Store an override (made by `override.by`) and record it in the audit trail."""
    row_id = connection.execute(
        insert(oncall_overrides)
        .values(
            person=override.person,
            starts_at=override.starts,
            ends_at=override.ends,
            created_by=override.by or "",
            created_at=now,
        )
        .returning(oncall_overrides.c.id)
    ).scalar_one()
    connection.execute(
        insert(audit).values(
            at=now,
            ticket=AUDIT_SUBJECT,
            event_key=f"slack:override:{row_id}",
            rule="oncall",
            action="override",
            idempotency_key=f"{AUDIT_SUBJECT}:override:{row_id}",
            reason=(
                f"override by {override.by}: {override.person} on call "
                f"{override.starts.isoformat()} to {override.ends.isoformat()}"
            ),
        )
    )
    return row_id


def list_overrides(connection: Connection, ending_after: datetime | None = None) -> list[Override]:
    """Stored overrides, oldest first (later ones win); only those still running after
    `ending_after` when given."""
    query = select(oncall_overrides).order_by(oncall_overrides.c.id)
    if ending_after is not None:
        query = query.where(oncall_overrides.c.ends_at > ending_after)
    return [
        Override(person=r.person, starts=r.starts_at, ends=r.ends_at, by=r.created_by)
        for r in connection.execute(query)
    ]


def list_paged_tickets(
    connection: Connection, since: datetime, until: datetime
) -> list[TicketState]:
    """Tickets paged (a `page_oncall` decided) in [since, until), as they are now."""
    paged = (
        select(audit.c.ticket)
        .where(audit.c.action == "page_oncall", audit.c.at >= since, audit.c.at < until)
        .distinct()
    )
    query = select(tickets.c.state).where(tickets.c.key.in_(paged)).order_by(tickets.c.key)
    return [load_state(r.state) for r in connection.execute(query) if r.state]
