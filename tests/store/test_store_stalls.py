"""A store that stops answering without closing its connections (a hung PostgreSQL, a failover
that leaves the old address silent, a partition): simulated by a TCP proxy in front of
PostgreSQL that stops forwarding and keeps both sockets open. The engine had no connect
timeout or keep-alives and /readyz no deadline: every query waited for the kernel, /readyz
never answered and the dispatcher logged nothing (review 4)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from deskbridge.app import READY_TIMEOUT_S, create_app, create_runtime
from deskbridge.config.settings import Settings
from deskbridge.store.db import migrate_store
from tests.conftest import TEST_SECRET, postgres_available, postgres_schema
from tests.connectors.test_http import store_down


class FreezableProxy:
    """Forwards TCP to PostgreSQL; while `frozen` is set it holds what it reads: nothing is
    answered and nothing is closed."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.frozen = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed at the end of the test
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                while self.frozen.is_set():
                    time.sleep(0.05)
                b.sendall(data)
        except OSError:
            pass


@pytest.fixture
def proxied_url():
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable")
    with postgres_schema() as url:
        parsed = make_url(url)
        proxy = FreezableProxy(parsed.host, parsed.port)
        yield proxy, parsed.set(port=proxy.port).render_as_string(hide_password=False)
        proxy.frozen.clear()
        proxy.listener.close()


def test_readyz_and_the_dispatcher_notice_a_store_that_stops_answering(proxied_url, caplog):
    proxy, url = proxied_url
    runtime = create_runtime(Settings(DATABASE_URL=url, ZENDESK_WEBHOOK_SECRET=TEST_SECRET))
    migrate_store(runtime.engine)
    client = create_app(runtime=runtime).test_client()
    assert client.get("/readyz").status_code == 200
    caplog.set_level(logging.INFO, logger="deskbridge")
    stop = threading.Event()
    loop = threading.Thread(target=runtime.dispatcher.run, args=(stop, 0.2), daemon=True)
    loop.start()
    time.sleep(0.5)

    proxy.frozen.set()
    started = time.monotonic()
    answers: dict[str, tuple] = {}

    def probe() -> None:  # in a thread: a probe that hangs fails the test, not the run
        ready = client.get("/readyz")
        answers["readyz"] = (ready.status_code, ready.json, time.monotonic() - started)
        metrics = client.get("/metrics")  # the counters, without the store's figures
        text = metrics.get_data(as_text=True)
        answers["metrics"] = (metrics.status_code, text, time.monotonic() - started)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    prober.join(2 * READY_TIMEOUT_S + 2)

    def logged() -> list[tuple[str, str]]:
        return [
            (r.getMessage(), r.deskbridge_fields["error"])
            for r in caplog.records
            if r.getMessage().endswith("store_unavailable")
        ]

    while time.monotonic() - started < 30 and len(logged()) < 3:
        time.sleep(0.2)
    proxy.frozen.clear()  # the held queries go through
    stop.set()
    loop.join(10)
    prober.join(10)
    after = client.get("/readyz").status_code
    runtime.engine.dispose()

    assert "readyz" in answers, f"/readyz gave no answer in {2 * READY_TIMEOUT_S + 2} s"
    assert answers["readyz"][:2] == (
        503,
        store_down("TimeoutError", f"no answer within {READY_TIMEOUT_S:g} s"),
    )
    # It waits its timeout, then answers: 2.5 s more are the scheduler's (at load 18 on two
    # cores 1 s was not enough), still short of a second wait of its own.
    assert READY_TIMEOUT_S <= answers["readyz"][2] < READY_TIMEOUT_S + 2.5
    status, text, at = answers["metrics"]
    assert status == 200 and "deskbridge_webhooks" in text
    # Read as 0 before the freeze (/readyz above): unknown now, not the last figure read.
    assert "deskbridge_decide_lag_seconds NaN" in text and "deskbridge_store_up 0.0" in text
    assert at - answers["readyz"][2] < READY_TIMEOUT_S + 2.5
    # The dispatcher's next connection is given up after connect_timeout (5 s).
    # Each of the three says the store is unavailable, once. How a probe found out is the
    # pool's timing: a kept connection's query runs out of time (TimeoutError), a new one is
    # refused at connect_timeout (OperationalError); under load 18 /metrics met the second.
    outage = {"OperationalError", "TimeoutError"}
    assert sorted(name for name, _ in logged()) == [
        "dispatcher.store_unavailable",
        "metrics.store_unavailable",
        "readyz.store_unavailable",
    ]
    assert dict(logged())["dispatcher.store_unavailable"] == "OperationalError"
    assert {error for _, error in logged()} <= outage
    assert not loop.is_alive() and after == 200


