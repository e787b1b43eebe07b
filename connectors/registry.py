"""Parsers by source (DESIGN rule 4: registries are plain dicts, checked by tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from deskbridge.connectors.salesforce.parse import parse_salesforce
from deskbridge.connectors.zendesk.parse import parse_zendesk
from deskbridge.workflows.model import Source, TicketEvent

Parser = Callable[[bytes, datetime], list[TicketEvent]]

PARSERS: dict[Source, Parser] = {
    Source.zendesk: parse_zendesk,
    Source.salesforce: parse_salesforce,
}
