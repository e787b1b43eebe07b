"""Helpdesk write-back: each registered helpdesk's writer, and the router that sends an action to
the writer of its ticket's own helpdesk."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from deskbridge.config.logging import log_event
from deskbridge.config.rules import RulesConfig
from deskbridge.config.settings import Settings
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.store.db import connect_for_reading
from deskbridge.store.outbox import (
    LOOKUP_MARGIN,
    Attempts,
    find_attempts,
    find_attempts_of,
    retried_since,
)
from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.model import Source
from deskbridge.workflows.ports import Performer

log = logging.getLogger("deskbridge.helpdesk")


class HelpdeskRouter:
    """Sends each helpdesk action to the writer of the ticket's own helpdesk.

    Tags, group or owner and priority set the same value when repeated; a note is added again.
    So a note is added once per action, as a Slack message is posted once (SlackNotifier.
    _post_once): on an attempt that may follow one that reached the helpdesk (an earlier
    attempt failed after sending, a timeout, a dropped connection, a 5xx; or its process died
    before its outcome was recorded), the writer first looks for the note on the ticket
    (`find_note`) and it is not added again if there. A first attempt adds it without a look:
    a read on every note would cost the helpdesk's rate limits for a rare case. `engine`: the
    store the attempts are read from (None, or a writer without `find_note` such as a dry
    run: no look)."""

    def __init__(self, writers: dict[str, Performer], engine: Engine | None = None):
        self.writers = writers
        self.engine = engine
        # The attempts of a dispatcher's batch of notes (`prepare`), by action key.
        self._prepared: dict[str, Attempts | None] = {}
        self._prepared_lock = threading.Lock()

    def prepare(self, actions: list[Action]) -> None:
        """Read the attempts of a dispatcher's batch of notes in one query, for `perform`
        to use once each (it reads them itself otherwise)."""
        keys = {a.key for a in actions if self._finder(a) is not None}
        attempts: dict[str, Attempts] = {}
        if keys:
            with self._reading() as connection:
                attempts = find_attempts_of(connection, keys)
        with self._prepared_lock:
            self._prepared = {key: attempts.get(key) for key in keys}

    def perform(self, action: Action) -> dict[str, Any]:
        writer = self.writers[action.ticket.split(":", 1)[0]]
        find_note = self._finder(action)
        if find_note is None:
            return writer.perform(action)
        since = retried_since(self._attempts(action))
        if since is not None:
            found = find_note(action, since - LOOKUP_MARGIN)
            if found is not None:
                # An earlier attempt added it and failed or died before its outcome was recorded.
                log_event(
                    log,
                    logging.WARNING,
                    "helpdesk.found_note",
                    ticket=action.ticket,
                    action=action.kind.value,
                    key=action.key,
                )
                return {**found, "found": True}
        return writer.perform(action)

    def _finder(self, action: Action) -> Callable[[Action, datetime], dict | None] | None:
        """How a retried `action` is looked for before it is performed, if it is: a note, to
        a writer that can look (`find_note`), with a store to read its attempts from."""
        if action.kind is not ActionKind.note or self.engine is None:
            return None
        return getattr(self.writers.get(action.ticket.split(":", 1)[0]), "find_note", None)

    def _attempts(self, action: Action) -> Attempts | None:
        with self._prepared_lock:
            if action.key in self._prepared:
                return self._prepared.pop(action.key)
        with self._reading() as connection:
            return find_attempts(connection, action.key)

    def _reading(self) -> Connection:
        if self.engine is None:
            raise RuntimeError("HelpdeskRouter has no store to read attempts from")
        return connect_for_reading(self.engine)


def build_writers(settings: Settings, rules: RulesConfig) -> dict[Source, Performer]:
    """One writer per registered helpdesk: its real client where credentials are set, a dry run
    elsewhere."""
    return {source: c.build_writer(settings, rules) for source, c in CONNECTORS.items()}
