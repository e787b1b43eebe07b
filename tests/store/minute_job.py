"""A scheduled job for tests: one `notify` every minute, and a process entry point that runs
its due occurrences against a store (two of these race in test_jobs.py)."""

from __future__ import annotations

import json
import sys
import time as monotonic
from datetime import UTC, datetime, time, timedelta

from deskbridge.workflows.actions import ActionKind
from deskbridge.workflows.schedule import Job, build_job_action, local_occurrences

EVERY_MINUTE = [time(h, m) for h in range(24) for m in range(60)]


def every_minute(rules, start, end):
    return local_occurrences(rules.team.timezone, start, end, EVERY_MINUTE)


def post_minute(at, rules, reader):
    return [
        build_job_action(
            "minute",
            at,
            "test",
            ActionKind.notify,
            reason=f"it is {at:%H:%M}",
            channel=rules.team.lead_channel,
        )
    ]


MINUTE_JOB = Job("minute", every_minute, post_minute, catch_up=timedelta(hours=3))


def main(url: str, now: str, start_at: float) -> None:
    from deskbridge.config.rules import load_rules
    from deskbridge.config.settings import EXAMPLE_CONFIG
    from deskbridge.store.db import create_store_engine
    from deskbridge.workflows.job_runner import JobRunner

    engine = create_store_engine(url)
    runner = JobRunner(engine, load_rules(EXAMPLE_CONFIG), {"minute": MINUTE_JOB})

    def slow_post(at, rules, reader):
        monotonic.sleep(0.002)  # hold the claim a little, so the processes overlap
        return post_minute(at, rules, reader)

    runner.jobs = {"minute": Job("minute", every_minute, slow_post, MINUTE_JOB.catch_up)}
    while monotonic.time() < start_at:  # both processes start together
        monotonic.sleep(0.001)
    outcomes = runner.run_due(datetime.fromisoformat(now).astimezone(UTC))
    print(json.dumps([o.occurrence_at.isoformat() for o in outcomes]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
