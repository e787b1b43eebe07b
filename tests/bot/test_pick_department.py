"""Pick department on the leads' question about an unclassified ticket, picked twice: the
first pick routes the ticket, says who picked what in the question's thread and edits the
question (its menu gone); a later pick on the same message changes nothing and is told who
picked first, as a page's Acknowledge clicked after another's is. A new user's trial: the
second pick answered 200 with actions=0, told the clicker nothing, and the question kept its
menu."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import yaml

from deskbridge.app import create_app, create_runtime
from deskbridge.config.rules import load_rules
from deskbridge.store.events import count_events
from deskbridge.store.outbox import count_actions
from deskbridge.workflows.rotation import format_local
from tests.bot.test_slack_flow import (  # noqa: F401
    SAM,
    TOM,
    click,
    fake,
    post_zendesk,
    slack_settings,
    zendesk_event,
)
from tests.conftest import EXAMPLE_CONFIG, Clock
from tests.fakeslack import wait_until

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday morning, in business hours
PICK = "deskbridge.pick_department"
# What Tom is told of his pick after Sam's (10:05, in the team's zone).
SAM_PICKED_FIRST = (
    "Nothing changed: already sent to Quality/Production by Sam Whitaker at "
    "Wed 04 Mar 2026 10:05 GMT. To send it elsewhere, move it to that group in the helpdesk."
)


def two_leads(tmp_path):
    """The example rules with Tom Okafor a lead too (Sam Whitaker is the example's one)."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    tom = next(a for a in data["agents"] if a["slack_id"] == TOM)
    tom["role"] = "lead"
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_rules(path)


def unassigned(body: bytes) -> bytes:
    event = json.loads(body)
    event["detail"]["assignee_id"] = None
    return json.dumps(event).encode()


def drain(runtime) -> None:
    """Perform every queued action: a ticket's messages one claim at a time, in order."""
    while runtime.dispatcher.dispatch_due():
        pass


def selects(blocks: list[dict]) -> list[str]:
    return [
        e["action_id"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "static_select"
    ]


def told_tom(fake, leads: str) -> list[tuple[str, str, str]]:  # noqa: F811
    """The ephemeral answers posted (after the click's answer), once there is one; the time
    in them is Sam's pick's, in the team's zone (format_local)."""
    wait_until(lambda: fake.ok_calls("chat.postEphemeral"))
    assert format_local(NOW.replace(minute=5), ZoneInfo("Europe/London")) == (
        "Wed 04 Mar 2026 10:05 GMT"
    )
    return [
        (e.args["channel"], e.args["user"], e.args["text"])
        for e in fake.ok_calls("chat.postEphemeral")
    ]


def ask(fake, sqlite_engine, tmp_path, monkeypatch):  # noqa: F811
    """An unclassified ticket at NOW, its leads' question posted: the runtime, its app's
    client, its clock and the question's post."""
    rules = two_leads(tmp_path)
    clock = Clock(NOW)
    runtime = create_runtime(
        slack_settings(fake, monkeypatch), rules, clock=clock, engine=sqlite_engine
    )
    client = create_app(runtime=runtime).test_client()
    post_zendesk(
        client,
        unassigned(
            zendesk_event(
                "created",
                1,
                status="NEW",
                subject="Invoice export returns 502",
                description="The export page shows an error since this morning.",
                now=NOW,
            )
        ),
        now=NOW,
    )
    runtime.dispatcher.dispatch_due()
    (question,) = fake.ok_calls("chat.postMessage")
    return runtime, client, clock, question


def test_a_second_pick_on_the_same_question_is_told_who_picked_first(
    fake,  # noqa: F811
    sqlite_engine,
    tmp_path,
    monkeypatch,
):
    runtime, client, clock, question = ask(fake, sqlite_engine, tmp_path, monkeypatch)
    assert (question.args["channel"], question.args.get("thread_ts")) == (
        "#resolution-leads",
        None,
    )
    assert (
        question.args["text"]
        == "Which department should take this? #48300 Invoice export returns 502"
    )
    assert selects(question.args["blocks"]) == [PICK]
    leads = fake.channel_id("#resolution-leads")

    clock.now = NOW.replace(minute=5)
    first = click(client, PICK, SAM, "zendesk:48300|quality", question.ts, leads)
    assert first.status_code == 200
    drain(runtime)
    posts = fake.ok_calls("chat.postMessage")[1:]
    assert [(p.args["channel"], p.args.get("thread_ts"), p.args["text"]) for p in posts] == [
        (
            "#dept-quality",
            None,
            "New ticket for Quality/Production: #48300 Invoice export returns 502",
        ),
        # In the question's thread only: the department's alert says who picked it already.
        (leads, question.ts, "Sent to Quality/Production by Sam Whitaker"),
    ]
    quality = fake.channel_id("#dept-quality")
    updates = fake.ok_calls("chat.update")
    assert [(u.args["channel"], u.args["ts"]) for u in updates] == [
        (leads, question.ts),
        (quality, posts[0].ts),
    ]
    edited = updates[0].args["blocks"]
    assert selects(edited) == []  # the menu is gone: a pick would change nothing now
    fields = next(b["fields"] for b in edited if "fields" in b)
    assert {"type": "mrkdwn", "text": "*Department*\nQuality/Production"} in fields

    with runtime.engine.connect() as connection:
        before = (count_events(connection), count_actions(connection))
    clock.now = NOW.replace(minute=9)
    second = click(client, PICK, TOM, "zendesk:48300|logistics", question.ts, leads)
    assert (second.status_code, second.data) == (200, b"")
    assert told_tom(fake, leads) == [
        (
            leads,
            TOM,
            SAM_PICKED_FIRST,
        )
    ]
    drain(runtime)
    with runtime.engine.connect() as connection:
        assert (count_events(connection), count_actions(connection)) == before
    assert len(fake.ok_calls("chat.postMessage")) == 3


def test_a_pick_after_a_person_chose_is_told_what_stands_without_guessing_who(sqlite_engine):
    """A pick on a ticket a person routed with no "Sent to" line on record (moved in the
    helpdesk, or picked in Slack and the line purged after retention.outbox_done) is told the
    department that stands; it said "moved by hand in the helpdesk", untrue of a purged pick.
    A group that is no department's, and the department the ticket is with, say so."""
    from types import SimpleNamespace

    from deskbridge.bot.listeners.actions import describe_routed
    from deskbridge.workflows.model import Source, TicketState

    runtime = SimpleNamespace(rules=load_rules(EXAMPLE_CONFIG), engine=sqlite_engine)

    def said(department: str | None, by_hand: bool, picked: str) -> str | None:
        state = TicketState(
            key="zendesk:48300",
            source=Source.zendesk,
            ticket_id="48300",
            department=department,
            routed_by_hand=by_hand,
        )
        return describe_routed(runtime, state, picked)

    assert [
        said("quality", True, "logistics"),
        said(None, True, "logistics"),
        said("quality", False, "quality"),
        said("quality", False, "logistics"),
        said(None, False, "logistics"),
    ] == [
        "Nothing changed: a person already chose Quality/Production for it, here or in the "
        "helpdesk, and that stands. To send it elsewhere, move it to that group in the "
        "helpdesk.",
        "Nothing changed: the ticket was moved by hand in the helpdesk, and its routing there "
        "stands.",
        "Nothing changed: the ticket is with Quality/Production already.",
        None,
        None,
    ]


def test_two_picks_at_once_the_later_decided_is_told_who_picked_first(
    fake,  # noqa: F811
    sqlite_engine,
    tmp_path,
    monkeypatch,
):
    """Two leads picking at once: the second pick was checked before the first was decided
    (two web processes, a decider behind), then decided against the person's choice, and
    answered 200 with actions=0, telling nothing. It is told once its decision changed
    nothing."""
    from deskbridge.bot.listeners import actions as listener

    runtime, client, clock, question = ask(fake, sqlite_engine, tmp_path, monkeypatch)
    leads = fake.channel_id("#resolution-leads")
    with runtime.engine.connect() as connection:
        before_any_pick = listener.load_ticket(connection, "zendesk:48300")
    clock.now = NOW.replace(minute=5)
    click(client, PICK, SAM, "zendesk:48300|quality", question.ts, leads)
    drain(runtime)
    # Tom's check reads the ticket as it was before Sam's pick was decided.
    stale = [before_any_pick]
    real = listener.load_ticket
    monkeypatch.setattr(
        listener, "load_ticket", lambda c, key: stale.pop() if stale else real(c, key)
    )
    clock.now = NOW.replace(minute=6)
    second = click(client, PICK, TOM, "zendesk:48300|logistics", question.ts, leads)

    assert (second.status_code, stale) == (200, [])
    assert told_tom(fake, leads) == [
        (
            leads,
            TOM,
            SAM_PICKED_FIRST,
        )
    ]
    drain(runtime)
    assert [p.args["text"] for p in fake.ok_calls("chat.postMessage")][1:] == [
        "New ticket for Quality/Production: #48300 Invoice export returns 502",
        "Sent to Quality/Production by Sam Whitaker",
    ]


def test_the_question_asked_in_a_thread_begun_before_brings_its_menu(
    fake,  # noqa: F811
    sqlite_engine,
    tmp_path,
    monkeypatch,
):
    """The question posted as a reply in the ticket's thread (the leads' channel had an alert
    about it already) came without its menu: nothing in the thread to pick with, the root's
    buttons being the alert's. A pick on the reply's menu routes the ticket."""
    from deskbridge.store.outbox import insert_actions
    from deskbridge.store.tickets import lock_ticket, save_ticket
    from deskbridge.workflows.actions import ActionKind, build_action
    from deskbridge.workflows.model import Source, Status, TicketState

    rules = two_leads(tmp_path)
    clock = Clock(NOW)
    runtime = create_runtime(
        slack_settings(fake, monkeypatch), rules, clock=clock, engine=sqlite_engine
    )
    client = create_app(runtime=runtime).test_client()
    key = "zendesk:48300"
    state = TicketState(
        key=key,
        source=Source.zendesk,
        ticket_id="48300",
        status=Status.open,
        subject="Invoice export returns 502",
    )
    with runtime.engine.begin() as connection:
        lock_ticket(connection, key, NOW)
        save_ticket(connection, state, NOW)
        insert_actions(
            connection,
            [
                build_action(
                    key,
                    "sla",
                    ActionKind.notify,
                    "lead",
                    reason="first reply overdue",
                    target="lead",
                ),
                build_action(
                    key,
                    "routing",
                    ActionKind.notify,
                    "unclassified",
                    reason="unclassified: nothing names a problem — pick a department",
                    target="assignee",
                    assignee=None,
                    ask="pick_department",
                ),
            ],
            NOW,
        )
    drain(runtime)
    alert, question = fake.ok_calls("chat.postMessage")
    leads = fake.channel_id("#resolution-leads")
    assert (question.args["channel"], question.args["thread_ts"]) == (leads, alert.ts)
    assert question.args["text"] == (
        ":question: Which department should take this?\n*Why:* unclassified: nothing names a "
        "problem — pick a department"
    )
    assert question.args["blocks"][1:] == [
        {
            "type": "actions",
            "block_id": "deskbridge.actions",
            "elements": [
                {
                    "type": "static_select",
                    "action_id": PICK,
                    "placeholder": {"type": "plain_text", "text": "Pick department"},
                    "options": [
                        {"text": {"type": "plain_text", "text": name}, "value": f"{key}|{dept}"}
                        for dept, name in (
                            ("logistics", "Logistics"),
                            ("quality", "Quality/Production"),
                            ("post_sales", "Post-Sales"),
                        )
                    ],
                }
            ],
        }
    ]

    clock.now = NOW.replace(minute=5)
    assert click(client, PICK, SAM, f"{key}|quality", question.ts, leads).status_code == 200
    drain(runtime)
    posts = fake.ok_calls("chat.postMessage")[2:]
    assert [(p.args["channel"], p.args.get("thread_ts"), p.args["text"]) for p in posts] == [
        (
            "#dept-quality",
            None,
            "New ticket for Quality/Production: #48300 Invoice export returns 502",
        ),
        (leads, alert.ts, "Sent to Quality/Production by Sam Whitaker"),
    ]
