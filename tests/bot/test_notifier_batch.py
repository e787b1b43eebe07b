"""The Slack performer reads a dispatcher's batch of tickets at once (`prepare`) and uses each
read once, while it is fresh; what it performs is the same as reading one ticket per action."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deskbridge.bot import notifier
from deskbridge.bot.notifier import SlackNotifier
from deskbridge.store.tickets import lock_ticket, save_ticket
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.model import Source, Status, TicketState
from deskbridge.workflows.ports import PermanentError

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
