"""Helpdesk write-back: each registered helpdesk's writer, and the router that sends an action to
the writer of its ticket's own helpdesk."""

from __future__ import annotations

from typing import Any

from deskbridge.config.rules import RulesConfig
from deskbridge.config.settings import Settings
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.workflows.actions import Action
from deskbridge.workflows.model import Source
from deskbridge.workflows.ports import Performer


class HelpdeskRouter:
    """Sends each helpdesk action to the writer of the ticket's own helpdesk."""

    def __init__(self, writers: dict[str, Performer]):
        self.writers = writers

    def perform(self, action: Action) -> dict[str, Any]:
        return self.writers[action.ticket.split(":", 1)[0]].perform(action)


def build_writers(settings: Settings, rules: RulesConfig) -> dict[Source, Performer]:
    """One writer per registered helpdesk: its real client where credentials are set, a dry run
    elsewhere."""
    return {source: c.build_writer(settings, rules) for source, c in CONNECTORS.items()}
