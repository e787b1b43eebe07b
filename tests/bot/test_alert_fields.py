"""What an alert's fields show of its ticket: a lead told "Team lead needed" or of a breach
sees whom the ticket is with, not only the customer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deskbridge.bot.blocks import build_alert
from deskbridge.bot.notifier import build_view
from deskbridge.workflows.model import Source, Status, TicketState

NOW = datetime(2026, 3, 2, 10, 45, tzinfo=UTC)
LEAD = {
    "ticket": "zendesk:48213",
    "action": "notify",
    "rule": "three_responses",
    "reason": "4th written reply and still no call logged after the call was requested",
    "target": "lead",
    "key": "zendesk:48213:three_responses:lead",
}


@pytest.mark.parametrize(
    ("source", "ticket", "assignee", "shown"),
    [
        (Source.zendesk, "48213", "9013300112004", "Priya Raman"),
        # A Salesforce user id in its 15-character form names the roster's 18-character one.
        (Source.salesforce, "5005j00000AbCdEAAV", "0055j00000F3x9Q", "Priya Raman"),
        (Source.zendesk, "48213", "9013300119999", "user 9013300119999"),  # not on the roster
    ],
    ids=["zendesk", "salesforce_15", "not_on_the_roster"],
)
def test_an_alert_names_the_tickets_assignee(rules, source, ticket, assignee, shown):
    state = TicketState(
        key=f"{source.value}:{ticket}",
        source=source,
        ticket_id=ticket,
        subject="Order 100482",
        status=Status.open,
        requester="9014456723011",
        assignee=assignee,
    )
    blocks = build_alert(LEAD, build_view(state, rules, NOW))["blocks"]
    [fields] = [b["fields"] for b in blocks if "fields" in b]
    assert [f["text"] for f in fields] == [
        "*Customer*\nrequester 9014456723011",
        f"*Assignee*\n{shown}",
    ]


def test_an_alert_about_a_ticket_with_no_assignee_has_no_assignee_field(rules):
    state = TicketState(
        key="zendesk:48216",
        source=Source.zendesk,
        ticket_id="48216",
        subject="Mattress delivered without the protective cover",
        status=Status.open,
        requester="9014456723150",
    )
    blocks = build_alert(LEAD, build_view(state, rules, NOW))["blocks"]
    [fields] = [b["fields"] for b in blocks if "fields" in b]
    assert [f["text"] for f in fields] == ["*Customer*\nrequester 9014456723150"]
