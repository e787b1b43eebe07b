"""The Web API client keeps its connections to Slack open between calls; a connection Slack
has dropped costs no read, and a post is sent again at once only when it never reached Slack."""

from __future__ import annotations

import json
import socket
import threading
from http.client import RemoteDisconnected
from urllib.error import URLError

import pytest
import urllib3
from slack_sdk.errors import SlackApiError

from deskbridge.bot.notifier import build_web_client
from tests.fakeslack import FakeSlack, wait_until


@pytest.fixture
def fake():
    server = FakeSlack().start()
    yield server
    server.stop()


def post(client, n: int) -> None:
    client.chat_postMessage(channel="#leads", text=f"alert {n}")


def texts(fake: FakeSlack) -> list[str]:
    return [m["text"] for m in fake.messages[fake.channel_id("#leads")]]


def test_calls_one_after_another_share_one_connection(fake):
    client = build_web_client("xoxb-test", fake.url)
    for n in range(5):
        post(client, n)
    history = client.conversations_history(channel=fake.channel_id("#leads"))

    assert [m["text"] for m in history["messages"]] == [f"alert {n}" for n in (4, 3, 2, 1, 0)]
    assert fake.connections == 1


def test_calls_from_several_threads_share_a_connection_each(fake, caplog):
    """Up to 16 lanes (DESKBRIDGE_DISPATCH_CONCURRENCY) each keep a connection: none is
    opened for one call and thrown away."""
    client = build_web_client("xoxb-test", fake.url)
    barrier = threading.Barrier(16)

    def send(first: int) -> None:
        barrier.wait()
        for n in range(first, first + 5):
            post(client, n)

    threads = [threading.Thread(target=send, args=(t * 5,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(texts(fake)) == sorted(f"alert {n}" for n in range(80))
    assert 1 <= fake.connections <= 16
    assert [r.getMessage() for r in caplog.records if "pool" in r.getMessage()] == []


def test_a_connection_slack_closed_while_idle_is_replaced_before_it_is_used(fake):
    fake.close_after = 1  # each connection closed after one answer, without a word
    client = build_web_client("xoxb-test", fake.url)
    for n in range(4):
        post(client, n)
        # Closed before the next call: one crossing it would be left to the dispatcher.
        wait_until(lambda n=n: fake.closed == n + 1)

    assert texts(fake) == ["alert 0", "alert 1", "alert 2", "alert 3"]
    assert fake.connections == 4
    assert [c.method for c in fake.calls] == ["chat.postMessage"] * 4


def test_a_post_that_never_reached_slack_is_sent_again_at_once(monkeypatch):
    """Nothing listening (Slack not reached: connection refused): the post cannot have been
    made, so slack_sdk's connection-error handler sends it again, and it is posted once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fake = FakeSlack(port=port)
    client = build_web_client("xoxb-test", f"http://127.0.0.1:{port}/api/")
    handler = client.retry_handlers[0]
    refused = []
    wait = handler.prepare_for_next_attempt

    def slack_comes_up(**kwargs):
        refused.append(kwargs["error"])
        fake.start()
        wait(**kwargs)

    monkeypatch.setattr(handler, "prepare_for_next_attempt", slack_comes_up)
    try:
        post(client, 0)
    finally:
        fake.stop()

    [error] = refused
    assert isinstance(error, URLError)
    assert isinstance(error.reason, urllib3.exceptions.NewConnectionError)
    assert texts(fake) == ["alert 0"]
    assert [c.method for c in fake.calls] == ["chat.postMessage"]


def test_a_kept_connection_dropped_as_a_post_arrives_is_left_to_the_dispatcher(fake):
    """Slack closed the connection with the request sent and no answer: it may have posted
    the message before closing, so the client does not send it again (the dispatcher's next
    attempt looks for it by its key first: tests/bot/test_slack_once.py)."""
    client = build_web_client("xoxb-test", fake.url)
    post(client, 0)
    fake.drop_reused = 1

    with pytest.raises(RemoteDisconnected):
        post(client, 1)

    assert texts(fake) == ["alert 0"]
    assert [c.method for c in fake.calls] == ["chat.postMessage", "dropped"]


def test_a_kept_connection_dropped_as_a_read_arrives_is_retried_once_on_a_new_one(fake):
    """A read changes nothing in Slack: slack_sdk's connection-error handler sends it again,
    on a new connection."""
    client = build_web_client("xoxb-test", fake.url)
    post(client, 0)
    fake.drop_reused = 1

    history = client.conversations_history(channel=fake.channel_id("#leads"))

    assert [m["text"] for m in history["messages"]] == ["alert 0"]
    assert [c.method for c in fake.calls] == [
        "chat.postMessage",
        "dropped",
        "conversations.history",
    ]
    assert fake.connections == 2


def test_slack_errors_and_statuses_still_reach_the_caller(fake):
    """As with urllib: a 5xx (for a read, after slack_sdk's one retry) and a Slack error are
    SlackApiError with Slack's answer; the connection stays in use."""
    client = build_web_client("xoxb-test", fake.url)
    fake.channel_errors["#gone"] = "channel_not_found"
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="#gone", text="x")
    assert refused.value.response["error"] == "channel_not_found"

    fake.fail_for(60, 503, body={"ok": False, "error": "service_unavailable"})
    with pytest.raises(SlackApiError) as failed:
        client.chat_postMessage(channel="#leads", text="x")
    assert failed.value.response.status_code == 503
    with pytest.raises(SlackApiError) as unread:
        client.conversations_history(channel=fake.channel_id("#leads"))
    assert unread.value.response.status_code == 503
    # A read is sent once more; a post is not (Slack may answer 5xx after posting).
    assert [(c.method, c.status) for c in fake.calls[1:]] == [
        ("chat.postMessage", 503),
        ("conversations.history", 503),
        ("conversations.history", 503),
    ]
    assert json.loads(json.dumps(failed.value.response.data)) == {
        "ok": False,
        "error": "service_unavailable",
    }
    assert fake.connections == 1


def test_a_stopped_slack_is_unreachable_to_a_kept_connection():
    fake = FakeSlack().start()
    client = build_web_client("xoxb-test", fake.url)
    post(client, 0)
    fake.stop()

    with pytest.raises(OSError):
        post(client, 1)
