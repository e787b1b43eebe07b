"""A store that cannot be opened — a DATABASE_URL that is no URL or names a database deskbridge
has no driver for, a server that does not answer, a SQLite file in a directory that does not
exist — is one line naming it (password hidden) and exit 1 for every command that opens it, not
a SQLAlchemy traceback. A DATABASE_URL deskbridge cannot use is a settings error, listed with
the environment's other mistakes by every command that reads the settings (check-config too)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG
from tests.conftest import ENVIRONMENT_NOT_READ, check_config_ok


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nobody listens once the probe is closed


COMMANDS = [
    ["migrate"],
    ["events", "--failed"],
    ["timers", "--failed"],
    ["redecide"],
    ["purge", "--dry-run"],
]


def _run(args: list[str], url: str):
    env = {"DATABASE_URL": url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}
    return CliRunner().invoke(main, args, env=env)


NOT_A_URL = (
    "environment: invalid settings\n"
    "  DATABASE_URL: expected a database URL like sqlite:///deskbridge.db or "
    "postgresql+psycopg://user@host:5432/db\n"
)


# check-config, serve and worker read the settings before anything else.
SETTINGS_READERS = [["check-config"], ["serve"], ["worker"]]


def _stdout(args: list[str]) -> str:
    """check-config reads the rules file too, whatever the environment's mistakes."""
    if args != ["check-config"]:
        return ""
    return check_config_ok(environment=ENVIRONMENT_NOT_READ)


@pytest.mark.parametrize("args", [*COMMANDS, ["digest"], *SETTINGS_READERS], ids=" ".join)
@pytest.mark.parametrize(
    "url",
    [
        "deskbridge.db",
        # SQLAlchemy's ValueError traceback: "invalid literal for int() with base 10: 'five'"
        "postgresql+psycopg://deskbridge:s3cret@127.0.0.1:five/db",
    ],
)
def test_a_url_that_is_no_url(args, url):
    result = _run(args, url)
    assert (result.exit_code, result.stdout, result.stderr) == (1, _stdout(args), NOT_A_URL)


@pytest.mark.parametrize("args", [*COMMANDS, ["digest"], *SETTINGS_READERS], ids=" ".join)
def test_a_database_deskbridge_has_no_driver_for(args):
    """Was a traceback: "No module named 'MySQLdb'"."""
    result = _run(args, "mysql://deskbridge@127.0.0.1/db")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        _stdout(args),
        "environment: invalid settings\n" + _no_driver("mysql"),
    )


# PostgreSQL named as other tools name it: the error says what to write instead (it said
# "a database deskbridge cannot use (postgres): it stores in SQLite or PostgreSQL").
WRITE_PSYCOPG = (
    "write postgresql+psycopg:// (psycopg 3, the driver deskbridge uses; postgresql:// is "
    "read as that) with the rest of the URL as it is\n"
)


@pytest.mark.parametrize("args", [*COMMANDS, ["digest"], *SETTINGS_READERS], ids=" ".join)
@pytest.mark.parametrize(
    ("url", "named"),
    [
        # Heroku's and other hosts' URL; was "Can't load plugin: sqlalchemy.dialects:postgres"
        (
            "postgres://deskbridge:s3cret@127.0.0.1:5432/db",
            "postgres://, PostgreSQL's short name, which SQLAlchemy does not read",
        ),
        # Another project's URL; was "No module named 'psycopg2'"
        (
            "postgresql+psycopg2://deskbridge:s3cret@127.0.0.1:5432/db",
            "postgresql+psycopg2://, the psycopg2 driver, which deskbridge does not install",
        ),
        (
            "postgresql+asyncpg://deskbridge@127.0.0.1/db",
            "postgresql+asyncpg://, the asyncpg driver, which deskbridge does not install",
        ),
    ],
)
def test_postgresql_named_another_way_says_what_to_write(args, url, named):
    result = _run(args, url)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        _stdout(args),
        f"environment: invalid settings\n  DATABASE_URL: names {named}: {WRITE_PSYCOPG}",
    )


def test_sqlite_with_another_driver_says_what_to_write():
    result = _run(["check-config"], "sqlite+aiosqlite:///deskbridge.db")
    assert (result.exit_code, result.stderr) == (
        1,
        "environment: invalid settings\n  DATABASE_URL: names the aiosqlite driver, which "
        "deskbridge does not use: write sqlite:/// and the file's path (Python's own sqlite3)\n",
    )


def _no_driver(driver: str) -> str:
    return (
        f"  DATABASE_URL: names a database deskbridge cannot use ({driver}): it stores in "
        "SQLite or PostgreSQL (like sqlite:///deskbridge.db or "
        "postgresql+psycopg://user@host:5432/db)\n"
    )


