"""The slack-bolt app, mounted on Flask at POST /slack/events by create_app. Built without any
network call (token verification off); request signing and url_verification are bolt's."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient

from deskbridge.bot.listeners.actions import register_actions
from deskbridge.bot.listeners.commands import register_commands
from deskbridge.bot.listeners.home import register_home
from deskbridge.bot.notifier import build_web_client


def create_bolt_app(runtime, client: WebClient | None = None) -> App:
    settings = runtime.settings
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    app = App(
        token=token,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=client or build_web_client(token, settings.slack_api_url),
        token_verification_enabled=False,
        # Answer inside the request: listeners ack first and their work is local and short.
        process_before_response=True,
        logger=logging.getLogger("deskbridge.slack.bolt"),
    )
    register_actions(app, runtime)
    register_commands(app, runtime)
    register_home(app, runtime)
    return app
