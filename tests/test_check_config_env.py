"""check-config lists the environment's mistakes and the rules file's in one run: a mistake in
the environment stopped it before the file was read, and with a PATH the environment, which
serve reads too, was not checked at all."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.rules import load_rules, summarize_rules
from deskbridge.config.settings import EXAMPLE_CONFIG

LOG_LEVEL = (
    "  DESKBRIDGE_LOG_LEVEL: expected a level name logging knows: "
    "NOTSET, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, FATAL\n"
)


def test_the_environment_and_the_rules_file_of_deskbridge_config(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text("team:\n  lead_channel: '#leads'\nthree_respones: {}\n")
    env = {"DESKBRIDGE_LOG_LEVEL": "LOUD", "DESKBRIDGE_CONFIG": str(path)}

    result = CliRunner().invoke(main, ["check-config"], env=env)

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "environment: invalid settings\n"
        + LOG_LEVEL
        + f"{path}: 1 problem\n"
        + "  three_respones: unknown setting (check the spelling)\n",
    )


def test_a_rules_file_given_with_a_mistake_in_the_environment(tmp_path: Path):
    env = {"DATABASE_URL": "sqlte:///deskbridge.db"}

    result = CliRunner().invoke(main, ["check-config", str(EXAMPLE_CONFIG)], env=env)

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        f"{EXAMPLE_CONFIG}: ok — {summarize_rules(load_rules(EXAMPLE_CONFIG))}\n",
        "environment: invalid settings\n"
        "  DATABASE_URL: names a database deskbridge cannot use (sqlte): it stores in SQLite "
        "or PostgreSQL (like sqlite:///deskbridge.db or postgresql+psycopg://user@host:5432/db)\n",
    )
