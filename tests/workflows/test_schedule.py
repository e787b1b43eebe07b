"""Scheduled jobs, pure: occurrences on the team's local clock, keys naming job and occurrence."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from deskbridge.workflows.actions import ActionKind
from deskbridge.workflows.schedule import (
    Job,
    build_job_action,
    list_occurrences,
    local_occurrences,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_local_times_follow_the_team_timezone_across_dst():
    # London moves to BST on Sunday 29 March 2026: 09:00 local is 09:00Z before, 08:00Z after.
    found = local_occurrences("Europe/London", utc(2026, 3, 27), utc(2026, 3, 31), [time(9, 0)])
    assert found == [
        utc(2026, 3, 27, 9),
        utc(2026, 3, 28, 9),
        utc(2026, 3, 29, 8),
        utc(2026, 3, 30, 8),
    ]


def test_window_is_open_at_the_start_and_closed_at_the_end():
    start, end = utc(2026, 3, 2, 11), utc(2026, 3, 2, 15, 30)
    found = local_occurrences("UTC", start, end, [time(11), time(13), time(15, 30)])
    assert found == [utc(2026, 3, 2, 13), utc(2026, 3, 2, 15, 30)]


def test_days_can_be_filtered_by_the_calendar():
    weekdays_only = local_occurrences(
        "UTC", utc(2026, 3, 5), utc(2026, 3, 10), [time(17, 30)], lambda d: d.weekday() < 5
    )
    assert [d.date() for d in weekdays_only] == [
        date(2026, 3, 5),
        date(2026, 3, 6),
        date(2026, 3, 9),
    ]


def test_a_skipped_local_time_still_happens_once():
    # 01:30 does not exist in London on 29 March 2026 (01:00 → 02:00).
    found = local_occurrences(
        "Europe/London", utc(2026, 3, 28, 12), utc(2026, 3, 29, 12), [time(1, 30)]
    )
    assert found == [utc(2026, 3, 29, 1, 30)]


def test_occurrences_of_several_jobs_in_time_order(rules):
    def hourly(_rules, start, end):
        return local_occurrences("UTC", start, end, [time(h) for h in range(24)])

    def noon(_rules, start, end):
        return local_occurrences("UTC", start, end, [time(12)])

    jobs = {
        "b_noon": Job("b_noon", noon, lambda at, r, reader: []),
        "a_hourly": Job("a_hourly", hourly, lambda at, r, reader: []),
    }
    found = list_occurrences(jobs, rules, utc(2026, 3, 2, 11, 30), utc(2026, 3, 2, 13))
    assert [(at, job.name) for at, job in found] == [
        (utc(2026, 3, 2, 12), "a_hourly"),
        (utc(2026, 3, 2, 12), "b_noon"),
        (utc(2026, 3, 2, 13), "a_hourly"),
    ]


def test_job_action_keys_name_job_and_occurrence():
    action = build_job_action(
        "pace_check",
        utc(2026, 3, 2, 11),
        "coaching",
        ActionKind.coach,
        "U02PRIYA01",
        reason="14 of 32 by 11:00",
        person="U02PRIYA01",
        kind="pace",
    )
    assert action.key == "job:pace_check:coaching:2026-03-02T11:00:00Z:U02PRIYA01"
    assert action.ticket == "job:pace_check"
    assert action.kind is ActionKind.coach
    assert action.params == {"person": "U02PRIYA01", "kind": "pace"}
    assert action.to_record()["action"] == "coach"
    assert action.to_record()["kind"] == "pace"
    assert timedelta(hours=1) == Job("x", lambda *a: [], lambda *a: []).catch_up
