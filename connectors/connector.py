"""The shape of one helpdesk in the connector registry (connectors/registry.py).

Each helpdesk folder (`connectors/<name>/connector.py`) builds one `Connector` from plain
functions; HTTP (connectors/http.py), replay and the app's wiring use only these. Settings are an
argument, never read at import (DESIGN rule 7).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from deskbridge.config.rules import RulesConfig
from deskbridge.config.settings import Settings
from deskbridge.workflows.model import Source, TicketEvent
from deskbridge.workflows.ports import Performer

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Outcome:
    """What a stored (or ignored) webhook request came to: its JSON summary, and the request body
    it answers (a helpdesk may answer in the body's own format)."""

    raw: bytes
    summary: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """The 200 body a helpdesk expects back."""

    content: bytes
    content_type: str


# Raise SignatureError (401) or ForbiddenError (403) unless the request is the helpdesk's own.
Verify = Callable[[Mapping[str, str], bytes, datetime, Settings], None]
# One request body into events (pure); PayloadError → 400, UnsupportedEvent → 200 `ignored`.
Parse = Callable[[bytes, datetime, RulesConfig], list[TicketEvent]]
# The same for a JSON body already decoded to an object (replay's lines): the same events and
# errors as `Parse` on its bytes; the callable gives those bytes if the parser needs them.
ParseObject = Callable[
    [dict[str, Any], Callable[[], bytes], datetime, RulesConfig], list[TicketEvent]
]
Respond = Callable[[Outcome], Answer]
# The helpdesk's write-back performer: the real client with credentials, else a dry run.
BuildWriter = Callable[[Settings, RulesConfig], Performer]
# What to set when the settings leave `verify` refusing every webhook (said at start-up); None
# when they do not.
FindMissingWebhookSettings = Callable[[Settings], str | None]
# A ticket's page in the helpdesk, from its id, for people (Slack's link and Open ticket, the
# pager's link); None when the settings do not say where the helpdesk is.
BuildTicketUrl = Callable[[str, Settings], str | None]


@dataclass(frozen=True)
class Connector:
    source: Source
    verify: Verify
    parse: Parse
    respond: Respond
    build_writer: BuildWriter
    find_missing_webhook_settings: FindMissingWebhookSettings
    build_ticket_url: BuildTicketUrl
    # Helpdesks with JSON bodies may take them decoded (replay); None: only `parse`.
    parse_object: ParseObject | None = None
    # A ticket's number (TicketState.number) as the helpdesk's people say it ("Case
    # 00001042"); None: its tickets are named by their ids (`#48213`).
    name_number: Callable[[str], str] | None = None
    # The inbox's copy of a body (events.body), for a helpdesk whose bodies may carry what must
    # not be kept (a live session id); None: the body as it came, decoded.
    stored_body: Callable[[bytes], str] | None = None


def build_json_answer(summary: dict[str, Any]) -> Answer:
    """The summary as compact, key-sorted JSON (the bytes Flask's jsonify gives). The same
    few summaries answer nearly every webhook (accepted or duplicate, 1 event): each is
    encoded once. Keyed by each value's class too, so 1 and True are not one answer."""
    try:
        # Built by C calls only (no generator): the items, then their values' classes.
        return _cached_json_answer(tuple(summary.items()), tuple(map(type, summary.values())))
    except TypeError:  # a value that cannot be a key (a list): encoded afresh
        return _encode_json_answer(summary)


@lru_cache(maxsize=256)  # bounded: an ignored event's summary repeats its type
def _cached_json_answer(items: tuple[tuple[str, Any], ...], _classes: tuple[type, ...]) -> Answer:
    return _encode_json_answer(dict(items))


def _encode_json_answer(summary: dict[str, Any]) -> Answer:
    text = json.dumps(summary, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return Answer((text + "\n").encode(), JSON_CONTENT_TYPE)
