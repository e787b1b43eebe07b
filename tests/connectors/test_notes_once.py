"""A helpdesk note is added once per action, however its attempts end: a retry that may follow
an attempt that reached Zendesk or Salesforce (a timeout, a dropped connection, a 5xx, a
process that died before recording) first looks for the note on the ticket, and adds it only
if it is not there. First attempts add it without a look. Through the real dispatcher, outbox
and writers, with Zendesk and Salesforce mocked by `responses` (no network)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from deskbridge.connectors.salesforce.client import SalesforceWriter
from deskbridge.connectors.writers import LOOKUP_MARGIN, HelpdeskRouter
from deskbridge.connectors.zendesk.client import LOOKUP_PAGE, ZendeskWriter
from deskbridge.store.outbox import DEAD, DONE, PENDING, claim_due_actions, insert_actions
from deskbridge.workflows.actions import Action, ActionKind, build_action
from deskbridge.workflows.dispatcher import Dispatcher
from deskbridge.workflows.metrics import Metrics
from deskbridge.workflows.ports import DryRunPerformer, RetryableError
from tests.conftest import Clock
from tests.connectors.test_salesforce_client import (
    CASE_ID,
    COMMENT_URL,
    DATA,
    INSTANCE,
    LOGIN_URL,
    login_response,
)
from tests.workflows.test_dispatcher import only_row

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
BODY = "deskbridge routed this ticket to Logistics: the subject names a lost parcel."

ZENDESK = "https://acme.zendesk.com/api/v2"
TICKET_URL = f"{ZENDESK}/tickets/48213.json"
COMMENTS_URL = f"{ZENDESK}/tickets/48213/comments.json"
TAGS_URL = f"{ZENDESK}/tickets/48213/tags.json"
UPDATED = {"ticket": {"id": 48213}, "audit": {"id": 1, "ticket_id": 48213, "events": []}}
QUERY_URL = f"{DATA}/query/"


def note(ticket: str = "zendesk:48213", body: str = BODY, *, occasion: str = "logistics") -> Action:
    return build_action(ticket, "routing", ActionKind.note, occasion, "note", reason="r", body=body)


def written(action: Action) -> str:
    """The note as deskbridge writes it: its body, then a reference to its action's key."""
    digest = hashlib.sha256(action.key.encode()).hexdigest()[:16]
    return f"{action.params['body']}\n\ndeskbridge ref {digest}"


WRITTEN = written(note())


