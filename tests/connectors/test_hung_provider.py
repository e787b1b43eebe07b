"""A helpdesk that takes the connection and the request and never answers (reliability.md §6
C18): each call gives up after its timeout, and the transport does not send the request again
(a resent note would be added twice); the dispatcher's next attempt looks for the note first
(tests/connectors/test_notes_once.py). Against a real socket on 127.0.0.1, no network."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime

import pytest
import requests
import responses

from deskbridge.connectors.outbound import describe_unreachable
from deskbridge.connectors.salesforce import client as salesforce
from deskbridge.connectors.zendesk import client as zendesk
from deskbridge.connectors.zendesk.client import ZendeskWriter
from deskbridge.workflows.actions import ActionKind
from tests.connectors.test_zendesk_client import action


class SilentServer:
    """Accepts connections, reads what arrives, never answers; counts the requests."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.requests = 0
        self.connections: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        self.listener.settimeout(0.05)
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        seen = b""
        while not self.stopped.is_set():
            try:
                data = connection.recv(65536)
            except OSError:
                return
            if not data:
                return
            seen += data
            while b"\r\n\r\n" in seen:  # a request's head (bodies here carry no blank line)
                self.requests += 1
                seen = seen.split(b"\r\n\r\n", 1)[1]

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for connection in self.connections:
            connection.close()
        self.listener.close()


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("build", "bound"),
    [
        (salesforce.build_session, salesforce.TIMEOUT_SECONDS),
        (zendesk.build_session, zendesk.TIMEOUT_SECONDS),
    ],
    ids=["salesforce", "zendesk"],
)
def test_a_provider_that_never_answers_times_out_once_and_nothing_is_resent(silent, build, bound):
    assert bound == 10
    session = build()
    # The helpdesks' adapter (its transport retries) as mounted for https, here on http. A
    # PUT (Zendesk's update, which adds a note): urllib3 would resend it on a read timeout if
    # its retries allowed reads.
    session.mount("http://", session.get_adapter("https://example.invalid"))

    started = time.monotonic()
    # requests says ConnectionError (urllib3's read retries, none allowed, are used up by the
    # read timeout); the writers take it, as a Timeout, for "unreachable", retried later.
    with pytest.raises(requests.ConnectionError):
        session.put(f"{silent.url}/api/v2/tickets/48213.json", data="{}", timeout=0.3)
    waited = time.monotonic() - started

    assert 0.3 <= waited < 2
    time.sleep(0.1)  # a resend, if any, would have arrived by now
    assert (len(silent.connections), silent.requests) == (1, 1)


@pytest.mark.parametrize("build", [salesforce.build_session, zendesk.build_session])
def test_a_provider_that_never_answers_is_said_to_be_slow_not_unreachable(silent, build):
    # The outbox's error (logged, and the dead letter's) tells a helpdesk that took the
    # request and never answered from one that refused the connection.
    session = build()
    session.mount("http://", session.get_adapter("https://example.invalid"))
    with pytest.raises(requests.ConnectionError) as hung:
        session.put(f"{silent.url}/api/v2/tickets/48213.json", data="{}", timeout=0.3)
    assert describe_unreachable("Zendesk", hung.value) == (
        "Zendesk did not answer within its timeout (ConnectionError)"
    )
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens on the port now: the connection is refused
    with pytest.raises(requests.ConnectionError) as refused:
        session.put(f"http://127.0.0.1:{port}/api/v2/tickets/48213.json", data="{}", timeout=0.3)
    assert describe_unreachable("Zendesk", refused.value) == "Zendesk unreachable: ConnectionError"


def test_every_zendesk_request_carries_the_timeout():
    """zenpy passes its `timeout` with each call, and find_note its own: no call to Zendesk
    can wait for ever (requests has no default timeout)."""
    writer = ZendeskWriter("acme", "bot@acme.test", "api-token")
    api = "https://acme.zendesk.com/api/v2"
    note = action(ActionKind.note, body="x")
    with responses.RequestsMock() as mock:
        mock.put(f"{api}/tickets/48213/tags.json", json={"tags": ["x"]})
        mock.put(
            f"{api}/tickets/48213.json",
            json={"ticket": {"id": 48213, "tags": []}, "audit": {"id": 1, "events": []}},
        )
        mock.get(f"{api}/tickets/48213/comments.json", json={"comments": [], "meta": {}})
        writer.perform(action(ActionKind.tag, tags=["x"]))
        writer.perform(note)
        writer.find_note(note, datetime(2026, 1, 1, tzinfo=UTC))
        timeouts = [call.request.req_kwargs["timeout"] for call in mock.calls]
    assert timeouts == [zendesk.TIMEOUT_SECONDS] * 3
