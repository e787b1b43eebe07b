"""Alembic environment: run against the connection handed over by store.db.migrate_store,
or against DATABASE_URL when alembic is run from the command line."""

from __future__ import annotations

import os

from alembic import context

from deskbridge.store.schema import metadata

connection = context.config.attributes.get("connection")


def _run(conn) -> None:
    context.configure(
        connection=conn, target_metadata=metadata, render_as_batch=conn.dialect.name == "sqlite"
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    from deskbridge.store.db import create_store_engine

    engine = create_store_engine(os.environ.get("DATABASE_URL", "sqlite:///deskbridge.db"))
    with engine.begin() as conn:
        _run(conn)
