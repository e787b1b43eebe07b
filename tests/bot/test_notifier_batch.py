"""The Slack performer reads what a dispatcher's batch needs at once (`prepare`: tickets, thread
roots, messages recorded, attempts) and uses each read once, while it is fresh; what it performs
is the same as reading per action."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from deskbridge.bot import notifier
from deskbridge.bot.notifier import SlackNotifier, build_web_client
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.slack import PostedMessage, find_posted, record_posted
from deskbridge.store.tickets import lock_ticket, save_ticket
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.model import Source, Status, TicketState
from deskbridge.workflows.ports import PermanentError
from tests.fakeslack import FakeSlack

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def store_ticket(engine, number: int) -> str:
    key = f"zendesk:{number}"
    state = TicketState(key=key, source=Source.zendesk, ticket_id=str(number), status=Status.open)
    with engine.begin() as connection:
        lock_ticket(connection, key, NOW)
        save_ticket(connection, state, NOW)
    return key


def alert(ticket: str, channel: str):
    return build_action(
        ticket, "test", ActionKind.notify, channel, reason="why", target="lead", channel=channel
    )


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The tickets read one at a time (not in a batch), in order."""
    seen: list[str] = []
    real = notifier.load_ticket

    def load_ticket(connection, key):
        seen.append(key)
        return real(connection, key)

    monkeypatch.setattr(notifier, "load_ticket", load_ticket)
    return seen


def test_a_prepared_batch_is_performed_without_a_read_per_action(sqlite_engine, rules, reads):
    first, second = store_ticket(sqlite_engine, 48700), store_ticket(sqlite_engine, 48701)
    actions = [alert(first, "#leads"), alert(second, "#billing"), alert("zendesk:404", "#leads")]
    slack = SlackNotifier(sqlite_engine, rules, lambda: NOW, client=None)

    slack.prepare(actions)

    assert slack.perform(actions[0]) == {"dry_run": True, "channels": ["#leads"]}
    assert slack.perform(actions[1]) == {"dry_run": True, "channels": ["#billing"]}
    with pytest.raises(PermanentError, match=r"^unknown ticket zendesk:404$"):
        slack.perform(actions[2])
    assert reads == []


def test_each_prepared_ticket_is_used_once_and_only_while_fresh(
    sqlite_engine, rules, reads, monkeypatch
):
    first, second = store_ticket(sqlite_engine, 48702), store_ticket(sqlite_engine, 48703)
    slack = SlackNotifier(sqlite_engine, rules, lambda: NOW, client=None)

    slack.prepare([alert(first, "#leads"), alert(second, "#leads")])
    slack.perform(alert(first, "#leads"))
    slack.perform(alert(first, "#billing"))  # a second action on the ticket reads it anew
    monkeypatch.setattr(notifier, "PREPARED_FOR", 0.0)  # the batch has grown old
    assert slack.perform(alert(second, "#leads")) == {"dry_run": True, "channels": ["#leads"]}

    assert reads == [first, second]


def post_batch(engine, rules, fake, prepared: bool) -> list[tuple]:
    """Two alerts in #leads, one about a ticket with a thread there already, and a thread
    update of that ticket: what Slack got (channel, thread, key), prepared or not."""
    threaded, fresh = store_ticket(engine, 48710), store_ticket(engine, 48711)
    with engine.begin() as connection:
        # An alert posted earlier, recorded with what it shows (a thread's first message).
        shown = {"channel_id": "C0LEADS01", "action": alert(threaded, "#leads").to_record()}
        root = PostedMessage(threaded, "#leads", "1700000000.000100", None, "earlier", {})
        record_posted(connection, replace(root, payload=shown), NOW)
    actions = [
        alert(threaded, "#leads"),
        alert(fresh, "#leads"),
        build_action(threaded, "test", ActionKind.notify, "update", reason="why", target="thread"),
    ]
    slack = SlackNotifier(
        engine, rules, lambda: NOW, client=build_web_client("xoxb-test", fake.url), min_interval=0
    )
    if prepared:
        slack.prepare(actions)
    results = [slack.perform(a) for a in actions]
    assert results == [{"channels": ["#leads"]}, {"channels": ["#leads"]}, {"threads": 1}]
    return [
        (c.args["channel"], c.args.get("thread_ts"), c.args["metadata"]["event_payload"]["key"])
        for c in fake.ok_calls("chat.postMessage")
    ]


@pytest.mark.parametrize("stale", [False, True], ids=["fresh", "stale"])
def test_a_prepared_batch_posts_what_reading_per_action_posts_without_the_reads(
    sqlite_engine, rules, reads, monkeypatch, tmp_path, stale
):
    """Once the batch has grown old only the tickets are read again (for the view): thread
    roots, messages and attempts are the action's lane's own, which nothing else changes."""
    if stale:
        monkeypatch.setattr(notifier, "PREPARED_FOR", 0.0)
    per_action: list[str] = []
    for name in ("find_thread_root", "find_posted", "find_attempts", "list_thread_roots"):
        real = getattr(notifier, name)

        def counted(*args, _real=real, _name=name):
            per_action.append(_name)
            return _real(*args)

        monkeypatch.setattr(notifier, name, counted)
    other = create_store_engine(f"sqlite:///{tmp_path / 'other.db'}")
    migrate_store(other)
    fake, fake_unprepared = FakeSlack().start(), FakeSlack().start()
    try:
        sent = post_batch(sqlite_engine, rules, fake, prepared=True)
        assert per_action == []
        assert reads == (["zendesk:48710", "zendesk:48711", "zendesk:48710"] if stale else [])
        reads.clear()
        sent_unprepared = post_batch(other, rules, fake_unprepared, prepared=False)
    finally:
        fake.stop()
        fake_unprepared.stop()
        other.dispose()
    assert per_action != []  # the same actions, read one by one
    key = [a.key for a in (alert("zendesk:48710", "#leads"), alert("zendesk:48711", "#leads"))]
    update = build_action(
        "zendesk:48710", "test", ActionKind.notify, "update", reason="why", target="thread"
    ).key
    assert (
        sent
        == sent_unprepared
        == [
            ("C0LEADS01", "1700000000.000100", key[0]),
            ("#leads", None, key[1]),
            ("C0LEADS01", "1700000000.000100", update),
        ]
    )


def test_messages_of_a_prepared_batch_are_recorded_with_the_outcomes(sqlite_engine, rules):
    """A dispatcher's batch: its messages are written by `record`, in the transaction of the
    outcomes; an action performed on its own is recorded at once."""
    batched, alone = store_ticket(sqlite_engine, 48720), store_ticket(sqlite_engine, 48721)
    first, second = alert(batched, "#leads"), alert(alone, "#billing")
    fake = FakeSlack().start()
    try:
        client = build_web_client("xoxb-test", fake.url)
        slack = SlackNotifier(sqlite_engine, rules, lambda: NOW, client=client, min_interval=0)
        slack.prepare([first])
        slack.perform(first)
        slack.perform(second)

        def recorded(action, channel):
            with sqlite_engine.connect() as connection:
                return find_posted(connection, action.key, channel)

        assert recorded(first, "#leads") is None
        assert recorded(second, "#billing") is not None
        with sqlite_engine.begin() as connection:
            slack.record(connection)
        leads = fake.ok_calls("chat.postMessage")[0].ts
        assert recorded(first, "#leads") == PostedMessage(
            batched,
            "#leads",
            leads,
            None,
            first.key,
            {"channel_id": fake.channel_id("#leads"), "action": first.to_record()},
        )
    finally:
        fake.stop()
