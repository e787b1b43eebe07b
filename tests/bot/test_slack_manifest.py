"""deploy/slack-app-manifest.yaml, the app README's "Connecting Slack" describes: the slash
commands the bot answers, every request at /slack/events, the scopes README lists, and
escaped mentions for `/deskbridge` (`oncall override @person` reads a user id)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import yaml

from deskbridge.app import create_app, create_runtime
from deskbridge.bot.blocks import build_help
from tests.bot.test_slack_flow import slack_headers, slack_settings
from tests.fakeslack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "deploy" / "slack-app-manifest.yaml").read_text())
URL = "https://deskbridge.example.com/slack/events"


def test_the_manifest_sends_every_request_to_slack_events():
    commands = MANIFEST["features"]["slash_commands"]
    settings = MANIFEST["settings"]
    assert [(c["command"], c["url"], c["should_escape"]) for c in commands] == [
        ("/deskbridge", URL, True),
        ("/escalate", URL, False),
    ]
    assert settings["event_subscriptions"] == {
        "request_url": URL,
        "bot_events": ["app_home_opened"],
    }
    assert settings["interactivity"] == {"is_enabled": True, "request_url": URL}
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True


def test_the_manifests_commands_are_the_ones_the_bot_answers(sqlite_engine, rules, monkeypatch):
    fake = FakeSlack().start()
    settings = slack_settings(fake, monkeypatch)
    client = create_app(runtime=create_runtime(settings, rules, engine=sqlite_engine)).test_client()
    answers = {}
    for command in MANIFEST["features"]["slash_commands"]:
        body = urlencode(
            {
                "command": command["command"],
                "text": "",
                "user_id": "U02SAMWL01",
                "team_id": "T0001ABCD",
                "trigger_id": "1.2.3",
            }
        ).encode()
        answer = client.post("/slack/events", data=body, headers=slack_headers(body)).json
        answers[command["command"]] = answer["text"]
    fake.stop()
    assert answers == {
        "/deskbridge": build_help()["text"],
        "/escalate": "*Escalate*\nUsage: `/escalate <ticket id> <why>`",
    }


def test_the_manifests_scopes_are_the_ones_readme_lists():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Connecting Slack", 1)[1].split("install it", 1)[0]
    listed = re.findall(r"`([a-z.]+:[a-z.]+|commands)`", section)
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == sorted(listed)


def test_the_deskbridge_commands_usage_hint_names_every_subcommand_of_its_help():
    """Slack shows the hint as the command is typed: it left out `oncall override`, which a
    lead looking for how to cover a shift would not find there."""
    hint = MANIFEST["features"]["slash_commands"][0]["usage_hint"]
    helped = re.findall(r"`/deskbridge ([a-z]+(?: [a-z]+)?)", build_help()["text"])

    assert helped == ["me", "team", "ticket", "ack", "oncall", "oncall override", "help"]
    assert [word for words in helped for word in words.split() if word not in hint] == []
