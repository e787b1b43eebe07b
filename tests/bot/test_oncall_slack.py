"""On-call pages end to end against the fake Slack: the DM and the on-call channel post with
Acknowledge / Open ticket, the paged person acknowledging by button or `/deskbridge ack`, the
chain's later steps stopped, and `/deskbridge oncall` with overrides made by leads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import responses

from deskbridge.app import create_app, create_runtime
from deskbridge.bot.blocks import ACK, CALL_LOGGED, SNOOZE_30
from deskbridge.config.settings import Settings
from deskbridge.store.audit import list_decisions
from deskbridge.store.events import count_events
from deskbridge.store.oncall import list_overrides
from deskbridge.store.outbox import count_actions, list_actions
from deskbridge.store.tickets import load_ticket, save_ticket
from deskbridge.store.timers import list_timers
from deskbridge.workflows.model import evolve
from tests.bot.test_slack_flow import SIGNING_SECRET, TEAM, click, slack_headers, slack_settings
from tests.conftest import TEST_SECRET, decide_all, signed_headers
from tests.fakeslack import FakeSlack, wait_until

PRIYA, LENA, TOM, SAM = "U02PRIYA01", "U02LENAF01", "U02TOMOK01", "U02SAMWL01"
LENA_ZENDESK = "9013300112027"
SATURDAY_2310 = datetime(2026, 1, 10, 23, 10, tzinfo=UTC)  # Priya on call, Lena next


class Clock:
    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def fake():
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def clock():
    return Clock(SATURDAY_2310)


@pytest.fixture
def runtime(fake, sqlite_engine, rules, monkeypatch, clock):
    settings = slack_settings(fake, monkeypatch, ZENDESK_SUBDOMAIN="acme")
    return create_runtime(settings, rules, engine=sqlite_engine, clock=clock)


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def zendesk_event(
    kind: str, event_id: str, at: datetime, ticket: str, detail: dict, event: dict | None = None
) -> bytes:
    """An event subscription delivery of `kind` (ticket.created, ticket.comment_added)."""
    return json.dumps(
        {
            "type": f"zen:event-type:{kind}",
            "id": event_id,
            "time": at.isoformat().replace("+00:00", "Z"),
            "subject": f"zen:ticket:{ticket}",
            "detail": {"id": ticket, **detail},
            "event": event or {},
        }
    ).encode()


def urgent_ticket(at: datetime, ticket: str = "48400", n: int = 1, **detail) -> bytes:
    detail = {
        "status": "NEW",
        "priority": "URGENT",
        "assignee_id": LENA_ZENDESK,
        "requester_id": "77",
        "tags": [],
        "subject": "Sofa delivery failed",
        "description": "The courier did not come.",
        "created_at": at.isoformat().replace("+00:00", "Z"),
        **detail,
    }
    return zendesk_event("ticket.created", f"evt-{ticket}-{n}", at, ticket, detail)


def post(client, body: bytes, at: datetime) -> None:
    """Deliver a webhook and let the decider decide it (serve's decider thread does)."""
    response = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, at))
    assert response.status_code == 200, response.json
    decide_all(client.application.extensions["deskbridge"])


def command(client, user: str, text: str, trigger: str = "1.2.3"):
    body = urlencode(
        {
            "command": "/deskbridge",
            "text": text,
            "user_id": user,
            "channel_id": "C07ONCALL1",
            "team_id": "T0001ABCD",
            "trigger_id": trigger,
            "response_url": "https://hooks.slack.com/commands/T0001ABCD/1/x",
        }
    ).encode()
    response = client.post("/slack/events", data=body, headers=slack_headers(body))
    assert response.status_code == 200
    return response.json


def page_posts(fake) -> list[tuple]:
    return [
        (p.args["channel"], p.args.get("thread_ts") is not None, p.args["text"])
        for p in fake.ok_calls("chat.postMessage")
    ]


