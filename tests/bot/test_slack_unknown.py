# ruff: noqa: F811 (the Slack fixtures are imported from test_slack_flow and used by name)
"""Slack input deskbridge does not handle is a normal outcome (DESIGN rule 5): an unknown
button, a modal, an event type or a slash command is answered 200, logged as `slack.ignored`
with its type and id only, and changes nothing. bolt answered them 404: Slack showed the user
an error and retried events, counting them towards turning the event subscription off. The
listeners deskbridge has still answer first. (A department picked that is no longer in the
config: test_slack_flow.)"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

import pytest

from tests.bot.test_slack_flow import (  # noqa: F401 (fixtures)
    PRIYA,
    SAM,
    TEAM,
    client,
    fake,
    runtime,
    slack_headers,
)
from tests.bot.test_slack_trust import _stored
from tests.conftest import fixture_bytes
from tests.fakeslack import wait_until

JSON = "application/json"


def _payload(payload: dict) -> tuple[bytes, str]:
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


def fixture_click() -> tuple[bytes, str]:
    """The fixture as Slack sent it: another app's Acknowledge button (escalation_ack)."""
    return _payload(json.loads(fixture_bytes("block_actions__acknowledge.json")))


def unknown_button() -> tuple[bytes, str]:
    payload = json.loads(fixture_bytes("block_actions__acknowledge.json"))
    payload["actions"][0]["action_id"] = "deskbridge.nope"
    return _payload(payload)


def modal(kind: str) -> tuple[bytes, str]:
    return _payload(
        {
            "type": kind,
            "team": {"id": TEAM, "domain": "acme-support"},
            "user": {"id": PRIYA, "team_id": TEAM},
            "api_app_id": "A05HELPDSK",
            "view": {"id": "V07MODAL01", "type": "modal", "callback_id": "feedback_form"},
        }
    )


def event(kind: str) -> tuple[bytes, str]:
    body = json.loads(fixture_bytes("event_callback__app_mention.json"))
    body["event"]["type"] = kind
    return json.dumps(body).encode(), JSON


def rate_limited() -> tuple[bytes, str]:
    """What Slack posts to the events URL when it holds the app's events back."""
    body = {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "type": "app_rate_limited",
        "team_id": TEAM,
        "minute_rate_limited": 1518467820,
        "api_app_id": "A05HELPDSK",
    }
    return json.dumps(body).encode(), JSON


def command(name: str) -> tuple[bytes, str]:
    fields = {"command": name, "text": "status", "team_id": TEAM, "user_id": PRIYA}
    return urlencode(fields).encode(), "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("make", "answer", "logged"),
    [
        (fixture_click, b"", {"type": "block_actions", "id": "escalation_ack"}),
        (unknown_button, b"", {"type": "block_actions", "id": "deskbridge.nope"}),
        (lambda: modal("view_submission"), b"", {"type": "view_submission", "id": "feedback_form"}),
        (lambda: modal("view_closed"), b"", {"type": "view_closed", "id": "feedback_form"}),
        (lambda: event("app_mention"), b"", {"type": "app_mention", "id": ""}),
        (lambda: event("reaction_added"), b"", {"type": "reaction_added", "id": ""}),
        (
            lambda: command("/other"),
            b'{"text": "deskbridge does not answer `/other`.", "response_type": "ephemeral"}',
            {"type": "slash_command", "id": "/other"},
        ),
        (rate_limited, b"", {"type": "app_rate_limited", "id": ""}),
    ],
    ids=[
        "the fixture's escalation_ack",
        "an unknown deskbridge button",
        "a modal submitted",
        "a modal closed",
        "app_mention",
        "an unsubscribed event type",
        "an unknown slash command",
        "events held back (app_rate_limited)",
    ],
)
def test_unknown_slack_input_is_answered_200_and_ignored(
    runtime, client, fake, caplog, make, answer, logged
):
    body, ctype = make()
    caplog.set_level(logging.DEBUG)

    response = client.post(
        "/slack/events", data=body, headers={**slack_headers(body), "Content-Type": ctype}
    )

    assert (response.status_code, response.data) == (200, answer)
    assert [(r.getMessage(), r.deskbridge_fields) for r in caplog.records if r.levelno >= 20] == [
        ("slack.ignored", logged)
    ]
    assert PRIYA not in caplog.text  # who sent it is never logged, nor what they wrote
    assert "status ZD-48213" not in caplog.text
    assert _stored(runtime) == (0, 0)
    assert fake.calls == []


