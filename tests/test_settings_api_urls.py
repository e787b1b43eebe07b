"""SLACK_API_URL and PAGERDUTY_API_URL are checked with the other settings: any text was
taken, and the mistake showed only as every Slack message or page dead-lettered."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import Settings


@pytest.mark.parametrize("name", ["SLACK_API_URL", "PAGERDUTY_API_URL"])
@pytest.mark.parametrize("value", ["nope", "slack.com/api/", "ftp://slack.com/api/", "https://"])
def test_check_config_refuses_an_api_url_that_is_no_http_url(name, value):
    result = CliRunner().invoke(main, ["check-config"], env={name: value})

    assert (result.exit_code, result.stderr) == (
        1,
        "environment: invalid settings\n"
        f"  {name}: expected an http:// or https:// URL with a host\n",
    )


def test_api_urls_are_read_and_an_empty_slack_url_is_unset(monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", " http://127.0.0.1:8765/api/\n")
    monkeypatch.setenv("PAGERDUTY_API_URL", "https://events.eu.pagerduty.com/v2/enqueue")
    settings = Settings()
    assert (settings.slack_api_url, settings.pagerduty_api_url) == (
        "http://127.0.0.1:8765/api/",
        "https://events.eu.pagerduty.com/v2/enqueue",
    )
    monkeypatch.setenv("SLACK_API_URL", "")
    assert Settings().slack_api_url is None
