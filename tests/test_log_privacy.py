"""An exception's message never reaches the log: a rule raising on a value, a KeyError naming
a text key or a helpdesk's error answer echoing the note may quote the ticket and its customer.
The log names the event, the error's type and where it was raised; the full message stays where
an operator reads it on purpose (`deskbridge events --failed`, `deskbridge timers --failed`,
`deskbridge outbox --dead`)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

import pytest
import responses
from click.testing import CliRunner
from sqlalchemy import select

from deskbridge.app import create_app, create_runtime
from deskbridge.cli import main
from deskbridge.config.settings import Settings
from deskbridge.connectors.salesforce.parse import UNMAPPED_PRIORITY, UNMAPPED_STATUS
from deskbridge.connectors.zendesk.client import ZendeskWriter
from deskbridge.connectors.zendesk.parse import GROUP_NAME_IGNORED, UNFILLED_PLACEHOLDER
from deskbridge.store.schema import events as events_table
from deskbridge.store.timers import schedule_timers
from deskbridge.workflows import rules as rules_module
from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.decider import Decider
from deskbridge.workflows.decision import Timer
from deskbridge.workflows.dispatcher import Dispatcher
from deskbridge.workflows.metrics import Metrics
from tests.conftest import TEST_SECRET, Clock, fixture_bytes, signed_headers
from tests.test_logs import logs  # noqa: F401 (a fixture: debug_logs uses it)
from tests.workflows.test_decider import T0, reply, store

EMAIL = "jane.roe@example.com"
SENTENCE = "My parcel never arrived and I want my money back today"
# What a rule or a helpdesk might say on failing: the ticket's words and its customer's address.
MESSAGE = f"cannot route {SENTENCE!r} from {EMAIL}"


def refuse(exc_type: type[Exception]) -> None:
    """Raise as a rule that chokes on a ticket's text does (one line: `RAISED_AT`)."""
    raise exc_type(MESSAGE)


RAISED_AT = f"{__name__}:refuse:{refuse.__code__.co_firstlineno + 2}"


@pytest.fixture
def debug_logs(request):
    """The service's logging at its most talkative (DESKBRIDGE_LOG_LEVEL=DEBUG, libraries
    included), collected as deskbridge's formatter writes it: nothing private even there."""
    return request.getfixturevalue("logs")("DEBUG")


def assert_private(text: str) -> None:
    assert EMAIL not in text
    assert "parcel never arrived" not in text


@pytest.mark.parametrize("exc_type", [ValueError, KeyError])
def test_a_failed_event_is_logged_by_type_and_place_its_message_kept_for_events_failed(
    engine, store_url, rules, monkeypatch, debug_logs, exc_type
):
    def poison(state, event, ctx):
        refuse(exc_type)

    monkeypatch.setitem(rules_module.RULES, "poison", poison)
    store(engine, reply(66, 1))

    (decided,) = Decider(engine, rules, lambda: T0).decide_pending()

    with engine.connect() as connection:
        (event_id,) = connection.execute(select(events_table.c.id)).scalars()
    failed = [line for line in debug_logs.text.splitlines() if "event.failed" in line]
    assert failed == [
        f"ERROR deskbridge.decider event.failed ticket=zendesk:66 event_id={event_id} "
        f"error={exc_type.__name__} at={RAISED_AT}"
    ]
    assert_private(debug_logs.text)
    # The operator's listing keeps the whole message, as the replay's result does.
    full = f"{exc_type.__name__}: {exc_type(MESSAGE)}"
    assert decided.error == full
    listed = CliRunner().invoke(main, ["events", "--failed"], env={"DATABASE_URL": store_url})
    assert listed.exit_code == 0, listed.output
    assert full in listed.stdout


def read_amount(text: str) -> dict:
    """A rule's helper handing a ticket's text to a library that fails on it (`READ_AT`)."""
    return json.loads(text)


READ_AT = f"{__name__}:read_amount:{read_amount.__code__.co_firstlineno + 2}"


