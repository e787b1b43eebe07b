"""Shared fixtures: stores on SQLite and PostgreSQL, a frozen clock, signed requests."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from deskbridge.config.rules import RulesConfig, load_rules, summarize_rules
from deskbridge.config.settings import EXAMPLE_CONFIG, Settings
from deskbridge.connectors.zendesk.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    build_signature,
)
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.db import postgres_available as store_postgres_available


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `source_only` patch a compiled module's functions or constants, or watch
    its calls (a list's __iter__): compiled code calls, reads and iterates directly. They run
    where the modules load from source: `make test` runs them again with DESKBRIDGE_PURE=1
    after a build (workflows/compiled.py)."""
    from deskbridge.workflows import LOADED_AS

    if LOADED_AS != "compiled":
        return
    skip = pytest.mark.skip(reason="compiled by mypyc: run with DESKBRIDGE_PURE=1 (make test)")
    for item in items:
        if "source_only" in item.keywords:
            item.add_marker(skip)


# Payloads named after the real events they are (copied from the project's shared fixtures,
# byte for byte: signatures are computed over them), so a clone tests with nothing beside it.
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# check-config's lines after its "ok" on a file naming Salesforce: how a case's Status reads.
SALESFORCE_STATUSES = (
    "salesforce statuses: new: New; open: Working, Escalated; pending: Waiting on Customer; "
    "on hold: On Hold; solved: Resolved; closed: Closed; any other: open, or solved when the "
    "case's IsClosed is true (logged as webhook.unmapped_status: list it under the one it "
    "means)"
)
ENVIRONMENT_NOT_READ = "; the environment has mistakes and was not read"


def check_config_ok(path: Path = EXAMPLE_CONFIG, environment: str = "") -> str:
    """check-config's stdout for a valid rules file naming both helpdesks (the example), the
    environment naming none; `environment`: ENVIRONMENT_NOT_READ when it has mistakes."""
    return (
        f"{path}: ok — {summarize_rules(load_rules(path))}\n"
        f"helpdesks in use: zendesk, salesforce (named by the rules file{environment})\n"
        f"{SALESFORCE_STATUSES}\n"
    )


TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="


def name_key_accounts(rules: dict) -> None:
    """The example's VIPs as a team on Salesforce alone names them: a case has no tags, so by
    its account (the fixture's AccountId) in the risk signal and the vip SLA policy."""
    account = "0015j00000LmN2rAAF"
    rules["risk"]["signals"]["vip"] |= {"tags": [], "organizations": [account]}
    policy = rules["sla"]["policies"][0]
    del policy["tags"]
    policy["organization"] = account


PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def process_env(*also: str) -> dict[str, str]:
    """The environment of a deskbridge command a test starts (serve, worker, web, gunicorn),
    before the test's own variables: this process's without the Slack and Zendesk variables (a
    developer's real credentials would reach real services) nor those starting with `also`."""
    unset = ("SLACK_", "ZENDESK_", *also)
    return {k: v for k, v in os.environ.items() if not k.startswith(unset)}


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict:
    return json.loads(fixture_bytes(name))


def signed_headers(body: bytes, at: datetime, secret: str = TEST_SECRET) -> dict[str, str]:
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: build_signature(secret.encode(), stamp, body),
    }


