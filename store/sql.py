"""Dialect helpers shared by the repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_conflicts(connection: Connection, table: Table, index: str | tuple[str, ...]):
    """`INSERT … ON CONFLICT (index) DO NOTHING` for SQLite and PostgreSQL."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    columns = [index] if isinstance(index, str) else list(index)
    return dialect.insert(table).on_conflict_do_nothing(index_elements=columns)


def is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def rows_as_dicts(result: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in result]
