"""Engine creation and schema migration."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from deskbridge.config.logging import log_event

log = logging.getLogger("deskbridge.store")

_MIGRATIONS = Path(__file__).with_name("migrations")
# Held by one migration at a time per schema (PostgreSQL), until its transaction ends.
_MIGRATE_LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtext('deskbridge.migrate:' || current_schema()))"
)

# libpq's connection parameters (psycopg passes them on), so a store that stops answering is
# an error within seconds, not a wait as long as the kernel's: without them a query or a new
# connection to a silent server (a failover that leaves the old address dead, a partition
# that drops packets) waited for minutes, /readyz never answered and the loops logged nothing.
PG_CONNECT_ARGS: dict[str, int] = {
    # Seconds to open a connection, the server's handshake included.
    "connect_timeout": 5,
    # An idle connection (a pooled one, the LISTEN one) is probed after 10 s of silence, every
    # 5 s, and dropped after 3 probes unanswered.
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    # Milliseconds data sent (a query) may stay unacknowledged before the connection is
    # dropped: the keep-alives only probe a connection with nothing in flight.
    "tcp_user_timeout": 15000,
}
# Seconds a query (or a commit) waits for the server's answer before the store is asked, on a
# new connection, whether it still answers: keep-alives and tcp_user_timeout never fire while
# the peer's kernel acknowledges what is sent (a hung server, a proxy or PgBouncer in front of
# a silent one), and statement_timeout is the server's, so without this the loops waited for
# good, mid-query. A store that answers is running a slow query (a purge, a digest, a lock
# waited for), which is waited for again as long; one that does not has its connection
# dropped. Migrations wait unbounded.
QUERY_DEADLINE_S = 30.0
# Seconds that new connection and its `SELECT 1` are given (libpq's connect_timeout: whole
# seconds, 2 at the least).
PROBE_S = 5
# Seconds a thread waits for a pooled connection when all are in use: a store that hangs holds
# them all, and the default 30 s is past what /readyz is given.
POOL_TIMEOUT = 10


def describe_store_error(exc: BaseException) -> dict[str, str]:
    """The log fields of a store that could not be used: the error's type, and for an
    operational error (no server, a refused password, no such table) the driver's first line,
    the cause an operator acts on; a type alone told a wrong DATABASE_URL port or password
    from an outage only through a command run by hand. Never SQLAlchemy's own text, which
    carries the statement's parameters (ticket data)."""
    fields = {"error": type(exc).__name__}
    if isinstance(exc, OperationalError) and exc.orig is not None:
        lines = str(exc.orig).strip().splitlines()
        if lines:
            fields["reason"] = lines[0][:300]
    return fields


