"""The Slack bot end to end against a fake Slack Web API on 127.0.0.1: alerts, threads,
edits, buttons, commands, signing, and a 429 storm."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from deskbridge.app import create_app, create_runtime
from deskbridge.config.logging import FieldFormatter
from deskbridge.config.settings import Settings
from deskbridge.store.events import count_events
from deskbridge.store.outbox import count_actions, insert_actions, list_actions
from deskbridge.store.tickets import load_ticket, lock_ticket, save_ticket
from deskbridge.store.timers import list_timers
from deskbridge.workflows.actions import Action, ActionKind, build_action
from deskbridge.workflows.model import Source, Status, TicketState
from tests.conftest import TEST_SECRET, Clock, decide_all, fixture_bytes, signed_headers
from tests.fakeslack import FakeSlack, wait_until
from tests.test_replay_out_of_order import FIRST_REPLY_BREACH, FIRST_REPLY_CORRECTION

SIGNING_SECRET = "0123456789abcdef0123456789abcdef"
TEAM = "T0001ABCD"  # the workspace of the Slack fixtures
PRIYA, TOM, SAM = "U02PRIYA01", "U02TOMOK01", "U02SAMWL01"
PRIYA_ZENDESK = "9013300112004"


@pytest.fixture
def fake():
    server = FakeSlack().start()
    yield server
    server.stop()


def slack_settings(fake: FakeSlack, monkeypatch, **extra: str) -> Settings:
    """Settings that send to the fake Slack, unpaced, with no other helpdesk credentials."""
    for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    return Settings(
        ZENDESK_WEBHOOK_SECRET=TEST_SECRET,
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_TEAM_ID=TEAM,
        SLACK_API_URL=fake.url,
        DESKBRIDGE_SLACK_MIN_INTERVAL="0",
        **extra,
    )


@pytest.fixture
def runtime(fake, sqlite_engine, rules, monkeypatch):
    return create_runtime(slack_settings(fake, monkeypatch), rules, engine=sqlite_engine)


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def zendesk_event(
    kind: str,
    n: int,
    status="OPEN",
    event=None,
    subject="Wrong rug delivered",
    description="I ordered the wool rug in rust and got a grey runner instead.",
    ticket="48300",
    now: datetime | None = None,
) -> bytes:
    at = (now or datetime.now(UTC)) - timedelta(minutes=30) + timedelta(seconds=n)
    return json.dumps(
        {
            "type": f"zen:event-type:ticket.{kind}",
            "id": f"evt-{ticket}-{n}",
            "time": at.isoformat().replace("+00:00", "Z"),
            "subject": f"zen:ticket:{ticket}",
            "detail": {
                "id": ticket,
                "status": status,
                "priority": "NORMAL",
                "assignee_id": PRIYA_ZENDESK,
                "requester_id": "77",
                "tags": [],
                "subject": subject,
                "description": description,
                "created_at": at.isoformat().replace("+00:00", "Z"),
            },
            "event": event or {},
        }
    ).encode()


def post_zendesk(client, body: bytes, now: datetime | None = None):
    """Deliver a webhook signed at `now` (the runtime's clock's) and let the decider decide it
    (as serve's thread does after the acknowledgement)."""
    response = client.post(
        "/webhooks/zendesk", data=body, headers=signed_headers(body, now or datetime.now(UTC))
    )
    assert response.status_code == 200, response.json
    decide_all(client.application.extensions["deskbridge"])
    return response.json


def slack_headers(body: bytes, at: float | None = None, secret: str = SIGNING_SECRET) -> dict:
    stamp = str(int(at if at is not None else time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def interactions_said(runtime) -> list[tuple[str, dict]]:
    """What the rule for people's clicks put in the outbox: (action, params), oldest first."""
    with runtime.engine.connect() as connection:
        return [
            (r["action"], r["payload"]["params"])
            for r in list_actions(connection)
            if r["payload"]["rule"] == "interactions"
        ]


def click(
    client,
    action_id: str,
    user: str,
    ticket: str,
    message_ts: str,
    channel: str,
    action_ts: str = "1741083790.123456",
    block_id: str | None = None,
):
    """A click as Slack sends it; `action_ts` is the click's own time (the same in a
    redelivery of that click); `block_id` the clicked button's block's (the fixture's else)."""
    payload = json.loads(fixture_bytes("block_actions__acknowledge.json"))
    payload["user"]["id"] = user
    payload["container"].update(message_ts=message_ts, channel_id=channel)
    payload["channel"]["id"] = channel
    payload["message"]["ts"] = message_ts
    payload["actions"][0].update(action_id=action_id, value=ticket, action_ts=action_ts)
    if block_id is not None:
        payload["actions"][0]["block_id"] = block_id
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return client.post("/slack/events", data=body, headers=slack_headers(body))


def test_route_alert_threads_and_acknowledge_edits_the_first_message(runtime, client, fake):
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    runtime.dispatcher.dispatch_due()
    posts = fake.ok_calls("chat.postMessage")
    assert [(p.args["channel"], p.args.get("thread_ts")) for p in posts] == [
        ("#dept-logistics", None)
    ]
    root_ts = posts[0].ts
    logistics = fake.channel_id("#dept-logistics")  # the id Slack answered with
    assert posts[0].args["text"] == "New ticket for Logistics: #48300 Wrong rug delivered"
    assert posts[0].args["blocks"][1]["text"]["text"] == (
        '*Why:* subject mentions "wrong rug" → wrong item delivered → Logistics'
    )

    response = click(client, "deskbridge.ack", PRIYA, "zendesk:48300", root_ts, logistics)
    assert response.status_code == 200
    runtime.dispatcher.dispatch_due()
    posts = fake.ok_calls("chat.postMessage")
    assert [(p.args["channel"], p.args.get("thread_ts"), p.args["text"]) for p in posts[1:]] == [
        (logistics, root_ts, "Acknowledged by Priya Raman")
    ]
    # Each message carries its action's key, by which a retry finds it in Slack.
    assert [p.args["metadata"] for p in posts] == [
        {"event_type": "deskbridge_action", "event_payload": {"key": key}}
        for key in ("zendesk:48300:routing:logistics:route", "zendesk:48300:interactions:ack")
    ]
    updates = fake.ok_calls("chat.update")
    assert [(u.args["channel"], u.args["ts"]) for u in updates] == [(logistics, root_ts)]
    blocks = updates[0].args["blocks"]
    assert blocks[-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": ":white_check_mark: Acknowledged by Priya Raman"}],
    }
    buttons = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["deskbridge.snooze_30", "deskbridge.snooze_120"]

    # The same click again (Slack retry, double click) changes nothing.
    click(client, "deskbridge.ack", PRIYA, "zendesk:48300", root_ts, "#dept-logistics")
    runtime.dispatcher.dispatch_due()
    assert len(fake.ok_calls("chat.postMessage")) == 2
    assert len(fake.ok_calls("chat.update")) == 1

    # The next event about the ticket replies in the thread and edits the first message.
    post_zendesk(
        client,
        zendesk_event(
            "status_changed", 2, status="SOLVED", event={"current": "SOLVED", "previous": "OPEN"}
        ),
    )
    runtime.dispatcher.dispatch_due()
    last = fake.ok_calls("chat.postMessage")[-1]
    assert (last.args["thread_ts"], last.args["text"]) == (root_ts, "Ticket solved")
    final = fake.ok_calls("chat.update")[-1].args["blocks"]
    assert [b["type"] for b in final] == ["section", "section", "section", "context"]
    assert final[-1]["elements"][0]["text"] == (
        ":white_check_mark: Acknowledged by Priya Raman · :checkered_flag: Ticket solved"
    )


@pytest.mark.parametrize(
    ("action", "user", "value", "told"),
    [
        (
            "deskbridge.call_logged",
            TOM,
            "zendesk:48300",
            # Tom is on the roster: not being on it is not why he is refused.
            "Only the ticket's assignee, a team lead or the person paged can act on this alert. "
            "Ask them.",
        ),
        (
            "deskbridge.call_logged",
            "U0NOTLISTED",
            "zendesk:48300",
            "Only the ticket's assignee, a team lead or the person paged can act on this alert. "
            "Ask them, or add yourself to the roster in deskbridge's config.",
        ),
        (
            "deskbridge.pick_department",
            SAM,
            "zendesk:48300|warehouse",  # an option of a message sent before the config changed
            "That department is no longer in deskbridge's config. "
            "Pick one of: Logistics, Quality/Production, Post-Sales.",
        ),
    ],
    ids=[
        "someone on the roster not allowed",
        "someone not on the roster",
        "a department no longer in the config",
    ],
)
def test_a_click_that_cannot_be_taken_is_told_and_changes_nothing(
    runtime, client, fake, action, user, value, told
):
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    runtime.dispatcher.dispatch_due()
    with runtime.engine.connect() as connection:
        before = (count_events(connection), count_actions(connection))
    response = click(client, action, user, value, "1741083767.000001", "#dept-logistics")
    assert (response.status_code, response.data) == (200, b"")
    wait_until(lambda: fake.ok_calls("chat.postEphemeral"))  # posted after the answer
    ephemeral = fake.ok_calls("chat.postEphemeral")
    assert [(e.args["channel"], e.args["user"], e.args["text"]) for e in ephemeral] == [
        ("#dept-logistics", user, told)
    ]
    with runtime.engine.connect() as connection:
        assert (count_events(connection), count_actions(connection)) == before


def routed_on_a_clock(fake, engine, rules, monkeypatch):
    """A runtime on a settable clock with ticket 48300 routed: (clock, runtime, client, the
    route's post, the logistics channel's id)."""
    clock = Clock(datetime.now(UTC))
    runtime = create_runtime(slack_settings(fake, monkeypatch), rules, clock=clock, engine=engine)
    client = create_app(runtime=runtime).test_client()
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    runtime.dispatcher.dispatch_due()
    root = fake.ok_calls("chat.postMessage")[0]
    return clock, runtime, client, root, fake.channel_id("#dept-logistics")


def test_an_alert_snoozed_again_after_its_snooze_ran_out_is_snoozed_again(
    fake, sqlite_engine, rules, monkeypatch
):
    """The click's key had no click time: Snooze pressed again after the first snooze ran out
    was a duplicate of the first (no timer, no reminder). A redelivery of a click (the same
    action_ts) is still one event."""
    clock, runtime, client, root, channel = routed_on_a_clock(
        fake, sqlite_engine, rules, monkeypatch
    )
    first_at = clock.now

    def snooze(action_ts: str):
        return click(
            client, "deskbridge.snooze_30", PRIYA, "zendesk:48300", root.ts, channel, action_ts
        )

    def snoozes() -> list[tuple[datetime, int, str]]:
        with runtime.engine.connect() as connection:
            return [
                (t["due_at"], t["generation"], t["status"])
                for t in list_timers(connection)
                if t["kind"] == "interactions.snooze"
            ]

    first = snooze("1741083790.123456")
    assert snoozes() == [(first_at + timedelta(minutes=30), 0, "pending")]
    clock.now = first_at + timedelta(minutes=31)
    runtime.service.fire_due_timers(clock.now)
    second = snooze("1741085650.654321")
    again = snooze("1741085650.654321")  # Slack redelivering the second click

    assert [r.status_code for r in (first, second, again)] == [200, 200, 200]
    assert snoozes() == [(first_at + timedelta(minutes=61), 1, "pending")]
    snoozed = (
        "notify",
        {
            "target": "thread",
            "refresh": True,
            "text": "Snoozed for 30 min by Priya Raman",
            "reply_in": "channels",
        },
    )
    over = ("notify", {"target": "person", "channel": PRIYA, "text": "Snooze is over"})
    assert interactions_said(runtime) == [snoozed, over, snoozed]
    with runtime.engine.connect() as connection:
        assert count_events(connection) == 3  # the ticket's creation and two snoozes


def test_the_snooze_reminder_goes_to_whoever_snoozed(fake, sqlite_engine, rules, monkeypatch):
    """Sam, a lead, snoozes Priya's ticket for 30 min: when it is over Sam is reminded, in a
    DM. The reminder went to Priya, the assignee, who had not snoozed anything, and Sam, who
    pressed Snooze to be reminded, heard nothing."""
    clock, runtime, client, root, channel = routed_on_a_clock(
        fake, sqlite_engine, rules, monkeypatch
    )
    click(client, "deskbridge.snooze_30", SAM, "zendesk:48300", root.ts, channel)
    runtime.dispatcher.dispatch_due()
    before = len(fake.ok_calls("chat.postMessage"))

    clock.now += timedelta(minutes=30, seconds=1)
    runtime.service.fire_due_timers(clock.now)
    runtime.dispatcher.dispatch_due()

    [reminder] = fake.ok_calls("chat.postMessage")[before:]
    assert (reminder.args["channel"], reminder.args.get("thread_ts")) == (SAM, None)
    assert reminder.args["text"] == "Needs attention: #48300 Wrong rug delivered"
    assert reminder.args["blocks"][1]["text"]["text"] == (
        "*Why:* snoozed 30 min ago by Sam Whitaker and still open"
    )


def test_a_lead_may_act_on_any_ticket(runtime, client, fake):
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    click(
        client,
        "deskbridge.call_logged",
        SAM,
        "zendesk:48300",
        "1741083767.000001",
        "#dept-logistics",
    )
    assert interactions_said(runtime) == [
        ("tag", {"tags": ["call_logged"]}),
        ("note", {"body": "deskbridge: Sam Whitaker called the customer (logged in Slack)."}),
        (
            "notify",
            {
                "target": "thread",
                "refresh": True,
                "text": "Customer call logged by Sam Whitaker",
                "reply_in": "channels",
            },
        ),
    ]


def test_a_lead_acknowledging_after_a_coaching_nudge_about_the_ticket_is_told_in_every_thread(
    runtime, client, fake
):
    """The assignee's missed-call nudge about the ticket (a DM of its own) was taken for a
    thread the ticket began: the lead's Acknowledge failed on it (KeyError) eight times,
    editing the alerts before it each time, and was dead-lettered; the leads' own alert kept
    its Acknowledge button and heard nothing."""
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    runtime.dispatcher.dispatch_due()
    key = "zendesk:48300"
    nudge = build_action(
        key,
        "coaching",
        ActionKind.coach,
        "missed_call",
        reason="Another written reply went out after a call was suggested",
        person=PRIYA,
        kind="missed_call",
        responses=None,
        target=32,
    )
    lead = build_action(
        key, "three_responses", ActionKind.notify, "lead", reason="4th reply", target="lead"
    )
    for action in (nudge, lead):
        with runtime.engine.begin() as connection:
            insert_actions(connection, [action], datetime.now(UTC))
        runtime.dispatcher.dispatch_due()
    posts = fake.ok_calls("chat.postMessage")
    assert [p.args["channel"] for p in posts] == ["#dept-logistics", PRIYA, "#resolution-leads"]
    roots = {fake.channel_id(p.args["channel"]): p.ts for p in posts if p.args["channel"] != PRIYA}
    leads = fake.channel_id("#resolution-leads")

    click(client, "deskbridge.ack", SAM, key, roots[leads], leads)
    runtime.dispatcher.dispatch_due()

    replies = fake.ok_calls("chat.postMessage")[3:]
    assert [(r.args["channel"], r.args["thread_ts"], r.args["text"]) for r in replies] == [
        (channel, ts, "Acknowledged by Sam Whitaker") for channel, ts in roots.items()
    ]
    updates = fake.ok_calls("chat.update")
    assert [(u.args["channel"], u.args["ts"]) for u in updates] == list(roots.items())
    with runtime.engine.connect() as connection:
        assert count_actions(connection, "dead") == 0


def test_signed_slash_command_from_the_fixtures_is_answered(runtime, client, fake):
    body = fixture_bytes("slash_command__escalate.txt")  # /escalate ZD-48213 … from Priya
    post_zendesk(
        client,
        zendesk_event(
            "created",
            1,
            status="NEW",
            ticket="48213",
            subject="Invoice export returns 502",
            description="",
        ),
    )
    response = client.post("/slack/events", data=body, headers=slack_headers(body))
    assert response.status_code == 200
    assert response.json["text"] == "*Ticket 48213*\nEscalated to the specialist tier."
    with runtime.engine.connect() as connection:
        escalations = [
            r["payload"]["reason"] for r in list_actions(connection) if r["action"] == "escalate"
        ]
    assert escalations == [
        "risk 3 ≥ 3: escalated in Slack by Priya Raman: urgent invoice export down (by hand, 3)"
    ]


def test_forged_and_stale_slack_requests_get_401(client):
    body = fixture_bytes("slash_command__escalate.txt")
    forged = client.post(
        "/slack/events",
        data=body,
        headers=slack_headers(body, secret="not-the-secret-at-all-0000000000"),
    )
    stale = client.post(
        "/slack/events", data=body, headers=slack_headers(body, at=time.time() - 360)
    )
    assert (forged.status_code, stale.status_code) == (401, 401)


def test_url_verification_echoes_the_challenge(client):
    body = fixture_bytes("url_verification.json")
    headers = {**slack_headers(body), "Content-Type": "application/json"}
    response = client.post("/slack/events", data=body, headers=headers)
    assert response.status_code == 200
    assert response.json == {"challenge": "Q8nRvZp2LkX4tYw7uJ1mHcE9sD3fG6bN0aVqWeRtYuIoPlKjHg5F"}


def test_channel_not_found_is_dead_lettered_not_retried(runtime, client, fake, caplog):
    fake.channel_errors["#dept-logistics"] = "channel_not_found"
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    runtime.dispatcher.dispatch_due()
    with runtime.engine.connect() as connection:
        route = next(r for r in list_actions(connection) if r["action"] == "route")
    assert (route["status"], route["attempts"], route["last_error"]) == (
        "dead",
        1,
        "Slack refused chat_postMessage to #dept-logistics: channel_not_found",
    )
    assert "slack.refused" in caplog.text


def _save_ticket(engine, number: int) -> str:
    key = f"zendesk:{number}"
    now = datetime.now(UTC)
    with engine.begin() as connection:
        lock_ticket(connection, key, now)
        save_ticket(
            connection,
            TicketState(
                key=key,
                source=Source.zendesk,
                ticket_id=str(number),
                subject=f"Order {number}",
                status=Status.open,
            ),
            now,
        )
    return key


def test_a_429_storm_delays_but_never_drops_doubles_or_reorders(runtime, fake):
    """Slack answers 429 (Retry-After: 1, the shortest it sends) for 2.5 s while 50 alerts
    wait: all 50 arrive afterwards, none twice, in order within each thread."""
    engine = runtime.engine
    actions = []
    for t in range(10):
        key = _save_ticket(engine, 48400 + t)
        actions += [
            Action(
                kind=ActionKind.notify,
                ticket=key,
                rule="test",
                reason=f"message {n}",
                key=f"{key}:test:{n}",
                params={"target": "lead", "channel": f"#ops-{t % 3}"},
            )
            for n in range(1, 6)
        ]
    with engine.begin() as connection:
        insert_actions(connection, actions, datetime.now(UTC))
    fake.fail_for(2.5, 429, {"Retry-After": "1"})
    started = time.monotonic()
    stop = threading.Event()
    worker = threading.Thread(target=runtime.dispatcher.run, args=(stop, 0.05), daemon=True)
    worker.start()
    try:
        while time.monotonic() - started < 60:
            with engine.connect() as connection:
                if count_actions(connection, "pending") == 0:
                    break
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join(timeout=10)
    refused = [c for c in fake.calls if c.status == 429]
    assert refused, "the storm met no request"

    # reliability.md §6 C14: once a 429 is back, its channel is asked nothing until the
    # Retry-After has passed. The fake notes each call as it answers it: a call answered soon
    # after the 429 was already on its way (another ticket's, in the same channel), and how soon
    # is the scheduler's to say: on a loaded machine one came 81 ms after. A dispatcher that
    # ignored the Retry-After would ask again within the poll's 50 ms and every 50 ms after, so
    # calls from 0.3 s to 0.95 s after the 429 still catch it; 50 ms are left at the end for the
    # way there and back.
    for no in refused:
        channel = no.args["channel"]
        soon = [
            round(call.at - no.at, 3)
            for call in fake.calls
            if call.args.get("channel") == channel and no.at + 0.3 < call.at < no.at + 0.95
        ]
        assert soon == [], channel
    posts = fake.ok_calls("chat.postMessage")
    assert all(p.at >= fake.fail_until for p in posts)
    assert len(posts) == 50
    with engine.connect() as connection:
        assert count_actions(connection, "done") == 50
    # Thread roots carry the ticket number; replies point at their root.
    ticket_of_root = {
        p.ts: p.args["text"].split("#")[1].split()[0] for p in posts if "thread_ts" not in p.args
    }
    assert sorted(ticket_of_root.values()) == [str(48400 + t) for t in range(10)]
    sequence: dict[str, list[int]] = {}
    for p in posts:
        text = p.args["blocks"][1]["text"]["text"] if "thread_ts" not in p.args else p.args["text"]
        ticket = ticket_of_root[p.args.get("thread_ts", p.ts)]
        sequence.setdefault(ticket, []).append(int(text.rsplit("message ", 1)[1]))
    assert sequence == {str(48400 + t): [1, 2, 3, 4, 5] for t in range(10)}


def test_a_channel_slack_rate_limits_is_held_for_its_retry_after_while_others_go_on(runtime, fake):
    """reliability.md §6 C14: Slack answers 429 with Retry-After: 5 for one channel. The
    dispatcher does not sleep through the wait in the call (slack_sdk's own retry of a 429
    held the dispatcher's lane 5 s, or 30, per message, and other tickets kept asking the
    channel meanwhile): the channel is held for the Retry-After, its actions wait without
    using up an attempt, and every other channel's messages go out at once."""
    engine = runtime.engine
    actions = []
    for t in range(8):
        key = _save_ticket(engine, 48500 + t)
        channel = "#ops-limited" if t < 4 else "#ops-open"
        actions.append(
            Action(
                kind=ActionKind.notify,
                ticket=key,
                rule="test",
                reason="message 1",
                key=f"{key}:test:1",
                params={"target": "lead", "channel": channel},
            )
        )
    with engine.begin() as connection:
        insert_actions(connection, actions, datetime.now(UTC))
    fake.channel_limits["#ops-limited"] = (time.monotonic() + 60, "5")

    started = time.monotonic()
    runtime.dispatcher.dispatch_due()
    took = time.monotonic() - started
    runtime.dispatcher.dispatch_due()  # the held channel is not asked again yet

    assert took < 2.5
    posted = {p.args["channel"] for p in fake.ok_calls("chat.postMessage")}
    assert (posted, len(fake.ok_calls("chat.postMessage"))) == ({"#ops-open"}, 4)
    limited = [c for c in fake.calls if c.args.get("channel") == "#ops-limited"]
    # One 429 holds the channel; calls already on their way when it came back may meet one too.
    assert 1 <= len(limited) <= 4 and {c.status for c in limited} == {429}
    with engine.connect() as connection:
        rows = {r["ticket"]: r for r in list_actions(connection)}
    waiting = [rows[f"zendesk:{48500 + t}"] for t in range(4)]
    assert {(r["status"], r["attempts"]) for r in waiting} == {("pending", 0)}
    assert all(r["next_attempt_at"] >= datetime.now(UTC) + timedelta(seconds=3) for r in waiting)


def as_action(record: dict) -> Action:
    """An action from its replay record (`at`, the flat fields and the key)."""
    fields = {k: v for k, v in record.items() if k != "at"}
    names = ("action", "ticket", "rule", "reason", "key")
    kind, ticket, rule, reason, key = (fields.pop(name) for name in names)
    return Action(kind=kind, ticket=ticket, rule=rule, reason=reason, key=key, params=fields)


def test_a_breach_withdrawn_is_said_in_the_breach_s_thread(runtime, fake):
    """The SLA rule's correction of a breach (a reply written in time, delivered after the
    alert) replies in the thread the breach is in, titled as what it is: before, it read as
    any lead alert, ':eyes: Team lead needed'."""
    _save_ticket(runtime.engine, 681)
    actions = [as_action(FIRST_REPLY_BREACH), as_action(FIRST_REPLY_CORRECTION)]
    with runtime.engine.begin() as connection:
        insert_actions(connection, actions, datetime.now(UTC))
    runtime.dispatcher.dispatch_due()  # the breach; the correction waits for it (its lane)
    runtime.dispatcher.dispatch_due()
    breach, correction = fake.ok_calls("chat.postMessage")
    leads = fake.channel_id("#resolution-leads")
    assert (breach.args["channel"], breach.args.get("thread_ts")) == ("#resolution-leads", None)
    assert breach.args["text"] == "SLA breached: #681 Order 681"
    assert (correction.args["channel"], correction.args["thread_ts"]) == (leads, breach.ts)
    assert correction.args["text"] == (
        ":white_check_mark: SLA breach withdrawn\n*Why:* correction: first reply target met — "
        "the reply written Mon 09 Mar 11:50, before the 12:00 deadline, reached deskbridge "
        "after the breach alert"
    )


def test_without_a_bot_token_alerts_are_logged_not_sent(
    sqlite_engine, rules, fake, caplog, monkeypatch
):
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    settings = Settings(ZENDESK_WEBHOOK_SECRET=TEST_SECRET)
    runtime = create_runtime(settings, rules, engine=sqlite_engine)
    client = create_app(runtime=runtime).test_client()
    caplog.set_level("INFO")
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    runtime.dispatcher.dispatch_due()
    assert fake.calls == []
    assert runtime.dry_run == {
        "zendesk": True,
        "salesforce": True,
        "slack": True,
        "pager": True,
    }
    dry = [r for r in caplog.records if r.getMessage() == "slack.dry_run"]
    assert [r.deskbridge_fields for r in dry] == [
        {"ticket": "zendesk:48300", "action": "route", "channels": "#dept-logistics"}
    ]


# `/deskbridge ticket`, `/deskbridge ack` and `/escalate` read a ticket alike: as its alerts
# show it (`#48300`, `#5005j00000AbCdEAAV` for a Salesforce case), as Zendesk writes it
# (`ZD-48300`) or by its key; before, each command read another set, and a Salesforce case
# could not be escalated by hand at all.
CASE = "5005j00000AbCdEAAV"
PRIYA_SALESFORCE = "0055j00000F3x9QAAR"


def slash(client, name: str, text: str, user: str = PRIYA) -> str:
    """A slash command's answer text."""
    body = urlencode(
        {
            "command": name,
            "text": text,
            "user_id": user,
            "channel_id": "C07ESC4LAT",
            "team_id": "T0001ABCD",
            "trigger_id": f"1.2.{text}",
            "response_url": "https://hooks.slack.com/commands/T0001ABCD/1/x",
        }
    ).encode()
    response = client.post("/slack/events", data=body, headers=slack_headers(body))
    assert response.status_code == 200
    return response.json["text"]


def save_case(engine, number: str | None = None) -> None:
    """A Salesforce case assigned to Priya, as its Outbound Messages leave it (with its
    CaseNumber, `number`, when they carry it)."""
    key = f"salesforce:{CASE}"
    now = datetime.now(UTC)
    with engine.begin() as connection:
        lock_ticket(connection, key, now)
        state = TicketState(
            key=key,
            source=Source.salesforce,
            ticket_id=CASE,
            number=number,
            subject="Wardrobe door hinge snapped",
            status=Status.open,
            assignee=PRIYA_SALESFORCE,
        )
        save_ticket(connection, state, now)


def escalations(runtime) -> list[tuple[str, str]]:
    with runtime.engine.connect() as connection:
        return [
            (r["ticket"], r["payload"]["reason"])
            for r in list_actions(connection)
            if r["action"] == "escalate"
        ]


def test_a_salesforce_case_is_escalated_by_hand_as_its_alerts_show_it(runtime, client):
    save_case(runtime.engine)
    answer = slash(client, "/escalate", f"#{CASE} customer threatens the ombudsman")
    assert answer == f"*Ticket {CASE}*\nEscalated to the specialist tier."
    assert escalations(runtime) == [
        (
            f"salesforce:{CASE}",
            "risk 3 ≥ 3: escalated in Slack by Priya Raman: customer threatens the ombudsman "
            "(by hand, 3)",
        )
    ]
    assert slash(client, "/escalate", f"salesforce:{CASE} again") == (
        f"*Ticket {CASE}*\nAlready escalated for these reasons; nothing new to do."
    )


def test_escalating_by_hand_without_a_reason_asks_for_one_and_decides_nothing(runtime, client):
    # The usage says <why>, but "/escalate #CASE" was taken: the escalation's reason and the
    # page then read only "escalated in Slack by Priya Raman" (newuser36).
    save_case(runtime.engine)
    assert slash(client, "/escalate", f"#{CASE}  ") == (
        f"*Escalate*\nSay why: `/escalate #{CASE} <why>`; the specialists and the person paged "
        "read it."
    )
    assert escalations(runtime) == []


def test_escalating_by_hand_someone_elses_case_is_refused_naming_who_may(runtime, client):
    # The refusal named the assignee and the leads only, though the people paged may too.
    save_case(runtime.engine)
    assert slash(client, "/escalate", f"#{CASE} angry customer", user=TOM) == (
        "*Escalate*\nOnly the ticket's assignee, a team lead or the person paged can escalate it."
    )
    assert escalations(runtime) == []


def test_ticket_and_ack_read_a_salesforce_case_as_its_alerts_show_it(runtime, client):
    save_case(runtime.engine)
    view = slash(client, "/deskbridge", f"ticket #{CASE}")
    assert view.startswith(f"*Ticket {CASE}*\n")
    assert "no such ticket" not in view
    assert slash(client, "/deskbridge", f"ack {CASE}") == f"*Ticket {CASE}*\nAcknowledged."


def test_a_salesforce_case_is_found_by_its_15_character_id(runtime, client):
    # A report export or a Classic URL shows the case's 15 characters; its alerts the 18.
    save_case(runtime.engine)
    assert slash(client, "/deskbridge", f"ticket {CASE[:15]}") == slash(
        client, "/deskbridge", f"ticket #{CASE}"
    )
    assert slash(client, "/deskbridge", f"ack #{CASE[:15]}") == f"*Ticket {CASE}*\nAcknowledged."


def test_ticket_reads_a_zendesk_ticket_as_zendesk_writes_it(runtime, client):
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    assert slash(client, "/deskbridge", "ticket ZD-48300") == slash(
        client, "/deskbridge", "ticket #48300"
    )
    assert "no such ticket" not in slash(client, "/deskbridge", "ticket ZD-48300")
    assert slash(client, "/deskbridge", "ticket zd-99999") == (
        "*Ticket 99999*\ndeskbridge has no such ticket."
    )


def test_ticket_without_an_id_says_how_to_ask(client):
    usage = (
        "*Ticket*\nUsage: `/deskbridge ticket <ticket id>`, the id as its alerts show it "
        "(`#48213`, a Salesforce case's number `00001042`) or its key (`zendesk:48213`, "
        "`salesforce:5005j00000AbCdEAAV`)"
    )
    assert slash(client, "/deskbridge", "ticket") == usage
    assert slash(client, "/deskbridge", "ticket 48300 48301") == usage
    assert slash(client, "/deskbridge", "ticket what?") == usage


@pytest.mark.parametrize(
    ("now", "paged"),
    [
        # Sunday before dawn in London: an escalation pages the on-call rotation.
        (datetime(2026, 12, 6, 4, 21, tzinfo=UTC), True),
        # A Tuesday morning in business hours: the specialist tier is at work, nobody is paged.
        (datetime(2026, 12, 8, 10, 15, tzinfo=UTC), False),
    ],
)
def test_ticket_lists_each_decision_once_with_its_actions(
    fake, sqlite_engine, rules, monkeypatch, now, paged
):
    # An escalation decides escalate, set_priority, assign and note for one reason: the view
    # listed four lines repeating it, and the routing's four likewise. The clock is pinned: on
    # the wall clock the page line came and went with the hour CI ran at.
    runtime = create_runtime(
        slack_settings(fake, monkeypatch), rules, clock=Clock(now), engine=sqlite_engine
    )
    client = create_app(runtime=runtime).test_client()
    post_zendesk(client, zendesk_event("created", 1, status="NEW", now=now), now=now)
    slash(client, "/escalate", "48300 customer threatens the ombudsman")
    view = slash(client, "/deskbridge", "ticket 48300").split("\n")
    decisions = view[view.index("*Decisions:*") + 1 :]
    # "• Sun 04 Jan 04:21 route, …": the day and time are the clock's, in the team's time zone.
    assert [line.split(" ", 5)[5] for line in decisions] == [
        'route, assign, tag, note — subject mentions "wrong rug" → wrong item delivered → '
        "Logistics",
        "escalate, set_priority, assign, note — risk 3 ≥ 3: escalated in Slack by Priya Raman: "
        "customer threatens the ombudsman (by hand, 3)",
    ] + (
        [
            "page_oncall, pager — escalated to the specialist tier after hours — risk 3 ≥ 3: "
            "escalated in Slack by Priya Raman: customer threatens the ombudsman (by hand, 3)"
        ]
        if paged
        else []
    )


def test_mentions_and_control_characters_in_ticket_text_reach_slack_as_text(
    runtime, client, fake, caplog
):
    """reliability.md §6 B13: a subject with Slack's mention syntax (<!channel>, <!here>,
    <@U…>), &, CR/LF and an ANSI escape is stored as written and sent escaped, so Slack shows
    it and no mass mention fires; the log lines of its way through carry no raw CR/LF."""
    subject = "Refund <!channel> <!here> ask <@U07PRIYA01> & co\r\nline two \x1b[31mred\x1b[0m 🚨"
    caplog.set_level("DEBUG", logger="deskbridge")
    post_zendesk(client, zendesk_event("created", 1, status="NEW", subject=subject))
    runtime.dispatcher.dispatch_due()

    with runtime.engine.connect() as connection:
        assert load_ticket(connection, "zendesk:48300").subject == subject
    posts = fake.ok_calls("chat.postMessage")
    assert posts
    for post in posts:
        sent = json.dumps(post.args, ensure_ascii=False)
        assert "<!channel>" not in sent and "<!here>" not in sent and "<@U07PRIYA01>" not in sent
    said = "\n".join(json.dumps(p.args, ensure_ascii=False) for p in posts)
    assert "&lt;!channel&gt; &lt;!here&gt; ask &lt;@U07PRIYA01&gt; &amp; co" in said
    formatter = FieldFormatter("%(levelname)s %(name)s %(message)s")
    lines = [formatter.format(r) for r in caplog.records]
    assert lines and not any("\r" in line or "\n" in line for line in lines)


def test_a_ticket_escalated_as_it_is_routed_tells_its_department_who_owns_it(runtime, client, fake):
    """An order problem escalated on arrival: the department's alert said "New ticket for
    Logistics" beside the specialists' and the leads' escalation, as if Logistics owned it,
    while the specialist tier does and no hand-off deadline chases Logistics. One message a
    channel, each carrying both: the department's says it was escalated and what is theirs;
    the escalation names the department."""
    post_zendesk(
        client,
        zendesk_event(
            "created",
            1,
            status="NEW",
            description="Wrong rug again. If this is not fixed I am going to the ombudsman.",
        ),
    )
    while runtime.dispatcher.dispatch_due():  # a ticket's messages go one after another
        pass
    # Out of business hours the escalation pages too (on-call channel, DMs): not these.
    channels = ("#dept-logistics", "#resolution-specialists", "#resolution-leads")
    posts = [p for p in fake.ok_calls("chat.postMessage") if p.args["channel"] in channels]
    assert [(p.args["channel"], p.args["text"]) for p in posts] == [
        ("#dept-logistics", "Order problem for Logistics, escalated: #48300 Wrong rug delivered"),
        (
            "#resolution-specialists",
            "Escalated to the specialist tier: #48300 Wrong rug delivered",
        ),
        ("#resolution-leads", "Escalated to the specialist tier: #48300 Wrong rug delivered"),
    ]
    department = posts[0].args["blocks"]
    assert department[1]["text"]["text"] == (
        '*Why:* subject mentions "wrong rug" → wrong item delivered → Logistics'
    )
    assert department[2] == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": ":rotating_light: *Escalated to the specialist tier* (legal): they own "
                "the ticket and the customer; the order problem is still yours to look into, "
                "with no hand-off deadline",
            }
        ],
    }
    # The escalation shows the department the order problem went to.
    for post in posts[1:]:
        [fields] = [b["fields"] for b in post.args["blocks"] if "fields" in b]
        assert "*Department*\nLogistics" in [f["text"] for f in fields]
