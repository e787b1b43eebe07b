"""parse_json_object reads bodies with orjson and falls back to the standard library's json
where the two could differ: every body must give what the standard library alone gives
(parse_json_object_exactly), the same value (types, key order, a float's sign) or the same
400. Bodies: the edges where the two libraries part (hand-listed), random JSON, and random
JSON with a byte changed."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskbridge.connectors.errors import PayloadError
from deskbridge.connectors.parsing import (
    load_json_text,
    parse_json_object,
    parse_json_object_exactly,
)


def outcome(raw: bytes) -> tuple:
    """The value in a form where equal means identical (int 1 is not float 1.0, -0.0 is not
    0.0, key order counts), or the 400's text and field."""
    try:
        return ("value", _exact(parse_json_object(raw)))
    except PayloadError as error:
        return ("400", error.message, error.field)


def reference(raw: bytes) -> tuple:
    try:
        return ("value", _exact(parse_json_object_exactly(raw)))
    except PayloadError as error:
        return ("400", error.message, error.field)


def _exact(value: Any) -> list:
    """Pre-order, without recursion (some bodies nest 900 deep): each object with its keys in
    order, each array with its length, each number with its type."""
    out: list = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out.append(("object", list(item)))
            stack.extend(reversed(item.values()))
        elif isinstance(item, list):
            out.append(("array", len(item)))
            stack.extend(reversed(item))
        elif isinstance(item, float):
            out.append(("float", "nan" if math.isnan(item) else item.hex()))
        else:
            out.append((type(item).__name__, item))
    return out


EDGES = [
    b'{"a": 1, "b": 2, "a": 3}',  # a repeated key: the last value, at the first one's place
    b'{"a": -0, "b": -0.0, "c": 0.0, "d": 1E2, "e": 1e-400, "f": 2.2250738585072011e-308}',
    b'{"a": 18446744073709551615, "b": -9223372036854775808}',  # 64-bit edges: ints
    b'{"a": 18446744073709551616}',  # beyond: orjson would give a float
    b'{"a": -9223372036854775809}',
    b'{"a": [12345678901234567890123456789]}',
    b'{"a": 1' + b"0" * 5000 + b"}",  # longer than Python converts: a 400
    b'{"a": 9007199254740993.0, "b": 123456789012345678901234567890.5, "c": 0.1}',
    b'{"a": 1.7976931348623157e308, "b": 1.7976931348623159e308, "c": -1e400}',
    b'{"a": NaN, "b": Infinity, "c": -Infinity}',
    b'{"a": "\\ud800", "b": "\\udc00\\ud800"}',  # lone surrogates (JSON escapes)
    b'{"a": "\\ud83d\\ude00", "b": "\\u0000", "c": "\\/", "\\u00e9": "\xc3\xa9"}',
    b'{"a": "\xed\xa0\x80"}',  # a UTF-8-encoded surrogate
    b'{"a": "\xc0\x80"}',  # overlong
    b'{"a": "\xf4\x90\x80\x80"}',  # beyond U+10FFFF
    b'\xef\xbb\xbf{"a": 1}',  # a byte order mark
    b"\xff\xfe{\x00}\x00",
    b'{"a": "\x01"}',
    b'{"a": "\x7f\xc2\x85\xe2\x80\xa8"}',
    b' \t\r\n{"a": []} \t\r\n',
    b'\x0c{"a": 1}',
    b'{"a": 1}\x00',
    b'{"a": 1} x',
    b'{"a": true,}',
    b'{"a": 01}',
    b'{"a": 1.}',
    b'{"a": .5}',
    b'{"a": +1}',
    b'{"a": -}',
    b"{'a': 1}",
    b"",
    b"null",
    b"[1, 2]",
    b'"text"',
    b"12345678901234567890123",
    b'{"a": ' + b"[" * 900 + b"]" * 900 + b"}",
    b'{"a": ' + b"[" * 1023 + b"]" * 1023 + b"}",
    b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"a": ' + b'{"b": ' * 700 + b"1" + b"}" * 700 + b"}",
]


@pytest.mark.parametrize("raw", EDGES, ids=range(len(EDGES)))
def test_each_edge_is_read_as_the_standard_library_reads_it(raw):
    assert outcome(raw) == reference(raw)


def test_the_edges_include_values_orjson_reads_differently_and_bodies_it_refuses():
    """The list above is worth its keep: it has bodies orjson alone would give another value
    (big integers) and bodies the standard library alone reads and orjson refuses."""
    import orjson

    assert reference(b'{"a": 18446744073709551616}') == (
        "value",
        [("object", ["a"]), ("int", 18446744073709551616)],
    )
    assert orjson.loads(b'{"a": 18446744073709551616}') == {"a": 1.8446744073709552e19}
    assert reference(b'{"a": "\\ud800"}') == ("value", [("object", ["a"]), ("str", "\ud800")])
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(b'{"a": "\\ud800"}')


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.integers(min_value=-(2**63) - 2, max_value=2**64 + 2)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["\ud800", "\udfff\ud800", "\x00", "\u2028", "\U0001f600", "é"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=16,
)
objects = st.dictionaries(st.text(max_size=6), json_values, max_size=5)
numbers = st.from_regex(
    r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,25})?([eE][-+]?[0-9]{1,3})?", fullmatch=True
)