def test_the_app_home_is_still_published_for_whoever_opens_it(client, fake):
    body, ctype = event("app_home_opened")
    payload = json.loads(body)
    payload["event"] = {
        "type": "app_home_opened",
        "user": SAM,
        "channel": "D07HOME001",
        "tab": "home",
    }
    body = json.dumps(payload).encode()

    response = client.post(
        "/slack/events", data=body, headers={**slack_headers(body), "Content-Type": ctype}
    )

    assert response.status_code == 200
    wait_until(lambda: fake.ok_calls("views.publish"))  # published after the answer
    published = fake.ok_calls("views.publish")
    assert [
        (p.args["user_id"], p.args["view"]["blocks"][0]["text"]["text"]) for p in published
    ] == [(SAM, "deskbridge — Sam Whitaker")]


def test_the_app_home_event_is_answered_at_once_while_slack_rate_limits_the_view(client, fake):
    """views.publish ran inside the request (bolt answers events after the listener,
    process_before_response) with the client's retries: a 429 with Retry-After: 4 held the
    answer 4-5 s, past Slack's 3 s, and Slack delivered the event again. The event is now
    answered first; the view follows (a bolt lazy listener), retried after Retry-After."""
    body, ctype = event("app_home_opened")
    payload = json.loads(body)
    payload["event"] = {"type": "app_home_opened", "user": SAM, "channel": "D07HOME001"}
    body = json.dumps(payload).encode()
    fake.fail_for(1.0, status=429, headers={"Retry-After": "4"})

    started = time.monotonic()
    response = client.post(
        "/slack/events", data=body, headers={**slack_headers(body), "Content-Type": ctype}
    )
    took = time.monotonic() - started

    assert response.status_code == 200
    assert took < 1.0
    wait_until(lambda: fake.ok_calls("views.publish"), seconds=10)
    assert [(c.method, c.status, c.args["user_id"]) for c in fake.calls] == [
        ("views.publish", 429, SAM),
        ("views.publish", 200, SAM),
    ]


@pytest.mark.parametrize("reason", ["http_timeout", "http_error"])
def test_an_event_and_slacks_retries_of_it_are_each_answered_at_once_and_taken(
    runtime, client, fake, reason
):
    """reliability.md §6 A2: Slack's retries (X-Slack-Retry-Num 1 to 3) are never dropped for
    being retries: after an http_error the retry may be the only copy that arrives. The one
    event deskbridge acts on, app_home_opened, is answered before its work (so a slow first
    handler does not make Slack retry) and its work is idempotent: each delivery publishes
    the same Home view, which replaces the last; nothing is stored, nothing else is sent."""
    body, ctype = event("app_home_opened")
    payload = json.loads(body)
    payload["event"] = {"type": "app_home_opened", "user": SAM, "channel": "D07HOME001"}
    body = json.dumps(payload).encode()
    retries = [{}] if reason == "http_timeout" else []  # after an http_error: no first copy
    retries += [{"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": reason} for n in (1, 2, 3)]

    for headers in retries:
        started = time.monotonic()
        response = client.post(
            "/slack/events",
            data=body,
            headers={**slack_headers(body), "Content-Type": ctype, **headers},
        )
        assert (response.status_code, time.monotonic() - started < 1.0) == (200, True)

    wait_until(lambda: len(fake.ok_calls("views.publish")) == len(retries), seconds=10)
    published = fake.ok_calls("views.publish")
    assert {(p.args["user_id"], json.dumps(p.args["view"])) for p in published} == {
        (SAM, json.dumps(published[0].args["view"]))
    }
    assert {c.method for c in fake.calls} == {"views.publish"}
    assert _stored(runtime) == (0, 0)
