"""The outbox: actions waiting to be performed, each at most once by idempotency key.

A claimed row's `next_attempt_at` is pushed forward by a lease; a dispatcher that dies
mid-action leaves the row to be claimed again when the lease ends.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, case, func, literal, null, select, update

from deskbridge.config.logging import log_event
from deskbridge.store.schema import outbox, slack_messages
from deskbridge.store.sql import (
    is_postgres,
    prepare_insert_ignoring_conflicts,
    rows_as_dicts,
)
from deskbridge.workflows.actions import (
    PAGE_LANE,
    PEOPLE_LANE,
    Action,
    ActionKind,
    dump_action,
    load_action,
)

PENDING, DONE, DEAD = "pending", "done", "dead"
# Not a stored status: a done action whose result says it was performed in dry-run (as the
# dispatcher's outcome, `outbox.dry_run` and /metrics' outcome="dry_run" name it).
DRY_RUN = "dry_run"

# The claim is the dispatcher's: what it says is said under the dispatcher's name.
log = logging.getLogger("deskbridge.dispatcher")


@dataclass(frozen=True)
class OutboxRow:
    id: int
    action: Action
    attempts: int
    # When the row was first claimed (this claim, for a first attempt).
    first_attempt_at: datetime | None = None
    # Since when a rate limit has held it: its first attempt, or the operator's requeue.
    throttled_since: datetime | None = None


_INSERT_COLUMNS = (
    "idempotency_key",
    "ticket",
    "action",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "lane",
)


def insert_actions(connection: Connection, actions: list[Action], now: datetime) -> list[Action]:
    """Queue actions in one statement; returns the ones that were new (a known idempotency
    key is skipped)."""
    if not actions:
        return []
    statement = prepare_insert_ignoring_conflicts(
        connection, outbox, "idempotency_key", _INSERT_COLUMNS, outbox.c.idempotency_key
    )
    seen: set[str] = set()
    actions = [a for a in actions if not (a.key in seen or seen.add(a.key))]  # first of a key
    rows = [
        {
            "idempotency_key": action.key,
            "ticket": action.ticket,
            "action": action.kind.value,
            "payload": dump_action(action),
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "lane": action.lane,
        }
        for action in actions
    ]
    # executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs (insertmanyvalues).
    new = set(connection.execute(statement, rows).scalars())
    return [a for a in actions if a.key in new]


# How long a row of an action kind this version does not know waits before it is looked at
# again: during a rolling upgrade a newer worker performs it meanwhile.
UNKNOWN_KIND_WAIT = timedelta(minutes=1)
_KNOWN_KINDS = frozenset(kind.value for kind in ActionKind)


def claim_due_actions(
    connection: Connection, now: datetime, limit: int, lease: timedelta
) -> list[OutboxRow]:
    """Take up to `limit` due rows for this dispatcher (SKIP LOCKED on PostgreSQL).

    A row of an action kind this version does not know was queued by a newer version (a
    rolling upgrade: new workers decide while old ones still dispatch): it is left pending, due
    again in UNKNOWN_KIND_WAIT, its attempts untouched, for a worker that knows it (its lane
    waits behind it, in order). A row of a known kind that cannot be read (edited by hand) is
    dead-lettered here with the reason. Neither is returned: one such row must not fail the
    claim of the rows beside it.

    A ticket's on-call page has a lane of its own (Action.lane: it does not wait behind the
    ticket's failing channel posts), but it is not performed at the same time as the ticket's
    other messages: both may post first in one channel (the leads'), and each would start a
    thread there. A page claimed beside its ticket's message (one this claim returns) is
    left for the next claim, which the dispatcher's loop makes BUSY_INTERVAL after a pass
    that performed something.
    Only within one claim: another worker's claim of the ticket's message (leased, so no
    longer due; on PostgreSQL locked) is not seen here (README, Delivery, says so)."""
    earlier = outbox.alias("earlier")
    blocked = (
        select(earlier.c.id)
        .where(
            earlier.c.lane == outbox.c.lane,
            earlier.c.status == PENDING,
            earlier.c.id < outbox.c.id,
        )
        .exists()
    )
    query = (
        select(
            outbox.c.id,
            outbox.c.action,
            outbox.c.payload,
            outbox.c.attempts,
            outbox.c.first_attempt_at,
            outbox.c.requeued_at,
            outbox.c.lane,
        )
        # Only the head of each lane: later rows wait for it (in flight or retrying).
        .where(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now, ~blocked)
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
    )
    if is_postgres(connection):
        query = query.with_for_update(skip_locked=True)
    rows = connection.execute(query).all()
    if not rows:
        return []
    claimed: list[OutboxRow] = []
    unreadable: list[tuple[int, datetime, str, Sequence[str]]] = []
    newer: list[int] = []
    for r in rows:
        if r.action not in _KNOWN_KINDS:
            newer.append(r.id)
            log_event(
                log,
                logging.WARNING,
                "outbox.unknown_kind",
                row=r.id,
                action=r.action,
                retry_in_s=int(UNKNOWN_KIND_WAIT.total_seconds()),
            )
            continue
        try:
            action = load_action(r.payload)
        except Exception as exc:  # whatever makes a payload unreadable is that row's alone
            error = describe_unreadable(exc)
            unreadable.append((r.id, now, error, ()))
            # The row, its kind as stored and what was wrong, never the payload (names, text).
            log_event(
                log, logging.ERROR, "outbox.unreadable", row=r.id, action=r.action, error=error
            )
            continue
        first_attempt_at = r.first_attempt_at or now
        claimed.append(
            OutboxRow(
                id=r.id,
                action=action,
                attempts=r.attempts + 1,
                first_attempt_at=first_attempt_at,
                throttled_since=max(first_attempt_at, r.requeued_at or first_attempt_at),
            )
        )
    # Against the messages claimed: one of a newer kind (left for a newer worker) or unreadable
    # (dead-lettered) is not performed now, and would have held the page a whole idle interval
    # of the dispatcher's loop, as no row of the claim was performed.
    lanes = {r.id: r.lane or "" for r in rows}
    messaged = {lanes[r.id] for r in claimed}
    claimed = [
        r
        for r in claimed
        if not lanes[r.id].startswith(PAGE_LANE)
        or PEOPLE_LANE + lanes[r.id].removeprefix(PAGE_LANE) not in messaged
    ]
    if claimed:
        first = literal(now, outbox.c.first_attempt_at.type)
        connection.execute(
            update(outbox)
            .where(outbox.c.id.in_([r.id for r in claimed]))
            .values(
                next_attempt_at=now + lease,
                attempts=outbox.c.attempts + 1,
                first_attempt_at=func.coalesce(outbox.c.first_attempt_at, first),
            )
        )
    if newer:
        connection.execute(
            update(outbox)
            .where(outbox.c.id.in_(newer))
            .values(next_attempt_at=now + UNKNOWN_KIND_WAIT)
        )
    dead_letter_actions(connection, unreadable)
    return claimed


# The longest reason kept for an unreadable row (the outbox's last_error): pydantic lists every
# allowed value of an enum, which says enough in its first few hundred characters.
UNREADABLE_REASON_LIMIT = 500


def describe_unreadable(exc: Exception) -> str:
    """Why a stored payload is not an action: each failing field and pydantic's message for it,
    without the value that failed (it may be a message body or a name)."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
    else:
        problems = type(exc).__name__
    return f"unreadable action: {problems}"[:UNREADABLE_REASON_LIMIT]


def release_actions(connection: Connection, row_ids: list[int], now: datetime) -> None:
    """Give back claimed rows that were never performed (the dispatcher was told to stop before
    it started them): due again now, for any dispatcher, their attempt not counted. A row
    given back from its first claim was never tried: its first attempt is still to come
    (where a look for what an attempt delivered, and patience with a rate limit, start)."""
    if row_ids:
        connection.execute(
            update(outbox)
            .where(outbox.c.id.in_(row_ids), outbox.c.status == PENDING)
            .values(
                next_attempt_at=now,
                attempts=outbox.c.attempts - 1,
                # SET reads the row as it was: attempts 1 is the claim being given back.
                first_attempt_at=case(
                    (outbox.c.attempts <= 1, null()), else_=outbox.c.first_attempt_at
                ),
            )
        )


@dataclass(frozen=True)
class Attempts:
    """How often an action has been tried (the attempt under way included) and since when."""

    count: int
    since: datetime | None


# How far before an action's first attempt a retry looks for what that attempt may have done
# (a Slack message, a helpdesk note): our clock and the provider's may differ.
LOOKUP_MARGIN = timedelta(minutes=5)


def retried_since(attempts: Attempts | None) -> datetime | None:
    """When an earlier attempt that may have reached the provider began, or None on a first
    try. The attempt under way is counted: more than one means an earlier one was made and not
    given back (pacing and rate limits give theirs back: nothing was sent). A process that died
    before recording its outcome counts too: the claim after the lease is another attempt."""
    if attempts is None or attempts.count <= 1:
        return None
    return attempts.since


def find_attempts(connection: Connection, key: str) -> Attempts | None:
    row = connection.execute(
        select(outbox.c.attempts, outbox.c.first_attempt_at).where(outbox.c.idempotency_key == key)
    ).first()
    return Attempts(row.attempts, row.first_attempt_at) if row else None


def find_action(connection: Connection, key: str) -> tuple[Action, datetime] | None:
    """The action queued under `key` and when it was queued, or None."""
    row = connection.execute(
        select(outbox.c.payload, outbox.c.created_at).where(outbox.c.idempotency_key == key)
    ).first()
    return (load_action(row.payload), row.created_at) if row else None


def find_attempts_of(connection: Connection, keys: Collection[str]) -> dict[str, Attempts]:
    """find_attempts for each of `keys` that is queued, in one query."""
    if not keys:
        return {}
    rows = connection.execute(
        select(outbox.c.idempotency_key, outbox.c.attempts, outbox.c.first_attempt_at).where(
            outbox.c.idempotency_key.in_(list(keys))
        )
    )
    return {key: Attempts(attempts, since) for key, attempts, since in rows}


_COMPLETE = (
    update(outbox)
    .where(outbox.c.id == bindparam("row_id"))
    .values(status=DONE, done_at=bindparam("at"), result=bindparam("result"), last_error=None)
)
_RETRY = (
    update(outbox)
    .where(outbox.c.id == bindparam("row_id"))
    .values(
        next_attempt_at=bindparam("at"),
        last_error=bindparam("error"),
        attempts=outbox.c.attempts - bindparam("refund"),
    )
)
_DEAD = (
    update(outbox)
    .where(outbox.c.id == bindparam("row_id"))
    .values(
        status=DEAD,
        done_at=bindparam("at"),
        last_error=bindparam("error"),
        result=bindparam("result"),
    )
)


def complete_action(
    connection: Connection, row_id: int, now: datetime, result: dict[str, Any] | None
) -> None:
    complete_actions(connection, [(row_id, now, result)])


def complete_actions(
    connection: Connection, done: list[tuple[int, datetime, dict[str, Any] | None]]
) -> None:
    """Mark rows performed (executemany): (row id, when, the performer's result)."""
    if done:
        connection.execute(
            _COMPLETE, [{"row_id": i, "at": at, "result": result} for i, at, result in done]
        )


def retry_actions(connection: Connection, retries: list[tuple[int, datetime, str, bool]]) -> None:
    """Rows to try again (executemany): (row id, when, error, whether the attempt is given
    back: a throttled attempt, a rate limit or pacing, is no failure)."""
    if retries:
        connection.execute(
            _RETRY,
            [
                {"row_id": i, "at": at, "error": error, "refund": int(refund)}
                for i, at, error, refund in retries
            ],
        )


def dead_letter_action(
    connection: Connection,
    row_id: int,
    now: datetime,
    error: str,
    unreached: Sequence[str] = (),
) -> None:
    dead_letter_actions(connection, [(row_id, now, error, unreached)])


def dead_letter_actions(
    connection: Connection, dead: list[tuple[int, datetime, str, Sequence[str]]]
) -> None:
    """Mark rows dead (executemany): (row id, when, error, where the action had still to go,
    as its performer named it: kept as the row's result, `unreached`, for the operator's
    listing and for `requeue_dead_actions`' check of later messages)."""
    if dead:
        connection.execute(
            _DEAD,
            [
                {"row_id": i, "at": at, "error": error, "result": _unreached(where)}
                for i, at, error, where in dead
            ],
        )


def _unreached(where: Sequence[str]) -> dict[str, Any] | None:
    return {"unreached": list(where)} if where else None


def count_by_state(connection: Connection) -> dict[str, int]:
    """The actions by state: pending, done, dry_run, dead. A dry-run action (its system's
    credentials unset: decided, stored and logged, not sent) is stored done, and counted done
    it told an operator without credentials that everything had been sent."""
    counts = dict.fromkeys((PENDING, DONE, DRY_RUN, DEAD), 0)
    dry_run = outbox.c.result["dry_run"].as_boolean().is_(True)
    # One statement, so the counts are of one moment: read apart (PostgreSQL's statements
    # each see their own), an action done in dry-run between the two was taken from a done
    # count that had not counted it, and done could read below 0 while a dry-run serve works.
    rows = connection.execute(
        select(outbox.c.status, func.count(), func.sum(case((dry_run, 1), else_=0))).group_by(
            outbox.c.status
        )
    )
    for status, count, dry in rows:
        if status == DONE:
            counts[DONE], counts[DRY_RUN] = count - dry, dry
        else:
            counts[status] = count
    return counts


def count_actions(connection: Connection, status: str | None = None) -> int:
    query = select(func.count()).select_from(outbox)
    if status is not None:
        query = query.where(outbox.c.status == status)
    return connection.execute(query).scalar_one()


def list_actions(connection: Connection) -> list[dict[str, Any]]:
    return rows_as_dicts(connection.execute(select(outbox).order_by(outbox.c.id)))


def list_event_actions(connection: Connection, event_key: str) -> list[Action]:
    """The actions decided for one event (by its dedupe key), in the order decided."""
    from deskbridge.store.schema import audit

    query = (
        select(outbox.c.payload)
        .join(audit, audit.c.idempotency_key == outbox.c.idempotency_key)
        .where(audit.c.event_key == event_key)
        .order_by(audit.c.id)
    )
    return [load_action(p) for p in connection.execute(query).scalars()]


def outbox_backlog(connection: Connection) -> tuple[int, datetime | None]:
    """(actions not yet performed, when the oldest of them was queued); dead letters are
    not counted."""
    count, oldest = connection.execute(
        select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.status == PENDING)
    ).one()
    # min() over a TypeDecorator column comes back raw on SQLite: read it as the column does.
    if isinstance(oldest, str):
        oldest = outbox.c.created_at.type.process_result_value(
            datetime.fromisoformat(oldest), connection.dialect
        )
    return count, oldest