def test_check_config_says_the_url_is_of_no_database_deskbridge_knows():
    """check-config said "ok" of a typo'd scheme, which serve then refused at start-up."""
    result = _run(["check-config"], "sqlte:///deskbridge.db")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        _stdout(["check-config"]),
        "environment: invalid settings\n" + _no_driver("sqlte"),
    )


def test_serve_lists_the_url_with_the_other_settings_mistakes():
    """serve listed DESKBRIDGE_LOG_LEVEL's mistake, then, once it was fixed, DATABASE_URL's."""
    env = {"DATABASE_URL": "mysql://deskbridge@127.0.0.1/db", "DESKBRIDGE_LOG_LEVEL": "LOUD"}
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "environment: invalid settings\n"
        + _no_driver("mysql")
        + "  DESKBRIDGE_LOG_LEVEL: expected a level name logging knows: "
        "NOTSET, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, FATAL\n",
    )


def test_a_settings_error_does_not_repeat_the_url_and_its_password():
    """gunicorn's `create_app()` prints pydantic's error as it is: it quoted every value it
    refused (input_value='postgresql://deskbridge:s3cret@…')."""
    from pydantic import ValidationError

    from deskbridge.config.settings import Settings

    with pytest.raises(ValidationError) as refused:
        Settings(DATABASE_URL="postgres://deskbridge:s3cret@127.0.0.1:5432/db")
    assert "s3cret" not in str(refused.value)
    assert "DATABASE_URL" in str(refused.value)


def test_migrate_a_sqlite_file_in_a_missing_directory(tmp_path: Path):
    """migrate makes a store (serve and worker too), but not the directory it goes in."""
    url = f"sqlite:///{tmp_path / 'missing' / 'deskbridge.db'}"
    result = _run(["migrate"], url)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: cannot open the store at {url}: unable to open database file\n"


@pytest.mark.parametrize("args", [["migrate"], ["digest"]], ids=" ".join)
def test_a_server_that_does_not_answer_is_named_without_its_password(args):
    port = _closed_port()
    result = _run(args, f"postgresql+psycopg://deskbridge:s3cret@127.0.0.1:{port}/db")
    assert result.exit_code == 1, result.output
    assert "s3cret" not in result.output
    assert result.stderr.startswith(
        f"Error: cannot open the store at postgresql+psycopg://deskbridge:***@127.0.0.1:{port}/db: "
        f'connection failed: connection to server at "127.0.0.1", port {port} failed: '
    )
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [*COMMANDS, ["digest"]], ids=" ".join)
def test_a_file_that_is_no_database(args, tmp_path: Path):
    path = tmp_path / "deskbridge.db"
    path.write_text("not a database\n")
    url = f"sqlite:///{path}"
    result = _run(args, url)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: cannot open the store at {url}: file is not a database\n"


# digest, events, timers and purge --dry-run only read: they neither migrate a store nor
# create a SQLite file.
READERS = [["digest"], ["events", "--failed"], ["timers", "--failed"], ["purge", "--dry-run"]]


# redecide and purge change a store (and migrate it) but make none: only migrate, serve and
# worker do. Where DATABASE_URL is mistyped, "0 events put back" or "deleted 0 rows" from an
# empty store just made passed for the service's.
@pytest.mark.parametrize("args", [*READERS, ["redecide"], ["purge"]], ids=" ".join)
@pytest.mark.parametrize("where", ["demo.db", "missing/demo.db"])
def test_a_sqlite_file_that_does_not_exist_is_refused_and_none_left_behind(
    args, where, tmp_path: Path
):
    # An empty demo.db left behind would make `replay --store demo.db` refuse to write it.
    url = f"sqlite:///{tmp_path / where}"
    result = _run(args, url)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: cannot open the store at {url}: no such file\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [*READERS, ["redecide"]], ids=" ".join)
def test_a_relative_sqlite_path_that_does_not_exist_is_named_where_it_was_looked_for(
    args, tmp_path: Path, monkeypatch
):
    """The default sqlite:///deskbridge.db read from another folder than the service's was "no
    such file", which named neither the folder nor what to do."""
    monkeypatch.chdir(tmp_path)
    result = _run(args, "sqlite:///deskbridge.db")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: cannot open the store at sqlite:///deskbridge.db: no such file "
        f"{tmp_path / 'deskbridge.db'} (a relative path is read from the current folder: run "
        "this where the service runs, or set DATABASE_URL)\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_read_of_a_store_never_migrated(args, tmp_path: Path):
    path = tmp_path / "deskbridge.db"
    path.touch()
    url = f"sqlite:///{path}"
    result = _run(args, url)
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: the store at {url} has no deskbridge tables: run `deskbridge migrate` first\n"
    )


