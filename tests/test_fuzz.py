"""Every webhook path fed malformed bodies and headers (hypothesis): no answer is a 5xx, and a
request that is not accepted stores nothing. Bodies are random bytes, random JSON, and the
fixtures with one field replaced by a random value, signed so that the parsers see them."""

# ruff: noqa: F811 (the Slack fixtures are imported from tests.bot.test_slack_flow)
from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskbridge.app import create_app, create_runtime
from deskbridge.config.settings import Settings
from deskbridge.store.events import count_events
from deskbridge.store.outbox import count_actions
from tests.bot.test_slack_flow import client, fake, runtime, slack_headers  # noqa: F401
from tests.conftest import TEST_SECRET, Clock, fixture_bytes, signed_headers
from tests.salesforce_corpus import CALLOUT as SALESFORCE_CALLOUT

NOW = datetime(2025, 3, 4, 9, 15, 23, tzinfo=UTC)
ORG = "00D5j00000HqZtxEAF"
TOKEN = "callout-token-for-tests"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", "0", "../../etc", "9999-12-31T23:59:59Z", "\u0000", "x" * 300])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(data, prefix=()) -> list[tuple]:
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((*prefix, key))
            out += _paths(value, (*prefix, key))
    return out


def mutated(fixture: dict) -> st.SearchStrategy[dict]:
    """The fixture with one field (at any depth) replaced, or removed."""
    paths = _paths(fixture)

    def apply(path: tuple, value, remove: bool) -> dict:
        data = copy.deepcopy(fixture)
        target = data
        for part in path[:-1]:
            target = target[part]
        if remove:
            target.pop(path[-1])
        else:
            target[path[-1]] = value
        return data

    return st.builds(apply, st.sampled_from(paths), json_values, st.booleans())


def json_bodies(fixture: dict) -> st.SearchStrategy[bytes]:
    as_json = (mutated(fixture) | json_values).map(lambda v: json.dumps(v, allow_nan=True).encode())
    return as_json | st.binary(max_size=300)


CONTENT_TYPES = st.sampled_from(
    ["application/json", "text/xml; charset=utf-8", "application/x-www-form-urlencoded", "", "*/*"]
)


HOSTILE = [
    "",
    "0",
    "-1",
    "../../etc",
    "48\n213",
    "48213\u0000",
    "\ud800",
    "9" * 300,
    "x" * 70_000,
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "2025-03-04T09:15:00+23:59",
    2**70,
    -1,
    1e308,
    True,
    [],
    {},
    None,
]


@pytest.fixture
def stores(engine, rules, monkeypatch):
    """Like `webhooks`, on SQLite and on PostgreSQL (which refuses more than SQLite does)."""
    return _webhooks(engine, rules, monkeypatch)


@pytest.fixture
def webhooks(sqlite_engine, rules, monkeypatch):
    return _webhooks(sqlite_engine, rules, monkeypatch)


def _webhooks(engine, rules, monkeypatch):
    for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings_ = Settings(
        ZENDESK_WEBHOOK_SECRET=TEST_SECRET,
        SALESFORCE_ORG_ID=ORG,
        SALESFORCE_WEBHOOK_TOKEN=TOKEN,
    )
    runtime_ = create_runtime(settings_, rules, clock=Clock(NOW), engine=engine)
    return runtime_, create_app(runtime=runtime_).test_client()


def _stored(engine) -> tuple[int, int]:
    with engine.connect() as connection:
        return count_events(connection), count_actions(connection)


def _check(engine, send) -> None:
    before = _stored(engine)
    response = send()
    assert response.status_code < 500, response.data[:300]
    if response.status_code != 200:
        assert _stored(engine) == before


ZENDESK_EVENT = json.loads(fixture_bytes("ticket_comment_added__public_agent.json"))
ZENDESK_TRIGGER = json.loads(fixture_bytes("trigger_ticket_updated.json"))


def _with(fixture: dict, path: tuple, value) -> bytes:
    data = copy.deepcopy(fixture)
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return json.dumps(data).encode()