def test_an_error_raised_inside_a_library_names_the_own_line_that_called_it(
    engine, rules, monkeypatch, debug_logs
):
    # `at` alone named json's (or pydantic's, SQLAlchemy's) innermost line, the same for every
    # bug that reached it; `via` says which line of ours passed it the bad value.
    def poison(state, event, ctx):
        read_amount(SENTENCE)

    monkeypatch.setitem(rules_module.RULES, "poison", poison)
    store(engine, reply(67, 1))

    (decided,) = Decider(engine, rules, lambda: T0).decide_pending()

    assert decided.error.startswith("JSONDecodeError: Expecting value")
    (failed,) = [line for line in debug_logs.text.splitlines() if "event.failed" in line]
    head, at, via = failed.rsplit(" ", 2)
    assert head.endswith("error=JSONDecodeError")
    assert at.startswith("at=json.decoder:raw_decode:")
    assert via == f"via={READ_AT}"
    assert_private(debug_logs.text)


def test_a_failed_timer_is_logged_by_type_and_place_its_message_kept_for_timers_failed(
    engine, store_url, rules, monkeypatch, debug_logs
):
    def boom(state, timer, ctx):
        refuse(ValueError)

    monkeypatch.setattr(rules_module, "RULES", {})
    monkeypatch.setattr(rules_module, "TIMER_RULES", {"test.boom": boom})
    store(engine, reply(8, 1))
    decider = Decider(engine, rules, lambda: T0)
    decider.decide_pending()
    timer = Timer("zendesk:8:test.boom", "zendesk:8", "test.boom", T0 + timedelta(minutes=5), {})
    with engine.begin() as connection:
        schedule_timers(connection, [timer])

    (fired,) = decider.fire_due_timers(T0 + timedelta(hours=1))

    assert fired.error == f"ValueError: {MESSAGE}"  # what replay prints
    failed = [line for line in debug_logs.text.splitlines() if "timer.failed" in line]
    assert failed == [
        "ERROR deskbridge.decider timer.failed ticket=zendesk:8 timer=zendesk:8:test.boom "
        f"error=ValueError at={RAISED_AT}"
    ]
    assert_private(debug_logs.text)
    listed = CliRunner().invoke(main, ["timers", "--failed"], env={"DATABASE_URL": store_url})
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.endswith(f"  ValueError: {MESSAGE}\n")


def note(body: str) -> Action:
    return Action(
        action=ActionKind.note,
        ticket="zendesk:48213",
        rule="routing",
        reason="asks for a refund",
        key="zendesk:48213:routing:note",
        params={"body": body},
    )


def queue_and_dispatch(engine, performer, max_attempts: int = 8) -> Dispatcher:
    from deskbridge.store.outbox import insert_actions

    with engine.begin() as connection:
        insert_actions(connection, [note(f"Customer {EMAIL} wrote: {SENTENCE}")], T0)
    performers = {ActionKind.note: performer}
    dispatcher = Dispatcher(engine, performers, Metrics(), Clock(T0), max_attempts=max_attempts)
    assert dispatcher.dispatch_due() == 1
    return dispatcher


def dead_letters(store_url: str) -> str:
    listed = CliRunner().invoke(main, ["outbox", "--dead"], env={"DATABASE_URL": store_url})
    assert listed.exit_code == 0, listed.output
    return listed.stdout


def test_a_zendesk_422_echoing_the_note_logs_its_status_and_code_not_the_note(
    engine, store_url, debug_logs
):
    echoed = {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {"base": [{"description": f"Comment is invalid: {SENTENCE} ({EMAIL})"}]},
    }
    with responses.RequestsMock() as api:
        api.put("https://acme.zendesk.com/api/v2/tickets/48213.json", status=422, json=echoed)
        queue_and_dispatch(engine, ZendeskWriter("acme", "bot@acme.test", "api-token"))

    # zenpy logs each request's body and each answer at DEBUG: held at INFO, as slack_sdk is.
    assert_private(debug_logs.text)
    assert [line for line in debug_logs.text.splitlines() if "outbox." in line] == [
        'ERROR deskbridge.dispatcher outbox.dead_letter error="Zendesk refused the update '
        '(422 RecordInvalid)" ticket=zendesk:48213 action=note key=zendesk:48213:routing:note '
        "attempt=1"
    ]
    # The dead letter keeps what Zendesk answered, for whoever reads it on purpose.
    assert f"Zendesk refused the update (422 RecordInvalid): {json.dumps(echoed)}" in (
        dead_letters(store_url)
    )


class Buggy:
    """A performer with a bug that fails on the note's text."""

    def perform(self, action: Action) -> dict:
        refuse(RuntimeError)
        return {}


