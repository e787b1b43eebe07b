"""Dead letters of Slack messages, refused by real Slack answers (the fake Slack), as an operator
meets them: `deskbridge outbox --dead` says where each was refused, and `deskbridge outbox retry
--all-dead` leaves dead only a message that a later message to the same channel has passed.

The retry's check compared a dead letter with every later message about its ticket, in any
channel: a department's route refused `not_in_channel` stayed dead once the ticket's escalation
had gone to the specialists, so retrying took --out-of-order, which sends the truly late ones
too. And the listing showed an escalation refused in the leads' channel as going to the
specialists' (its `channel` setting), a message to the assignee that went to the leads' channel
(no one to DM) as going to the assignee."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from deskbridge.app import create_runtime
from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.store.db import migrate_store
from deskbridge.store.outbox import insert_actions, list_actions
from deskbridge.store.tickets import lock_ticket, save_ticket
from deskbridge.workflows.actions import Action, ActionKind, build_action
from deskbridge.workflows.model import Source, Status, TicketState
from tests.bot.test_slack_flow import slack_settings
from tests.fakeslack import FakeSlack

LEADS, SPECIALISTS, QUALITY = "#resolution-leads", "#resolution-specialists", "#dept-quality"


@pytest.fixture
def fake():
    server = FakeSlack().start()
    yield server
    server.stop()


def _save_tickets(engine, *numbers: int) -> None:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for number in numbers:
            key = f"zendesk:{number}"
            lock_ticket(connection, key, now)
            state = TicketState(
                key=key, source=Source.zendesk, ticket_id=str(number), status=Status.open
            )
            save_ticket(connection, state, now)


def _start(fake: FakeSlack, store_url: str, monkeypatch, *tickets: int):
    """A runtime on the fake Slack and a migrated store holding `tickets`."""
    runtime = create_runtime(slack_settings(fake, monkeypatch, DATABASE_URL=store_url))
    migrate_store(runtime.engine)
    _save_tickets(runtime.engine, *tickets)
    return runtime


def _queue(engine, *actions: Action) -> None:
    with engine.begin() as connection:
        insert_actions(connection, list(actions), datetime.now(UTC))


def _notify(number: int, discriminator: str, **params) -> Action:
    return build_action(
        f"zendesk:{number}", "test", ActionKind.notify, discriminator, reason="r", **params
    )


def _dispatch(runtime) -> None:
    """Perform what is due until nothing is: a lane's next row waits for the one before it."""
    while runtime.dispatcher.dispatch_due():
        pass


def _statuses(engine) -> list[tuple[int, str, str]]:
    with engine.connect() as connection:
        return [(r["id"], r["action"], r["status"]) for r in list_actions(connection)]


def test_retry_leaves_dead_only_what_a_later_message_to_its_channel_passed(
    fake: FakeSlack, store_url, monkeypatch
):
    runtime = _start(fake, store_url, monkeypatch, 48501, 48502)
    engine = runtime.engine
    # The bot is in neither the quality department's channel nor the leads'.
    fake.channel_errors.update({QUALITY: "not_in_channel", LEADS: "not_in_channel"})
    route = build_action(
        "zendesk:48501", "routing", ActionKind.route, "quality", reason="r", channel=QUALITY
    )
    escalate = build_action(
        "zendesk:48501",
        "risk",
        ActionKind.escalate,
        "vip",
        reason="r",
        target="specialists",
        channel=SPECIALISTS,
        lead_channel=LEADS,
    )
    # Nobody on the roster is 48502's assignee: the message goes to the leads' channel.
    ask = _notify(48502, "ask", target="assignee")
    tag = build_action("zendesk:48501", "routing", ActionKind.tag, reason="r", tags=["x"])
    _queue(engine, route, escalate, ask, tag)
    _dispatch(runtime)

    # Invited to the leads' channel, the bot posts a later alert about 48501 there, and an
    # acknowledgement edits 48501's messages (no message of its own).
    fake.channel_errors.pop(LEADS)
    _queue(
        engine,
        _notify(48501, "later", target="lead", channel=LEADS),
        _notify(48501, "ack", target="thread"),
    )
    _dispatch(runtime)
    fake.channel_errors.pop(QUALITY)  # and now invited to the quality channel too
    assert _statuses(engine) == [
        (1, "route", "dead"),
        (2, "escalate", "dead"),  # reached the specialists, refused in the leads' channel
        (3, "notify", "dead"),
        (4, "tag", "done"),
        (5, "notify", "done"),
        (6, "notify", "done"),
    ]

    env = {"DATABASE_URL": store_url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}
    listing = CliRunner().invoke(main, ["outbox", "--dead"], env=env)
    retried = CliRunner().invoke(main, ["outbox", "retry", "--all-dead"], env=env)

    refused = "Slack refused chat_postMessage to {}: not_in_channel"
    # The time's column is as wide as its times (microseconds or none).
    lines = [
        re.sub(r"  (\d{4}-\d\d-\d\dT\S+|dead_at +)  ", "  <died>  ", x)
        for x in listing.stdout.splitlines()
    ]
    assert (listing.exit_code, lines) == (
        0,
        [
            "      id  ticket                    kind            to                        "
            "attempts  <died>  last_error",
            f"       1  zendesk:48501             route           {QUALITY:<24}         1  <died>  "
            + refused.format(QUALITY),
            f"       2  zendesk:48501             escalate        {LEADS:<24}         1  <died>  "
            + refused.format(LEADS),
            f"       3  zendesk:48502             notify          {LEADS:<24}         1  <died>  "
            + refused.format(LEADS),
        ],
    )
    assert (retried.exit_code, retried.stdout, retried.stderr) == (
        0,
        "2 actions put back in the queue; the dispatcher (serve or worker) performs them now\n",
        "1 dead-lettered action left dead, a later Slack message having been posted since to "
        "a channel it has still to reach (or a later pager event of its incident performed): "
        "sent now, it would arrive after it (id 2; --out-of-order sends it anyway)\n",
    )

    # Sent once each: the route is the first message about 48501 in the quality channel, the
    # question 48502's first in the leads' channel (new threads, after 48501's messages).
    before = _posts(fake)
    _dispatch(runtime)
    engine.dispose()
    assert [s for _, _, s in _statuses(engine)] == ["done", "dead", "done", "done", "done", "done"]
    assert before == [
        (SPECIALISTS, None),  # the escalation's first attempt
        (LEADS, None),  # 48501's later alert
        (fake.channel_id(SPECIALISTS), "thread"),  # the acknowledgement, in each thread
        (fake.channel_id(LEADS), "thread"),
    ]
    assert sorted(_posts(fake)[len(before) :]) == [(QUALITY, None), (LEADS, None)]


