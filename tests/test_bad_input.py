"""The bad-input suite (issue 14, reliability.md §6 B): every hostile or broken request to a
webhook gets a 4xx naming the field, on SQLite and on PostgreSQL alike, and nothing is stored.
Validation lives in the connectors' parse, so HTTP and replay both get it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError

from deskbridge.app import create_app, create_runtime
from deskbridge.store.events import count_events
from deskbridge.store.outbox import count_actions
from deskbridge.store.schema import events
from deskbridge.store.tickets import load_ticket
from tests.conftest import Clock, fixture_bytes, signed_headers

# After the Salesforce fixture's notifications (modified 10:20:58 and 10:21:40): within
# MAX_CLOCK_SKEW of the time received, so a well-formed one is taken.
NOW = datetime(2025, 3, 4, 10, 25, 23, tzinfo=UTC)
ORG = "00D5j00000HqZtxEAF"  # the Salesforce fixture's organization
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def runtime(settings, engine, rules):
    settings = settings.model_copy(update={"salesforce_org_id": ORG})
    return create_runtime(settings, rules, clock=Clock(NOW), engine=engine)


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def _stored(runtime) -> tuple[int, int]:
    with runtime.engine.connect() as connection:
        return count_events(connection), count_actions(connection)


def _event(**changes) -> bytes:
    """The comment_added fixture (time near NOW) with dotted-path changes."""
    data = json.loads(fixture_bytes("ticket_comment_added__public_agent.json"))
    data["time"] = (NOW - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = data
        for part in parents:
            target = target[part]
        target[last] = value
    return json.dumps(data).encode()


def _trigger(**changes) -> bytes:
    data = {
        "ticket_id": "48213",
        "event_id": "trig-1",
        "status": "Open",
        "subject": "Parcel late",
        "updated_at": "2025-03-04T09:10Z",
    }
    data.update(changes)
    return json.dumps(data).encode()


ZENDESK_CASES = [
    # (id, body, field, error)
    ("event id of 256 characters", _event(id="e" * 256), "id", "longer than 200 characters"),
    ("event id with NUL", _event(id="evt-\u0000-1"), "id", "contains a control character (\\x00)"),
    (
        "ticket id of 129 digits",
        _event(detail__id="4" * 129),
        "detail.id",
        "longer than 64 characters",
    ),
    (
        "ticket id of 21 digits",
        _event(detail__id="4" * 21),
        "detail.id",
        "expected a Zendesk id (digits)",
    ),
    (
        "ticket id with NUL",
        _event(detail__id="48213\u0000"),
        "detail.id",
        "contains a control character (\\x00)",
    ),
    (
        "ticket id a path",
        _event(detail__id="../../etc"),
        "detail.id",
        "expected a Zendesk id (digits)",
    ),
    (
        "ticket id with a newline",
        _event(detail__id="482\n13"),
        "detail.id",
        "contains a control character (\\n)",
    ),
    (
        "assignee id of 129 characters",
        _event(detail__assignee_id="9" * 129),
        "detail.assignee_id",
        "longer than 64 characters",
    ),
    (
        "requester id not digits",
        _event(detail__requester_id="jane@example.com"),
        "detail.requester_id",
        "expected a Zendesk id (digits)",
    ),
    (
        "author id with NUL",
        _event(event__comment__author__id="1\u0000"),
        "event.comment.author.id",
        "contains a control character (\\x00)",
    ),
    (
        "event time in year 9999",
        _event(time="9999-12-31T23:59:59Z"),
        "time",
        "time out of range (2000-2099)",
    ),
    (
        "created_at in year 1",
        _event(detail__created_at="0001-01-01T00:00:00Z"),
        "detail.created_at",
        "time out of range (2000-2099)",
    ),
    (
        "created_at in year 9999",
        _event(detail__created_at="9999-12-31T23:59:59Z"),
        "detail.created_at",
        "time out of range (2000-2099)",
    ),
    (
        "a tag with CR",
        _event(detail__tags=["vip\r"]),
        "detail.tags[0]",
        "contains a control character (\\r)",
    ),
    ("600 tags", _event(detail__tags=["t"] * 600), "detail.tags", "more than 500 tags"),
    # Printable ASCII is read without the control-character pattern: its edges still refused.
    ("501 empty tags", _event(detail__tags=[""] * 501), "detail.tags", "more than 500 tags"),
    (
        "a tag of 256 characters",
        _event(detail__tags=["vip", "t" * 256]),
        "detail.tags[1]",
        "longer than 255 characters",
    ),
    (
        "a tag with DEL",
        _event(detail__tags=["vip\x7f"]),
        "detail.tags[0]",
        "contains a control character (\\x7f)",
    ),
    (
        "a status with DEL",
        _event(detail__status="Open\x7f"),
        "detail.status",
        "contains a control character (\\x7f)",
    ),
    (
        "trigger ticket id a path",
        _trigger(ticket_id="../../etc"),
        "ticket_id",
        "expected a Zendesk id (digits)",
    ),
    (
        "trigger updated_at in year 9999",
        _trigger(updated_at="9999-01-01T00:00Z"),
        "updated_at",
        "time out of range (2000-2099)",
    ),
]


@pytest.mark.parametrize(
    ("body", "field", "error"), [c[1:] for c in ZENDESK_CASES], ids=[c[0] for c in ZENDESK_CASES]
)
def test_bad_zendesk_values_are_400_naming_the_field(runtime, client, body, field, error):
    response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))

    assert (response.status_code, response.json) == (400, {"error": error, "field": field})
    assert _stored(runtime) == (0, 0)


@pytest.mark.parametrize("body", [b"", b"\n", b" \t\r\n"], ids=["empty", "newline", "blanks"])
def test_an_empty_zendesk_body_is_said_to_be_empty(runtime, client, body):
    """A webhook with no body (a trigger whose JSON body was left empty): it was "invalid
    JSON: Expecting value at line 1 column 1", sending the admin after a typo."""
    response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))

    assert (response.status_code, response.json) == (
        400,
        {"error": "body is empty", "field": "body"},
    )
    assert _stored(runtime) == (0, 0)


