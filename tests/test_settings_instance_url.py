"""SALESFORCE_INSTANCE_URL is checked with the other settings: a URL outside salesforce.com
passed check-config, then stopped serve and worker with a ValueError traceback when the
Salesforce writer was built (with the API credentials set)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import Settings
from deskbridge.connectors.salesforce.client import SalesforceWriter

EXPECTED = (
    "expected your org's login URL on salesforce.com: a My Domain "
    "(https://acme.my.salesforce.com) or a sandbox (https://test.salesforce.com)"
)
REFUSED = f"environment: invalid settings\n  SALESFORCE_INSTANCE_URL: {EXPECTED}\n"
CREDENTIALS = {
    "SALESFORCE_USERNAME": "bot@acme.test",
    "SALESFORCE_PASSWORD": "secret",
    "SALESFORCE_SECURITY_TOKEN": "T",
}


@pytest.mark.parametrize(
    ("value", "told"),
    [
        ("https://example.com", ""),
        ("https://salesforce.com", ""),
        # The host as Setup → My Domain shows it: told it only lacks https://, not that it
        # was not on salesforce.com, which it is.
        (
            "furnco.my.salesforce.com/",
            "; with https:// before it: https://furnco.my.salesforce.com",
        ),
        # The address a browser shows in Lightning: told the My Domain it stands for.
        (
            "https://furnco.lightning.force.com/lightning/page/home",
            "; furnco.lightning.force.com is where Lightning shows pages, not the login URL: "
            "https://furnco.my.salesforce.com",
        ),
        (
            "https://furnco--uat.sandbox.lightning.force.com",
            "; furnco--uat.sandbox.lightning.force.com is where Lightning shows pages, not the "
            "login URL: https://furnco--uat.sandbox.my.salesforce.com",
        ),
    ],
)
def test_check_config_refuses_an_instance_url_outside_salesforce_com(value, told):
    env = {**CREDENTIALS, "SALESFORCE_INSTANCE_URL": value}

    result = CliRunner().invoke(main, ["check-config"], env=env)

    assert (result.exit_code, result.stderr) == (
        1,
        f"environment: invalid settings\n  SALESFORCE_INSTANCE_URL: {EXPECTED}{told}\n",
    )


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
