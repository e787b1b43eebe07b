"""The README's "Try Slack by hand": the example bodies in examples/, signed with `deskbridge
sign --slack`, are what /slack/events takes. A team had no documented way to try a slash
command or a button without a Slack workspace pointing at the service."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from deskbridge.app import create_app, create_runtime
from deskbridge.cli import main
from deskbridge.config.settings import Settings
from tests.bot.test_slack_flow import fake, interactions_said, post_zendesk  # noqa: F401
from tests.conftest import TEST_SECRET, Clock, fixture_bytes

ROOT = Path(__file__).resolve().parents[2]
# As the README runs `make run` and exports them in the shell that signs.
SLACK_ENV = {
    "SLACK_SIGNING_SECRET": "dev-slack-secret",
    "SLACK_BOT_TOKEN": "xoxb-dev",
    "SLACK_TEAM_ID": "T0001ABCD",
}
NOW = datetime(2026, 12, 7, 18, 35, tzinfo=UTC)  # a Monday evening, after hours


def signed(path: str) -> tuple[bytes, dict[str, str]]:
    """The body of the README's example `path` and the headers `deskbridge sign --slack`
    prints for it, as curl sends them."""
    result = CliRunner().invoke(main, ["sign", "--slack", str(ROOT / path)], env=SLACK_ENV)
    assert result.exit_code == 0, result.output
    options = result.stdout.split()
    assert options[::2] == ["-H", "-H"]
    headers = dict(option.split(":", 1) for option in options[1::2])
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return (ROOT / path).read_bytes(), headers


def test_the_readmes_slash_command_and_acknowledgement(fake, sqlite_engine, rules, monkeypatch):  # noqa: F811
    for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    settings = Settings(
        ZENDESK_WEBHOOK_SECRET=TEST_SECRET,
        SLACK_API_URL=fake.url,
        DESKBRIDGE_SLACK_MIN_INTERVAL="0",
        **SLACK_ENV,
    )
    runtime = create_runtime(settings, rules, clock=Clock(NOW), engine=sqlite_engine)
    client = create_app(runtime=runtime).test_client()
    # The README's Zendesk fixture first: ticket 48213, sent now.
    post_zendesk(client, fixture_bytes("ticket_created.json"), now=NOW)
    runtime.service.fire_due_timers(NOW)  # its 2025 deadlines, as serve's timer loop fires them

    body, headers = signed("examples/slack_slash_command__ticket.txt")
    answer = client.post("/slack/events", data=body, headers=headers)
    assert answer.status_code == 200
    assert answer.json["response_type"] == "ephemeral"
    assert answer.json["text"].split("\n") == [
        "*Ticket 48213*",
        "Invoice export returns 502",
        "Status new, priority high, department -, 0 public replies",
        # With their year: 2025's deadlines beside this year's decisions read as this year's.
        "• First reply due Tue 04 Mar 2025 09:45 (overdue)",
        "• Resolution due Wed 05 Mar 2025 09:15 (overdue)",
        "*Decisions:*",
        "• Mon 07 Dec 18:35 notify — unclassified: no field, tag or phrase names an order "
        "problem — pick a department",
        '• Mon 07 Dec 18:35 escalate, set_priority, assign, note — risk 3 ≥ 3: tagged "vip" '
        "(vip, 3)",
        # No page at 18:35: the ticket was written on a Tuesday at 09:15, in business hours.
        "• Mon 07 Dec 18:35 sla_breach — first reply target of 30m business-hours missed at "
        "Tue 04 Mar 09:45, 643 days ago",
        "• Mon 07 Dec 18:35 sla_breach — resolution target of 9h business-hours missed at "
        "Wed 05 Mar 09:15, 642 days ago",
    ]

    # What curl prints, as the README's comment shows it (… for what it leaves out): it
    # showed • and — where the JSON has \u2022 and \u2014.
    readme = (ROOT / "README.md").read_text()
    block = readme.split("BODY=examples/slack_slash_command__ticket.txt", 1)[1]
    shown = block.split("--data-binary @$BODY\n# ", 1)[1].split("\n", 1)[0]
    printed = answer.get_data(as_text=True)
    for part in shown.split("…"):
        assert part in printed, part
        printed = printed[printed.index(part) + len(part) :]

    body, headers = signed("examples/slack_block_actions__acknowledge.txt")
    answer = client.post("/slack/events", data=body, headers=headers)
    # Slack's acknowledgement: 200, empty; the click is the lead's, Sam Whitaker's.
    assert (answer.status_code, answer.get_data()) == (200, b"")
    assert [(kind, params.get("text")) for kind, params in interactions_said(runtime)] == [
        ("note", None),
        ("notify", "Acknowledged by Sam Whitaker"),
    ]
    # The same click again (Slack retries one it got no answer to): nothing new.
    body, headers = signed("examples/slack_block_actions__acknowledge.txt")
    assert client.post("/slack/events", data=body, headers=headers).status_code == 200
    assert len(interactions_said(runtime)) == 2
