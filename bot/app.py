"""The slack-bolt app, mounted on Flask at POST /slack/events by create_app. Neither built nor
answering with any network call (authorised from the settings, not by Slack's auth.test);
request signing and url_verification are bolt's."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from deskbridge.bot.listeners.actions import register_actions
from deskbridge.bot.listeners.commands import register_commands
from deskbridge.bot.listeners.fallback import answer_unmatched, register_fallbacks
from deskbridge.bot.listeners.home import register_home
from deskbridge.bot.notifier import build_web_client
from deskbridge.config.logging import describe_exception, log_event
from deskbridge.store.db import describe_store_error
from deskbridge.workflows.metrics import Metrics

log = logging.getLogger("deskbridge.slack")


def create_bolt_app(runtime, client: WebClient | None = None) -> App:
    settings = runtime.settings
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    bolt_log = logging.getLogger("deskbridge.slack.bolt")
    # bolt warns, when made, that SLACK_BOT_TOKEN in the environment is unused beside `client`
    # and `authorize`: true and intended (both carry that token), but it reads to an operator
    # as a misconfiguration. Only the construction is quieted.
    level = bolt_log.level
    bolt_log.setLevel(logging.ERROR)
    try:
        app = App(
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            client=client or build_web_client(token, settings.slack_api_url),
            # Not bolt's own (token=...), which asks Slack (auth.test) on the first request a
            # process handles: while Slack's API failed, a valid click was answered 200 "please
            # reinstall" and its listener never ran, so an acknowledgement was lost.
            authorize=build_local_authorize(token, settings.slack_team_id),
            # Answer inside the request: listeners ack first and their work is local and short;
            # a Slack call that may wait (a click's ephemeral note, the App Home view, with the
            # client's retries) is a lazy listener, run after the answer.
            process_before_response=True,
            # A signed payload no listener kind matches (app_rate_limited) comes to
            # answer_listener_error, answered 200 and ignored, not bolt's 404 and warning.
            raise_error_for_unhandled_request=True,
            logger=bolt_log,
            # Before bolt's authorization: another workspace's request is refused with a 403 before
            # anything is authorised for it.
            before_authorize=build_workspace_check(settings.slack_team_id, runtime.metrics),
        )
    finally:
        bolt_log.setLevel(level)
    app.error(answer_listener_error)
    register_actions(app, runtime)
    register_commands(app, runtime)
    register_home(app, runtime)
    register_fallbacks(app)  # last: bolt runs the first listener that matches
    return app


# Slack's signing: v0=hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)), 5-minute window.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
TOLERANCE_SECONDS = 300


SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
# What the log's webhook.unauthorized says to check (never the secret nor the signature
# expected), as the Zendesk connector's lines do. ASCII, as theirs.
_BOTH_HEADERS = (
    f"Slack sends {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} with every request (check that a "
    "proxy on the way passes both on)"
)
_NOT_MATCHED = (
    "signature does not match the body: check that SLACK_SIGNING_SECRET is the app's Signing "
    "Secret (api.slack.com/apps > the app > Basic Information > App Credentials; not its Client "
    f"Secret nor a token), and that nothing on the way changes the body or {TIMESTAMP_HEADER}"
)


def build_slack_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The X-Slack-Signature Slack sends with `body` at `timestamp` (Unix seconds)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


def slack_signature_problem(
    secret: bytes, body: bytes, timestamp: str | None, signature: str | None, now: float
) -> tuple[str, str] | None:
    """None for a request Slack signed; else what is wrong and the header it is about.
    Checked before bolt sees the request: bolt parses the body (and int()s the timestamp)
    before it verifies, so an unsigned malformed request crashed it, and it logs the body of
    every forged request. Any header value, however odd, is a plain answer here."""
    if not signature:
        return f"signature header is missing: {_BOTH_HEADERS}", SIGNATURE_HEADER
    if not timestamp:
        return f"signature timestamp header is missing: {_BOTH_HEADERS}", TIMESTAMP_HEADER
    if not _TIMESTAMP.fullmatch(timestamp):
        return "signature timestamp is not a time in Unix seconds", TIMESTAMP_HEADER
    age = now - int(timestamp)
    if abs(age) > TOLERANCE_SECONDS:
        seconds = round(abs(age))
        when = f"{seconds} s old" if age > 0 else f"{seconds} s ahead of this server's clock"
        return (
            f"signature timestamp is {when}, outside Slack's window of {TOLERANCE_SECONDS} s: "
            "a request sent again later, or a clock that is wrong; check this server's clock "
            "(NTP)",
            TIMESTAMP_HEADER,
        )
    expected = build_slack_signature(secret, timestamp, body)
    if hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return None
    return _NOT_MATCHED, SIGNATURE_HEADER


def build_local_authorize(token: str | None, team_id: str | None) -> Callable:
    """bolt's `authorize`, answered from the settings with no call to Slack: the bot token for
    this deskbridge's one workspace (the workspace check has refused any other). The bot's own
    user and bot ids, which auth.test would add, are left out: bolt uses them only to drop the
    bot's own events, and no listener here takes an event the bot makes (the App Home is
    opened by a person; any other event is acknowledged and ignored)."""

    def authorize(enterprise_id: str | None) -> AuthorizeResult:  # bolt passes args by name
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    return authorize


def build_workspace_check(team_id: str | None, metrics: Metrics) -> Callable:
    """Bolt middleware: requests from another Slack workspace than SLACK_TEAM_ID get 403
    (a signing secret is per app, and an app can be installed in several workspaces), logged
    as `webhook.forbidden` and counted, as the helpdesks' are: a mistyped SLACK_TEAM_ID
    refuses every click and command, which the operator finds in the log.
    ssl_check is answered by bolt before this runs; url_verification (which names no
    workspace) after it, so it is let through."""

    def same_workspace(req, resp, next):  # bolt passes `next` by name
        if req.body.get("type") == "url_verification":
            return next()
        if team_id is None or req.context.team_id != team_id:
            metrics.webhooks.labels("slack", "forbidden").inc()
            log_event(
                log,
                logging.WARNING,
                "webhook.forbidden",
                source="slack",
                error=_describe_other_workspace(req.context.team_id, team_id),
                field="team_id",
            )
            return BoltResponse(status=403, body={"error": "not this deskbridge's workspace"})
        return next()

    return same_workspace


def _describe_other_workspace(got: object, team_id: str | None) -> str:
    """Which workspace the request came from and which one deskbridge serves: workspace ids
    are no secret, and a SLACK_TEAM_ID copied from another workspace shows at once."""
    if not isinstance(got, str) or not got:
        return f"the request names no workspace; this deskbridge serves SLACK_TEAM_ID={team_id}"
    return (
        f"the request comes from workspace {got[:32]!r}, not SLACK_TEAM_ID={team_id}: set "
        "SLACK_TEAM_ID to the id of the workspace the app is installed in (its T... id), or "
        "the app is installed in another workspace too"
    )


def answer_listener_error(error: Exception) -> BoltResponse:
    """A listener that failed: the store being down is a 503 (Slack retries events); anything
    else is a request we could not use (a signed payload missing what a click or command
    carries), a 400 instead of bolt's empty 500. The traceback is logged, the body is not."""
    if isinstance(error, BoltUnhandledRequestError):  # no listener kind matched at all
        return answer_unmatched(error.request.body)
    if isinstance(error, SQLAlchemyError):
        log_event(log, logging.ERROR, "slack.store_unavailable", **describe_store_error(error))
        return BoltResponse(status=503, body={"error": "store unavailable, retry later"})
    log_event(log, logging.ERROR, "slack.listener_error", **describe_exception(error))
    log.debug("slack.listener_error", exc_info=error)
    return BoltResponse(status=400, body={"error": "could not handle this Slack request"})