def buttons(blocks: list[dict]) -> list[tuple]:
    return [
        (e["action_id"], e["text"]["text"], e.get("url"))
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def dispatch(runtime) -> None:
    """Send everything queued (one message per ticket lane per round, in order)."""
    while runtime.dispatcher.dispatch_due():
        pass


def fire(runtime, clock, at: datetime) -> None:
    clock.at = at
    runtime.service.fire_due_timers(at)
    dispatch(runtime)


def test_page_dms_the_person_and_posts_in_the_oncall_channel(runtime, client, fake, clock):
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    dispatch(runtime)
    pages = [p for p in fake.ok_calls("chat.postMessage") if "On-call page" in p.args["text"]]
    assert [p.args["channel"] for p in pages] == [PRIYA, "#resolution-oncall"]
    for page in pages:
        assert page.args["text"] == (
            "On-call page: <https://acme.zendesk.com/agent/tickets/48400|#48400> "
            "Sofa delivery failed"
        )
        assert page.args["blocks"][1]["text"]["text"] == (
            f"*Why:* urgent ticket created after hours\n*Paged:* <@{PRIYA}>"
        )
        assert buttons(page.args["blocks"]) == [
            ("deskbridge.ack", "Acknowledge", None),
            ("deskbridge.open", "Open ticket", "https://acme.zendesk.com/agent/tickets/48400"),
        ]
    # The pager is off without PAGERDUTY_ROUTING_KEY: recorded, not sent.
    with runtime.engine.connect() as connection:
        pager = [r for r in list_actions(connection) if r["action"] == "pager"]
    assert [(r["status"], r["result"]) for r in pager] == [
        ("done", {"dry_run": True, "channel": "pager"})
    ]

    # Nobody acknowledges: +10 pages Priya again, +20 Lena, +30 the leads, in the threads.
    for minutes in (10, 20, 30):
        fire(runtime, clock, SATURDAY_2310 + timedelta(minutes=minutes))
    later = [
        (p.args["channel"], p.args.get("thread_ts") is not None, p.args["blocks"][-1])
        for p in fake.ok_calls("chat.postMessage")[3:]
    ]
    why = (
        "*Why:* not acknowledged {} min after the first page (urgent ticket created after hours): "
    )

    def reply(minutes: int, whom: str, person: str) -> dict:
        # The channel's thread names whom each step paged, not only "the next on the rotation".
        text = f":pager: On-call page\n{why.format(minutes)}paging {whom}\n*Paged:* <@{person}>"
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    ack_buttons = {
        "type": "actions",
        # The page's buttons name its chain: a click on a stale copy is told the chain is over.
        "block_id": "deskbridge.page:2026-01-10T23:10:00+00:00",
        "elements": pages[0].args["blocks"][-1]["elements"],
    }
    # A re-page replies in the DM and channel threads (by the conversation ids Slack gave);
    # a new person gets a new alert (with the buttons); the leads' channel too.
    oncall = fake.channel_id("#resolution-oncall")
    assert later == [
        ("D02PRIYA01", True, reply(10, "the person on call", PRIYA)),
        (oncall, True, reply(10, "the person on call", PRIYA)),
        (LENA, False, ack_buttons),
        (oncall, True, reply(20, "the next on the rotation", LENA)),
        (SAM, False, ack_buttons),
        (oncall, True, reply(30, "the leads", SAM)),
        ("#resolution-leads", False, ack_buttons),
    ]


def paged_steps(runtime) -> list[int]:
    """The on-call steps paged so far, in order."""
    with runtime.engine.connect() as connection:
        return [
            r["payload"]["params"]["step"]
            for r in list_actions(connection)
            if r["action"] == "page_oncall"
        ]


def test_the_paged_person_acknowledges_and_later_steps_stop(runtime, client, fake, clock):
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    dispatch(runtime)
    root = next(
        p for p in fake.ok_calls("chat.postMessage") if p.args["channel"] == "#resolution-oncall"
    )
    # Tom was not paged and is neither the assignee (Lena) nor a lead.
    click(client, "deskbridge.ack", TOM, "zendesk:48400", root.ts, "#resolution-oncall")
    with runtime.engine.connect() as connection:
        assert load_ticket(connection, "zendesk:48400").oncall.acknowledged_by is None

    clock.at = SATURDAY_2310 + timedelta(minutes=12)
    response = click(
        client, "deskbridge.ack", PRIYA, "zendesk:48400", root.ts, "#resolution-oncall"
    )
    assert response.status_code == 200
    dispatch(runtime)
    with runtime.engine.connect() as connection:
        chain = load_ticket(connection, "zendesk:48400").oncall
        timers = {t["id"]: t["status"] for t in list_timers(connection)}
    # No sweep ran since 23:10: the step due at 23:20 pages first (as a sweep on time, and
    # replay, would have), then the acknowledgement of 23:22 stops the chain. The step set
    # for 23:30, cancelled in that same batch, was never stored.
    assert (chain.acknowledged_by, chain.next_step) == ("Priya Raman", 2)
    assert timers["zendesk:48400:oncall.step"] == "fired"
    assert paged_steps(runtime) == [0, 1]
    update = fake.ok_calls("chat.update")[-1]
    assert update.args["blocks"][-1]["elements"][0]["text"] == (
        ":white_check_mark: Acknowledged by Priya Raman"
    )
    assert buttons(update.args["blocks"]) == [
        ("deskbridge.open", "Open ticket", "https://acme.zendesk.com/agent/tickets/48400")
    ]
    sent = len(fake.ok_calls("chat.postMessage"))
    for minutes in (20, 30, 40):
        fire(runtime, clock, SATURDAY_2310 + timedelta(minutes=minutes))
    assert len(fake.ok_calls("chat.postMessage")) == sent


def page_block(message) -> str:
    """The block_id of a posted page's buttons."""
    return next(b["block_id"] for b in message.args["blocks"] if b["type"] == "actions")


def click_ack(client, user: str, page, block_id: str):
    """`user` clicks an Acknowledge of ticket 48400 on the on-call channel's `page`, in the
    block `block_id`."""
    return click(
        client, ACK, user, "zendesk:48400", page.ts, "#resolution-oncall", block_id=block_id
    )


def told_in_oncall_channel(fake) -> list[tuple[str, str]]:
    """The ephemeral notes in the on-call channel (whom, what), once one was posted (after
    the click's answer)."""
    wait_until(lambda: fake.ok_calls("chat.postEphemeral"))
    notes = fake.ok_calls("chat.postEphemeral")
    assert {e.args["channel"] for e in notes} == {"#resolution-oncall"}
    return [(e.args["user"], e.args["text"]) for e in notes]


def test_a_click_on_an_acknowledged_pages_stale_copy_says_who_took_it(runtime, client, fake, clock):
    """Lena's copy of the page still showed Acknowledge after Priya's click: hers changed
    nothing and said nothing."""
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    dispatch(runtime)
    root = next(
        p for p in fake.ok_calls("chat.postMessage") if p.args["channel"] == "#resolution-oncall"
    )
    block = page_block(root)
    assert block == "deskbridge.page:2026-01-10T23:10:00+00:00"
    clock.at = SATURDAY_2310 + timedelta(minutes=2)
    click_ack(client, PRIYA, root, block)
    dispatch(runtime)
    with runtime.engine.connect() as connection:
        before = (count_events(connection), count_actions(connection))
    clock.at = SATURDAY_2310 + timedelta(minutes=4)
    response = click_ack(client, LENA, root, block)
    assert (response.status_code, response.data) == (200, b"")
    already = "Already acknowledged by Priya Raman at Sat 10 Jan 2026 23:12 GMT: the on-call "
    assert told_in_oncall_channel(fake) == [
        (LENA, already + "chain is stopped, no more pages for it.")
    ]
    with runtime.engine.connect() as connection:
        assert (count_events(connection), count_actions(connection)) == before


def page_then_withdraw(runtime, client, fake, at: datetime):
    """Ticket 48400 paged at 23:10, its chain withdrawn `at` (as a late reply that met the
    target withdraws it: workflows/rules/oncall.py, tested there); returns the page posted in
    the on-call channel."""
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    dispatch(runtime)
    with runtime.engine.begin() as connection:
        state = load_ticket(connection, "zendesk:48400")
        chain = evolve(state.oncall, {"withdrawn_at": at})
        save_ticket(connection, evolve(state, {"oncall": chain}), at)
    return next(
        p for p in fake.ok_calls("chat.postMessage") if p.args["channel"] == "#resolution-oncall"
    )


def test_a_click_on_a_withdrawn_page_is_told_so_and_acknowledges_nothing(
    runtime, client, fake, clock
):
    """A page withdrawn (the reply that met the target came late) whose copy still showed
    Acknowledge: the click recorded an acknowledgement of a false alarm, a note on the ticket
    and "Acknowledged by Lena" in its threads."""
    root = page_then_withdraw(runtime, client, fake, SATURDAY_2310 + timedelta(minutes=3))
    with runtime.engine.connect() as connection:
        before = (count_events(connection), count_actions(connection))
    clock.at = SATURDAY_2310 + timedelta(minutes=5)
    click_ack(client, LENA, root, page_block(root))
    withdrawn = "Nothing to acknowledge: the page was withdrawn at Sat 10 Jan 2026 23:13 GMT, "
    said = withdrawn + "the customer having been answered before it; no more pages for it."
    assert told_in_oncall_channel(fake) == [(LENA, said)]
    with runtime.engine.connect() as connection:
        assert (count_events(connection), count_actions(connection)) == before
        assert load_ticket(connection, "zendesk:48400").acknowledged_by is None


def test_a_click_on_an_earlier_chains_page_does_not_stop_the_newer_chain(
    runtime, client, fake, clock
):
    """Chain A withdrawn, and the withdrawing event's own escalation started chain B (ee5b410):
    Lena's copy of A's page, not yet refreshed, stopped B, which nobody had seen."""
    root = page_then_withdraw(runtime, client, fake, SATURDAY_2310 + timedelta(minutes=3))
    later = SATURDAY_2310 + timedelta(minutes=30)
    with runtime.engine.begin() as connection:
        state = load_ticket(connection, "zendesk:48400")
        chain_b = evolve(
            state.oncall,
            {"id": later.isoformat(), "started_at": later, "withdrawn_at": None, "number": 2},
        )
        save_ticket(connection, evolve(state, {"oncall": chain_b}), later)
    with runtime.engine.connect() as connection:
        before = (count_events(connection), count_actions(connection))
    clock.at = later + timedelta(minutes=1)
    click_ack(client, LENA, root, page_block(root))
    assert told_in_oncall_channel(fake) == [
        (
            LENA,
            "Nothing acknowledged: this page is from an earlier on-call chain of this ticket, "
            "which has ended. A newer page for it is running: acknowledge that one, or use "
            "`/deskbridge ack`.",
        )
    ]
    decide_all(runtime)
    with runtime.engine.connect() as connection:
        assert (count_events(connection), count_actions(connection)) == before
        chain = load_ticket(connection, "zendesk:48400").oncall
    assert (chain.id, chain.running, chain.acknowledged_by) == (later.isoformat(), True, None)


def test_a_click_on_another_alerts_acknowledge_is_recorded_after_a_chain_ended(
    runtime, client, fake, clock
):
    """Only the page's own buttons are turned away: an alert's Acknowledge (another block)
    is the alert's acknowledgement, whatever became of the ticket's chain."""
    root = page_then_withdraw(runtime, client, fake, SATURDAY_2310)
    clock.at = SATURDAY_2310 + timedelta(minutes=5)
    click_ack(client, LENA, root, "deskbridge.actions")
    decide_all(runtime)
    with runtime.engine.connect() as connection:
        assert load_ticket(connection, "zendesk:48400").acknowledged_by == "Lena Fischer"


def test_deskbridge_ack_command_stops_the_chain(runtime, client, fake, clock):
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    fire(runtime, clock, SATURDAY_2310 + timedelta(minutes=10))
    refused = command(client, TOM, "ack 48400")
    assert refused["text"] == (
        "*Acknowledge*\n"
        "Only the ticket's assignee, a team lead or the person paged can acknowledge it."
    )
    answer = command(client, PRIYA, "ack 48400")
    assert answer["text"] == (
        "*Ticket 48400*\nAcknowledged: the on-call chain is stopped, no more pages for it."
    )
    fire(runtime, clock, SATURDAY_2310 + timedelta(minutes=40))
    assert paged_steps(runtime) == [0, 1]
    assert command(client, PRIYA, "ack 99999")["text"] == (
        "*Ticket 99999*\ndeskbridge has no such ticket."
    )


def test_tuesday_morning_pages_nobody_in_slack(runtime, client, fake, clock):
    tuesday = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    clock.at = tuesday
    post(client, urgent_ticket(tuesday), tuesday)
    dispatch(runtime)
    assert [p for p in page_posts(fake) if "On-call" in p[2]] == []


def test_oncall_command_and_lead_override(runtime, client, fake, clock):
    shown = command(client, PRIYA, "oncall")["text"]
    assert shown == (
        "*On call*\n"
        "On call at Sat 10 Jan 2026 23:10 GMT: Priya Raman (U02PRIYA01), rotation until "
        "Mon 12 Jan 2026 09:00 GMT\n"
        "Next shifts (Europe/London):\n"
        "  Mon 12 Jan 2026 09:00 GMT → Mon 19 Jan 2026 09:00 GMT  Lena Fischer (U02LENAF01)\n"
        "  Mon 19 Jan 2026 09:00 GMT → Mon 26 Jan 2026 09:00 GMT  Tom Okafor (U02TOMOK01)\n"
        "  Mon 26 Jan 2026 09:00 GMT → Mon 02 Feb 2026 09:00 GMT  Priya Raman (U02PRIYA01)"
    )
    refused = command(
        client, PRIYA, f"oncall override <@{TOM}|tom> 2026-01-10T23:00 2026-01-11T09:00"
    )
    assert refused["text"] == "*On call*\nOnly team leads can set an on-call override."
    assert command(client, SAM, "oncall override tom tonight")["text"] == (
        "*On call*\nUsage: `/deskbridge oncall override @person <from> <to>`, times as "
        "`2026-03-07T18:00` in the team's timezone"
    )
    assert (
        command(client, SAM, f"oncall override <@{TOM}> 2026-01-11T09:00 2026-01-10T23:00")["text"]
        == "*On call*\nThe override must end after it starts."
    )
    saved = command(client, SAM, f"oncall override <@{TOM}|tom> 2026-01-10T23:00 2026-01-11T09:00")
    assert saved["text"] == (
        "*On call*\nOverride saved: Tom Okafor is on call Sat 10 Jan 2026 23:00 GMT → "
        "Sun 11 Jan 2026 09:00 GMT."
    )
    with runtime.engine.connect() as connection:
        (stored,) = list_overrides(connection)
        audit = list_decisions(connection, "oncall")
    assert (stored.person, stored.by) == (TOM, SAM)
    assert [(a["rule"], a["action"], a["reason"]) for a in audit] == [
        (
            "oncall",
            "override",
            f"override by {SAM}: {TOM} on call 2026-01-10T23:00:00+00:00 to "
            "2026-01-11T09:00:00+00:00",
        )
    ]
    shown = command(client, PRIYA, "oncall")["text"].splitlines()
    assert shown[1] == (
        "On call at Sat 10 Jan 2026 23:10 GMT: Tom Okafor (U02TOMOK01), override until "
        "Sun 11 Jan 2026 09:00 GMT"
    )
    assert shown[-2:] == [
        "Overrides made in Slack:",
        "  Tom Okafor: Sat 10 Jan 2026 23:00 GMT → Sun 11 Jan 2026 09:00 GMT (by Sam Whitaker)",
    ]
    # The next page goes to the override person.
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    dispatch(runtime)
    pages = [
        p.args["channel"]
        for p in fake.ok_calls("chat.postMessage")
        if "On-call page" in p.args["text"]
    ]
    assert pages == [TOM, "#resolution-oncall"]


@responses.activate
def test_with_a_routing_key_pages_reach_pagerduty_through_the_outbox(
    fake, sqlite_engine, rules, monkeypatch, clock
):
    url = "https://pagerduty.test/v2/enqueue"
    responses.post(url, status=202, json={"status": "success", "message": "Event processed"})
    for name in ("ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        ZENDESK_WEBHOOK_SECRET=TEST_SECRET,
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_TEAM_ID=TEAM,
        SLACK_API_URL=fake.url,
        DESKBRIDGE_SLACK_MIN_INTERVAL="0",
        PAGERDUTY_ROUTING_KEY="R0UT1NGKEY0000000000000000000001",
        PAGERDUTY_API_URL=url,
    )
    runtime = create_runtime(settings, rules, engine=sqlite_engine, clock=clock)
    assert runtime.dry_run["pager"] is False
    client = create_app(runtime=runtime).test_client()
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    dispatch(runtime)
    fire(runtime, clock, SATURDAY_2310 + timedelta(minutes=10))
    clock.at = SATURDAY_2310 + timedelta(minutes=15)
    command(client, PRIYA, "ack 48400")
    dispatch(runtime)
    solved = json.loads(urgent_ticket(clock.at, n=2, status="SOLVED"))
    solved["type"] = "zen:event-type:ticket.status_changed"
    solved["event"] = {"current": "SOLVED", "previous": "NEW"}
    post(client, json.dumps(solved).encode(), clock.at)
    dispatch(runtime)
    sent = [json.loads(c.request.body) for c in responses.calls]
    assert [(s["event_action"], s["dedup_key"]) for s in sent] == [
        ("trigger", "zendesk:48400"),
        ("trigger", "zendesk:48400"),
        ("acknowledge", "zendesk:48400"),
        ("resolve", "zendesk:48400"),
    ]
    assert [s.get("payload", {}).get("custom_details", {}).get("step") for s in sent] == [
        0,
        1,
        None,
        None,
    ]


def test_the_handoff_post_reaches_the_oncall_channel_with_open_items(runtime, client, fake, clock):
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    runtime.run_jobs()  # the service runs since Saturday (it catches up nothing before)
    dispatch(runtime)
    before = len(fake.ok_calls("chat.postMessage"))
    # Monday 09:00 GMT: Priya hands over to Lena. The sweep runs timers and scheduled jobs.
    fire_timers_and_jobs(runtime, clock, datetime(2026, 1, 12, 9, 0, 20, tzinfo=UTC))
    posts = fake.ok_calls("chat.postMessage")[before:]
    handoff = [p for p in posts if "On-call hand-off" in p.args["text"]]
    assert [p.args["channel"] for p in handoff] == ["#resolution-oncall"]
    assert handoff[0].args.get("thread_ts") is None
    assert handoff[0].args["text"] == (
        f":pager: <@{LENA}> is now on call\n"
        "On-call hand-off, Mon 12 Jan 2026 09:00 GMT\n"
        "Now on call: Lena Fischer until Mon 19 Jan 2026 09:00 GMT; next: Tom Okafor\n"
        "Still open from the last shift (1):\n"
        "#48400 Sofa delivery failed: new, paged Sat 10 Jan 2026 23:10 GMT, not acknowledged"
    )
    # The next sweep (or another process) does not post it again.
    fire_timers_and_jobs(runtime, clock, datetime(2026, 1, 12, 9, 1, tzinfo=UTC))
    again = [p for p in fake.ok_calls("chat.postMessage") if "On-call hand-off" in p.args["text"]]
    assert len(again) == 1


def fire_timers_and_jobs(runtime, clock, at: datetime) -> None:
    clock.at = at
    runtime.sweep_timers()
    runtime.run_jobs()  # scheduled jobs have their own scheduler entry, on the same clock
    dispatch(runtime)


def pager_events(runtime) -> list[str]:
    """The pager's events queued for the ticket, in order (trigger, acknowledge, resolve)."""
    with runtime.engine.connect() as connection:
        return [
            r["payload"]["params"]["event_action"]
            for r in list_actions(connection)
            if r["action"] == "pager"
        ]


def test_deskbridge_ack_of_an_acknowledged_chain_says_who_acknowledged_it_and_when(
    runtime, client, fake, clock
):
    """It answered "Acknowledged." as if it had just stopped something, and stored one more
    acknowledgement that changed nothing."""
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    fire(runtime, clock, SATURDAY_2310 + timedelta(minutes=10))
    clock.at = SATURDAY_2310 + timedelta(minutes=12)
    assert command(client, PRIYA, "ack 48400")["text"] == (
        "*Ticket 48400*\nAcknowledged: the on-call chain is stopped, no more pages for it."
    )
    clock.at = SATURDAY_2310 + timedelta(minutes=15)
    already = (
        "*Ticket 48400*\nAlready acknowledged by Priya Raman at Sat 10 Jan 2026 23:22 GMT: "
        "the on-call chain is stopped, no more pages for it."
    )
    assert command(client, LENA, "ack 48400", trigger="4.5.6")["text"] == already
    assert command(client, PRIYA, "ack #48400", trigger="7.8.9")["text"] == already
    with runtime.engine.connect() as connection:
        chain = load_ticket(connection, "zendesk:48400").oncall
    assert (chain.acknowledged_by, chain.acknowledged_at) == (
        "Priya Raman",
        SATURDAY_2310 + timedelta(minutes=12),
    )
    assert pager_events(runtime) == ["trigger", "trigger", "acknowledge"]


def test_deskbridge_ack_of_a_solved_tickets_chain_says_it_ended(runtime, client, fake, clock):
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    fire(runtime, clock, SATURDAY_2310 + timedelta(minutes=10))
    clock.at = SATURDAY_2310 + timedelta(minutes=14)
    solved = json.loads(urgent_ticket(clock.at, n=2, status="SOLVED"))
    solved["type"] = "zen:event-type:ticket.status_changed"
    solved["event"] = {"current": "SOLVED", "previous": "NEW"}
    post(client, json.dumps(solved).encode(), clock.at)
    clock.at = SATURDAY_2310 + timedelta(minutes=16)
    assert command(client, PRIYA, "ack 48400")["text"] == (
        "*Ticket 48400*\nNothing to acknowledge: the ticket was solved at Sat 10 Jan 2026 "
        "23:24 GMT, which ended its on-call chain; no more pages for it."
    )
    with runtime.engine.connect() as connection:
        assert load_ticket(connection, "zendesk:48400").oncall.acknowledged_by is None
    assert pager_events(runtime) == ["trigger", "trigger", "resolve"]


def test_deskbridge_ack_after_every_step_paged_says_so(runtime, client, fake, clock):
    """Every step has paged and nobody acknowledged: the acknowledgement still tells the
    pager (DESIGN: a chain runs until acknowledged or solved), and the answer says that
    nothing more was going to page."""
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    for minutes in (10, 20, 30, 40):
        fire(runtime, clock, SATURDAY_2310 + timedelta(minutes=minutes))
    assert paged_steps(runtime) == [0, 1, 2, 3]
    clock.at = SATURDAY_2310 + timedelta(minutes=45)
    assert command(client, SAM, "ack 48400")["text"] == (
        "*Ticket 48400*\nAcknowledged: every step of the on-call chain had already paged, "
        "so no more pages were due; the page is marked acknowledged."
    )
    assert pager_events(runtime) == ["trigger", "trigger", "trigger", "trigger", "acknowledge"]


def test_an_override_for_a_mention_slack_did_not_escape_says_how_to_fix_it(
    runtime, client, fake, clock
):
    # With the command's "Escape channels, users, and links" unticked (Slack's default)
    # a mention arrives as the name typed: the usage text alone left the lead guessing.
    answer = command(client, SAM, "oncall override @tom 2026-01-10T23:00 2026-01-11T09:00")
    assert answer["text"] == (
        '*On call*\n@tom came as a name, not a Slack user id: tick "Escape channels, users, '
        "and links\" for /deskbridge in the Slack app's Slash Commands (README, Connecting "
        "Slack), or write the person's member id, like @U02LENAF01"
    )
    by_id = command(client, SAM, f"oncall override @{TOM} 2026-01-10T23:00 2026-01-11T09:00")
    assert by_id["text"] == (
        "*On call*\nOverride saved: Tom Okafor is on call Sat 10 Jan 2026 23:00 GMT → "
        "Sun 11 Jan 2026 09:00 GMT."
    )


def public_reply(
    at: datetime, n: int, author: str, ticket: str = "48400", body: str = "", staff: bool = True
) -> bytes:
    comment = {
        "id": f"7{n}",
        "is_public": True,
        "body": body or f"Reply {n}",
        "author": {"id": author, "is_staff": staff},
    }
    detail = {"status": "OPEN", "assignee_id": author}
    return zendesk_event(
        "ticket.comment_added", f"evt-{ticket}-reply-{n}", at, ticket, detail, {"comment": comment}
    )


def test_the_call_request_in_a_thread_begun_by_a_page_carries_its_script_and_button(
    runtime, client, fake, clock
):
    # Priya is on call and the assignee: the page began her DM thread about the ticket, so
    # the 3-response rule's call request is a reply in it. It came as its reason alone, with
    # neither the call script nor a Call logged button (only a first message had them).
    priya_zendesk = "9013300112004"
    post(client, urgent_ticket(SATURDAY_2310, assignee_id=priya_zendesk), SATURDAY_2310)
    dispatch(runtime)
    for n in (1, 2, 3):
        at = SATURDAY_2310 + timedelta(minutes=n)
        post(client, public_reply(at, n, priya_zendesk), at)
    dispatch(runtime)
    posts = fake.ok_calls("chat.postMessage")
    page = next(p for p in posts if p.args["channel"] == PRIYA)
    (call,) = [p for p in posts if p.args["text"].startswith(":telephone_receiver:")]
    assert (call.args["thread_ts"], call.args["text"]) == (
        page.ts,
        ":telephone_receiver: Call the customer\n"
        "*Why:* 3rd written reply without resolution — call the customer",
    )
    assert len(call.args["blocks"]) == 3  # the reason, the script, the buttons
    assert call.args["blocks"][1]["text"]["text"].startswith(
        "*Call script*\n1. Introduce yourself and say you are calling about order ticket 48400."
    )
    assert buttons(call.args["blocks"]) == [
        ("deskbridge.call_logged", "Call logged", None),
        ("deskbridge.open", "Open ticket", "https://acme.zendesk.com/agent/tickets/48400"),
    ]
    click(client, "deskbridge.call_logged", PRIYA, "zendesk:48400", call.ts, call.args["channel"])
    with runtime.engine.connect() as connection:
        said = [
            (r["action"], r["payload"]["params"])
            for r in list_actions(connection)
            if r["payload"]["rule"] == "interactions"
        ]
    assert said == [
        ("tag", {"tags": ["call_logged"]}),
        ("note", {"body": "deskbridge: Priya Raman called the customer (logged in Slack)."}),
        (
            "notify",
            {
                "target": "thread",
                "refresh": True,
                "text": "Customer call logged by Priya Raman",
                "reply_in": "channels",
            },
        ),
    ]


def test_a_new_chains_page_in_an_acknowledged_thread_brings_its_own_acknowledge(
    runtime, client, fake, clock
):
    # The first chain, acknowledged, left its page without Acknowledge. A new paging event
    # (the customer threatens the ombudsman: escalated) pages Priya again in those threads;
    # the page came with no button, and the paged person could acknowledge only by command.
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    dispatch(runtime)
    command(client, PRIYA, "ack 48400")
    dispatch(runtime)
    at = SATURDAY_2310 + timedelta(minutes=5)
    clock.at = at
    post(
        client,
        public_reply(at, 1, "77", body="I will take this to the ombudsman.", staff=False),
        at,
    )
    dispatch(runtime)
    roots = {
        p.args["channel"]: p.ts
        for p in fake.ok_calls("chat.postMessage")
        if p.args["channel"] in (PRIYA, "#resolution-oncall")
    }
    pages = [
        p
        for p in fake.ok_calls("chat.postMessage")
        if p.args["text"]
        # What the risk rule found, said in the page: the person woken reads why it pages.
        == ":pager: On-call page\n*Why:* escalated to the specialist tier after hours — risk 3 "
        '≥ 3: mentions "ombudsman" (legal, 3)\n'
        f"*Paged:* <@{PRIYA}>"
    ]
    assert [p.args["thread_ts"] for p in pages] == [roots[PRIYA], roots["#resolution-oncall"]]
    for page in pages:
        assert buttons(page.args["blocks"]) == [
            ("deskbridge.ack", "Acknowledge", None),
            ("deskbridge.open", "Open ticket", "https://acme.zendesk.com/agent/tickets/48400"),
        ]
    click(client, "deskbridge.ack", PRIYA, "zendesk:48400", pages[0].ts, pages[0].args["channel"])
    with runtime.engine.connect() as connection:
        chain = load_ticket(connection, "zendesk:48400").oncall
    assert (chain.trigger, chain.acknowledged_by) == ("escalated", "Priya Raman")


def test_a_solve_after_a_nights_pages_is_said_once_in_each_channel_and_shown_in_every_dm(
    runtime, client, fake, clock
):
    """An urgent delivery ticket routed to Logistics and paged through every step (Priya
    twice, Lena, then Sam and the leads), then solved: 'Ticket solved' was replied in all
    six threads, three of them DMs (Sam had it in his DM and in the leads' channel, and
    Priya and Lena in the on-call channel too). It is now said in the three channels'
    threads, and every thread's first message, DMs included, shows the ticket solved."""
    ticket = urgent_ticket(
        SATURDAY_2310, description="The courier did not come. Tracking has not moved."
    )
    post(client, ticket, SATURDAY_2310)
    dispatch(runtime)
    for minutes in (10, 20, 30):
        fire(runtime, clock, SATURDAY_2310 + timedelta(minutes=minutes))
    before = len(fake.ok_calls("chat.postMessage"))
    updates = len(fake.ok_calls("chat.update"))
    clock.at = SATURDAY_2310 + timedelta(minutes=40)
    solved = json.loads(urgent_ticket(clock.at, n=2, status="SOLVED"))
    solved["type"] = "zen:event-type:ticket.status_changed"
    solved["event"] = {"current": "SOLVED", "previous": "NEW"}
    post(client, json.dumps(solved).encode(), clock.at)
    dispatch(runtime)

    replies = fake.ok_calls("chat.postMessage")[before:]
    assert [(p.args["channel"], p.args["text"]) for p in replies] == [
        (fake.channel_id(name), "Ticket solved")
        for name in ("#dept-logistics", "#resolution-oncall", "#resolution-leads")
    ]
    edited = [u.args["channel"] for u in fake.ok_calls("chat.update")[updates:]]
    assert edited == [
        fake.channel_id("#dept-logistics"),
        "D02PRIYA01",
        fake.channel_id("#resolution-oncall"),
        "D02LENAF01",
        "D02SAMWL01",
        fake.channel_id("#resolution-leads"),
    ]
    for update in fake.ok_calls("chat.update")[updates:]:
        assert update.args["blocks"][-1]["elements"][0]["text"].endswith(
            ":checkered_flag: Ticket solved"
        )


def test_lines_for_the_chain_and_its_people_go_to_channels_and_to_paged_people_not_every_dm(
    runtime, client, fake, clock
):
    """An urgent delivery ticket, routed to Logistics, pages Priya (twice) and Lena, the
    assignee, in DMs and the on-call channel; made VIP at 23:22 it is escalated to the
    specialists and the leads. Its 'Also:' line, Sam's snooze, Lena's logged call and Priya's
    acknowledgement were each replied in all six threads, two of them DMs. They are now said
    in the four channels' threads, the 'Also:' line, the chain's, in all but the department's;
    the acknowledgement also in Lena's DM: paged and woken, she learns someone took it (Priya,
    who acknowledged, does not hear it from herself)."""
    post(client, urgent_ticket(SATURDAY_2310), SATURDAY_2310)
    dispatch(runtime)
    for minutes in (10, 20):
        fire(runtime, clock, SATURDAY_2310 + timedelta(minutes=minutes))
    before = len(fake.ok_calls("chat.postMessage"))
    clock.at = SATURDAY_2310 + timedelta(minutes=22)
    vip = json.loads(urgent_ticket(clock.at, n=2, tags=["vip"]))
    vip["type"] = "zen:event-type:ticket.tags_changed"
    vip["event"] = {"current": ["vip"], "previous": []}
    post(client, json.dumps(vip).encode(), clock.at)
    dispatch(runtime)
    first = {p.args["channel"]: p.ts for p in fake.ok_calls("chat.postMessage")[: before + 2]}
    specialists = "#resolution-specialists"
    click(client, SNOOZE_30, SAM, "zendesk:48400", first[specialists], specialists, "1.1")
    dispatch(runtime)
    click(client, CALL_LOGGED, LENA, "zendesk:48400", first[LENA], "D02LENAF01", "1.2")
    dispatch(runtime)
    clock.at = SATURDAY_2310 + timedelta(minutes=25)
    click(client, ACK, PRIYA, "zendesk:48400", first[PRIYA], "D02PRIYA01", "1.3")
    dispatch(runtime)

    replies = [
        (p.args["channel"], p.args["text"])
        for p in fake.ok_calls("chat.postMessage")[before:]
        if p.args.get("thread_ts")
    ]
    channels = [
        fake.channel_id(name)
        for name in ("#dept-logistics", "#resolution-oncall", specialists, "#resolution-leads")
    ]
    also = (
        'Also: escalated to the specialist tier after hours — risk 3 ≥ 3: tagged "vip" '
        "(vip, 3) (already paged)"
    )
    acknowledged = "Acknowledged by Priya Raman"
    assert replies == [
        # Not in the department's thread: the chain's lines are not for it (its alert says
        # the specialist tier owns the ticket), and the line says why, as the escalation does.
        *((c, also) for c in channels[1:]),
        *((c, "Snoozed for 30 min by Sam Whitaker") for c in channels),
        *((c, "Customer call logged by Lena Fischer") for c in channels),
        *((c, acknowledged) for c in channels[:2]),
        ("D02LENAF01", acknowledged),
        *((c, acknowledged) for c in channels[2:]),
    ]
    # Every thread's first message, DMs included, shows the call logged and who took it.
    shown = [u.args["channel"] for u in fake.ok_calls("chat.update")[-6:]]
    assert shown == [channels[0], "D02PRIYA01", channels[1], "D02LENAF01", *channels[2:]]