def create_store_engine(url: str) -> Engine:
    """An engine for `url`. SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE` transactions
    (one writer at a time, taken up front, so read-then-write never deadlocks)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            pool_timeout=POOL_TIMEOUT,
            connect_args=dict(PG_CONNECT_ARGS),
        )
        if engine.dialect.driver == "psycopg":

            @event.listens_for(engine, "do_connect")
            def _connect_with_deadline(_dialect, _record, cargs, cparams) -> Any:
                return connect_with_deadline(*cargs, **cparams)

        return engine

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


_DEADLINE_CONNECTION: type | None = None


def connect_with_deadline(*args: Any, **kwargs: Any) -> Any:
    """psycopg.connect(...), each wait for the server bounded as a store connection's are
    (QUERY_DEADLINE_S): for connections made outside the engine (the decider's LISTEN)."""
    return _deadline_connection_class().connect(*args, **kwargs)


def _deadline_connection_class() -> type:
    """psycopg's Connection, each wait for the server bounded by QUERY_DEADLINE_S. Built on
    first use: only a PostgreSQL store imports psycopg."""
    global _DEADLINE_CONNECTION
    if _DEADLINE_CONNECTION is not None:
        return _DEADLINE_CONNECTION
    import psycopg
    from psycopg import errors

    class DeadlineConnection(psycopg.Connection):
        # Seconds (None: no bound), read when the connection is made (tests shorten it).
        deadline: float | None = None
        # How it was opened, for the probe (`_store_answers`); None on the probe itself.
        opened_with: tuple[tuple[Any, ...], dict[str, Any]] | None = None

        @classmethod
        def connect(cls, *args: Any, **kwargs: Any) -> DeadlineConnection:
            connection = super().connect(*args, **kwargs)
            connection.deadline = QUERY_DEADLINE_S
            connection.opened_with = (args, kwargs)
            return connection

        # Every round trip (execute, fetch, commit, rollback, the pool's ping) waits here.
        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            if timeout is not None or self.deadline is None:
                # A wait the caller bounds itself (notifies(timeout=)) ends as psycopg's does.
                return super().wait(gen, interval=interval, timeout=timeout)
            waited = 0.0
            while True:
                try:
                    # Waited on after a timeout: psycopg's generators, resumed with nothing
                    # ready, yield the same wait again.
                    return super().wait(gen, interval=interval, timeout=self.deadline)
                except errors._WaitTimeout:
                    waited += self.deadline
                if self.opened_with is None:
                    raise psycopg.OperationalError("no answer") from None
                if not self._store_answers():
                    break
            # What the server answers later would be read as the next query's answer: the
            # connection is closed, and the pool replaces it (a disconnect).
            self.pgconn.finish()
            log_event(log, logging.ERROR, "store.no_answer", waited_s=waited)
            raise psycopg.OperationalError(f"the store did not answer within {waited} s") from None

        def _store_answers(self) -> bool:
            """Whether the store answers a new connection's `SELECT 1` within PROBE_S: then
            the query waited for is slow, not lost."""
            args, kwargs = self.opened_with or ((), {})
            try:
                probe = super().connect(
                    *args, **{**kwargs, "autocommit": True, "connect_timeout": PROBE_S}
                )
            except psycopg.Error:
                return False
            probe.deadline = PROBE_S
            try:
                probe.execute("SELECT 1")
            except psycopg.Error:
                return False
            finally:
                probe.close()
            return True

    _DEADLINE_CONNECTION = DeadlineConnection
    return DeadlineConnection


@contextmanager
def unbounded_queries(connection: Connection) -> Any:
    """Within this block the connection's queries may wait for the server without bound
    (QUERY_DEADLINE_S): a migration's lock and its DDL on a large table take what they take."""
    dbapi = connection.connection.dbapi_connection
    before = getattr(dbapi, "deadline", None)
    if before is not None:
        dbapi.deadline = None
    try:
        yield connection
    finally:
        if before is not None:
            dbapi.deadline = before


def connect_for_reading(engine: Engine) -> Connection:
    """A connection for reads only: a deferred BEGIN on SQLite, so it reads a WAL snapshot and
    never waits for (or holds up) the one writer, which webhooks and the decider hold most of
    the time."""
    return engine.connect().execution_options(sqlite_deferred=True)


def _alembic_config() -> Any:
    # Imported here: commands that only read the store (digest) start faster without alembic.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def migrate_store(engine: Engine, to: str = "head") -> tuple[str | None, str | None]:
    """Apply every alembic migration not yet applied (`alembic upgrade head`; `to`: only up to
    that revision, a store as an older version left it); the store's revision before and
    after (None: no migration applied yet), for the caller to log."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = _alembic_config()
    with engine.begin() as connection, unbounded_queries(connection):
        if connection.dialect.name == "postgresql":
            # `serve`/`worker` and `deskbridge migrate` (the web unit's ExecStartPre) may start
            # together on a new database: two alembic runs creating the same tables collide
            # (UniqueViolation on pg_type). The second waits here, then finds nothing to do.
            # Per schema, so stores in other schemas of the database migrate side by side.
            connection.execute(_MIGRATE_LOCK)
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, to)
        return before, MigrationContext.configure(connection).get_current_revision()


def has_schema(connection: Connection) -> bool:
    """Whether the store was ever migrated (alembic's version table is there): a new database
    has none of deskbridge's tables. Read without alembic, for the commands that only read."""
    return inspect(connection).has_table("alembic_version")


def store_revision(connection: Connection) -> str | None:
    """The migration a store is at, read without alembic (the reading commands load none)."""
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def newer_revision(revision: str | None) -> str | None:
    """This version's newest migration when `revision` is an older one of its own (the store
    an older deskbridge left, not migrated since), else None: up to date, or migrated by a
    newer deskbridge, whose revision this one does not know."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    head = script.get_current_head()
    known = {migration.revision for migration in script.walk_revisions()}
    return head if revision in known and revision != head else None


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


def limit_statement_time(connection: Connection, seconds: float) -> None:
    """On PostgreSQL, have the server cancel this transaction's statements after `seconds`
    (SET LOCAL: it ends with the transaction, the pooled connection keeps no limit). For short
    reads only, such as /readyz's: a purge or a migration may rightly take longer. SQLite
    waits for its one writer with its own busy timeout."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
