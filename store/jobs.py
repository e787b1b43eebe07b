"""Scheduled-job occurrences: claimed once, across every process sharing the store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from deskbridge.store.schema import job_runs
from deskbridge.store.sql import insert_ignoring_conflicts, rows_as_dicts


def claim_job_run(connection: Connection, job: str, occurrence_at: datetime, now: datetime) -> bool:
    """Claim one occurrence for this transaction; False when it was already run (or another
    instance holds it: on PostgreSQL the insert waits for that transaction, then conflicts if
    it committed). Call it in the transaction that queues the occurrence's actions."""
    statement = insert_ignoring_conflicts(connection, job_runs, ("job", "occurrence_at")).values(
        job=job, occurrence_at=occurrence_at, run_at=now, actions=0
    )
    return connection.execute(statement.returning(job_runs.c.job)).first() is not None


def read_job_run_span(connection: Connection) -> tuple[datetime, datetime] | None:
    """When the first and the last job occurrence still on record were run (None: never)."""
    first, last = connection.execute(
        select(func.min(job_runs.c.run_at), func.max(job_runs.c.run_at))
    ).one()
    return None if first is None else (first, last)


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
