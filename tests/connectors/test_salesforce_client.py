"""Salesforce write-back (SalesforceWriter) against a mocked login and REST API: what goes on
the wire, session expiry, and how each failure maps to RetryableError / PermanentError."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from hashlib import sha256

import pytest
import requests
import responses
from requests.adapters import HTTPAdapter

from deskbridge.app import create_runtime
from deskbridge.config.settings import Settings
from deskbridge.connectors.salesforce.client import (
    TIMEOUT_SECONDS,
    SalesforceWriter,
    TimeoutSession,
    build_session,
)
from deskbridge.store.outbox import insert_actions, list_actions
from deskbridge.workflows.actions import Action, ActionKind, build_action
from deskbridge.workflows.model import Source, evolve
from deskbridge.workflows.ports import DryRunPerformer, PermanentError, RetryableError
from tests.conftest import TEST_SECRET, Clock

CASE_ID = "5003000000D8cuIAAR"
LOGIN_URL = "https://login.salesforce.com/services/Soap/u/59.0"
INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0"
CASE_URL = f"{DATA}/sobjects/Case/{CASE_ID}"
COMMENT_URL = f"{DATA}/sobjects/CaseComment/"


def login_response(session_id: str) -> str:
    """The part of the partner API loginResponse simple-salesforce reads (sessionId, serverUrl;
    the instance is serverUrl's host)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns="urn:partner.soap.sforce.com"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <soapenv:Body>
    <loginResponse>
      <result>
        <metadataServerUrl>{INSTANCE}/services/Soap/m/59.0/00D000000000062</metadataServerUrl>
        <passwordExpired>false</passwordExpired>
        <sandbox>false</sandbox>
        <serverUrl>{INSTANCE}/services/Soap/u/59.0/00D000000000062</serverUrl>
        <sessionId>{session_id}</sessionId>
        <userId>005000000000001AAA</userId>
      </result>
    </loginResponse>
  </soapenv:Body>
</soapenv:Envelope>"""


INVALID_LOGIN = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:sf="urn:fault.partner.soap.sforce.com"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <soapenv:Body>
    <soapenv:Fault>
      <faultcode>sf:INVALID_LOGIN</faultcode>
      <faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked
        out.</faultstring>
      <detail>
        <sf:LoginFault xsi:type="sf:LoginFault">
          <sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>
          <sf:exceptionMessage>Invalid username, password, security token; or user locked
            out.</sf:exceptionMessage>
        </sf:LoginFault>
      </detail>
    </soapenv:Fault>
  </soapenv:Body>
</soapenv:Envelope>"""

EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def action(kind: ActionKind, **params) -> Action:
    return Action(
        action=kind,
        ticket=f"salesforce:{CASE_ID}",
        rule="risk_escalation",
        reason="test",
        key=f"salesforce:{CASE_ID}:{kind.value}",
        params=params,
    )


@pytest.fixture
def api():
    # An unmocked URL raises ConnectionError instead of reaching the network.
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def writer() -> SalesforceWriter:
    return SalesforceWriter("bot@acme.test", "p&ss<word>", "TOKEN123")


@pytest.fixture
def logged_in(api):
    api.post(LOGIN_URL, body=login_response("SESSION-1"), content_type="text/xml")
    return api


@pytest.fixture
def no_sleep(monkeypatch):
    def refuse(seconds):
        raise AssertionError(f"slept {seconds}s on the calling thread")

    monkeypatch.setattr(time, "sleep", refuse)


def rest_calls(api) -> list[tuple[str, str, object]]:
    return [
        (call.request.method, call.request.url, json.loads(call.request.body))
        for call in api.calls
        if "/services/data/" in call.request.url
    ]


def login_calls(api) -> list:
    return [call for call in api.calls if call.request.url == LOGIN_URL]


# --- construction and login -------------------------------------------------------------


def test_construction_makes_no_request(api):
    SalesforceWriter("bot@acme.test", "secret", "TOKEN123")

    assert len(api.calls) == 0


def test_first_perform_logs_in_with_soap_then_uses_the_session(logged_in, writer):
    logged_in.patch(CASE_URL, status=204)

    writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))

    login = logged_in.calls[0].request
    assert (login.method, login.url) == ("POST", LOGIN_URL)
    assert login.headers["SOAPAction"] == "login"
    body = login.body.decode() if isinstance(login.body, bytes) else login.body
    assert "<n1:username>bot@acme.test</n1:username>" in body
    # The password is XML-escaped and the security token appended to it.
    assert "<n1:password>p&amp;ss&lt;word&gt;TOKEN123</n1:password>" in body
    patch = logged_in.calls[1].request
    assert patch.headers["Authorization"] == "Bearer SESSION-1"
    assert patch.headers["Content-Type"] == "application/json"


