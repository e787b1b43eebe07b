"""Raw inbound events, deduplicated by the provider's id, and the decider's queue over them.

An event is stored `undecided` by the webhook (the acknowledgement does nothing else), then
marked `decided` by the decider in the same transaction as everything it decided, or `failed`
with the error when the rules raised on it (`deskbridge redecide` puts it back).
"""

from __future__ import annotations

import contextlib
import logging
import operator
import os
import random
import threading
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from deskbridge.config.logging import OutageLog, log_event
from deskbridge.store.interface import StoredEvent, clip_error
from deskbridge.store.schema import UTCDateTime, events, format_sqlite_utc
from deskbridge.store.sql import (
    is_postgres,
    prepare_insert_ignoring_conflicts,
    rows_as_dicts,
)
from deskbridge.workflows.model import TicketEvent, dump_event_json

log = logging.getLogger("deskbridge.decider")

UNDECIDED, DECIDED, FAILED = "undecided", "decided", "failed"
# Tickets are spread over this many partitions; a decider on PostgreSQL holds some of them
# (transaction advisory locks) while it decides, so each ticket has one decider at a time.
SHARDS = 64
# The advisory lock namespace (first key of pg_try_advisory_xact_lock(int, int)). Advisory
# locks are database-wide, so it is derived from the schema: two deskbridge stores in one
# database (two teams, or parallel test runs) never hold each other's partitions.
_LOCK_CLASS = "('x' || substr(md5('deskbridge:' || current_schema()), 1, 8))::bit(32)::int"


_getpid = os.getpid


def shard_of(ticket: str) -> int:
    return zlib.crc32(ticket.encode()) % SHARDS


def build_event_row(event: TicketEvent, body: str, received_at: datetime) -> dict[str, Any]:
    # The ticket's key made once; the members' values read as attributes (`.value` is a
    # Python-level descriptor on 3.11, as in workflows/model.ticket_key).
    ticket = event.ticket_key
    return {
        "dedupe_key": event.dedupe_key,
        "source": event.source._value_,
        "ticket": ticket,
        "kind": event.kind._value_,
        "occurred_at": event.occurred_at,
        "received_at": received_at,
        "body": body,
        "status": UNDECIDED,
        "event": encode_event_json(event),
        "shard": shard_of(ticket),
    }


def encode_event_json(event: TicketEvent) -> str:
    """`dump_event_json(event)`, byte for byte (the decider reads it back), in under half its
    instructions: orjson over the models (dataclasses, each in its fields' order). pydantic
    and orjson write these fields' types alike (a test keeps them to those types) except a
    time whose UTC offset has seconds, which pydantic cuts to the minute and orjson rounds:
    an event with a time not in UTC (none from the connectors, whose times are UTC) takes
    pydantic's own path, as does one orjson cannot encode."""
    ticket = event.ticket
    for at in (event.occurred_at, ticket.created_at, ticket.updated_at):
        if at is not None and at.tzinfo is not UTC:
            return dump_event_json(event)
    try:
        return orjson.dumps(event, option=orjson.OPT_UTC_Z).decode()
    except orjson.JSONEncodeError:
        return dump_event_json(event)


_INSERT_COLUMNS = (
    "dedupe_key",
    "source",
    "ticket",
    "kind",
    "occurred_at",
    "received_at",
    "body",
    "status",
    "event",
    "shard",
)


def _insert_statement(connection: Connection | Engine):
    # Prepared once per dialect.
    return prepare_insert_ignoring_conflicts(
        connection, events, "dedupe_key", _INSERT_COLUMNS, events.c.id
    )


