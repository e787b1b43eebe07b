"""The App Home tab: the `me` view for whoever opens it."""

from __future__ import annotations

from slack_bolt import App

from deskbridge.bot.blocks import build_home
from deskbridge.bot.reports import build_me_lines


def build_home_view(runtime, user_id: str) -> dict:
    agent = runtime.rules.agent_by_slack_id(user_id)
    if agent is None:
        return build_home("deskbridge", [], "You are not on deskbridge's roster yet.")
    with runtime.engine.connect() as connection:
        lines = build_me_lines(connection, runtime.rules, agent, runtime.clock())
    return build_home(f"deskbridge — {agent.name}", lines, "Nothing open.")


def register_home(app: App, runtime) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event, client):
        client.views_publish(user_id=event["user"], view=build_home_view(runtime, event["user"]))
