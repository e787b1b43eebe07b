"""One Slack message per action and channel, even when the process dies between Slack's
answer and our record of it (reliability.md §6 D19c), or Slack's answer is lost (the connection
dropped, a 5xx): the retry finds the message in Slack by the key in its metadata and records it
instead of posting again."""

# ruff: noqa: F811 (the demo_engine fixture is imported from tests.bot.test_digest_slack)
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from deskbridge.app import create_app, create_runtime

# Imported before any test patches notifier.build_web_client: bot.app binds the name when it
# is first imported, and a first import under the patch counted the Slack app's own client
# too (a test run alone, or first in its worker, failed on [10, 10]).
from deskbridge.bot import app as _bolt_app  # noqa: F401
from deskbridge.bot import notifier
from deskbridge.store.outbox import insert_actions, list_actions
from deskbridge.store.slack import find_posted, hold_channel
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.rules.coaching import DAILY_DIGEST, JOBS
from tests.bot.test_digest_slack import demo_engine  # noqa: F401
from tests.bot.test_slack_flow import (
    PRIYA,
    PRIYA_ZENDESK,
    click,
    post_zendesk,
    slack_settings,
    zendesk_event,
)
from tests.conftest import Clock
from tests.fakeslack import NO_ANSWER, FakeSlack

ROUTE_KEY = "zendesk:48300:routing:logistics:route"
ACK_KEY = "zendesk:48300:interactions:ack"
CALL_KEY = "zendesk:48300:three_responses:call_customer"
# Slack's clock runs 90 s behind ours: the lookup starts early enough to allow for it.
SLACK_SKEW = timedelta(seconds=-90)


class Died(BaseException):
    """The process dying: not an Exception, so nothing on the way catches it (SIGKILL)."""


@pytest.fixture
def clock():
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def fake(clock):
    server = FakeSlack(clock=lambda: (clock() + SLACK_SKEW).timestamp()).start()
    yield server
    server.stop()


@pytest.fixture
def start(fake, sqlite_engine, rules, monkeypatch, clock):
    """Starts a process's runtime on the one store: call again after a crash to restart."""
    settings = slack_settings(fake, monkeypatch)
    return lambda: create_runtime(settings, rules, engine=sqlite_engine, clock=clock)


def die_after_slack_answers(monkeypatch) -> None:
    """The next message is accepted by Slack and the process dies before recording it (a
    dispatcher's batch records its messages with the outcomes, anything else at once)."""

    def record_posted(*args, **kwargs):
        monkeypatch.undo()
        raise Died

    monkeypatch.setattr(notifier, "record_posted", record_posted)
    monkeypatch.setattr(notifier, "record_posted_messages", record_posted)


def receive_ticket(start):
    """A process that has stored and decided a new ticket (an alert for #dept-logistics)."""
    runtime = start()
    client = create_app(runtime=runtime).test_client()
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    return runtime, client


def dispatch_and_die(runtime) -> None:
    with pytest.raises(Died):
        runtime.dispatcher.dispatch_due()


def restart(start, clock):
    """A new process once the dead one's claim on its row has lapsed (the lease)."""
    clock.now += timedelta(seconds=start().settings.dispatch_lease + 1)
    runtime = start()
    runtime.dispatcher.dispatch_due()
    return runtime


def posts_with_key(fake: FakeSlack, key: str) -> list:
    posts = fake.ok_calls("chat.postMessage")
    return [p for p in posts if p.args["metadata"]["event_payload"]["key"] == key]


def recorded(runtime, key: str, channel: str):
    with runtime.engine.connect() as connection:
        return find_posted(connection, key, channel)


def statuses(runtime) -> dict[str, str]:
    with runtime.engine.connect() as connection:
        return {r["idempotency_key"]: r["status"] for r in list_actions(connection)}


def test_a_first_post_in_a_channel_slack_took_before_the_crash_is_found_not_sent_again(
    start, fake, clock, monkeypatch
):
    runtime, client = receive_ticket(start)
    first_attempt = clock()
    die_after_slack_answers(monkeypatch)
    dispatch_and_die(runtime)
    [sent] = posts_with_key(fake, ROUTE_KEY)
    assert recorded(runtime, ROUTE_KEY, "#dept-logistics") is None  # the crash window

    runtime = restart(start, clock)

    assert posts_with_key(fake, ROUTE_KEY) == [sent]
    logistics = fake.channel_id("#dept-logistics")
    found = recorded(runtime, ROUTE_KEY, "#dept-logistics")
    assert (found.ts, found.thread_ts, found.channel_id) == (sent.ts, None, logistics)
    assert statuses(runtime)[ROUTE_KEY] == "done"
    # Nothing recorded for the channel yet, so its id was found by name, from the start of
    # the first attempt less the margin for Slack's clock.
    lists = fake.ok_calls("conversations.list")
    [history] = fake.ok_calls("conversations.history")
    assert len(lists) == 1
    assert history.args == {
        "channel": logistics,
        "oldest": f"{(first_attempt - notifier.LOOKUP_MARGIN).timestamp():.6f}",
        "include_all_metadata": "1",
        "limit": "200",
    }
    # What follows threads under the message found.
    click(client, "deskbridge.ack", PRIYA, "zendesk:48300", sent.ts, logistics)
    runtime.dispatcher.dispatch_due()
    [ack] = posts_with_key(fake, ACK_KEY)
    assert (ack.args["channel"], ack.args["thread_ts"]) == (logistics, sent.ts)


