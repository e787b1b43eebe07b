"""The PagerDuty Events API v2 pager (protocols.md §7), mocked with `responses`."""

from __future__ import annotations

import json

import pytest
import responses

from deskbridge.config.settings import Settings
from deskbridge.connectors.pagerduty import PagerDutyPager, build_pager_event
from deskbridge.connectors.registry import build_ticket_links
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.ports import DETAIL_LIMIT, PermanentError, RetryableError

URL = "https://pagerduty.test/v2/enqueue"
KEY = "R0UT1NGKEY0000000000000000000001"


def pager_action(event_action: str, **params):
    return build_action(
        "zendesk:48213",
        "oncall",
        ActionKind.pager,
        "2026-03-07T23:10:00+00:00",
        event_action,
        reason="urgent ticket created after hours",
        event_action=event_action,
        dedup_key="zendesk:48213",
        trigger="urgent_created",
        **params,
    )


def test_trigger_body_follows_the_events_api():
    action = pager_action("trigger", step=0, paged_at="2026-03-07T23:10:00+00:00")
    assert build_pager_event(action, KEY, "https://acme.zendesk.com/agent/tickets/48213") == {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "zendesk:48213",
        "payload": {
            "summary": "Ticket #48213 after hours: urgent ticket created after hours",
            "source": "deskbridge",
            "severity": "critical",
            "timestamp": "2026-03-07T23:10:00+00:00",
            "component": "zendesk",
            "group": "resolution",
            "class": "urgent_created",
            "custom_details": {
                "reason": "urgent ticket created after hours",
                "step": 0,
                "acknowledge": "in Slack: the page's Acknowledge button or `/deskbridge ack "
                "48213`; acknowledging in PagerDuty does not stop deskbridge's next pages",
            },
        },
        "links": [{"href": "https://acme.zendesk.com/agent/tickets/48213", "text": "Open ticket"}],
    }


def test_a_salesforce_case_is_named_by_its_case_number():
    # It was "Ticket #5005j00000TqW8hAAF after hours", a record id nobody on call knows, while
    # the case's Slack alerts say "Case 00001042" and /deskbridge ack takes that number.
    action = build_action(
        "salesforce:5005j00000TqW8hAAF",
        "oncall",
        ActionKind.pager,
        "2026-03-07T23:10:00+00:00",
        "trigger",
        reason="urgent ticket created after hours",
        event_action="trigger",
        dedup_key="salesforce:5005j00000TqW8hAAF",
        trigger="urgent_created",
        number="00001042",
        step=0,
    )
    payload = build_pager_event(action, KEY)["payload"]
    assert payload["summary"] == "Case 00001042 after hours: urgent ticket created after hours"
    assert payload["custom_details"]["acknowledge"] == (
        "in Slack: the page's Acknowledge button or `/deskbridge ack 00001042`; acknowledging "
        "in PagerDuty does not stop deskbridge's next pages"
    )


@pytest.mark.parametrize("event_action", ["acknowledge", "resolve"])
def test_acknowledge_and_resolve_carry_only_the_key(event_action):
    assert build_pager_event(pager_action(event_action), KEY) == {
        "routing_key": KEY,
        "event_action": event_action,
        "dedup_key": "zendesk:48213",
    }


@responses.activate
def test_202_is_done():
    responses.post(
        URL,
        status=202,
        json={"status": "success", "message": "Event processed", "dedup_key": "zendesk:48213"},
    )
    pager = PagerDutyPager(
        KEY, URL, ticket_link=build_ticket_links(Settings(ZENDESK_SUBDOMAIN="acme"))
    )
    result = pager.perform(pager_action("trigger", step=1, paged_at="2026-03-07T23:20:00+00:00"))
    assert result == {"pager": "trigger", "status": 202}
    sent = json.loads(responses.calls[0].request.body)
    assert (sent["event_action"], sent["dedup_key"], sent["payload"]["custom_details"]["step"]) == (
        "trigger",
        "zendesk:48213",
        1,
    )
    assert sent["links"][0]["href"] == "https://acme.zendesk.com/agent/tickets/48213"