def comment(body: str, *, public: bool = False, at: datetime = T0, id: int = 9001) -> dict:
    return {
        "id": id,
        "type": "Comment",
        "body": body,
        "public": public,
        "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def comments_page(*comments: dict, after: str | None = None) -> dict:
    return {
        "comments": list(comments),
        "meta": {"has_more": after is not None, "after_cursor": after, "before_cursor": None},
        "links": {"next": f"{COMMENTS_URL}?page[after]={after}" if after else None},
    }


def calls(api, method: str, url: str) -> list:
    return [c for c in api.calls if c.request.method == method and c.request.url.startswith(url)]


@pytest.fixture
def api():
    # Every mocked call made; an unmocked URL raises ConnectionError, never the network.
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def zendesk() -> ZendeskWriter:
    return ZendeskWriter("acme", "bot@acme.test", "api-token")


@pytest.fixture
def salesforce() -> SalesforceWriter:
    return SalesforceWriter("bot@acme.test", "secret", "TOKEN123")


def dispatcher(engine, clock, **writers) -> Dispatcher:
    router = HelpdeskRouter(writers, engine)
    performers = {kind: router for kind in (ActionKind.note, ActionKind.tag)}
    return Dispatcher(engine, performers, Metrics(), clock, lease=LEASE)


def queue(engine, action: Action) -> None:
    with engine.begin() as connection:
        insert_actions(connection, [action], T0)


def next_attempt(engine, clock) -> None:
    """Move the clock to the row's next attempt."""
    clock.now = only_row(engine)["next_attempt_at"]


def two_attempts(engine, clock, **writers) -> None:
    """Dispatch the queued row, then again at its next attempt."""
    run = dispatcher(engine, clock, **writers)
    run.dispatch_due()
    next_attempt(engine, clock)
    run.dispatch_due()


# --- Zendesk, through the dispatcher ------------------------------------------------------


def test_zendesk_a_note_that_landed_before_a_timeout_is_not_added_again(
    api, engine, clock, zendesk, caplog
):
    # The update reached Zendesk, which added the note; its answer never came back.
    api.put(TICKET_URL, body=requests.ReadTimeout("read timed out"))
    api.get(COMMENTS_URL, json=comments_page(comment(WRITTEN, at=T0 + timedelta(seconds=1))))
    queue(engine, note())
    run = dispatcher(engine, clock, zendesk=zendesk)

    run.dispatch_due()
    assert only_row(engine)["status"] == PENDING  # retried later
    next_attempt(engine, clock)
    with caplog.at_level(logging.WARNING, logger="deskbridge.helpdesk"):
        run.dispatch_due()

    assert len(calls(api, "PUT", TICKET_URL)) == 1
    assert len(calls(api, "GET", COMMENTS_URL)) == 1
    row = only_row(engine)
    assert row["status"] == DONE
    assert row["result"] == {"zendesk_ticket": 48213, "comment": 9001, "found": True}
    found = [r for r in caplog.records if r.name == "deskbridge.helpdesk"]
    assert [r.getMessage() for r in found] == ["helpdesk.found_note"]


def test_zendesk_a_retry_that_does_not_find_the_note_adds_it_once(api, engine, clock, zendesk):
    api.put(TICKET_URL, body=requests.ConnectionError("connection reset by peer"))
    api.put(TICKET_URL, json=UPDATED)
    # Other comments since, and the note's text as a public comment: not the note.
    api.get(
        COMMENTS_URL,
        json=comments_page(
            comment("Where is my parcel?", public=True, at=T0 + timedelta(seconds=30)),
            comment(WRITTEN, public=True, at=T0 + timedelta(seconds=20)),
            comment("Called the carrier.", at=T0 + timedelta(seconds=10)),
        ),
    )
    queue(engine, note())

    two_attempts(engine, clock, zendesk=zendesk)

    assert [c.request.method for c in api.calls] == ["PUT", "GET", "PUT"]
    assert only_row(engine)["status"] == DONE
    assert json.loads(api.calls[2].request.body)["ticket"]["comment"] == {
        "body": WRITTEN,
        "public": False,
    }


def test_zendesk_a_first_attempt_adds_the_note_without_a_look(api, engine, clock, zendesk):
    api.put(TICKET_URL, json=UPDATED)
    queue(engine, note())

    dispatcher(engine, clock, zendesk=zendesk).dispatch_due()

    assert [c.request.method for c in api.calls] == ["PUT"]
    assert only_row(engine)["result"] == {"zendesk_ticket": 48213}


def test_zendesk_a_retried_tag_is_not_looked_for(api, engine, clock, zendesk):
    # Adding a tag twice is harmless: no read is spent on it.
    api.put(TAGS_URL, body=requests.ReadTimeout("read timed out"))
    api.put(TAGS_URL, json={"tags": ["dept_logistics"]})
    queue(
        engine,
        build_action("zendesk:48213", "routing", ActionKind.tag, "t", reason="r", tags=["x"]),
    )

    two_attempts(engine, clock, zendesk=zendesk)

    assert [c.request.method for c in api.calls] == ["PUT", "PUT"]


def test_zendesk_a_process_that_died_before_recording_is_found_after_the_lease(
    api, engine, clock, zendesk
):
    # A dispatcher claimed the note, added it and died before writing the outcome (the
    # RECORD_EVERY window): the row comes back after the lease as a second attempt.
    queue(engine, note())
    with engine.begin() as connection:
        assert [r.attempts for r in claim_due_actions(connection, T0, 10, LEASE)] == [1]
    api.get(COMMENTS_URL, json=comments_page(comment(WRITTEN, at=T0 + timedelta(seconds=1))))
    clock.now = T0 + LEASE

    dispatcher(engine, clock, zendesk=zendesk).dispatch_due()

    assert [c.request.method for c in api.calls] == ["GET"]
    assert only_row(engine)["status"] == DONE


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.ReadTimeout("read timed out")},
        {"status": 503, "body": "<html>down</html>"},
        {"status": 429, "headers": {"Retry-After": "60"}, "body": ""},
        {"status": 200, "body": "<html>a proxy's page</html>"},
    ],
    ids=["timeout", "503", "429", "not-json"],
)
def test_zendesk_a_failed_look_is_retried_and_adds_nothing(api, engine, clock, zendesk, failure):
    api.put(TICKET_URL, status=502, body="bad gateway")
    api.get(COMMENTS_URL, **failure)
    queue(engine, note())

    two_attempts(engine, clock, zendesk=zendesk)

    assert [c.request.method for c in api.calls] == ["PUT", "GET"]
    assert only_row(engine)["status"] == PENDING