def test_an_unexpected_performer_error_logs_its_traceback_without_the_message(
    engine, store_url, debug_logs
):
    queue_and_dispatch(engine, Buggy(), max_attempts=1)

    lines = debug_logs.text.splitlines()
    assert lines[0] == (
        "ERROR deskbridge.dispatcher outbox.dead_letter error=RuntimeError "
        f"at={RAISED_AT} ticket=zendesk:48213 action=note key=zendesk:48213:routing:note "
        "attempt=1"
    )
    assert_private(debug_logs.text)
    assert f"RuntimeError: {MESSAGE}" in dead_letters(store_url)


def test_a_retried_unexpected_error_is_logged_with_frames_and_types_only(engine, debug_logs):
    queue_and_dispatch(engine, Buggy())

    text = debug_logs.text
    assert_private(text)
    first, *trace = text.splitlines()
    assert first == (
        f"ERROR deskbridge.dispatcher outbox.error error=RuntimeError at={RAISED_AT} "
        "ticket=zendesk:48213 action=note key=zendesk:48213:routing:note attempt=1"
    )
    # Python's traceback, each frame with its source line, and the type without its message.
    frames = [line.strip() for line in trace if line.startswith("  File ")]
    assert [f.rsplit(", in ", 1)[1] for f in frames] == [
        "_perform",
        "perform",
        "refuse",
    ]
    assert trace[0] == "Traceback (most recent call last):"
    assert trace[-1] == "RuntimeError"


def test_a_chained_traceback_keeps_every_frame_and_type_but_no_message(debug_logs):
    log = logging.getLogger("deskbridge.test")
    try:
        try:
            refuse(KeyError)
        except KeyError as exc:
            raise ValueError(f"while reading {EMAIL}") from exc
    except ValueError:
        log.exception("test.failed")

    text = debug_logs.text
    assert_private(text)
    kept = [line for line in text.splitlines() if not line.startswith("    ")]
    assert [line.split(", line ")[0] if "File" in line else line for line in kept] == [
        "ERROR deskbridge.test test.failed",
        "Traceback (most recent call last):",
        f'  File "{__file__}"',
        f'  File "{__file__}"',
        "KeyError",
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        f'  File "{__file__}"',
        "ValueError",
    ]


def test_an_unexpected_error_in_a_request_is_logged_without_its_message(settings, debug_logs):
    app = create_app(settings)

    @app.get("/boom")
    def boom():
        refuse(ValueError)

    answer = app.test_client().get("/boom")

    assert (answer.status_code, answer.get_json()) == (500, {"error": "internal error"})
    lines = debug_logs.text.splitlines()
    said = [line for line in lines if "http.unexpected_error" in line]
    assert said == [f"ERROR deskbridge http.unexpected_error error=ValueError at={RAISED_AT}"]
    assert lines[-1] == "ValueError"
    assert_private(debug_logs.text)


def flow_callout(number: int, status: str, priority: str) -> bytes:
    fields = {
        "Id": f"5005j00000TqW{number}hAAF",
        "Subject": "Lieferung fehlt",
        "Status": status,
        "Priority": priority,
        "LastModifiedDate": "2026-03-02T08:55:00Z",
    }
    notification = {"id": f"flow-{number}", "type": "Case", "fields": fields}
    return json.dumps({"organizationId": SF_ORG, "notifications": [notification]}).encode()


SF_ORG, SF_TOKEN = "00D5j00000HqZtxEAF", "flow-token-for-privacy-tests"
UNLISTED_STATUS = (
    "not in the rules file's salesforce.new_statuses, open_statuses, pending_statuses, "
    "hold_statuses, solved_statuses or closed_statuses: read as open (its clocks and rules run; "
    "it never solves unless IsClosed is sent true) until it is added to the one it means"
)
UNLISTED_PRIORITY = (
    "not in the rules file's salesforce.priorities: read as no priority (SLA policies and "
    "on-call pages by priority miss the case) until it is added there"
)


def webhook_client(engine, rules, monkeypatch, warnings, **settings):
    """The service's webhooks in dry-run, its once-an-hour `warnings` said afresh."""
    for warning in warnings:
        warning.forget()
    for name in ("SLACK_BOT_TOKEN", "SALESFORCE_USERNAME", "ZENDESK_API_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    runtime = create_runtime(
        Settings(ZENDESK_WEBHOOK_SECRET=TEST_SECRET, **settings),
        rules,
        clock=Clock(T0),
        engine=engine,
    )
    return create_app(runtime=runtime).test_client()


