"""The status points a ticket's state keeps (workflows/state.py): bounded, and what they say
about the status at each time survives the bound where it can."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deskbridge.workflows.model import KEEP_STATUS_POINTS, Status
from deskbridge.workflows.state import _add_status_point

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_repeated_statuses_give_way_before_the_clocks_start():
    points: list = []
    points = _add_status_point(points, at(0), Status.new)
    for minute in range(1, 31):  # thirty events that leave the ticket open
        points = _add_status_point(points, at(minute), Status.open)
    points = _add_status_point(points, at(40), Status.pending)
    assert len(points) == KEEP_STATUS_POINTS
    # The inner points of the open run went, oldest first; when each status began stays.
    assert points == [
        (at(0), Status.new),
        (at(1), Status.open),
        *[(at(minute), Status.open) for minute in range(14, 31)],
        (at(40), Status.pending),
    ]
    # A status delivered late, inside the run, is placed among what is left.
    late = _add_status_point(points, at(20), Status.pending)
    assert late[:3] == [(at(0), Status.new), (at(1), Status.open), (at(15), Status.open)]
    assert (at(20), Status.pending) in late and (at(21), Status.open) in late


def test_without_runs_the_oldest_go():
    points: list = []
    statuses = [Status.open, Status.pending]
    for minute in range(KEEP_STATUS_POINTS + 3):
        points = _add_status_point(points, at(minute), statuses[minute % 2])
    assert points == [(at(m), statuses[m % 2]) for m in range(3, KEEP_STATUS_POINTS + 3)]