def test_zendesk_a_look_zendesk_refuses_dead_letters_the_note(api, engine, clock, zendesk):
    api.put(TICKET_URL, status=500, json={"error": "oops"})
    api.get(COMMENTS_URL, status=403, json={"error": "Forbidden"})
    queue(engine, note())

    two_attempts(engine, clock, zendesk=zendesk)

    assert [c.request.method for c in api.calls] == ["PUT", "GET"]
    row = only_row(engine)
    assert row["status"] == DEAD
    assert row["last_error"] == (
        'Zendesk refused to list the ticket\'s comments (403 Forbidden): {"error": "Forbidden"}'
    )


# --- Zendesk's look itself --------------------------------------------------------------


def test_zendesk_find_note_reads_the_newest_comments_first(api, zendesk):
    api.get(
        COMMENTS_URL,
        match=[
            matchers.query_param_matcher({"page[size]": str(LOOKUP_PAGE), "sort": "-created_at"})
        ],
        json=comments_page(comment(" " + WRITTEN.replace(" ", "\n", 1) + "\n", id=7)),
    )

    found = zendesk.find_note(note(), T0 - LOOKUP_MARGIN)

    # Whitespace Zendesk may change does not hide it.
    assert found == {"zendesk_ticket": 48213, "comment": 7}
    assert api.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_zendesk_find_note_reads_on_only_while_the_pages_are_newer_than_the_window(api, zendesk):
    since = T0 - LOOKUP_MARGIN
    newer = [comment(f"reply {i}", public=True, at=T0 + timedelta(seconds=i)) for i in range(3)]
    api.get(COMMENTS_URL, json=comments_page(*newer, after="CURSOR-2"))
    api.get(
        COMMENTS_URL,
        json=comments_page(
            comment("Called the carrier.", at=T0),
            # Before the window: an older note with the same text is another action's.
            comment(WRITTEN, at=since - timedelta(seconds=1)),
            after="CURSOR-3",
        ),
    )

    assert zendesk.find_note(note(), since) is None

    assert len(api.calls) == 2  # not the third page
    second = parse_qs(urlsplit(api.calls[1].request.url).query)
    assert second == {"page[size]": ["100"], "sort": ["-created_at"], "page[after]": ["CURSOR-2"]}


# --- Salesforce -------------------------------------------------------------------------


def case_note(occasion: str = "logistics") -> Action:
    return note(ticket=f"salesforce:{CASE_ID}", occasion=occasion)


def case_written() -> str:
    return written(case_note())


def case_comments(*bodies: str, size: int | None = None) -> dict:
    records = [
        {"attributes": {"type": "CaseComment"}, "Id": f"00a5e00000Comm{i:03d}", "CommentBody": b}
        for i, b in enumerate(bodies)
    ]
    return {"totalSize": size or len(records), "done": True, "records": records}


@pytest.fixture
def org(api):
    api.post(LOGIN_URL, body=login_response("SESSION-1"), content_type="text/xml")
    return api


def soql_of(call) -> str:
    return parse_qs(urlsplit(call.request.url).query)["q"][0]


def test_salesforce_a_comment_that_landed_before_a_timeout_is_not_inserted_again(
    org, engine, clock, salesforce
):
    org.post(COMMENT_URL, body=requests.ReadTimeout("read timed out"))
    org.get(QUERY_URL, json=case_comments(case_written().replace("\n", "\r\n")))
    queue(engine, case_note())

    two_attempts(engine, clock, salesforce=salesforce)

    assert len(calls(org, "POST", COMMENT_URL)) == 1
    (query,) = calls(org, "GET", QUERY_URL)
    assert soql_of(query) == (
        "SELECT Id, CommentBody FROM CaseComment WHERE ParentId = '5003000000D8cuIAAR'"
        " AND IsPublished = false AND CreatedDate >= 2026-03-02T08:55:00+00:00"
        " ORDER BY CreatedDate DESC"
    )
    row = only_row(engine)
    assert row["status"] == DONE
    assert row["result"] == {
        "salesforce_case": CASE_ID,
        "case_comment": "00a5e00000Comm000",
        "found": True,
    }


