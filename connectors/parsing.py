"""Parsing helpers every connector uses (pure, vendor-neutral): strict JSON bodies and times.

Connectors import this, never each other.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from deskbridge.config.logging import log_event
from deskbridge.connectors.errors import PayloadError
from deskbridge.workflows.wording import describe_not_utf8

_ISO = re.compile(r"^(.*T\d\d:\d\d(?::\d\d)?)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")

# What a time that cannot be read is told (a connector may say more: the format it expects).
NOT_A_TIME = "expected an ISO-8601 time"
NO_TIMEZONE = "time has no timezone"

# Times a helpdesk can mean. Year 1 or 9999 is a broken template or an attack, and the SLA
# arithmetic (a deadline hours or days later) overflows at the edges of datetime's range.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

# Bounded lengths for every string that is stored (ticket keys are 128 characters in the
# store, dedupe keys 255; PostgreSQL refused what SQLite kept, and answered it as "store down").
MAX_ID = 64
MAX_LABEL = 255
MAX_SUBJECT = 16_384  # far beyond any helpdesk's; a longer one is cut for Slack
MAX_TEXT = 65_536  # Zendesk's own limit for a comment

# A free text longer than its limit is cut to the limit, ending in this mark (see fit_text).
CUT_MARK = "\u2026"  # …

# How far past the time it was received an event may say it happened. A helpdesk stamps an
# event before it sends it, so a later time is the two clocks disagreeing, or a broken or
# forged body. Servers kept by NTP agree within a second, but a host whose NTP stopped, or a
# helpdesk's clock, can be minutes off (tests/test_replay_coaching.py replays one 20 minutes
# ahead). A refusal there loses the event (Zendesk does not retry a 400; Salesforce drops it
# after 24 hours), while a generous margin only delays: one bad time freezes a ticket's state
# (newer snapshots are taken only by event time) for an hour at most.
MAX_CLOCK_SKEW = timedelta(hours=1)

log = logging.getLogger("deskbridge.webhooks")


def describe_json_error(exc: ValueError | RecursionError) -> str:
    """Why json.loads refused a text, for a line-by-line reader (replay, labelled sets): it
    raises JSONDecodeError, RecursionError when nested too deeply, and a plain ValueError for
    an integer longer than Python converts."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return f"a number longer than {sys.get_int_max_str_digits()} digits"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a JSON object, or raise PayloadError saying what is wrong.

    orjson reads the usual body in under half the instructions of the standard library's json
    (every webhook's first step). Where the two could differ, the body is read by
    `parse_json_object_exactly` instead, so every body gives the value and every refusal the
    400 it gives there: whatever orjson refuses (lone surrogates, NaN and Infinity, numbers
    out of a float's range, nesting past 1024), a run of 19 digits (an integer beyond 64 bits,
    which orjson reads as a float without a word) and a body that may nest deeper than the
    standard library reads (its limit is the interpreter's recursion limit, less the stack
    in use)."""
    if _NINETEEN_DIGITS in raw.translate(_DIGITS_AS_ZERO) or (
        len(raw) > 2 * _SAFE_DEPTH and raw.count(b"{") + raw.count(b"[") > _SAFE_DEPTH
    ):
        return parse_json_object_exactly(raw)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return parse_json_object_exactly(raw)
    if data.__class__ is not dict:
        return parse_json_object_exactly(raw)
    return data


_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0000000000")
_NINETEEN_DIGITS = b"0" * 19
# Nesting the standard library reads in any request (its limit, the interpreter's recursion
# limit of 1,000, counts the frames in use). Each level takes two bytes at least, so a shorter
# body is not counted; in a longer one brackets inside strings count too (the exact path taken
# needlessly, never wrongly).
_SAFE_DEPTH = 800


def load_json_text(text: str, raw: bytes | None = None) -> Any:
    """`json.loads(text)`: the same value, or the same exception (JSONDecodeError, ValueError,
    RecursionError), read by orjson where the two cannot differ, as `parse_json_object` does
    (replay reads 37,000 lines of JSON for a week). `raw`, when given, is `text` in UTF-8
    (a line as read from the file): screened and read as it is. A text with a run of 19
    digits or many brackets, or one orjson refuses, is read by the standard library."""
    if raw is None:
        try:
            raw = text.encode()
        except UnicodeEncodeError:  # lone surrogates: the standard library's way
            return json.loads(text)
    if _NINETEEN_DIGITS in raw.translate(_DIGITS_AS_ZERO) or (
        len(raw) > 2 * _SAFE_DEPTH and raw.count(b"{") + raw.count(b"[") > _SAFE_DEPTH
    ):
        return json.loads(text)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # refused (NaN, escaped lone surrogates …)
        return json.loads(text)


def parse_json_object_exactly(raw: bytes) -> dict[str, Any]:
    """`parse_json_object` by the standard library's json alone: the reference for its values
    and errors."""
    check_not_empty(raw)
    try:
        # Decode strictly ourselves: json.loads(bytes) would also accept UTF-16/32 and
        # UTF-8-encoded surrogates, which the rest of the pipeline cannot store as UTF-8.
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(describe_not_utf8(exc), "body") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise PayloadError("body is nested too deeply", "body") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", "body"
        ) from None
    except ValueError as exc:
        # An integer longer than Python converts (no JSONDecodeError): a 400, not a 500.
        raise PayloadError(f"invalid JSON: {describe_json_error(exc)}", "body") from None
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object", "body")
    return data


def check_not_empty(raw: bytes) -> None:
    """A body with nothing in it is said to be empty: the parsers' "Expecting value at line 1
    column 1" or "no element found" sent admins looking for a typo in a body never sent (a
    trigger or a test with no body)."""
    if not raw.strip(_WHITESPACE):
        raise PayloadError("body is empty", "body")


_WHITESPACE = b" \t\r\n"  # JSON's and XML's: what their parsers skip around a document


def check_label(value: str, limit: int, path: str) -> str:
    """A short stored string (an id, a status, a tag, an event id): bounded and printable. NUL
    and lone surrogates cannot be stored by PostgreSQL (SQLite kept them, PostgreSQL answered
    "store down"), and CR/LF or escapes have no place in an id. Free text (subjects, comment
    bodies) is only bounded: it is stored byte-exact as escaped JSON."""
    check_length(value, limit, path)
    found = _CONTROL_OR_SURROGATE.search(value)
    if found:
        shown = found.group().encode("unicode_escape", "backslashreplace").decode("ascii")
        raise PayloadError(f"contains a control character ({shown})", path)
    return value


def is_clean_label(value: str, limit: int) -> bool:
    """Whether `check_label` would pass the value as it is (the common case, without raising).
    Printable ASCII (the usual id, status or channel) has nothing the pattern looks for."""
    return len(value) <= limit and (
        (value.isascii() and value.isprintable()) or _CONTROL_OR_SURROGATE.search(value) is None
    )


# Unicode's categories Cc (control: U+0000-001F, U+007F-009F) and Cs (surrogates), as one
# C-level search instead of a category look-up per character (every id of every webhook).
_CONTROL_OR_SURROGATE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def check_text(value: str, limit: int, path: str) -> str:
    """Free text (a subject, a comment): bounded, and encodable as UTF-8 (a lone surrogate,
    which JSON can carry as an escape, cannot be stored). NUL and the rest are kept."""
    check_length(value, limit, path)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(
            "contains a lone surrogate (\\ud800-\\udfff), which cannot be stored", path
        ) from None
    return value


def fit_text(value: str, limit: int, path: str) -> str:
    """Free text (a subject, a description, a comment's or an email's body): encodable as
    UTF-8 (as check_text), and cut to `limit` characters, the last one CUT_MARK, when longer.
    Not refused: a long text is a real customer's (an email quoting its thread), and refusing
    it refuses the event, and with a Salesforce message every notification in it. The cut is
    logged with the field and the lengths, never the text."""
    if len(value) <= limit:
        return check_text(value, limit, path)
    check_text(value, len(value), path)
    log_event(log, logging.WARNING, "webhook.text_cut", field=path, length=len(value), limit=limit)
    return value[: limit - 1] + CUT_MARK


def check_not_future(at: datetime, received_at: datetime, path: str) -> datetime:
    """An event's time, refused when it is more than MAX_CLOCK_SKEW after the time the event
    was received: accepted, it would be the ticket's newest snapshot until that time came, and
    every real event before it would be taken as stale. The time is not repeated (check_id)."""
    if at - received_at > MAX_CLOCK_SKEW:
        minutes = int(MAX_CLOCK_SKEW.total_seconds() // 60)
        raise PayloadError(f"time is more than {minutes} minutes after it was received", path)
    return at


def check_length(value: str, limit: int, path: str) -> str:
    if len(value) > limit:
        raise PayloadError(f"longer than {limit} characters", path)
    return value


def check_id(value: str | None, pattern: re.Pattern[str], expected: str, path: str) -> str | None:
    """An id as the helpdesk makes them, or PayloadError naming the field. The value is not
    repeated: what arrives in an id field may be an email address, and errors are logged."""
    if value is None or pattern.fullmatch(value):
        return value
    raise PayloadError(f"expected {expected}", path)


def parse_time(value: Any, path: str) -> datetime:
    """ISO-8601 with any fraction (Zendesk sends nanoseconds) or to the minute → aware UTC."""
    if not isinstance(value, str):
        if value is None:  # absent or null: said as any missing field is, not as a bad value
            raise PayloadError("required field is missing", path)
        raise PayloadError(NOT_A_TIME, path)
    parsed = _parse_iso(value)
    if isinstance(parsed, str):
        raise PayloadError(parsed, path)
    return parsed


def _parse_utc_seconds(value: str) -> datetime | None:
    """`2026-03-02T08:00:27Z`, the usual shape (every event of a replayed week has one of its
    own), and `2026-03-02T08:00:27.123456789Z`, an event subscription's time (nanoseconds, a
    new one for every webhook), read without the general pattern: what the pattern's path
    would read from it (of the fraction, its first six digits), or None to take that path.
    The colons are checked: fromisoformat would also read other shapes the pattern refuses
    (`T080027.5Z`); the dropped digits as the pattern's \\d does (isdecimal)."""
    if len(value) == 20 and value[10] == "T" and value[13] == ":" == value[16] and value[19] == "Z":
        text = value
    elif (
        len(value) == 30
        and value[10] == "T"
        and value[13] == ":" == value[16]
        and value[19] == "."
        and value[29] == "Z"
        and value[26:29].isdecimal()
    ):
        text = value[:26] + "+00:00"
    else:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@lru_cache(maxsize=4096)  # a ticket's times come again in each of its events
