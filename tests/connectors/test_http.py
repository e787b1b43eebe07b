"""POST /webhooks/zendesk end to end through Flask, on SQLite and PostgreSQL."""

from __future__ import annotations

import hmac
import io
import json
import threading
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from deskbridge.app import create_app, create_runtime
from deskbridge.config.settings import Settings
from deskbridge.store.events import count_events
from deskbridge.store.outbox import list_actions
from deskbridge.store.schema import audit, events
from tests.conftest import TEST_SECRET, Clock, fixture_bytes, signed_headers

NOW = datetime(2025, 3, 4, 9, 15, 23, tzinfo=UTC)


@pytest.fixture
def runtime(settings, engine, rules):
    return create_runtime(settings, rules, clock=Clock(NOW), engine=engine)


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def post(client, body: bytes, at: datetime = NOW, headers: dict | None = None):
    return client.post("/webhooks/zendesk", data=body, headers=headers or signed_headers(body, at))


def comment_event(n: int, ticket: str = "48213") -> bytes:
    data = json.loads(fixture_bytes("ticket_comment_added__public_agent.json"))
    data["id"] = f"evt-{ticket}-{n}"
    data["detail"]["id"] = ticket
    data["event"]["comment"]["id"] = f"{ticket}{n:04d}"
    data["time"] = (NOW + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")
    return json.dumps(data).encode()


# /readyz's reason for a store that answered with an error (its driver's line is the log's).
UNREADABLE = "the store could not be read; the log line readyz.store_unavailable says why"


def store_down(error: str, reason: str) -> dict[str, str]:
    """/readyz's 503 body: the check that failed, and why."""
    return {
        "status": "unavailable",
        "store": "down",
        "failed": "store",
        "error": error,
        "reason": reason,
    }


def decide(runtime) -> list[str]:
    """Run the decider over what the webhook stored; the kinds of the actions it decided."""
    return [a.kind.value for d in runtime.service.decider.decide_pending() for a in d.actions]


def test_signed_fixture_is_accepted_and_stored_undecided_then_decided(client, runtime, engine):
    response = post(client, fixture_bytes("ticket_created.json"))
    assert response.status_code == 200
    assert response.json == {"status": "accepted", "events": 1}
    # The acknowledgement only stored it: nothing decided or queued yet.
    with engine.connect() as connection:
        assert count_events(connection, "undecided") == 1
        assert list_actions(connection) == []
    # An unclassifiable subject (ask the assignee) from a VIP (escalate to specialists).
    assert decide(runtime) == ["notify", "escalate", "set_priority", "assign", "note"]
    with engine.connect() as connection:
        assert count_events(connection, "decided") == 1
        assert [r["action"] for r in list_actions(connection)] == [
            "notify",
            "escalate",
            "set_priority",
            "assign",
            "note",
        ]
    assert decide(runtime) == []


def test_same_delivery_again_is_a_duplicate_and_adds_nothing(client, runtime, engine):
    body = fixture_bytes("ticket_created.json")
    post(client, body)
    decide(runtime)
    response = post(client, body)
    assert response.status_code == 200
    assert response.json == {"status": "duplicate", "events": 1}
    assert decide(runtime) == []
    with engine.connect() as connection:
        assert count_events(connection) == 1
        assert len(list_actions(connection)) == 5


# What a 401 for a signature that does not match says to check (it said only "signature
# does not match the body"): the secret's setting, what Zendesk signs it with, the header.
NOT_MATCHED = (
    "signature does not match the body: check that ZENDESK_WEBHOOK_SECRET is this webhook's "
    "signing secret (Admin Center > Webhooks > the webhook > Signing secret; a test sent before "
    "the webhook is saved is signed with Zendesk's test secret), and that nothing on the way "
    "changes the body or X-Zendesk-Webhook-Signature-Timestamp, which is signed with it"
)


def test_tampered_body_is_401_and_not_stored(client, engine):
    body = fixture_bytes("ticket_created.json")
    headers = signed_headers(body, NOW)
    response = post(client, body.replace(b"HIGH", b"LOW!"), headers=headers)
    assert response.status_code == 401
    assert response.json == {"error": NOT_MATCHED, "field": "X-Zendesk-Webhook-Signature"}
    with engine.connect() as connection:
        assert count_events(connection) == 0


def test_a_401_says_what_to_check_in_the_answer_and_the_log_never_the_secret(client, caplog):
    """Signed with another secret (a webhook whose secret was reset, or the wrong one
    copied): the answer Zendesk shows and the log line both say what to check."""
    caplog.set_level("INFO", logger="deskbridge.webhooks")
    body = fixture_bytes("ticket_created.json")
    response = post(client, body, headers=signed_headers(body, NOW, secret="another-secret"))

    assert (response.status_code, response.json["error"]) == (401, NOT_MATCHED)
    assert [(r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [
        (
            "webhook.unauthorized",
            {"source": "zendesk", "error": NOT_MATCHED, "field": "X-Zendesk-Webhook-Signature"},
        )
    ]
    said = response.get_data(as_text=True) + caplog.text
    assert TEST_SECRET not in said and "another-secret" not in said


@pytest.mark.parametrize(
    "missing", ["X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"]
)
def test_a_missing_signature_header_says_both_headers_and_how_to_sign_by_hand(client, missing):
    body = fixture_bytes("ticket_created.json")
    headers = {k: v for k, v in signed_headers(body, NOW).items() if k != missing}
    response = post(client, body, headers=headers)
    assert response.status_code == 401
    assert response.json["field"] == missing
    assert response.json["error"].endswith(
        "is missing: Zendesk sends X-Zendesk-Webhook-Signature and "
        "X-Zendesk-Webhook-Signature-Timestamp with every webhook (check that a proxy on the way "
        "passes both on); by hand, `deskbridge sign BODY` makes them"
    )


def test_stale_signature_timestamp_is_401(client):
    body = fixture_bytes("ticket_created.json")
    response = post(client, body, at=NOW - timedelta(seconds=301))
    assert response.status_code == 401
    assert response.json == {
        "error": "signature timestamp is 301 s old, outside the replay window of 300 s "
        "(ZENDESK_SIGNATURE_TOLERANCE_SECONDS): a delivery sent again later, or a clock that is "
        "wrong; check this server's clock (NTP)",
        "field": "X-Zendesk-Webhook-Signature-Timestamp",
    }


@pytest.mark.parametrize(
    ("seconds", "status"),
    [(-360, 401), (-301, 401), (-240, 200), (240, 200), (301, 401), (360, 401)],
    ids=["6min-early", "301s-early", "4min-early", "4min-late", "301s-late", "6min-late"],
)
def test_a_timestamp_outside_the_window_is_401_stores_nothing_and_is_logged(
    client, engine, caplog, seconds, status
):
    """reliability.md §6 A5 and D23: a correctly signed delivery whose timestamp is 301 s or
    6 min away from our clock, either way (a captured request replayed, or a sender's clock
    skewed), is refused and stores nothing; 4 min either way is inside the window."""
    caplog.set_level("INFO", logger="deskbridge.webhooks")
    body = fixture_bytes("ticket_created.json")
    response = post(client, body, at=NOW - timedelta(seconds=seconds))
    assert response.status_code == status
    with engine.connect() as connection:
        assert count_events(connection) == (1 if status == 200 else 0)
    refused = [
        r.deskbridge_fields for r in caplog.records if r.getMessage() == "webhook.unauthorized"
    ]
    if status == 200:
        assert response.json == {"status": "accepted", "events": 1}
        assert refused == []
        return
    how_far = f"{abs(seconds)} s " + ("old" if seconds > 0 else "ahead of this server's clock")
    assert response.json["field"] == "X-Zendesk-Webhook-Signature-Timestamp"
    assert response.json["error"].startswith(f"signature timestamp is {how_far}, outside the")
    assert refused == [
        {
            "source": "zendesk",
            "error": response.json["error"],
            "field": "X-Zendesk-Webhook-Signature-Timestamp",
        }
    ]


def _rotation_client(engine, rules, secrets: str):
    settings = Settings(ZENDESK_WEBHOOK_SECRET=secrets)
    runtime = create_runtime(settings, rules, clock=Clock(NOW), engine=engine)
    return create_app(runtime=runtime).test_client()


def test_during_rotation_both_secrets_verify_and_after_it_only_the_new_one(engine, rules):
    """reliability.md §6 B7: ZENDESK_WEBHOOK_SECRET="old,new" while Zendesk's secret is
    rotated takes deliveries signed with either; once the old one is removed from the
    setting, a delivery signed with it is 401 and stores nothing."""
    old, new = "old-signing-secret-before-the-reset", "new-signing-secret-after-the-reset"
    overlap = _rotation_client(engine, rules, f"{old},{new}")
    for n, secret in enumerate((old, new), start=1):
        body = comment_event(n)
        response = post(overlap, body, headers=signed_headers(body, NOW, secret=secret))
        assert (response.status_code, response.json) == (200, {"status": "accepted", "events": 1})

    after = _rotation_client(engine, rules, new)
    refused = comment_event(3)
    response = post(after, refused, headers=signed_headers(refused, NOW, secret=old))
    assert (response.status_code, response.json) == (
        401,
        {"error": NOT_MATCHED, "field": "X-Zendesk-Webhook-Signature"},
    )
    taken = comment_event(4)
    response = post(after, taken, headers=signed_headers(taken, NOW, secret=new))
    assert response.status_code == 200
    with engine.connect() as connection:
        stored = set(connection.execute(select(events.c.dedupe_key)).scalars())
    assert stored == {f"zendesk:event:evt-48213-{n}" for n in (1, 2, 4)}


def test_the_signature_is_compared_in_constant_time_against_every_secret(
    engine, rules, monkeypatch
):
    """reliability.md §6 B6: the comparison is hmac.compare_digest's (its time does not
    depend on how long a prefix matches), made for each configured secret whether or not an
    earlier one matched, so the timing tells neither."""
    from deskbridge.connectors.zendesk import signature

    compared = []
    constant_time = hmac.compare_digest

    def compare_digest(a, b):
        compared.append((a, b))
        return constant_time(a, b)

    monkeypatch.setattr(signature.hmac, "compare_digest", compare_digest)
    client = _rotation_client(engine, rules, "first-secret,second-secret")
    body = comment_event(1)
    headers = signed_headers(body, NOW, secret="first-secret")
    assert post(client, body, headers=headers).status_code == 200
    given = headers["X-Zendesk-Webhook-Signature"].encode()
    assert [b for _, b in compared] == [given, given]
    assert [a == given for a, _ in compared] == [True, False]

    compared.clear()
    forged = given[:-4] + (b"AAA=" if not given.endswith(b"AAA=") else b"BBB=")
    headers["X-Zendesk-Webhook-Signature"] = forged.decode()
    assert post(client, comment_event(2), headers=headers).status_code == 401
    assert [b for _, b in compared] == [forged, forged]


def test_invalid_json_is_400_naming_the_problem(client):
    response = post(client, b'{"type": "zen:event-type:ticket.created",')
    assert response.status_code == 400
    assert response.json == {
        "error": "invalid JSON: Expecting property name enclosed in "
        "double quotes at line 1 column 42",
        "field": "body",
    }


def test_missing_field_is_400_with_its_path(client):
    data = json.loads(fixture_bytes("ticket_created.json"))
    del data["detail"]["id"]
    response = post(client, json.dumps(data).encode())
    assert response.status_code == 400
    assert response.json == {"error": "required field is missing", "field": "detail.id"}


def test_two_mebibyte_body_is_413(client, engine):
    body = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = post(client, body)
    assert response.status_code == 413
    # The same answer `serve` (waitress) gives: the app's 413 is the one gunicorn users see.
    assert response.data == (
        b'{"error":"body is larger than 1048576 bytes","field":"Content-Length"}\n'
    )
    with engine.connect() as connection:
        assert count_events(connection) == 0


def test_chunked_body_over_the_limit_is_413(client):
    body = b"x" * (2 * 1024 * 1024)
    headers = {**signed_headers(body, NOW), "Transfer-Encoding": "chunked"}

    # No Content-Length, stream terminated by the server (what waitress and gunicorn do for
    # chunked; the test client states a length, which the chunked header makes werkzeug ignore).
    response = client.post(
        "/webhooks/zendesk",
        input_stream=io.BytesIO(body),
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    # No header stated its length: the body grew past the limit (only the body counts here,
    # unlike waitress, which counts the chunk framing too).
    assert response.data == b'{"error":"body is larger than 1048576 bytes","field":"body"}\n'


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_ten_mebibytes_are_refused_reading_at_most_the_limit_and_the_next_request_is_taken(
    client, engine, chunked
):
    """reliability.md §6 B10: 10 MiB, stated in Content-Length or sent chunked, is a 413;
    what the request holds in memory stays far under the 20 MB allowed (a stated length is
    refused unread, a chunked body is read only up to the limit), and the next delivery is
    taken."""
    body = b"x" * (10 * 1024 * 1024)
    headers = signed_headers(body, NOW)
    # Chunked: no length stated, the stream ended by the server (as waitress and gunicorn do).
    environ = {"wsgi.input_terminated": True} if chunked else {"CONTENT_LENGTH": str(len(body))}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
    stream = io.BytesIO(body)
    tracemalloc.start()
    try:
        response = client.post(
            "/webhooks/zendesk",
            input_stream=stream,
            headers=headers,
            environ_overrides=environ,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413
    assert response.json["field"] == ("body" if chunked else "Content-Length")
    assert peak < 4 * 1024 * 1024  # the limit (1 MiB) read, and its copies
    assert stream.tell() <= 1024 * 1024 + 1  # read up to the limit at most
    assert post(client, fixture_bytes("ticket_created.json")).status_code == 200
    with engine.connect() as connection:
        assert count_events(connection) == 1


def test_chunked_body_at_the_limit_is_read_whole(client):
    """werkzeug stops a chunked body at the limit without complaint: one exactly at it is
    read (refused for its signature, not its size), one byte more is a 413."""
    limit = 1048576
    for size, status in ((limit, 401), (limit + 1, 413)):
        body = b"x" * size
        response = client.post(
            "/webhooks/zendesk",
            input_stream=io.BytesIO(body),
            headers={**signed_headers(b"other", NOW), "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert response.status_code == status, size


def test_a_refused_body_is_logged_with_what_was_too_large(client, caplog):
    caplog.set_level("INFO", logger="deskbridge.webhooks")
    post(client, b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert [(r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [
        ("webhook.too_large", {"source": "zendesk", "limit": 1048576, "field": "Content-Length"})
    ]


def test_unknown_event_type_is_200_ignored(client, engine):
    data = json.loads(fixture_bytes("ticket_created.json"))
    data["type"] = "zen:event-type:ticket.merged"
    response = post(client, json.dumps(data).encode())
    assert response.status_code == 200
    assert response.json == {
        "status": "ignored",
        "reason": "event type zen:event-type:ticket.merged is not used by deskbridge",
    }
    with engine.connect() as connection:
        assert count_events(connection) == 0


@pytest.mark.parametrize("method", ["PUT", "PATCH", "GET", "DELETE"])
def test_a_webhook_sent_by_another_method_than_post_is_405_and_not_stored(client, engine, method):
    # A trigger webhook's method is the admin's choice in Zendesk; the README says POST.
    body = fixture_bytes("trigger_ticket_updated.json")
    response = client.open(
        "/webhooks/zendesk", method=method, data=body, headers=signed_headers(body, NOW)
    )
    assert response.status_code == 405
    assert response.json == {"error": "The method is not allowed for the requested URL."}
    with engine.connect() as connection:
        assert count_events(connection) == 0


def test_no_secret_configured_refuses_everything(engine, rules, tmp_path):
    settings = Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    runtime = create_runtime(settings, rules, clock=Clock(NOW), engine=engine)
    client = create_app(runtime=runtime).test_client()
    response = post(client, fixture_bytes("ticket_created.json"))
    assert response.status_code == 401
    # Signed as Zendesk signs: still refused, and the answer says why (not "unsigned").
    assert response.json == {
        "error": "ZENDESK_WEBHOOK_SECRET is not set: this deskbridge has no secret for the "
        "zendesk connector, so no webhook can be verified and every one is refused, signed or not"
    }


def test_an_unauthorized_webhook_is_logged_without_an_empty_field(engine, rules, tmp_path, caplog):
    settings = Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    runtime = create_runtime(settings, rules, clock=Clock(NOW), engine=engine)
    client = create_app(runtime=runtime).test_client()
    caplog.set_level("INFO", logger="deskbridge.webhooks")
    response = post(client, fixture_bytes("ticket_created.json"))
    # The error names no request field, so the line has none (it had `field=""`).
    assert [(r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [
        ("webhook.unauthorized", {"source": "zendesk", "error": response.json["error"]})
    ]


def test_store_down_is_503_so_zendesk_retries(rules, tmp_path):
    settings = Settings(
        DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=1",
        ZENDESK_WEBHOOK_SECRET=TEST_SECRET,
    )
    runtime = create_runtime(settings, rules, clock=Clock(NOW))
    client = create_app(runtime=runtime).test_client()
    response = post(client, fixture_bytes("ticket_created.json"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    assert response.json == {"error": "event store unavailable, retry later"}
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_a_store_that_cannot_be_reached_is_logged_with_its_cause(rules, caplog):
    """A wrong DATABASE_URL port (or password) in the web processes' environment was logged
    only as error=OperationalError, as an outage is: the cause was in no log line. The cause
    names the database's host and port: /readyz, which asks for no credentials, does not
    answer it (it did)."""
    settings = Settings(
        DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=1",
        ZENDESK_WEBHOOK_SECRET=TEST_SECRET,
    )
    runtime = create_runtime(settings, rules, clock=Clock(NOW))
    client = create_app(runtime=runtime).test_client()
    caplog.set_level("INFO", logger="deskbridge")
    assert post(client, fixture_bytes("ticket_created.json")).status_code == 503
    ready = client.get("/readyz")
    cause = (
        'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused'
    )
    # The 503 says which check failed and the error's type; the log line says why.
    assert (ready.status_code, ready.json) == (503, store_down("OperationalError", UNREADABLE))
    assert [(r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [
        (
            "webhook.store_unavailable",
            {"source": "zendesk", "error": "OperationalError", "reason": cause},
        ),
        ("readyz.store_unavailable", {"error": "OperationalError", "reason": cause}),
    ]


def test_metrics_say_the_stores_figures_are_unknown_while_it_is_down(rules, tmp_path):
    """A web process that cannot read the store showed its backlog gauges as 0 (or, after an
    earlier read, the last figures), so an outage looked like an empty queue to Prometheus."""
    settings = Settings(
        DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=1",
        ZENDESK_WEBHOOK_SECRET=TEST_SECRET,
    )
    runtime = create_runtime(settings, rules, clock=Clock(NOW))
    client = create_app(runtime=runtime).test_client()
    response = client.get("/metrics")
    gauges = [
        line
        for line in response.get_data(as_text=True).splitlines()
        if line.startswith(("deskbridge_decide", "deskbridge_outbox", "deskbridge_events_failed_s"))
        or line.startswith(("deskbridge_timers_failed_s", "deskbridge_store_up"))
    ]
    assert response.status_code == 200
    assert gauges == [
        "deskbridge_decide_lag_seconds NaN",
        "deskbridge_outbox_pending NaN",
        "deskbridge_outbox_oldest_seconds NaN",
        "deskbridge_outbox_dead NaN",
        "deskbridge_events_failed_stored NaN",
        "deskbridge_timers_failed_stored NaN",
        "deskbridge_store_up 0.0",
    ]


def test_readyz_says_the_store_was_never_migrated_in_its_log(rules, tmp_path, caplog):
    """A SQLite store without deskbridge's tables (a new file, a wrong path): the 503 said
    only "down", as for a stopped server. The driver's reason is the log's (its first line
    may name a server's host and port), the 503 says where to read it."""
    settings = Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'new.db'}")
    client = create_app(runtime=create_runtime(settings, rules, clock=Clock(NOW))).test_client()
    caplog.set_level("INFO", logger="deskbridge")

    ready = client.get("/readyz")

    assert (ready.status_code, ready.json) == (503, store_down("OperationalError", UNREADABLE))
    assert [(r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [
        (
            "readyz.store_unavailable",
            {"error": "OperationalError", "reason": "no such table: events"},
        ),
    ]


class _CommitFails:
    """A pooled DBAPI connection whose commit fails (disk full, the server gone at commit):
    in autocommit (PostgreSQL's acknowledgement; SQLite's, whose lone row's INSERT commits
    itself), each statement commits, so it fails."""

    def __init__(self, connection, error: type[Exception]):
        self._connection, self._error = connection, error

    def __getattr__(self, name):
        return getattr(self._connection, name)

    def commit(self):
        raise self._error("disk I/O error")

    def cursor(self):
        cursor, error = self._connection.cursor(), self._error
        dbapi = self._connection.dbapi_connection
        # SQLite's connections are in autocommit (isolation_level None, store/db.py).
        if getattr(dbapi, "autocommit", None) is not True and (
            getattr(dbapi, "isolation_level", "") is not None
        ):
            return cursor

        class Committing:
            def __getattr__(self, name):
                return getattr(cursor, name)

            def execute(self, *args):
                raise error("disk I/O error")

        return Committing()


def test_a_failed_commit_is_503_not_200(client, engine, monkeypatch):
    """Never 200 before the row is committed: the answer waits for the commit, and a commit
    that fails is a 503 (Zendesk retries), with nothing stored."""
    raw_connection = engine.raw_connection
    error = engine.dialect.loaded_dbapi.OperationalError
    monkeypatch.setattr(engine, "raw_connection", lambda: _CommitFails(raw_connection(), error))
    response = post(client, fixture_bytes("ticket_created.json"))
    assert response.status_code == 503
    assert response.json == {"error": "event store unavailable, retry later"}
    monkeypatch.undo()
    with engine.connect() as connection:
        assert count_events(connection) == 0
    response = post(client, fixture_bytes("ticket_created.json"))  # the retry
    assert response.json == {"status": "accepted", "events": 1}


def test_three_replies_queue_one_call_customer_with_audit(client, runtime, engine):
    answers = [post(client, comment_event(n)).json for n in (1, 2, 3)]
    assert answers == [{"status": "accepted", "events": 1}] * 3
    decided = runtime.service.decider.decide_pending()
    assert [[a.kind.value for a in d.actions if a.rule == "three_responses"] for d in decided] == [
        [],
        [],
        ["call_customer", "tag", "note"],
    ]
    post(client, comment_event(3))  # redelivered
    assert decide(runtime) == []
    with engine.connect() as connection:
        rows = list_actions(connection)
        reasons = connection.execute(select(audit.c.rule, audit.c.action, audit.c.reason)).all()
    rows = [r for r in rows if r["payload"]["rule"] == "three_responses"]
    reasons = [r for r in reasons if r.rule == "three_responses"]
    assert [(r["action"], r["idempotency_key"], r["status"]) for r in rows] == [
        ("call_customer", "zendesk:48213:three_responses:call_customer", "pending"),
        ("tag", "zendesk:48213:three_responses:tag", "pending"),
        ("note", "zendesk:48213:three_responses:note", "pending"),
    ]
    assert [(r.action, r.reason) for r in reasons] == [
        (kind, "3rd written reply without resolution — call the customer")
        for kind in ("call_customer", "tag", "note")
    ]


def test_concurrent_duplicates_store_once(settings, engine, rules):
    runtime = create_runtime(settings, rules, clock=Clock(NOW), engine=engine)
    app = create_app(runtime=runtime)
    bodies = [comment_event(n) for n in (1, 2, 3)]
    for body in bodies[:2]:
        post(app.test_client(), body)
    statuses = []

    def deliver():
        statuses.append(post(app.test_client(), bodies[2]).json["status"])

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == ["accepted"] + ["duplicate"] * 7
    runtime.service.decider.decide_pending()
    with engine.connect() as connection:
        assert count_events(connection) == 3
        keys = [r["idempotency_key"] for r in list_actions(connection)]
    assert len(keys) == len(set(keys))
    assert sorted(k for k in keys if ":three_responses:" in k) == [
        "zendesk:48213:three_responses:call_customer",
        "zendesk:48213:three_responses:note",
        "zendesk:48213:three_responses:tag",
    ]


def test_metrics_count_outcomes(client):
    body = fixture_bytes("ticket_created.json")
    post(client, body)
    post(client, body)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'deskbridge_webhooks_total{outcome="accepted",source="zendesk"} 1.0' in text
    assert 'deskbridge_webhooks_total{outcome="duplicate",source="zendesk"} 1.0' in text


def test_metrics_carry_no_created_samples(client, runtime):
    """prometheus_client wrote a `*_created` line (each series' start time) beside each counter
    and histogram series: a new user read them as figures."""
    post(client, comment_event(1))
    decide(runtime)
    lines = client.get("/metrics").get_data(as_text=True).splitlines()

    assert [line for line in lines if "_created" in line] == []
    assert sorted({line.split("{")[0].split()[0] for line in lines if line[0] != "#"}) == [
        "deskbridge_decide_lag_seconds",
        "deskbridge_decisions_total",
        "deskbridge_events_decided_total",
        "deskbridge_events_failed_stored",
        "deskbridge_events_failed_total",
        "deskbridge_outbox_dead",
        "deskbridge_outbox_oldest_seconds",
        "deskbridge_outbox_pending",
        "deskbridge_store_up",
        "deskbridge_timers_failed_stored",
        "deskbridge_webhook_seconds_bucket",
        "deskbridge_webhook_seconds_count",
        "deskbridge_webhook_seconds_sum",
        "deskbridge_webhooks_total",
    ]


def test_logs_carry_no_personal_data_or_secrets(client, caplog):
    caplog.set_level("DEBUG")
    trigger = fixture_bytes("trigger_ticket_updated.json")
    for n in (1, 2, 3):
        post(client, comment_event(n))
    post(client, trigger)
    post(client, b"{broken")
    client.application.extensions["deskbridge"].service.decider.decide_pending()
    text = "\n".join(
        f"{r.getMessage()} {getattr(r, 'deskbridge_fields', '')}" for r in caplog.records
    )
    assert "webhook.duplicate" not in text and "decision.made" in text
    for secret in (
        "dana.whitfield@customer.example",
        "priya.raman@acme-support.example",
        "engineering is on it",
        "Invoice export returns 502",
        TEST_SECRET,
    ):
        assert secret not in text


def test_lag_and_backlog_are_in_metrics_and_readyz(client, runtime):
    clock = runtime.clock
    for n in (1, 2, 3):
        post(client, comment_event(n))
    clock.now = NOW + timedelta(seconds=42)
    ready = client.get("/readyz").json
    assert (ready["status"], ready["decide_lag_seconds"], ready["outbox_pending"]) == (
        "ready",
        42.0,
        0,
    )
    assert ready["events_failed"] == 0
    text = client.get("/metrics").get_data(as_text=True)
    assert "deskbridge_decide_lag_seconds 42.0" in text
    assert "deskbridge_outbox_pending 0.0" in text

    decided = decide(runtime)
    assert len(decided) == 7
    clock.now = NOW + timedelta(seconds=50)
    ready = client.get("/readyz").json
    assert (ready["decide_lag_seconds"], ready["outbox_pending"]) == (0.0, 7)
    assert ready["outbox_oldest_seconds"] == 8.0  # queued when decided, at +42 s
    text = client.get("/metrics").get_data(as_text=True)
    assert "deskbridge_decide_lag_seconds 0.0" in text
    assert "deskbridge_outbox_pending 7.0" in text
    assert "deskbridge_outbox_oldest_seconds 8.0" in text
    assert "deskbridge_events_decided_total 3.0" in text
    assert "deskbridge_store_up 1.0" in text


def test_readyz_names_the_figures_past_their_alert_thresholds_and_stays_200(client, runtime):
    """/readyz gave the backlog's figures without saying whether they were too high: whoever
    read a probe's answer had to know docs/deploy.md's alert thresholds. `behind` names the
    figures past them (`behind_after_seconds`); still 200: a decider behind has every webhook
    stored, and a 503 would only make senders retry and take the web out of the balancer."""
    clock = runtime.clock
    for n in (1, 2, 3):
        post(client, comment_event(n))
    answers = []
    for seconds in (60, 61):
        clock.now = NOW + timedelta(seconds=seconds)
        answers.append(client.get("/readyz"))
    decide(runtime)  # seven actions queued at +61 s, none performed
    for seconds in (61 + 600, 61 + 601):
        clock.now = NOW + timedelta(seconds=seconds)
        answers.append(client.get("/readyz"))

    assert [(a.status_code, a.json["behind"]) for a in answers] == [
        (200, []),
        (200, ["decide_lag_seconds"]),
        (200, []),
        (200, ["outbox_oldest_seconds"]),
    ]
    assert answers[1].json == {
        "status": "ready",
        "store": "up",
        "dry_run": {"zendesk": True, "salesforce": True, "slack": True, "pager": True},
        "decide_lag_seconds": 61.0,
        "outbox_pending": 0,
        "outbox_oldest_seconds": 0.0,
        "outbox_dead": 0,
        "events_failed": 0,
        "timers_failed": 0,
        "behind": ["decide_lag_seconds"],
        "behind_after_seconds": {"decide_lag_seconds": 60.0, "outbox_oldest_seconds": 600.0},
    }
    assert (answers[3].json["outbox_pending"], answers[3].json["outbox_oldest_seconds"]) == (
        7,
        601.0,
    )


def test_each_200_is_answered_as_the_first_of_its_kind(client):
    """The usual 200s are made once and then answered as they are (connectors/http.py): every
    answer has the status, headers and body of a new one, nothing left by the answers before
    it, also after a 400 and an ignored event in between."""

    def answer(status: int, body: bytes) -> tuple:
        return (
            status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            body,
        )

    accepted = answer(200, b'{"events":1,"status":"accepted"}\n')
    duplicate = answer(200, b'{"events":1,"status":"duplicate"}\n')
    ignored = json.loads(fixture_bytes("ticket_comment_added__public_agent.json"))
    ignored["type"] = "zen:event-type:user.created"
    answers = [
        post(client, comment_event(1)),
        post(client, comment_event(2)),
        post(client, b'{"type": "zen:event-type:ticket.created"}'),
        post(client, json.dumps(ignored).encode()),
        post(client, comment_event(2)),
        post(client, comment_event(3)),
        post(client, comment_event(1)),
    ]
    assert [(r.status_code, list(r.headers.items()), r.get_data()) for r in answers] == [
        accepted,
        accepted,
        answer(400, b'{"error":"required field is missing","field":"id"}\n'),
        answer(
            200,
            b'{"reason":"event type zen:event-type:user.created is not used by deskbridge",'
            b'"status":"ignored"}\n',
        ),
        duplicate,
        accepted,
        duplicate,
    ]
