"""Scheduled jobs in the store: each occurrence runs once, across processes and restarts."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deskbridge.store.jobs import claim_job_run, list_job_runs
from deskbridge.store.outbox import list_actions
from deskbridge.workflows.job_runner import JobRunner
from deskbridge.workflows.schedule import Job
from tests.store.minute_job import MINUTE_JOB, every_minute, post_minute

NOW = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def list_minute_runs(connection) -> list[dict]:
    return [r for r in list_job_runs(connection) if r["job"] == "minute"]


def record_earlier_run(engine, at: datetime = datetime(2026, 3, 1, tzinfo=UTC)) -> None:
    """The store's service ran jobs before (at `at`): missed occurrences after it are caught
    up. (On a store that never ran one, a first start catches up nothing.)"""
    with engine.begin() as connection:
        assert claim_job_run(connection, "earlier", at, at)


def test_each_occurrence_runs_once_and_queues_its_actions(engine, rules):
    record_earlier_run(engine)
    runner = JobRunner(engine, rules, {"minute": MINUTE_JOB})
    first = runner.run_due(NOW)
    # catch_up 3 h: 12:00 and the 180 minutes before it that are inside (09:00:30, 12:00:30].
    assert [o.occurrence_at for o in first][:2] == [
        datetime(2026, 3, 2, 9, 1, tzinfo=UTC),
        datetime(2026, 3, 2, 9, 2, tzinfo=UTC),
    ]
    assert len(first) == 180
    assert all(len(o.actions) == 1 for o in first)
    # The same process again, and a fresh process (nothing in memory): nothing runs twice.
    assert runner.run_due(NOW) == []
    assert JobRunner(engine, rules, {"minute": MINUTE_JOB}).run_due(NOW) == []
    with engine.connect() as connection:
        runs = list_minute_runs(connection)
        queued = list_actions(connection)
    assert len(runs) == 180 and {r["actions"] for r in runs} == {1}
    assert [r["idempotency_key"] for r in queued][:1] == ["job:minute:test:2026-03-02T09:01:00Z"]
    assert len(queued) == 180


def test_a_restart_catches_up_only_within_the_window(engine, rules, caplog):
    record_earlier_run(engine)
    runner = JobRunner(engine, rules, {"minute": MINUTE_JOB})
    runner.run_due(NOW)
    # Down for 5 hours: the 3 hours before the restart are caught up, the 2 before that not,
    # and the start says so (they were skipped without a word: a digest of a day down).
    later = NOW + timedelta(hours=5)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deskbridge.jobs"):
        caught_up = JobRunner(engine, rules, {"minute": MINUTE_JOB}).run_due(later)
    assert caught_up[0].occurrence_at == datetime(2026, 3, 2, 14, 1, tzinfo=UTC)
    assert caught_up[-1].occurrence_at == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    assert len(caught_up) == 180
    skipped = [
        (r.levelname, r.deskbridge_fields)
        for r in caplog.records
        if r.getMessage() == "job.skipped"
    ]
    assert skipped == [
        (
            "WARNING",
            {
                "job": "minute",
                "occurrences": 120,
                "first": "2026-03-02T12:01:00Z",
                "last": "2026-03-02T14:00:00Z",
                "catch_up_s": 10800,
                "last_run": "2026-03-02T12:00:30Z",
            },
        )
    ]
    # Running on, nothing more is said: a tick skips nothing.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deskbridge.jobs"):
        JobRunner(engine, rules, {"minute": MINUTE_JOB}).run_due(later + timedelta(minutes=1))
    assert [r for r in caplog.records if r.getMessage() == "job.skipped"] == []


def test_a_job_run_late_logs_its_lateness_in_seconds(engine, rules, caplog):
    """`job.ran` said late_ms where every other line's durations are seconds (`delay_s`,
    `down_s`, timer.fired's `late_s`)."""
    record_earlier_run(engine)
    with caplog.at_level(logging.INFO, logger="deskbridge.jobs"):
        JobRunner(engine, rules, {"minute": MINUTE_JOB}).run_due(NOW + timedelta(milliseconds=250))

    ran = [r.deskbridge_fields for r in caplog.records if r.getMessage() == "job.ran"]
    assert (len(ran), ran[0], ran[-1]) == (
        180,
        {"job": "minute", "occurrence": "2026-03-02T09:01:00Z", "late_s": 10770.25, "actions": 1},
        {"job": "minute", "occurrence": "2026-03-02T12:00:00Z", "late_s": 30.25, "actions": 1},
    )


def test_a_failing_job_leaves_nothing_and_is_retried_later(engine, rules):
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    calls = []

    def flaky(occurrence, rules_, reader):
        calls.append(occurrence)
        if calls.count(at) == 1 and occurrence == at:
            raise RuntimeError("store hiccup")
        return post_minute(occurrence, rules_, reader)

    job = Job("minute", every_minute, flaky, catch_up=timedelta(seconds=90))
    record_earlier_run(engine)
    runner = JobRunner(engine, rules, {"minute": job})
    assert [o.occurrence_at for o in runner.run_due(at)] == [at - timedelta(minutes=1)]
    assert calls == [at - timedelta(minutes=1), at]
    with engine.connect() as connection:
        assert [r["occurrence_at"] for r in list_minute_runs(connection)] == [
            at - timedelta(minutes=1)
        ]
    # Not again on every tick: the failed occurrence waits a minute, then runs.
    assert runner.run_due(at + timedelta(seconds=59)) == []
    retried = runner.run_due(at + timedelta(seconds=60))
    assert [o.occurrence_at for o in retried] == [at, at + timedelta(minutes=1)]
    with engine.connect() as connection:
        assert len(list_actions(connection)) == 3


