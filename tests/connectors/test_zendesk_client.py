"""Zendesk write-back (ZendeskWriter) against a mocked Zendesk API: what goes on the wire,
and how each failure maps to RetryableError / PermanentError for the dispatcher."""

from __future__ import annotations

import json
import time
from hashlib import sha256

import pytest
import requests
import responses
import zenpy.lib.api

from deskbridge.connectors.zendesk.client import ZendeskWriter
from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.model import Source
from deskbridge.workflows.ports import PermanentError, RetryableError

API = "https://acme.zendesk.com/api/v2"
TICKET_URL = f"{API}/tickets/48213.json"
TAGS_URL = f"{API}/tickets/48213/tags.json"
TICKET_RESPONSE = {
    "ticket": {"id": 48213, "status": "open", "tags": []},
    "audit": {"id": 1, "ticket_id": 48213, "events": []},
}


def action(kind: ActionKind, **params) -> Action:
    return Action(
        action=kind,
        ticket="zendesk:48213",
        rule="three_responses",
        reason="test",
        key=f"zendesk:48213:{kind.value}",
        params=params,
    )


@pytest.fixture
def api():
    # assert_all_requests_are_fired: every mocked call was made; an unmocked URL raises
    # ConnectionError instead of reaching the network.
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def writer() -> ZendeskWriter:
    return ZendeskWriter("acme", "bot@acme.test", "api-token")


@pytest.fixture
def no_sleep(monkeypatch):
    """Any sleep on the calling thread (zenpy's 429 loop, urllib3 back-off) fails the test."""

    def refuse(seconds):
        raise AssertionError(f"slept {seconds}s on the calling thread")

    monkeypatch.setattr(time, "sleep", refuse)
    monkeypatch.setattr(zenpy.lib.api, "sleep", refuse)


def only_call(api) -> tuple[str, str, object]:
    assert len(api.calls) == 1
    request = api.calls[0].request
    return request.method, request.url, json.loads(request.body)


# --- what is sent -----------------------------------------------------------------------


def test_tag_adds_tags_with_the_tags_endpoint(api, writer):
    api.put(TAGS_URL, json={"tags": ["call_required", "vip"]})

    result = writer.perform(action(ActionKind.tag, tags=["call_required"]))

    assert only_call(api) == ("PUT", TAGS_URL, {"tags": ["call_required"]})
    assert result == {"zendesk_ticket": 48213}


def test_note_is_an_internal_comment(api, writer):
    api.put(TICKET_URL, json=TICKET_RESPONSE)

    note = action(ActionKind.note, body="3 written replies: please call the customer.")

    writer.perform(note)

    assert only_call(api) == (
        "PUT",
        TICKET_URL,
        {
            "ticket": {
                "id": 48213,
                "comment": {
                    "body": "3 written replies: please call the customer.\n\n"
                    f"deskbridge ref {sha256(note.key.encode()).hexdigest()[:16]}",
                    "public": False,
                },
            }
        },
    )


def test_assign_sets_the_group(api, writer):
    api.put(TICKET_URL, json=TICKET_RESPONSE)

    writer.perform(action(ActionKind.assign, group="360001234"))

    assert only_call(api) == ("PUT", TICKET_URL, {"ticket": {"id": 48213, "group_id": 360001234}})


def test_assign_to_a_group_named_not_numbered_is_permanent_and_sends_nothing(api, writer):
    # A group's name in the rules file fails alike on every attempt: dead-lettered at once,
    # saying what is wrong, not retried eight times as a ValueError traceback.
    with pytest.raises(PermanentError) as refused:
        writer.perform(action(ActionKind.assign, group="Logistics"))

    assert str(refused.value) == (
        "Zendesk group ids are digits, not 'Logistics' (the rules file's departments' group "
        "or risk.specialist_group)"
    )
    assert len(api.calls) == 0


def test_set_priority_sets_the_priority(api, writer):
    api.put(TICKET_URL, json=TICKET_RESPONSE)

    writer.perform(action(ActionKind.set_priority, priority="urgent"))

    assert only_call(api) == ("PUT", TICKET_URL, {"ticket": {"id": 48213, "priority": "urgent"}})


def test_the_dry_run_says_what_each_write_would_set(dry_run_writer):
    # Without credentials: the tags, group or priority the live writer would send, so a
    # team trying deskbridge by hand sees them in outbox.dry_run; never a note's text.
    dry_run = dry_run_writer(Source.zendesk)

    performed = [
        dry_run.perform(action(ActionKind.tag, tags=["call_required"])),
        dry_run.perform(action(ActionKind.assign, group="360010000001")),
        dry_run.perform(action(ActionKind.set_priority, priority="urgent")),
        dry_run.perform(action(ActionKind.note, body="Call Dana Whitfield back")),
    ]

    assert performed == [
        {"dry_run": True, "channel": "zendesk", "tags": ["call_required"]},
        {"dry_run": True, "channel": "zendesk", "group": "360010000001"},
        {"dry_run": True, "channel": "zendesk", "priority": "urgent"},
        {"dry_run": True, "channel": "zendesk"},
    ]


