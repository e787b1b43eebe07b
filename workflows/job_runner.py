"""Runs scheduled jobs' occurrences (the shell around workflows/schedule.py).

`serve` and `worker` call `run_due(now)` from the same loop as the timer sweep: each
occurrence in the last `catch_up` of its job that this process has not seen done is claimed in
the store (`job_runs`, INSERT … ON CONFLICT DO NOTHING) in the transaction that queues its
actions, so with several processes exactly one runs it and a restart catches up what it
missed. `replay` calls `run_occurrence` at each occurrence's time on its simulated clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from deskbridge.config.logging import log_event
from deskbridge.config.rules import RulesConfig
from deskbridge.store.audit import insert_decisions
from deskbridge.store.jobs import StoreJobReader, claim_job_run, record_job_actions
from deskbridge.store.outbox import insert_actions
from deskbridge.workflows.actions import Action
from deskbridge.workflows.schedule import Job, format_instant

log = logging.getLogger("deskbridge.jobs")

# A job that raised is tried again after this long (not on every tick).
RETRY_AFTER = timedelta(minutes=1)


@dataclass
class JobOutcome:
    job: str
    occurrence_at: datetime
    actions: list[Action] = field(default_factory=list)


class JobRunner:
    def __init__(
        self,
        engine: Engine,
        rules: RulesConfig,
        jobs: Mapping[str, Job],
        reader: Callable = StoreJobReader,
    ):
        self.engine = engine
        self.rules = rules
        self.jobs = jobs
        self.reader = reader
        # Occurrences known to be run (here or elsewhere): an idle tick costs no SQL.
        self._done: set[tuple[str, datetime]] = set()
        self._failed: dict[tuple[str, datetime], datetime] = {}

    def list_due(self, now: datetime) -> list[tuple[datetime, Job]]:
        """Occurrences within each job's catch-up window, not known to be run, oldest first."""
        due = []
        for job in self.jobs.values():
            for at in job.occurrences(self.rules, now - job.catch_up, now):
                key = (job.name, at)
                retry = self._failed.get(key)
                if key not in self._done and (retry is None or retry <= now):
                    due.append((at, job))
        return sorted(due, key=lambda item: (item[0], item[1].name))

    def run_due(self, now: datetime) -> list[JobOutcome]:
        outcomes = []
        for at, job in self.list_due(now):
            outcome = self.run_occurrence(job, at, now)
            if outcome is not None:
                outcomes.append(outcome)
        self._forget(now)
        return outcomes

    def run_occurrence(self, job: Job, at: datetime, now: datetime) -> JobOutcome | None:
        """Claim and run one occurrence; None when it was already run. A job that raises
        leaves no trace in the store (the claim rolls back) and is tried again later."""
        key = (job.name, at)
        try:
            with self.engine.begin() as connection:
                if not claim_job_run(connection, job.name, at, now):
                    self._done.add(key)
                    return None
                decided = job.run(at, self.rules, self.reader(connection))
                actions = insert_actions(connection, decided, now)
                insert_decisions(connection, actions, f"job:{job.name}@{format_instant(at)}", now)
                record_job_actions(connection, job.name, at, len(actions))
        except Exception as exc:
            self._failed[key] = now + RETRY_AFTER
            log_event(
                log,
                logging.ERROR,
                "job.failed",
                job=job.name,
                occurrence=format_instant(at),
                error=type(exc).__name__,
            )
            return None
        self._done.add(key)
        self._failed.pop(key, None)
        log_event(
            log,
            logging.INFO if actions else logging.DEBUG,  # an idle service logs nothing
            "job.ran",
            job=job.name,
            occurrence=format_instant(at),
            late_ms=int((now - at).total_seconds() * 1000),
            actions=len(actions),
        )
        return JobOutcome(job.name, at, actions)

    def _forget(self, now: datetime) -> None:
        """Drop memory of occurrences older than every catch-up window."""
        horizon = max((j.catch_up for j in self.jobs.values()), default=timedelta(0))
        self._done = {k for k in self._done if k[1] > now - horizon - timedelta(minutes=1)}
