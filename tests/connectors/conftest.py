"""Fixtures shared by the connectors' tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG, Settings
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.workflows.model import Source
from deskbridge.workflows.ports import Performer

# The settings whose absence makes a helpdesk's writer a dry run.
_CREDENTIALS = {
    Source.zendesk: ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"),
    Source.salesforce: ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"),
}


@pytest.fixture
def dry_run_writer(monkeypatch, tmp_path) -> Callable[[Source], Performer]:
    """The writer a helpdesk's connector builds without credentials, on the example rules."""

    def build(source: Source) -> Performer:
        for name in _CREDENTIALS[source]:
            monkeypatch.delenv(name, raising=False)
        settings = Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
        return CONNECTORS[source].build_writer(settings, load_rules(EXAMPLE_CONFIG))

    return build
