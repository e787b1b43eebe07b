"""The timer loop (app.Runtime.run_timers): one thread that sleeps until the soonest pending
timer (at most DESKBRIDGE_TIMER_INTERVAL, for timers other processes set) and is woken when
this process's decider sets one, so a deadline fires at its due time, not up to an interval
late. On SQLite and PostgreSQL (the `engine` fixture)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from deskbridge.app import create_runtime
from deskbridge.config.settings import Settings
from deskbridge.store.schema import outbox, timers
from tests.conftest import TEST_SECRET
from tests.store.test_timers import DEADLINE, T0, wrong_item_created

TIMER = "zendesk:48290:routing.handoff"
HANDOFF_ALERT = "zendesk:48290:routing:logistics:handoff_overdue"


class ShiftedClock:
    """Real time moving at its real pace, shifted so that it reads `at` now."""

    def __init__(self, at: datetime):
        self.set(at)

    def set(self, at: datetime) -> None:
        """Read `at` from now on."""
        self.offset = at - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def timer_status(engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(
            select(timers.c.status).where(timers.c.id == TIMER)
        ).scalar_one_or_none()


def start_runtime(engine, rules, monkeypatch, interval: float):
    for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(ZENDESK_WEBHOOK_SECRET=TEST_SECRET, DESKBRIDGE_TIMER_INTERVAL=interval)
    clock = ShiftedClock(DEADLINE - timedelta(seconds=1))
    return create_runtime(settings, rules, clock=clock, engine=engine)


def wait_while_pending(engine) -> None:
    waited_until = time.monotonic() + 30
    while timer_status(engine) == "pending" and time.monotonic() < waited_until:
        time.sleep(0.05)


def test_a_timer_set_while_the_loop_sleeps_fires_at_its_due_time(engine, rules, monkeypatch):
    # An interval far longer than the test: only the loop's own wake-up can fire the timer.
    runtime = start_runtime(engine, rules, monkeypatch, interval=600)
    runtime.start_background()
    try:
        time.sleep(0.2)  # the loop has swept (nothing pending) and sleeps for the interval
        # Decided at T0: the hand-off timer is set for DEADLINE, two seconds from now. Set
        # here, not when the runtime was made: a slow start (CI's first imports) had eaten the
        # one second the clock once gave, and the timer was due before it was set.
        runtime.clock.set(DEADLINE - timedelta(seconds=2))
        runtime.service.accept_event(wrong_item_created(48290), "{}", T0)
        assert timer_status(engine) == "pending"
        wait_while_pending(engine)
    finally:
        runtime.stop_background()

    assert timer_status(engine) == "fired"
    with engine.connect() as connection:
        row = connection.execute(
            select(outbox.c.action, outbox.c.created_at).where(
                outbox.c.idempotency_key == HANDOFF_ALERT
            )
        ).one()
    assert row.action == "notify"
    assert row.created_at >= DEADLINE  # fired when due, not before


def test_a_sweep_that_raises_does_not_stop_the_loop(engine, rules, monkeypatch, caplog):
    runtime = start_runtime(engine, rules, monkeypatch, interval=0.2)
    decider = runtime.service.decider
    fire = decider.fire_due_timers
    calls = []

    def broken_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("a bug in a rule")
        return fire(*args, **kwargs)

    monkeypatch.setattr(decider, "fire_due_timers", broken_once)
    runtime.service.accept_event(wrong_item_created(48290), "{}", T0)
    runtime.start_background()
    try:
        wait_while_pending(engine)
    finally:
        runtime.stop_background()

    assert timer_status(engine) == "fired"
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == ["timers.error"]


def test_fifty_deadlines_passed_while_stopped_fire_once_each_at_the_restart(
    engine, rules, monkeypatch
):
    """reliability.md §6 D21: no process ran for the 10 minutes in which 50 hand-off
    deadlines passed (APScheduler 3's date jobs would drop them, misfire_grace_time=1). The
    deadlines are rows: the timer loop's first sweep after the restart fires every one, once,
    each with its own due time, and later sweeps fire none again."""
    tickets = range(48300, 48350)
    runtime = start_runtime(engine, rules, monkeypatch, interval=0.2)
    for n, number in enumerate(tickets):  # received 12 s apart: due 13:00:00 to 13:09:48
        runtime.service.accept_event(
            wrong_item_created(number), "{}", T0 + timedelta(seconds=12 * n)
        )
    runtime.clock.offset += timedelta(minutes=10, seconds=1)  # restarted at 13:10:00
    handoffs = [f"zendesk:{number}:routing.handoff" for number in tickets]

    def fired() -> dict[str, datetime]:
        with engine.connect() as connection:
            return dict(
                connection.execute(
                    select(timers.c.id, timers.c.due_at).where(
                        timers.c.id.in_(handoffs), timers.c.status == "fired"
                    )
                ).all()
            )

    runtime.start_background()
    try:
        started = time.monotonic()
        while len(fired()) < len(handoffs) and time.monotonic() - started < 30:
            time.sleep(0.05)
        took = time.monotonic() - started
        time.sleep(0.5)  # two more sweeps
    finally:
        runtime.stop_background()

    assert took < 5  # the first sweeps, not one deadline per interval (10 s)
    assert fired() == {
        f"zendesk:{number}:routing.handoff": DEADLINE + timedelta(seconds=12 * n)
        for n, number in enumerate(tickets)
    }
    with engine.connect() as connection:
        alerts = connection.execute(
            select(outbox.c.idempotency_key).where(
                outbox.c.idempotency_key.like("%handoff_overdue")
            )
        ).scalars()
        assert sorted(alerts) == [
            f"zendesk:{number}:routing:logistics:handoff_overdue" for number in tickets
        ]