def list_dead_actions(connection: Connection, limit: int = 1000) -> list[dict[str, Any]]:
    """Dead-lettered actions, oldest first, for an operator to look at: what each was (kind,
    ticket, the role or channel it went to), where it had still to go when it died
    (`unreached`: the channel that refused it and those after it, as the performer named
    them; None when it did not say), how often it was tried, its last error and when it
    died. No message text or person of the payload's (its other fields stay in the store);
    the last error ends with what the helpdesk or PagerDuty answered (ActionFailure.detail),
    which may quote the ticket or the note refused."""
    query = (
        select(
            outbox.c.id,
            outbox.c.action.label("kind"),
            outbox.c.ticket,
            outbox.c.payload,
            outbox.c.result,
            outbox.c.attempts,
            outbox.c.last_error,
            outbox.c.done_at.label("dead_at"),
        )
        .where(outbox.c.status == DEAD)
        .order_by(outbox.c.id)
        .limit(limit)
    )
    rows = rows_as_dicts(connection.execute(query))
    for row in rows:
        params = row.pop("payload").get("params") or {}
        row["target"] = params.get("target")
        row["channel"] = params.get("channel")
        row["unreached"] = (row.pop("result") or {}).get("unreached")
    return rows


@dataclass(frozen=True)
class Requeued:
    """What `requeue_dead_actions` did: the rows put back, and the dead rows left dead because
    a later action of their lane got there first (sent now, they would arrive after it: a
    pager trigger after the incident's resolve, a warning after its breach in the channel)."""

    requeued: list[int]
    superseded: list[int]


