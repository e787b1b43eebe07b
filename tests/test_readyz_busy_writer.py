"""/readyz while SQLite's one writer is busy: a long but healthy write (a purge batch, a big
decider batch in this process, `deskbridge purge` or another command in another process) made
the readiness read wait for the writer, and past READY_TIMEOUT_S (3 s) it answered 503, so a
load balancer took a working service out. Under WAL a read needs no writer: it reads a
snapshot, and /readyz says whether the store answers, not whether it is idle."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from deskbridge.app import READY_TIMEOUT_S, create_app, create_runtime
from deskbridge.store.events import count_events
from tests.conftest import Clock, fixture_bytes, signed_headers

NOW = datetime(2025, 3, 4, 9, 15, 23, tzinfo=UTC)
READY = {
    "status": "ready",
    "store": "up",
    "dry_run": {"slack": True, "zendesk": True, "salesforce": True, "pager": True},
    "decide_lag_seconds": 0.0,
    "outbox_pending": 0,
    "outbox_oldest_seconds": 0.0,
    "outbox_dead": 0,
    "events_failed": 0,
    "timers_failed": 0,
    "behind": [],
    "behind_after_seconds": {"decide_lag_seconds": 60.0, "outbox_oldest_seconds": 600.0},
}


@pytest.fixture
def runtime(settings, sqlite_engine, rules):
    return create_runtime(settings, rules, clock=Clock(NOW), engine=sqlite_engine)


def probe_while(hold, runtime) -> tuple[int, dict, float]:
    """/readyz asked while `hold` keeps the writer for READY_TIMEOUT_S + 2 s."""
    client = create_app(runtime=runtime).test_client()
    assert client.get("/readyz").json == READY
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold, args=(held, release), daemon=True)
    holder.start()
    assert held.wait(5)
    try:
        started = time.monotonic()
        response = client.get("/readyz")
        took = time.monotonic() - started
    finally:
        time.sleep(max(0.0, READY_TIMEOUT_S + 2 - (time.monotonic() - started)))
        release.set()
        holder.join(10)
    return response.status_code, response.json, took


def test_readyz_answers_ready_while_this_process_holds_the_writer(runtime):
    """A decider batch or a purge batch in this process holds the writer lock."""

    def hold(held: threading.Event, release: threading.Event) -> None:
        with runtime.service.decider.writer, runtime.engine.begin():
            held.set()
            release.wait(10)

    status, body, took = probe_while(hold, runtime)
    assert (status, body) == (200, READY)
    assert took < 1.0


def test_readyz_answers_ready_while_another_process_holds_the_write_lock(runtime, tmp_path):
    """A command (`deskbridge purge`, `outbox retry`) holds SQLite's write lock: another
    connection with a write transaction open."""
    from deskbridge.store.db import create_store_engine

    other = create_store_engine(f"sqlite:///{tmp_path / 'deskbridge.db'}")

    def hold(held: threading.Event, release: threading.Event) -> None:
        with other.begin() as connection:  # BEGIN IMMEDIATE: the write lock, taken
            connection.exec_driver_sql("DELETE FROM events WHERE 1 = 0")
            held.set()
            release.wait(10)

    try:
        status, body, took = probe_while(hold, runtime)
    finally:
        other.dispose()
    assert (status, body) == (200, READY)
    assert took < 1.0


def test_a_webhook_waits_for_another_processs_write_and_is_stored(runtime, tmp_path):
    """reliability.md §6 D20, SQLite: another process holds the write lock for 1.5 s (a
    purge batch, `outbox retry`) as a webhook arrives. The webhook's write waits for it, within
    the busy timeout (30 s), and is acknowledged stored: no "database is locked", no 503."""
    from deskbridge.store.db import create_store_engine

    other = create_store_engine(f"sqlite:///{tmp_path / 'deskbridge.db'}")
    client = create_app(runtime=runtime).test_client()
    body = fixture_bytes("ticket_created.json")
    held = threading.Event()

    def hold() -> None:
        with other.begin() as connection:  # BEGIN IMMEDIATE: the write lock, taken
            connection.exec_driver_sql("DELETE FROM events WHERE 1 = 0")
            held.set()
            time.sleep(1.5)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))
        took = time.monotonic() - started
    finally:
        holder.join(10)
        other.dispose()
    assert (response.status_code, response.json) == (200, {"status": "accepted", "events": 1})
    assert 1.0 < took < 10
    with runtime.engine.connect() as connection:
        assert count_events(connection) == 1
