"""Dialect helpers shared by the repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, bindparam, func
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_conflicts(
    connection: Connection | Engine, table: Table, index: str | tuple[str, ...]
):
    """`INSERT … ON CONFLICT (index) DO NOTHING` for SQLite and PostgreSQL."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    columns = [index] if isinstance(index, str) else list(index)
    return dialect.insert(table).on_conflict_do_nothing(index_elements=columns)


# Prepared inserts, built once per (table, dialect, shape): building a statement costs more
# than running it on the acknowledgement's and the decider's hot paths.
_PREPARED: dict[tuple, Any] = {}


def prepare_insert_ignoring_conflicts(
    connection: Connection | Engine,
    table: Table,
    index: str | tuple[str, ...],
    columns: tuple[str, ...],
    returning: ColumnElement | None = None,
):
    """`insert_ignoring_conflicts` with a bind parameter per column (executemany rows are
    dicts of those columns), optionally `RETURNING` one column; built once and reused."""
    name = None if returning is None else returning.key
    key = (table.name, connection.dialect.name, index, columns, name)
    statement = _PREPARED.get(key)
    if statement is None:
        statement = insert_ignoring_conflicts(connection, table, index).values(
            {c: bindparam(c) for c in columns}
        )
        if returning is not None:
            statement = statement.returning(returning)
        _PREPARED[key] = statement
    return statement


def is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def ticket_source(connection: Connection, key: ColumnElement) -> ColumnElement:
    """The helpdesk part of a ticket key ("zendesk" of "zendesk:123"), for grouping in SQL."""
    if is_postgres(connection):
        return func.split_part(key, ":", 1)
    return func.substr(key, 1, func.instr(key, ":") - 1)


def rows_as_dicts(result: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in result]
