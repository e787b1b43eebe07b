"""A channel's send slots (store.slack): one message per interval per channel, across
processes; a slot a moment away can be booked, one further off cannot. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deskbridge.store.slack import book_send_slot, hold_channel, reserve_send_slot

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
MOMENT = timedelta(milliseconds=100)


def test_slots_a_moment_away_are_booked_one_interval_apart_per_channel(engine):
    interval = timedelta(milliseconds=40)
    with engine.begin() as connection:
        booked = [book_send_slot(connection, "#leads", T0, interval, MOMENT) for _ in range(4)]
        other = book_send_slot(connection, "#billing", T0, interval, MOMENT)

    assert booked == [
        (timedelta(0), True),
        (timedelta(milliseconds=40), True),
        (timedelta(milliseconds=80), True),
        (timedelta(milliseconds=120), False),  # further off than the moment: not taken
    ]
    assert other == (timedelta(0), True)  # #leads' queue holds back no other channel


def test_reserve_takes_only_a_slot_free_now(engine):
    with engine.begin() as connection:
        first = reserve_send_slot(connection, "#leads", T0, SECOND)
        second = reserve_send_slot(connection, "#leads", T0 + MOMENT, SECOND)
        later = reserve_send_slot(connection, "#leads", T0 + SECOND, SECOND)

    assert (first, second, later) == (timedelta(0), SECOND - MOMENT, timedelta(0))


def test_a_held_channel_is_not_booked_before_slack_said(engine):
    with engine.begin() as connection:
        hold_channel(connection, "#leads", T0 + 30 * SECOND)
        held = book_send_slot(connection, "#leads", T0, SECOND, MOMENT)
        after = book_send_slot(connection, "#leads", T0 + 30 * SECOND, SECOND, MOMENT)

    assert (held, after) == ((30 * SECOND, False), (timedelta(0), True))