def test_the_login_happens_once_for_many_actions(logged_in, writer):
    logged_in.patch(CASE_URL, status=204)

    writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))
    writer.perform(action(ActionKind.set_priority, priority="low"))

    assert len(login_calls(logged_in)) == 1
    assert len(rest_calls(logged_in)) == 2


def test_a_my_domain_instance_url_is_the_login_domain(api):
    writer = SalesforceWriter("bot@acme.test", "secret", "T", instance_url=INSTANCE)
    api.post(
        f"{INSTANCE}/services/Soap/u/59.0",
        body=login_response("SESSION-1"),
        content_type="text/xml",
    )
    api.patch(CASE_URL, status=204)

    writer.perform(action(ActionKind.set_priority, priority="high"))

    assert api.calls[0].request.url == f"{INSTANCE}/services/Soap/u/59.0"


def test_a_sandbox_logs_in_at_test(api):
    writer = SalesforceWriter("bot@acme.test.uat", "secret", "T", domain="test")
    api.post(
        "https://test.salesforce.com/services/Soap/u/59.0",
        body=login_response("SESSION-1"),
        content_type="text/xml",
    )
    api.patch(CASE_URL, status=204)

    writer.perform(action(ActionKind.set_priority, priority="high"))

    assert [(c.request.method, c.request.url) for c in api.calls] == [
        ("POST", "https://test.salesforce.com/services/Soap/u/59.0"),
        ("PATCH", CASE_URL),
    ]


def test_an_instance_url_outside_salesforce_com_is_refused_at_construction(api):
    with pytest.raises(ValueError, match=r"salesforce\.com"):
        SalesforceWriter("u", "p", "t", instance_url="https://example.org")
    assert len(api.calls) == 0


def test_bad_credentials_are_permanent_and_nothing_is_written(api, writer):
    api.post(LOGIN_URL, status=500, body=INVALID_LOGIN, content_type="text/xml")

    with pytest.raises(PermanentError, match="INVALID_LOGIN"):
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))

    assert rest_calls(api) == []


@pytest.mark.parametrize(
    "body",
    ["<html><body>Service Unavailable</body></html>", "Service Unavailable", ""],
    ids=["html", "text", "empty"],
)
def test_a_login_server_outage_is_retryable_and_the_next_attempt_logs_in(api, writer, body):
    # simple-salesforce raises SalesforceAuthenticationFailed for these too, without a fault code.
    api.post(LOGIN_URL, status=503, body=body)

    with pytest.raises(RetryableError, match="login failed"):
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))

    api.replace(responses.POST, LOGIN_URL, body=login_response("SESSION-2"))
    api.patch(CASE_URL, status=204)
    writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))
    assert len(login_calls(api)) == 2


def test_a_login_connection_error_is_retryable(api, writer):
    api.post(LOGIN_URL, body=requests.ConnectionError("connection refused"))

    with pytest.raises(RetryableError, match="unreachable: ConnectionError"):
        writer.perform(action(ActionKind.note, body="x"))


# --- what is sent -----------------------------------------------------------------------