def test_an_unlisted_salesforce_status_or_priority_is_logged_by_length_and_hash_not_as_sent(
    engine, rules, monkeypatch, debug_logs
):
    # A Flow filling Status from a text field, a custom picklist of free words: the warning
    # quoted the value, so the customer's address and words reached the log.
    client = webhook_client(
        engine,
        rules,
        monkeypatch,
        (UNMAPPED_STATUS, UNMAPPED_PRIORITY),
        SALESFORCE_ORG_ID=SF_ORG,
        SALESFORCE_WEBHOOK_TOKEN=SF_TOKEN,
    )
    free = f"{SENTENCE}, {EMAIL}"
    bodies = [flow_callout(8, free, free), flow_callout(9, " waiting on CUSTOMER", "high")]
    for body in bodies:
        answer = client.post(
            "/webhooks/salesforce",
            data=body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {SF_TOKEN}"},
        )
        assert (answer.status_code, answer.json) == (200, {"events": 1, "status": "accepted"})

    assert_private(debug_logs.text)
    said = [line for line in debug_logs.text.splitlines() if "webhook.unmapped" in line]
    # printf %s '<the value>' | sha256sum: the operator confirms a candidate by its hash; a
    # value listed but for its case or spaces is named as the rules file spells it.
    assert said == [
        "WARNING deskbridge.webhooks webhook.unmapped_priority ticket=salesforce:5005j00000TqW8hAAF"
        f' field=Priority value_length=76 value_sha256=549844e1 hint="{UNLISTED_PRIORITY}"',
        "WARNING deskbridge.webhooks webhook.unmapped_status ticket=salesforce:5005j00000TqW8hAAF"
        f' field=Status value_length=76 value_sha256=549844e1 hint="{UNLISTED_STATUS}"',
        "WARNING deskbridge.webhooks webhook.unmapped_priority ticket=salesforce:5005j00000TqW9hAAF"
        " field=Priority value_length=4 value_sha256=6ef7c9b1 listed_as=High"
        f' hint="{UNLISTED_PRIORITY}"',
        "WARNING deskbridge.webhooks webhook.unmapped_status ticket=salesforce:5005j00000TqW9hAAF"
        ' field=Status value_length=20 value_sha256=5766f2b8 listed_as="Waiting on Customer"'
        f' hint="{UNLISTED_STATUS}"',
    ]


def test_a_zendesk_trigger_named_with_an_email_is_logged_by_length_and_hash_not_by_name(
    engine, rules, monkeypatch, debug_logs
):
    # A trigger body's `trigger` is the name an admin gave the trigger, which can be anything
    # ("Escalate for jane.roe@…"): its warnings (a group's name sent, a placeholder left
    # unfilled) logged it as written.
    client = webhook_client(engine, rules, monkeypatch, (GROUP_NAME_IGNORED, UNFILLED_PLACEHOLDER))
    trigger = f"Escalate for {EMAIL}"
    data = json.loads(fixture_bytes("trigger_ticket_updated.json"))
    body = json.dumps({**data, "trigger": trigger, "subject": "{{ticket.titel}}"}).encode()

    answer = client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, T0))

    assert (answer.status_code, answer.json) == (200, {"events": 1, "status": "accepted"})
    assert_private(debug_logs.text)
    # printf %s 'Escalate for jane.roe@example.com' | sha256sum | cut -c1-8
    assert (len(trigger), hashlib.sha256(trigger.encode()).hexdigest()[:8]) == (33, "ab7125ec")
    said = [line for line in debug_logs.text.splitlines() if "trigger_" in line]
    assert said == [
        "WARNING deskbridge.webhooks webhook.group_name_ignored ticket=zendesk:48213 "
        "trigger_length=33 trigger_sha256=ab7125ec "
        'hint="send \\"group_id\\": \\"{{ticket.group.id}}\\" (README, Connecting Zendesk)"',
        "WARNING deskbridge.webhooks webhook.unfilled_placeholder ticket=zendesk:48213 "
        "trigger_length=33 trigger_sha256=ab7125ec fields=subject "
        "hint=\"a placeholder there was not filled in: check its name in the trigger's JSON "
        'body (placeholders are case-sensitive; README, Connecting Zendesk)"',
    ]
