"""Slack input deskbridge has no listener for: another app's or an old message's button, a
modal submitted or closed, a shortcut, an event type, a slash command. Each is acknowledged
(200), logged as `slack.ignored` with its type and id (never who sent it or what it says),
and changes nothing (DESIGN rule 5: unknown input is a normal outcome). Without these, bolt
answered 404: Slack showed the user an error, and retried an event, counting the failures
towards turning the app's event subscription off.

Registered after every real listener: bolt runs the first listener that matches, so these
never shadow one."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App, BoltResponse

from deskbridge.config.logging import log_event

log = logging.getLogger("deskbridge.slack")

ANY = re.compile("")  # found in every name, the empty one included


def _ignored(kind: str, name: str | None) -> None:
    log_event(log, logging.INFO, "slack.ignored", type=kind[:80], id=(name or "")[:80])


def _action_name(body: dict[str, Any]) -> str | None:
    """A block action's action_id; an attachment action's or dialog's callback_id."""
    actions = body.get("actions") or [{}]
    return actions[0].get("action_id") or body.get("callback_id")


def register_fallbacks(app: App) -> None:
    @app.action(ANY)
    def on_other_action(ack, body):
        ack()
        _ignored(str(body.get("type")), _action_name(body))

    @app.view(ANY)
    @app.view({"type": "view_closed", "callback_id": ANY})
    def on_other_view(ack, body, view):
        ack()
        _ignored(str(body.get("type")), view.get("callback_id"))

    @app.shortcut(ANY)
    def on_other_shortcut(ack, body):
        ack()
        _ignored(str(body.get("type")), body.get("callback_id"))

    @app.options(ANY)
    def on_other_options(ack, body):
        ack(options=[])
        _ignored(str(body.get("type")), body.get("action_id") or body.get("callback_id"))

    @app.event(ANY)
    def on_other_event(event):  # bolt acknowledges events itself
        _ignored(str(event.get("type")), event.get("subtype"))

    @app.command(ANY)
    def on_other_command(ack, command):
        name = str(command.get("command"))[:40]
        ack(response_type="ephemeral", text=f"deskbridge does not answer `{name}`.")
        _ignored("slash_command", name)


def answer_unmatched(body: dict[str, Any]) -> BoltResponse:
    """A signed payload of a kind bolt has no listener for at all (`app_rate_limited`, which
    Slack sends to the events URL when it holds events back): bolt answers 404 "unhandled
    request", which Slack counts as a failed delivery. Acknowledged and logged as the others."""
    kind = body.get("type") if isinstance(body.get("type"), str) else ""
    _ignored(kind, None)
    return BoltResponse(status=200, body="")