def _unfilled(placeholder: str) -> str:
    return (
        f"holds the placeholder {placeholder}, not filled in by Zendesk: check its name in the "
        "trigger's JSON body (placeholders are case-sensitive; README, Connecting Zendesk); "
        'Zendesk\'s "Test webhook" sends the body with its placeholders as written'
    )


def test_the_readmes_trigger_body_sent_unfilled_names_its_first_placeholder(runtime, client):
    """The README's trigger template as "Test webhook" sends it, its placeholders as written:
    it said "expected a Zendesk id (digits)", and the admin looked for a bad ticket."""
    readme = (ROOT / "README.md").read_text()
    template = readme.split("`360012345678` stands for your field's id):\n\n```json\n", 1)[1]
    body = template.split("```", 1)[0].encode()
    assert json.loads(body)["ticket_id"] == "{{ticket.id}}"

    response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))

    assert (response.status_code, response.json) == (
        400,
        {"error": _unfilled("{{ticket.id}}"), "field": "ticket_id"},
    )
    assert _stored(runtime) == (0, 0)


@pytest.mark.parametrize(
    ("changes", "field", "placeholder"),
    [
        ({"updated_at": "{{ticket.updated_at_with_timestamp}}"}, "updated_at", None),
        ({"status": "{{Ticket.Status}}"}, "status", None),  # the wrong case: left as written
        (
            {"comment_id": "7", "comment_public": "{{ticket.latest_comment.is_public}}"},
            "comment_public",
            None,
        ),
        ({"assignee_id": "{{ticket.assignee.id}}"}, "assignee_id", None),
        # Any text is a role, but unfilled every agent's reply would count as the customer's.
        (
            {"comment_id": "7", "comment_author_role": "{{current_user.role}}"},
            "comment_author_role",
            None,
        ),
        # Not a bare name: not quoted.
        ({"priority": "{{ ticket.priority | upcase }}"}, "priority", "{{...}}"),
    ],
    ids=["updated_at", "status", "comment_public", "assignee_id", "author role", "a filter"],
)
def test_an_unfilled_placeholder_is_named_with_its_field(
    runtime, client, changes, field, placeholder
):
    """One placeholder Zendesk did not fill in, in a field whose value it makes unreadable:
    the 400 names the field and says so."""
    body = _trigger(**changes)

    response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))

    assert (response.status_code, response.json) == (
        400,
        {"error": _unfilled(placeholder or changes[field]), "field": field},
    )
    assert _stored(runtime) == (0, 0)


def _written_by(placeholder: str) -> str:
    return (
        f'send "{placeholder}" there, which Zendesk fills with an ISO 8601 time such as '
        "2026-12-05T21:57Z (README, Connecting Zendesk)"
    )


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        # Another placeholder than _with_timestamp, or a date as a person reads it: no zone.
        (
            {"created_at": "December 05, 2026 21:57"},
            "created_at",
            "expected an ISO-8601 time: " + _written_by("{{ticket.created_at_with_timestamp}}"),
        ),
        (
            {"updated_at": "2026-12-05T21:57"},
            "updated_at",
            "time has no timezone: " + _written_by("{{ticket.updated_at_with_timestamp}}"),
        ),
        (
            {"event_time": "05/12/2026 21:57"},
            "event_time",
            "expected an ISO-8601 time: an ISO 8601 time with its zone, such as "
            "2026-12-05T21:57:00Z, or leave event_time out: updated_at "
            "({{ticket.updated_at_with_timestamp}}) is then the event's time",
        ),
    ],
    ids=["created_at", "updated_at", "event_time"],
)
def test_a_trigger_time_that_is_not_iso_names_the_placeholder_that_writes_one(
    runtime, client, changes, field, error
):
    """A trigger body's time in another form: "expected an ISO-8601 time" left the admin to
    find which placeholder writes one. The value is still not repeated."""
    body = _trigger(**changes)

    response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))

    assert (response.status_code, response.json) == (400, {"error": error, "field": field})
    assert _stored(runtime) == (0, 0)