def test_background_loops_stuck_mid_query_give_up_and_recover(proxied_url, caplog, monkeypatch):
    """The loops' queries go out on pooled connections. The store going silent mid-query (the
    proxy reads the query and forwards nothing) held each loop for good: TCP keep-alives and
    tcp_user_timeout never fire while the peer's kernel acknowledges what is sent (a hung
    server, a proxy or PgBouncer in front of it), and statement_timeout is the server's. Each
    query now waits for its answer QUERY_DEADLINE_S, then, the store not answering a new
    connection either (PROBE_S), its connection is dropped:
    the loops log their outage within seconds and recover when the store answers again."""
    from deskbridge.store import db

    monkeypatch.setattr(db, "QUERY_DEADLINE_S", 2.0, raising=False)
    monkeypatch.setattr(db, "PROBE_S", 2, raising=False)
    proxy, url = proxied_url
    runtime = create_runtime(Settings(DATABASE_URL=url, ZENDESK_WEBHOOK_SECRET=TEST_SECRET))
    migrate_store(runtime.engine)
    # Idle connections in the pool, so that each loop's next query goes out on one of them
    # (a new connection to a silent store is given up after connect_timeout already).
    held = [runtime.engine.connect() for _ in range(4)]
    for connection in held:
        connection.close()
    caplog.set_level(logging.INFO, logger="deskbridge")
    stop = runtime.stop
    loops = [
        threading.Thread(target=runtime.service.decider.run, args=(stop, 0.2), daemon=True),
        threading.Thread(target=runtime.dispatcher.run, args=(stop, 0.2), daemon=True),
        threading.Thread(target=runtime.run_timers, args=(0.2,), daemon=True),
    ]
    for loop in loops:
        loop.start()
    time.sleep(1.0)

    def logged(suffix: str) -> list[tuple[str, dict]]:
        return sorted(
            (r.getMessage(), {k: v for k, v in r.deskbridge_fields.items() if k != "down_s"})
            for r in caplog.records
            if r.getMessage().endswith(suffix)
        )

    proxy.frozen.set()
    started = time.monotonic()
    while time.monotonic() - started < 20 and len(logged(".store_unavailable")) < 3:
        time.sleep(0.1)
    gave_up_after = time.monotonic() - started
    abandoned = [r for r in caplog.records if r.getMessage() == "store.no_answer"]
    proxy.frozen.clear()
    recovered_at = time.monotonic()
    while time.monotonic() - recovered_at < 20 and len(logged(".store_recovered")) < 3:
        time.sleep(0.1)
    stop.set()
    runtime.service.decider.wake()
    runtime.service.decider.timers_set.set()
    for loop in loops:
        loop.join(10)
    alive = [loop.is_alive() for loop in loops]
    runtime.engine.dispose()

    # The cause, as the loop met it: its query on a pooled connection given up at the deadline,
    # or (the freeze coming between its queries, as a loaded machine makes likely) its new
    # connection given none within connect_timeout (libpq's words).
    silent = {"the store did not answer within 2.0 s", "connection timeout expired"}
    unavailable = logged(".store_unavailable")
    assert [(name, fields["error"]) for name, fields in unavailable] == [
        ("decider.store_unavailable", "OperationalError"),
        ("dispatcher.store_unavailable", "OperationalError"),
        ("timers.store_unavailable", "OperationalError"),
    ]
    assert {fields["reason"] for _, fields in unavailable} <= silent
    # The query deadline (2 s) and the probe's new connection held (2 s), then the loop's new
    # connection's connect_timeout (5 s); the timer sweep may first wait for the decider's
    # batch (one at a time per process): 14 s measured, at most 17 s.
    assert gave_up_after < 18
    assert abandoned and {r.deskbridge_fields["waited_s"] for r in abandoned} == {2.0}
    assert [name for name, _ in logged(".store_recovered")] == [
        "decider.store_recovered",
        "dispatcher.store_recovered",
        "timers.store_recovered",
    ]
    assert alive == [False, False, False]


