"""An event stamped later than it was received (past MAX_CLOCK_SKEW) is refused, naming the
time's field: taken, it would be the ticket's newest snapshot until that time came, and every
real event before then would be ignored as stale."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from deskbridge.app import create_app, create_runtime
from deskbridge.config.settings import Settings
from deskbridge.connectors.errors import PayloadError
from deskbridge.connectors.parsing import MAX_CLOCK_SKEW
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.connectors.zendesk.parse import parse_zendesk
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.events import count_events
from deskbridge.store.outbox import list_actions
from deskbridge.store.tickets import load_ticket
from deskbridge.workflows.model import Priority
from deskbridge.workflows.replay import ReplayError, run_replay
from tests.conftest import TEST_SECRET, Clock, decide_all, fixture_json, signed_headers

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
ORG = "00D5j00000HqZtxEAF"
REFUSED = "time is more than 60 minutes after it was received"
assert timedelta(hours=1) == MAX_CLOCK_SKEW


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def priority_changed(event_id: str, time: str, priority: str) -> dict:
    data = fixture_json("ticket_priority_changed.json")
    data["id"], data["time"] = event_id, time
    data["detail"]["priority"] = data["event"]["current"] = priority
    return data


@pytest.fixture
def runtime(engine, rules, monkeypatch):
    for name in ("SLACK_BOT_TOKEN", "ZENDESK_SUBDOMAIN", "SALESFORCE_USERNAME", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(ZENDESK_WEBHOOK_SECRET=TEST_SECRET, SALESFORCE_ORG_ID=ORG)
    return create_runtime(settings, rules, clock=Clock(NOW), engine=engine)


def post(client, data: dict):
    body = json.dumps(data).encode()
    return client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))


def test_a_zendesk_event_from_the_future_is_refused_and_cannot_freeze_the_ticket(runtime):
    client = create_app(runtime=runtime).test_client()

    future = post(client, priority_changed("e-future", "2099-01-01T00:00:00Z", "LOW"))
    real = post(client, priority_changed("e-now", "2026-03-03T09:59:00Z", "URGENT"))

    assert (future.status_code, future.json) == (400, {"error": REFUSED, "field": "time"})
    assert (real.status_code, real.json) == (200, {"events": 1, "status": "accepted"})
    decide_all(runtime)
    with runtime.engine.connect() as connection:
        assert count_events(connection) == 1
        state = load_ticket(connection, "zendesk:48213")
    assert (state.priority, state.snapshot_at) == (
        Priority.urgent,
        datetime(2026, 3, 3, 9, 59, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("ahead", "refused"),
    [
        (MAX_CLOCK_SKEW, False),  # a clock an hour behind Zendesk's: taken
        (MAX_CLOCK_SKEW + timedelta(seconds=1), True),
    ],
)
def test_the_margin_is_measured_from_the_time_received(ahead, refused):
    raw = json.dumps(priority_changed("e-1", iso(NOW + ahead), "LOW")).encode()
    if not refused:
        [event] = parse_zendesk(raw, NOW)
        assert event.occurred_at == NOW + ahead
        return
    with pytest.raises(PayloadError) as caught:
        parse_zendesk(raw, NOW)
    assert (caught.value.field, caught.value.message) == ("time", REFUSED)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"event_time": "2099-01-01T00:00Z", "updated_at": "2026-03-03T09:58Z"}, "event_time"),
        ({"updated_at": "2099-01-01T00:00Z"}, "updated_at"),
    ],
)
def test_a_trigger_body_from_the_future_is_refused_naming_the_time_it_took(fields, field):
    raw = json.dumps({"ticket_id": "48213", "event_id": "t-1", **fields}).encode()

    with pytest.raises(PayloadError) as caught:
        parse_zendesk(raw, NOW)

    assert (caught.value.field, caught.value.message) == (field, REFUSED)


def test_a_salesforce_case_from_the_future_is_refused_naming_the_time_it_took(runtime):
    client = create_app(runtime=runtime).test_client()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{ORG}</OrganizationId><Notification><Id>04l5j00001Mzd3KAAR</Id>"
        '<sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        "<sf:Id>5005j00000TqW8hAAF</sf:Id><sf:Status>New</sf:Status>"
        "<sf:LastModifiedDate>2026-03-03T09:00:00.000Z</sf:LastModifiedDate>"
        "<sf:SystemModstamp>2099-01-01T00:00:00.000Z</sf:SystemModstamp>"
        "</sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()

    response = client.post("/webhooks/salesforce", data=body, headers={"Content-Type": "text/xml"})

    assert (response.status_code, response.json) == (
        400,
        {"error": REFUSED, "field": "notifications.Notification[0].sObject.SystemModstamp"},
    )


def test_replay_measures_each_line_from_its_own_time(rules):
    lines = [
        json.dumps({"at": at, "source": "zendesk", "body": body})
        for at, body in (
            ("2026-03-03T08:00:00Z", priority_changed("e-1", "2026-03-03T09:59:00Z", "LOW")),
            ("2026-03-03T10:00:00Z", priority_changed("e-2", "2026-03-03T09:59:00Z", "LOW")),
        )
    ]

    results = list(run_replay(lines, rules, CONNECTORS))

    assert [r for r in results if isinstance(r, ReplayError)] == [
        ReplayError(1, f"time: {REFUSED}")
    ]


# -- a ticket opened in the future: its SLA clocks would start then, and it would be the
# -- later of two contacts whatever it said


def test_a_zendesk_ticket_created_in_the_future_is_refused_naming_its_creation_time(runtime):
    client = create_app(runtime=runtime).test_client()
    data = fixture_json("ticket_created.json")
    data["time"] = data["detail"]["updated_at"] = "2026-03-03T09:59:00Z"
    data["detail"]["created_at"] = "2030-01-01T00:00:00Z"

    response = post(client, data)

    assert (response.status_code, response.json) == (
        400,
        {"error": REFUSED, "field": "detail.created_at"},
    )
    with runtime.engine.connect() as connection:
        assert count_events(connection) == 0


@pytest.mark.parametrize(
    ("created", "refused"),
    [
        (iso(NOW + MAX_CLOCK_SKEW), False),
        ("2030-01-01T00:00Z", True),
    ],
)
def test_a_trigger_body_created_in_the_future_is_refused(created, refused):
    raw = json.dumps(
        {
            "ticket_id": "48213",
            "event_id": "t-1",
            "updated_at": "2026-03-03T09:58Z",
            "created_at": created,
        }
    ).encode()
    if not refused:
        [event] = parse_zendesk(raw, NOW)
        assert event.ticket.created_at == NOW + MAX_CLOCK_SKEW
        return
    with pytest.raises(PayloadError) as caught:
        parse_zendesk(raw, NOW)
    assert (caught.value.field, caught.value.message) == ("created_at", REFUSED)


def test_a_salesforce_case_created_in_the_future_is_refused_and_the_others_stored(runtime):
    def case(notification: str, case_id: str, created: str) -> str:
        return (
            f"<Notification><Id>{notification}</Id>"
            '<sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"<sf:Id>{case_id}</sf:Id><sf:Status>New</sf:Status>"
            f"<sf:CreatedDate>{created}</sf:CreatedDate>"
            "<sf:LastModifiedDate>2026-03-03T09:00:00.000Z</sf:LastModifiedDate>"
            "</sObject></Notification>"
        )

    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{ORG}</OrganizationId>"
        + case("04l5j00001Mzd3KAAR", "5005j00000TqW8hAAF", "2026-03-03T08:55:00.000Z")
        + case("04l5j00001Mzd3LAAR", "5005j00000TqW9aAAF", "2030-01-01T00:00:00.000Z")
        + "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()
    client = create_app(runtime=runtime).test_client()

    response = client.post("/webhooks/salesforce", data=body, headers={"Content-Type": "text/xml"})

    assert (response.status_code, response.json) == (
        400,
        {"error": REFUSED, "field": "notifications.Notification[1].sObject.CreatedDate"},
    )
    with runtime.engine.connect() as connection:
        assert count_events(connection) == 1


def test_a_newer_update_delivered_before_an_older_one_ends_as_delivered_in_order(
    rules, tmp_path, monkeypatch
):
    """reliability.md §6 A4: the ticket's update of 09:59 (URGENT) arrives before its update
    of 09:58 (HIGH). The older snapshot does not overwrite the newer (the priority stays
    URGENT), and the actions are those of the two in order but the priority the newer already
    had: nothing decided twice."""
    older = priority_changed("e-4", "2026-03-03T09:58:00Z", "HIGH")
    newer = priority_changed("e-5", "2026-03-03T09:59:00Z", "URGENT")
    results = []
    for name, order in (("in-order", [older, newer]), ("newer-first", [newer, older])):
        engine = create_store_engine(f"sqlite:///{tmp_path / name}.db")
        migrate_store(engine)
        runtime = create_runtime(
            Settings(ZENDESK_WEBHOOK_SECRET=TEST_SECRET), rules, clock=Clock(NOW), engine=engine
        )
        client = create_app(runtime=runtime).test_client()
        for data in order:
            assert post(client, data).status_code == 200
            decide_all(runtime)
        with engine.connect() as connection:
            state = load_ticket(connection, "zendesk:48213")
            keys = sorted(r["idempotency_key"] for r in list_actions(connection))
        engine.dispose()
        results.append((state.priority, state.snapshot_at, keys))

    (in_order, newer_first) = results
    assert (
        newer_first[:2]
        == in_order[:2]
        == (
            Priority.urgent,
            datetime(2026, 3, 3, 9, 59, tzinfo=UTC),
        )
    )
    # The VIP's escalation once either way; in order it also raised the priority (HIGH then),
    # which the newer snapshot, seen first, already had.
    assert set(newer_first[2]) < set(in_order[2])
    assert set(in_order[2]) - set(newer_first[2]) == {"zendesk:48213:risk:vip:priority"}
    assert [k for k in newer_first[2] if k.endswith(":escalate")] == [
        "zendesk:48213:risk:vip:escalate"
    ]