def test_assign_sets_the_owner(logged_in, writer):
    logged_in.patch(CASE_URL, status=204)

    result = writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))

    assert rest_calls(logged_in) == [("PATCH", CASE_URL, {"OwnerId": "00G5e000001AbCdEAK"})]
    assert result == {"salesforce_case": CASE_ID}


def test_an_escalating_assign_also_sets_is_escalated(logged_in, writer):
    logged_in.patch(CASE_URL, status=204)

    writer.perform(action(ActionKind.assign, group="00G5e000009XyZaEAK", escalated=True))

    assert rest_calls(logged_in) == [
        ("PATCH", CASE_URL, {"OwnerId": "00G5e000009XyZaEAK", "IsEscalated": True})
    ]


@pytest.mark.parametrize(
    ("priority", "picklist"),
    [("urgent", "High"), ("high", "High"), ("normal", "Medium"), ("low", "Low")],
)
def test_set_priority_writes_the_picklist_value(logged_in, writer, priority, picklist):
    logged_in.patch(CASE_URL, status=204)

    writer.perform(action(ActionKind.set_priority, priority=priority))

    assert rest_calls(logged_in) == [("PATCH", CASE_URL, {"Priority": picklist})]


def test_the_priority_mapping_comes_from_the_constructor(logged_in):
    writer = SalesforceWriter(
        "bot@acme.test", "secret", "T", priorities={"urgent": "Critical", "high": "High"}
    )
    logged_in.patch(CASE_URL, status=204)

    writer.perform(action(ActionKind.set_priority, priority="urgent"))

    assert rest_calls(logged_in) == [("PATCH", CASE_URL, {"Priority": "Critical"})]


def test_a_priority_without_a_picklist_value_is_permanent_and_sends_nothing(api):
    writer = SalesforceWriter("bot@acme.test", "secret", "T", priorities={"urgent": "High"})

    with pytest.raises(PermanentError, match="no Salesforce Priority for 'low'"):
        writer.perform(action(ActionKind.set_priority, priority="low"))

    assert len(api.calls) == 0


def test_note_is_an_unpublished_case_comment(logged_in, writer):
    logged_in.post(
        COMMENT_URL,
        status=201,
        json={"id": "00a5e00000AbCdEAAV", "success": True, "errors": []},
    )

    note = action(ActionKind.note, body="3 written replies: please call.")

    result = writer.perform(note)

    assert rest_calls(logged_in) == [
        (
            "POST",
            COMMENT_URL,
            {
                "ParentId": CASE_ID,
                "CommentBody": "3 written replies: please call.\n\n"
                f"deskbridge ref {sha256(note.key.encode()).hexdigest()[:16]}",
                "IsPublished": False,
            },
        )
    ]
    assert result == {"salesforce_case": CASE_ID, "case_comment": "00a5e00000AbCdEAAV"}


def test_tag_is_skipped_without_any_request(api, writer):
    result = writer.perform(action(ActionKind.tag, tags=["call_required"]))

    assert result == {"skipped": "salesforce cases have no tags"}
    assert len(api.calls) == 0


@pytest.mark.parametrize("kind", [ActionKind.notify, ActionKind.route, ActionKind.call_customer])
def test_an_action_salesforce_cannot_perform_is_permanent_and_sends_nothing(api, writer, kind):
    with pytest.raises(PermanentError, match=f"cannot perform {kind.value}"):
        writer.perform(action(kind, text="hello"))

    assert len(api.calls) == 0


def test_an_action_missing_its_field_is_permanent(api, writer):
    with pytest.raises(PermanentError, match="without 'group'"):
        writer.perform(action(ActionKind.assign))

    assert len(api.calls) == 0


