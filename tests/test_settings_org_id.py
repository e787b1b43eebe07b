"""SALESFORCE_ORG_ID is checked with the other settings: any value that is no org id refused
every outbound message with 403, which only the log's webhook.forbidden lines told."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import Settings

REFUSED = (
    "environment: invalid settings\n"
    "  SALESFORCE_ORG_ID: expected the org's id (Setup → Company Information): 15 or 18 "
    "letters and digits starting 00D, like 00D5j00000HqZtx\n"
)


@pytest.mark.parametrize(
    "value",
    ["123", "005xx000001Sv6eAAC", "00D5j00000HqZt", "00D5j00000HqZtxEA", "00D5j00000HqZ-x"],
)
def test_check_config_refuses_a_value_that_is_no_org_id(value):
    result = CliRunner().invoke(main, ["check-config"], env={"SALESFORCE_ORG_ID": value})

    assert (result.exit_code, result.stderr) == (1, REFUSED)


@pytest.mark.parametrize(
    ("value", "read"),
    [
        ("00D5j00000HqZtx", "00D5j00000HqZtx"),
        ("00D5j00000HqZtxEAF", "00D5j00000HqZtxEAF"),
        (" 00D5j00000HqZtxEAF\n", "00D5j00000HqZtxEAF"),
        ("", None),
    ],
)
def test_an_org_id_of_15_or_18_characters_is_read_and_empty_is_unset(monkeypatch, value, read):
    monkeypatch.setenv("SALESFORCE_ORG_ID", value)

    assert Settings().salesforce_org_id == read