def test_a_thread_reply_slack_took_before_the_crash_is_found_in_the_thread(
    start, fake, clock, monkeypatch
):
    runtime, client = receive_ticket(start)
    runtime.dispatcher.dispatch_due()
    [root] = posts_with_key(fake, ROUTE_KEY)
    logistics = fake.channel_id("#dept-logistics")
    click(client, "deskbridge.ack", PRIYA, "zendesk:48300", root.ts, logistics)
    die_after_slack_answers(monkeypatch)
    dispatch_and_die(runtime)
    [sent] = posts_with_key(fake, ACK_KEY)

    runtime = restart(start, clock)

    assert posts_with_key(fake, ACK_KEY) == [sent]
    found = recorded(runtime, ACK_KEY, "#dept-logistics")
    assert (found.ts, found.thread_ts, found.channel_id) == (sent.ts, root.ts, logistics)
    assert statuses(runtime)[ACK_KEY] == "done"
    # A reply is not in the channel's history: it was read from the thread.
    [replies] = fake.ok_calls("conversations.replies")
    assert (replies.args["channel"], replies.args["ts"]) == (logistics, root.ts)
    assert fake.ok_calls("conversations.history") == []


def test_a_dm_slack_took_before_the_crash_is_found_in_the_dm(start, fake, clock, monkeypatch):
    runtime, _client = receive_ticket(start)
    runtime.dispatcher.dispatch_due()
    call = build_action(
        "zendesk:48300",
        "three_responses",
        ActionKind.call_customer,
        "call_customer",
        reason="3 public replies and not solved",
        target="assignee",
        assignee=PRIYA_ZENDESK,
        replies=3,
    )
    assert call.key == CALL_KEY
    with runtime.engine.begin() as connection:
        insert_actions(connection, [call], clock())
    die_after_slack_answers(monkeypatch)
    dispatch_and_die(runtime)
    [sent] = posts_with_key(fake, CALL_KEY)
    assert sent.args["channel"] == PRIYA

    runtime = restart(start, clock)

    assert posts_with_key(fake, CALL_KEY) == [sent]
    found = recorded(runtime, CALL_KEY, PRIYA)
    assert (found.ts, found.channel_id) == (sent.ts, "D02PRIYA01")
    [opened] = fake.ok_calls("conversations.open")
    assert opened.args["users"] == PRIYA


def test_a_crash_before_slack_was_reached_posts_once_after_the_restart(
    start, fake, clock, monkeypatch
):
    runtime, _client = receive_ticket(start)
    fake.channel_id("#dept-logistics")  # the channel exists in the workspace

    def chat_post_message(**kwargs):
        monkeypatch.undo()
        raise Died

    slack = runtime.dispatcher.performers[ActionKind.route].client
    monkeypatch.setattr(slack, "chat_postMessage", chat_post_message)
    dispatch_and_die(runtime)
    assert fake.ok_calls("chat.postMessage") == []

    runtime = restart(start, clock)

    [sent] = posts_with_key(fake, ROUTE_KEY)
    assert len(fake.ok_calls("conversations.history")) == 1  # looked, found nothing, posted
    assert recorded(runtime, ROUTE_KEY, "#dept-logistics").ts == sent.ts


def test_a_lookup_slack_refuses_is_skipped_and_the_message_sent(start, fake, clock, monkeypatch):
    """Without the history scopes (or outside the channel) the check cannot be made: the
    message goes again rather than never (at most one duplicate, as before the check)."""
    runtime, _client = receive_ticket(start)
    die_after_slack_answers(monkeypatch)
    dispatch_and_die(runtime)
    fake.channel_errors[fake.channel_id("#dept-logistics")] = "missing_scope"

    runtime = restart(start, clock)

    assert len(posts_with_key(fake, ROUTE_KEY)) == 2
    assert statuses(runtime)[ROUTE_KEY] == "done"


def test_a_retry_waits_for_its_channel_before_looking(start, fake, clock, monkeypatch):
    """The lookup takes the channel's send slot first: a retry held back by the channel's pace
    (or a 429's hold) reads no history until its turn, then reads it once."""
    runtime, _client = receive_ticket(start)
    die_after_slack_answers(monkeypatch)
    dispatch_and_die(runtime)
    lease = timedelta(seconds=runtime.settings.dispatch_lease + 1)
    with runtime.engine.begin() as connection:
        hold_channel(connection, "#dept-logistics", clock() + lease + timedelta(seconds=30))

    clock.now += lease
    runtime = start()
    runtime.dispatcher.dispatch_due()
    assert fake.ok_calls("conversations.history") == []
    assert statuses(runtime)[ROUTE_KEY] == "pending"

    clock.now += timedelta(seconds=30)
    runtime.dispatcher.dispatch_due()
    assert len(fake.ok_calls("conversations.history")) == 1
    assert len(posts_with_key(fake, ROUTE_KEY)) == 1
    assert statuses(runtime)[ROUTE_KEY] == "done"


