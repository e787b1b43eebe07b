# ruff: noqa: F811 (the Slack fixtures are imported from test_slack_flow and used by name)
"""Who deskbridge's Slack side trusts: only signed requests (checked before anything parses
the body, so malformed input is a 401 or 400, never a 500), only its own workspace
(SLACK_TEAM_ID, required with the bot; others get 403), and ticket views only for the roster,
agents seeing their own and their team's tickets."""

from __future__ import annotations

import io
import json
import logging
import time
from urllib.parse import parse_qsl, urlencode

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from deskbridge.app import create_app, create_runtime
from deskbridge.cli import main
from deskbridge.config.settings import Settings
from deskbridge.store.events import count_events
from deskbridge.store.outbox import count_actions
from tests.bot.test_slack_flow import (  # noqa: F401 (fixtures)
    TEAM,
    click,
    client,
    fake,
    interactions_said,
    post_zendesk,
    runtime,
    slack_headers,
    slack_settings,
    zendesk_event,
)
from tests.conftest import fixture_bytes
from tests.fakeslack import wait_until

PRIYA, TOM, LENA, SAM, OLU = "U02PRIYA01", "U02TOMOK01", "U02LENAF01", "U02SAMWL01", "U02OLUAD01"
STRANGER = "U09STRANGE"
MARKER = "leaked-body-marker"
FORM = "application/x-www-form-urlencoded"


def _stored(runtime) -> tuple[int, int]:
    with runtime.engine.connect() as connection:
        return count_events(connection), count_actions(connection)


def _unsigned(body: bytes, timestamp: str | None, signature: str | None, ctype=FORM) -> dict:
    headers = {"Content-Type": ctype}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    return headers


@pytest.mark.parametrize(
    ("body", "timestamp", "signature", "ctype"),
    [
        (b"command=/deskbridge&" + MARKER.encode(), "abc", "v0=00", FORM),
        (b"command=/deskbridge&" + MARKER.encode(), "9" * 400, "v0=00", FORM),
        (b"command=/deskbridge&" + MARKER.encode(), "-1", "v0=00", FORM),
        (b"command=/deskbridge&" + MARKER.encode(), "1700000000", "v0=\u00e9\u00e9", FORM),
        (b"command=/deskbridge&" + MARKER.encode(), None, None, FORM),
        (b'{"' + MARKER.encode() + b"", "1", "v0=00", "application/json"),
        (b"[1, 2, 3]", "1", "v0=00", "application/json"),
        (b"payload=%7Bnot-json-" + MARKER.encode(), "1", "v0=00", FORM),
        (b"\xff\xfe\x00" + MARKER.encode(), "1", "v0=00", "application/json"),
        (b"payload=" + b"%5B" * 5000, "1", "v0=00", FORM),
    ],
    ids=[
        "timestamp not a number",
        "400-digit timestamp",
        "negative timestamp",
        "non-ASCII signature",
        "no signature headers",
        "truncated JSON",
        "JSON list",
        "payload not JSON",
        "binary body",
        "5000-level payload",
    ],
)
def test_unsigned_malformed_requests_get_401_and_their_body_is_not_logged(
    runtime, client, caplog, body, timestamp, signature, ctype
):
    caplog.set_level(logging.DEBUG)

    response = client.post(
        "/slack/events", data=body, headers=_unsigned(body, timestamp, signature, ctype)
    )

    assert response.status_code == 401
    assert response.json == {"error": "invalid or expired Slack signature"}
    assert _stored(runtime) == (0, 0)
    assert MARKER not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "webhook.unauthorized"
    ]


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b'{"type": "event_callback", "team_id"', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"payload=%7Bnot-json", FORM),
        (b"payload=%5B1%5D", FORM),
        (b"\xff\xfe\x00", "application/json"),
    ],
    ids=["truncated JSON", "JSON list", "payload not JSON", "payload a list", "binary body"],
)
def test_signed_bodies_that_are_not_slack_payloads_get_400(runtime, client, body, ctype):
    response = client.post(
        "/slack/events", data=body, headers={**slack_headers(body), "Content-Type": ctype}
    )

    assert response.status_code == 400
    assert response.json == {"error": "not a Slack request body (form or JSON payload)"}
    assert _stored(runtime) == (0, 0)


