"""Scheduled-job occurrences: claimed once, across every process sharing the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from deskbridge.store.activity import read_period, read_period_replies
from deskbridge.store.schema import job_runs
from deskbridge.store.sql import insert_ignoring_conflicts, rows_as_dicts
from deskbridge.workflows.digest import Period, PeriodData


def claim_job_run(connection: Connection, job: str, occurrence_at: datetime, now: datetime) -> bool:
    """Claim one occurrence for this transaction; False when it was already run (or another
    instance holds it: on PostgreSQL the insert waits for that transaction, then conflicts if
    it committed). Call it in the transaction that queues the occurrence's actions."""
    statement = insert_ignoring_conflicts(connection, job_runs, ("job", "occurrence_at")).values(
        job=job, occurrence_at=occurrence_at, run_at=now, actions=0
    )
    return connection.execute(statement.returning(job_runs.c.job)).first() is not None


def read_first_job_run_at(connection: Connection) -> datetime | None:
    """When the first job occurrence still on record was run (None: never)."""
    return connection.execute(select(func.min(job_runs.c.run_at))).scalar()


def record_job_actions(
    connection: Connection, job: str, occurrence_at: datetime, actions: int
) -> None:
    connection.execute(
        update(job_runs)
        .where(job_runs.c.job == job, job_runs.c.occurrence_at == occurrence_at)
        .values(actions=actions)
    )


def list_job_runs(connection: Connection, since: datetime | None = None) -> list[dict[str, Any]]:
    query = select(job_runs).order_by(job_runs.c.occurrence_at, job_runs.c.job)
    if since is not None:
        query = query.where(job_runs.c.occurrence_at > since)
    return rows_as_dicts(connection.execute(query))


class StoreJobReader:
    """The store behind `workflows.schedule.JobReader`: what scheduled jobs read, within the
    transaction that claimed the occurrence."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def list_oncall_overrides(self, ending_after: datetime) -> list:
        from deskbridge.store.oncall import list_overrides

        return list_overrides(self.connection, ending_after=ending_after)

    def list_paged_tickets(self, since: datetime, until: datetime) -> list:
        from deskbridge.store.oncall import list_paged_tickets

        return list_paged_tickets(self.connection, since, until)

    def read_period(self, period: Period, repeat_window: timedelta) -> PeriodData:
        return read_period(self.connection, period, repeat_window)

    def read_period_replies(self, period: Period) -> PeriodData:
        return read_period_replies(self.connection, period)
