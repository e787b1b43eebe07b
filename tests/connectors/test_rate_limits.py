"""A helpdesk's rate limit, through the real dispatcher, outbox and Zendesk writer (Zendesk
mocked by `responses`): a 429 with Retry-After is waited out without using up an attempt, as a
Slack 429 is, so a limit of some minutes (the account's budget used up by other integrations)
never dead-letters a write-back; one that outlasts the dispatcher's THROTTLE_PATIENCE uses up
attempts again and ends in a dead letter, not a queue that waits for ever."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import responses

from deskbridge.connectors.writers import HelpdeskRouter
from deskbridge.connectors.zendesk.client import ZendeskWriter
from deskbridge.store.outbox import DEAD, DONE, PENDING, insert_actions, requeue_dead_actions
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.dispatcher import THROTTLE_PATIENCE, Dispatcher
from deskbridge.workflows.metrics import Metrics
from tests.conftest import Clock
from tests.workflows.test_dispatcher import only_row

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TAGS_URL = "https://acme.zendesk.com/api/v2/tickets/48213/tags.json"
THROTTLED = "Zendesk asked us to wait (429/503 with Retry-After)"


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def limited_until(api, clock: Clock, until: datetime | None) -> list[datetime]:
    """Zendesk answering the tags endpoint 429 (Retry-After: 60) until `until` (None: for
    ever), then 200. Returns the times it was called at."""
    calls: list[datetime] = []

    def answer(request):
        calls.append(clock.now)
        if until is None or clock.now < until:
            return 429, {"Retry-After": "60"}, '{"error": "TooManyRequests"}'
        return 200, {}, '{"tags": ["call_required"]}'

    api.add_callback(responses.PUT, TAGS_URL, callback=answer, content_type="application/json")
    return calls


def dispatcher(sqlite_engine, clock: Clock) -> Dispatcher:
    router = HelpdeskRouter({"zendesk": ZendeskWriter("acme", "bot@acme.test", "t")}, sqlite_engine)
    with sqlite_engine.begin() as connection:
        insert_actions(
            connection,
            [build_action("zendesk:48213", "routing", ActionKind.tag, "t", reason="r", tags=["x"])],
            T0,
        )
    return Dispatcher(sqlite_engine, {ActionKind.tag: router}, Metrics(), clock)


def run(dispatcher: Dispatcher, clock: Clock, until: datetime) -> None:
    """The dispatcher's loop on `clock`: a pass every 5 s until `until`."""
    while clock.now < until:
        dispatcher.dispatch_due()
        clock.now += timedelta(seconds=5)


def test_a_ten_minute_rate_limit_delays_the_write_back_without_dead_lettering_it(
    api, sqlite_engine
):
    clock = Clock(T0)
    calls = limited_until(api, clock, T0 + timedelta(minutes=10))

    run(dispatcher(sqlite_engine, clock), clock, T0 + timedelta(minutes=15))

    row = only_row(sqlite_engine)
    # Ten 429s a minute apart (each Retry-After waited out, none counted), then the write.
    assert calls == [T0 + timedelta(minutes=m) for m in range(11)]
    assert (row["status"], row["attempts"], row["last_error"], row["done_at"]) == (
        DONE,
        1,
        None,
        T0 + timedelta(minutes=10),
    )


def test_a_rate_limit_that_never_ends_is_dead_lettered_after_the_patience(
    api, sqlite_engine, monkeypatch
):
    monkeypatch.setattr(random, "random", lambda: 0.0)  # no jitter in the back-off
    clock = Clock(T0)
    calls = limited_until(api, clock, None)
    limited = dispatcher(sqlite_engine, clock)

    run(limited, clock, T0 + THROTTLE_PATIENCE + timedelta(minutes=1))
    row = only_row(sqlite_engine)
    # Within the patience: waited out a minute at a time, no attempt used up.
    assert calls == [T0 + timedelta(minutes=m) for m in range(61)]
    assert (row["status"], row["attempts"], row["last_error"]) == (PENDING, 0, THROTTLED)

    run(limited, clock, T0 + THROTTLE_PATIENCE + timedelta(hours=1))
    row = only_row(sqlite_engine)
    # Past it each 429 is an attempt, its Retry-After a floor under the back-off (60 s five
    # times, then 64 s and 128 s): the eighth is dead-lettered.
    past = T0 + THROTTLE_PATIENCE
    assert calls[61:] == [
        past + timedelta(minutes=1),
        past + timedelta(minutes=2),
        past + timedelta(minutes=3),
        past + timedelta(minutes=4),
        past + timedelta(minutes=5),
        past + timedelta(minutes=6),
        past + timedelta(minutes=7, seconds=5),
        past + timedelta(minutes=9, seconds=15),
    ]
    assert (row["status"], row["attempts"], row["last_error"], row["done_at"]) == (
        DEAD,
        8,
        THROTTLED,
        past + timedelta(minutes=9, seconds=15),
    )


def test_a_dead_letter_put_back_gets_the_patience_again(api, sqlite_engine, monkeypatch):
    # Dead-lettered by a limit that outlasted the patience (the test above); once the operator
    # has the limit raised and puts it back, a few minutes more of 429s are waited out, not
    # counted: the patience starts at the requeue, not at the first attempt hours before.
    monkeypatch.setattr(random, "random", lambda: 0.0)
    clock = Clock(T0)
    end = T0 + THROTTLE_PATIENCE + timedelta(hours=1, minutes=10)
    calls = limited_until(api, clock, end)
    limited = dispatcher(sqlite_engine, clock)
    run(limited, clock, T0 + THROTTLE_PATIENCE + timedelta(hours=1))
    assert only_row(sqlite_engine)["status"] == DEAD
    requeued_at = clock.now
    with sqlite_engine.begin() as connection:
        assert requeue_dead_actions(connection, requeued_at).requeued == [1]

    run(limited, clock, end + timedelta(minutes=5))

    row = only_row(sqlite_engine)
    after = [at for at in calls if at >= requeued_at]
    # A 429 a minute until the limit ends (Retry-After waited, nothing counted), then the write.
    assert after == [requeued_at + timedelta(minutes=m) for m in range(len(after))]
    assert after[-1] >= end and after[-2] < end
    assert (row["status"], row["attempts"], row["last_error"], row["done_at"]) == (
        DONE,
        2,  # counted from 1 again at the requeue (it was tried before), plus the write's
        None,
        after[-1],
    )
    # The first attempt's time is kept: where a look for what an attempt delivered starts.
    assert (row["first_attempt_at"], row["requeued_at"]) == (T0, requeued_at)
