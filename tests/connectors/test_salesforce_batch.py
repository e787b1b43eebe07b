"""One Outbound Message carries up to 100 notifications, and Salesforce redelivers it whole
for 24 hours until it is acknowledged, then drops every one: a long email in one of them is cut,
not refused; one that cannot be read is refused (400, naming it) after the others are stored;
and one notification id twice in a body is one event, or refused when its data differ."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from deskbridge.connectors.parsing import CUT_MARK, MAX_TEXT
from deskbridge.store.events import count_events
from deskbridge.store.schema import events
from deskbridge.store.tickets import load_ticket
from tests.conftest import decide_all, fixture_bytes
from tests.connectors import test_salesforce_inbound as inbound
from tests.connectors.test_salesforce_inbound import ORG, SOAP, TOKEN
from tests.salesforce_corpus import EXPECTED_TIME

# The runtime (its clock at 2025-03-04 10:22) and client of the other Salesforce tests.
runtime = inbound.runtime
client = inbound.client
CASE_ID = "5005j00000TqW8hAAF"
CASE = {
    "Id": CASE_ID,
    "Subject": "Parcel late",
    "Description": "late sofa",
    "Status": "New",
    "Priority": "High",
    "Origin": "Email",
    "OwnerId": "0055j00000F3x9QAAR",
    "CreatedDate": "2025-03-04T09:00:00.000Z",
    "LastModifiedDate": "2025-03-04T09:00:00.000Z",
    "SystemModstamp": "2025-03-04T09:00:00.000Z",
}
EMAIL = {
    "Id": "02s5j00000AbCdEAAV",
    "ParentId": CASE_ID,
    "Incoming": "true",
    "TextBody": "hi",
    "MessageDate": "2025-03-04T10:05:00.000Z",
    "CreatedById": "0035j00000HiJ7kAAF",
}


def envelope(*notifications: tuple[str, str, dict[str, str]]) -> bytes:
    items = "".join(
        f'<Notification><Id>{nid}</Id><sObject xsi:type="sf:{sobject}" '
        'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        + "".join(f"<sf:{k}>{v}</sf:{k}>" for k, v in fields.items())
        + "</sObject></Notification>"
        for nid, sobject, fields in notifications
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{ORG}</OrganizationId>{items}</notifications></soapenv:Body>"
        "</soapenv:Envelope>"
    ).encode()


def callout(*notifications: tuple[str, str, dict[str, str]]) -> bytes:
    return json.dumps(
        {
            "organizationId": ORG,
            "notifications": [
                {"id": nid, "type": sobject, "fields": fields}
                for nid, sobject, fields in notifications
            ],
        }
    ).encode()


def post_callout(client, body: bytes):
    return client.post(
        "/webhooks/salesforce",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


def stored_events(runtime) -> dict[str, dict]:
    """The stored events (as the decider reads them back) by dedupe key."""
    with runtime.engine.connect() as connection:
        rows = connection.execute(select(events.c.dedupe_key, events.c.event)).all()
    return {key: json.loads(event) for key, event in rows}


def test_a_long_email_is_cut_to_the_limit_and_its_message_acknowledged(client, runtime, caplog):
    caplog.set_level(logging.INFO, logger="deskbridge")
    # 139,999 characters: an email quoting its thread (Salesforce's TextBody takes more).
    thread = ("quoted thread " * 10_000).strip()
    body = envelope(
        ("04l5j00001Mzd3KAAR", "EmailMessage", EMAIL),
        (
            "04l5j00001Mzd3LAAR",
            "EmailMessage",
            dict(EMAIL, Id="02s5j00000AbCdFAAV", TextBody=thread),
        ),
    )

    response = client.post("/webhooks/salesforce", data=body, headers=SOAP)

    assert (response.status_code, response.data) == (
        200,
        fixture_bytes("notifications_response__ack.xml"),
    )
    stored = stored_events(runtime)
    assert sorted(stored) == [
        "salesforce:notification:04l5j00001Mzd3KAAR",
        "salesforce:notification:04l5j00001Mzd3LAAR",
    ]
    assert stored["salesforce:notification:04l5j00001Mzd3KAAR"]["comment"]["body"] == "hi"
    cut = stored["salesforce:notification:04l5j00001Mzd3LAAR"]["comment"]["body"]
    assert len(cut) == MAX_TEXT == 65_536
    assert cut == thread[: MAX_TEXT - 1] + CUT_MARK and cut.endswith("…")
    # The cut is logged with the field and the lengths, never the text.
    logged = [(r.getMessage(), r.deskbridge_fields) for r in caplog.records]
    assert logged == [
        (
            "webhook.text_cut",
            {
                "field": "notifications.Notification[1].sObject.TextBody",
                "length": 139_999,
                "limit": 65_536,
            },
        )
    ]
    assert "quoted thread" not in caplog.text


def test_a_long_subject_and_description_are_cut_in_a_flow_callout(client, runtime):
    case = dict(CASE, Subject="s" * 20_000, Description="d" * 70_000)

    response = post_callout(client, callout(("flow-0001", "Case", case)))

    assert (response.status_code, response.json) == (200, {"events": 1, "status": "accepted"})
    ticket = stored_events(runtime)["salesforce:notification:flow-0001"]["ticket"]
    assert (ticket["subject"], ticket["description"]) == (
        "s" * 16_383 + "…",
        "d" * 65_535 + "…",
    )


def test_one_unreadable_notification_is_refused_after_the_others_are_stored(client, runtime):
    """Stored, the good notifications are duplicates when Salesforce redelivers the message
    (refused for the bad one until a fixed deskbridge reads it); Ack=true would lose the bad
    one unseen, and refusing the message whole would lose them all after 24 hours."""
    good = ("04l5j00001Mzd3KAAR", "Case", CASE)
    bad = ("04l5j00001Mzd3LAAR", "Case", dict(CASE, Id="5005j00000TqW9aAAF", SystemModstamp="soon"))
    also_good = ("04l5j00001Mzd3MAAR", "EmailMessage", EMAIL)
    body = envelope(good, bad, also_good)
    refusal = {
        "error": EXPECTED_TIME,
        "field": "notifications.Notification[1].sObject.SystemModstamp",
    }

    first = client.post("/webhooks/salesforce", data=body, headers=SOAP)
    again = client.post("/webhooks/salesforce", data=body, headers=SOAP)

    assert (first.status_code, first.json) == (400, refusal)
    assert (again.status_code, again.json) == (400, refusal)
    assert sorted(stored_events(runtime)) == [
        "salesforce:notification:04l5j00001Mzd3KAAR",
        "salesforce:notification:04l5j00001Mzd3MAAR",
    ]
    assert len(decide_all(runtime)) == 2
    with runtime.engine.connect() as connection:
        ticket = load_ticket(connection, f"salesforce:{CASE_ID}")
    assert (ticket.subject, ticket.customer_comment_ids) == ("Parcel late", ["02s5j00000AbCdEAAV"])
    assert load_ticket_or_none(runtime, "salesforce:5005j00000TqW9aAAF") is None

    # The same message once the bad time is readable: the one missing is taken.
    fixed = envelope(
        good, (bad[0], "Case", dict(bad[2], SystemModstamp="2025-03-04T09:01:00Z")), also_good
    )
    response = client.post("/webhooks/salesforce", data=fixed, headers=SOAP)
    assert response.status_code == 200
    assert len(stored_events(runtime)) == 3


def load_ticket_or_none(runtime, key: str):
    with runtime.engine.connect() as connection:
        return load_ticket(connection, key)


def test_a_message_of_only_unreadable_notifications_stores_nothing(client, runtime):
    body = envelope(("04l5j00001Mzd3KAAR", "Case", dict(CASE, OwnerId="../etc/passwd")))

    response = client.post("/webhooks/salesforce", data=body, headers=SOAP)

    assert (response.status_code, response.json) == (
        400,
        {
            "error": "expected a 15- or 18-character Salesforce id",
            "field": "notifications.Notification[0].sObject.OwnerId",
        },
    )
    with runtime.engine.connect() as connection:
        assert count_events(connection) == 0


def test_a_notification_repeated_in_one_callout_is_one_event(client, runtime):
    twice = callout(("04l5j00001Mzd3KAAR", "Case", CASE), ("04l5j00001Mzd3KAAR", "Case", CASE))

    response = post_callout(client, twice)

    assert (response.status_code, response.json) == (200, {"events": 1, "status": "accepted"})
    assert sorted(stored_events(runtime)) == ["salesforce:notification:04l5j00001Mzd3KAAR"]


def assert_the_repeat_refused(response, runtime, error: str, field: str) -> dict:
    """The answer refuses the repeat, naming it; the first with its id is stored: its event."""
    assert (response.status_code, response.json) == (400, {"error": error, "field": field})
    stored = stored_events(runtime)
    assert sorted(stored) == ["salesforce:notification:04l5j00001Mzd3KAAR"]
    return stored["salesforce:notification:04l5j00001Mzd3KAAR"]


def test_one_notification_id_with_other_data_is_refused_naming_the_repeat(client, runtime):
    """One id is one change (our dedupe key): keeping either data would drop the other
    unseen. The first is stored (as any readable notification beside a bad one), the repeat
    refused, so the Flow's author sees the template's ids are not unique."""
    closed = dict(CASE, Status="Closed", LastModifiedDate="2025-03-04T09:05:00.000Z")
    closed["SystemModstamp"] = closed["LastModifiedDate"]
    body = callout(("04l5j00001Mzd3KAAR", "Case", CASE), ("04l5j00001Mzd3KAAR", "Case", closed))

    response = post_callout(client, body)

    first = assert_the_repeat_refused(
        response,
        runtime,
        "repeats the id of notifications[0], with other data",
        "notifications[1].id",
    )
    assert first["ticket"]["status"] == "new"


def test_the_same_in_an_outbound_message(client, runtime):
    xml = fixture_bytes("outbound_message__two_cases.xml").replace(
        b"04l5j00001Mzd3LAAR", b"04l5j00001Mzd3KAAR"
    )

    response = client.post("/webhooks/salesforce", data=xml, headers=SOAP)

    first = assert_the_repeat_refused(
        response,
        runtime,
        "repeats the id of notifications.Notification[0], with other data",
        "notifications.Notification[1].Id",
    )
    assert first["ticket_id"] == CASE_ID


def test_replay_takes_the_readable_notifications_and_reports_the_unreadable_one(rules):
    from deskbridge.connectors.registry import CONNECTORS
    from deskbridge.workflows.replay import ReplayError, run_replay

    bad = dict(CASE, Id="5005j00000TqW9aAAF", SystemModstamp="soon")
    body = envelope(("04l5j00001Mzd3KAAR", "Case", CASE), ("04l5j00001Mzd3LAAR", "Case", bad))
    line = json.dumps({"at": "2025-03-04T10:22:00Z", "source": "salesforce", "body": body.decode()})

    results = list(run_replay([line], rules, CONNECTORS))

    assert results[0] == ReplayError(
        1, f"notifications.Notification[1].sObject.SystemModstamp: {EXPECTED_TIME}"
    )
    # The readable Case is decided ("Parcel late": routed to Logistics).
    assert [(r["action"], r["ticket"], r["at"]) for r in results[1:]] == [
        (action, f"salesforce:{CASE_ID}", "2025-03-04T10:22:00Z")
        for action in ("route", "assign", "note")  # no tag: a case has none
    ]


def test_an_email_draft_is_no_reply_and_the_same_email_sent_counts_once(client, runtime):
    """EmailMessage.Status '5' is a draft: saved in the case, not sent to the customer. When
    it is sent, the same record (its Id) changes Status and is notified again."""
    reply = dict(
        EMAIL,
        Id="02s5j00000AbCdGAAV",
        Incoming="false",
        TextBody="Your sofa ships Monday.",
        MessageDate="2025-03-04T10:10:00.000Z",
        CreatedById="0055j00000F3x9QAAR",
    )
    created = client.post(
        "/webhooks/salesforce", data=envelope(("04l5j00001Mzd3AAAR", "Case", CASE)), headers=SOAP
    )
    draft = client.post(
        "/webhooks/salesforce",
        data=envelope(("04l5j00001Mzd3BAAR", "EmailMessage", dict(reply, Status="5"))),
        headers=SOAP,
    )
    assert (created.status_code, draft.status_code) == (200, 200)
    decide_all(runtime)
    ticket = load_ticket_or_none(runtime, f"salesforce:{CASE_ID}")
    assert (ticket.public_agent_reply_ids, ticket.last_public_agent_reply_at) == ([], None)

    sent = dict(reply, Status="3", MessageDate="2025-03-04T10:12:00.000Z")
    for nid in ("04l5j00001Mzd3CAAR", "04l5j00001Mzd3DAAR"):  # sent, then read: one reply
        status = "3" if nid.endswith("CAAR") else "1"
        body = envelope((nid, "EmailMessage", dict(sent, Status=status)))
        assert client.post("/webhooks/salesforce", data=body, headers=SOAP).status_code == 200
    decide_all(runtime)
    ticket = load_ticket_or_none(runtime, f"salesforce:{CASE_ID}")
    assert ticket.public_agent_reply_ids == ["02s5j00000AbCdGAAV"]
    assert ticket.public_agent_replies == 1
    assert ticket.last_public_agent_reply_at.isoformat() == "2025-03-04T10:12:00+00:00"
