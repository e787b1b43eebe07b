# ruff: noqa: F811 (the fake Slack fixture is imported from test_slack_flow)
"""Slack's limits: ticket text is cut to Block Kit's limits with an ellipsis and the ticket
link kept; a message Slack still refuses (invalid_blocks) is sent once more as plain text
before it is dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deskbridge.app import create_runtime
from deskbridge.bot.blocks import TicketView, build_alert, build_list, build_thread_reply, clip
from deskbridge.config.settings import Settings
from deskbridge.store.outbox import insert_actions, list_actions
from deskbridge.store.tickets import lock_ticket, save_ticket
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.model import Source, Status, TicketState
from tests.bot.test_slack_flow import fake  # noqa: F401 (fixture)
from tests.conftest import TEST_SECRET

URL = "https://acme.zendesk.com/agent/tickets/48700"
LINK = f"<{URL}|#48700>"
# 10,000 characters, with characters that mrkdwn escaping lengthens.
LONG_SUBJECT = "Parcel & <box> " * 666 + "END"
LONG_REASON = "customer wrote: " + "refund & <now> " * 700


def _texts(message: dict) -> list[tuple[str, str]]:
    """Every (kind, text) in a message that Slack limits."""
    out = [("message", message["text"])]
    for block in message["blocks"]:
        if "text" in block and isinstance(block["text"], dict):
            out.append((block["type"], block["text"]["text"]))
        out += [("field", f["text"]) for f in block.get("fields", [])]
        out += [
            ("context", e["text"])
            for e in block.get("elements", [])
            if "text" in e and isinstance(e["text"], str)
        ]
    return out


def test_clip_cuts_with_an_ellipsis_and_never_inside_an_escape():
    assert clip("short", 10) == "short"
    assert clip("abcdefghijkl", 10) == "abcdefghi…"
    assert clip("abcdef&amp;gh", 9) == "abcdef…"  # not "abcdef&a…"
    assert clip("ab&amp;cdefgh", 9) == "ab&amp;c…"


def test_an_alert_about_a_huge_ticket_fits_slack_and_keeps_the_link():
    view = TicketView(
        key="zendesk:48700",
        number="48700",
        url=URL,
        subject=LONG_SUBJECT,
        customer="requester " + "9" * 3000,
        priority="urgent",
        sla=("first reply due in 5 min",),
        acknowledged_by="A" * 4000,
    )
    action = {"action": "escalate", "reason": LONG_REASON, "ticket": "zendesk:48700"}

    message = build_alert(action, view)

    texts = _texts(message)
    limits = {"message": 3000, "section": 3000, "field": 2000, "context": 3000}
    assert [(kind, len(t)) for kind, t in texts if len(t) > limits[kind]] == []
    first, why = message["blocks"][0]["text"]["text"], message["blocks"][1]["text"]["text"]
    assert first.startswith(
        f":rotating_light: Escalated to the specialist tier\n*{LINK}* Parcel &amp; &lt;box&gt; "
    )
    assert (len(first), first[-1]) == (3000, "…")
    assert why.startswith("*Why:* customer wrote: refund &amp; &lt;now&gt; ")
    assert (len(why), why[-1]) == (3000, "…")
    assert message["text"].startswith(f"Escalated to the specialist tier: {LINK} Parcel &amp; ")
    # Cut before "&amp;", not inside it: 4 characters short of the limit.
    assert (len(message["text"]), message["text"][-12:]) == (2996, "gt; Parcel …")
    assert "<box>" not in str(message)  # escaped, even where cut


def test_a_thread_reply_and_a_command_answer_fit_slack():
    view = TicketView(key="zendesk:48700", number="48700", url=URL, subject="x")
    reply = build_thread_reply({"action": "sla_breach", "reason": LONG_REASON}, view)
    answer = build_list("Ticket 48700", ["• " + "line " * 100] * 40, "")

    for message in (reply, answer):
        text = message["blocks"][0]["text"]["text"]
        assert (len(text), text[-1]) == (3000, "…")
        assert message["text"] == text


# --- through the notifier and a fake Slack that enforces the limits ------------------------


@pytest.fixture
def runtime(fake, sqlite_engine, rules, monkeypatch):
    for name in ("ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        ZENDESK_WEBHOOK_SECRET=TEST_SECRET,
        ZENDESK_SUBDOMAIN="acme",
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_TEAM_ID="T0001ABCD",
        SLACK_API_URL=fake.url,
        DESKBRIDGE_SLACK_MIN_INTERVAL="0",
    )
    return create_runtime(settings, rules, engine=sqlite_engine)


def _queue_alert(engine, subject: str = LONG_SUBJECT) -> None:
    key = "zendesk:48700"
    now = datetime.now(UTC)
    state = TicketState(
        key=key, source=Source.zendesk, ticket_id="48700", subject=subject, status=Status.open
    )
    action = build_action(
        key, "test", ActionKind.notify, "1", reason="needs a lead", target="lead", channel="#leads"
    )
    with engine.begin() as connection:
        lock_ticket(connection, key, now)
        save_ticket(connection, state, now)
        insert_actions(connection, [action], now)


def _outcome(runtime) -> tuple:
    with runtime.engine.connect() as connection:
        (row,) = list_actions(connection)
    return row["status"], row["attempts"], row["last_error"]


def test_a_huge_subject_is_delivered_with_its_blocks(runtime, fake):
    _queue_alert(runtime.engine)

    runtime.dispatcher.dispatch_due()

    assert [(c.method, c.status, "blocks" in c.args) for c in fake.calls] == [
        ("chat.postMessage", 200, True)
    ]
    assert fake.ok_calls("chat.postMessage")[0].ts is not None
    assert _outcome(runtime) == ("done", 1, None)


def test_refused_blocks_are_sent_again_as_plain_text_with_the_link(runtime, fake):
    fake.blocks_refused.add("#leads")
    _queue_alert(runtime.engine)

    runtime.dispatcher.dispatch_due()

    assert [(c.method, "blocks" in c.args) for c in fake.calls] == [
        ("chat.postMessage", True),
        ("chat.postMessage", False),
    ]
    posted = fake.calls[1]
    assert posted.ts is not None
    assert posted.args["text"].startswith(f"Team lead needed: {LINK} Parcel &amp; &lt;box&gt; ")
    assert (len(posted.args["text"]), posted.args["text"][-1]) == (3000, "…")
    assert _outcome(runtime) == ("done", 1, None)


def test_a_message_refused_even_as_plain_text_is_dead_lettered_after_one_retry(runtime, fake):
    fake.channel_errors["#leads"] = "invalid_blocks"
    _queue_alert(runtime.engine, subject="Short")

    runtime.dispatcher.dispatch_due()
    runtime.dispatcher.dispatch_due()

    assert [(c.method, "blocks" in c.args) for c in fake.calls] == [
        ("chat.postMessage", True),
        ("chat.postMessage", False),
    ]
    assert _outcome(runtime) == (
        "dead",
        1,
        "Slack refused chat_postMessage to #leads: invalid_blocks",
    )