LIMIT = 1048576  # DESKBRIDGE_MAX_BODY_BYTES's default
TOO_LARGE = f"body is larger than {LIMIT} bytes"


@pytest.mark.parametrize(
    ("size", "chunked", "status", "answer", "logged"),
    [
        (
            LIMIT + 1,
            False,
            413,
            {"error": TOO_LARGE, "field": "Content-Length"},
            ("webhook.too_large", {"source": "slack", "limit": LIMIT, "field": "Content-Length"}),
        ),
        (
            LIMIT + 1,
            True,
            413,
            {"error": TOO_LARGE, "field": "body"},
            ("webhook.too_large", {"source": "slack", "limit": LIMIT, "field": "body"}),
        ),
        # Read whole, its signature good: refused for what it is, not for its size.
        (
            LIMIT,
            True,
            400,
            {"error": "not a Slack request body (form or JSON payload)"},
            ("webhook.malformed", {"source": "slack", "error": "JSONDecodeError"}),
        ),
    ],
    ids=["stated length over", "chunked over", "chunked at the limit"],
)
def test_a_slack_body_over_the_limit_gets_the_webhooks_413(
    runtime, client, caplog, size, chunked, status, answer, logged
):
    """request.get_data() cut a chunked body at the limit without a word, so an oversized one
    failed its signature (401); one of stated length got werkzeug's 413 wording."""
    body = b"payload=" + b"a" * (size - len(b"payload="))
    caplog.set_level(logging.WARNING, logger="deskbridge.webhooks")
    if chunked:
        # No length; the server ends the stream (what gunicorn and waitress do for chunked).
        response = client.post(
            "/slack/events",
            input_stream=io.BytesIO(body),
            headers={**slack_headers(body), "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
    else:
        response = client.post("/slack/events", data=body, headers=slack_headers(body))

    assert (response.status_code, response.json) == (status, answer)
    assert [(r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [logged]
    assert _stored(runtime) == (0, 0)


def test_a_slash_command_from_another_workspace_gets_403(runtime, client):
    fields = dict(parse_qsl(fixture_bytes("slash_command__escalate.txt").decode()))
    body = urlencode({**fields, "team_id": "T0OTHER99"}).encode()  # /escalate ZD-48213 …

    response = client.post("/slack/events", data=body, headers=slack_headers(body))

    assert response.status_code == 403
    assert response.json == {"error": "not this deskbridge's workspace"}
    assert _stored(runtime) == (0, 0)


def test_a_button_click_from_another_workspace_gets_403(runtime, client):
    payload = json.loads(fixture_bytes("block_actions__acknowledge.json"))
    payload["team"]["id"] = "T0OTHER99"
    body = urlencode({"payload": json.dumps(payload)}).encode()

    response = client.post("/slack/events", data=body, headers=slack_headers(body))

    assert response.status_code == 403
    assert _stored(runtime) == (0, 0)


def test_an_event_from_another_workspace_gets_403(runtime, client):
    event = json.loads(fixture_bytes("event_callback__app_mention.json"))
    event["team_id"] = event["event"]["team"] = "T0OTHER99"
    event["authorizations"][0]["team_id"] = "T0OTHER99"
    body = json.dumps(event).encode()

    response = client.post(
        "/slack/events",
        data=body,
        headers={**slack_headers(body), "Content-Type": "application/json"},
    )

    assert response.status_code == 403
    assert _stored(runtime) == (0, 0)


@pytest.mark.parametrize("slack_reachable", [True, False], ids=["slack up", "slack down"])
def test_another_workspace_is_refused_without_asking_slack(runtime, client, fake, slack_reachable):
    # The workspace check runs before bolt's authorization: a stranger's request costs no call
    # and is a 403 even with Slack down.
    if not slack_reachable:
        fake.stop()
    fields = dict(parse_qsl(fixture_bytes("slash_command__escalate.txt").decode()))
    body = urlencode({**fields, "team_id": "T0OTHER99"}).encode()

    response = client.post("/slack/events", data=body, headers=slack_headers(body))

    assert response.status_code == 403
    assert response.json == {"error": "not this deskbridge's workspace"}
    assert fake.calls == []
    assert _stored(runtime) == (0, 0)


@pytest.mark.parametrize("status", [503, 429], ids=["Slack 5xx", "Slack 429"])
def test_a_click_while_slack_fails_is_stored_without_asking_slack(runtime, client, fake, status):
    """The first request a process handles was authorised by Slack's auth.test: while Slack
    failed, a valid acknowledgement was answered 200 "please reinstall" and never stored."""
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    runtime.dispatcher.dispatch_due()
    root = fake.ok_calls("chat.postMessage")[0]
    fake.fail_for(60, status=status)
    calls = len(fake.calls)

    response = click(client, "deskbridge.ack", PRIYA, "zendesk:48300", root.ts, "C07ESC4LAT")

    assert (response.status_code, response.data) == (200, b"")
    assert fake.calls[calls:] == []
    assert interactions_said(runtime) == [
        ("note", {"body": "deskbridge: alert acknowledged in Slack by Priya Raman."}),
        (
            "notify",
            {
                "target": "thread",
                "refresh": True,
                "text": "Acknowledged by Priya Raman",
                "reply_in": "channels",
            },
        ),
    ]


@pytest.mark.parametrize(
    ("user", "ticket"),
    [(STRANGER, "zendesk:48300"), (PRIYA, "zendesk:404404")],
    ids=["someone not on the roster", "a ticket deskbridge does not know"],
)
def test_a_click_refused_while_slack_fails_is_answered_200_and_the_failed_tell_logged(
    runtime, client, fake, caplog, user, ticket
):
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    runtime.dispatcher.dispatch_due()
    before = _stored(runtime)
    fake.fail_for(60, status=500, body={"ok": False, "error": "internal_error"})
    calls = len(fake.calls)
    caplog.set_level(logging.WARNING, logger="deskbridge.slack")

    response = click(client, "deskbridge.ack", user, ticket, "1741083767.000200", "C07ESC4LAT")

    assert (response.status_code, response.data) == (200, b"")

    def failed_tells() -> list[tuple]:
        return [
            (r.getMessage(), r.deskbridge_fields)
            for r in caplog.records
            if r.getMessage() == "slack.tell_failed"
        ]

    wait_until(failed_tells, seconds=10)  # the note is posted after the answer
    # The ephemeral answer was tried (as often as the client retries), nothing else.
    assert {c.method for c in fake.calls[calls:]} == {"chat.postEphemeral"}
    assert _stored(runtime) == before
    assert failed_tells() == [("slack.tell_failed", {"error": "SlackApiError"})]


def _start_up(command: str, env: dict[str, str], monkeypatch, tmp_path) -> tuple[int, str]:
    """`deskbridge <command>` with only these Slack settings: its exit code and stderr."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_TEAM_ID"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(
        main, [command], env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"}
    )
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"SLACK_BOT_TOKEN": "xoxb-1"},
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef"},
    ],
    ids=["token", "token and signing secret"],
)
def test_the_bot_without_slack_team_id_is_a_config_error_at_start_up(monkeypatch, tmp_path, env):
    assert _start_up("migrate", env, monkeypatch, tmp_path) == (
        1,
        "environment: invalid settings\n"
        "  SLACK_TEAM_ID: required when SLACK_BOT_TOKEN or SLACK_SIGNING_SECRET is set: the "
        "workspace id (T…) from the Slack app's settings; requests from other workspaces get "
        "403\n",
    )
    with pytest.raises(ValidationError, match="SLACK_SIGNING_SECRET is set"):
        Settings(**env)
    assert Settings(**env, SLACK_TEAM_ID=TEAM).slack_team_id == TEAM


def test_the_signing_secret_without_the_bot_token_is_a_config_error_at_start_up(
    monkeypatch, tmp_path
):
    """/slack/events is served by the bot: with a signing secret and no token, serve stopped
    with bolt's traceback ('SLACK_BOT_TOKEN … is required') instead of naming the setting."""
    env = {"SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef", "SLACK_TEAM_ID": TEAM}

    assert _start_up("serve", env, monkeypatch, tmp_path) == (
        1,
        "environment: invalid settings\n"
        "  SLACK_SIGNING_SECRET: needs SLACK_BOT_TOKEN too: commands and buttons are answered "
        "by the bot (set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_TEAM_ID, or none of "
        "them)\n",
    )
    assert Settings(**env, SLACK_BOT_TOKEN="xoxb-1").slack_signing_secret is not None


# --- /deskbridge ticket: the roster only; agents their own and their team's tickets ---------


def _ticket_command(client, user: str, text: str) -> str:
    fields = dict(parse_qsl(fixture_bytes("slash_command__escalate.txt").decode()))
    fields.update(user_id=user, command="/deskbridge", text=text)
    body = urlencode(fields).encode()
    response = client.post("/slack/events", data=body, headers=slack_headers(body))
    assert response.status_code == 200, response.data
    return response.json["text"]


@pytest.mark.parametrize(
    ("user", "sees"),
    [
        (PRIYA, True),  # the assignee
        (TOM, True),  # same team (resolution)
        (SAM, True),  # a lead
        (OLU, False),  # on the roster, another team (logistics)
        (STRANGER, False),  # not on the roster
    ],
    ids=["assignee", "teammate", "lead", "other team", "not on the roster"],
)
def test_ticket_view_is_for_the_assignee_their_team_and_leads(runtime, client, user, sees):
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))  # assigned to Priya

    text = _ticket_command(client, user, "ticket 48300")

    if sees:
        assert text.startswith("*Ticket 48300*\nWrong rug delivered\n")
        assert "*Decisions:*" in text
    elif user == STRANGER:
        assert text == "*Ticket 48300*\nTicket views are for the team roster."
    else:
        assert text == "*Ticket 48300*\nYou can see your own tickets and your team's."


def test_a_stranger_cannot_tell_whether_a_ticket_exists(client):
    assert _ticket_command(client, STRANGER, "ticket 99999") == (
        "*Ticket 99999*\nTicket views are for the team roster."
    )
    assert _ticket_command(client, PRIYA, "ticket 99999") == (
        "*Ticket 99999*\ndeskbridge has no such ticket."
    )


def test_signed_payloads_missing_what_slack_always_sends_get_400(runtime, client):
    fields = dict(parse_qsl(fixture_bytes("slash_command__escalate.txt").decode()))
    fields.pop("user_id")
    command = urlencode(fields).encode()
    click = json.loads(fixture_bytes("block_actions__acknowledge.json"))
    click["actions"] = []
    click_body = urlencode({"payload": json.dumps(click)}).encode()

    answers = [
        client.post("/slack/events", data=b, headers=slack_headers(b))
        for b in (command, click_body)
    ]

    assert [(a.status_code, a.json) for a in answers] == [
        (400, {"error": "could not handle this Slack request"}),
        (400, {"error": "not a Slack request body (form or JSON payload)"}),
    ]
    assert _stored(runtime) == (0, 0)


def test_slack_events_without_slack_settings_name_all_three(settings, engine, rules):
    """Said "set SLACK_SIGNING_SECRET", which alone stops every command with a settings error."""
    runtime = create_runtime(settings, rules, engine=engine)
    response = create_app(runtime=runtime).test_client().post("/slack/events", data="x=1")

    assert (response.status_code, response.get_json()) == (
        503,
        {
            "error": "Slack is not configured: set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and "
            "SLACK_TEAM_ID (README, Connecting Slack)"
        },
    )


def test_a_slack_team_id_of_another_shape_is_said_in_words(monkeypatch, tmp_path):
    """Was pydantic's "String should match pattern '^T[A-Z0-9]{2,}$'"."""
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
        "SLACK_TEAM_ID": "acme",
    }

    assert _start_up("migrate", env, monkeypatch, tmp_path) == (
        1,
        "environment: invalid settings\n"
        "  SLACK_TEAM_ID: expected the workspace id from the Slack app's settings: T and capital "
        "letters or digits, like T0123ABCD\n",
    )


def test_making_the_app_with_the_token_in_the_environment_warns_of_nothing(
    fake, sqlite_engine, rules, monkeypatch, caplog
):
    """bolt warned twice that SLACK_BOT_TOKEN was unused ("As `installation_store` or
    `authorize` has been used, `token` ... will be ignored"): true, as both the client and the
    local authorize carry it, but it read to an operator as a misconfiguration."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    runtime = create_runtime(slack_settings(fake, monkeypatch), rules, engine=sqlite_engine)
    bolt = logging.getLogger("deskbridge.slack.bolt")
    before = bolt.level

    with caplog.at_level(logging.DEBUG):
        create_app(runtime=runtime)

    assert [r.getMessage() for r in caplog.records if r.name.startswith("deskbridge.slack")] == []
    assert bolt.level == before


def _ephemerals(fake, wait: float) -> list[tuple[int, str, str]]:
    """The chat.postEphemeral calls (status, user, text), once one was answered 200 (within
    `wait` seconds): the note is posted after the click is answered."""
    wait_until(lambda: fake.ok_calls("chat.postEphemeral"), seconds=wait)
    return [
        (c.status, c.args["user"], c.args["text"])
        for c in fake.calls
        if c.method == "chat.postEphemeral"
    ]


def test_a_refused_click_is_answered_at_once_while_slack_rate_limits_its_note(
    runtime, client, fake
):
    """The ephemeral note a refused click gets was posted inside the request (bolt answers
    after the listener, process_before_response), with the client's retries: a 429 with
    Retry-After: 4 held the answer 4-5 s, past Slack's 3 s, and Slack showed the person an
    error. The click is now answered first; the note follows (a bolt lazy listener), retried
    after Retry-After as before."""
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    runtime.dispatcher.dispatch_due()
    before = _stored(runtime)
    fake.fail_for(1.0, status=429, headers={"Retry-After": "4"})

    started = time.monotonic()
    response = click(
        client, "deskbridge.ack", STRANGER, "zendesk:48300", "1741083767.000200", "C07ESC4LAT"
    )
    took = time.monotonic() - started

    assert (response.status_code, response.data) == (200, b"")
    assert took < 1.0
    refused = (
        "Only the ticket's assignee, a team lead or the person paged can act on this alert. "
        "Ask them, or add yourself to the roster in deskbridge's config."
    )
    assert _ephemerals(fake, wait=10) == [(429, STRANGER, refused), (200, STRANGER, refused)]
    assert _stored(runtime) == before


@pytest.mark.parametrize("token", ["xoxp-1234-user", "xapp-1-A05-app-level", "0123456789abcdef"])
def test_a_token_that_is_not_the_bots_is_a_config_error_at_start_up(monkeypatch, tmp_path, token):
    """Any text was taken: a user token, the app-level token or the signing secret in
    SLACK_BOT_TOKEN showed only as every Slack message dead-lettered. Named once, without
    'needs SLACK_BOT_TOKEN too' for the signing secret beside it (the token was given)."""
    env = {
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
        "SLACK_TEAM_ID": TEAM,
    }

    assert _start_up("migrate", env, monkeypatch, tmp_path) == (
        1,
        "environment: invalid settings\n"
        "  SLACK_BOT_TOKEN: expected the bot's token from the Slack app's OAuth & Permissions "
        "page: xoxb-…; a user token (xoxp-…) or an app-level token (xapp-…) cannot post as the "
        "bot\n",
    )
    rotated = Settings(**{**env, "SLACK_BOT_TOKEN": "xoxe.xoxb-1-rotated"})
    assert rotated.slack_bot_token.get_secret_value() == "xoxe.xoxb-1-rotated"


def test_a_fake_slack_takes_its_own_tokens(monkeypatch, tmp_path):
    """With SLACK_API_URL pointing at another Slack API (a fake one, as tests outside this
    repository run), its token is not checked to be Slack's bot token."""
    env = {
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "SLACK_BOT_TOKEN": "fake-token",
        "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
        "SLACK_TEAM_ID": TEAM,
    }
    assert _start_up("migrate", env, monkeypatch, tmp_path)[0] == 0
    assert Settings(**env).slack_bot_token.get_secret_value() == "fake-token"
    # Slack's own API named there is still Slack's: its token must be the bot's.
    env["SLACK_API_URL"] = "https://slack.com/api/"
    assert _start_up("migrate", env, monkeypatch, tmp_path)[0] == 1


def test_a_refused_token_still_needs_slack_team_id(monkeypatch, tmp_path):
    assert _start_up("migrate", {"SLACK_BOT_TOKEN": "xoxp-1"}, monkeypatch, tmp_path)[1] == (
        "environment: invalid settings\n"
        "  SLACK_BOT_TOKEN: expected the bot's token from the Slack app's OAuth & Permissions "
        "page: xoxb-…; a user token (xoxp-…) or an app-level token (xapp-…) cannot post as the "
        "bot\n"
        "  SLACK_TEAM_ID: required when SLACK_BOT_TOKEN or SLACK_SIGNING_SECRET is set: the "
        "workspace id (T…) from the Slack app's settings; requests from other workspaces get "
        "403\n"
    )