def test_a_chart_slack_shared_before_the_crash_is_found_not_uploaded_again(
    fake, demo_engine, rules, monkeypatch, clock
):
    """The digest's chart is a file share, which carries no metadata: after a crash between
    Slack's answer and our record, the retry knows it by its file name and title."""
    settings = slack_settings(fake, monkeypatch)
    runtime = create_runtime(settings, rules, engine=demo_engine, clock=clock)
    at = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)
    [digest] = runtime.job_runner.run_occurrence(JOBS[DAILY_DIGEST], at, at).actions
    real = notifier.record_posted

    def record_posted(connection, message, now):
        if message.channel.endswith("#chart"):
            monkeypatch.undo()
            raise Died
        real(connection, message, now)

    monkeypatch.setattr(notifier, "record_posted", record_posted)
    dispatch_and_die(runtime)
    [shared] = fake.ok_calls("files.completeUploadExternal")

    clock.now += timedelta(seconds=settings.dispatch_lease + 1)
    runtime = create_runtime(settings, rules, engine=demo_engine, clock=clock)
    runtime.dispatcher.dispatch_due()

    assert [c.method for c in fake.calls if c.status == 200] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
        "conversations.history",
    ]
    file_id = json.loads(shared.args["files"])[0]["id"]
    assert recorded(runtime, digest.key, "#resolution-leads#chart").ts == file_id
    assert statuses(runtime)[digest.key] == "done"


def outcome(runtime, key: str) -> tuple[str, int, str | None]:
    """An outbox row's (status, attempts, last error)."""
    with runtime.engine.connect() as connection:
        [row] = [r for r in list_actions(connection) if r["idempotency_key"] == key]
    return row["status"], row["attempts"], row["last_error"]


@pytest.mark.parametrize(
    ("lost", "error"),
    [
        (0, "Slack unreachable: RemoteDisconnected"),
        (500, "Slack chat_postMessage failed: internal_error"),
        (NO_ANSWER, "Slack did not answer within its timeout (TimeoutError)"),
    ],
    ids=["connection dropped", "500", "no answer"],
)
def test_a_post_slack_made_without_answering_ok_is_found_by_the_next_attempt(
    start, fake, clock, monkeypatch, lost, error
):
    """Slack posts the message, then the connection drops before its answer (or it answers
    500, or never: reliability.md §6 C18, given up after the client's timeout, 10 s, 0.5 s
    here): the client does not send the post again at once, which would post it twice; the
    dispatcher tries again after its back-off, finds the message by its key and records it."""
    built, timeouts = notifier.build_web_client, []

    def short_timeout(*args, **kwargs):
        client = built(*args, **kwargs)
        timeouts.append(client.timeout)
        client.timeout = 0.5
        return client

    monkeypatch.setattr(notifier, "build_web_client", short_timeout)
    runtime, _client = receive_ticket(start)
    assert timeouts == [10]
    first_attempt = clock()
    fake.lost_answers["chat.postMessage"] = [lost]

    started = time.monotonic()
    runtime.dispatcher.dispatch_due()
    if lost == NO_ANSWER:  # given up at the timeout, not retried in the call
        assert 0.5 <= time.monotonic() - started < 3

    [sent] = posts_with_key(fake, ROUTE_KEY)
    assert [c.method for c in fake.calls] == ["chat.postMessage"]
    assert outcome(runtime, ROUTE_KEY) == ("pending", 1, error)
    assert recorded(runtime, ROUTE_KEY, "#dept-logistics") is None

    clock.now += timedelta(seconds=3)  # past the first retry's back-off (2 to 2.5 s)
    runtime.dispatcher.dispatch_due()

    assert posts_with_key(fake, ROUTE_KEY) == [sent]
    assert [c.method for c in fake.calls] == [
        "chat.postMessage",
        "conversations.list",
        "conversations.history",
    ]
    logistics = fake.channel_id("#dept-logistics")
    history = fake.calls[-1]
    assert history.args == {
        "channel": logistics,
        "oldest": f"{(first_attempt - notifier.LOOKUP_MARGIN).timestamp():.6f}",
        "include_all_metadata": "1",
        "limit": "200",
    }
    found = recorded(runtime, ROUTE_KEY, "#dept-logistics")
    assert (found.ts, found.thread_ts, found.channel_id) == (sent.ts, None, logistics)
    assert outcome(runtime, ROUTE_KEY) == ("done", 2, None)