@st.composite
def bodies(draw) -> bytes:
    text = json.dumps(
        draw(objects),
        ensure_ascii=draw(st.booleans()),
        separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])),
    )
    return text.encode("utf-8", "surrogatepass")


@st.composite
def changed_bodies(draw) -> bytes:
    raw = bytearray(draw(bodies()))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(raw)))
        byte = draw(st.sampled_from(b'{}[]",:\\-+.eE0189 \x00\x80\xc3\xed\xff'))
        action = draw(st.sampled_from(["insert", "replace", "delete"]))
        if action == "insert" or at == len(raw):
            raw.insert(at, byte)
        elif action == "replace":
            raw[at] = byte
        else:
            del raw[at]
    return bytes(raw)


SAME = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SAME
@given(bodies())
def test_random_json_is_read_as_the_standard_library_reads_it(raw):
    assert outcome(raw) == reference(raw)


@SAME
@given(changed_bodies())
def test_random_json_with_a_byte_changed_is_read_or_refused_alike(raw):
    assert outcome(raw) == reference(raw)


@SAME
@given(st.lists(numbers, min_size=1, max_size=5))
def test_number_literals_are_read_as_the_standard_library_reads_them(literals):
    raw = ('{"n": [' + ", ".join(literals) + "]}").encode()
    assert outcome(raw) == reference(raw)


# load_json_text (replay's lines): json.loads's value or its very exception, for text.


def text_outcome(text: str, raw: bytes | None = None) -> tuple:
    try:
        return ("value", _exact(load_json_text(text, raw)))
    except (ValueError, RecursionError) as error:
        return (type(error).__name__, str(error))


def outcomes(text: str) -> tuple:
    """load_json_text's outcome for the text alone, and with its UTF-8 bytes (replay's lines
    read from a file), when it has them (no lone surrogates)."""
    try:
        raw = text.encode()
    except UnicodeEncodeError:
        return (text_outcome(text),)
    return text_outcome(text), text_outcome(text, raw)


def text_reference(text: str) -> tuple:
    try:
        return ("value", _exact(json.loads(text)))
    except (ValueError, RecursionError) as error:
        return (type(error).__name__, str(error))


BIG_INTEGER = '{"a": 18446744073709551616}'  # orjson alone: a float
REFUSED_BY_ORJSON = [
    '{"a": "\\ud800", "b": NaN, "c": 1e400}',  # each of these
    '{"a": "\ud800"}',  # a lone surrogate in the text itself
]
DEEP = "[" * 1000 + "]" * 1000  # within orjson's depth, past the standard library's
TEXT_EDGES = [
    *(raw.decode("utf-8", "surrogatepass") for raw in EDGES if raw.isascii()),
    BIG_INTEGER,
    *REFUSED_BY_ORJSON,
    DEEP,
    '{"a": 1} x',
    '"text"',
    "[1, 2]",
    "1" * 5000,  # longer than Python converts: ValueError
]


@pytest.mark.parametrize("text", TEXT_EDGES, ids=range(len(TEXT_EDGES)))
def test_each_text_edge_is_read_or_refused_as_json_loads_does(text):
    assert outcomes(text) == (text_reference(text),) * len(outcomes(text))


def test_the_text_edges_include_values_orjson_reads_differently_and_texts_it_refuses():
    import orjson

    assert orjson.loads(BIG_INTEGER) == {"a": 1.8446744073709552e19}
    assert text_outcome(BIG_INTEGER) == ("value", [("object", ["a"]), ("int", 2**64)])
    for refused in REFUSED_BY_ORJSON:
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(refused)
    assert len(orjson.loads(DEEP)) == 1
    assert text_outcome(DEEP)[0] == "RecursionError"


@SAME
@given(bodies())
def test_random_json_text_is_read_as_json_loads_reads_it(raw):
    text = raw.decode("utf-8", "surrogatepass")
    assert outcomes(text) == (text_reference(text),) * len(outcomes(text))


@SAME
@given(changed_bodies())
def test_random_json_text_with_a_byte_changed_is_read_or_refused_alike(raw):
    text = raw.decode("utf-8", "replace")
    assert outcomes(text) == (text_reference(text),) * len(outcomes(text))