def _parse_iso(value: str) -> datetime | str:
    """The instant, or what is wrong with the text (the caller names the field). The text is
    not repeated, as check_id does not: a 400's error is logged, and a time field can hold
    anything, an email address among it."""
    parsed = _parse_utc_seconds(value)
    if parsed is None:
        match = _ISO.match(value.strip())
        if not match:
            return NOT_A_TIME
        head, fraction, zone = match.groups()
        text = head + (fraction[:7] if fraction else "") + (zone or "")
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return NOT_A_TIME
    if parsed.tzinfo is None:
        return NO_TIMEZONE
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        parsed = EARLIEST - timedelta(days=1)
    if not EARLIEST <= parsed < LATEST:
        return f"time out of range ({EARLIEST.year}-{LATEST.year - 1})"
    return parsed


def unfilled_template_field(
    error: PayloadError, value: Any, field: re.Pattern[str], shown: str, advice: str
) -> PayloadError:
    """`error` said as a template's field that arrived as written, not filled in by the
    helpdesk (a Zendesk placeholder `{{ticket.id}}`, a Salesforce merge field `{!$Record.Id}`),
    when the refused value holds one: the admin then fixes the template, where "expected a
    Zendesk id (digits)" left them wondering. `field` finds one (its group 1, the name);
    `shown` writes it, `{}` for the name. The name is quoted only when it is one (the
    template's words, never the ticket's); any other refused value is still not repeated."""
    found = field.search(value) if isinstance(value, str) else None
    if found is None:
        return error
    name = _TEMPLATE_NAME.fullmatch(found.group(1))
    what = shown.format(name.group(1) if name else "...")
    return PayloadError(f"holds {what}, not filled in by {advice}", error.field)


_TEMPLATE_NAME = re.compile(r"\s*(\$?[A-Za-z_][\w.$]{0,99})\s*")
