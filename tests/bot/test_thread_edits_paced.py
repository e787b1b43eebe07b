"""A thread update (an acknowledgement, a solve, a snooze said in every thread of the ticket)
performed in the channels' turns: an attempt paced at a channel's turn (Paced, no attempt used)
is continued by the next, which edits each thread's first message once, not every earlier
one again (five threads took eleven edits, each waiting for its channel's turn)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from deskbridge.bot.notifier import SlackNotifier, build_web_client
from deskbridge.store.slack import PostedMessage, record_posted
from deskbridge.store.tickets import lock_ticket, save_ticket
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.model import Source, Status, TicketState
from deskbridge.workflows.ports import Paced
from tests.fakeslack import FakeSlack

NOW = datetime(2026, 12, 6, 22, 51, tzinfo=UTC)
TICKET = "zendesk:48213"
CHANNELS = ("#resolution-leads", "#resolution-specialists", "#resolution-oncall")


def test_a_paced_thread_update_edits_each_first_message_once(sqlite_engine, rules):
    state = TicketState(key=TICKET, source=Source.zendesk, ticket_id="48213", status=Status.open)
    alert = build_action(TICKET, "oncall", ActionKind.page_oncall, "0", reason="why")
    fake = FakeSlack().start()
    try:
        with sqlite_engine.begin() as connection:
            lock_ticket(connection, TICKET, NOW)
            save_ticket(connection, state, NOW)
            for n, channel in enumerate(CHANNELS):
                payload = {"action": alert.to_record(), "channel_id": fake.channel_id(channel)}
                root = PostedMessage(
                    TICKET, channel, f"1796597000.00010{n}", None, alert.key, payload
                )
                record_posted(connection, root, NOW)
        clock = [NOW]
        slack = SlackNotifier(
            sqlite_engine,
            rules,
            lambda: clock[0],
            client=build_web_client("xoxb-test", fake.url),
            min_interval=1.0,
        )
        ack = build_action(
            TICKET,
            "interactions",
            ActionKind.notify,
            "ack",
            reason="why",
            target="thread",
            refresh=True,
        )

        paced = 0
        while True:
            try:
                result = slack.perform(ack)
                break
            except Paced:  # the dispatcher claims it again at the channel's turn
                paced += 1
                assert paced < 10
                clock[0] += timedelta(seconds=1.5)

        assert result == {"threads": 3}
        assert paced >= 2  # continued over several attempts
        replies = [c.args["channel"] for c in fake.ok_calls("chat.postMessage")]
        assert replies == [fake.channel_id(channel) for channel in CHANNELS]
        edits = Counter(c.args["ts"] for c in fake.ok_calls("chat.update"))
        assert edits == {f"1796597000.00010{n}": 1 for n in range(3)}
    finally:
        fake.stop()