@responses.activate
def test_400_is_permanent_with_pagerduty_message():
    responses.post(
        URL,
        status=400,
        json={
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
        },
    )
    with pytest.raises(PermanentError) as info:
        PagerDutyPager(KEY, URL).perform(pager_action("resolve"))
    # The message is logged; PagerDuty's words are only the dead letter's (`stored`).
    assert (str(info.value), info.value.stored) == (
        "PagerDuty refused the event (400)",
        "PagerDuty refused the event (400): Event object is invalid; Length of 'routing_key' "
        "is incorrect (should be 32 characters)",
    )
    assert KEY not in info.value.stored


@responses.activate
def test_a_400_whose_errors_are_not_text_is_still_permanent():
    """An answer of another shape (errors as objects, no message) is kept as it reads: it
    raised a TypeError, so a refused event was retried as a bug until its attempts ran out."""
    responses.post(URL, status=400, json={"message": None, "errors": [{"field": "dedup_key"}]})
    with pytest.raises(PermanentError) as info:
        PagerDutyPager(KEY, URL).perform(pager_action("resolve"))
    assert info.value.stored == "PagerDuty refused the event (400): {'field': 'dedup_key'}"


@responses.activate
def test_a_long_answer_is_kept_to_the_limit_every_helpdesk_has():
    """Cut in one place (ActionFailure, DETAIL_LIMIT characters), as Zendesk's and Salesforce's
    answers are; PagerDuty's had its own 300."""
    responses.post(URL, status=400, json={"message": "x" * 2_000})
    with pytest.raises(PermanentError) as info:
        PagerDutyPager(KEY, URL).perform(pager_action("resolve"))
    assert info.value.stored == "PagerDuty refused the event (400): " + "x" * DETAIL_LIMIT
    assert DETAIL_LIMIT == 500


@responses.activate
@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_as_failed_attempts(status):
    responses.post(URL, status=status, json={})
    with pytest.raises(RetryableError) as info:
        PagerDutyPager(KEY, URL).perform(pager_action("acknowledge"))
    assert (str(info.value), info.value.retry_after, info.value.throttled) == (
        f"PagerDuty answered {status}",
        None,
        False,
    )


@responses.activate
@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [({}, None), ({"Retry-After": "20"}, 20.0), ({"Retry-After": "soon"}, None)],
    ids=["no-retry-after", "retry-after", "unreadable-retry-after"],
)
def test_a_429_is_a_rate_limit_waited_out_without_using_up_an_attempt(headers, retry_after):
    # PagerDuty's per-routing-key limit: the dispatcher waits (Retry-After, else its own
    # THROTTLED_WAIT) and gives the attempt back, as for a Slack or Zendesk 429.
    responses.post(URL, status=429, headers=headers, json={"status": "throttled"})
    with pytest.raises(RetryableError) as info:
        PagerDutyPager(KEY, URL).perform(pager_action("acknowledge"))
    assert (str(info.value), info.value.retry_after, info.value.throttled) == (
        "PagerDuty throttled the event (429)",
        retry_after,
        True,
    )


@responses.activate
def test_connection_error_is_retried():
    with pytest.raises(RetryableError) as info:
        PagerDutyPager(KEY, URL).perform(pager_action("acknowledge"))
    assert str(info.value) == "PagerDuty unreachable: ConnectionError"


def test_the_on_call_rule_gives_the_pager_the_cases_number():
    from deskbridge.workflows.model import Status, evolve
    from deskbridge.workflows.rules.oncall import build_pager
    from tests.workflows.test_oncall_handoff import paged

    case = evolve(
        paged("5005j00000TqW8hAAF", Status.open),
        {"key": "salesforce:5005j00000TqW8hAAF", "source": "salesforce", "number": "00001042"},
    )
    trigger = build_pager(case, case.oncall, "trigger", "0", reason="r", step=0)
    assert build_pager_event(trigger, KEY)["payload"]["summary"] == "Case 00001042 after hours: r"
    # Acknowledge and resolve carry only the incident's key.
    assert "number" not in build_pager(case, case.oncall, "resolve", reason="r").params