@pytest.mark.parametrize(
    "ticket", ["zendesk:48213", "salesforce:../../sobjects/User", "salesforce:5003000000D8cu"]
)
def test_a_ticket_that_is_not_a_case_id_is_permanent(api, writer, ticket):
    bad = evolve(action(ActionKind.assign, group="00G5e000001AbCdEAK"), {"ticket": ticket})

    with pytest.raises(PermanentError, match="not a Salesforce case id"):
        writer.perform(bad)

    assert len(api.calls) == 0


# --- timeouts and transport retries -----------------------------------------------------


def test_every_request_carries_a_timeout(logged_in, writer):
    logged_in.patch(CASE_URL, status=204)
    logged_in.post(COMMENT_URL, status=201, json={"id": "00a5e00000AbCdEAAV", "success": True})

    writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))
    writer.perform(action(ActionKind.note, body="x"))

    # Login, PATCH and POST: simple-salesforce passes none, the session adds it.
    assert len(logged_in.calls) == 3
    assert [call.request.req_kwargs["timeout"] for call in logged_in.calls] == [TIMEOUT_SECONDS] * 3


def test_the_timeout_reaches_the_transport_adapter(monkeypatch):
    seen = {}

    def send(adapter, request, **kwargs):
        seen["timeout"] = kwargs.get("timeout")
        raise requests.ConnectTimeout("stop here")

    monkeypatch.setattr(HTTPAdapter, "send", send)
    session = build_session()

    with pytest.raises(requests.ConnectTimeout):
        session.post(LOGIN_URL, data="x")
    assert seen["timeout"] == TIMEOUT_SECONDS

    with pytest.raises(requests.ConnectTimeout):
        session.get(CASE_URL, timeout=2.5)
    assert seen["timeout"] == 2.5  # a caller's own timeout is kept


def test_the_session_retries_connection_errors_only():
    session = build_session()
    retry = session.get_adapter("https://login.salesforce.com").max_retries

    assert isinstance(session, TimeoutSession)
    assert (retry.connect, retry.read, retry.status, retry.other) == (2, 0, 0, 0)
    assert retry.respect_retry_after_header is False


# --- session expiry ---------------------------------------------------------------------


def test_an_expired_session_logs_in_again_and_the_update_succeeds(api, writer):
    api.post(LOGIN_URL, body=login_response("SESSION-1"), content_type="text/xml")
    api.patch(CASE_URL, status=204)
    writer.perform(action(ActionKind.set_priority, priority="low"))

    # Later the session expires: one 401, a fresh login, the same PATCH again.
    api.replace(responses.POST, LOGIN_URL, body=login_response("SESSION-2"))
    api.replace(responses.PATCH, CASE_URL, status=401, json=EXPIRED)
    api.add(responses.PATCH, CASE_URL, status=204)

    result = writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))

    assert result == {"salesforce_case": CASE_ID}
    assert len(login_calls(api)) == 2
    expected = ("PATCH", CASE_URL, {"OwnerId": "00G5e000001AbCdEAK"})
    assert rest_calls(api)[1:] == [expected, expected]
    patches = [call.request for call in api.calls if call.request.method == "PATCH"]
    assert [p.headers["Authorization"] for p in patches] == [
        "Bearer SESSION-1",
        "Bearer SESSION-1",
        "Bearer SESSION-2",
    ]


def test_an_expired_session_on_a_note_logs_in_again_and_the_comment_is_created(api, writer):
    api.post(LOGIN_URL, body=login_response("SESSION-1"), content_type="text/xml")
    api.post(LOGIN_URL, body=login_response("SESSION-2"), content_type="text/xml")
    api.post(COMMENT_URL, status=401, json=EXPIRED)
    api.post(COMMENT_URL, status=201, json={"id": "00a5e00000AbCdEAAV", "success": True})

    result = writer.perform(action(ActionKind.note, body="x"))

    assert result["case_comment"] == "00a5e00000AbCdEAAV"
    assert len(login_calls(api)) == 2
    assert len(rest_calls(api)) == 2


