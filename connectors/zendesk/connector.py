"""Zendesk's registry entry: signed webhooks (signature.py), event and trigger bodies (parse.py),
JSON answers, zenpy write-back (client.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from deskbridge.config.rules import RulesConfig
from deskbridge.config.settings import Settings
from deskbridge.connectors.connector import Answer, Connector, Outcome, build_json_answer
from deskbridge.connectors.zendesk.parse import parse_zendesk, parse_zendesk_object
from deskbridge.connectors.zendesk.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)
from deskbridge.workflows.model import Source, TicketEvent
from deskbridge.workflows.ports import DryRunPerformer, Performer


def verify(headers: Mapping[str, str], raw: bytes, now: datetime, settings: Settings) -> None:
    verify_signature(
        settings.zendesk_secrets,
        headers.get(SIGNATURE_HEADER),
        headers.get(TIMESTAMP_HEADER),
        raw,
        now,
        _seconds(settings.zendesk_signature_tolerance),
    )


@lru_cache(maxsize=8)
def _seconds(count: int) -> timedelta:
    return timedelta(seconds=count)  # the same few values, asked by every webhook


def parse(raw: bytes, now: datetime, rules: RulesConfig) -> list[TicketEvent]:
    return parse_zendesk(raw, now)


def parse_object(
    data: dict[str, Any], raw: Callable[[], bytes], now: datetime, rules: RulesConfig
) -> list[TicketEvent]:
    return parse_zendesk_object(data, raw, now)


def respond(outcome: Outcome) -> Answer:
    return build_json_answer(outcome.summary)


def build_writer(settings: Settings, rules: RulesConfig) -> Performer:
    if not settings.zendesk_write_enabled:
        return DryRunPerformer("zendesk")
    from deskbridge.connectors.zendesk.client import ZendeskWriter  # zenpy loads only when used

    return ZendeskWriter(
        settings.zendesk_subdomain,
        settings.zendesk_email,
        settings.zendesk_api_token.get_secret_value(),
    )


def find_missing_webhook_settings(settings: Settings) -> str | None:
    if settings.zendesk_secrets:
        return None
    return "set ZENDESK_WEBHOOK_SECRET; until then webhooks are refused with 401"


def build_ticket_url(ticket_id: str, settings: Settings) -> str | None:
    if not settings.zendesk_subdomain:
        return None
    return f"https://{settings.zendesk_subdomain}.zendesk.com/agent/tickets/{ticket_id}"


CONNECTOR = Connector(
    source=Source.zendesk,
    verify=verify,
    parse=parse,
    respond=respond,
    build_writer=build_writer,
    find_missing_webhook_settings=find_missing_webhook_settings,
    build_ticket_url=build_ticket_url,
    parse_object=parse_object,
)
