"""serve and worker say why each system is in dry-run: a partial set of credentials (a
mistyped variable name) names what is missing instead of claiming none is set."""

from __future__ import annotations

import pytest

from deskbridge.cli import describe_dry_run
from deskbridge.config.settings import WRITE_CREDENTIALS, Settings

EFFECT = "actions are recorded and logged, not sent"


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch):
    for names in WRITE_CREDENTIALS.values():
        for name in names:
            monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("env", "system", "hint"),
    [
        (
            {},
            "zendesk",
            f"ZENDESK_SUBDOMAIN, ZENDESK_EMAIL and ZENDESK_API_TOKEN are not set: {EFFECT}",
        ),
        ({}, "pager", f"PAGERDUTY_ROUTING_KEY is not set: {EFFECT}"),
        ({}, "slack", f"SLACK_BOT_TOKEN is not set: {EFFECT}"),
        (
            {"ZENDESK_SUBDOMAIN": ""},
            "zendesk",
            f"ZENDESK_SUBDOMAIN, ZENDESK_EMAIL and ZENDESK_API_TOKEN are not set: {EFFECT}",
        ),
        (
            {"ZENDESK_SUBDOMAIN": "acme"},
            "zendesk",
            "ZENDESK_EMAIL and ZENDESK_API_TOKEN are not set, ZENDESK_SUBDOMAIN is "
            f"(sending needs all 3): {EFFECT}",
        ),
        (
            {"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com"},
            "zendesk",
            "ZENDESK_API_TOKEN is not set, ZENDESK_SUBDOMAIN and ZENDESK_EMAIL are "
            f"(sending needs all 3): {EFFECT}",
        ),
        (
            {"SALESFORCE_PASSWORD": "pw", "SALESFORCE_SECURITY_TOKEN": ""},
            "salesforce",
            "SALESFORCE_USERNAME and SALESFORCE_SECURITY_TOKEN are not set, SALESFORCE_PASSWORD "
            f"is (sending needs all 3): {EFFECT}",
        ),
    ],
)
def test_the_dry_run_hint_names_the_missing_credentials(monkeypatch, env, system, hint):
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert describe_dry_run(Settings(), system) == hint


def test_unset_credentials_are_listed_in_order(monkeypatch):
    monkeypatch.setenv("ZENDESK_EMAIL", "bot@example.com")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_TEAM_ID", "T0123ABCD")
    settings = Settings()

    assert [settings.find_unset_credentials(s) for s in ("zendesk", "slack", "pager")] == [
        ("ZENDESK_SUBDOMAIN", "ZENDESK_API_TOKEN"),
        (),
        ("PAGERDUTY_ROUTING_KEY",),
    ]
