"""The Zendesk event-subscription parser makes its models from values it checked itself
(`build_checked`, without validating them again): every event it gives must be the one
validation makes from the same values — equal, in the same field order, the same JSON — and as
frozen."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter

from benchmarks.make_week import generate
from deskbridge.connectors.errors import PayloadError
from deskbridge.connectors.parsing import parse_time
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.workflows.model import (
    Comment,
    Source,
    TicketEvent,
    TicketSnapshot,
    build_checked,
)
from tests.conftest import FIXTURES, fixture_bytes
from tests.connectors.test_zendesk_parse import RECEIVED

ZENDESK = CONNECTORS[Source.zendesk]
EVENT_BODIES = sorted(p.name for p in FIXTURES.glob("ticket_*.json"))


def _validated(model: Any) -> Any:
    """The same model made by validation from its values."""
    values = {name: getattr(model, name) for name in model.__dataclass_fields__}
    for name, value in values.items():
        if dataclasses.is_dataclass(value):
            values[name] = _validated(value)
    return type(model)(**values)


def _assert_as_validated(model: Any) -> None:
    made = _validated(model)
    assert model == made
    assert list(model.__dict__) == list(made.__dict__)
    adapter = TypeAdapter(type(model))
    assert adapter.dump_json(model) == adapter.dump_json(made)
    assert orjson.dumps(model) == orjson.dumps(made)
    for value in model.__dict__.values():
        if dataclasses.is_dataclass(value):
            _assert_as_validated(value)


@pytest.mark.parametrize("name", EVENT_BODIES)
def test_each_fixture_event_is_the_one_validation_makes(name, rules):
    events = ZENDESK.parse(fixture_bytes(name), RECEIVED, rules)
    assert len(events) == 1
    _assert_as_validated(events[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[0].ticket_id = "1"  # frozen, as a validated one
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[0].ticket.subject = "changed"


def test_a_generated_days_events_are_the_ones_validation_makes(rules):
    lines = generate(
        agents=8, tickets_per_day=30, days=1, start=datetime(2026, 3, 2, tzinfo=UTC), seed=5
    )
    kinds = set()
    for line in lines:
        at = parse_time(line["at"], "at")
        for event in ZENDESK.parse(json.dumps(line["body"]).encode(), at, rules):
            _assert_as_validated(event)
            kinds.add(event.kind)
    assert len(lines) > 100
    assert len(kinds) >= 4  # created, comments, status and priority changes at least


def test_fields_not_given_take_fresh_defaults():
    first = build_checked(TicketSnapshot, {"subject": "a"})
    second = build_checked(TicketSnapshot, {"subject": "b"})
    assert first == TicketSnapshot(subject="a")
    assert first.custom_fields == {} and first.custom_fields is not second.custom_fields
    comment = build_checked(
        Comment, {"id": "1", "public": True, "author_is_agent": False, "body": "hi"}
    )
    assert comment == Comment(id="1", public=True, author_is_agent=False, body="hi")
    assert list(comment.__dict__) == list(Comment.__dataclass_fields__)
    event = build_checked(
        TicketEvent,
        {
            "source": Source.zendesk,
            "ticket_id": "7",
            "dedupe_key": "zendesk:event:e",
            "kind": "created",
            "occurred_at": RECEIVED,
        },
    )
    assert event.ticket == TicketSnapshot() and event.meta == {}


@pytest.mark.parametrize(
    ("fast", "table", "checks"),
    [
        ("_status_of", "_STATUS_OF", lambda p, v: p._status(p._label_of(v, "f"), "f")),
        ("_priority_of", "_PRIORITY_OF", lambda p, v: p._priority(p._label_of(v, "f"), "f")),
        ("_type_of", "_TYPE_OF", lambda p, v: (p._label_of(v, "f") or "").lower() or None),
    ],
)
def test_a_status_priority_or_type_looked_up_is_what_the_checks_give(fast, table, checks):
    """The raw values looked up at once (connectors/zendesk/parse.py) give what the checks
    give them, and values not in the table (spaces, mixed case, none) take the checks."""
    from deskbridge.connectors.zendesk import parse

    def outcome(function, value):
        try:
            return function(value)
        except PayloadError as exc:  # the same 400, field and text
            return exc.to_json()

    values = [*getattr(parse, table), " open ", "Open", "URGENT ", "Incident", "", None, 7]
    for value in values:
        assert outcome(lambda v: getattr(parse, fast)(v, "f"), value) == outcome(
            lambda v: checks(parse, v), value
        ), value
    assert len(getattr(parse, table)) >= 8