class Clock:
    """A settable clock handed to the app: tests move time explicitly."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session")
def rules() -> RulesConfig:
    """The example rules, loaded once: RulesConfig is frozen, so tests can share it."""
    return load_rules(EXAMPLE_CONFIG)


_PG: bool | None = None


def postgres_available() -> bool:
    """Whether PostgreSQL answers at PG_URL (asked once per test run)."""
    global _PG
    if _PG is None:
        _PG = store_postgres_available(PG_URL)
    return _PG


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> Iterator[str]:
    """A migrated, empty store on each backend. PostgreSQL gets its own schema per test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'deskbridge.db'}"
        return
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_URL}")
        pytest.skip("PostgreSQL is not reachable")
    with postgres_schema() as url:
        yield url


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL of a new, empty schema in the test database, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(store_url):
    engine = create_store_engine(store_url)
    migrate_store(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = create_store_engine(f"sqlite:///{tmp_path / 'deskbridge.db'}")
    migrate_store(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    for name in (
        "ZENDESK_SUBDOMAIN",
        "ZENDESK_EMAIL",
        "ZENDESK_API_TOKEN",
        "SLACK_BOT_TOKEN",
        "DATABASE_URL",
        "DESKBRIDGE_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    return Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'deskbridge.db'}",
        ZENDESK_WEBHOOK_SECRET=TEST_SECRET,
    )


def decide_all(runtime) -> list:
    """Run the decider until nothing is undecided, as serve's decider thread does after the
    acknowledgement; returns what each event decided, in order."""
    decided = []
    while batch := runtime.service.decider.decide_pending():
        decided += batch
    return decided


def fire_timers_until(service, limit: datetime) -> Iterator[tuple[datetime, object]]:
    """Fire every timer due by `limit` at its own due time, one instant at a time (what
    `serve` does live); yields (due time, TimerOutcome)."""
    from deskbridge.store.timers import next_due_at

    while True:
        with service.engine.connect() as connection:
            due = next_due_at(connection)
        if due is None or due > limit:
            return
        for outcome in service.fire_due_timers(due):
            yield due, outcome


# -- the log audit (reliability.md §6 F28) ---------------------------------------------------
# Every line a test logs, as deskbridge's formatter writes it (exception messages left out as in
# production), and every *.log file a test's processes wrote under its tmp_path, is read for
# what must never be logged: the test suite's secrets and tokens, Salesforce session ids,
# email addresses and the fixtures' free text. A test whose logs hold one fails at teardown.
_SECRETS = (
    TEST_SECRET,
    "0123456789abcdef0123456789abcdef",  # the Slack signing secret the Slack tests use
    "callout-token-for-",
    "flow-callout-token-for-tests",
    "flow-token-for-tests",
    "R0UT1NGKEY0000000000000000000001",  # the PagerDuty routing key
    "p&ss<word>",  # the Salesforce password and token the client tests log in with
    "TOKEN123",
)
_NEVER_LOGGED = re.compile(
    r"xox[abpr]-|xapp-"  # Slack tokens
    r"|SESSION-\d"  # Salesforce session ids in the client tests
    r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"  # email addresses
    r"|" + "|".join(re.escape(s) for s in _SECRETS)
)
# Loggers whose records are read (besides the root's): their own handlers see a record even
# while a test has replaced the root's handlers (the `logs` fixture).
_AUDITED_LOGGERS = ("", "deskbridge", "zenpy", "urllib3", "waitress", "werkzeug", "alembic")


_FREE_TEXT = ("subject", "description", "body")


def _customers_words(value: str) -> bool:
    """Not an event's own subject (zen:ticket:N, the ticket's name) nor a JSON body."""
    return len(value) > 15 and not value.startswith(("zen:", "{"))


def _fixture_texts() -> list[str]:
    """Free text in the fixtures (subjects, descriptions, comment bodies): customers' words."""
    texts = []

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in _FREE_TEXT and _customers_words(value):
            texts.append(value)

    for path in sorted(FIXTURES.glob("*.json")):
        walk(json.loads(path.read_text()))
    return sorted(set(texts))


_BODIES = _fixture_texts()


class _Audit(logging.Handler):
    def __init__(self):
        super().__init__(logging.NOTSET)
        from deskbridge.config.logging import FieldFormatter

        self.setFormatter(FieldFormatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.__dict__.get("_audited_by") is self:  # seen through another audited logger
            return
        record._audited_by = self
        # A record the formatter cannot write is no secret written.
        with contextlib.suppress(Exception):
            self.lines.append(self.format(record))


def _leaks(text: str) -> list[str]:
    found = [m.group(0) for m in _NEVER_LOGGED.finditer(text)]
    return found + [body[:40] for body in _BODIES if body in text]


@pytest.fixture(autouse=True)
def _log_audit(request):
    audit = _Audit()
    loggers = [logging.getLogger(name) for name in _AUDITED_LOGGERS]
    for logger in loggers:
        logger.addHandler(audit)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(audit)
    leaked = [(line[:300], _leaks(line)) for line in audit.lines if _leaks(line)]
    tmp = request.node.funcargs.get("tmp_path")
    if tmp is not None:
        for path in Path(tmp).rglob("*.log"):
            text = path.read_text(errors="replace")
            leaked += [(line[:300], _leaks(line)) for line in text.splitlines() if _leaks(line)]
    if leaked:
        pytest.fail(f"the log holds what must never be logged: {leaked[:5]}", pytrace=False)


@pytest.fixture
def forks(monkeypatch) -> list[int]:
    """The children forked (replay's reader process, workflows/replay_reader.py). A second
    process may start here though the test runner has threads of its own (pytest-xdist's):
    the child only reads and ends by os._exit."""
    import threading

    from deskbridge.workflows import replay_reader

    made: list[int] = []
    fork = os.fork

    def counted() -> int:
        pid = fork()
        if pid:
            made.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counted)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(replay_reader, "usable_cpus", lambda: 2)
    return made