def requeue_dead_actions(
    connection: Connection,
    now: datetime,
    ids: Sequence[int] | None = None,
    since: datetime | None = None,
    superseded_too: bool = False,
) -> Requeued:
    """Put dead-lettered actions (all, those ids, or those that died at or after `since`) back
    in the queue, due now, with their attempts started again. The idempotency key and the
    first attempt's time are kept, and the count restarts at 1, not 0: the row was tried
    before, so its performer first looks for what an earlier attempt may have delivered
    (retried_since) and a retry cannot double. Its patience with a rate limit starts again
    now (requeued_at). A row superseded in its lane is left dead unless `superseded_too`."""
    query = select(outbox.c.id, outbox.c.lane, outbox.c.result).where(outbox.c.status == DEAD)
    if ids is not None:
        query = query.where(outbox.c.id.in_(list(ids)))
    if since is not None:
        query = query.where(outbox.c.done_at >= since)
    dead = connection.execute(query.order_by(outbox.c.id)).all()
    superseded: list[int] = []
    if not superseded_too:
        superseded = _find_superseded(connection, dead)
    left = set(superseded)
    chosen = [row.id for row in dead if row.id not in left]
    if chosen:
        connection.execute(
            update(outbox)
            .where(outbox.c.id.in_(chosen), outbox.c.status == DEAD)
            .values(status=PENDING, attempts=1, next_attempt_at=now, done_at=None, requeued_at=now)
        )
    return Requeued(chosen, superseded)


