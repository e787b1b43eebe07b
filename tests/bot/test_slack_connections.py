"""The Web API client keeps its connections to Slack open between calls, and a connection
Slack has dropped costs neither a message nor a duplicate."""

from __future__ import annotations

import json
import threading

import pytest
from slack_sdk.errors import SlackApiError

from deskbridge.bot.notifier import build_web_client
from tests.fakeslack import FakeSlack


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

    assert texts(fake) == ["alert 0", "alert 1", "alert 2", "alert 3"]
    assert fake.connections == 4
    assert [c.method for c in fake.calls] == ["chat.postMessage"] * 4


def test_a_kept_connection_dropped_as_a_message_arrives_is_retried_once_on_a_new_one(fake):
    """Slack closed the connection on receiving the request, before handling it (an idle
    connection's close crossing our request): slack_sdk's connection-error handler sends it
    again, on a new connection, and the message is posted once."""
    client = build_web_client("xoxb-test", fake.url)
    post(client, 0)
    fake.drop_reused = 1

    post(client, 1)

    assert texts(fake) == ["alert 0", "alert 1"]
    assert [c.method for c in fake.calls] == ["chat.postMessage", "dropped", "chat.postMessage"]
    assert fake.connections == 2


def test_slack_errors_and_statuses_still_reach_the_caller(fake):
    """As with urllib: a 5xx (after slack_sdk's one retry) and a Slack error are
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
    assert [(c.method, c.status) for c in fake.calls[1:]] == [("chat.postMessage", 503)] * 2
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