def test_a_second_401_after_the_fresh_login_is_retryable_and_does_not_loop(api, writer):
    # simple-salesforce alone would log in and PATCH again and again here (its SFType retry
    # counter is not passed down the recursion).
    api.post(LOGIN_URL, body=login_response("SESSION-1"), content_type="text/xml")
    api.post(LOGIN_URL, body=login_response("SESSION-2"), content_type="text/xml")
    api.patch(CASE_URL, status=401, json=EXPIRED)

    with pytest.raises(RetryableError, match="again after a fresh login"):
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))

    assert len(login_calls(api)) == 2
    assert len(rest_calls(api)) == 2

    # The next attempt starts with a fresh login of its own.
    api.replace(responses.PATCH, CASE_URL, status=204)
    writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))
    assert len(login_calls(api)) == 3
    assert len(rest_calls(api)) == 3


def test_each_perform_may_re_login_once(api, writer):
    api.post(LOGIN_URL, body=login_response("SESSION-1"), content_type="text/xml")
    api.patch(CASE_URL, status=401, json=EXPIRED)
    api.patch(CASE_URL, status=204)
    api.patch(CASE_URL, status=401, json=EXPIRED)
    api.patch(CASE_URL, status=204)

    writer.perform(action(ActionKind.set_priority, priority="low"))
    writer.perform(action(ActionKind.set_priority, priority="high"))

    assert len(login_calls(api)) == 3
    assert len(rest_calls(api)) == 4


def test_a_401_that_is_not_salesforce_json_is_retryable(logged_in, writer):
    # simple-salesforce would crash on result.json()[0] here.
    logged_in.patch(CASE_URL, status=401, body="<html>Unauthorized</html>")

    with pytest.raises(RetryableError, match="401"):
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))

    assert len(login_calls(logged_in)) == 1


def test_expired_session_then_bad_credentials_is_permanent(api, writer):
    api.post(LOGIN_URL, body=login_response("SESSION-1"), content_type="text/xml")
    api.post(LOGIN_URL, status=500, body=INVALID_LOGIN, content_type="text/xml")
    api.patch(CASE_URL, status=401, json=EXPIRED)

    with pytest.raises(PermanentError, match="INVALID_LOGIN"):
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))


# --- API errors -------------------------------------------------------------------------


def test_the_daily_api_limit_is_retryable_after_an_hour(logged_in, writer, no_sleep):
    logged_in.patch(
        CASE_URL,
        status=403,
        json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    )

    with pytest.raises(RetryableError, match="REQUEST_LIMIT_EXCEEDED") as info:
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))

    assert info.value.retry_after == 3600
    assert info.value.throttled is False
    assert len(rest_calls(logged_in)) == 1


def test_the_concurrent_request_limit_is_retryable_sooner(logged_in, writer, no_sleep):
    logged_in.patch(
        CASE_URL,
        status=403,
        json=[
            {
                "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                "errorCode": "REQUEST_LIMIT_EXCEEDED",
            }
        ],
    )

    with pytest.raises(RetryableError) as info:
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))

    assert info.value.retry_after == 60
    # A rate limit, not a failure: waited out without using up an attempt, as a 429 is.
    assert info.value.throttled is True


def test_a_permission_403_is_permanent(logged_in, writer):
    logged_in.patch(
        CASE_URL,
        status=403,
        json=[
            {
                "message": "insufficient access rights on object id",
                "errorCode": "INSUFFICIENT_ACCESS_OR_READONLY",
            }
        ],
    )

    with pytest.raises(PermanentError, match="403 INSUFFICIENT_ACCESS_OR_READONLY"):
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))

    assert len(rest_calls(logged_in)) == 1


