"""The App Home tab: the `me` view for whoever opens it."""

from __future__ import annotations

import logging

from slack_bolt import App

from deskbridge.bot.blocks import build_home
from deskbridge.bot.reports import build_me_lines
from deskbridge.config.logging import log_event

log = logging.getLogger("deskbridge.slack")


def build_home_view(runtime, user_id: str) -> dict:
    agent = runtime.rules.agent_by_slack_id(user_id)
    if agent is None:
        return build_home("deskbridge", [], "You are not on deskbridge's roster yet.")
    with runtime.engine.connect() as connection:
        lines = build_me_lines(connection, runtime.rules, agent, runtime.clock())
    return build_home(f"deskbridge — {agent.name}", lines, "Nothing open.")


def register_home(app: App, runtime) -> None:
    def answer(ack) -> None:
        ack()

    def publish_home(event, client) -> None:
        try:
            view = build_home_view(runtime, event["user"])
            client.views_publish(user_id=event["user"], view=view)
        except Exception as exc:  # in bolt's thread pool nothing else would say it
            log_event(log, logging.ERROR, "slack.home_failed", error=type(exc).__name__)

    # Published after the event is answered (a bolt lazy listener): bolt answers only once
    # the listener returns (process_before_response), and views.publish with the client's
    # retries (a 429's Retry-After) could take longer than the 3 s Slack waits before it
    # delivers the event again.
    app.event("app_home_opened")(ack=answer, lazy=[publish_home])
