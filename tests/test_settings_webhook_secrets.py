"""ZENDESK_WEBHOOK_SECRET, a comma-separated list (a rotation's old and new secret), is split
once per value: every webhook reads it."""

from __future__ import annotations

import gc

from deskbridge.config.settings import Settings


def test_the_secret_list_is_split_once_per_value(monkeypatch):
    monkeypatch.setenv("ZENDESK_WEBHOOK_SECRET", " old-secret , new-secret,")

    first, second = Settings().zendesk_secrets, Settings().zendesk_secrets

    assert first == (b"old-secret", b"new-secret")
    assert first is second  # the same split, not one per webhook


def test_validating_the_slack_settings_keeps_nothing_of_them(monkeypatch):
    # The Slack checks look at settings validated before them; nothing of a validation (its
    # values, the token among them) outlives the Settings built.
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-kept-nowhere")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing")
    monkeypatch.setenv("SLACK_TEAM_ID", "T0123ABCD")
    Settings()
    gc.collect()

    kept = [
        o
        for o in gc.get_objects()
        if type(o).__name__ == "ValidationInfo" and _holds(o.data, "xoxb-1-kept-nowhere")
    ]
    assert kept == []


def _holds(data: dict, token: str) -> bool:
    value = data.get("slack_bot_token")
    return value is not None and value.get_secret_value() == token
