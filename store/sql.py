"""Dialect helpers shared by the repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_conflicts(connection: Connection, table: Table, index: str | tuple[str, ...]):
    """`INSERT … ON CONFLICT (index) DO NOTHING` for SQLite and PostgreSQL."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    columns = [index] if isinstance(index, str) else list(index)
    return dialect.insert(table).on_conflict_do_nothing(index_elements=columns)


def is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def ticket_source(connection: Connection, key: ColumnElement) -> ColumnElement:
    """The helpdesk part of a ticket key ("zendesk" of "zendesk:123"), for grouping in SQL."""
    if is_postgres(connection):
        return func.split_part(key, ":", 1)
    return func.substr(key, 1, func.instr(key, ":") - 1)


def rows_as_dicts(result: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in result]