def test_every_zendesk_field_with_every_hostile_value_is_never_a_5xx(stores):
    """The corpus: each field of an event and of a trigger body, at any depth, set to each
    hostile value, signed. On PostgreSQL an over-long id was a 503; in the SLA code a year-9999
    time was a 500."""
    runtime_, http = stores
    answers: dict[int, int] = {}
    for fixture in (ZENDESK_EVENT, ZENDESK_TRIGGER):
        for path in _paths(fixture):
            for value in HOSTILE:
                body = _with(fixture, path, value)
                before = _stored(runtime_.engine)
                response = http.post(
                    "/webhooks/zendesk", data=body, headers=signed_headers(body, NOW)
                )
                status = response.status_code
                answers[status] = answers.get(status, 0) + 1
                assert status < 500, (path, value, response.data[:200])
                if status != 200:
                    assert _stored(runtime_.engine) == before, (path, value)
    assert set(answers) <= {200, 400}
    assert answers[400] > 100


@FUZZ
@given(body=json_bodies(ZENDESK_EVENT) | json_bodies(ZENDESK_TRIGGER), ctype=CONTENT_TYPES)
def test_zendesk_signed_fuzz_is_never_a_5xx(webhooks, body, ctype):
    runtime_, http = webhooks
    headers = {**signed_headers(body, NOW), "Content-Type": ctype}
    _check(runtime_.engine, lambda: http.post("/webhooks/zendesk", data=body, headers=headers))


@FUZZ
@given(
    body=st.binary(max_size=300),
    stamp=st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30),
    signature=st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60),
)
def test_zendesk_forged_headers_are_never_a_5xx(webhooks, body, stamp, signature):
    runtime_, http = webhooks
    headers = {
        "X-Zendesk-Webhook-Signature": signature,
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }

    response = http.post("/webhooks/zendesk", data=body, headers=headers)

    assert response.status_code == 401
    assert _stored(runtime_.engine) == (0, 0)


SALESFORCE_XML = fixture_bytes("outbound_message__two_cases.xml").decode()
xml_bodies = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda cut, junk: (SALESFORCE_XML[:cut] + junk).encode(),
        st.integers(min_value=0, max_value=len(SALESFORCE_XML)),
        st.text(max_size=40),
    ),
    st.sampled_from(
        [
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd"><x/>',
            b"<a>" * 5000,
        ]
    ),
)


@FUZZ
@given(body=xml_bodies)
def test_salesforce_outbound_message_fuzz_is_never_a_5xx(webhooks, body):
    runtime_, http = webhooks
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    _check(runtime_.engine, lambda: http.post("/webhooks/salesforce", data=body, headers=headers))


@FUZZ
@given(body=json_bodies(SALESFORCE_CALLOUT))
def test_salesforce_callout_fuzz_is_never_a_5xx(webhooks, body):
    runtime_, http = webhooks
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    _check(runtime_.engine, lambda: http.post("/webhooks/salesforce", data=body, headers=headers))


SLACK_CLICK = json.loads(fixture_bytes("block_actions__acknowledge.json"))
SLACK_EVENT = json.loads(fixture_bytes("event_callback__app_mention.json"))


@FUZZ
@given(
    payload=mutated(SLACK_CLICK),
    event=json_bodies(SLACK_EVENT),
    form=st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=6),
)
def test_slack_signed_fuzz_is_never_a_5xx(runtime, client, payload, event, form):
    click = urlencode({"payload": json.dumps(payload)}).encode()
    command = urlencode({"command": "/deskbridge", "team_id": "T0001ABCD", **form}).encode()
    for body, ctype in (
        (click, "application/x-www-form-urlencoded"),
        (command, "application/x-www-form-urlencoded"),
        (event, "application/json"),
    ):
        headers = {**slack_headers(body), "Content-Type": ctype}
        _check(
            runtime.engine,
            lambda b=body, h=headers: client.post("/slack/events", data=b, headers=h),
        )
