"""A Flow callout's times: ISO 8601, or a Date/Time as a Flow formula's TEXT() writes it
("2026-12-05 21:57:00Z", GMT); a time as a user's locale shows it names no time zone and is
refused, saying which format is expected and, for the field, the formula that writes it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from deskbridge.app import create_app, create_runtime
from deskbridge.config.settings import Settings
from deskbridge.connectors.salesforce.parse import parse_salesforce
from tests.conftest import TEST_SECRET, Clock

ORG = "00D5j00000HqZtxEAF"
TOKEN = "flow-callout-token-for-tests"
NOW = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
EXPECTED = (
    "expected a time as 2026-12-05T21:57:00Z (ISO 8601, as Outbound Messages send it) or "
    "2026-12-05 21:57:00Z (as TEXT() writes a Date/Time in a Flow formula)"
)


def callout(created: str, modified: str) -> bytes:
    fields = {
        "Id": "5005j00000TqW8hAAF",
        "Subject": "Wrong sofa delivered",
        "Status": "New",
        "CreatedDate": created,
        "LastModifiedDate": modified,
    }
    notification = {"id": "flow-times-1", "type": "Case", "fields": fields}
    return json.dumps({"organizationId": ORG, "notifications": [notification]}).encode()


def post(engine, rules, monkeypatch, body: bytes):
    for name in ("SLACK_BOT_TOKEN", "SALESFORCE_USERNAME", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        ZENDESK_WEBHOOK_SECRET=TEST_SECRET, SALESFORCE_ORG_ID=ORG, SALESFORCE_WEBHOOK_TOKEN=TOKEN
    )
    runtime = create_runtime(settings, rules, clock=Clock(NOW), engine=engine)
    return (
        create_app(runtime=runtime)
        .test_client()
        .post(
            "/webhooks/salesforce",
            data=body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    )


def test_a_datetime_as_flow_text_writes_it_is_read_as_gmt(engine, rules, monkeypatch):
    body = callout("2026-12-05 21:50:00Z", "2026-12-05 21:57:00Z")

    response = post(engine, rules, monkeypatch, body)

    assert (response.status_code, response.json) == (200, {"events": 1, "status": "accepted"})
    (event,) = parse_salesforce(body, NOW)
    assert (event.occurred_at, event.ticket.created_at) == (
        datetime(2026, 12, 5, 21, 57, tzinfo=UTC),
        datetime(2026, 12, 5, 21, 50, tzinfo=UTC),
    )
    # The same instants as the ISO form: one case, one time, whichever the Flow sends.
    (iso,) = parse_salesforce(callout("2026-12-05T21:50:00Z", "2026-12-05T21:57:00.000Z"), NOW)
    assert iso == event


def test_a_time_as_a_users_locale_shows_it_is_refused_naming_the_format(engine, rules, monkeypatch):
    body = callout("2026-12-05T21:50:00Z", "12/5/2026 9:57 PM")

    response = post(engine, rules, monkeypatch, body)

    assert (response.status_code, response.json) == (
        400,
        {
            "error": EXPECTED + ", not as a user's locale shows it (12/5/2026 9:57 PM), which "
            "names no time zone; in the Flow, set it to a formula resource of type Text, "
            "TEXT({!$Record.LastModifiedDate})",
            "field": "notifications[0].fields.LastModifiedDate",
        },
    )


def test_a_time_that_is_no_time_says_the_format_expected(engine, rules, monkeypatch):
    response = post(engine, rules, monkeypatch, callout("soon", "2026-12-05T21:57:00Z"))

    assert (response.status_code, response.json) == (
        400,
        {
            # The formula that writes it, named for the field: the Flow's author fixes it there.
            "error": EXPECTED + "; in the Flow, set it to a formula resource of type Text, "
            "TEXT({!$Record.CreatedDate})",
            "field": "notifications[0].fields.CreatedDate",
        },
    )
