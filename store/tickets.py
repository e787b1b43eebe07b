"""Ticket state rows. The decider keeps states in memory and writes them back in batches,
checking each row's version: a row changed by someone else meanwhile is a conflict."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, text, update

from deskbridge.store.interface import RELATED_MOST
from deskbridge.store.schema import tickets
from deskbridge.store.sql import insert_ignoring_conflicts, is_postgres
from deskbridge.workflows.decision import RelatedTicket
from deskbridge.workflows.model import Status, TicketState, dump_state, load_state


def lock_ticket(connection: Connection, key: str, now: datetime) -> TicketState | None:
    """Return the ticket's state, holding a row lock until commit (PostgreSQL); SQLite's
    `BEGIN IMMEDIATE` already serialises writers. None for a ticket not seen before."""
    connection.execute(
        insert_ignoring_conflicts(connection, tickets, "key").values(
            key=key, state={}, version=0, updated_at=now
        )
    )
    query = select(tickets.c.state).where(tickets.c.key == key)
    if is_postgres(connection):
        query = query.with_for_update()
    state = connection.execute(query).scalar_one()
    return load_state(state) if state else None


def save_ticket(connection: Connection, state: TicketState, now: datetime) -> None:
    connection.execute(
        update(tickets)
        .where(tickets.c.key == state.key)
        .values(
            state=dump_state(state),
            version=tickets.c.version + 1,
            updated_at=now,
            requester=state.requester,
            created_at=state.created_at,
            assignee=state.assignee,
            status=state.status.value,
            number=state.number,
        )
    )


def list_requester_tickets(
    connection: Connection,
    source: str,
    requester: str,
    exclude: str,
    since: datetime,
    until: datetime,
    limit: int = RELATED_MOST,
) -> list[RelatedTicket]:
    """The requester's other tickets on the same helpdesk opened in [since, until), oldest
    first (at most `limit`: enough to say "repeat contact"), with what each was escalated for."""
    params = {
        "requester": requester,
        "exclude": exclude,
        "prefix": f"{source}:",
        "since": since,
        "until": until,
        "most": limit,
    }
    return [
        RelatedTicket(
            key=key,
            created_at=created_at,
            escalation_signals=tuple((state or {}).get("escalation_signals") or ()),
        )
        for key, created_at, state in connection.execute(_RELATED, params)
    ]


def list_tickets_of_requesters(
    connection: Connection, requesters: Collection[str], since: datetime, until: datetime
) -> dict[str, list[RelatedTicket]]:
    """Every ticket of these requesters opened in [since, until), by requester, oldest
    first: one read for a whole batch of events instead of one per event."""
    found: dict[str, list[RelatedTicket]] = {}
    if not requesters:
        return found
    query = (
        select(tickets.c.requester, tickets.c.key, tickets.c.created_at, tickets.c.state)
        .where(
            tickets.c.requester.in_(sorted(requesters)),
            tickets.c.created_at >= since,
            tickets.c.created_at < until,
        )
        .order_by(tickets.c.created_at)
    )
    for requester, key, created_at, state in connection.execute(query):
        found.setdefault(requester, []).append(
            RelatedTicket(
                key=key,
                created_at=created_at,
                escalation_signals=tuple((state or {}).get("escalation_signals") or ()),
            )
        )
    return found


# The advisory lock namespace of requesters (first key of pg_advisory_xact_lock(int, int)),
# per schema as the decider partitions' (store/events.py).
REQUESTER_LOCK_CLASS = (
    "('x' || substr(md5('deskbridge.requester:' || current_schema()), 1, 8))::bit(32)::int"
)


def lock_requesters(connection: Connection, requesters: Collection[str]) -> None:
    """PostgreSQL: hold these requesters until commit, waiting for a decider writing a batch
    with one of them to commit it. Taken in the order of their lock keys, so two never
    deadlock on each other: not of the names, as two names may have one key (hashtext). On
    SQLite the one writer already writes alone."""
    if not requesters or not is_postgres(connection):
        return
    connection.execute(
        text(
            f"SELECT pg_advisory_xact_lock({REQUESTER_LOCK_CLASS}, k) FROM unnest(ARRAY("
            "SELECT DISTINCT hashtext(r) FROM unnest(CAST(:requesters AS text[])) AS r "
            "ORDER BY 1)) WITH ORDINALITY AS u(k, n) ORDER BY n"
        ),
        {"requesters": list(requesters)},
    ).all()


def list_requester_ticket_keys(
    connection: Connection, requesters: Collection[str], since: datetime, until: datetime
) -> list[tuple[str, str, datetime]]:
    """(requester, key, created_at) of every ticket of these requesters opened in
    [since, until): list_tickets_of_requesters without the states, to see which are new."""
    if not requesters:
        return []
    query = select(tickets.c.requester, tickets.c.key, tickets.c.created_at).where(
        tickets.c.requester.in_(sorted(requesters)),
        tickets.c.created_at >= since,
        tickets.c.created_at < until,
    )
    return [tuple(row) for row in connection.execute(query)]


def load_ticket(connection: Connection, key: str) -> TicketState | None:
    state = connection.execute(select(tickets.c.state).where(tickets.c.key == key)).scalar()
    return load_state(state) if state else None


def find_tickets_by_number(connection: Connection, number: str) -> list[str]:
    """The keys of the tickets people know by `number` (TicketState.number: a Salesforce
    case's CaseNumber), in key order: one, unless two helpdesks number alike."""
    query = select(tickets.c.key).where(tickets.c.number == number).order_by(tickets.c.key)
    return list(connection.execute(query).scalars())


def list_open_tickets(connection: Connection, assignee: str | None = None) -> list[TicketState]:
    """Tickets not solved or closed, optionally only those assigned to `assignee`."""
    done = [status.value for status in Status if status.is_done]
    query = select(tickets.c.state).where(tickets.c.status.not_in(done))
    if assignee is not None:
        query = query.where(tickets.c.assignee == assignee)
    return [load_state(s) for s in connection.execute(query).scalars() if s]


def load_ticket_versions(connection: Connection, keys: Collection[str]) -> dict[str, int]:
    """Stored version of each of `keys` that has a row."""
    if not keys:
        return {}
    query = select(tickets.c.key, tickets.c.version).where(tickets.c.key.in_(list(keys)))
    return {key: version for key, version in connection.execute(query)}


def load_ticket_states(
    connection: Connection, keys: Collection[str]
) -> dict[str, tuple[int, TicketState | None]]:
    """(version, state) of each of `keys` that has a row."""
    if not keys:
        return {}
    query = select(tickets.c.key, tickets.c.version, tickets.c.state).where(
        tickets.c.key.in_(list(keys))
    )
    return {
        key: (version, load_state(state) if state else None)
        for key, version, state in connection.execute(query)
    }


def _ticket_values(state: TicketState) -> dict:
    return {
        "state": dump_state(state),
        "requester": state.requester,
        "created_at": state.created_at,
        "assignee": state.assignee,
        "status": state.status.value,
        "number": state.number,
    }


_UPDATE_TICKET = (
    update(tickets)
    .where(tickets.c.key == bindparam("ticket_key"), tickets.c.version == bindparam("expected"))
    .values(
        state=bindparam("state"),
        version=bindparam("version"),
        updated_at=bindparam("now"),
        requester=bindparam("requester"),
        created_at=bindparam("created_at"),
        assignee=bindparam("assignee"),
        status=bindparam("status"),
        number=bindparam("number"),
    )
)


def save_tickets(
    connection: Connection, saves: Sequence[tuple[TicketState, int | None]], now: datetime
) -> bool:
    """Write states whose stored version was `expected` (None: no row yet) as version
    expected + 1. False when any row was changed or created by someone else meanwhile; the
    caller then rolls back and decides again from the stored rows."""
    updates, inserts = [], []
    for state, expected in saves:
        values = _ticket_values(state)
        if expected is None:
            inserts.append({"key": state.key, "version": 1, "updated_at": now, **values})
        else:
            updates.append(
                {
                    "ticket_key": state.key,
                    "expected": expected,
                    "version": expected + 1,
                    "now": now,
                    **values,
                }
            )
    if inserts:
        # A plain insert: a row created meanwhile is a conflict (IntegrityError), not a skip.
        connection.execute(insert(tickets), inserts)
    # Both drivers report the summed rowcount of an executemany (sane_multi_rowcount).
    return not updates or connection.execute(_UPDATE_TICKET, updates).rowcount == len(updates)


_RELATED = (
    select(tickets.c.key, tickets.c.created_at, tickets.c.state)
    .where(
        tickets.c.requester == bindparam("requester"),
        tickets.c.key != bindparam("exclude"),
        tickets.c.key.startswith(bindparam("prefix")),
        tickets.c.created_at >= bindparam("since"),
        tickets.c.created_at < bindparam("until"),
    )
    .order_by(tickets.c.created_at)
    .limit(bindparam("most"))
)