def test_salesforce_a_retry_that_does_not_find_the_comment_inserts_it_once(
    org, engine, clock, salesforce
):
    org.post(COMMENT_URL, status=503, body="<html>Service Unavailable</html>")
    org.post(COMMENT_URL, status=201, json={"id": "00a5e00000CommNEW", "success": True})
    org.get(QUERY_URL, json=case_comments("Customer called back.", "Carrier says Monday."))
    queue(engine, case_note())

    two_attempts(engine, clock, salesforce=salesforce)

    rest = [(c.request.method, c.request.url.split("?")[0]) for c in org.calls[1:]]
    assert rest == [("POST", COMMENT_URL), ("GET", QUERY_URL), ("POST", COMMENT_URL)]
    assert only_row(engine)["result"] == {
        "salesforce_case": CASE_ID,
        "case_comment": "00a5e00000CommNEW",
    }


def test_salesforce_a_first_attempt_inserts_without_a_look(org, engine, clock, salesforce):
    org.post(COMMENT_URL, status=201, json={"id": "00a5e00000CommNEW", "success": True})
    queue(engine, case_note())

    dispatcher(engine, clock, salesforce=salesforce).dispatch_due()

    assert [c.request.method for c in org.calls] == ["POST", "POST"]  # login, insert
    assert only_row(engine)["status"] == DONE


def test_salesforce_a_failed_query_is_retried_and_inserts_nothing(org, engine, clock, salesforce):
    org.post(COMMENT_URL, body=requests.ConnectionError("connection reset by peer"))
    org.get(QUERY_URL, body=requests.ReadTimeout("read timed out"))
    queue(engine, case_note())

    two_attempts(engine, clock, salesforce=salesforce)

    assert len(calls(org, "POST", COMMENT_URL)) == 1
    assert only_row(engine)["status"] == PENDING


NEXT_PAGE = "/services/data/v59.0/query/01gD0000002HU6KIAW-2000"


def busy_case(*last: str) -> tuple[dict, dict]:
    """A case with 2,000 internal comments since the note's first attempt, then `last`: one
    answer of Salesforce's query and the page after it (nextRecordsUrl)."""
    first = case_comments(*["Carrier called."] * 2000, size=2000 + len(last))
    first |= {"done": False, "nextRecordsUrl": NEXT_PAGE}
    return first, case_comments(*last, size=2000 + len(last))


def test_salesforce_a_note_on_a_busy_case_is_found_on_a_later_page(org, salesforce):
    first, second = busy_case("Customer called back.", case_written())
    org.get(QUERY_URL, json=first)
    org.get(f"{INSTANCE}{NEXT_PAGE}", json=second)

    found = salesforce.find_note(case_note(), T0)

    assert found == {"salesforce_case": CASE_ID, "case_comment": "00a5e00000Comm001"}
    assert [c.request.url.split("?")[0] for c in org.calls[1:]] == [
        QUERY_URL,
        f"{INSTANCE}{NEXT_PAGE}",
    ]


def test_salesforce_a_retry_on_a_case_with_100_or_more_comments_inserts_the_note_once(
    org, engine, clock, salesforce
):
    # Dead-lettered before: 100 internal comments since the first attempt could not be told
    # from a case holding the note.
    org.post(COMMENT_URL, body=requests.ReadTimeout("read timed out"))
    org.post(COMMENT_URL, status=201, json={"id": "00a5e00000CommNEW", "success": True})
    first, second = busy_case(*["Carrier called."] * 150)
    org.get(QUERY_URL, json=first)
    org.get(f"{INSTANCE}{NEXT_PAGE}", json=second)
    queue(engine, case_note())

    two_attempts(engine, clock, salesforce=salesforce)

    rest = [(c.request.method, c.request.url.split("?")[0]) for c in org.calls[1:]]
    assert rest == [
        ("POST", COMMENT_URL),
        ("GET", QUERY_URL),
        ("GET", f"{INSTANCE}{NEXT_PAGE}"),
        ("POST", COMMENT_URL),
    ]
    row = only_row(engine)
    assert (row["status"], row["result"]) == (
        DONE,
        {"salesforce_case": CASE_ID, "case_comment": "00a5e00000CommNEW"},
    )


