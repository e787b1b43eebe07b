"""The audit trail: why each action was decided."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from deskbridge.store.interface import build_decision_rows
from deskbridge.store.schema import audit
from deskbridge.store.sql import rows_as_dicts
from deskbridge.workflows.actions import Action


def insert_decision_rows(connection: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(audit), rows)


def insert_decisions(
    connection: Connection, actions: list[Action], event_key: str | None, at: datetime
) -> None:
    insert_decision_rows(connection, build_decision_rows(actions, event_key, at))


def list_decisions(connection: Connection, ticket: str) -> list[dict[str, Any]]:
    query = select(audit).where(audit.c.ticket == ticket).order_by(audit.c.id)
    return rows_as_dicts(connection.execute(query))
