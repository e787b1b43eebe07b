"""The acknowledgement's INSERT on the DBAPI cursor (store/events.py EventInserter), on SQLite
and PostgreSQL: the rows it stores are the Core insert's, each call is one committed
transaction, duplicates are skipped, and driver errors surface as SQLAlchemy's."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError

from deskbridge.store.db import create_store_engine
from deskbridge.store.events import (
    UNDECIDED,
    EventInserter,
    build_event_row,
    insert_events,
    shard_of,
)
from deskbridge.store.schema import UTCDateTime, events, format_sqlite_utc
from deskbridge.workflows.model import Comment, EventKind, Source, TicketEvent, dump_event_json

RECEIVED = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)


def comment(key: str, body: str = "Where is my sofa?") -> TicketEvent:
    return TicketEvent(
        source=Source.zendesk,
        ticket_id="48213",
        dedupe_key=key,
        kind=EventKind.comment_added,
        # Not UTC: stored as UTC, as every other time in the store.
        occurred_at=datetime(2026, 3, 2, 10, 59, 58, 5, tzinfo=timezone(timedelta(hours=2))),
        comment=Comment(
            id="31877650021", public=True, body=body, author_id="900", author_is_agent=False
        ),
    )


def stored_rows(engine) -> dict[str, dict]:
    columns = [c for c in events.c if c.name not in ("id", "dedupe_key")]
    with engine.connect() as connection:
        return {
            row.dedupe_key: {c.name: row._mapping[c.name] for c in columns}
            for row in connection.execute(select(events.c.dedupe_key, *columns))
        }


def test_stores_what_the_core_insert_stores(engine):
    body = '{"subject": "Colis 📦 perdu — שלום"}'
    with engine.begin() as connection:
        insert_events(connection, [build_event_row(comment("core"), body, RECEIVED)])
    assert EventInserter(engine).insert([build_event_row(comment("ack"), body, RECEIVED)]) == 1
    rows = stored_rows(engine)
    assert rows["ack"] == rows["core"] | {"event": dump_event_json(comment("ack"))}
    # As the driver returns them (SQLite's times are text: the same text, so they sort alike).
    with engine.connect() as connection:
        raw = dict(
            connection.execute(
                text("SELECT dedupe_key, occurred_at || ' ' || received_at FROM events")
            ).all()
        )
    assert raw["ack"] == raw["core"]
    assert rows["ack"] == {
        "source": "zendesk",
        "ticket": "zendesk:48213",
        "kind": "comment_added",
        "occurred_at": datetime(2026, 3, 2, 8, 59, 58, 5, tzinfo=UTC),
        "received_at": RECEIVED,
        "body": body,
        "status": UNDECIDED,
        "event": dump_event_json(comment("ack")),
        "shard": shard_of("zendesk:48213"),
        "decided_at": None,
        "error": None,
    }


@pytest.mark.parametrize(
    ("at", "stored"),
    [
        (datetime(2026, 3, 2, 8, 0, 27, 123456, tzinfo=UTC), "2026-03-02 08:00:27.123456"),
        (datetime(2026, 3, 2, 8, 0, tzinfo=UTC), "2026-03-02 08:00:00.000000"),
        (
            datetime(2026, 1, 1, 1, 30, 0, 5, tzinfo=timezone(timedelta(hours=2))),
            "2025-12-31 23:30:00.000005",
        ),
        (datetime(2000, 1, 1, tzinfo=timezone(timedelta(hours=-5))), "2000-01-01 05:00:00.000000"),
        # The edges of a 4-digit year, and one microsecond (orjson's text, then cut).
        (datetime(999, 1, 1, 0, 0, 0, 5, tzinfo=UTC), "0999-01-01 00:00:00.000005"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01 00:00:00.000000"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31 23:59:59.999999"),
        (datetime(2026, 3, 2, 8, 0, 27, 1, tzinfo=UTC), "2026-03-02 08:00:27.000001"),
    ],
)
def test_sqlite_times_are_the_text_sqlalchemy_stores(at, stored):
    dialect = create_store_engine("sqlite://").dialect
    sqlalchemy_s = events.c.occurred_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert format_sqlite_utc(at) == sqlalchemy_s(at) == stored
    assert format_sqlite_utc(None) is None


def test_sqlite_times_are_sqlalchemy_s_text_for_random_times():
    dialect = create_store_engine("sqlite://").dialect
    sqlalchemy_s = events.c.occurred_at.type.dialect_impl(dialect).bind_processor(dialect)
    rng = random.Random(12)
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-11))]
    for _ in range(3000):
        at = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(100 * 365 * 86400),
            # Half of them on a whole second: orjson writes no microseconds, isoformat then.
            microseconds=rng.choice([0, rng.randrange(1_000_000)]),
        )
        at = at.astimezone(rng.choice(zones))
        assert format_sqlite_utc(at) == sqlalchemy_s(at), at


def test_a_naive_time_is_refused_as_by_the_column_type():
    dialect = create_store_engine("sqlite://").dialect
    sqlalchemy_s = events.c.occurred_at.type.dialect_impl(dialect).bind_processor(dialect)
    for process in (format_sqlite_utc, sqlalchemy_s):
        with pytest.raises(ValueError, match="naive datetime given to the store"):
            process(datetime(2026, 3, 2, 8, 0))


def test_the_inserter_keeps_sqlalchemy_s_processor_when_the_text_would_differ():
    from deskbridge.store.events import _fast_processor

    def other_format(value: datetime) -> str:
        return value.isoformat()

    assert _fast_processor(UTCDateTime(), other_format) is other_format
    dialect = create_store_engine("sqlite://").dialect
    theirs = events.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert _fast_processor(UTCDateTime(), theirs) is format_sqlite_utc


def test_counts_new_events_and_skips_known_ones_in_one_transaction(engine):
    inserter = EventInserter(engine)
    row = build_event_row(comment("a"), "{}", RECEIVED)
    assert inserter.insert([row]) == 1
    assert inserter.insert([row]) == 0  # redelivered: a duplicate
    both = [build_event_row(comment(k), "{}", RECEIVED) for k in ("a", "b")]
    assert inserter.insert(both) == 1
    assert inserter.insert([]) == 0
    # The same event twice in one call: stored once.
    twice = build_event_row(comment("c"), "{}", RECEIVED)
    assert inserter.insert([twice, twice]) == 1
    assert sorted(stored_rows(engine)) == ["a", "b", "c"]


def test_the_pool_gets_its_connection_back_as_it_lent_it(engine):
    """PostgreSQL's INSERT runs in autocommit; the connection goes back to the pool without
    it, so whoever takes it next still has a transaction to roll back."""
    assert EventInserter(engine).insert([build_event_row(comment("a"), "{}", RECEIVED)]) == 1
    with engine.connect() as connection:
        insert_events(connection, [build_event_row(comment("rolled back"), "{}", RECEIVED)])
        connection.rollback()
    assert list(stored_rows(engine)) == ["a"]


def test_committed_when_it_returns(engine, store_url):
    """Another engine (another process's, or a fresh connection) sees the row at once."""
    assert EventInserter(engine).insert([build_event_row(comment("a"), "{}", RECEIVED)]) == 1
    other = create_store_engine(store_url)
    try:
        assert list(stored_rows(other)) == ["a"]
    finally:
        other.dispose()


def test_a_value_the_database_refuses_is_a_data_error_without_the_body(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores any text; PostgreSQL refuses NUL")
    inserter = EventInserter(engine)
    secret = "card 4111 1111 1111 1111"
    with pytest.raises(DataError) as raised:
        inserter.insert([build_event_row(comment("a"), f"{secret}\x00", RECEIVED)])
    assert secret not in str(raised.value)
    # Nothing was stored, and the pooled connection is usable for the next acknowledgement.
    assert inserter.insert([build_event_row(comment("b"), "{}", RECEIVED)]) == 1
    assert list(stored_rows(engine)) == ["b"]


def test_store_down_is_an_operational_error():
    engine = create_store_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=1"
    )
    try:
        with pytest.raises(OperationalError):
            EventInserter(engine).insert([build_event_row(comment("a"), "{}", RECEIVED)])
    finally:
        engine.dispose()


# -- group commit (SQLite: acknowledgements arriving together commit together) ----------------
# The mechanism runs on PostgreSQL too when given a lock to commit under (these tests; the
# service gives it none there): a group is then one statement.


def queue_behind(inserter: EventInserter, writer: threading.Lock, calls: dict[str, list]):
    """Start one thread per call while `writer` is held, wait until all are queued, and
    return a function that releases the writer and gives each call's outcome."""
    outcomes: dict[str, object] = {}

    def call(name: str, rows: list) -> None:
        try:
            outcomes[name] = inserter.insert(rows)
        except BaseException as exc:  # also the interrupted committer's (see below)
            outcomes[name] = exc

    writer.acquire()
    threads = [threading.Thread(target=call, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(inserter._queue) < len(calls):
        assert time.monotonic() < deadline, "the calls never queued"
        time.sleep(0.001)

    def release() -> dict[str, object]:
        writer.release()
        for thread in threads:
            thread.join(10)
        return outcomes

    return release


def recording_transactions(inserter: EventInserter) -> list[int]:
    """How many calls' rows each transaction carried, in order."""
    sizes: list[int] = []
    insert_all = inserter._insert_all

    def record(groups):
        sizes.append(len(groups))
        return insert_all(groups)

    inserter._insert_all = record
    return sizes


def test_calls_queued_behind_the_writer_commit_in_one_transaction(engine):
    writer = threading.Lock()
    inserter = EventInserter(engine, writer)
    transactions = recording_transactions(inserter)
    row = {k: build_event_row(comment(k), "{}", RECEIVED) for k in ("a", "b", "c")}
    release = queue_behind(
        inserter,
        writer,
        {
            "first": [row["a"]],
            "second": [row["b"], row["c"]],
            # The same event delivered twice at once: stored once, the other a duplicate.
            "again": [row["a"]],
        },
    )
    outcomes = release()
    assert transactions == [3]
    assert outcomes["second"] == 2
    assert sorted([outcomes["first"], outcomes["again"]]) == [0, 1]
    assert sorted(stored_rows(engine)) == ["a", "b", "c"]
    # Alone, a call commits at once, in a transaction of its own.
    assert inserter.insert([build_event_row(comment("d"), "{}", RECEIVED)]) == 1
    assert transactions == [3, 1]


def test_a_row_the_driver_refuses_fails_its_own_call_only(engine):
    writer = threading.Lock()
    inserter = EventInserter(engine, writer)
    transactions = recording_transactions(inserter)
    bad = build_event_row(comment("bad"), "{}", RECEIVED) | {"body": {"not": "text"}}
    release = queue_behind(
        inserter,
        writer,
        {
            "good": [build_event_row(comment("a"), "{}", RECEIVED)],
            "bad": [build_event_row(comment("b"), "{}", RECEIVED), bad],
            "also good": [build_event_row(comment("c"), "{}", RECEIVED)],
        },
    )
    outcomes = release()
    # The group's transaction failed and rolled back; each call was then tried alone.
    assert transactions == [3, 1, 1, 1]
    assert outcomes["good"] == 1
    assert outcomes["also good"] == 1
    assert isinstance(outcomes["bad"], ProgrammingError)
    # Nothing of the refused call was stored, not even its acceptable row.
    assert sorted(stored_rows(engine)) == ["a", "c"]


def test_a_failed_commit_fails_every_call_in_the_group(engine, monkeypatch):
    writer = threading.Lock()
    inserter = EventInserter(engine, writer)

    def store_down(groups):
        raise OperationalError("INSERT", None, Exception("disk I/O error"))

    monkeypatch.setattr(inserter, "_insert_all", store_down)
    release = queue_behind(
        inserter,
        writer,
        {k: [build_event_row(comment(k), "{}", RECEIVED)] for k in ("a", "b")},
    )
    outcomes = release()
    assert {k: type(v) for k, v in outcomes.items()} == {
        "a": OperationalError,
        "b": OperationalError,
    }
    assert stored_rows(engine) == {}


class Interrupted(BaseException):
    """What a thread can be stopped with mid-commit (not an Exception: a timeout, an exit)."""


# The committing thread, stopped by it, is reported by threading's excepthook (as intended).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_commit_interrupted_in_the_committing_thread_is_a_store_error_for_its_group(
    engine, monkeypatch
):
    """The calls whose rows the interrupted thread was committing are told the store failed
    (SQLAlchemyError: the webhook's 503, which the helpdesk retries), not some other error
    (a 500, which Zendesk does not retry: the event would be lost), and the next call gets a
    committing thread of its own."""
    writer = threading.Lock()
    inserter = EventInserter(engine, writer)
    insert_all = inserter._insert_all
    interrupted = []

    def interrupted_once(groups):
        if not interrupted:
            interrupted.append(len(groups))
            raise Interrupted()
        return insert_all(groups)

    monkeypatch.setattr(inserter, "_insert_all", interrupted_once)
    release = queue_behind(
        inserter,
        writer,
        {k: [build_event_row(comment(k), "{}", RECEIVED)] for k in ("a", "b", "c")},
    )
    outcomes = release()
    assert interrupted == [3]
    assert [type(v).__name__ for v in outcomes.values()] == ["SQLAlchemyError"] * 3
    assert stored_rows(engine) == {}
    # The next call commits on a clean connection.
    assert inserter.insert([build_event_row(comment("d"), "{}", RECEIVED)]) == 1
    assert sorted(stored_rows(engine)) == ["d"]


def test_the_writer_s_inserts_keep_one_connection_and_give_it_back_after_a_failure(
    engine,
):
    """SQLite drops a connection's page cache when another connection wrote: the writer's
    inserts stay on one connection (not whichever the pool hands out next), and a failure
    gives it back, so the next insert starts on a clean one."""
    inserter = EventInserter(engine, threading.Lock())
    connections = []
    for key in ("a", "b", "c"):
        assert inserter.insert([build_event_row(comment(key), "{}", RECEIVED)]) == 1
        connections.append(inserter._held.dbapi_connection)
    assert connections[0] is connections[1] is connections[2]
    bad = build_event_row(comment("bad"), "{}", RECEIVED) | {"body": {"not": "text"}}
    with pytest.raises(ProgrammingError):
        inserter.insert([bad])
    assert inserter._held is None
    assert inserter.insert([build_event_row(comment("d"), "{}", RECEIVED)]) == 1
    assert sorted(stored_rows(engine)) == ["a", "b", "c", "d"]
    # Without a writer's lock (PostgreSQL), each call takes a pooled connection and gives it
    # back.
    unlocked = EventInserter(engine)
    assert unlocked.insert([build_event_row(comment("e"), "{}", RECEIVED)]) == 1
    assert unlocked._held is None


def test_the_committing_thread_goes_when_idle_and_the_next_call_starts_another(engine, monkeypatch):
    monkeypatch.setattr(EventInserter, "IDLE_S", 0.05)
    inserter = EventInserter(engine, threading.Lock())
    assert inserter.insert([build_event_row(comment("a"), "{}", RECEIVED)]) == 1
    first = inserter._committer
    assert first is not None and first.name == "deskbridge-ack-commit"
    first.join(5)
    assert not first.is_alive() and inserter._committer is None
    assert inserter.insert([build_event_row(comment("b"), "{}", RECEIVED)]) == 1
    assert inserter._committer is not first
    assert sorted(stored_rows(engine)) == ["a", "b"]