def test_a_missing_case_is_permanent(logged_in, writer):
    logged_in.patch(
        CASE_URL,
        status=404,
        json=[
            {
                "errorCode": "NOT_FOUND",
                "message": "The requested resource does not exist",
            }
        ],
    )

    with pytest.raises(PermanentError) as info:
        writer.perform(action(ActionKind.set_priority, priority="high"))

    # The status and code are logged; Salesforce's message only the dead letter keeps.
    assert (str(info.value), info.value.stored) == (
        "Salesforce refused the update (404 NOT_FOUND)",
        "Salesforce refused the update (404 NOT_FOUND): The requested resource does not exist",
    )


def test_a_malformed_request_is_permanent(logged_in, writer):
    logged_in.patch(
        CASE_URL,
        status=400,
        json=[
            {
                "message": "Priority: bad value for restricted picklist field: Critical",
                "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                "fields": ["Priority"],
            }
        ],
    )

    with pytest.raises(PermanentError, match="400 INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"):
        writer.perform(action(ActionKind.set_priority, priority="urgent"))


def test_a_locked_row_is_retryable(logged_in, writer):
    logged_in.patch(
        CASE_URL,
        status=400,
        json=[
            {
                "message": "unable to obtain exclusive access to this record",
                "errorCode": "UNABLE_TO_LOCK_ROW",
            }
        ],
    )

    with pytest.raises(RetryableError, match="UNABLE_TO_LOCK_ROW"):
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(logged_in, writer, no_sleep, status):
    logged_in.post(
        COMMENT_URL,
        status=status,
        json=[{"message": "An unexpected error occurred", "errorCode": "UNKNOWN_EXCEPTION"}],
    )

    with pytest.raises(RetryableError, match=str(status)):
        writer.perform(action(ActionKind.note, body="x"))

    assert len(rest_calls(logged_in)) == 1


def test_a_429_is_a_rate_limit_waited_out_without_using_up_an_attempt(logged_in, writer, no_sleep):
    logged_in.patch(CASE_URL, status=429, body="Too Many Requests")

    with pytest.raises(RetryableError) as info:
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))

    assert (str(info.value), info.value.retry_after, info.value.throttled) == (
        "Salesforce answered 429",
        None,
        True,
    )
    assert len(rest_calls(logged_in)) == 1


def test_an_html_server_error_is_retryable(logged_in, writer, no_sleep):
    logged_in.patch(CASE_URL, status=502, body="<html>Bad Gateway</html>")

    with pytest.raises(RetryableError, match="502"):
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))


def test_a_connection_error_is_retryable(logged_in, writer):
    logged_in.patch(CASE_URL, body=requests.ConnectionError("connection reset"))

    with pytest.raises(RetryableError, match="unreachable: ConnectionError"):
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))