def _find_superseded(connection: Connection, dead: Sequence[Any]) -> list[int]:
    """The dead rows (id, lane, result) that a row queued after them in their lane got ahead
    of. For a row that kept where it had still to go (`unreached`: Slack channels, DMs), a
    later row that posted there: a message elsewhere about the same ticket (the route refused
    in a department's channel, the escalation sent to the specialists') leaves it in order.
    For a row that did not (a pager event: trigger, acknowledge, resolve of one incident; a
    row dead-lettered before this was kept), any later row of its lane performed."""
    lanes = {row.lane for row in dead if row.lane is not None}
    if not lanes:
        return []
    first = min(row.id for row in dead if row.lane is not None)
    later = (outbox.c.lane.in_(lanes), outbox.c.id > first)
    # Counted by the store, one row per lane (and channel): a coaching DM's lane is a
    # person's every nudge since it died, months of them for an old dead letter.
    performed: dict[str, int] = dict(
        connection.execute(
            select(outbox.c.lane, func.max(outbox.c.id))
            .where(*later, outbox.c.status == DONE)
            .group_by(outbox.c.lane)
        ).all()
    )
    posted: dict[tuple[str, str], int] = {
        (lane, channel): last
        for lane, channel, last in connection.execute(
            select(outbox.c.lane, slack_messages.c.channel, func.max(outbox.c.id))
            .join_from(
                outbox, slack_messages, slack_messages.c.action_key == outbox.c.idempotency_key
            )
            .where(*later)
            .group_by(outbox.c.lane, slack_messages.c.channel)
        )
    }

    def passed(row: Any) -> bool:
        unreached = (row.result or {}).get("unreached")
        if not unreached:
            return performed.get(row.lane, 0) > row.id
        return any(posted.get((row.lane, channel), 0) > row.id for channel in unreached)

    return [row.id for row in dead if row.lane is not None and passed(row)]