def test_salesforce_a_page_that_says_more_without_saying_where_is_retried(org, salesforce):
    org.get(QUERY_URL, json=case_comments("other") | {"done": False})

    with pytest.raises(RetryableError, match="cannot be read"):
        salesforce.find_note(case_note(), T0)


def test_salesforce_an_expired_session_during_the_look_logs_in_once_more(org, salesforce):
    org.get(
        QUERY_URL,
        status=401,
        json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    )
    org.post(LOGIN_URL, body=login_response("SESSION-2"), content_type="text/xml")
    org.get(QUERY_URL, json=case_comments(case_written()))

    assert salesforce.find_note(case_note(), T0) is not None

    assert len(calls(org, "POST", LOGIN_URL)) == 2


def test_salesforce_a_query_salesforce_fails_is_retryable(org, salesforce):
    org.get(QUERY_URL, status=500, json=[{"message": "x", "errorCode": "UNKNOWN_EXCEPTION"}])

    with pytest.raises(RetryableError, match="500"):
        salesforce.find_note(case_note(), T0)


# --- the router without a look ----------------------------------------------------------


def test_a_dry_run_writer_is_never_asked_to_look(engine, clock):
    queue(engine, note())
    with engine.begin() as connection:
        claim_due_actions(connection, T0, 10, LEASE)  # an earlier attempt
    clock.now = T0 + LEASE

    dispatcher(engine, clock, zendesk=DryRunPerformer("zendesk")).dispatch_due()

    assert only_row(engine)["result"] == {"dry_run": True, "channel": "zendesk"}


def test_without_a_prepared_batch_the_router_reads_the_attempts_itself(api, engine, zendesk):
    queue(engine, note())
    for at in (T0, T0 + LEASE):  # two claims: the second attempt is under way
        with engine.begin() as connection:
            claim_due_actions(connection, at, 10, LEASE)
    api.get(COMMENTS_URL, json=comments_page(comment(WRITTEN, at=T0 + timedelta(seconds=1))))

    result = HelpdeskRouter({"zendesk": zendesk}, engine).perform(note())

    assert result["found"] is True
    assert [c.request.method for c in api.calls] == ["GET"]


# --- another action's note with the same text ---------------------------------------------


def test_zendesk_another_actions_note_with_the_same_text_is_not_taken_for_this_one(
    api, engine, clock, zendesk
):
    # The same text on a later occasion (another key): its first attempt never reached
    # Zendesk, and the ticket holds the earlier occasion's note, written minutes before.
    earlier = note()
    later = note(occasion="logistics-again")
    assert (later.params["body"], later.key != earlier.key) == (earlier.params["body"], True)
    api.put(TICKET_URL, body=requests.ConnectionError("connection reset by peer"))
    api.put(TICKET_URL, json=UPDATED)
    api.get(
        COMMENTS_URL,
        json=comments_page(
            comment(written(earlier), at=T0 - timedelta(minutes=2), id=9001),
            comment(BODY, at=T0 - timedelta(minutes=1), id=9002),  # an agent's copy of it
        ),
    )
    queue(engine, later)

    two_attempts(engine, clock, zendesk=zendesk)

    assert [c.request.method for c in api.calls] == ["PUT", "GET", "PUT"]
    assert json.loads(api.calls[2].request.body)["ticket"]["comment"] == {
        "body": written(later),
        "public": False,
    }
    assert only_row(engine)["result"] == {"zendesk_ticket": 48213}


def test_salesforce_another_actions_note_with_the_same_text_is_not_taken_for_this_one(
    org, engine, clock, salesforce
):
    later = case_note(occasion="logistics-again")
    org.post(COMMENT_URL, body=requests.ConnectionError("connection reset by peer"))
    org.post(COMMENT_URL, status=201, json={"id": "00a5e00000CommNEW", "success": True})
    org.get(QUERY_URL, json=case_comments(written(case_note()), BODY))
    queue(engine, later)

    two_attempts(engine, clock, salesforce=salesforce)

    inserts = calls(org, "POST", COMMENT_URL)
    assert [json.loads(c.request.body) for c in inserts] == [
        {"ParentId": CASE_ID, "CommentBody": written(later), "IsPublished": False}
    ] * 2
    assert only_row(engine)["result"] == {
        "salesforce_case": CASE_ID,
        "case_comment": "00a5e00000CommNEW",
    }
