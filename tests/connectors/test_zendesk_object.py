"""Zendesk's decoded-body entry (`Connector.parse_object`, replay's path for JSON lines) against
its bytes entry (`Connector.parse`, the webhook's): for every body, the same events, or the same
400 error naming the same field, or the same ignored event type."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from deskbridge.connectors.errors import PayloadError, UnsupportedEvent
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.workflows.model import Source
from tests.conftest import FIXTURES, fixture_bytes
from tests.connectors.test_zendesk_parse import MALFORMED, RECEIVED, mutated
from tests.test_bad_input import ZENDESK_CASES

ZENDESK = CONNECTORS[Source.zendesk]

FIXTURE_BODIES = sorted(
    p.name for p in FIXTURES.glob("*.json") if p.name.startswith(("ticket_", "trigger_"))
)

BODIES: list[tuple[str, bytes]] = [
    *((name, fixture_bytes(name)) for name in FIXTURE_BODIES),
    *(
        (f"malformed {n} {field}", mutated(name, changes))
        for n, (name, changes, field) in enumerate(MALFORMED)
    ),
    *((case[0], case[1]) for case in ZENDESK_CASES),
    ("neither event nor trigger", b'{"hello": "world"}'),
    ("unsupported type", b'{"type": "zen:event-type:ticket.merged", "detail": {}}'),
    ("not a ticket event", b'{"type": "zen:event-type:user.created"}'),
    ("lone surrogate in a subject", b'{"ticket_id": "48213", "subject": "\\ud800"}'),
    ("lone surrogate in an id", b'{"ticket_id": "48213", "event_id": "e\\udfff"}'),
    ("trigger without event_id", b'{"ticket_id": "48213", "status": "Open"}'),
    (
        "trigger without event_id, non-ASCII",
        '{"ticket_id": "48213", "subject": "Café ☕", "updated_at": "2025-03-04T10:02Z"}'.encode(),
    ),
]


def outcome(parse: Callable[[], list]) -> tuple[str, Any]:
    try:
        return ("events", [dataclasses.asdict(event) for event in parse()])
    except PayloadError as error:
        return ("400", error.to_json())
    except UnsupportedEvent as error:
        return ("ignored", error.event_type)


@pytest.mark.parametrize("raw", [b for _, b in BODIES], ids=[name for name, _ in BODIES])
def test_a_decoded_body_parses_as_its_bytes(raw, rules):
    expected = outcome(lambda: ZENDESK.parse(raw, RECEIVED, rules))
    got = outcome(lambda: ZENDESK.parse_object(json.loads(raw), lambda: raw, RECEIVED, rules))

    assert got == expected
    assert expected[0] != "events" or len(expected[1]) == 1


@pytest.mark.parametrize("raw", [b for _, b in BODIES], ids=[name for name, _ in BODIES])
def test_the_bytes_are_asked_for_only_to_hash_a_trigger_body_without_event_id(raw, rules):
    data = json.loads(raw)
    asked: list[int] = []

    def give_raw() -> bytes:
        asked.append(1)
        return raw

    outcome(lambda: ZENDESK.parse_object(data, give_raw, RECEIVED, rules))

    hashed = outcome(lambda: ZENDESK.parse(raw, RECEIVED, rules))[0] == "events" and (
        "type" not in data and "detail" not in data and not data.get("event_id")
    )
    assert asked == ([1] if hashed else [])


def test_a_trigger_body_without_event_id_is_keyed_by_the_hash_of_its_bytes(rules):
    raw = '{"ticket_id": "48213", "subject": "Café ☕"}'.encode()

    (event,) = ZENDESK.parse_object(json.loads(raw), lambda: raw, RECEIVED, rules)

    assert event.dedupe_key == f"zendesk:trigger:{hashlib.sha256(raw).hexdigest()}"
