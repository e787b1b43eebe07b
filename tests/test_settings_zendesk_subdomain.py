"""ZENDESK_SUBDOMAIN is checked with the other settings: a whole host or URL was taken as
given, so every API call and ticket link went to https://acme.zendesk.com.zendesk.com, and
the mistake showed only as failed write-backs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import Settings

REFUSED = (
    "environment: invalid settings\n"
    "  ZENDESK_SUBDOMAIN: expected the subdomain alone: acme for https://acme.zendesk.com\n"
)


@pytest.mark.parametrize(
    "value", ["https://acme.zendesk.com", "acme.zendesk.com", "acme/", "-acme", "ac me"]
)
def test_check_config_refuses_a_host_or_url_as_the_subdomain(value):
    env = {"ZENDESK_SUBDOMAIN": value, "ZENDESK_EMAIL": "bot@acme.test", "ZENDESK_API_TOKEN": "x"}

    result = CliRunner().invoke(main, ["check-config"], env=env)

    assert (result.exit_code, result.stderr) == (1, REFUSED)


@pytest.mark.parametrize(
    ("value", "read"),
    [("acme", "acme"), (" acme-eu2\n", "acme-eu2"), ("d3v-acme", "d3v-acme"), ("", None)],
)
def test_a_subdomain_is_read_and_empty_is_unset(monkeypatch, value, read):
    monkeypatch.setenv("ZENDESK_SUBDOMAIN", value)

    assert Settings().zendesk_subdomain == read
