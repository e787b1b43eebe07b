"""parse_time reads the usual `2026-03-02T08:00:27Z`, and an event subscription's
`2026-03-02T08:00:27.123456789Z`, without the general pattern: for every text of those
lengths, what it reads (or refuses) is what the general path gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskbridge.connectors import parsing
from deskbridge.connectors.errors import PayloadError
from deskbridge.connectors.parsing import _parse_iso, parse_time


def _general(value: str) -> datetime | str:
    """The general pattern's path alone, without the shortcut."""
    shortcut = parsing._parse_utc_seconds
    parsing._parse_utc_seconds = lambda value: None
    try:
        return _parse_iso.__wrapped__(value)
    finally:
        parsing._parse_utc_seconds = shortcut


SHAPED = [
    "2026-03-02T08:00:27Z",
    "1999-12-31T23:59:59Z",  # out of range
    "2100-01-01T00:00:00Z",  # out of range
    "2026-02-30T08:00:27Z",  # no such day
    "2026-03-02T24:00:00Z",
    "2026-03-02T08:00:60Z",
    "2026-W10-1T08:00:27Z",  # a week date: both read it
    "20260302T08:00:27.5Z",
    "2026-03-02T080027.5Z",  # fromisoformat reads it, the pattern does not
    "2026-03-02T08:00:2\u0667Z",  # a non-ASCII digit
    " 026-03-02T08:00:27Z",
]


@pytest.mark.parametrize("value", SHAPED)
def test_the_usual_shape_reads_as_the_general_path(value):
    assert len(value) == 20
    assert _parse_iso.__wrapped__(value) == _general(value)


def test_the_usual_shape_is_utc():
    at = parse_time("2026-03-02T08:00:27Z", "at")
    assert at == datetime(2026, 3, 2, 8, 0, 27, tzinfo=UTC) and at.tzinfo is UTC
    with pytest.raises(PayloadError, match="out of range"):
        parse_time("1999-12-31T23:59:59Z", "at")


@given(st.text(alphabet="0123456789-:TZW.+ ", min_size=20, max_size=20))
def test_any_text_of_that_length_reads_as_the_general_path(value):
    assert _parse_iso.__wrapped__(value) == _general(value)


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2110, 1, 1)))
def test_any_instant_reads_as_the_general_path(moment):
    value = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _parse_iso.__wrapped__(value) == _general(value)


NANOSECONDS = [
    "2026-03-02T08:00:27.123456789Z",
    "2026-03-02T08:00:27.000000000Z",
    "2026-03-02T08:00:27.999999999Z",  # cut to microseconds, not rounded
    "1999-12-31T23:59:59.999999999Z",  # out of range
    "2026-02-30T08:00:27.123456789Z",  # no such day
    "2026-03-02T08:00:27.12345678xZ",  # a letter in the digits dropped
    "2026-03-02T08:00:27.123456\u0667\u0667\u0667Z",  # non-ASCII digits dropped, as by \d
    "2026-03-02T08:00:27.12345\u06678\u0667\u0667Z",  # one read
    "2026-03-02T08:00:27.123456\u00b2\u00b2\u00b2Z",  # digits, but not decimal ones
    "2026-03-02T08:00:27,123456789Z",
    "2026-03-02T08:00:27.1234567+0Z",
    " 026-03-02T08:00:27.123456789Z",
    "2026-W10-1T08:00:27.123456789Z",
]


@pytest.mark.parametrize("value", NANOSECONDS)
def test_the_event_subscription_shape_reads_as_the_general_path(value):
    assert len(value) == 30
    assert _parse_iso.__wrapped__(value) == _general(value)


def test_the_event_subscription_shape_keeps_microseconds_and_is_utc():
    at = parse_time("2026-03-02T08:00:27.123456789Z", "time")
    assert at == datetime(2026, 3, 2, 8, 0, 27, 123456, tzinfo=UTC) and at.tzinfo is UTC


@given(st.text(alphabet="0123456789-:TZW.+ \u0667", min_size=30, max_size=30))
def test_any_text_of_the_event_subscription_length_reads_as_the_general_path(value):
    assert _parse_iso.__wrapped__(value) == _general(value)


@given(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2110, 1, 1)),
    st.integers(0, 999),
)
def test_any_instant_in_nanoseconds_reads_as_the_general_path(moment, nanoseconds):
    value = moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{nanoseconds:03d}Z"
    assert _parse_iso.__wrapped__(value) == _general(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "required field is missing"),
        (1741080000, "expected an ISO-8601 time"),
        ("", "expected an ISO-8601 time"),
    ],
)
def test_a_missing_time_is_said_to_be_missing_and_a_wrong_one_wrong(value, message):
    """A missing time said "expected an ISO-8601 time", unlike every other missing field."""
    with pytest.raises(PayloadError) as raised:
        parse_time(value, "detail.created_at")
    assert raised.value.to_json() == {"error": message, "field": "detail.created_at"}
