"""Engine creation and schema migration."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.pool import StaticPool

_MIGRATIONS = Path(__file__).with_name("migrations")
# Held by one migration at a time per schema (PostgreSQL), until its transaction ends.
_MIGRATE_LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtext('deskbridge.migrate:' || current_schema()))"
)


def create_store_engine(url: str) -> Engine:
    """An engine for `url`. SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE` transactions
    (one writer at a time, taken up front, so read-then-write never deadlocks)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)

    in_memory = url in ("sqlite://", "sqlite:///:memory:")
    kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if in_memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # A reader that will not write asks for a deferred BEGIN: under WAL it reads a
        # snapshot and never waits for (or holds up) the one writer.
        deferred = connection.get_execution_options().get("sqlite_deferred")
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine


def connect_for_reading(engine: Engine) -> Connection:
    """A connection for reads only: a deferred BEGIN on SQLite, so it reads a WAL snapshot and
    never waits for (or holds up) the one writer, which webhooks and the decider hold most of
    the time."""
    return engine.connect().execution_options(sqlite_deferred=True)


def migrate_store(engine: Engine) -> tuple[str | None, str | None]:
    """Apply every alembic migration not yet applied (`alembic upgrade head`); the store's
    revision before and after (None: no migration applied yet), for the caller to log."""
    # Imported here: commands that only read the store (digest) start faster without alembic.
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # `serve`/`worker` and `deskbridge migrate` (the web unit's ExecStartPre) may start
            # together on a new database: two alembic runs creating the same tables collide
            # (UniqueViolation on pg_type). The second waits here, then finds nothing to do.
            # Per schema, so stores in other schemas of the database migrate side by side.
            connection.execute(_MIGRATE_LOCK)
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return before, MigrationContext.configure(connection).get_current_revision()


def has_schema(connection: Connection) -> bool:
    """Whether the store was ever migrated (alembic's version table is there): a new database
    has none of deskbridge's tables. Read without alembic, for the commands that only read."""
    return inspect(connection).has_table("alembic_version")


def check_store(engine: Engine) -> None:
    """Raise (a SQLAlchemy error) unless the store answers a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def postgres_available(url: str, timeout_s: int = 2) -> bool:
    """Whether PostgreSQL at `url` answers within `timeout_s`: tests and benchmarks ask before
    they use it (and skip, or fail on CI, when it does not)."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": timeout_s})
        try:
            check_store(engine)
        finally:
            engine.dispose()
    except Exception:
        return False
    return True