def test_a_timeout_is_retryable(logged_in, writer):
    logged_in.post(COMMENT_URL, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(RetryableError, match=r"did not answer within its timeout \(ReadTimeout\)"):
        writer.perform(action(ActionKind.note, body="x"))


def test_an_unmocked_url_never_reaches_the_network(api, writer):
    with pytest.raises(RetryableError, match="unreachable"):
        writer.perform(action(ActionKind.assign, group="00G5e000001AbCdEAK"))


def test_the_dry_run_skips_tags_as_the_live_writer_does(dry_run_writer):
    # Without credentials the writer is a dry run that says what the live one would do.
    dry_run = dry_run_writer(Source.salesforce)
    assert isinstance(dry_run, DryRunPerformer)

    assert dry_run.perform(action(ActionKind.tag, tags=["call_required"])) == {
        "dry_run": True,
        "channel": "salesforce",
        "skipped": "salesforce cases have no tags",
    }
    assert dry_run.perform(action(ActionKind.note, body="Call the customer")) == {
        "dry_run": True,
        "channel": "salesforce",
    }


def test_the_dry_run_says_which_case_fields_each_write_would_set(dry_run_writer):
    # The Case fields the live writer sends: the Priority picklist value the rules file's
    # write_priorities give (urgent → High), not deskbridge's name for it, and the escalation
    # flag with the owner; a dry run logged `priority=urgent` and no IsEscalated.
    dry_run = dry_run_writer(Source.salesforce)

    performed = [
        dry_run.perform(action(ActionKind.set_priority, priority="urgent")),
        dry_run.perform(action(ActionKind.assign, group="00G5j000004Log1EAC")),
        dry_run.perform(action(ActionKind.assign, group="00G5j000004Spc1EAC", escalated=True)),
    ]

    assert performed == [
        {"dry_run": True, "channel": "salesforce", "Priority": "High"},
        {"dry_run": True, "channel": "salesforce", "OwnerId": "00G5j000004Log1EAC"},
        {
            "dry_run": True,
            "channel": "salesforce",
            "OwnerId": "00G5j000004Spc1EAC",
            "IsEscalated": True,
        },
    ]


# --- through the dispatcher (reliability.md §6 C16) -------------------------------------


def test_the_api_limit_waits_an_hour_and_warns_while_a_permission_403_is_dead_at_once(
    api, writer, sqlite_engine, rules, caplog
):
    """REQUEST_LIMIT_EXCEEDED (the org's daily API requests used up) and a 403 for missing
    rights arrive the same way (403, JSON errors). The first is retried an hour later, with
    a warning, and nothing is sent to Salesforce meanwhile; the second is a dead letter
    after its one attempt (an ERROR, and `deskbridge outbox --dead` lists it)."""
    limited, forbidden = "5003000000D8cuIAAR", "5003000000D8cuJAAR"
    api.post(LOGIN_URL, body=login_response("SESSION-1"), content_type="text/xml")
    api.patch(
        f"{DATA}/sobjects/Case/{limited}",
        status=403,
        json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    )
    api.patch(
        f"{DATA}/sobjects/Case/{forbidden}",
        status=403,
        json=[
            {
                "message": "insufficient access rights on object id",
                "errorCode": "INSUFFICIENT_ACCESS_OR_READONLY",
            }
        ],
    )
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    clock = Clock(now)
    runtime = create_runtime(
        Settings(ZENDESK_WEBHOOK_SECRET=TEST_SECRET),
        rules,
        clock=clock,
        engine=sqlite_engine,
        performers={kind: writer for kind in ActionKind},
    )
    with sqlite_engine.begin() as connection:
        insert_actions(
            connection,
            [
                build_action(
                    f"salesforce:{case}",
                    "risk",
                    ActionKind.assign,
                    reason="test",
                    group="00G5e000001AbCdEAK",
                )
                for case in (limited, forbidden)
            ],
            now,
        )
    caplog.set_level("INFO", logger="deskbridge")

    runtime.dispatcher.dispatch_due()

    with sqlite_engine.connect() as connection:
        rows = {r["ticket"]: r for r in list_actions(connection)}
    waiting, dead = rows[f"salesforce:{limited}"], rows[f"salesforce:{forbidden}"]
    assert (waiting["status"], waiting["attempts"]) == ("pending", 1)
    assert waiting["next_attempt_at"] == now + timedelta(hours=1)
    assert "REQUEST_LIMIT_EXCEEDED" in waiting["last_error"]
    assert (dead["status"], dead["attempts"]) == ("dead", 1)
    assert "403 INSUFFICIENT_ACCESS_OR_READONLY" in dead["last_error"]
    said = {
        (r.levelname, r.getMessage(), r.deskbridge_fields.get("ticket"))
        for r in caplog.records
        if r.getMessage().startswith("outbox.")
    }
    assert said == {
        ("WARNING", "outbox.retry", f"salesforce:{limited}"),
        ("ERROR", "outbox.dead_letter", f"salesforce:{forbidden}"),
    }
    assert [
        r.deskbridge_fields["delay_s"] for r in caplog.records if r.getMessage() == "outbox.retry"
    ] == [3600.0]

    calls = len(api.calls)
    clock.now = now + timedelta(minutes=59)
    runtime.dispatcher.dispatch_due()
    assert len(api.calls) == calls  # nothing sent before the hour
