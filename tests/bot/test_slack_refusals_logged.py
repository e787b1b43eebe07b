# ruff: noqa: F811 (the Slack fixtures are imported from test_slack_flow and used by name)
"""A Slack request refused says in the log why, as a helpdesk's does (docs/deploy.md §7: each
`webhook.unauthorized` line's `error` says which to check): a signature missing, stale or not
matching (401), and a request from another workspace than SLACK_TEAM_ID (403), which was
neither logged nor counted, so a mistyped SLACK_TEAM_ID refused every click and command in
silence. Never the secret, the expected signature or the body."""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import parse_qsl, urlencode

import pytest

from tests.bot.test_slack_flow import (  # noqa: F401 (fixtures)
    SIGNING_SECRET,
    TEAM,
    client,
    fake,
    runtime,
    slack_headers,
)
from tests.conftest import fixture_bytes

BODY = fixture_bytes("slash_command__escalate.txt")


def _refusals(caplog) -> list[tuple[str, dict]]:
    return [
        (r.getMessage(), r.deskbridge_fields)
        for r in caplog.records
        if r.getMessage().startswith("webhook.")
    ]


@pytest.mark.parametrize(
    ("headers", "field", "says"),
    [
        ({}, "X-Slack-Signature", "signature header is missing: Slack sends X-Slack-Signature"),
        (
            {"X-Slack-Signature": "v0=00"},
            "X-Slack-Request-Timestamp",
            "signature timestamp header is missing",
        ),
        (
            "stale",
            "X-Slack-Request-Timestamp",
            r"signature timestamp is 60[01] s old, outside Slack's window of 300 s: .* check this "
            r"server's clock \(NTP\)",
        ),
        (
            "other secret",
            "X-Slack-Signature",
            "signature does not match the body: check that SLACK_SIGNING_SECRET is the app's "
            "Signing Secret",
        ),
    ],
    ids=["no headers", "no timestamp", "stale", "another secret"],
)
def test_a_refused_signature_is_logged_with_what_to_check(
    runtime, client, caplog, headers, field, says
):
    caplog.set_level(logging.INFO)
    if headers == "stale":
        headers = slack_headers(BODY, at=time.time() - 600)
    elif headers == "other secret":
        headers = slack_headers(BODY, secret="not-the-apps-signing-secret")
    headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}

    response = client.post("/slack/events", data=BODY, headers=headers)

    assert (response.status_code, response.json) == (
        401,
        {"error": "invalid or expired Slack signature"},
    )
    [(name, fields)] = _refusals(caplog)
    assert (name, fields["source"], fields["field"]) == ("webhook.unauthorized", "slack", field)
    assert re.match(says, fields["error"])
    assert SIGNING_SECRET not in caplog.text
    assert "escalate" not in caplog.text  # the body is not logged


def test_a_request_from_another_workspace_is_logged_and_counted(runtime, client, caplog):
    caplog.set_level(logging.INFO)
    fields = dict(parse_qsl(BODY.decode()))
    body = urlencode({**fields, "team_id": "T0OTHER99"}).encode()

    response = client.post("/slack/events", data=body, headers=slack_headers(body))

    assert response.status_code == 403
    assert _refusals(caplog) == [
        (
            "webhook.forbidden",
            {
                "source": "slack",
                "error": f"the request comes from workspace 'T0OTHER99', not SLACK_TEAM_ID={TEAM}: "
                "set SLACK_TEAM_ID to the id of the workspace the app is installed in (its T... "
                "id), or the app is installed in another workspace too",
                "field": "team_id",
            },
        )
    ]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'deskbridge_webhooks_total{outcome="forbidden",source="slack"} 1.0' in metrics