def test_an_unfilled_placeholder_in_a_custom_field_is_accepted(runtime, client):
    """A custom field's value is any text: a body deskbridge can take is not refused (Zendesk
    does not send a 400 again), whatever it holds."""
    body = _trigger(fields={"category": "{{ticket.ticket_field_360012345678}}"})

    response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))

    assert (response.status_code, response.json) == (200, {"status": "accepted", "events": 1})


def test_replay_names_an_unfilled_placeholder_as_the_webhook_does(rules):
    from deskbridge.connectors.registry import CONNECTORS
    from deskbridge.workflows.replay import run_replay

    body = json.loads(_trigger(ticket_id="{{ticket.id}}"))
    line = json.dumps({"at": "2025-03-04T10:25:00Z", "source": "zendesk", "body": body})

    (result,) = list(run_replay([line], rules, CONNECTORS))

    assert (result.line, result.message) == (1, f"ticket_id: {_unfilled('{{ticket.id}}')}")


# What a sender may put where a status, priority or time belongs: the 400 names the field
# and what it takes, not the value, since its error is also the `webhook.malformed` log line.
PERSONAL = "jane.doe@example.com +44 7700 900123"
UNKNOWN_STATUS = (
    "unknown ticket status: expected one of new, open, pending, hold, on-hold, on hold, solved, "
    "closed, deleted, archived, scrubbed (any case)"
)
UNKNOWN_EVENT = (
    "unknown event: expected one of agent_assignment_changed, assignee_changed, comment_added, "
    "created, custom_field_changed, custom_status_changed, description_changed, "
    "group_assignment_changed, group_changed, priority_changed, status_changed, "
    "subject_changed, tags_changed, type_changed, updated"
)
# A trigger body's time is said with the placeholder that writes it (README's template).
TRIGGER_UPDATED_AT = (
    'expected an ISO-8601 time: send "{{ticket.updated_at_with_timestamp}}" there, which '
    "Zendesk fills with an ISO 8601 time such as 2026-12-05T21:57Z (README, Connecting Zendesk)"
)
UNKNOWN_PRIORITY = (
    "unknown priority: expected one of low, normal, high, urgent (any case), or - or nothing "
    "for none"
)


@pytest.mark.parametrize(
    ("body", "field", "error"),
    [
        (_event(detail__status=PERSONAL), "detail.status", UNKNOWN_STATUS),
        (_event(detail__priority=PERSONAL), "detail.priority", UNKNOWN_PRIORITY),
        (_event(detail__created_at=PERSONAL), "detail.created_at", "expected an ISO-8601 time"),
        (_trigger(status=PERSONAL), "status", UNKNOWN_STATUS),
        (_trigger(updated_at=PERSONAL), "updated_at", TRIGGER_UPDATED_AT),
        (_trigger(event=PERSONAL), "event", UNKNOWN_EVENT),
    ],
    ids=["status", "priority", "created_at", "trigger status", "trigger updated_at", "event"],
)
def test_a_refused_value_is_not_repeated_in_the_answer_or_the_log(
    runtime, client, caplog, body, field, error
):
    caplog.set_level(logging.INFO, logger="deskbridge")
    response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))

    assert (response.status_code, response.json) == (400, {"error": error, "field": field})
    logged = [(r.getMessage(), r.deskbridge_fields) for r in caplog.records]
    assert logged == [("webhook.malformed", {"source": "zendesk", "error": error, "field": field})]
    assert "example.com" not in caplog.text and "7700" not in caplog.text


def _case(**fields) -> bytes:
    text = fixture_bytes("outbound_message__two_cases.xml").decode()
    for name, value in fields.items():
        old = text.split(f"<sf:{name}>", 1)[1].split("<", 1)[0]
        text = text.replace(f"<sf:{name}>{old}<", f"<sf:{name}>{value}<", 1)
    return text.encode()