def _posts(fake: FakeSlack) -> list[tuple[str, str | None]]:
    """The messages Slack took: (channel, "thread" for a reply in a thread, else None)."""
    return [
        (call.args["channel"], "thread" if call.args.get("thread_ts") else None)
        for call in fake.ok_calls("chat.postMessage")
        if call.ts is not None
    ]


ONCALL = "#resolution-oncall"


def _page(number: int, step: int) -> Action:
    return build_action(
        f"zendesk:{number}",
        "oncall",
        ActionKind.page_oncall,
        str(step),
        reason="r",
        step=step,
        people=[],
        channels=[ONCALL],
    )


def test_retry_checks_a_dead_page_against_the_later_pages_of_its_ticket(
    fake: FakeSlack, store_url, monkeypatch
):
    # A ticket's pages have a lane of their own (page:<ticket>): a dead page is left dead once
    # the chain's later page has been posted where it had still to go (sent now, the first
    # page would come after its next step), and is not held back by a later message of the
    # ticket's other lane (people:<ticket>), which it is never ordered with.
    runtime = _start(fake, store_url, monkeypatch, 48601, 48602)
    engine = runtime.engine
    fake.channel_errors[ONCALL] = "not_in_channel"
    _queue(engine, _page(48601, 0), _page(48602, 0))
    _dispatch(runtime)
    fake.channel_errors.pop(ONCALL)
    # Invited: 48601's next step is paged there; 48602's alert (not a page) is posted there.
    _queue(engine, _page(48601, 1), _notify(48602, "later", target="lead", channel=ONCALL))
    _dispatch(runtime)
    assert _statuses(engine) == [
        (1, "page_oncall", "dead"),
        (2, "page_oncall", "dead"),
        (3, "page_oncall", "done"),
        (4, "notify", "done"),
    ]
    with engine.connect() as connection:
        assert [r["lane"] for r in list_actions(connection)] == [
            "page:zendesk:48601",
            "page:zendesk:48602",
            "page:zendesk:48601",
            "people:zendesk:48602",
        ]

    env = {"DATABASE_URL": store_url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}
    retried = CliRunner().invoke(main, ["outbox", "retry", "--all-dead"], env=env)

    assert (retried.exit_code, retried.stdout, retried.stderr) == (
        0,
        "1 action put back in the queue; the dispatcher (serve or worker) performs it now\n",
        "1 dead-lettered action left dead, a later Slack message having been posted since to "
        "a channel it has still to reach (or a later pager event of its incident performed): "
        "sent now, it would arrive after it (id 1; --out-of-order sends it anyway)\n",
    )
    before = _posts(fake)
    _dispatch(runtime)
    engine.dispose()
    assert [s for _, _, s in _statuses(engine)] == ["dead", "done", "done", "done"]
    # 48602's page in the thread its alert began; 48601's first page never after its second.
    assert before == [(ONCALL, None), (ONCALL, None)]
    assert _posts(fake)[len(before) :] == [(fake.channel_id(ONCALL), "thread")]
