"""`deskbridge sign BODY`: curl header options that sign BODY as Zendesk would (with --slack,
as Slack would); without the secret, an error worded like the other commands' that says what
to set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.connectors.zendesk.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)


@pytest.fixture
def body(tmp_path: Path) -> Path:
    path = tmp_path / "body.json"
    path.write_bytes(b'{"type": "zen:event-type:ticket.created"}')
    return path


@pytest.mark.parametrize("secret", [None, ""])
def test_sign_without_a_secret_is_an_error_saying_what_to_export(
    body: Path, secret: str | None, monkeypatch
):
    monkeypatch.delenv("ZENDESK_WEBHOOK_SECRET", raising=False)
    env = {} if secret is None else {"ZENDESK_WEBHOOK_SECRET": secret}
    result = CliRunner().invoke(main, ["sign", str(body)], env=env)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: ZENDESK_WEBHOOK_SECRET is not set: export it with the secret the service "
        "checks webhooks with (export ZENDESK_WEBHOOK_SECRET=dev-secret for the README's "
        "`ZENDESK_WEBHOOK_SECRET=dev-secret make run`)\n"
    )


def test_sign_prints_headers_the_webhook_accepts(body: Path):
    before = datetime.now(UTC).replace(microsecond=0)
    result = CliRunner().invoke(main, ["sign", str(body)], env={"ZENDESK_WEBHOOK_SECRET": "s1,s2"})
    after = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    options = result.stdout.split()
    assert options[::2] == ["-H", "-H"]
    (name1, stamp), (name2, signature) = (part.split(":", 1) for part in options[1::2])
    assert (name1, name2) == (TIMESTAMP_HEADER, SIGNATURE_HEADER)
    signed_at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= signed_at <= after
    # Signed with the first secret (the one in use during a rotation): the webhook's own check
    # accepts it, with no tolerance for clock difference.
    verify_signature([b"s1"], signature, stamp, body.read_bytes(), signed_at, timedelta(0))


SLACK_ENV = {"SLACK_BOT_TOKEN": "xoxb-dev", "SLACK_TEAM_ID": "T0001ABCD"}


def test_sign_slack_without_its_secret_is_an_error_saying_what_to_export(body: Path, monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_TEAM_ID", raising=False)
    result = CliRunner().invoke(main, ["sign", "--slack", str(body)], env={})
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: SLACK_SIGNING_SECRET is not set: export it with the secret the service checks "
        "Slack's requests with (export SLACK_SIGNING_SECRET=dev-slack-secret for the README's "
        "`SLACK_SIGNING_SECRET=dev-slack-secret … make run`)\n"
    )


def test_sign_slack_prints_the_headers_slack_signs_with(body: Path):
    from deskbridge.bot.app import slack_signature_problem

    before = int(datetime.now(UTC).timestamp())
    env = {"SLACK_SIGNING_SECRET": "dev-slack-secret", **SLACK_ENV}
    result = CliRunner().invoke(main, ["sign", "--slack", str(body)], env=env)
    after = datetime.now(UTC).timestamp()
    assert result.exit_code == 0, result.output
    options = result.stdout.split()
    assert options[::2] == ["-H", "-H"]
    (name1, stamp), (name2, signature) = (part.split(":", 1) for part in options[1::2])
    assert (name1, name2) == ("X-Slack-Request-Timestamp", "X-Slack-Signature")
    assert before <= int(stamp) <= after
    # What /slack/events checks accepts it, with the body as it is, and nothing else.
    data = body.read_bytes()
    assert slack_signature_problem(b"dev-slack-secret", data, stamp, signature, after) is None
    assert slack_signature_problem(b"dev-slack-secret", data + b" ", stamp, signature, after)
    assert slack_signature_problem(b"another", data, stamp, signature, after)
