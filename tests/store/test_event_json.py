"""The event's stored JSON (encode_event_json) is pydantic's (`dump_event_json()`), byte for
byte: the decider reads it back, and rows stored before and after the change must read alike."""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskbridge.connectors.zendesk.parse import parse_zendesk
from deskbridge.store import events as store_events
from deskbridge.store.events import build_event_row, encode_event_json
from deskbridge.workflows.model import (
    Comment,
    EventKind,
    Priority,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
    dump_event_json,
)
from tests.conftest import FIXTURES

NOW = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)  # after every fixture's events
ZENDESK_FIXTURES = sorted(
    path.name for path in FIXTURES.glob("*.json") if path.name.startswith(("ticket_", "trigger_"))
)


@pytest.mark.parametrize("name", ZENDESK_FIXTURES)
def test_each_fixture_event_is_stored_as_pydantic_writes_it_without_pydantic(name, monkeypatch):
    (event,) = parse_zendesk((FIXTURES / name).read_bytes(), NOW)
    expected = dump_event_json(event)

    def refused(event):
        raise AssertionError("dump_event_json called: the usual event took the slow path")

    monkeypatch.setattr(store_events, "dump_event_json", refused)
    assert encode_event_json(event) == expected
    assert build_event_row(event, "{}", NOW)["event"] == expected


texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12) | st.sampled_from(
    ["", "\x00\x1f\x7f\x80\x9f", "\u2028\u2029\ufeff\uffff", 'a"b\\c/d', "\U0001f600 é 中"]
)
zones = st.sampled_from(
    [
        UTC,
        timezone(timedelta(0)),
        timezone(timedelta(hours=1)),
        timezone(timedelta(hours=-5, minutes=-30)),
        timezone(timedelta(seconds=30)),  # pydantic and orjson write this one differently
        timezone(timedelta(hours=23, minutes=59, seconds=59)),
    ]
)
aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones
)
times = st.none() | aware | st.datetimes()
optional = st.none() | texts
snapshots = st.builds(
    TicketSnapshot,
    subject=optional,
    description=optional,
    status=st.none() | st.sampled_from(Status),
    priority=st.none() | st.sampled_from(Priority),
    type=optional,
    tags=st.none() | st.lists(texts, max_size=3).map(tuple),
    group=optional,
    assignee=optional,
    requester=optional,
    organization=optional,
    channel=optional,
    created_at=times,
    updated_at=times,
    custom_fields=st.dictionaries(texts, texts, max_size=3),
)
comments = st.builds(
    Comment,
    id=texts,
    public=st.booleans(),
    author_id=optional,
    author_is_agent=st.booleans(),
    is_voice=st.booleans(),
    body=texts,
)
events = st.builds(
    TicketEvent,
    source=st.sampled_from(Source),
    ticket_id=texts,
    dedupe_key=texts,
    kind=st.sampled_from(EventKind),
    occurred_at=aware,
    ticket=snapshots,
    comment=st.none() | comments,
    actor_id=optional,
    vendor_type=texts,
    meta=st.dictionaries(texts, texts, max_size=3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_any_event_is_stored_as_pydantic_writes_it(event):
    assert encode_event_json(event) == dump_event_json(event)


def test_the_times_pydantic_and_orjson_write_differently_take_pydantic_s_path():
    at = datetime(2026, 3, 2, 8, 0, 27, tzinfo=timezone(timedelta(seconds=30)))
    event = TicketEvent(
        source=Source.zendesk, ticket_id="1", dedupe_key="k", kind=EventKind.created, occurred_at=at
    )
    assert encode_event_json(event) == dump_event_json(event)
    assert '"occurred_at":"2026-03-02T08:00:27+00:00"' in encode_event_json(event)


def _writes_alike(annotation) -> bool:
    """Types pydantic and orjson write alike (text, booleans, enums of text, times, these
    models): a new field of another type (a float, say) must be checked before it is stored
    this way."""
    if annotation in (str, bool, type(None), datetime, TicketSnapshot, Comment):
        return True
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return True
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return all(_writes_alike(arg) for arg in args)
    return (origin, args) in ((tuple, (str, Ellipsis)), (dict, (str, str)))


@pytest.mark.parametrize("model", [TicketEvent, TicketSnapshot, Comment])
def test_the_stored_models_have_only_fields_both_write_alike(model):
    assert {
        name: field.annotation
        for name, field in model.__pydantic_fields__.items()
        if not _writes_alike(field.annotation)
    } == {}