SALESFORCE_CASES = [
    (
        "case id of 17 characters",
        _case(Id="5005j00000TqW8hAA"),
        "notifications.Notification[0].sObject.Id",
        "expected a 15- or 18-character Salesforce id",
    ),
    (
        "case id a path",
        _case(Id="../../../etc/pass"),
        "notifications.Notification[0].sObject.Id",
        "expected a 15- or 18-character Salesforce id",
    ),
    (
        "owner id of 200 characters",
        _case(OwnerId="0" * 200),
        "notifications.Notification[0].sObject.OwnerId",
        "expected a 15- or 18-character Salesforce id",
    ),
    (
        "modified in year 9999",
        _case(LastModifiedDate="9999-12-31T23:59:59.000Z"),
        "notifications.Notification[0].sObject.LastModifiedDate",
        "time out of range (2000-2099)",
    ),
]


@pytest.mark.parametrize(
    ("body", "field", "error"),
    [c[1:] for c in SALESFORCE_CASES],
    ids=[c[0] for c in SALESFORCE_CASES],
)
def test_bad_salesforce_values_are_400_naming_the_field(runtime, client, body, field, error):
    response = client.post(
        "/webhooks/salesforce", data=body, headers={"Content-Type": "text/xml; charset=utf-8"}
    )

    assert (response.status_code, response.json) == (400, {"error": error, "field": field})
    # The message's other notification, well-formed, is stored (Salesforce redelivers the
    # message, refused for the first until it can be read; the second is then a duplicate).
    assert _stored_keys(runtime) == ["salesforce:notification:04l5j00001Mzd3LAAR"]
    assert _stored(runtime) == (1, 0)


def _stored_keys(runtime) -> list[str]:
    with runtime.engine.connect() as connection:
        return sorted(connection.execute(select(events.c.dedupe_key)).scalars())


def test_a_subject_longer_than_the_limit_is_stored_cut_on_both_stores(runtime, client):
    body = _event(detail__subject="🚨" * 20_000)

    response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))

    assert (response.status_code, response.json) == (200, {"events": 1, "status": "accepted"})
    runtime.service.decider.decide_pending()
    with runtime.engine.connect() as connection:
        assert load_ticket(connection, "zendesk:48213").subject == "🚨" * 16_383 + "…"


def test_free_text_keeps_nul_and_emoji_byte_exact_on_both_stores(runtime, client):
    subject = "🚨 Rechnung \u202eevil\u202c nul:\u0000 end"
    body = _event(detail__subject=subject)

    response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))

    assert response.status_code == 200
    runtime.service.decider.decide_pending()
    with runtime.engine.connect() as connection:
        assert load_ticket(connection, "zendesk:48213").subject == subject


def test_a_value_the_database_refuses_is_400_not_503(runtime, client, monkeypatch):
    def refuse(*args, **kwargs):
        raise DataError("INSERT …", {}, ValueError("value too long for type character varying"))

    monkeypatch.setattr(runtime.service, "store_events", refuse)
    body = _event()

    response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, NOW))

    assert response.status_code == 400
    assert response.json == {
        "error": "a value in the body cannot be stored (too long or invalid)",
        "field": "body",
    }
    assert "Retry-After" not in response.headers


def test_replay_refuses_the_same_values_with_the_same_field(rules):
    from deskbridge.connectors.registry import CONNECTORS
    from deskbridge.workflows.replay import run_replay

    line = json.dumps(
        {
            "at": "2025-03-04T10:25:00Z",
            "source": "zendesk",
            "body": json.loads(_event(detail__id="../../etc")),
        }
    )

    (result,) = list(run_replay([line], rules, CONNECTORS))

    assert (result.line, result.message) == (
        1,
        "detail.id: expected a Zendesk id (digits)",
    )


def test_the_salesforce_corpus_is_refused_naming_the_problem(settings, engine, rules):
    """Every request of the fixed corpus (tests/salesforce_corpus.py: truncated XML, entity
    expansion, DTDs, wrong namespaces, no org or sObject, huge ids, NUL bytes, a wrong
    Content-Type, bad dates, and the same for Flow callouts) gets its 4xx naming the problem,
    never a 5xx, and stores nothing but the message's other notification, well-formed."""
    from pydantic import SecretStr

    from tests.salesforce_corpus import CASES, TOKEN

    settings = settings.model_copy(
        update={"salesforce_org_id": ORG, "salesforce_webhook_token": SecretStr(TOKEN)}
    )
    runtime = create_runtime(settings, rules, clock=Clock(NOW), engine=engine)
    client = create_app(runtime=runtime).test_client()
    answers = []
    for name, body, headers, _, _ in CASES:
        response = client.post("/webhooks/salesforce", data=body, headers=headers)
        answers.append((name, response.status_code, response.get_json(silent=True)))
        assert set(_stored_keys(runtime)) <= {"salesforce:notification:04l5j00001Mzd3LAAR"}, name

    assert answers == [(name, status, answer) for name, _, _, status, answer in CASES]
