"""A store that cannot be opened — a DATABASE_URL that is no URL, a server that does not answer,
a SQLite file in a directory that does not exist — is one line naming it (password hidden) and
exit 1 for every command that opens it, not a SQLAlchemy traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nobody listens once the probe is closed


COMMANDS = [["migrate"], ["events", "--failed"], ["redecide"], ["purge", "--dry-run"]]


def _run(args: list[str], url: str):
    env = {"DATABASE_URL": url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}
    return CliRunner().invoke(main, args, env=env)


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_url_that_is_no_url(args):
    result = _run(args, "deskbridge.db")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "Error: DATABASE_URL is not a database URL (like sqlite:///deskbridge.db or "
        "postgresql+psycopg://user@host:5432/db)\n"
    )


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_sqlite_file_in_a_missing_directory(args, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'missing' / 'deskbridge.db'}"
    result = _run(args, url)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: cannot open the store at {url}: unable to open database file\n"


def test_a_server_that_does_not_answer_is_named_without_its_password():
    port = _closed_port()
    result = _run(["migrate"], f"postgresql+psycopg://deskbridge:s3cret@127.0.0.1:{port}/db")
    assert result.exit_code == 1, result.output
    assert "s3cret" not in result.output
    assert result.stderr.startswith(
        f"Error: cannot open the store at postgresql+psycopg://deskbridge:***@127.0.0.1:{port}/db: "
        f'connection failed: connection to server at "127.0.0.1", port {port} failed: '
    )
    assert result.stderr.count("\n") == 1
