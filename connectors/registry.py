"""Every helpdesk deskbridge connects, one entry each (DESIGN rule 4: registries are plain dicts,
checked by tests). HTTP, replay and the app's writers all go through this dict."""

from __future__ import annotations

from deskbridge.connectors.connector import Connector
from deskbridge.connectors.salesforce.connector import CONNECTOR as SALESFORCE
from deskbridge.connectors.zendesk.connector import CONNECTOR as ZENDESK
from deskbridge.workflows.model import Source

CONNECTORS: dict[Source, Connector] = {
    Source.zendesk: ZENDESK,
    Source.salesforce: SALESFORCE,
}
