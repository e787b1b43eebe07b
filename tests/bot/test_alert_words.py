"""How an alert words what it says, as a lead reads it (newuser36): the notification text of a
question, and the signals a department is told the specialist tier escalated for."""

from __future__ import annotations

from datetime import UTC, datetime

from deskbridge.bot.blocks import build_alert
from deskbridge.bot.notifier import build_view
from deskbridge.workflows.model import Source, Status, TicketState

NOW = datetime(2026, 12, 8, 0, 50, tzinfo=UTC)


def ticket(**fields: object) -> TicketState:
    return TicketState(
        key="zendesk:6001",
        source=Source.zendesk,
        ticket_id="6001",
        subject="Going to the press",
        status=Status.open,
        **fields,
    )


def record(kind: str, reason: str, **fields: str) -> dict[str, str]:
    """An action's flat record, as the notifier hands build_alert one."""
    return {
        "ticket": "zendesk:6001",
        "action": kind,
        "rule": "rule",
        "reason": reason,
        **fields,
        "key": f"zendesk:6001:{kind}",
    }


def test_a_questions_notification_text_ends_its_title_with_its_question_mark(rules):
    # Was "Which department should take this?: #6001 …", the text a phone's notification shows.
    question = record(
        "notify",
        "unclassified: no field, tag or phrase names an order problem — pick a department",
        target="assignee",
        ask="pick_department",
    )
    message = build_alert(question, build_view(ticket(), rules, NOW))
    assert message["text"] == "Which department should take this? #6001 Going to the press"


def test_an_alert_titled_by_a_statement_keeps_its_colon(rules):
    escalation = record(
        "escalate", 'risk 3 ≥ 3: mentions "the press" (social media, 3)', target="specialists"
    )
    message = build_alert(escalation, build_view(ticket(), rules, NOW))
    assert message["text"] == "Escalated to the specialist tier: #6001 Going to the press"


def test_a_departments_alert_names_the_escalations_signals_in_words(rules):
    # Was "(social_media, repeat_contact)", the rules file's keys, where the escalation's
    # reason and /deskbridge team say "social media".
    state = ticket(department="quality", escalation_signals=["social_media", "repeat_contact"])
    route = record(
        "route",
        "picked in Slack by Sam Whitaker → Quality/Production",
        department="quality",
        channel="#dept-quality",
    )
    blocks = build_alert(route, build_view(state, rules, NOW))["blocks"]
    [context] = [b for b in blocks if b["type"] == "context" and "Escalated" in str(b)]
    assert context == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": ":rotating_light: *Escalated to the specialist tier* (social media, "
                "repeat contact): they own the ticket and the customer; the order problem is "
                "still yours to look into, with no hand-off deadline",
            }
        ],
    }
