"""`deskbridge migrate` says what it did to the store and nothing else: no dry-run or webhook
secret warnings (they concern serve and worker, which say them when they start)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

import deskbridge.store.db
from tests.conftest import process_env

# Runs the real command: its log lines go where an operator sees them.
pytestmark = pytest.mark.slow

DESKBRIDGE = Path(sys.executable).with_name("deskbridge")
MIGRATIONS = Path(deskbridge.store.db.__file__).with_name("migrations")


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def migrate(url: str, **extra: str) -> subprocess.CompletedProcess:
    """`deskbridge migrate` with no credentials or secret set (and `extra`)."""
    env = process_env("SALESFORCE_", "PAGERDUTY_", "DESKBRIDGE_")
    env |= {"DATABASE_URL": url, "DESKBRIDGE_LOG_LEVEL": "INFO", **extra}
    return subprocess.run(
        [str(DESKBRIDGE), "migrate"], env=env, capture_output=True, text=True, timeout=120
    )


def test_migrate_reports_the_revisions_and_no_dry_run_warnings(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    head = head_revision()

    # The rules file concerns deciding, not the schema: a missing one does not stop it.
    first = migrate(url, DESKBRIDGE_CONFIG=str(tmp_path / "no-such-rules.yaml"))
    again = migrate(url)

    assert (first.returncode, first.stdout, again.returncode, again.stdout) == (0, "", 0, "")
    # Only its own line: alembic's INFO lines ("Context impl SQLiteImpl.", three times, and
    # each "Running upgrade") repeated what it says.
    assert first.stderr.splitlines() == [f"{url}: migrated from revision none to {head}"]
    assert again.stderr.splitlines() == [f"{url}: already up to date (revision {head})"]


def test_migrate_at_debug_shows_alembic_lines(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    head = head_revision()

    result = migrate(url, DESKBRIDGE_LOG_LEVEL="DEBUG")

    lines = result.stderr.splitlines()
    assert lines[-1] == f"{url}: migrated from revision none to {head}"
    applied = [line for line in lines if "Running upgrade" in line]
    assert len(applied) == len(list((MIGRATIONS / "versions").glob("0*.py")))
    assert f"-> {head}, " in applied[-1]


def test_two_migrations_at_once_on_a_new_postgresql_store_both_succeed():
    """The web unit's `deskbridge migrate` (ExecStartPre) and `deskbridge worker` start together
    on a new database (docs/deploy.md): the second waits for the first, then finds the schema
    at head. Before, one of them died on a UniqueViolation (pg_type) in most tries."""
    from tests.conftest import postgres_available, postgres_schema

    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable")
        pytest.skip("PostgreSQL is not reachable")
    head = head_revision()
    for _ in range(3):  # the race was lost in three of four tries
        with postgres_schema() as url:
            with ThreadPoolExecutor(2) as pool:
                runs = list(pool.map(lambda _: migrate(url), range(2)))
            outcomes = sorted((r.returncode, r.stderr.splitlines()[-1:]) for r in runs)
            assert outcomes == [
                (0, [f"{url}: already up to date (revision {head})"]),
                (0, [f"{url}: migrated from revision none to {head}"]),
            ]
