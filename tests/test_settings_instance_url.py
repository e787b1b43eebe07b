"""SALESFORCE_INSTANCE_URL is checked with the other settings: a URL outside salesforce.com
passed check-config, then stopped serve and worker with a ValueError traceback when the
Salesforce writer was built (with the API credentials set)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import Settings
from deskbridge.connectors.salesforce.client import SalesforceWriter

REFUSED = (
    "environment: invalid settings\n"
    "  SALESFORCE_INSTANCE_URL: expected your org's login URL on salesforce.com: a My Domain "
    "(https://acme.my.salesforce.com) or a sandbox (https://test.salesforce.com)\n"
)
CREDENTIALS = {
    "SALESFORCE_USERNAME": "bot@acme.test",
    "SALESFORCE_PASSWORD": "secret",
    "SALESFORCE_SECURITY_TOKEN": "T",
}


@pytest.mark.parametrize(
    "value", ["https://example.com", "https://salesforce.com", "acme.my.salesforce.com"]
)
def test_check_config_refuses_an_instance_url_outside_salesforce_com(value):
    env = {**CREDENTIALS, "SALESFORCE_INSTANCE_URL": value}

    result = CliRunner().invoke(main, ["check-config"], env=env)

    assert (result.exit_code, result.stderr) == (1, REFUSED)


def test_serve_stops_with_the_settings_error_not_a_traceback():
    env = {**CREDENTIALS, "SALESFORCE_INSTANCE_URL": "https://example.com"}

    result = CliRunner().invoke(main, ["serve", "--port", "1"], env=env)

    assert (result.exit_code, result.stderr, type(result.exception)) == (1, REFUSED, SystemExit)


@pytest.mark.parametrize(
    ("value", "read", "domain"),
    [
        ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com", "acme.my"),
        (" https://test.salesforce.com\n", "https://test.salesforce.com", "test"),
        ("", None, "login"),
    ],
)
def test_a_salesforce_com_instance_url_is_read_and_empty_is_unset(monkeypatch, value, read, domain):
    for name, credential in CREDENTIALS.items():
        monkeypatch.setenv(name, credential)
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL", value)

    settings = Settings()
    writer = SalesforceWriter("u", "p", "t", instance_url=settings.salesforce_instance_url)

    assert (settings.salesforce_instance_url, writer.domain) == (read, domain)
