"""reliability.md §6 E26 (c8542b4): actions held back on a busy channel are given its turns one
each. What the turns given so far hold once one of them has taken its slot, or come back to a
slot taken: the queue behind them keeps its order. On a clock of our own, one message a second,
no call made (the booking alone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deskbridge.bot.notifier import SlackNotifier
from deskbridge.workflows.ports import Paced

LANE = "#resolution-leads"
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = START + timedelta(seconds=seconds)


@pytest.fixture
def paced(sqlite_engine, rules):
    clock = Clock()
    return SlackNotifier(sqlite_engine, rules, clock, client=None, min_interval=1.0), clock


def held_back_for(slack: SlackNotifier, key: str) -> float | None:
    """Seconds until the turn the action `key` is given, or None when it takes the slot."""
    try:
        slack._reserve(LANE, key)
    except Paced as paced:
        return paced.retry_after
    return None


def queue_three(slack: SlackNotifier, clock: Clock) -> None:
    """At 0 s one message takes the channel's slot; a, b and c are given 1, 2 and 3 s."""
    clock.at(0)
    assert [held_back_for(slack, key) for key in ("first", "a", "b", "c")] == [None, 1, 2, 3]


def test_an_action_that_took_its_slot_and_is_held_back_again_goes_behind_the_queue(paced):
    # a takes its turn at 1 s, then calls the channel again (another thread's edit): it is
    # held back behind c (4 s), not given the next free slot (2 s, b's) as if it were back
    # at the turn it had already used.
    slack, clock = paced
    queue_three(slack, clock)
    clock.at(1)
    assert held_back_for(slack, "a") is None
    assert held_back_for(slack, "a") == 3


def test_an_action_back_at_a_taken_slot_does_not_pull_the_queue_back(paced):
    # At 1 s a new message takes the slot a was given: a has the next free one (2 s). A new
    # action d is given the turn after c's (4 s), not the one after a's new slot (3 s, c's).
    slack, clock = paced
    queue_three(slack, clock)
    clock.at(1)
    assert held_back_for(slack, "new") is None
    assert held_back_for(slack, "a") == 1
    assert held_back_for(slack, "d") == 3