def test_digest_of_a_migrated_store_with_nothing_in_it(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'deskbridge.db'}"
    assert _run(["migrate"], url).exit_code == 0
    result = CliRunner().invoke(
        main,
        ["digest", "--date", "2026-03-02", "--format", "json"],
        env={"DATABASE_URL": url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)},
    )
    assert result.exit_code == 0, result.output
    agents = json.loads(result.stdout)["agents"]
    assert [(a["name"], a["responses"], a["target"]) for a in agents] == [
        ("Lena Fischer", 0, 32),
        ("Priya Raman", 0, 32),
        ("Tom Okafor", 0, 28),
    ]


def test_digest_reads_a_sqlite_file_named_by_a_file_uri(tmp_path: Path):
    # SQLite's `file:` URI form (?uri=true, e.g. for mode=ro) names the file inside the URI:
    # the digest's "no such file" check must not take "file:/…" for a path and refuse it.
    path = tmp_path / "deskbridge.db"
    assert _run(["migrate"], f"sqlite:///{path}").exit_code == 0
    result = _run(
        ["digest", "--date", "2026-03-02", "--format", "json"],
        f"sqlite:///file:{path}?mode=ro&uri=true",
    )
    assert result.exit_code == 0, result.output
    assert [a["name"] for a in json.loads(result.stdout)["agents"]] == [
        "Lena Fischer",
        "Priya Raman",
        "Tom Okafor",
    ]


def test_digest_chart_in_a_folder_that_does_not_exist(tmp_path: Path):
    """Was a FileNotFoundError traceback after the review was printed, then the error after
    the whole review: now the error alone, before the store is read."""
    url = f"sqlite:///{tmp_path / 'deskbridge.db'}"
    assert _run(["migrate"], url).exit_code == 0
    chart = tmp_path / "missing" / "chart.png"
    result = _run(["digest", "--date", "2026-03-02", "--chart", str(chart)], url)
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: cannot write the chart to {chart}: No such file or directory\n"
    )
    assert result.stdout == ""


def test_replay_store_in_a_folder_that_does_not_exist(tmp_path):
    """`replay --store` names a file to create: where it cannot be (no such folder) it was
    sqlite3's traceback; it is the line the other commands print, nothing on stdout."""
    store = tmp_path / "no-such-folder" / "demo.db"
    events = Path(__file__).parents[1] / "examples" / "scenario.jsonl"

    result = _run(["replay", str(events), "--store", str(store)], "sqlite:///unused.db")

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: cannot open the store at sqlite:///{store}: unable to open database file\n",
    )
    assert not store.parent.exists()


def test_replay_store_that_exists_says_what_to_do(tmp_path):
    """It said "demo.db: already exists (replay writes a new store)", and not what to do. The
    file is left as it was."""
    store = tmp_path / "demo.db"
    store.write_bytes(b"kept")
    events = Path(__file__).parents[1] / "examples" / "scenario.jsonl"

    result = _run(["replay", str(events), "--store", str(store)], "sqlite:///unused.db")

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: {store} already exists, and replay writes a new store, never into one: "
        f"remove it (rm {store}) or give --store a new path\n",
    )
    assert store.read_bytes() == b"kept"


def _migrated_to(url: str, revision: str) -> None:
    """A store as an older deskbridge left it: its migrations up to `revision` only."""
    from deskbridge.store.db import create_store_engine, migrate_store

    engine = create_store_engine(url)
    migrate_store(engine, revision)
    engine.dispose()


def test_a_read_of_a_store_an_older_version_left_says_to_migrate(tmp_path: Path):
    # The package upgraded, serve not yet restarted (which migrates): `timers --failed` reads
    # timers.error, added by 0014. It said "no such column: timers.error", and not what to do.
    url = f"sqlite:///{tmp_path / 'deskbridge.db'}"
    _migrated_to(url, "0013")

    result = _run(["timers", "--failed"], url)

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: cannot read the store at {url}: no such column: timers.error (the store is at "
        "revision 0013, this deskbridge needs 0016: run `deskbridge migrate`, or restart serve "
        "or worker, which migrate when they start)\n",
    )
    assert _run(["migrate"], url).exit_code == 0
    migrated = _run(["timers", "--failed"], url)
    assert (migrated.exit_code, migrated.stdout, migrated.stderr) == (
        0,
        "",
        f"0 failed timers in {url}\n",
    )
