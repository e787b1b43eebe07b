"""Zendesk webhook bodies → TicketEvent (connectors/zendesk/parse.py, protocols.md §1.4-1.5).

Every fixture is compared as a whole `dataclasses.asdict()` so a field that silently changes shape
(an id turned int, an enum left UPPERCASE, nanoseconds kept as a string) fails here.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deskbridge.connectors.errors import PayloadError, UnsupportedEvent
from deskbridge.connectors.zendesk.parse import (
    GROUP_NAME_IGNORED,
    UNFILLED_PLACEHOLDER,
    parse_zendesk,
)
from deskbridge.workflows.model import (
    EventKind,
    Priority,
    Source,
    Status,
    TicketEvent,
    dump_event_json,
    load_event_json,
)
from tests.conftest import fixture_bytes, fixture_json

# After the fixtures' events (the last at 14:41:09): an event is refused when it says it
# happened more than MAX_CLOCK_SKEW after it was received.
RECEIVED = datetime(2025, 3, 4, 15, 0, 0, tzinfo=UTC)

DESCRIPTION = (
    "Since this morning every invoice export fails with error 502. Our finance team is blocked."
)
SUBJECT = "Invoice export returns 502"
AGENT = "9013300112004"
REQUESTER = "9014456723011"

DELETE = object()


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def parse_one(raw: bytes, received_at: datetime = RECEIVED) -> TicketEvent:
    events = parse_zendesk(raw, received_at)
    assert len(events) == 1
    assert isinstance(events[0], TicketEvent)
    return events[0]


def mutated(name: str, changes: dict[str, Any]) -> bytes:
    """The fixture with dotted paths set (or removed with DELETE), re-serialised."""
    data = copy.deepcopy(fixture_json(name))
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return json.dumps(data).encode()


def parse_error(raw: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        parse_zendesk(raw, RECEIVED)
    assert caught.value.status == 400
    return caught.value


def snapshot(**overrides: Any) -> dict[str, Any]:
    """The ticket 48213 as the event fixtures describe it."""
    base = {
        "subject": SUBJECT,
        "description": DESCRIPTION,
        "status": Status.open,
        "priority": Priority.urgent,
        "type": "incident",
        "tags": ("billing", "vip"),
        "group": "360009988771",
        "assignee": AGENT,
        "requester": REQUESTER,
        "organization": "360044556601",
        "channel": "web_service",
        "created_at": at(2025, 3, 4, 9, 15, 22),
        "updated_at": None,
        "custom_fields": {},
        "number": None,
    }
    base.update(overrides)
    return base


# -- the event-subscription fixtures --------------------------------------------------------

EXPECTED_EVENTS: dict[str, dict[str, Any]] = {
    "ticket_created.json": {
        "source": Source.zendesk,
        "ticket_id": "48213",
        "dedupe_key": "zendesk:event:5f0c8a2e-3d41-4b7a-9c55-0e6d2b8f1a93",
        "kind": EventKind.created,
        "occurred_at": at(2025, 3, 4, 9, 15, 22, 184522),
        "ticket": snapshot(
            status=Status.new,
            priority=Priority.high,
            assignee=None,
            updated_at=at(2025, 3, 4, 9, 15, 22),
        ),
        "comment": None,
        "actor_id": REQUESTER,
        "vendor_type": "zen:event-type:ticket.created",
        "meta": {},
    },
    "ticket_comment_added__public_agent.json": {
        "source": Source.zendesk,
        "ticket_id": "48213",
        "dedupe_key": "zendesk:event:a41d7e90-8c2b-4f11-b3de-72f0c9e5d614",
        "kind": EventKind.comment_added,
        "occurred_at": at(2025, 3, 4, 10, 2, 47, 905113),
        "ticket": snapshot(
            tags=("billing", "vip", "escalation_tier2"),
            updated_at=at(2025, 3, 4, 10, 2, 47),
        ),
        "comment": {
            "id": "31877650021",
            "public": True,
            "author_id": AGENT,
            "author_is_agent": True,
            "is_voice": False,
            "body": "Thanks for the report. We reproduced the 502 on our side and engineering is "
            "on it. Next update within the hour.",
        },
        "actor_id": AGENT,
        "vendor_type": "zen:event-type:ticket.comment_added",
        "meta": {},
    },
    "ticket_priority_changed.json": {
        "source": Source.zendesk,
        "ticket_id": "48213",
        "dedupe_key": "zendesk:event:0b9e61c4-57f2-4e0a-8d3b-c1a2f4e6d870",
        "kind": EventKind.priority_changed,
        "occurred_at": at(2025, 3, 4, 9, 58, 3, 412908),
        "ticket": snapshot(updated_at=at(2025, 3, 4, 9, 58, 3)),
        "comment": None,
        "actor_id": AGENT,
        "vendor_type": "zen:event-type:ticket.priority_changed",
        "meta": {},
    },
    # Local fixtures (tests/fixtures), named after the real event.
    "ticket_comment_added__private_note.json": {
        "source": Source.zendesk,
        "ticket_id": "48213",
        "dedupe_key": "zendesk:event:c7e2b5d0-1f3a-4e8b-9a6c-5d4e3f2a1b07",
        "kind": EventKind.comment_added,
        "occurred_at": at(2025, 3, 4, 10, 5, 12, 118204),
        "ticket": snapshot(
            tags=("billing", "vip", "escalation_tier2"),
            updated_at=at(2025, 3, 4, 10, 5, 12),
        ),
        "comment": {
            "id": "31877650044",
            "public": False,
            "author_id": AGENT,
            "author_is_agent": True,
            "is_voice": False,
            "body": "Internal: engineering ticket ENG-4471 opened, customer is on the "
            "enterprise plan.",
        },
        "actor_id": AGENT,
        "vendor_type": "zen:event-type:ticket.comment_added",
        "meta": {},
    },
    "ticket_comment_added__public_end_user.json": {
        "source": Source.zendesk,
        "ticket_id": "48213",
        "dedupe_key": "zendesk:event:e0f4c1a8-6b2d-4c3e-8f71-2a9b5d6c7e18",
        "kind": EventKind.comment_added,
        "occurred_at": at(2025, 3, 4, 10, 20, 31, 550001),
        "ticket": snapshot(
            tags=("billing", "vip", "escalation_tier2"),
            updated_at=at(2025, 3, 4, 10, 20, 31),
        ),
        "comment": {
            "id": "31877650107",
            "public": True,
            "author_id": REQUESTER,
            "author_is_agent": False,
            "is_voice": False,
            "body": "Still failing for us, every export since 9am. Any news?",
        },
        "actor_id": REQUESTER,
        "vendor_type": "zen:event-type:ticket.comment_added",
        "meta": {},
    },
    "ticket_status_changed__solved.json": {
        "source": Source.zendesk,
        "ticket_id": "48213",
        "dedupe_key": "zendesk:event:9a3f0d6e-2c4b-4d1a-b8e5-7f6a5c4d3b29",
        "kind": EventKind.status_changed,
        "occurred_at": at(2025, 3, 4, 14, 41, 9, 4417),
        "ticket": snapshot(
            status=Status.solved,
            tags=("billing", "vip", "escalation_tier2"),
            updated_at=at(2025, 3, 4, 14, 41, 9),
        ),
        "comment": None,
        "actor_id": AGENT,
        "vendor_type": "zen:event-type:ticket.status_changed",
        "meta": {},
    },
    "ticket_custom_status_changed__awaiting_customer.json": {
        "source": Source.zendesk,
        "ticket_id": "48213",
        "dedupe_key": "zendesk:event:4b8e2f1c-9d0a-4a7e-a3c6-1e5f8b2d9c40",
        "kind": EventKind.status_changed,
        "occurred_at": at(2025, 3, 4, 11, 30, 0, 250000),
        # event.current is a custom status *id*; the status category is detail.status.
        "ticket": snapshot(
            status=Status.pending,
            tags=("billing", "vip", "escalation_tier2"),
            updated_at=at(2025, 3, 4, 11, 30, 0),
        ),
        "comment": None,
        "actor_id": AGENT,
        "vendor_type": "zen:event-type:ticket.custom_status_changed",
        "meta": {},
    },
}


@pytest.mark.parametrize("name", list(EXPECTED_EVENTS))
def test_event_fixture_parses_to_the_full_expected_event(name):
    event = parse_one(fixture_bytes(name))
    assert dataclasses.asdict(event) == EXPECTED_EVENTS[name]


@pytest.mark.parametrize("name", list(EXPECTED_EVENTS))
def test_event_times_are_utc_and_serialise_with_microseconds(name):
    event = parse_one(fixture_bytes(name))
    for value in (event.occurred_at, event.ticket.created_at, event.ticket.updated_at):
        assert value.utcoffset() == timedelta(0)
        assert value.tzinfo == UTC
    dumped = json.loads(dump_event_json(event))
    expected = EXPECTED_EVENTS[name]["occurred_at"]
    assert dumped["occurred_at"] == expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert load_event_json(dump_event_json(event)) == event


@pytest.mark.parametrize("name", list(EXPECTED_EVENTS))
def test_event_parsing_does_not_depend_on_when_it_was_received(name):
    raw = fixture_bytes(name)
    assert parse_one(raw, RECEIVED) == parse_one(raw, RECEIVED + timedelta(days=3))


def test_public_agent_reply_is_recognised_from_the_comment_fixture():
    event = parse_one(fixture_bytes("ticket_comment_added__public_agent.json"))
    assert event.comment is not None
    assert event.comment.is_public_agent_reply is True


@pytest.mark.parametrize(
    "name",
    ["ticket_comment_added__private_note.json", "ticket_comment_added__public_end_user.json"],
)
def test_private_notes_and_end_user_comments_are_not_public_agent_replies(name):
    event = parse_one(fixture_bytes(name))
    assert event.comment is not None
    assert event.comment.is_public_agent_reply is False


def test_event_dedupe_key_is_the_event_id_not_the_bytes():
    """A redelivery re-serialised differently is still the same event."""
    raw = fixture_bytes("ticket_comment_added__public_agent.json")
    compact = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert parse_one(compact).dedupe_key == parse_one(raw).dedupe_key


def test_nanoseconds_are_truncated_not_rounded():
    raw = mutated("ticket_created.json", {"time": "2025-03-04T09:15:22.999999999Z"})
    assert parse_one(raw).occurred_at == at(2025, 3, 4, 9, 15, 22, 999999)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-04T09:15:22Z", at(2025, 3, 4, 9, 15, 22)),
        ("2025-03-04T09:15:22.5Z", at(2025, 3, 4, 9, 15, 22, 500000)),
        ("2025-03-04T09:15:22.123456Z", at(2025, 3, 4, 9, 15, 22, 123456)),
        ("2025-03-04T09:15:22.1234567Z", at(2025, 3, 4, 9, 15, 22, 123456)),
        ("2025-03-04T11:15:22.184522310+02:00", at(2025, 3, 4, 9, 15, 22, 184522)),
        ("2025-03-04T04:15:22-0500", at(2025, 3, 4, 9, 15, 22)),
        ("2025-03-04T09:15Z", at(2025, 3, 4, 9, 15)),
    ],
)
def test_event_time_spellings_normalise_to_aware_utc(value, expected):
    event = parse_one(mutated("ticket_created.json", {"time": value}))
    assert event.occurred_at == expected
    assert event.occurred_at.tzinfo == UTC


def test_uppercase_enums_become_lowercase_and_ids_become_strings():
    raw = mutated(
        "ticket_created.json",
        {
            "detail.id": 48213,
            "detail.group_id": 360009988771,
            "detail.requester_id": 9014456723011,
            "detail.status": "PENDING",
            "detail.priority": "LOW",
            "detail.type": "QUESTION",
        },
    )
    event = parse_one(raw)
    assert event.ticket_id == "48213"
    assert event.ticket.group == "360009988771"
    assert event.ticket.requester == "9014456723011"
    assert (event.ticket.status, event.ticket.priority, event.ticket.type) == (
        Status.pending,
        Priority.low,
        "question",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("NEW", Status.new),
        ("OPEN", Status.open),
        ("PENDING", Status.pending),
        ("HOLD", Status.hold),
        ("SOLVED", Status.solved),
        ("CLOSED", Status.closed),
        ("DELETED", Status.closed),
        ("ARCHIVED", Status.closed),
        ("SCRUBBED", Status.closed),
    ],
)
def test_every_documented_event_status_maps(value, expected):
    raw = mutated("ticket_created.json", {"detail.status": value})
    assert parse_one(raw).ticket.status is expected


def test_missing_optional_detail_fields_become_none():
    raw = mutated(
        "ticket_created.json",
        {
            "detail.priority": None,
            "detail.type": None,
            "detail.tags": DELETE,
            "detail.via": DELETE,
            "detail.created_at": DELETE,
            "detail.updated_at": "",
            "detail.subject": "   ",
        },
    )
    ticket = parse_one(raw).ticket
    assert (ticket.priority, ticket.type, ticket.tags, ticket.channel) == (None, None, None, None)
    assert (ticket.created_at, ticket.updated_at, ticket.subject) == (None, None, None)


@pytest.mark.parametrize("system", ["-1", -1])
def test_a_change_by_zendesk_itself_has_no_actor_and_is_not_refused(system):
    """Zendesk names its triggers and automations as user -1: the event was refused 400
    ("not a Zendesk id"), which Zendesk does not retry, so the change was lost."""
    event = parse_one(mutated("ticket_priority_changed.json", {"detail.actor_id": system}))
    assert (event.kind, event.actor_id) == (EventKind.priority_changed, None)
    trigger = json.loads(fixture_bytes("trigger_ticket_updated.json"))
    trigger["updated_by_id"] = system
    assert parse_one(json.dumps(trigger).encode()).actor_id is None


def test_any_other_negative_actor_is_still_refused_with_its_path():
    with pytest.raises(PayloadError) as refused:
        parse_one(mutated("ticket_priority_changed.json", {"detail.actor_id": "-2"}))
    assert refused.value.to_json() == {
        "error": "expected a Zendesk id (digits)",
        "field": "detail.actor_id",
    }


def test_empty_tag_list_is_an_empty_tuple_not_unknown():
    raw = mutated("ticket_created.json", {"detail.tags": []})
    assert parse_one(raw).ticket.tags == ()


def test_status_changed_takes_the_new_status_from_the_event():
    raw = mutated(
        "ticket_status_changed__solved.json",
        {"detail.status": "OPEN", "event.current": "SOLVED", "event.previous": "OPEN"},
    )
    assert parse_one(raw).ticket.status is Status.solved


def test_priority_changed_takes_the_new_priority_from_the_event():
    raw = mutated(
        "ticket_priority_changed.json", {"detail.priority": "HIGH", "event.current": "LOW"}
    )
    assert parse_one(raw).ticket.priority is Priority.low


def test_priority_cleared_by_the_event_is_none():
    raw = mutated("ticket_priority_changed.json", {"event.current": None})
    assert parse_one(raw).ticket.priority is None


def test_custom_status_id_is_not_read_as_a_status_name():
    """ticket.custom_status_changed carries custom status ids in event.current/previous."""
    event = parse_one(fixture_bytes("ticket_custom_status_changed__awaiting_customer.json"))
    assert event.kind is EventKind.status_changed
    assert event.ticket.status is Status.pending


# -- the trigger body fixtures ---------------------------------------------------------------


def trigger_snapshot(**overrides: Any) -> dict[str, Any]:
    base = {
        "subject": SUBJECT,
        "description": None,
        "status": Status.open,
        "priority": Priority.urgent,
        "type": "incident",
        "tags": ("billing", "escalation_tier2", "vip"),
        # The fixture's "group" is a name ("Tier 2 Support"), which no group id of the rules
        # file can match: not read.
        "group": None,
        "assignee": "priya.raman@acme-support.example",
        "requester": REQUESTER,
        "organization": "Whitfield Logistics",
        "channel": "Web Form",
        "created_at": at(2025, 3, 4, 9, 15),
        "updated_at": at(2025, 3, 4, 10, 2),
        "custom_fields": {},
        "number": None,
    }
    base.update(overrides)
    return base


def test_trigger_payload_fixture_parses_to_the_full_expected_event():
    raw = fixture_bytes("trigger_ticket_updated.json")
    event = parse_one(raw)
    assert dataclasses.asdict(event) == {
        "source": Source.zendesk,
        "ticket_id": "48213",
        "dedupe_key": f"zendesk:trigger:{hashlib.sha256(raw).hexdigest()}",
        "kind": EventKind.updated,
        "occurred_at": at(2025, 3, 4, 10, 2),
        "ticket": trigger_snapshot(),
        "comment": None,
        "actor_id": AGENT,
        "vendor_type": "trigger:notify-escalation-service",
        "meta": {},
    }
    assert event.occurred_at.tzinfo == UTC


def test_trigger_with_a_public_agent_comment_is_a_comment_added_event():
    event = parse_one(fixture_bytes("trigger_comment_added__public_agent.json"))
    assert dataclasses.asdict(event) == {
        "source": Source.zendesk,
        "ticket_id": "48213",
        # The template's event_id wins over the body hash.
        "dedupe_key": "zendesk:trigger:48213-2025-03-04T10:02Z-31877650021",
        "kind": EventKind.comment_added,
        "occurred_at": at(2025, 3, 4, 10, 2),
        "ticket": trigger_snapshot(),
        "comment": {
            "id": "31877650021",
            "public": True,
            "author_id": AGENT,
            "author_is_agent": True,
            "is_voice": False,
            "body": "Thanks for the report. We reproduced the 502 on our side and engineering is "
            "on it.",
        },
        "actor_id": AGENT,
        "vendor_type": "trigger:deskbridge-ticket-updated",
        "meta": {},
    }
    assert event.comment.is_public_agent_reply is True


def test_trigger_with_a_voice_comment_is_a_call_not_a_reply():
    raw = fixture_bytes("trigger_comment_added__voice_call.json")
    event = parse_one(raw)
    assert dataclasses.asdict(event) == {
        "source": Source.zendesk,
        "ticket_id": "48213",
        "dedupe_key": f"zendesk:trigger:{hashlib.sha256(raw).hexdigest()}",
        "kind": EventKind.comment_added,
        "occurred_at": at(2025, 3, 4, 10, 31),
        "ticket": trigger_snapshot(status=Status.hold, updated_at=at(2025, 3, 4, 10, 31)),
        "comment": {
            "id": "31877650230",
            "public": False,
            "author_id": AGENT,
            "author_is_agent": True,
            "is_voice": True,
            "body": "Outbound call to Dana Whitfield, 6 minutes. Explained the workaround.",
        },
        "actor_id": AGENT,
        "vendor_type": "trigger:deskbridge-ticket-updated",
        "meta": {},
    }
    assert event.comment.is_public_agent_reply is False


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("New", Status.new),
        ("Open", Status.open),
        ("Pending", Status.pending),
        ("On-hold", Status.hold),
        ("On hold", Status.hold),
        ("Hold", Status.hold),
        ("Solved", Status.solved),
        ("Closed", Status.closed),
        ("OPEN", Status.open),
        ("  open ", Status.open),
        ("", None),
    ],
)
def test_trigger_status_display_labels_map_case_insensitively(label, expected):
    raw = mutated("trigger_ticket_updated.json", {"status": label})
    assert parse_one(raw).ticket.status == expected


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Low", Priority.low),
        ("Normal", Priority.normal),
        ("High", Priority.high),
        ("Urgent", Priority.urgent),
        ("URGENT", Priority.urgent),
        ("-", None),  # Zendesk renders an unset priority as "-"
        ("", None),
    ],
)
def test_trigger_priority_display_labels(label, expected):
    raw = mutated("trigger_ticket_updated.json", {"priority": label})
    assert parse_one(raw).ticket.priority == expected


@pytest.mark.parametrize(
    ("label", "expected"),
    [("Question", "question"), ("Incident", "incident"), ("Task", "task"), ("", None)],
)
def test_trigger_ticket_type_labels_are_lowercased(label, expected):
    raw = mutated("trigger_ticket_updated.json", {"ticket_type": label})
    assert parse_one(raw).ticket.type == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ("billing escalation_tier2 vip", ("billing", "escalation_tier2", "vip")),
        ("  billing   vip  ", ("billing", "vip")),
        ("", ()),
        (["billing", "vip"], ("billing", "vip")),
    ],
)
def test_trigger_tags_are_space_separated(tags, expected):
    raw = mutated("trigger_ticket_updated.json", {"tags": tags})
    assert parse_one(raw).ticket.tags == expected


def test_trigger_minute_precision_times_with_an_offset_become_utc():
    raw = mutated(
        "trigger_ticket_updated.json",
        {"created_at": "2025-03-04T10:15+01:00", "updated_at": "2025-03-04T11:02+01:00"},
    )
    event = parse_one(raw)
    assert event.ticket.created_at == at(2025, 3, 4, 9, 15)
    assert event.occurred_at == event.ticket.updated_at == at(2025, 3, 4, 10, 2)
    assert event.occurred_at.tzinfo == UTC


def test_trigger_event_time_wins_over_updated_at():
    raw = mutated("trigger_ticket_updated.json", {"event_time": "2025-03-04T10:02:31Z"})
    assert parse_one(raw).occurred_at == at(2025, 3, 4, 10, 2, 31)


def test_trigger_without_any_time_occurs_when_received():
    raw = mutated("trigger_ticket_updated.json", {"updated_at": DELETE, "created_at": ""})
    event = parse_one(raw)
    assert event.occurred_at == RECEIVED
    assert event.ticket.created_at is None


def test_trigger_dedupe_key_is_the_sha256_of_the_exact_bytes():
    raw = fixture_bytes("trigger_ticket_updated.json")
    first = parse_one(raw)
    # A redelivery repeats the bytes: same key, whenever it arrives.
    assert parse_one(raw, RECEIVED + timedelta(hours=1)).dedupe_key == first.dedupe_key
    # Any other bytes are another event, even with the same content.
    assert parse_one(raw.rstrip(b"\n")).dedupe_key != first.dedupe_key
    assert first.dedupe_key == "zendesk:trigger:" + hashlib.sha256(raw).hexdigest()


def test_trigger_event_id_is_the_dedupe_key_when_given():
    a = mutated("trigger_ticket_updated.json", {"event_id": "48213-2025-03-04T10:02Z"})
    b = mutated(
        "trigger_ticket_updated.json",
        {"event_id": "48213-2025-03-04T10:02Z", "subject": "something else"},
    )
    assert (
        parse_one(a).dedupe_key
        == parse_one(b).dedupe_key
        == ("zendesk:trigger:48213-2025-03-04T10:02Z")
    )


@pytest.mark.parametrize(
    ("public", "role", "via", "expected"),
    [
        ("true", "agent", None, {"public": True, "author_is_agent": True, "is_voice": False}),
        ("True", "Admin", None, {"public": True, "author_is_agent": True, "is_voice": False}),
        ("false", "agent", None, {"public": False, "author_is_agent": True, "is_voice": False}),
        ("true", "end-user", None, {"public": True, "author_is_agent": False, "is_voice": False}),
        ("true", "End-user", None, {"public": True, "author_is_agent": False, "is_voice": False}),
        ("true", "", None, {"public": True, "author_is_agent": False, "is_voice": False}),
        ("true", "agent", "voice", {"public": True, "author_is_agent": True, "is_voice": True}),
        (
            "true",
            "end-user",
            "Voicemail",
            {"public": True, "author_is_agent": False, "is_voice": False},
        ),
        (
            "true",
            "agent",
            "Phone call (outgoing)",
            {"public": True, "author_is_agent": True, "is_voice": True},
        ),
        ("true", "agent", "Web Form", {"public": True, "author_is_agent": True, "is_voice": False}),
        (True, "agent", None, {"public": True, "author_is_agent": True, "is_voice": False}),
    ],
)
def test_trigger_comment_fields(public, role, via, expected):
    changes = {"comment_id": "31877650021", "comment_public": public, "comment_author_role": role}
    if via is not None:
        changes["comment_via"] = via
    event = parse_one(mutated("trigger_ticket_updated.json", changes))
    assert event.kind is EventKind.comment_added
    assert event.comment is not None
    assert dataclasses.asdict(event)["comment"] == {
        "id": "31877650021",
        "author_id": None,
        "body": "",
        **expected,
    }
    assert event.comment.is_public_agent_reply is (
        expected["public"] and expected["author_is_agent"] and not expected["is_voice"]
    )


@pytest.mark.parametrize("via", ["Phone call (incoming)", "Voicemail", "voice"])
def test_trigger_ticket_via_a_phone_channel_does_not_make_its_comments_calls(via):
    # `via` is {{ticket.via}}, how the ticket arrived; only comment_via marks this comment.
    changes = {
        "comment_id": "31877650021",
        "comment_public": "true",
        "comment_author_role": "Agent",
        "via": via,
    }
    event = parse_one(mutated("trigger_ticket_updated.json", changes))
    assert event.ticket.channel == via
    assert dataclasses.asdict(event)["comment"] == {
        "id": "31877650021",
        "public": True,
        "author_id": None,
        "author_is_agent": True,
        "is_voice": False,
        "body": "",
    }
    assert event.comment.is_public_agent_reply is True


@pytest.mark.parametrize(
    ("changes", "group"),
    [
        ({"group": "360010000001"}, "360010000001"),
        ({"group_id": "360010000001"}, "360010000001"),
        ({"group_id": "360010000001", "group": "Logistics"}, "360010000001"),
        ({"group": "Logistics"}, None),
        ({"group": ""}, None),
    ],
)
def test_trigger_group_is_read_as_an_id(changes, group):
    event = parse_one(mutated("trigger_ticket_updated.json", {"group": DELETE, **changes}))
    assert event.ticket.group == group


def test_a_trigger_sending_its_groups_name_is_told_to_send_its_id(caplog):
    # The README's earlier template sent "group": "{{ticket.group.name}}": not read now, so a
    # person moving the ticket goes unseen; the team is told which field to send instead.
    caplog.set_level(logging.INFO, logger="deskbridge")
    GROUP_NAME_IGNORED.forget()
    old_template = parse_one(fixture_bytes("trigger_ticket_updated.json"))
    assert old_template.ticket.group is None
    assert [(r.levelno, r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [
        (
            logging.WARNING,
            "webhook.group_name_ignored",
            {
                "ticket": "zendesk:48213",
                # The trigger's name by length and hash: an admin's name for it may hold
                # anything (tests/test_log_privacy.py).
                "trigger_length": 25,
                "trigger_sha256": "d6810744",
                "hint": 'send "group_id": "{{ticket.group.id}}" (README, Connecting Zendesk)',
            },
        )
    ]
    # Said once an hour per trigger, not on every delivery.
    parse_one(mutated("trigger_ticket_updated.json", {"ticket_id": "48214"}))
    assert len(caplog.records) == 1
    caplog.clear()
    for changes in ({"group": "360010000001"}, {"group_id": "360010000001"}, {"group": ""}):
        parse_one(mutated("trigger_ticket_updated.json", {"group": DELETE, **changes}))
    assert caplog.records == []


def test_trigger_declared_event_overrides_the_default_kind():
    raw = mutated("trigger_ticket_updated.json", {"event": "Status_Changed"})
    assert parse_one(raw).kind is EventKind.status_changed


@pytest.mark.parametrize(
    ("declared", "kind"),
    [
        ("group_assignment_changed", EventKind.group_changed),
        ("agent_assignment_changed", EventKind.assignee_changed),
        ("custom_status_changed", EventKind.status_changed),
        ("group_changed", EventKind.group_changed),
    ],
)
def test_trigger_event_may_be_named_as_the_event_subscriptions_name_it(declared, kind):
    # An admin who read the README's subscription list writes its names in a template: they
    # were refused (400, which Zendesk does not retry), and the update was lost.
    raw = mutated("trigger_ticket_updated.json", {"event": declared})
    assert parse_one(raw).kind is kind


def test_an_unknown_trigger_event_is_refused_listing_the_names_understood():
    error = parse_error(mutated("trigger_ticket_updated.json", {"event": "merged"}))
    assert (error.message, error.field) == (
        "unknown event: expected one of agent_assignment_changed, assignee_changed, "
        "comment_added, created, custom_field_changed, custom_status_changed, "
        "description_changed, group_assignment_changed, group_changed, priority_changed, "
        "status_changed, subject_changed, tags_changed, type_changed, updated",
        "event",
    )


def test_trigger_ticket_id_may_be_a_number():
    raw = mutated("trigger_ticket_updated.json", {"ticket_id": 48213})
    assert parse_one(raw).ticket_id == "48213"


def test_trigger_without_trigger_name_is_unnamed():
    raw = mutated("trigger_ticket_updated.json", {"trigger": DELETE})
    assert parse_one(raw).vendor_type == "trigger:unnamed"


def test_trigger_ids_win_over_display_names():
    raw = mutated(
        "trigger_ticket_updated.json",
        {"group_id": "360009988771", "assignee_id": AGENT, "organization_id": "360044556601"},
    )
    ticket = parse_one(raw).ticket
    assert (ticket.group, ticket.assignee, ticket.organization) == (
        "360009988771",
        AGENT,
        "360044556601",
    )


# -- malformed bodies: PayloadError with the field path ---------------------------------------


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"type": ', "line 1 column 10"),
        (b'{\n  "type": "zen:event-type:ticket.created",\n  oops\n}', "line 3 column 3"),
        (b"{'type': 'x'}", "line 1 column 2"),
        (b'{"a": 1} trailing', "line 1 column 10"),
        (b'{"a": NaN-ish}', "line 1 column"),
    ],
)
def test_invalid_json_names_line_and_column(raw, where):
    error = parse_error(raw)
    assert error.message.startswith("invalid JSON: ")
    assert where in error.message
    assert error.field == "body"


@pytest.mark.parametrize("raw", [b"", b"\r\n", b"  "])
def test_an_empty_body_is_said_to_be_empty_not_invalid_json(raw):
    # It was "invalid JSON: Expecting value at line 1 column 1".
    error = parse_error(raw)
    assert (error.message, error.field) == ("body is empty", "body")


def test_a_body_of_other_blanks_is_invalid_json_still():
    # A form feed is no JSON whitespace: json refuses it, so it is no empty body either.
    assert parse_error(b"\x0c").message.startswith("invalid JSON: ")


@pytest.mark.parametrize("raw", [b"[]", b'[{"type": "x"}]', b'"text"', b"42", b"null", b"true"])
def test_body_that_is_not_an_object_is_refused(raw):
    error = parse_error(raw)
    assert error.message == "body must be a JSON object"
    assert error.field == "body"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # Latin-1
        (b'{"ticket_id": "48213", "subject": "caf\xe9"}', "not UTF-8 text (byte 38)"),
        (b'{"ticket_id": "48213", "subject": "\xff\xfe"}', "not UTF-8 text (byte 35)"),
        # a truncated sequence
        (b'{"ticket_id": "48213", "subject": "\xc3"}', "not UTF-8 text (byte 35)"),
        # a UTF-8-encoded lone surrogate
        (b'{"ticket_id": "48213", "subject": "\xed\xa0\x80"}', "not UTF-8 text (byte 35)"),
        ('{"ticket_id": "48213"}'.encode("utf-16"), "not UTF-8 text (byte 0)"),
        ('{"ticket_id": "48213"}'.encode("utf-32"), "not UTF-8 text (byte 0)"),
    ],
    ids=["latin-1", "ff-fe", "truncated", "encoded-surrogate", "utf-16", "utf-32"],
)
def test_body_that_is_not_utf8_is_refused_naming_the_byte(raw, message):
    """Worded as a replay line or a file that is not UTF-8 (the offset in the body)."""
    assert parse_error(raw).to_json() == {"error": message, "field": "body"}


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b'{"type": "zen:event-type:ticket.created", "detail": '
        + b"[" * 10_000
        + b"]" * 10_000
        + b"}",
    ],
    ids=["arrays", "objects", "inside-detail"],
)
def test_deeply_nested_json_is_refused_not_a_crash(raw):
    error = parse_error(raw)
    assert error.message == "body is nested too deeply"
    assert error.field == "body"


def test_a_number_of_more_digits_than_python_reads_is_refused_not_a_crash():
    # Python reads at most 4,300 digits of an integer (a ValueError, no JSONDecodeError).
    body = json.loads(fixture_bytes("ticket_created.json"))
    raw = json.dumps(body).replace('"detail"', '"x": ' + "9" * 5000 + ', "detail"', 1).encode()
    error = parse_error(raw)
    assert error.message == "invalid JSON: a number longer than 4300 digits"
    assert error.field == "body"


def test_body_that_is_neither_an_event_nor_a_trigger_names_type():
    error = parse_error(b'{"hello": "world"}')
    assert error.field == "type"


CREATED = "ticket_created.json"
COMMENT = "ticket_comment_added__public_agent.json"
PRIORITY = "ticket_priority_changed.json"
STATUS = "ticket_status_changed__solved.json"
TRIGGER = "trigger_ticket_updated.json"


MALFORMED = [
    # (fixture, changes, field)
    # envelope
    (CREATED, {"type": DELETE}, "type"),
    (CREATED, {"type": ""}, "type"),
    (CREATED, {"type": ["zen:event-type:ticket.created"]}, "type"),
    (CREATED, {"id": DELETE}, "id"),
    (CREATED, {"id": None}, "id"),
    (CREATED, {"id": "  "}, "id"),
    (CREATED, {"time": DELETE}, "time"),
    (CREATED, {"time": "yesterday"}, "time"),
    (CREATED, {"time": "2025-03-04 09:15:22Z"}, "time"),
    (CREATED, {"time": "2025-02-30T09:15:22Z"}, "time"),
    (CREATED, {"time": "2025-03-04T09:15:22"}, "time"),  # no timezone
    (CREATED, {"time": 1741079722}, "time"),
    # detail
    (CREATED, {"detail": DELETE}, "detail"),
    (CREATED, {"detail": None}, "detail"),
    (CREATED, {"detail": "48213"}, "detail"),
    (CREATED, {"detail": ["48213"]}, "detail"),
    (CREATED, {"detail.id": DELETE}, "detail.id"),
    (CREATED, {"detail.id": None}, "detail.id"),
    (CREATED, {"detail.id": ""}, "detail.id"),
    (CREATED, {"detail.id": True}, "detail.id"),
    (CREATED, {"detail.id": {"value": "48213"}}, "detail.id"),
    (CREATED, {"detail.status": "WAITING"}, "detail.status"),
    (CREATED, {"detail.status": 3}, "detail.status"),
    (CREATED, {"detail.priority": "P1"}, "detail.priority"),
    (CREATED, {"detail.priority": "CRITICAL"}, "detail.priority"),
    (CREATED, {"detail.tags": 5}, "detail.tags"),
    (CREATED, {"detail.tags": ["billing", 7]}, "detail.tags"),
    (CREATED, {"detail.created_at": "soon"}, "detail.created_at"),
    (CREATED, {"detail.updated_at": "2025-03-04"}, "detail.updated_at"),
    (CREATED, {"detail.via": "web_service"}, "detail.via"),
    (CREATED, {"detail.subject": {"text": "x"}}, "detail.subject"),
    (CREATED, {"detail.assignee_id": False}, "detail.assignee_id"),
    (CREATED, {"event": "created"}, "event"),
    # event bodies
    (PRIORITY, {"event.current": "P0"}, "event.current"),
    (STATUS, {"event.current": "WAITING"}, "event.current"),
    (COMMENT, {"event.comment": DELETE}, "event.comment.id"),
    (COMMENT, {"event": {}}, "event.comment.id"),
    (COMMENT, {"event.comment.id": DELETE}, "event.comment.id"),
    (COMMENT, {"event.comment.id": ""}, "event.comment.id"),
    (COMMENT, {"event.comment": "hello"}, "event.comment"),
    (COMMENT, {"event.comment.is_public": DELETE}, "event.comment.is_public"),
    (COMMENT, {"event.comment.is_public": None}, "event.comment.is_public"),
    (COMMENT, {"event.comment.is_public": 1}, "event.comment.is_public"),
    (COMMENT, {"event.comment.is_public": "maybe"}, "event.comment.is_public"),
    (COMMENT, {"event.comment.is_public": []}, "event.comment.is_public"),
    (COMMENT, {"event.comment.author": DELETE}, "event.comment.author.is_staff"),
    (COMMENT, {"event.comment.author.is_staff": "staff"}, "event.comment.author.is_staff"),
    (COMMENT, {"event.comment.author.id": [1]}, "event.comment.author.id"),
    (COMMENT, {"event.comment.body": 42.5}, "event.comment.body"),
    # trigger bodies
    (TRIGGER, {"ticket_id": ""}, "ticket_id"),
    (TRIGGER, {"ticket_id": "ticket-48213"}, "ticket_id"),
    (TRIGGER, {"ticket_id": "-48213"}, "ticket_id"),
    (TRIGGER, {"ticket_id": "4821\uff13"}, "ticket_id"),  # a full-width digit
    (TRIGGER, {"ticket_id": "\u0664\u0668\u0662\u0661\u0663"}, "ticket_id"),  # Arabic-Indic
    (TRIGGER, {"ticket_id": None}, "ticket_id"),
    (TRIGGER, {"status": "Waiting on customer"}, "status"),
    (TRIGGER, {"priority": "P1"}, "priority"),
    (TRIGGER, {"updated_at": "10:02"}, "updated_at"),
    (TRIGGER, {"updated_at": "2025-03-04T10:02"}, "updated_at"),  # no timezone
    (TRIGGER, {"created_at": "{{ticket.created_at_with_timestamp}}"}, "created_at"),
    (TRIGGER, {"event_time": "now"}, "event_time"),
    (TRIGGER, {"tags": {"billing": True}}, "tags"),
    (TRIGGER, {"event": "merged"}, "event"),
    (TRIGGER, {"comment_id": "1", "comment_public": DELETE}, "comment_public"),
    (TRIGGER, {"comment_id": "1", "comment_public": "public"}, "comment_public"),
    (TRIGGER, {"comment_id": "1", "comment_public": 1}, "comment_public"),
]


@pytest.mark.parametrize(("name", "changes", "field"), MALFORMED)
def test_malformed_field_is_refused_with_its_path(name, changes, field):
    error = parse_error(mutated(name, changes))
    assert error.field == field, error.message
    assert error.to_json() == {"error": error.message, "field": field}


def test_payload_error_message_names_the_field_not_the_value():
    error = parse_error(mutated(CREATED, {"detail.status": "WAITING" + "x" * 200}))
    assert (error.message, error.field) == (
        "unknown ticket status: expected one of new, open, pending, hold, on-hold, on hold, "
        "solved, closed, deleted, archived, scrubbed (any case)",
        "detail.status",
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"status": "Offen"},
            "status",
            "unknown ticket status: expected one of new, open, pending, hold, on-hold, on hold, "
            "solved, closed, deleted, archived, scrubbed (any case)",
        ),
        (
            {"priority": "Dringend"},
            "priority",
            "unknown priority: expected one of low, normal, high, urgent (any case), or - or "
            "nothing for none",
        ),
    ],
)
def test_a_trigger_label_not_understood_is_refused_saying_what_is(changes, field, message):
    # A trigger's placeholders in another language than English ("Offen" for Open): the
    # admin was told "unknown ticket status" and no more.
    error = parse_error(mutated("trigger_ticket_updated.json", changes))
    assert (error.message, error.field) == (message, field)


# -- unsupported events ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    [
        "zen:event-type:ticket.merged",
        "zen:event-type:ticket.comment_made_private",
        "zen:event-type:ticket.brand_changed",
        "zen:event-type:ticket.soft_deleted",
        "zen:event-type:ticket.",
        "zen:event-type:user.created",
        "zen:event-type:organization.created",
        "zen:event-type:ticket.CREATED",
        "something-else",
    ],
)
def test_unsupported_event_types_are_ignored_not_errors(event_type):
    with pytest.raises(UnsupportedEvent) as caught:
        parse_zendesk(mutated(CREATED, {"type": event_type}), RECEIVED)
    assert caught.value.event_type == event_type


def test_a_user_event_with_a_user_detail_is_ignored():
    """A webhook subscribed to user events too: its detail is a user, not a ticket."""
    body = {
        "type": "zen:event-type:user.created",
        "account_id": 10234567,
        "id": "2b24ef10-19d4-4740-93cf-8f98ec4776c0",
        "time": "2025-03-04T09:33:18Z",
        "zendesk_event_version": "2022-06-20",
        "subject": "zen:user:9014456723011",
        "detail": {
            "created_at": "2025-03-04T09:33:18Z",
            "email": "dana.whitfield@customer.example",
            "external_id": "",
            "default_group_id": "0",
            "id": "9014456723011",
            "organization_id": "360044556601",
            "role": "end-user",
            "updated_at": "2025-03-04T09:33:18Z",
        },
        "event": {},
    }
    with pytest.raises(UnsupportedEvent) as caught:
        parse_zendesk(json.dumps(body).encode(), RECEIVED)
    assert caught.value.event_type == "zen:event-type:user.created"


def test_an_unsupported_event_is_ignored_even_if_its_detail_is_odd():
    """Ignoring is decided on the type alone: no 400 for events we do not read."""
    raw = mutated(CREATED, {"type": "zen:event-type:ticket.merged", "detail": "x", "time": 5})
    with pytest.raises(UnsupportedEvent):
        parse_zendesk(raw, RECEIVED)


# -- unicode -------------------------------------------------------------------------------

NASTY = "🚨 فاتورة التصدير 502 \u202eevil\u202c nul:\x00 end"
# The bytes as they arrive: emoji and RTL as UTF-8, NUL as a JSON escape. (A lone surrogate
# cannot be UTF-8 encoded, so it cannot be stored: it is refused, see below.)
NASTY_JSON = '"🚨 فاتورة التصدير 502 \u202eevil\u202c nul:\\u0000 end"'.encode()


def _with_subject(name: str) -> bytes:
    raw = fixture_bytes(name)
    old = json.dumps(SUBJECT).encode()
    assert raw.count(old) == 1
    return raw.replace(old, NASTY_JSON)


def test_unicode_subject_survives_an_event_body():
    event = parse_one(_with_subject(CREATED))
    assert event.ticket.subject == NASTY
    assert "\x00" in event.ticket.subject


def test_a_lone_surrogate_in_free_text_is_refused_naming_the_field():
    raw = fixture_bytes(CREATED).replace(json.dumps(SUBJECT).encode(), b'"lone:\\ud800 end"')
    error = parse_error(raw)
    assert (error.field, error.message) == (
        "detail.subject",
        "contains a lone surrogate (\\ud800-\\udfff), which cannot be stored",
    )


@pytest.mark.parametrize(
    ("name", "path", "limit", "read"),
    [
        (COMMENT, "event.comment.body", 65_536, lambda e: e.comment.body),
        (CREATED, "detail.subject", 16_384, lambda e: e.ticket.subject),
        (CREATED, "detail.description", 65_536, lambda e: e.ticket.description),
        (TRIGGER, "comment_body", 65_536, lambda e: e.comment.body),
        (TRIGGER, "subject", 16_384, lambda e: e.ticket.subject),
    ],
)
def test_free_text_longer_than_its_limit_is_cut_not_refused(caplog, name, path, limit, read):
    """A customer's long email (a quoted thread) is the event's text all the same: cut to the
    limit, the last character "…", and the cut logged with the field and the lengths only."""
    caplog.set_level(logging.INFO, logger="deskbridge")
    text = "Ä quoted thread " * 10_000 + "end"  # 160,003 characters, not ASCII

    # A trigger body carries a comment when its template has the comment's fields (and the
    # README's group_id, not the fixture's group name, which is logged of its own).
    comment = {"comment_id": "7001", "comment_public": "true"} if name == TRIGGER else {}
    group = {"group": DELETE, "group_id": "360010000001"} if name == TRIGGER else {}
    event = parse_one(mutated(name, {path: text, **comment, **group}))

    assert read(event) == text[: limit - 1] + "…"
    assert len(read(event)) == limit
    logged = [(r.getMessage(), r.deskbridge_fields) for r in caplog.records]
    assert logged == [("webhook.text_cut", {"field": path, "length": 160_003, "limit": limit})]
    assert "quoted" not in caplog.text


def test_free_text_of_exactly_its_limit_is_kept_whole(caplog):
    caplog.set_level(logging.INFO, logger="deskbridge")
    text = "Ä" * 65_536

    assert parse_one(mutated(COMMENT, {"event.comment.body": text})).comment.body == text
    assert caplog.records == []


def test_unicode_subject_survives_a_trigger_body():
    event = parse_one(_with_subject(TRIGGER))
    assert event.ticket.subject == NASTY


def test_unicode_subject_survives_ascii_escaped_json():
    raw = mutated(CREATED, {"detail.subject": NASTY})
    assert b"\\ud83d\\udea8" in raw  # the emoji as an escaped surrogate pair
    assert parse_one(raw).ticket.subject == NASTY


def test_unicode_comment_body_and_tags_survive():
    raw = mutated(
        COMMENT,
        {"event.comment.body": "مرحبا 👋🏽 \u0000", "detail.tags": ["vip", "عاجل", "🔥"]},
    )
    event = parse_one(raw)
    assert event.comment.body == "مرحبا 👋🏽 \u0000"
    assert event.ticket.tags == ("vip", "عاجل", "🔥")


def test_utf8_byte_order_mark_is_not_json():
    error = parse_error(b"\xef\xbb\xbf" + fixture_bytes(TRIGGER))
    assert error.message.startswith("invalid JSON: ")


def test_phone_born_ticket_written_reply_is_not_a_call():
    data = fixture_json("ticket_comment_added__public_agent.json")
    data["detail"]["via"] = {"channel": "voice"}
    event = parse_zendesk(json.dumps(data).encode(), RECEIVED)[0]
    assert event.comment.is_voice is False
    assert event.comment.is_public_agent_reply is True


@pytest.mark.parametrize(
    "marker",
    [{"type": "VoiceComment"}, {"via": {"channel": "phone_call_outbound"}}],
)
def test_comment_level_voice_marker_is_a_call(marker):
    data = fixture_json("ticket_comment_added__public_agent.json")
    data["event"]["comment"].update(marker)
    event = parse_zendesk(json.dumps(data).encode(), RECEIVED)[0]
    assert event.comment.is_voice is True
    assert event.comment.is_public_agent_reply is False


@pytest.mark.parametrize(
    "marker",
    [
        {"type": "VoiceComment", "via": {"channel": "voice", "source": {"rel": "voicemail"}}},
        {"via": {"channel": "voice", "source": {"rel": "Voicemail"}}},
        {"via": {"channel": "voicemail"}},
    ],
)
def test_a_voicemail_is_not_a_call(marker):
    # The customer called and nobody answered: nobody has talked to them yet, so the
    # 3-response rule's call is still owed.
    data = fixture_json("ticket_comment_added__public_agent.json")
    data["event"]["comment"].update(marker)
    event = parse_zendesk(json.dumps(data).encode(), RECEIVED)[0]
    assert event.comment.is_voice is False


# -- custom_field_changed (issue 13) ---------------------------------------------------------

FIELD_CHANGED = "ticket_custom_field_changed__problem_category.json"


def test_custom_field_changed_carries_the_new_value_under_the_field_id():
    event = parse_one(fixture_bytes(FIELD_CHANGED))
    assert event.kind is EventKind.custom_field_changed
    assert event.ticket.custom_fields == {"360012345678": "product_defect"}
    assert event.dedupe_key == "zendesk:event:5f0c2a1e-8b7d-4c3e-9a61-2d4e8f7b9c10"


@pytest.mark.parametrize(
    ("current", "value"),
    [
        ({"value": None}, ""),
        (None, ""),
        ({"value": True}, "true"),
        ({"value": 42}, "42"),
        ({"value": ["wrong_item", "transit_damage"]}, "wrong_item transit_damage"),
        ("late_delivery", "late_delivery"),
    ],
)
def test_custom_field_values_of_every_field_type_read_as_text(current, value):
    event = parse_one(mutated(FIELD_CHANGED, {"event.current": current}))
    assert event.ticket.custom_fields == {"360012345678": value}


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"event.custom_field": DELETE}, "event.custom_field.id"),
        ({"event.custom_field.id": None}, "event.custom_field.id"),
        ({"event.current": {"value": {"nested": 1}}}, "event.current.value"),
        ({"event.current": [1, 2]}, "event.current"),
    ],
)
def test_a_malformed_custom_field_change_names_the_field(changes, path):
    assert parse_error(mutated(FIELD_CHANGED, changes)).field == path


@pytest.mark.parametrize(
    ("current", "path", "message"),
    [
        (
            "\ud800",
            "event.current",
            "contains a lone surrogate (\\ud800-\\udfff), which cannot be stored",
        ),
        (
            {"value": ["wrong_item", "\udc00"]},
            "event.current.value",
            "contains a lone surrogate (\\ud800-\\udfff), which cannot be stored",
        ),
        ({"value": "x" * 16_385}, "event.current.value", "longer than 16384 characters"),
    ],
)
def test_a_custom_field_value_that_cannot_be_stored_is_refused_naming_it(current, path, message):
    # As a trigger body's `fields` are checked: the event could not be stored (a 500).
    error = parse_error(mutated(FIELD_CHANGED, {"event.current": current}))
    assert (error.field, error.message) == (path, message)


def test_a_trigger_with_an_unfilled_placeholder_in_its_text_is_taken_and_logged(caplog):
    # A misspelt placeholder in a text field is not refused (the ticket's other fields are
    # good), but every ticket of that trigger would be read wrong without a word: the fields
    # are named in a warning, what they hold is not (a field's text is the customer's).
    caplog.set_level(logging.INFO, logger="deskbridge")
    UNFILLED_PLACEHOLDER.forget()
    changes = {
        "group": DELETE,
        "group_id": "360010000001",
        "subject": "{{ticket.titel}}",
        "organization": " {{ticket.organisation.name}} ",
        "description": "The {{ticket.title}} sofa arrived torn",  # a text that names one
    }
    event = parse_one(mutated("trigger_ticket_updated.json", changes))
    assert event.ticket.subject == "{{ticket.titel}}"
    assert [(r.levelno, r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [
        (
            logging.WARNING,
            "webhook.unfilled_placeholder",
            {
                "ticket": "zendesk:48213",
                # The trigger's name by length and hash: an admin's name for it may hold
                # anything (tests/test_log_privacy.py).
                "trigger_length": 25,
                "trigger_sha256": "d6810744",
                "fields": "subject,organization",
                "hint": "a placeholder there was not filled in: check its name in the "
                "trigger's JSON body (placeholders are case-sensitive; README, Connecting "
                "Zendesk)",
            },
        )
    ]
    caplog.clear()
    parse_one(mutated("trigger_ticket_updated.json", {**changes, "ticket_id": "48214"}))
    parse_one(mutated("trigger_ticket_updated.json", {"group": DELETE, "group_id": "1"}))
    assert caplog.records == []  # said once an hour per trigger and fields
