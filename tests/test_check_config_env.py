"""check-config lists the environment's mistakes and the rules file's in one run: a mistake in
the environment stopped it before the file was read, and with a PATH the environment, which
serve reads too, was not checked at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG
from tests.conftest import ENVIRONMENT_NOT_READ, check_config_ok

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
        + "  three_respones: unknown setting (did you mean three_responses?)\n"
        # The file's warnings with its problem, as for a file without one.
        + "warning: routing: enabled, no categories: no ticket is routed by its words\n"
        + "warning: sla: enabled, no policies: no SLA clock will run\n",
    )


def test_a_rules_file_given_with_a_mistake_in_the_environment(tmp_path: Path):
    env = {"DATABASE_URL": "sqlte:///deskbridge.db"}

    result = CliRunner().invoke(main, ["check-config", str(EXAMPLE_CONFIG)], env=env)

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        check_config_ok(environment=ENVIRONMENT_NOT_READ),
        "environment: invalid settings\n"
        "  DATABASE_URL: names a database deskbridge cannot use (sqlte): it stores in SQLite "
        "or PostgreSQL (like sqlite:///deskbridge.db or postgresql+psycopg://user@host:5432/db)\n",
    )


def test_checking_a_sqlite_url_does_not_import_sqlalchemy():
    # replay on its memory store never opens a database: SQLAlchemy's import (0.1 s) was
    # paid by every replay once DATABASE_URL was checked with the settings.
    code = (
        "import sys\n"
        "from deskbridge.config.settings import Settings, find_store_url_problem\n"
        "Settings()\n"
        "print('sqlalchemy' in sys.modules,"
        " find_store_url_problem('sqlite+pysqlite:////var/lib/deskbridge.db'))\n"
    )
    env = {**os.environ, "DATABASE_URL": "sqlite:///deskbridge.db"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout == "False None\n"


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "18089"]])
def test_worker_and_serve_say_both_before_they_stop(command, tmp_path: Path):
    """worker and serve read the environment first and stopped at its mistakes, so under
    systemd (Restart=always) the operator fixed those, restarted, and only then met the rules
    file's. They now list both, as check-config does, and start nothing (review 4)."""
    path = tmp_path / "rules.yaml"
    path.write_text("team:\n  lead_channel: 42\n")
    env = {
        "DESKBRIDGE_LOG_LEVEL": "LOUD",
        "DESKBRIDGE_CONFIG": str(path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deskbridge.db'}",
    }

    result = CliRunner().invoke(main, command, env=env)

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "environment: invalid settings\n"
        + LOG_LEVEL
        + f"{path}: 1 problem\n"
        + "  team.lead_channel: expected text, got a number: write it in quotes\n",
    )
    assert not (tmp_path / "deskbridge.db").exists()


def test_serves_connection_limit_and_channel_timeout_are_checked_with_the_settings():
    # They were read by serve's options alone: check-config said ok, and serve then stopped
    # naming --connection-limit, an option nobody had given.
    env = {"DESKBRIDGE_CONNECTION_LIMIT": "0", "DESKBRIDGE_CHANNEL_TIMEOUT": "30s"}

    result = CliRunner().invoke(main, ["check-config", str(EXAMPLE_CONFIG)], env=env)

    assert (result.exit_code, result.stderr) == (
        1,
        "environment: invalid settings\n"
        "  DESKBRIDGE_CONNECTION_LIMIT: Input should be greater than or equal to 1, got 0\n"
        "  DESKBRIDGE_CHANNEL_TIMEOUT: expected a whole number of seconds, without a unit "
        '("5m" is 300)\n',
    )


# Every system's write credentials unset (whatever the shell running the tests has set).
NO_CREDENTIALS = {
    name: ""
    for name in (
        "ZENDESK_SUBDOMAIN",
        "ZENDESK_EMAIL",
        "ZENDESK_API_TOKEN",
        "SALESFORCE_USERNAME",
        "SALESFORCE_PASSWORD",
        "SALESFORCE_SECURITY_TOKEN",
        "SLACK_BOT_TOKEN",
        "PAGERDUTY_ROUTING_KEY",
    )
}


@pytest.mark.parametrize(
    ("given", "warning"),
    [
        # ZENDESK_SUBDOMAIN and ZENDESK_EMAIL filled in, the token forgotten: check-config said
        # ok, and the service ran Zendesk in dry-run, saying so only in its start-up log.
        (
            {"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@acme.example"},
            "zendesk: ZENDESK_API_TOKEN is not set, ZENDESK_SUBDOMAIN and ZENDESK_EMAIL are "
            "(sending needs all 3): actions are recorded and logged, not sent",
        ),
        # Slack's token and workspace set, the signing secret forgotten: check-config said ok,
        # serve said nothing, alerts went out with their buttons, and every click and command
        # was answered 503.
        (
            {"SLACK_BOT_TOKEN": "xoxb-1234-bot", "SLACK_TEAM_ID": "T0123ABCD"},
            "slack: SLACK_SIGNING_SECRET is not set, SLACK_BOT_TOKEN is: alerts are posted with "
            "their buttons, but every button, /deskbridge and /escalate is answered 503 (the "
            "Signing Secret is on the Slack app's Basic Information page)",
        ),
    ],
    ids=["zendesk without its token", "slack without its signing secret"],
)
def test_a_system_given_only_some_of_its_settings_is_a_warning(given, warning):
    env = {
        **NO_CREDENTIALS,
        "SLACK_SIGNING_SECRET": "",
        "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG),
        **given,
    }

    result = CliRunner().invoke(main, ["check-config"], env=env)

    # Zendesk's variables name it: said beside the rules file (`serve` judges the same way).
    named = " and the environment" if "ZENDESK_SUBDOMAIN" in given else ""
    ok = check_config_ok().replace(
        "(named by the rules file)",
        f"(zendesk named by the rules file{named}; salesforce named by the rules file)",
    )
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        ok if named else check_config_ok(),
        f"warning: {warning}\n",
    )


def test_a_helpdesk_given_only_some_of_its_credentials_is_warned_of_beside_rules_mistakes(
    tmp_path: Path,
):
    # A rules file with a mistake stopped check-config before the environment's warnings.
    path = tmp_path / "rules.yaml"
    path.write_text(
        "team:\n  lead_channel: '#leads'\nthree_respones: {}\n"
        "routing: {enabled: false}\nsla: {enabled: false}\n"
    )
    env = {**NO_CREDENTIALS, "DESKBRIDGE_CONFIG": str(path), "SALESFORCE_USERNAME": "bot@acme"}

    result = CliRunner().invoke(main, ["check-config"], env=env)

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"{path}: 1 problem\n"
        "  three_respones: unknown setting (did you mean three_responses?)\n"
        "warning: salesforce: SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN are not set, "
        "SALESFORCE_USERNAME is (sending needs all 3): actions are recorded and logged, not "
        "sent\n",
    )
