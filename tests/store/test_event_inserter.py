"""The acknowledgement's INSERT on the DBAPI cursor (store/events.py EventInserter), on SQLite
and PostgreSQL: the rows it stores are the Core insert's, each call is one committed
transaction, duplicates are skipped, and driver errors surface as SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DataError, OperationalError

from deskbridge.store.db import create_store_engine
from deskbridge.store.events import (
    UNDECIDED,
    EventInserter,
    build_event_row,
    insert_events,
    shard_of,
)
from deskbridge.store.schema import events
from deskbridge.workflows.model import Comment, EventKind, Source, TicketEvent

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
    assert rows["ack"] == rows["core"] | {"event": comment("ack").model_dump_json()}
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
        "event": comment("ack").model_dump_json(),
        "shard": shard_of("zendesk:48213"),
        "decided_at": None,
        "error": None,
    }


def test_counts_new_events_and_skips_known_ones_in_one_transaction(engine):
    inserter = EventInserter(engine)
    row = build_event_row(comment("a"), "{}", RECEIVED)
    assert inserter.insert([row]) == 1
    assert inserter.insert([row]) == 0  # redelivered: a duplicate
    both = [build_event_row(comment(k), "{}", RECEIVED) for k in ("a", "b")]
    assert inserter.insert(both) == 1
    assert inserter.insert([]) == 0
    assert sorted(stored_rows(engine)) == ["a", "b"]


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