@pytest.fixture
def short_deadline(proxied_url, caplog, monkeypatch):
    """The proxy and a store engine through it, with a query deadline of 1 s and a probe of
    2 s; deskbridge's INFO records captured."""
    from deskbridge.store import db

    monkeypatch.setattr(db, "QUERY_DEADLINE_S", 1.0, raising=False)
    monkeypatch.setattr(db, "PROBE_S", 2, raising=False)
    proxy, url = proxied_url
    engine = db.create_store_engine(url)
    caplog.set_level(logging.INFO, logger="deskbridge")
    yield proxy, engine
    proxy.frozen.clear()
    engine.dispose()


def test_a_slow_query_on_a_store_that_answers_is_waited_for(short_deadline, caplog):
    """A query past the deadline on a store that still answers (a purge or a digest on a big
    store, a lock waited for) was dropped at the deadline as if the store were silent; the
    store is now asked on a new connection, and the query waited for while it answers. (By
    hand: `SELECT pg_sleep(35)` under the 30 s deadline answers after 35 s.)"""
    _proxy, engine = short_deadline
    with engine.connect() as connection:
        slow = connection.execute(text("SELECT pg_sleep(2.5), 'answered'")).all()
        after = connection.execute(text("SELECT 'the same connection'")).scalar()

    assert (slow, after) == ([("", "answered")], "the same connection")
    assert [r.getMessage() for r in caplog.records] == []


def test_a_query_on_a_silent_store_is_given_up_after_the_deadline_and_a_probe(
    short_deadline, caplog
):
    proxy, engine = short_deadline
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        proxy.frozen.set()
        started = time.monotonic()
        with pytest.raises(OperationalError) as failure:
            connection.execute(text("SELECT 2"))
        gave_up_after = time.monotonic() - started

    assert "the store did not answer within 1.0 s" in str(failure.value)
    # The deadline (1 s), then the probe's new connection held by the silent store (2 s).
    assert 3 <= gave_up_after < 4.5
    assert [(r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [
        ("store.no_answer", {"waited_s": 1.0})
    ]


def test_the_listen_connection_notices_a_store_that_stops_answering(
    short_deadline, caplog, monkeypatch
):
    """The decider's LISTEN connection had the engine's keep-alives (a partition drops it)
    but not its query deadline, and asked nothing while idle: a store whose kernel, or a proxy
    in front of it, still acknowledges left it listening for good to a server that sent
    nothing, and its LISTEN waited for an answer without bound. Idle, it now asks `SELECT 1`
    every LISTEN_CHECK_S, under the deadline, and listens again once the store answers."""
    from deskbridge.store import events as events_module

    monkeypatch.setattr(events_module, "LISTEN_CHECK_S", 1.0, raising=False)
    monkeypatch.setattr(events_module, "LISTEN_RETRY_S", 1.0)
    proxy, engine = short_deadline
    woken, stop = threading.Event(), threading.Event()
    listener = threading.Thread(
        target=events_module.listen_for_events, args=(engine, woken.set, stop), daemon=True
    )
    listener.start()
    try:
        assert woken.wait(10)  # listening
        woken.clear()
        proxy.frozen.set()
        started = time.monotonic()
        while time.monotonic() - started < 15 and not _messages(caplog, "decider.listen_failed"):
            time.sleep(0.1)
        noticed_after = time.monotonic() - started
        proxy.frozen.clear()
        assert woken.wait(15)  # listening again: the wake for what was stored meanwhile
    finally:
        proxy.frozen.clear()
        stop.set()
        listener.join(10)

    # The check after 1 s quiet, its deadline (1 s), the probe held (2 s).
    assert noticed_after < 6
    assert _messages(caplog, "decider.") == [
        ("decider.listen_failed", {"error": "OperationalError"}),
        ("decider.listen_recovered", {"failures": 1}),
    ]
    assert not listener.is_alive()


def _messages(caplog, prefix: str) -> list[tuple[str, dict]]:
    return [
        (r.getMessage(), {k: v for k, v in r.deskbridge_fields.items() if k != "down_s"})
        for r in caplog.records
        if r.getMessage().startswith(prefix)
    ]
