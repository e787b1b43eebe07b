"""A Salesforce case is named and found as Salesforce shows it: by its CaseNumber. Its alerts
say "Case 00001042" (linked to the record), and `/deskbridge ticket`, `ack` and `/escalate`
take the number as well as the record id. Before, posts said `#5005j00000…` and
`/deskbridge ticket 00001042` answered "no such ticket". A case whose notifications carry no
CaseNumber is still named by its id; Zendesk tickets keep their numbers."""

from __future__ import annotations

from datetime import UTC, datetime

from deskbridge.bot.digest import build_coach_message
from deskbridge.connectors.salesforce.parse import parse_salesforce
from deskbridge.workflows.model import evolve
from deskbridge.workflows.state import apply_event, new_state
from tests.bot.test_slack_flow import CASE as NUMBERED
from tests.bot.test_slack_flow import (  # noqa: F401 (fixtures)
    client,
    escalations,
    fake,
    post_zendesk,
    runtime,
    save_case,
    slash,
    zendesk_event,
)
from tests.conftest import fixture_bytes


def test_ticket_ack_and_escalate_take_a_case_number(runtime, client):  # noqa: F811
    save_case(runtime.engine, number="00001042")

    view = slash(client, "/deskbridge", "ticket 00001042")
    # Named once, by the title: the case's first line said "*Case 00001042*" again.
    assert view.split("\n") == [
        "*Case 00001042*",
        "Wardrobe door hinge snapped",
        "Status open, priority -, department -, 0 public replies",
        "*Decisions:*",
        "• none yet",
    ]
    # As a list shows it, and by the record id: the same case, the same view.
    assert slash(client, "/deskbridge", "ticket #00001042") == view
    assert slash(client, "/deskbridge", f"ticket {NUMBERED}") == view
    assert slash(client, "/deskbridge", "ack 00001042") == "*Case 00001042*\nAcknowledged."
    assert slash(client, "/escalate", "00001042 customer threatens the ombudsman") == (
        "*Case 00001042*\nEscalated to the specialist tier."
    )
    assert escalations(runtime) == [
        (
            f"salesforce:{NUMBERED}",
            "risk 3 ≥ 3: escalated in Slack by Priya Raman: customer threatens the ombudsman "
            "(by hand, 3)",
        )
    ]
    assert slash(client, "/deskbridge", "ticket 00001043") == (
        "*Ticket 00001043*\ndeskbridge has no such ticket."
    )


def test_a_custom_case_number_format_is_found_too(runtime, client):  # noqa: F811
    # An org may give Case Number its own display format (Setup → Object Manager → Case).
    save_case(runtime.engine, number="CS-1042")
    assert slash(client, "/deskbridge", "ack CS-1042") == "*Case CS-1042*\nAcknowledged."


def test_a_zendesk_ticket_keeps_its_number(runtime, client):  # noqa: F811
    save_case(runtime.engine, number="00001042")
    post_zendesk(client, zendesk_event("created", 1, status="NEW"))
    view = slash(client, "/deskbridge", "ticket 48300")
    assert view.split("\n")[:2] == ["*Ticket 48300*", "Wrong rug delivered"]


def test_the_case_number_is_kept_from_any_notification_of_the_case():
    """From the Outbound Message that names it, and from a late (stale) one too: a case's
    number never changes. One without it keeps the number known."""
    now = datetime(2025, 3, 4, 10, 22, tzinfo=UTC)
    events = parse_salesforce(fixture_bytes("outbound_message__two_cases.xml"), now)
    first = next(e for e in events if e.ticket_id == "5005j00000TqW8hAAF")
    assert (first.ticket_id, first.ticket.number) == ("5005j00000TqW8hAAF", "00001042")
    # A later notification of the case without its CaseNumber (a Flow that does not send it).
    newer = evolve(
        first,
        {
            "occurred_at": datetime(2025, 3, 4, 11, tzinfo=UTC),
            "ticket": evolve(first.ticket, {"number": None}),
        },
    )

    state, _ = apply_event(new_state(newer), newer)
    assert state.number is None
    state, stale = apply_event(state, first)
    assert (stale, state.number) == (True, "00001042")
    state, _ = apply_event(state, newer)
    assert state.number == "00001042"


def test_a_coaching_nudge_names_the_case_by_its_number(runtime, client, fake):  # noqa: F811
    # "A call might help (ticket 5005j00000…)": the record id, which the agent does not know.
    from deskbridge.workflows.actions import ActionKind, build_action

    save_case(runtime.engine, number="00001042")
    nudge = build_action(
        f"salesforce:{NUMBERED}",
        "coaching",
        ActionKind.coach,
        "missed_call",
        reason="three replies and no call yet — a call often settles it",
        kind="missed_call",
        person="U02PRIYA01",
    )
    runtime.dispatcher.performers[ActionKind.coach].perform(nudge)
    [post] = fake.ok_calls("chat.postMessage")
    assert post.args["text"].startswith("A call might help (Case 00001042)")


def test_a_case_number_with_mrkdwn_characters_is_escaped_in_a_nudge():
    """An Auto Number's display format may hold any literal ("R&D-<42>"): in the DM's mrkdwn
    it is shown as written, not read as a link or an entity."""
    record = {
        "ticket": f"salesforce:{NUMBERED}",
        "kind": "missed_call",
        "reason": "three replies and no call yet — a call often settles it",
    }
    message = build_coach_message(record, None, "Case R&D-<42>")
    title = "A call might help (Case R&amp;D-&lt;42&gt;)"
    reason = "three replies and no call yet — a call often settles it"
    assert message == {
        "text": f"{title} — {reason}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}* — {reason}"}}
        ],
    }
