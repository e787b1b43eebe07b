"""A Flow callout whose merge fields arrived as written ({!$Record.Id}, not filled in by
Salesforce: the README's body sent by hand, a misspelt name) is answered 400 saying so, at the
field, not only "expected a … Salesforce id"; the other notifications are still stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from deskbridge.connectors.errors import PartlyMalformed, PayloadError
from deskbridge.connectors.salesforce.parse import parse_salesforce
from tests.connectors.test_salesforce_flow_times import ORG, post

NOW = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
HINT = (
    "not filled in by Salesforce: check its name and that the Flow builds the callout's body "
    "where merge fields are filled in, such as a Text Template (README, Connecting Salesforce "
    "Service Cloud)"
)

# The README's body, as written there.
README_FIELDS = {
    "Id": "{!$Record.Id}",
    "CaseNumber": "{!$Record.CaseNumber}",
    "Subject": "{!$Record.Subject}",
    "Status": "{!$Record.Status}",
    "OwnerId": "{!$Record.OwnerId}",
    "CreatedDate": "{!$Record.CreatedDate}",
    "LastModifiedDate": "{!$Record.LastModifiedDate}",
}
FILLED = {
    "Id": "5005j00000TqW8hAAF",
    "Subject": "Wrong sofa delivered",
    "Status": "New",
    "CreatedDate": "2026-12-05T21:50:00Z",
    "LastModifiedDate": "2026-12-05T21:57:00Z",
}


def body(*notifications: dict, org: str = ORG) -> bytes:
    return json.dumps({"organizationId": org, "notifications": list(notifications)}).encode()


def case(fields: dict, id: str = "{!$Flow.InterviewGuid}-{!$Record.SystemModstamp}") -> dict:
    return {"id": id, "type": "Case", "fields": fields}


def test_the_readme_body_sent_as_written_names_the_merge_field(engine, rules, monkeypatch):
    response = post(engine, rules, monkeypatch, body(case(README_FIELDS)))

    assert (response.status_code, response.json) == (
        400,
        {
            "error": "holds the merge field {!$Record.Id}, " + HINT,
            "field": "notifications[0].fields.Id",
        },
    )


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("CreatedDate", "{!$Record.CreatedDate}", "{!$Record.CreatedDate}"),
        ("OwnerId", "{!$Record.Owner_Id}", "{!$Record.Owner_Id}"),
        # Not a name: the words are not repeated.
        ("OwnerId", "{!the case's owner}", "{!...}"),
    ],
)
def test_a_field_left_unfilled_is_named_and_the_other_cases_are_stored(field, value, shown):
    bad = case({**FILLED, "Id": "5005j00000TqW9aAAF", field: value}, id="flow-2")
    with pytest.raises(PartlyMalformed) as caught:
        parse_salesforce(body(case(FILLED, id="flow-1"), bad), NOW)

    assert [e.dedupe_key for e in caught.value.events] == ["salesforce:notification:flow-1"]
    assert (caught.value.error.message, caught.value.error.field) == (
        f"holds the merge field {shown}, " + HINT,
        f"notifications[1].fields.{field}",
    )


def test_an_unfilled_org_id_is_named(engine, rules, monkeypatch):
    response = post(engine, rules, monkeypatch, body(case(FILLED), org="{!$Organization.Id}"))

    assert (response.status_code, response.json) == (
        400,
        {"error": "holds the merge field {!$Organization.Id}, " + HINT, "field": "organizationId"},
    )


def test_a_bad_value_without_a_merge_field_keeps_its_error():
    with pytest.raises(PayloadError) as caught:
        parse_salesforce(body(case({**FILLED, "Id": "500-not-an-id"}, id="flow-1")), NOW)

    assert (caught.value.message, caught.value.field) == (
        "expected a 15- or 18-character Salesforce id",
        "notifications[0].fields.Id",
    )
