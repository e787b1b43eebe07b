"""reliability.md §6 E26: a channel's next message is paced from when Slack answered its last
one, not only from the slot that one was booked for. A post that went out late (its process
busy between booking the slot and sending: 1,000 webhooks a second on two cores) reached Slack
less than a second before the next one, booked a second after the first slot, and Slack, at
one message a second per channel, answered 429: self-inflicted (benchmarks/sustained_rate.py
--slack-cap 1 met four in its first seconds)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from deskbridge.bot.notifier import SlackNotifier, build_web_client
from deskbridge.store.slack import hold_channel
from deskbridge.store.tickets import lock_ticket, save_ticket
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.model import Source, Status, TicketState
from deskbridge.workflows.ports import Paced, RetryableError
from tests.fakeslack import FakeSlack

TICKETS = ("zendesk:48601", "zendesk:48602")
STALL = 0.3
HALF_SECOND = timedelta(seconds=0.5)


class StallingClient:
    """The web client, stalled STALL s before its first post goes out (after the slot)."""

    def __init__(self, client):
        self.client = client
        self.stalled = False

    def chat_postMessage(self, **kwargs):
        if not self.stalled:
            self.stalled = True
            time.sleep(STALL)
        return self.client.chat_postMessage(**kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


def paced_lead_alerts(engine, rules, client, keys) -> tuple[SlackNotifier, list]:
    """A notifier pacing each channel at one message a second, and a lead alert about each
    ticket of `keys` (stored, open)."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for key in keys:
            lock_ticket(connection, key, now)
            state = TicketState(
                key=key, source=Source.zendesk, ticket_id=key[-5:], status=Status.open
            )
            save_ticket(connection, state, now)
    slack = SlackNotifier(engine, rules, lambda: datetime.now(UTC), client, min_interval=1.0)
    alerts = [
        build_action(key, "test", ActionKind.notify, "1", reason="why", target="lead")
        for key in keys
    ]
    return slack, alerts


def test_a_late_post_pushes_the_channels_next_turn_so_slack_is_not_asked_too_soon(
    sqlite_engine, rules
):
    fake = FakeSlack(post_interval=1.0).start()
    try:
        slack = StallingClient(build_web_client("xoxb-test", fake.url))
        slack, alerts = paced_lead_alerts(sqlite_engine, rules, slack, TICKETS)
        waits, refused = [], []
        for alert in alerts:
            while True:
                try:
                    slack.perform(alert)
                    break
                except Paced as paced:  # the channel's turn: asked again when it comes
                    waits.append(paced.retry_after)
                    time.sleep(paced.retry_after)
                except RetryableError as error:
                    refused.append(str(error))
                    break
        posts = [c for c in fake.calls if c.method == "chat.postMessage"]
        assert ([c.status for c in posts], refused) == ([200, 200], [])
        assert posts[1].at - posts[0].at >= 1.0
        # Paced once, until a second after the first post was answered, not after its slot
        # (0.7 s: the second second of the slots, less the stall).
        assert len(waits) == 1 and waits[0] >= 0.95
    finally:
        fake.stop()


def test_actions_waiting_for_one_channel_are_given_its_turns_one_each(sqlite_engine, rules):
    """reliability.md §6 E26: actions paced on a busy channel come back one a turn, in the order
    they were held back, not all at its next turn, where one was sent and the rest were held back
    again: a backlog of thousands was claimed and paced again every second (the drain benchmark:
    serve's CPU in proportion to the backlog, 44% for 1,500 actions waiting)."""
    fake = FakeSlack().start()
    try:
        keys = [f"zendesk:4861{n}" for n in range(4)]
        client = build_web_client("xoxb-test", fake.url)
        slack, alerts = paced_lead_alerts(sqlite_engine, rules, client, keys)
        waits = []
        for alert in alerts:
            try:
                slack.perform(alert)
            except Paced as paced:
                waits.append(paced.retry_after)
        posts = [c for c in fake.calls if c.method == "chat.postMessage"]
        assert [c.status for c in posts] == [200]
        # Held back within a few milliseconds of each other: the next three turns, one each.
        assert [round(w) for w in waits] == [1, 2, 3]

        # The first one back at its turn finds the slot taken until 0.5 s later: it has that
        # slot, ahead of the two given later turns, not a turn after theirs.
        time.sleep(waits[0])
        with sqlite_engine.begin() as connection:
            hold_channel(connection, rules.team.lead_channel, datetime.now(UTC) + HALF_SECOND)
        again = None
        try:
            slack.perform(alerts[1])
        except Paced as paced:
            again = paced.retry_after
        assert again is not None and 0.3 <= again <= 0.5
    finally:
        fake.stop()
