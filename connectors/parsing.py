"""Parsing helpers every connector uses (pure, vendor-neutral): strict JSON bodies and times.

Connectors import this, never each other.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from deskbridge.connectors.errors import PayloadError

_ISO = re.compile(r"^(.*T\d\d:\d\d(?::\d\d)?)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a JSON object, or raise PayloadError saying what is wrong."""
    try:
        # Decode strictly ourselves: json.loads(bytes) would also accept UTF-16/32 and
        # UTF-8-encoded surrogates, which the rest of the pipeline cannot store as UTF-8.
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    return data


def parse_time(value: Any, path: str) -> datetime:
    """ISO-8601 with any fraction (Zendesk sends nanoseconds) or to the minute → aware UTC."""
    if not isinstance(value, str):
        raise PayloadError("expected an ISO-8601 time", path)
    match = _ISO.match(value.strip())
    if not match:
        raise PayloadError(f'expected an ISO-8601 time, got "{value[:40]}"', path)
    head, fraction, zone = match.groups()
    text = head + (fraction[:7] if fraction else "") + (zone or "")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f'expected an ISO-8601 time, got "{value[:40]}"', path) from None
    if parsed.tzinfo is None:
        raise PayloadError("time has no timezone", path)
    return parsed.astimezone(UTC)