def test_requests_authenticate_with_the_api_token(api, writer):
    api.put(TAGS_URL, json={"tags": ["x"]})

    writer.perform(action(ActionKind.tag, tags=["x"]))

    # Basic base64("bot@acme.test/token:api-token")
    assert api.calls[0].request.headers["Authorization"] == (
        "Basic Ym90QGFjbWUudGVzdC90b2tlbjphcGktdG9rZW4="
    )


def test_an_action_zendesk_cannot_perform_is_permanent_and_sends_nothing(api, writer):
    with pytest.raises(PermanentError, match="cannot perform notify"):
        writer.perform(action(ActionKind.notify, text="hello"))

    assert len(api.calls) == 0


# --- failures ---------------------------------------------------------------------------


def test_429_is_retryable_with_retry_after_and_nothing_sleeps(api, writer, no_sleep):
    api.put(
        TAGS_URL,
        status=429,
        headers={"Retry-After": "600"},
        json={"error": "TooManyRequests"},
    )

    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        writer.perform(action(ActionKind.tag, tags=["call_required"]))

    assert time.monotonic() - started < 1.0
    assert (info.value.retry_after, info.value.throttled) == (600.0, True)
    assert len(api.calls) == 1  # neither zenpy nor urllib3 re-sent it


def test_429_on_a_ticket_update_is_retryable_too(api, writer, no_sleep):
    api.put(TICKET_URL, status=429, headers={"Retry-After": "30"}, body="")

    with pytest.raises(RetryableError) as info:
        writer.perform(action(ActionKind.set_priority, priority="high"))

    assert (info.value.retry_after, info.value.throttled) == (30.0, True)
    assert len(api.calls) == 1


@pytest.mark.parametrize("header", [None, "Wed, 21 Oct 2026 07:28:00 GMT", "soon"])
def test_429_without_a_usable_retry_after_is_retryable_without_a_delay(
    api, writer, no_sleep, header
):
    headers = {"Retry-After": header} if header else {}
    api.put(TAGS_URL, status=429, headers=headers, body="")

    with pytest.raises(RetryableError) as info:
        writer.perform(action(ActionKind.tag, tags=["x"]))

    assert (info.value.retry_after, info.value.throttled) == (None, True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"error": "ServiceUnavailable"}},
        {"body": "<html>Service Unavailable</html>"},
    ],
    ids=["json", "html"],
)
def test_503_is_retryable(api, writer, no_sleep, kwargs):
    api.put(TAGS_URL, status=503, **kwargs)

    with pytest.raises(RetryableError, match="503") as info:
        writer.perform(action(ActionKind.tag, tags=["x"]))

    assert info.value.throttled is False  # an outage, not a rate limit: the attempt counts
    assert len(api.calls) == 1


def test_503_with_retry_after_keeps_the_providers_wait(api, writer, no_sleep):
    api.put(TAGS_URL, status=503, headers={"Retry-After": "120"}, body="maintenance")

    with pytest.raises(RetryableError) as info:
        writer.perform(action(ActionKind.tag, tags=["x"]))

    assert (info.value.retry_after, info.value.throttled) == (120.0, True)
    assert len(api.calls) == 1


@pytest.mark.parametrize("status", [500, 502, 504, 408, 409])
def test_server_errors_and_conflicts_are_retryable(api, writer, no_sleep, status):
    api.put(TICKET_URL, status=status, json={"error": "whatever"})

    with pytest.raises(RetryableError, match=str(status)):
        writer.perform(action(ActionKind.note, body="x"))


@pytest.mark.parametrize(
    ("status", "kwargs", "label"),
    [
        (
            404,
            {"json": {"error": "RecordNotFound", "description": "Not found"}},
            "404 RecordNotFound",
        ),
        (401, {"json": {"error": "Couldn't authenticate you"}}, "401"),
        (401, {"body": "Unauthorized"}, "401"),
        (403, {"json": {"error": "Forbidden"}}, "403 Forbidden"),
        (422, {"json": {"error": "RecordInvalid", "details": {}}}, "422 RecordInvalid"),
    ],
    ids=["404", "401-json", "401-text", "403", "422"],
)
def test_client_errors_are_permanent(api, writer, no_sleep, status, kwargs, label):
    api.put(TICKET_URL, status=status, **kwargs)

    with pytest.raises(PermanentError) as info:
        writer.perform(action(ActionKind.assign, group="5"))

    # The status and Zendesk's error code (not a sentence posing as one); its answer is the
    # dead letter's detail.
    answer = kwargs.get("body") or json.dumps(kwargs["json"])
    assert (str(info.value), info.value.detail) == (f"Zendesk refused the update ({label})", answer)

    assert len(api.calls) == 1


def test_a_connection_error_is_retryable(api, writer):
    api.put(TAGS_URL, body=requests.ConnectionError("connection refused"))

    with pytest.raises(RetryableError, match="unreachable: ConnectionError"):
        writer.perform(action(ActionKind.tag, tags=["x"]))


def test_a_timeout_is_retryable(api, writer):
    api.put(TICKET_URL, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(RetryableError, match=r"did not answer within its timeout \(ReadTimeout\)"):
        writer.perform(action(ActionKind.note, body="x"))


def test_an_unmocked_url_never_reaches_the_network(api, writer):
    # responses answers unknown URLs with ConnectionError: proof the suite stays offline.
    with pytest.raises(RetryableError, match="unreachable"):
        writer.perform(action(ActionKind.tag, tags=["x"]))