def insert_events(connection: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Store events as undecided; returns how many were new (known dedupe keys are skipped).
    Deciders in other processes learn of them from an EventNotifier, after the commit."""
    if not rows:
        return 0
    # RETURNING counts what was new on both backends, also for many rows at once.
    return len(connection.execute(_insert_statement(connection), list(rows)).all())


class EventInserter:
    """The acknowledgement's one statement: the events' INSERT … ON CONFLICT DO NOTHING,
    compiled once for the engine's dialect (SQL text, parameter order, the column
    types' bind processors) and run on a DBAPI connection of the engine's pool, committed
    before `insert` returns: on PostgreSQL one statement in autocommit, in the calling thread;
    on SQLite by a committing thread of its own, with the acknowledgements queued at the same
    moment (group commit), on one connection kept for them (see `insert`).

    Not through a SQLAlchemy Connection: its begin hook, execution context, compiled-cache
    lookup and result wrapping cost about 100 µs of the 165-185 µs an acknowledgement spent
    storing one event on SQLite, more than the database's own work (benchmarks/README.md).
    The pool (pre-ping on PostgreSQL), the connect-time settings (WAL, busy timeout) and the
    stored values are the engine's, as for every other statement; driver errors are raised
    as SQLAlchemy's (DataError, OperationalError, ...), without the parameters (the body).
    """

    def __init__(self, engine: Engine, writer: AbstractContextManager | None = None):
        self.engine = engine
        # SQLite's one writer (the process's lock): concurrent acknowledgements commit in
        # groups under it (see `insert`). None: each call commits alone (PostgreSQL, where
        # commits run in parallel, and tests).
        self._writer = writer
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        # The committing thread (SQLite): started on first use, in the process that stores (a
        # gunicorn worker does not inherit the threads of the process it was forked from:
        # `_committer_pid`), and gone after IDLE_S without rows. With nothing queued it waits
        # on `_wake`, a lock held while it sleeps (`_sleeping`) and released by the call that
        # queues next: one C call each side, where a Condition's wait and notify were Python
        # (a lock made per wait, a waiters' deque; callgrind ~10k instructions a commit).
        self._committer: threading.Thread | None = None
        self._committer_pid: int | None = None
        self._sleeping = False
        self._wake = threading.Lock()
        # The connection kept for the writer's inserts (SQLite), see `_insert_all`, and a
        # cursor kept on it (not one made and closed per commit).
        self._held: Any = None
        self._held_cursor: Any = None
        self._alone = False
        dialect = engine.dialect
        # SQLite: one row a statement, without RETURNING: the cursor's rowcount says whether
        # the row was new. A RETURNING row is a second step of the statement, and each step
        # gives up the GIL and takes it back, a wait among the request threads.
        compiled = prepare_insert_ignoring_conflicts(
            engine, events, "dedupe_key", _INSERT_COLUMNS
        ).compile(dialect=dialect)
        self._sql = compiled.string
        # PostgreSQL: all the rows of a call (or of a group) in one statement, values in
        # column order, on a connection in autocommit: one round trip, the COMMIT included,
        # where psycopg's BEGIN, the INSERT and the COMMIT were three; atomic, as one
        # statement is (`_insert_in_one_statement`; benchmarks/README.md, eleventh session).
        self._autocommit = dialect.name == "postgresql"
        self._statements: dict[int, str] = {}
        if self._autocommit:
            names = list(_INSERT_COLUMNS)
        else:
            # bindparam names are the column names (prepare_insert_ignoring_conflicts).
            names = list(compiled.positiontup) if dialect.positional else list(_INSERT_COLUMNS)
        processors = {
            name: events.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        }
        if dialect.name == "sqlite":
            processors = {n: _fast_processor(events.c[n].type, p) for n, p in processors.items()}
        self._fields = [(name, processors[name]) for name in names]
        # Positional: the row's values in the statement's order by one C call, then only the
        # values with a processor (the two times) converted, not a generator over ten.
        self._values = operator.itemgetter(*names)
        self._converted = [(i, p) for i, (_, p) in enumerate(self._fields) if p is not None]
        self._positional = dialect.positional or self._autocommit
        # SQLite: SQLAlchemy, not pysqlite, begins transactions (store/db.py), and the
        # writer takes its lock up front; PostgreSQL's driver begins one implicitly.
        self._begin = "BEGIN IMMEDIATE" if dialect.name == "sqlite" else None
        self._error = dialect.loaded_dbapi.Error

    def _parameters(self, row: dict[str, Any]) -> list | dict[str, Any]:
        if self._positional:
            values = list(self._values(row))
            for index, process in self._converted:
                values[index] = process(values[index])
            return values
        return {n: row[n] if p is None else p(row[n]) for n, p in self._fields}

    def _wrap(self, exc: Exception, statement: str | None, lost: bool = False) -> Exception:
        """The driver's error as SQLAlchemy raises it (DataError, OperationalError, ...)."""
        return DBAPIError.instance(
            statement,
            None,
            exc,
            self._error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=self.engine.dialect,
        )

    def insert(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store events as undecided, committed before it returns; returns how many were new
        (known dedupe keys are skipped).

        With a writer lock (SQLite), a group commit: the rows wait in a queue, and the
        committing thread, once it holds the writer, commits everything queued in one
        transaction, the rows of every call that arrived while the last commit ran; each call
        waits until its rows are committed (or refused), then returns. One request alone
        commits at once; under load, one BEGIN/COMMIT and one write of the shared pages serve
        several requests (about 100 -> 45 µs of CPU an event at 8 a group).

        Committed by one thread, not by whichever request thread took the writer next: the
        request threads then wait once each (on a lock) instead of queueing on the writer
        and taking the GIL back after each of SQLite's calls, which under waitress cost
        more CPU than the database's own work (benchmarks/README.md, seventh session).
        """
        if not rows:
            return 0
        if self._writer is None:
            return self._insert_all([rows])[0]
        pending = _Pending(rows)
        with self._queue_lock:
            self._queue.append(pending)
            if self._committer_pid != _getpid():  # none, or the forked parent's
                self._start_committer()
            elif self._sleeping:
                self._sleeping = False
                self._wake.release()
        pending.committed.acquire()  # released once its outcome is final
        if pending.error is not None:
            raise pending.error
        if not pending.stored:
            # Never answered as stored (or duplicate) if not: a store error (the webhook's
            # 503, which the helpdesk retries) for a committing thread stopped by a
            # BaseException; a 500 is not retried and the event would be lost.
            raise SQLAlchemyError("the events were not stored")
        return pending.new

    IDLE_S = 5.0

    def _start_committer(self) -> None:
        """Called with the queue's lock held."""
        self._sleeping = False
        self._wake = threading.Lock()  # held while the committer sleeps: taken now
        self._wake.acquire()
        self._committer_pid = _getpid()
        self._committer = threading.Thread(
            target=self._run_committer, name="deskbridge-ack-commit", daemon=True
        )
        self._committer.start()

    def _run_committer(self) -> None:
        """The committing thread: commit what is queued, a group at a time, until nothing has
        been queued for IDLE_S (the next call starts another)."""
        lock, wake, writer = self._queue_lock, self._wake, self._writer
        try:
            while True:
                with lock:
                    sleeping = self._sleeping = not self._queue
                if sleeping and not wake.acquire(timeout=self.IDLE_S):
                    with lock:
                        if self._sleeping:  # nothing queued for IDLE_S: go
                            self._sleeping = False
                            self._committer = self._committer_pid = None
                            return
                    # A call queued between the time-out and the lock and released the wake
                    # lock: held again, for the next sleep.
                    wake.acquire()
                with writer:
                    # Taken with the writer held: the calls that queued while it was busy
                    # (the decider's batch, the last group's commit) join this group.
                    with lock:
                        group, self._queue = self._queue, []
                    if group:
                        self._commit(group)
        finally:
            # Stopped by a BaseException (its group was told the store failed: a 503, which
            # the helpdesk retries): calls queued meanwhile get a thread of their own.
            with lock:
                if self._committer is threading.current_thread():
                    self._committer = self._committer_pid = None
                    if self._queue:
                        self._start_committer()

    def _commit(self, group: list[_Pending]) -> None:
        """Commit `group` in one transaction, each member's outcome set on it. If that fails,
        each member is tried in a transaction of its own, so one request's refused value
        (or a lost connection) fails that request alone, never another's."""
        try:
            counts = self._insert_all([p.rows for p in group])
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
            else:
                for p in group:
                    try:
                        p.new, p.stored = self._insert_all([p.rows])[0], True
                    except Exception as alone:
                        p.error = alone
        else:
            for p, new in zip(group, counts, strict=True):
                p.new, p.stored = new, True
        finally:
            # Whatever happened, no member waits for a commit that will not come.
            for p in group:
                p.committed.release()

    def _insert_all(self, groups: Sequence[Sequence[dict[str, Any]]]) -> list[int]:
        """Every group's rows in one committed transaction; how many were new per group."""
        try:
            raw = self._connection()
        except self._error as exc:  # the store is down
            raise self._wrap(exc, None) from exc
        held = raw is self._held
        cursor = None
        committed = False
        try:
            cursor = self._held_cursor if held else raw.cursor()
            if self._autocommit:
                counts = self._insert_in_one_statement(cursor, groups)
            elif held and self._alone and len(groups) == 1 and len(groups[0]) == 1:
                # One row: its INSERT alone, which the connection (in autocommit, as the
                # store's engine sets up SQLite's) commits as a transaction of its own; no
                # BEGIN IMMEDIATE and COMMIT around it (callgrind: ~9k instructions each).
                # SQLite takes the write lock for it as BEGIN IMMEDIATE would.
                cursor.execute(self._sql, self._parameters(groups[0][0]))
                counts = [cursor.rowcount]
            else:
                if self._begin is not None:
                    cursor.execute(self._begin)
                counts = []
                for rows in groups:
                    new = 0
                    for row in rows:
                        cursor.execute(self._sql, self._parameters(row))
                        new += cursor.rowcount
                    counts.append(new)
                raw.commit()
            committed = True
            return counts
        except self._error as exc:
            lost = self.engine.dialect.is_disconnect(exc, raw.dbapi_connection, cursor)
            if lost:
                raw.invalidate(exc)
            raise self._wrap(exc, self._sql, lost) from exc
        finally:
            if not committed:
                # A kept connection goes back to the pool too; the next call takes another.
                self._held = None
            if cursor is not None and (not held or not committed):
                with contextlib.suppress(self._error):
                    cursor.close()
            if raw is not self._held:
                self._give_back(raw)

    def _insert_in_one_statement(self, cursor: Any, groups: Sequence[Sequence[dict]]) -> list:
        """PostgreSQL: every group's rows in one INSERT, which commits itself (autocommit);
        how many were new per group. A dedupe key twice among them is inserted once: the
        first row that carries it counts as new, the other as a duplicate."""
        rows = [row for group in groups for row in group]
        values: list = []
        for row in rows:
            values += self._parameters(row)
        cursor.execute(self._pg_statement(len(rows)), values)
        inserted = {key for (key,) in cursor.fetchall()}
        counts = []
        for group in groups:
            new = 0
            for row in group:
                if row["dedupe_key"] in inserted:
                    inserted.discard(row["dedupe_key"])
                    new += 1
            counts.append(new)
        return counts

    def _pg_statement(self, rows: int) -> str:
        """INSERT … VALUES (…), … ON CONFLICT DO NOTHING RETURNING the new rows' dedupe keys,
        for this many rows; kept for the usual counts (psycopg prepares a text it sees often)."""
        statement = self._statements.get(rows)
        if statement is None:
            quote = self.engine.dialect.identifier_preparer.quote
            key = quote("dedupe_key")
            columns = ", ".join(quote(c) for c in _INSERT_COLUMNS)
            row = "(" + ", ".join(["%s"] * len(_INSERT_COLUMNS)) + ")"
            statement = (
                f"INSERT INTO {quote(events.name)} ({columns}) VALUES "
                + ", ".join([row] * rows)
                + f" ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
            )
            if rows <= 16:
                self._statements[rows] = statement
        return statement

    def _give_back(self, raw: Any) -> None:
        """A connection back to the pool as the pool gave it (not in autocommit); the pool
        rolls back whatever did not commit."""
        if self._autocommit and raw.dbapi_connection is not None:
            with contextlib.suppress(self._error):
                raw.dbapi_connection.autocommit = False
        raw.close()

    def _connection(self) -> Any:
        """A pooled DBAPI connection; with the writer's lock (SQLite), which makes one
        enough, always the same one, kept out of the pool. A SQLite connection's page cache
        is dropped whenever another connection wrote: rotating through the pool's
        connections, each acknowledgement read afresh the pages it changes."""
        if self._writer is not None and self._held is not None:
            return self._held
        raw = self.engine.raw_connection()
        if self._autocommit:
            raw.dbapi_connection.autocommit = True
        if self._writer is not None:
            self._held = raw
            try:
                self._held_cursor = raw.cursor()
            except BaseException:
                self._held = None
                self._give_back(raw)
                raise
            # SQLite in autocommit (pysqlite's isolation_level None, as store/db.py sets
            # it): a statement alone is a transaction of its own (`_insert_all`).
            self._alone = getattr(raw.dbapi_connection, "isolation_level", "") is None
        return raw


# Aware times of every shape the store is given (UTC, another zone, no microseconds), each
# a trap for a formatter that is not SQLAlchemy's storage format.
_SAMPLE_TIMES = (
    datetime(2026, 3, 2, 8, 0, 27, 123456, tzinfo=UTC),
    datetime(2026, 3, 2, 8, 0, 27, tzinfo=UTC),
    datetime(2001, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
)


def _fast_processor(column_type: Any, processor: Callable | None) -> Callable | None:
    """SQLite: `format_sqlite_utc` for a UTCDateTime column if it gives what SQLAlchemy's
    processor gives; otherwise that processor."""
    if not isinstance(column_type, UTCDateTime) or processor is None:
        return processor
    if all(format_sqlite_utc(t) == processor(t) for t in _SAMPLE_TIMES):
        return format_sqlite_utc
    return processor


class _Pending:
    """One `EventInserter.insert` call's rows waiting for a group commit, and its outcome."""

    __slots__ = ("committed", "error", "new", "rows", "stored")

    def __init__(self, rows: Sequence[dict[str, Any]]):
        self.rows = rows
        # Held until the outcome is final: the waiting call blocks on it in C, without
        # threading.Event's Python-level condition (a lock, a list, a notify per call).
        self.committed = threading.Lock()
        self.committed.acquire()
        self.new = 0
        # Set once a commit said so (`stored`), or why not (`error`); neither: not stored
        # (see `insert`). The error is made only then, not for every call.
        self.stored = False
        self.error: BaseException | None = None


NOTIFY_CHANNEL = "deskbridge_events"


def notify_deciders(connection: Connection) -> None:
    """PostgreSQL: wake the deciders listening on this database (delivered at commit)."""
    connection.exec_driver_sql(f"NOTIFY {NOTIFY_CHANNEL}")


class EventNotifier:
    """Tells deciders in other processes (LISTEN on PostgreSQL) that events were stored: one
    NOTIFY, in a transaction of its own on a thread of its own, for all the acknowledgements
    that committed since the last one was sent, and at most one per `min_interval` s.

    Not in the acknowledging transaction: PostgreSQL serialises the commits of transactions
    that notified (a database-wide lock from queueing the notification until the commit is
    flushed), which halved the acknowledgements per second of 8 threads. A NOTIFY that fails
    (store down) is not retried: the deciders also poll.
    """

    def __init__(self, send: Callable[[], None] | None, min_interval: float = 0.01):
        self._send = send
        self.min_interval = min_interval
        self._pending = threading.Event()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_engine(cls, engine: Engine) -> EventNotifier:
        """A notifier for `engine`'s store; it does nothing on SQLite, where the one process
        that stores also decides."""
        if engine.dialect.name != "postgresql":
            return cls(None)

        def send() -> None:
            with engine.begin() as connection:
                notify_deciders(connection)

        return cls(send)

    def notify(self) -> None:
        """Events were committed: a NOTIFY follows, at once or after the one being sent."""
        if self._send is None:
            return
        self._pending.set()
        if self._thread is None or not self._thread.is_alive():
            with self._start:
                # Started on first use, in the process that stores: a gunicorn worker does not
                # inherit the threads of the process it was forked from.
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="deskbridge-notifier", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            self._pending.wait()
            # Cleared before sending: events committed from now on get the next NOTIFY.
            self._pending.clear()
            try:
                self._send()
            except SQLAlchemyError as exc:
                log_event(log, logging.WARNING, "decider.notify_failed", error=type(exc).__name__)
            time.sleep(self.min_interval)


def insert_event(
    connection: Connection, event: TicketEvent, body: str, received_at: datetime
) -> bool:
    """Store one event; False when its dedupe key was already stored (a duplicate)."""
    return insert_events(connection, [build_event_row(event, body, received_at)]) == 1


def lock_shards(connection: Connection, most: int) -> list[int] | None:
    """PostgreSQL: take (until commit) up to `most` partitions that have undecided events and
    that no other decider holds; [] when there is nothing this decider may take. None on
    SQLite, where the one writer already decides alone."""
    if not is_postgres(connection):
        return None
    waiting = list(
        connection.execute(
            select(events.c.shard).where(events.c.status == UNDECIDED).distinct()
        ).scalars()
    )
    if not waiting:
        return []
    # A random subset, so several deciders share the partitions instead of the first one
    # taking them all.
    candidates = random.sample(waiting, min(most, len(waiting)))
    return list(
        connection.execute(
            text(
                "SELECT s FROM unnest(CAST(:shards AS integer[])) AS s "
                f"WHERE pg_try_advisory_xact_lock({_LOCK_CLASS}, s)"
            ),
            {"shards": candidates},
        ).scalars()
    )


def lock_ticket_shards(connection: Connection, tickets: Iterable[str]) -> None:
    """PostgreSQL: take these tickets' partitions until commit, waiting for a decider that
    holds one to finish its batch. Taken in partition order, so two sweeps never deadlock
    (event batches only ever try, never wait)."""
    if not is_postgres(connection):
        return
    wanted = sorted({shard_of(t) for t in tickets})
    if wanted:
        connection.execute(
            text(
                f"SELECT pg_advisory_xact_lock({_LOCK_CLASS}, s) "
                "FROM unnest(CAST(:shards AS integer[])) WITH ORDINALITY AS u(s, n) ORDER BY n"
            ),
            {"shards": wanted},
        ).all()


_CLAIM_COLUMNS = (
    events.c.id,
    events.c.dedupe_key,
    events.c.ticket,
    events.c.received_at,
    events.c.event,
)


def claim_undecided_events(
    connection: Connection, limit: int, shards: list[int] | None = None
) -> list[StoredEvent]:
    """The oldest undecided events (in arrival order), only from `shards` when given."""
    query = select(*_CLAIM_COLUMNS).where(events.c.status == UNDECIDED)
    if shards is not None:
        query = query.where(events.c.shard.in_(shards))
    query = query.order_by(events.c.id).limit(limit)
    return [StoredEvent(*row) for row in connection.execute(query)]


_LATER = events.alias("later")


def claim_ticket_events(
    connection: Connection, tickets: Collection[str], until: datetime, limit: int | None = None
) -> list[StoredEvent]:
    """The undecided events of `tickets` that arrived by `until`, in arrival order (the
    first `limit` of them when given): what the timer sweep decides before firing those
    tickets' timers due by `until`. A ticket's events stop at its first undecided one that
    arrived later (two web hosts' clocks may stamp a later event a little earlier), so they
    are still decided in arrival order. Read through ix_events_status (the tickets'
    partitions), however many are decided."""
    if not tickets:
        return []
    shards = sorted({shard_of(t) for t in tickets})
    arrived_later = (
        select(_LATER.c.id)
        .where(
            _LATER.c.status == UNDECIDED,
            _LATER.c.shard == events.c.shard,
            _LATER.c.ticket == events.c.ticket,
            _LATER.c.id < events.c.id,
            _LATER.c.received_at > until,
        )
        .exists()
    )
    query = (
        select(*_CLAIM_COLUMNS)
        .where(
            events.c.status == UNDECIDED,
            events.c.shard.in_(shards),
            events.c.ticket.in_(list(tickets)),
            events.c.received_at <= until,
            ~arrived_later,
        )
        .order_by(events.c.id)
        .limit(limit)
    )
    return [StoredEvent(*row) for row in connection.execute(query)]


_MARK_DECIDED = (
    update(events)
    .where(events.c.id == bindparam("event_id"), events.c.status == UNDECIDED)
    .values(status=DECIDED, decided_at=bindparam("at"), error=None)
)
_MARK_FAILED = (
    update(events)
    .where(events.c.id == bindparam("event_id"), events.c.status == UNDECIDED)
    .values(status=FAILED, decided_at=bindparam("at"), error=bindparam("error"))
)


def mark_events_decided(connection: Connection, ids: Sequence[int], at: datetime) -> bool:
    """Mark undecided events decided; False when any of them was no longer undecided."""
    if not ids:
        return True
    marked = connection.execute(_MARK_DECIDED, [{"event_id": i, "at": at} for i in ids])
    return marked.rowcount == len(ids)


def mark_events_failed(
    connection: Connection, failures: Sequence[tuple[int, str]], at: datetime
) -> None:
    if failures:
        connection.execute(
            _MARK_FAILED, [{"event_id": i, "at": at, "error": clip_error(e)} for i, e in failures]
        )


def list_failed_events(connection: Connection, limit: int = 1000) -> list[dict[str, Any]]:
    query = (
        select(
            events.c.id,
            events.c.dedupe_key,
            events.c.ticket,
            events.c.kind,
            events.c.received_at,
            events.c.decided_at.label("failed_at"),
            events.c.error,
        )
        .where(events.c.status == FAILED)
        .order_by(events.c.id)
        .limit(limit)
    )
    return rows_as_dicts(connection.execute(query))


def failed_event_keys(connection: Connection, ids: Sequence[int] | None = None) -> dict[int, str]:
    """The failed events (all, or those ids): id → dedupe key (`redecide` follows them)."""
    query = select(events.c.id, events.c.dedupe_key).where(events.c.status == FAILED)
    if ids is not None:
        query = query.where(events.c.id.in_(list(ids)))
    return {n: v for n, v in connection.execute(query)}


def event_statuses(connection: Connection, ids: Sequence[int]) -> dict[int, str]:
    """The status of each of these events."""
    query = select(events.c.id, events.c.status).where(events.c.id.in_(list(ids)))
    return {n: v for n, v in connection.execute(query)}


def requeue_failed_events(connection: Connection, ids: Sequence[int] | None = None) -> int:
    """Put failed events (all, or those ids) back in the decider's queue."""
    statement = update(events).where(events.c.status == FAILED)
    if ids is not None:
        statement = statement.where(events.c.id.in_(list(ids)))
    return connection.execute(statement.values(status=UNDECIDED, error=None)).rowcount


def count_events(connection: Connection, status: str | None = None) -> int:
    query = select(func.count()).select_from(events)
    if status is not None:
        query = query.where(events.c.status == status)
    return connection.execute(query).scalar_one()


def oldest_undecided_at(connection: Connection) -> datetime | None:
    """When the oldest undecided event arrived (the decider's lag is now minus this)."""
    return connection.execute(
        select(events.c.received_at)
        .where(events.c.status == UNDECIDED)
        .order_by(events.c.id)
        .limit(1)
    ).scalar()


def event_status(connection: Connection, dedupe_key: str) -> str | None:
    return connection.execute(
        select(events.c.status).where(events.c.dedupe_key == dedupe_key)
    ).scalar()


def listen_for_events(engine: Engine, wake: Callable[[], None], stop: threading.Event) -> None:
    """PostgreSQL: call `wake()` whenever another process stores events (their NOTIFY), until
    `stop` is set; a lost connection is opened again. Returns at once on SQLite."""
    if engine.dialect.name != "postgresql":
        return
    import psycopg

    from deskbridge.store import db

    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    # Logged as the other loops log a store outage: when it starts, once a minute while it
    # lasts (it was an ERROR every 5 s), and when listening again.
    outage = OutageLog(log, "decider.listen_failed", "decider.listen_recovered")
    while not stop.is_set():
        try:
            # The engine's timeouts, keep-alives and query deadline: a silent store is noticed
            # on this connection too (it waited for notifications that could no longer come,
            # and for the answer to LISTEN without bound).
            with db.connect_with_deadline(
                conninfo, autocommit=True, **db.PG_CONNECT_ARGS
            ) as connection:
                connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                outage.succeeded()
                wake()  # anything stored while we were not listening
                quiet_since = time.monotonic()
                while not stop.is_set():
                    for _notify in connection.notifies(timeout=1.0, stop_after=1):
                        wake()
                        quiet_since = time.monotonic()
                    if time.monotonic() - quiet_since >= LISTEN_CHECK_S:
                        # Keep-alives are answered by the kernel of a hung server, or by a
                        # proxy in front of a silent one: only a query shows it still answers.
                        connection.execute("SELECT 1")
                        quiet_since = time.monotonic()
        except psycopg.Error as exc:
            outage.failed(error=type(exc).__name__)
            stop.wait(LISTEN_RETRY_S)


# Seconds between attempts to listen again after the LISTEN connection was lost.
LISTEN_RETRY_S = 5.0
# Seconds without a notification after which the LISTEN connection is asked a `SELECT 1`.
LISTEN_CHECK_S = 30.0
