"""`deskbridge events` names the store it read: run without the service's DATABASE_URL it read
a new SQLite file it made in the current folder, and a bare "0 failed events" passed for the
service's (it now only reads: tests/test_cli_store_unavailable.py)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG


def test_events_says_which_store_it_read(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'deskbridge.db'}"
    env = {"DATABASE_URL": url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}
    assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0

    result = CliRunner().invoke(main, ["events", "--failed"], env=env)

    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "",
        f"0 failed events in {url}\n",
    )
