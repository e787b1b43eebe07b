"""A Salesforce case's alerts link to the case, as a Zendesk ticket's link to the ticket: the
connector registry says how each helpdesk's ticket is linked (`build_ticket_url`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from deskbridge.app import create_app, create_runtime
from deskbridge.config.settings import Settings
from deskbridge.connectors.registry import build_ticket_links
from tests.bot.test_oncall_slack import buttons, dispatch
from tests.bot.test_slack_flow import fake, slack_settings  # noqa: F401 (fixture)
from tests.conftest import decide_all

ORG = "00D5j00000HqZtxEAF"
TOKEN = "flow-token-for-tests"
CASE = "5005j00000ZzZ1aAAF"
CASE_URL = f"https://acme.my.salesforce.com/lightning/r/Case/{CASE}/view"


def flow_case(case: str = CASE, number: str | None = None) -> bytes:
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    fields = {
        "Id": case,
        "Subject": "My tracking has not moved for a week",
        "Description": "The parcel tracking has not moved since Monday.",
        "Status": "New",
        "Priority": "Medium",
        "Origin": "Web",
        "OwnerId": "0055j00000F3x9QAAR",
        "CreatedDate": at,
        "LastModifiedDate": at,
    }
    if number is not None:
        fields["CaseNumber"] = number
    notification = {"id": f"flow-{case}", "type": "Case", "fields": fields}
    return json.dumps({"organizationId": ORG, "notifications": [notification]}).encode()


def send_case(fake, sqlite_engine, rules, monkeypatch, number: str | None = None, **extra: str):  # noqa: F811
    for name in ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = slack_settings(
        fake, monkeypatch, SALESFORCE_ORG_ID=ORG, SALESFORCE_WEBHOOK_TOKEN=TOKEN, **extra
    )
    runtime = create_runtime(settings, rules, engine=sqlite_engine)
    client = create_app(runtime=runtime).test_client()
    response = client.post(
        "/webhooks/salesforce",
        data=flow_case(number=number),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert response.json == {"events": 1, "status": "accepted"}
    decide_all(runtime)
    dispatch(runtime)
    [route] = [
        c for c in fake.ok_calls("chat.postMessage") if c.args["channel"] == "#dept-logistics"
    ]
    return route


@pytest.mark.parametrize(
    ("number", "name"),
    # Named as Salesforce shows the case when its notifications carry its CaseNumber (they
    # said `#5005j…` then too), by its record id when they do not.
    # An Auto Number's display format may hold any literal: escaped, it cannot end the link.
    [
        ("00001042", "Case 00001042"),
        (None, f"#{CASE}"),
        ("R&D-<42>", "Case R&amp;D-&lt;42&gt;"),
    ],
)
def test_a_salesforce_case_alert_links_to_the_case_on_the_instance(
    fake,  # noqa: F811
    sqlite_engine,
    rules,
    monkeypatch,
    number,
    name,
):
    route = send_case(
        fake,
        sqlite_engine,
        rules,
        monkeypatch,
        number,
        SALESFORCE_INSTANCE_URL="https://acme.my.salesforce.com",
    )
    assert route.args["blocks"][0]["text"]["text"] == (
        f":package: New ticket for Logistics\n*<{CASE_URL}|{name}>* "
        "My tracking has not moved for a week"
    )
    assert route.args["text"] == (
        f"New ticket for Logistics: <{CASE_URL}|{name}> My tracking has not moved for a week"
    )
    assert ("deskbridge.open", "Open ticket", CASE_URL) in buttons(route.args["blocks"])


def test_without_the_instance_url_a_salesforce_case_shows_its_id(
    fake,  # noqa: F811
    sqlite_engine,
    rules,
    monkeypatch,
):
    monkeypatch.delenv("SALESFORCE_INSTANCE_URL", raising=False)
    route = send_case(fake, sqlite_engine, rules, monkeypatch)
    assert route.args["blocks"][0]["text"]["text"] == (
        f":package: New ticket for Logistics\n*#{CASE}* My tracking has not moved for a week"
    )
    assert [b for b in buttons(route.args["blocks"]) if b[0] == "deskbridge.open"] == []


@pytest.mark.parametrize(
    ("instance_url", "expected"),
    [
        ("https://acme.my.salesforce.com", CASE_URL),
        ("https://acme.my.salesforce.com/", CASE_URL),
        (
            "https://acme--uat.sandbox.my.salesforce.com",
            f"https://acme--uat.sandbox.my.salesforce.com/lightning/r/Case/{CASE}/view",
        ),
        # The generic login hosts name no org: a link there would not open the case.
        ("https://login.salesforce.com", None),
        ("https://test.salesforce.com", None),
    ],
)
def test_the_registry_links_each_helpdesk_ticket(monkeypatch, instance_url, expected):
    monkeypatch.delenv("ZENDESK_SUBDOMAIN", raising=False)
    link = build_ticket_links(
        Settings(SALESFORCE_INSTANCE_URL=instance_url, ZENDESK_SUBDOMAIN="acme")
    )
    assert link(f"salesforce:{CASE}") == expected
    assert link("zendesk:48213") == "https://acme.zendesk.com/agent/tickets/48213"
    assert link("other:1") is None
