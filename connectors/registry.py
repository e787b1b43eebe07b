"""Every helpdesk deskbridge connects, one entry each (DESIGN rule 4: registries are plain dicts,
checked by tests). HTTP, replay and the app's writers all go through this dict."""

from __future__ import annotations

from collections.abc import Callable

from deskbridge.config.rules import RulesConfig, judge_helpdesks_in_use
from deskbridge.config.settings import Settings
from deskbridge.connectors.connector import Connector
from deskbridge.connectors.salesforce.connector import CONNECTOR as SALESFORCE
from deskbridge.connectors.zendesk.connector import CONNECTOR as ZENDESK
from deskbridge.workflows.model import Source, TicketState

CONNECTORS: dict[Source, Connector] = {
    Source.zendesk: ZENDESK,
    Source.salesforce: SALESFORCE,
}


def find_helpdesks_in_use(settings: Settings, rules: RulesConfig) -> tuple[Source, ...]:
    """The helpdesks a team uses, for the start-up warnings about a helpdesk not set up (its
    webhooks refused, its write-back in dry-run): those its environment or rules file names.
    A team on Salesforce alone was told every start that Zendesk's secret was missing. When
    neither names any (a first trial, `make run`), every helpdesk is in use: each one's
    warning says what it would need."""
    in_use = judge_helpdesks_in_use(rules.find_helpdesks_named(), settings.find_helpdesks_named())
    return tuple(source for source in CONNECTORS if source.value in in_use)


def build_ticket_links(settings: Settings) -> Callable[[str], str | None]:
    """A ticket key (`zendesk:48213`, `salesforce:5005j…`) → its page in its helpdesk, as each
    connector builds it from the settings; None for a helpdesk that cannot say where."""

    def link(ticket: str) -> str | None:
        source = find_source(ticket)
        ticket_id = ticket.partition(":")[2]
        return CONNECTORS[source].build_ticket_url(ticket_id, settings) if source else None

    return link


_SOURCES = frozenset(source.value for source in Source)


def find_source(ticket: str) -> Source | None:
    """The helpdesk a ticket key (`zendesk:48213`) is of; None for another action subject (a
    scheduled job's, `job:daily_digest`)."""
    source = ticket.partition(":")[0]
    return Source(source) if source in _SOURCES else None


def name_number(source: Source | None, number: str | None) -> str | None:
    """A ticket as its helpdesk names it to people, by its number (`Case 00001042`); None
    when it has no number apart from its id, or none was sent (it is then `#<id>`)."""
    connector = CONNECTORS.get(source) if source is not None else None
    if number is None or connector is None or connector.name_number is None:
        return None
    return connector.name_number(number)


def name_ticket(state: TicketState) -> str | None:
    """`name_number` of a ticket's state."""
    return name_number(state.source, state.number)
