"""WEB_CONCURRENCY left empty (an env file's `WEB_CONCURRENCY=`) means "not set", and a value
that is not a number of workers is one line naming it, for `deskbridge web` and for the
gunicorn settings module; gunicorn alone stops on either with a traceback as it is imported."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from deskbridge.cli import _refuse_a_store_not_migrated, main
from tests.acceptance.test_crash_restart import DESKBRIDGE, free_port
from tests.acceptance.test_slow_clients import start_web
from tests.conftest import process_env

DEFAULT_WORKERS = 2 * multiprocessing.cpu_count() + 1


POSTGRESQL = "postgresql+psycopg://deskbridge@127.0.0.1/deskbridge"


def _settings_workers(value: str, url: str = POSTGRESQL) -> subprocess.CompletedProcess:
    """The gunicorn settings module imported fresh with WEB_CONCURRENCY=value, DATABASE_URL=url
    (empty: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-c", "import deskbridge.config.gunicorn as g; print(g.workers)"],
        env={**env, "WEB_CONCURRENCY": value, **({"DATABASE_URL": url} if url else {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("value", "url", "workers"),
    [
        ("", POSTGRESQL, DEFAULT_WORKERS),
        ("  ", POSTGRESQL, DEFAULT_WORKERS),
        # SQLite has one writer: more workers would only queue for it.
        ("", "sqlite:///deskbridge.db", 1),
        ("", "", 1),  # unset: deskbridge's default store, sqlite:///deskbridge.db
        ("3", "sqlite:///deskbridge.db", 3),
    ],
)
def test_an_empty_web_concurrency_is_the_default_worker_count(value, url, workers):
    result = _settings_workers(value, url)

    assert (result.returncode, result.stdout, result.stderr) == (0, f"{workers}\n", "")


def test_a_number_of_workers_is_taken():
    assert _settings_workers("3").stdout == "3\n"


@pytest.mark.parametrize("value", ["abc", "0", "-2", "2.5"])
def test_a_web_concurrency_that_is_not_a_worker_count_is_one_line(value):
    result = _settings_workers(value)

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"WEB_CONCURRENCY={value!r} is not a number of worker processes: give a whole number, "
        f"1 or more, or leave it empty for 2 x cores + 1 ({DEFAULT_WORKERS} here; 1 on SQLite)\n",
    )


def test_web_refuses_a_web_concurrency_that_is_not_a_number_in_one_line():
    result = CliRunner().invoke(main, ["web"], env={"WEB_CONCURRENCY": "five"})

    assert (result.exit_code, result.output) == (
        1,
        "Error: WEB_CONCURRENCY='five' is not a number of worker processes: give a whole "
        "number, 1 or more, or leave it empty for 2 x cores + 1 "
        f"({DEFAULT_WORKERS} here; 1 on SQLite)\n",
    )


@pytest.mark.slow
def test_web_starts_with_an_empty_web_concurrency(tmp_path):
    env = {
        **process_env(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deskbridge.db'}",
        "DESKBRIDGE_BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "",
    }
    # --workers 1 after `web` is passed to gunicorn: the test needs no more.
    server, status = start_web([str(DESKBRIDGE), "web", "--workers", "1"], env, tmp_path)
    server.terminate()
    server.wait(timeout=40)

    assert status == b"HTTP/1.1 200 OK"
    assert "Traceback" not in (tmp_path / "web.log").read_text()


@pytest.mark.slow
def test_web_lists_the_rules_file_and_environment_mistakes_once_without_a_traceback(tmp_path):
    rules = tmp_path / "rules.yaml"
    example = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
    rules.write_text(
        example.read_text()
        .replace("  threshold: 3\n", "  treshold: 3\n", 1)
        .replace("timezone: Europe/London\n  # Slack", "timezone: Europe/Londn\n  # Slack", 1)
    )
    env = {
        **process_env(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deskbridge.db'}",
        "DESKBRIDGE_CONFIG": str(rules),
        "DESKBRIDGE_BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "1",
        "SLACK_BOT_TOKEN": "xoxb-1-2-fake",  # without SLACK_TEAM_ID: a settings mistake
    }

    result = subprocess.run(
        [str(DESKBRIDGE), "web"], env=env, capture_output=True, text=True, timeout=60
    )

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.count("SLACK_TEAM_ID: required when SLACK_BOT_TOKEN") == 1
    assert result.stderr.count(f"{rules}: 2 problems\n") == 1
    assert "  three_responses.treshold: unknown setting" in result.stderr
    assert "  team.timezone: unknown timezone" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Booting worker" not in result.stderr


def _web_refusal(
    tmp_path, url: str, options: tuple[str, ...] = (), **variables: str
) -> tuple[int | None, str]:
    """`deskbridge web OPTIONS` on `url` (and the environment's `variables`), started in
    `tmp_path`: its exit code and output, or None when it was still running (serving) after
    20 s, then stopped."""
    env = {
        **process_env("DESKBRIDGE_"),
        "DATABASE_URL": url,
        "DESKBRIDGE_BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "1",
        **variables,
    }
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        web = subprocess.Popen(
            [str(DESKBRIDGE), "web", *options], env=env, stdout=out, stderr=out, cwd=tmp_path
        )
    try:
        code = web.wait(timeout=20)
    except subprocess.TimeoutExpired:
        web.terminate()
        web.wait(timeout=40)
        code = None
    return code, log.read_text()


@pytest.mark.slow
def test_web_refuses_a_store_never_migrated_naming_the_command(tmp_path):
    """It served, answering every webhook 503 "event store unavailable" and /readyz "store
    down" with the database up, and logged only error=ProgrammingError."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    sqlite3.connect(tmp_path / "empty.db").close()  # a database, none of deskbridge's tables

    assert _web_refusal(tmp_path, url) == (
        1,
        f"Error: the store at {url} has no deskbridge tables: run `deskbridge migrate` first\n",
    )


@pytest.mark.slow
def test_web_refuses_a_store_an_older_version_left_naming_the_command(tmp_path):
    from deskbridge.store.db import create_store_engine, migrate_store, newer_revision

    url = f"sqlite:///{tmp_path / 'deskbridge.db'}"
    engine = create_store_engine(url)
    migrate_store(engine, "0013")
    engine.dispose()

    assert _web_refusal(tmp_path, url) == (
        1,
        f"Error: the store at {url} is at revision 0013, this deskbridge needs "
        f"{newer_revision('0013')}: run `deskbridge migrate` first\n",
    )


def test_the_web_store_check_reads_beside_a_writer_at_once(tmp_path):
    """`deskbridge web` beside a running worker on SQLite: the check that the store is migrated
    asked for the write lock, waited the 30 s busy timeout for the worker's batch, then took
    "database is locked" for a store not answering and let an unmigrated store through."""
    path = tmp_path / "empty.db"
    url = f"sqlite:///{path}"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")  # as every deskbridge process opens it
    writer.execute("CREATE TABLE other (id INTEGER)")  # a database, none of deskbridge's tables
    writer.execute("BEGIN IMMEDIATE")  # a worker's batch, writing
    started = time.monotonic()
    try:
        with pytest.raises(click.ClickException) as refused:
            _refuse_a_store_not_migrated(url)
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert refused.value.message == (
        f"the store at {url} has no deskbridge tables: run `deskbridge migrate` first"
    )
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("relative", [False, True])
def test_web_refuses_a_missing_sqlite_file_saying_to_migrate(relative, tmp_path, monkeypatch):
    """A store never made (serve makes it; web does not): "no such file" alone did not say that
    `deskbridge migrate` makes it, nor, for the default sqlite:///deskbridge.db, where it was
    looked for."""
    monkeypatch.chdir(tmp_path)
    url = "sqlite:///deskbridge.db" if relative else f"sqlite:///{tmp_path / 'deskbridge.db'}"
    where = f" {tmp_path / 'deskbridge.db'} (a relative path is read from the current folder)"

    with pytest.raises(click.ClickException) as refused:
        _refuse_a_store_not_migrated(url)

    assert refused.value.message == (
        f"cannot open the store at {url}: no such file{where if relative else ''}: run "
        "`deskbridge migrate` first, which creates it"
    )
    assert list(tmp_path.iterdir()) == []


def _migrated_store(path: Path) -> str:
    from deskbridge.store.db import create_store_engine, migrate_store

    url = f"sqlite:///{path}"
    engine = create_store_engine(url)
    migrate_store(engine)
    engine.dispose()
    return url


@pytest.mark.slow
def test_web_checks_the_store_its_env_option_names(tmp_path):
    """gunicorn's -e sets the workers' environment: the check read the shell's DATABASE_URL
    (a migrated store) and let through the one the workers used, never migrated."""
    url = _migrated_store(tmp_path / "deskbridge.db")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()

    refusal = _web_refusal(tmp_path, url, ("-e", f"DATABASE_URL=sqlite:///{empty}"))

    assert refusal == (
        1,
        f"Error: the store at sqlite:///{empty} has no deskbridge tables: run `deskbridge "
        "migrate` first\n",
    )


@pytest.mark.slow
def test_web_serves_the_store_its_env_option_names(tmp_path):
    """The other way round: the shell's store never migrated, the workers' (-e) migrated. It
    was refused for a store it would not use; it now starts (still running after 20 s)."""
    url = _migrated_store(tmp_path / "deskbridge.db")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()

    code, output = _web_refusal(tmp_path, f"sqlite:///{empty}", ("-e", f"DATABASE_URL={url}"))

    assert code is None, output
    assert "Booting worker" in output and "Traceback" not in output, output


@pytest.mark.slow
def test_web_reads_the_rules_file_from_its_chdir_option(tmp_path):
    """DESKBRIDGE_CONFIG relative, --chdir to the site's folder: the check read the file of
    that name in the shell's folder (here a valid one), and the workers the site's, with a
    mistake, each stopping on it with a traceback."""
    url = _migrated_store(tmp_path / "deskbridge.db")
    example = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
    (tmp_path / "rules.yaml").write_text(example.read_text())
    site = tmp_path / "site"
    site.mkdir()
    (site / "rules.yaml").write_text(
        example.read_text().replace("  threshold: 3\n", "  treshold: 3\n", 1)
    )

    refusal = _web_refusal(tmp_path, url, ("--chdir", str(site)), DESKBRIDGE_CONFIG="rules.yaml")

    assert refusal == (
        1,
        "rules.yaml: 1 problem\n"
        "  three_responses.treshold: unknown setting (did you mean threshold?)\n",
    )


def test_web_refuses_an_env_option_without_a_value_in_one_line(tmp_path):
    result = CliRunner().invoke(main, ["web", "-e", "DATABASE_URL"])

    assert (result.exit_code, result.output) == (
        1,
        "Error: environment setting 'DATABASE_URL' invalid: -e takes NAME=value\n",
    )


def _web_workers(tmp_path, monkeypatch, url: str, *options: str, **variables: str):
    """`deskbridge web OPTIONS` on `url` (a SQLite store migrated first) up to gunicorn's
    start, which is not made: the workers it would run, and its output."""
    from gunicorn.app.wsgiapp import WSGIApplication

    started: list[int] = []
    monkeypatch.setattr(WSGIApplication, "run", lambda self: started.append(self.cfg.workers))
    for name in ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "DESKBRIDGE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    env = {"DATABASE_URL": url, **variables}
    if url.startswith("sqlite"):
        assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0
    result = CliRunner().invoke(main, ["web", *options], env=env)
    assert result.exit_code == 0, result.output
    return started, [line.split(" ", 2)[2] for line in result.stderr.splitlines()]


SQLITE_WORKERS = (
    'hint="SQLite has one writer: the workers queue for it (a webhook may wait its commit '
    'out); run one (WEB_CONCURRENCY=1) or use PostgreSQL (docs/deploy.md)"'
)


def test_web_on_sqlite_runs_one_worker_unless_told_otherwise(tmp_path, monkeypatch):
    """`deskbridge web` on SQLite started 2 x cores + 1 workers without a word, all queueing
    for its one writer: it runs one, and says why; a number given is run, with a warning."""
    url = f"sqlite:///{tmp_path / 'deskbridge.db'}"

    assert _web_workers(tmp_path, monkeypatch, url) == (
        [1],
        [
            'INFO deskbridge web.sqlite_one_worker hint="one worker on SQLite, which has one '
            'writer; for more, use PostgreSQL (docs/deploy.md)"'
        ],
    )
    assert _web_workers(tmp_path, monkeypatch, url, WEB_CONCURRENCY="3") == (
        [3],
        [f"WARNING deskbridge web.sqlite_workers workers=3 {SQLITE_WORKERS}"],
    )
    assert _web_workers(tmp_path, monkeypatch, url, "--workers", "2") == (
        [2],
        [f"WARNING deskbridge web.sqlite_workers workers=2 {SQLITE_WORKERS}"],
    )
    assert _web_workers(tmp_path, monkeypatch, url, GUNICORN_CMD_ARGS="-w 4") == (
        [4],
        [f"WARNING deskbridge web.sqlite_workers workers=4 {SQLITE_WORKERS}"],
    )


def test_web_on_postgresql_runs_the_default_workers_quietly(tmp_path, monkeypatch):
    # Not answering: the web would start and answer 503 until it does (docs/deploy.md §2).
    url = "postgresql+psycopg://nobody@127.0.0.1:1/deskbridge"

    assert _web_workers(tmp_path, monkeypatch, url) == ([DEFAULT_WORKERS], [])
    # The store gunicorn's -e option names is the one sized for, not the shell's.
    sqlite = f"sqlite:///{tmp_path / 'deskbridge.db'}"
    assert CliRunner().invoke(main, ["migrate"], env={"DATABASE_URL": sqlite}).exit_code == 0
    assert _web_workers(tmp_path, monkeypatch, sqlite, "-e", f"DATABASE_URL={url}") == (
        [DEFAULT_WORKERS],
        [],
    )


@pytest.mark.slow
def test_web_on_sqlite_boots_one_worker(tmp_path):
    env = {
        **process_env("WEB_CONCURRENCY", "GUNICORN_"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deskbridge.db'}",
        "DESKBRIDGE_BIND": f"127.0.0.1:{free_port()}",
    }
    server, status = start_web([str(DESKBRIDGE), "web"], env, tmp_path)
    server.terminate()
    server.wait(timeout=40)

    log = (tmp_path / "web.log").read_text()
    assert status == b"HTTP/1.1 200 OK"
    assert (log.count("Booting worker"), log.count(" web.sqlite_one_worker ")) == (1, 1)
