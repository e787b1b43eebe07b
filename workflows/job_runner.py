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
from typing import TYPE_CHECKING, Any

from deskbridge.config.logging import describe_exception, log_event
from deskbridge.config.rules import RulesConfig
from deskbridge.store.interface import Store, StoreSession, as_store, build_decision_rows
from deskbridge.workflows.actions import Action
from deskbridge.workflows.digest import Period, PeriodData
from deskbridge.workflows.schedule import Job, format_instant

if TYPE_CHECKING:
    from sqlalchemy import Engine

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
        store: Engine | Store,
        rules: RulesConfig,
        jobs: Mapping[str, Job],
        data_version: Callable[[], int] | None = None,
    ):
        self.store = as_store(store)
        self.rules = rules
        self.jobs = jobs
        # Given by a caller that is the store's only writer (replay): a number that changes
        # whenever it may have written, so period reads can be reused while it stands.
        self.data_version = data_version
        self._reads = _PeriodReads()
        # Occurrences known to be run (here or elsewhere): an idle tick costs no SQL.
        self._done: set[tuple[str, datetime]] = set()
        self._failed: dict[tuple[str, datetime], datetime] = {}
        # Since when the store's service has been running jobs (its first job run, or this
        # process's first tick on a store that never ran one); read at the first tick.
        self._running_since: datetime | None = None

    def list_due(self, now: datetime) -> list[tuple[datetime, Job]]:
        """Occurrences within each job's catch-up window, not known to be run, oldest first.
        Only what the service missed is caught up: on a store that never ran a job (a first
        start), occurrences before now are not (a new install started at 19:12 would
        otherwise post that day's 17:30 review at once)."""
        if self._running_since is None:
            with self.store.reading() as session:
                span = session.read_job_run_span()
            self._running_since = now if span is None else span[0]
            if span is not None:
                self._log_skipped(span[1], now)
        due = []
        for job in self.jobs.values():
            for at in job.occurrences(self.rules, now - job.catch_up, now):
                if at < self._running_since:
                    continue
                key = (job.name, at)
                retry = self._failed.get(key)
                if key not in self._done and (retry is None or retry <= now):
                    due.append((at, job))
        return sorted(due, key=lambda item: (item[0], item[1].name))

    def _log_skipped(self, last_run: datetime, now: datetime) -> None:
        """Say what a start will not catch up: each job's occurrences between the store's last
        job run (the service was running jobs until then) and its catch-up window, skipped
        without a word before (a digest of a day the service was down)."""
        for job in self.jobs.values():
            skipped = list(job.occurrences(self.rules, last_run, now - job.catch_up))
            if skipped:
                log_event(
                    log,
                    logging.WARNING,
                    "job.skipped",
                    job=job.name,
                    occurrences=len(skipped),
                    first=format_instant(skipped[0]),
                    last=format_instant(skipped[-1]),
                    catch_up_s=round(job.catch_up.total_seconds()),
                    last_run=format_instant(last_run),
                )

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
            with self.store.writing() as session:
                if not session.claim_job_run(job.name, at, now):
                    self._done.add(key)
                    return None
                reader: Any = session  # what jobs read (workflows.schedule.JobReader)
                if self.data_version is not None:
                    reader = _ReusingReader(session, self._reads, self.data_version())
                decided = job.run(at, self.rules, reader)
                actions = session.insert_actions(decided, now)
                cause = f"job:{job.name}@{format_instant(at)}"
                session.insert_decision_rows(build_decision_rows(actions, cause, now))
                if actions:  # the claim recorded none
                    session.record_job_actions(job.name, at, len(actions))
        except Exception as exc:
            self._failed[key] = now + RETRY_AFTER
            log_event(
                log,
                logging.ERROR,
                "job.failed",
                job=job.name,
                occurrence=format_instant(at),
                **describe_exception(exc),
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
            late_s=round((now - at).total_seconds(), 3),  # seconds, as timer.fired's
            actions=len(actions),
        )
        return JobOutcome(job.name, at, actions)

    def _forget(self, now: datetime) -> None:
        """Drop memory of occurrences older than every catch-up window."""
        horizon = max((j.catch_up for j in self.jobs.values()), default=timedelta(0))
        self._done = {k for k in self._done if k[1] > now - horizon - timedelta(minutes=1)}


@dataclass
class _PeriodReads:
    version: int | None = None
    latest_dated: datetime | None = None
    # (what, kind, start, own windows' starts, shift days) → (end read up to, the data)
    reads: dict[tuple, tuple[datetime, PeriodData]] = field(default_factory=dict)


class _ReusingReader:
    """A job reader for a store with one writer (replay), where a coaching check every few
    minutes would read the same day again and again. A period read up to `end` is reused for
    a later end when nothing was written since (same data version) and no stored row is
    dated at or after the earlier end (so the later cut adds nothing): exactly the rows a
    new read would return. Everything else goes to the store."""

    def __init__(self, reader: StoreSession, reads: _PeriodReads, version: int):
        self._reader = reader
        self._reads = reads
        if reads.version != version:
            reads.version = version
            reads.latest_dated = reader.read_latest_dated()
            reads.reads.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def read_period(self, period: Period, repeat_window: timedelta) -> PeriodData:
        return self._reuse(
            ("period", repeat_window),
            period,
            lambda: self._reader.read_period(period, repeat_window),
        )

    def read_period_replies(self, period: Period) -> PeriodData:
        return self._reuse(("replies",), period, lambda: self._reader.read_period_replies(period))

    def _reuse(self, what: tuple, period: Period, read: Callable[[], PeriodData]) -> PeriodData:
        # Agents' own windows are part of what is read: one judged on another day's shift
        # before their shift of the day begins has another window after (`Period.shift_days`).
        windows = tuple((slack_id, start) for slack_id, start, _ in period.own_windows)
        key = (*what, period.kind, period.start, windows, period.shift_days)
        known = self._reads.reads.get(key)
        latest = self._reads.latest_dated
        if known is not None and known[0] <= period.end and (latest is None or latest < known[0]):
            return known[1]
        data = read()
        self._reads.reads[key] = (period.end, data)
        return data