def test_runtime_loop_runs_jobs_on_its_clock(settings, rules, sqlite_engine):
    from deskbridge.app import create_runtime
    from tests.conftest import Clock

    clock = Clock(datetime(2026, 3, 2, 11, 59, 20, tzinfo=UTC))
    runtime = create_runtime(settings, rules, clock=clock, engine=sqlite_engine)
    job = Job("minute", every_minute, post_minute, catch_up=timedelta(seconds=30))
    runtime.job_runner.jobs = {"minute": job}
    record_earlier_run(sqlite_engine)
    runtime.run_jobs()
    clock.now = datetime(2026, 3, 2, 12, 0, 0, 400000, tzinfo=UTC)
    runtime.run_jobs()
    runtime.run_jobs()
    with sqlite_engine.connect() as connection:
        runs = list_minute_runs(connection)
    assert [(r["job"], r["occurrence_at"], r["run_at"]) for r in runs] == [
        # Restarted 20 s after 11:59 (within catch_up): caught up at once.
        (
            "minute",
            datetime(2026, 3, 2, 11, 59, tzinfo=UTC),
            datetime(2026, 3, 2, 11, 59, 20, tzinfo=UTC),
        ),
        ("minute", datetime(2026, 3, 2, 12, 0, tzinfo=UTC), clock.now),
    ]


@pytest.mark.slow
def test_two_processes_on_postgresql_run_each_occurrence_once(store_url, engine, rules):
    if not store_url.startswith("postgresql"):
        pytest.skip("the race that matters is between processes sharing PostgreSQL")
    record_earlier_run(engine)
    start_at = time.time() + 3
    command = [sys.executable, "-m", "tests.store.minute_job", store_url, NOW.isoformat()]
    processes = [
        subprocess.Popen([*command, str(start_at)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    ran = [json.loads(p.communicate(timeout=120)[0]) for p in processes]
    assert all(p.returncode == 0 for p in processes)
    # Every occurrence ran in exactly one of the two processes.
    assert len(ran[0]) + len(ran[1]) == 180
    assert not set(ran[0]) & set(ran[1])
    with engine.connect() as connection:
        assert len(list_minute_runs(connection)) == 180
        assert len(list_actions(connection)) == 180
    print(f"process A ran {len(ran[0])}, process B ran {len(ran[1])}")


def test_replay_runs_jobs_on_its_simulated_clock_between_timers(rules, monkeypatch):
    """The demo scenario with an hourly job: its occurrences from the first event to --until
    appear in time order among the deadlines, each stamped with its own time."""
    from deskbridge.connectors.registry import CONNECTORS
    from deskbridge.workflows import rules as registry
    from deskbridge.workflows.replay import run_replay
    from deskbridge.workflows.schedule import local_occurrences

    def hourly(rules_, start, end):
        return local_occurrences(
            "UTC", start, end, [datetime.min.time().replace(hour=h) for h in range(24)]
        )

    monkeypatch.setitem(registry.JOBS, "hourly", Job("hourly", hourly, post_minute))
    lines = (ROOT / "examples" / "scenario.jsonl").read_text().splitlines()
    until = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    records = list(run_replay(lines, rules, CONNECTORS, until=until))
    jobs = [r for r in records if r["ticket"] == "job:minute"]  # post_minute's actions
    # First event at 08:02: 09:00 … 18:00 (--until included).
    assert [r["at"] for r in jobs] == [f"2026-03-02T{h:02d}:00:00Z" for h in range(9, 19)]
    assert jobs[0]["key"] == "job:minute:test:2026-03-02T09:00:00Z"
    assert [r["at"] for r in records] == sorted(r["at"] for r in records)
    # The timers of the demo still fire at their own times (the SLA breach at 17:00).
    breach = next(r for r in records if r["action"] == "sla_breach")
    assert breach["at"] == "2026-03-02T17:00:00Z"
    assert records.index(breach) > records.index(jobs[8])  # the 17:00 job ran first


def test_a_first_start_catches_up_nothing_from_before_it(engine, rules):
    """A new install started at 19:12 must not post that day's 17:30 review at once: a store
    that never ran a job runs what falls due from its first tick on; a restart later catches
    up what it missed as usual."""
    runner = JobRunner(engine, rules, {"minute": MINUTE_JOB})
    assert runner.run_due(NOW) == []  # 09:01 … 12:00 were before the service existed
    later = [o.occurrence_at for o in runner.run_due(NOW + timedelta(minutes=2))]
    assert later == [
        datetime(2026, 3, 2, 12, 1, tzinfo=UTC),
        datetime(2026, 3, 2, 12, 2, tzinfo=UTC),
    ]
    # Down from 12:02:30 to 12:10:30: a restart catches up 12:03 … 12:10.
    restarted = JobRunner(engine, rules, {"minute": MINUTE_JOB})
    caught_up = [o.occurrence_at for o in restarted.run_due(NOW + timedelta(minutes=10))]
    assert caught_up == [datetime(2026, 3, 2, 12, m, tzinfo=UTC) for m in range(3, 11)]
