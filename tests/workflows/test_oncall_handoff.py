"""The on-call shift hand-off: a scheduled job run by replay --until on its simulated clock,
and posted to the fake Slack by the dispatcher."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import yaml
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.rules import load_rules
from deskbridge.workflows.model import Priority, Status, TicketState
from deskbridge.workflows.rotation import Override
from deskbridge.workflows.rules.oncall_handoff import build_handoff, list_handoffs
from tests.test_replay_oncall import EXAMPLE, LENA, PRIYA, SAM, TOM
from tests.test_replay_sla import body, status


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_handoffs_are_at_nine_local_across_dst():
    rules = load_rules(EXAMPLE)
    assert list_handoffs(rules, utc("2026-03-16T00:00:00"), utc("2026-04-07T00:00:00")) == [
        utc("2026-03-16T09:00:00"),
        utc("2026-03-23T09:00:00"),
        utc("2026-03-30T08:00:00"),  # 09:00 BST
        utc("2026-04-06T08:00:00"),
    ]
    # An occurrence exactly at the window's start is the previous window's.
    assert list_handoffs(rules, utc("2026-03-16T09:00:00"), utc("2026-03-23T09:00:00")) == [
        utc("2026-03-23T09:00:00")
    ]


class Reader:
    def __init__(self, tickets, overrides=()):
        self.tickets = tickets
        self.overrides = list(overrides)
        self.asked = []

    def list_oncall_overrides(self, ending_after):
        return self.overrides

    def list_paged_tickets(self, since, until):
        self.asked.append((since, until))
        return self.tickets


def paged(number: str, status: Status, acknowledged_by=None) -> TicketState:
    from deskbridge.workflows.model import OncallChain

    return TicketState(
        key=f"zendesk:{number}",
        source="zendesk",
        ticket_id=number,
        subject="Sofa delivery failed",
        status=status,
        priority=Priority.urgent,
        oncall=OncallChain(
            id="2026-01-10T23:10:00+00:00",
            trigger="urgent_created",
            reason="urgent ticket created after hours",
            started_at=utc("2026-01-10T23:10:00"),
            steps=[],
            acknowledged_by=acknowledged_by,
        ),
    )


def test_handoff_post_names_who_is_on_call_next_and_what_is_open():
    rules = load_rules(EXAMPLE)
    at = utc("2026-01-12T09:00:00")
    reader = Reader(
        [paged("1", Status.open, "Priya Raman"), paged("2", Status.solved), paged("3", Status.new)]
    )
    (action,) = build_handoff(at, rules, reader)
    assert reader.asked == [(utc("2026-01-05T09:00:00"), at)]  # the last shift
    record = action.to_record()
    assert record["ticket"] == "job:oncall_handoff"
    assert record["key"] == "job:oncall_handoff:oncall:2026-01-12T09:00:00Z"
    assert (record["action"], record["channel"], record["person"], record["next"]) == (
        "notify",
        "#resolution-oncall",
        LENA,
        TOM,
    )
    assert record["text"] == (
        "On-call hand-off, Mon 12 Jan 2026 09:00 GMT\n"
        "Now on call: Lena Fischer until Mon 19 Jan 2026 09:00 GMT; next: Tom Okafor\n"
        "Still open from the last shift (2):\n"
        "#1 Sofa delivery failed: open, paged Sat 10 Jan 2026 23:10 GMT, acknowledged by "
        "Priya Raman\n"
        "#3 Sofa delivery failed: new, paged Sat 10 Jan 2026 23:10 GMT, not acknowledged"
    )


def test_handoff_names_a_salesforce_case_by_its_case_number():
    from deskbridge.workflows.model import evolve

    # It named the case by its record id ("#5005j00000TqW8hAAF"), which nobody on call knows;
    # the alerts and /deskbridge ticket use the CaseNumber.
    case = evolve(
        paged("5005j00000TqW8hAAF", Status.open),
        {"key": "salesforce:5005j00000TqW8hAAF", "source": "salesforce", "number": "00001042"},
    )
    (action,) = build_handoff(utc("2026-01-12T09:00:00"), load_rules(EXAMPLE), Reader([case]))
    assert action.params["text"].splitlines()[3] == (
        "#00001042 Sofa delivery failed: open, paged Sat 10 Jan 2026 23:10 GMT, not acknowledged"
    )
    assert action.params["open"][0]["number"] == "00001042"


def handoff_names(at: str, overrides=(), rules=None) -> tuple:
    """Who the hand-off at `at` (UTC) names: the person on call, who is next, until when (its
    params), and its line saying so."""
    (action,) = build_handoff(utc(at), rules or load_rules(EXAMPLE), Reader([], overrides))
    params = action.params
    return params["person"], params["next"], params["until"], params["text"].splitlines()[1]


def test_handoff_with_an_override_and_nothing_open():
    # Priya covers the first morning of Lena's week: Lena takes over from her at 12:00, not
    # Tom at the next hand-off.
    cover = Override(PRIYA, utc("2026-01-12T08:00:00"), utc("2026-01-12T12:00:00"))
    assert handoff_names("2026-01-12T09:00:00", [cover]) == (
        PRIYA,
        LENA,
        "2026-01-12T12:00:00+00:00",
        "Now on call: Priya Raman until Mon 12 Jan 2026 12:00 GMT; next: Lena Fischer",
    )
    (action,) = build_handoff(utc("2026-01-12T09:00:00"), load_rules(EXAMPLE), Reader([]))
    assert action.params["text"].splitlines()[2:] == [
        "Nothing paged in the last shift is still open."
    ]


def test_an_override_carrying_the_person_on_call_past_the_next_handoff_names_who_follows():
    # Priya is off sick for the first two days of her week: Tom, on call this week, stays on
    # until Wednesday 09:00. The hand-off to Tom's week says so, and that Priya follows him
    # (it said "Now on call: Tom Okafor; next: Tom Okafor"); so does the one to Priya's week.
    cover = Override(TOM, utc("2026-01-26T09:00:00"), utc("2026-01-28T09:00:00"), by=SAM)
    told = (
        TOM,
        PRIYA,
        "2026-01-28T09:00:00+00:00",
        "Now on call: Tom Okafor until Wed 28 Jan 2026 09:00 GMT; next: Priya Raman",
    )
    assert handoff_names("2026-01-19T09:00:00", [cover]) == told
    assert handoff_names("2026-01-26T09:00:00", [cover]) == told


def test_a_rotation_of_one_names_the_one_member_until_the_next_handoff(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["oncall"]["rotation"]["members"] = [PRIYA]
    data["oncall"]["overrides"] = []
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(data))
    assert handoff_names("2026-01-12T09:00:00", rules=load_rules(tmp_path / "rules.yaml")) == (
        PRIYA,
        PRIYA,
        "2026-01-19T09:00:00+00:00",
        "Now on call: Priya Raman until Mon 19 Jan 2026 09:00 GMT; next: Priya Raman",
    )


def test_the_handoff_post_names_who_will_really_be_on_call_next():
    # Tom covers the whole of Lena's coming week (Mon 2 Feb 09:00 - Mon 9 Feb 09:00) by an
    # override. At the hand-off to Priya's week (Mon 26 Jan 09:00) the on-call channel is told
    # who is next: Tom, not Lena (who is away).
    cover = Override(TOM, utc("2026-02-02T09:00:00"), utc("2026-02-09T09:00:00"), by=SAM)
    assert handoff_names("2026-01-26T09:00:00", [cover]) == (
        PRIYA,
        TOM,
        "2026-02-02T09:00:00+00:00",
        "Now on call: Priya Raman until Mon 02 Feb 2026 09:00 GMT; next: Tom Okafor",
    )


def test_replay_runs_the_handoff_at_its_time_with_the_open_page():
    created = "2026-01-10T23:10:00Z"
    lines = [
        body("created", "730", created, 1, status="NEW"),
        body("created", "731", "2026-01-11T02:00:00Z", 1, status="NEW"),
        status("731", "2026-01-11T03:00:00Z", 2, "SOLVED", "NEW", "2026-01-11T02:00:00Z"),
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    result = CliRunner().invoke(
        main, ["replay", "-", "--until", "2026-01-12T10:00:00Z"], input=text
    )
    assert result.exit_code == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    handoffs = [o for o in out if o["ticket"] == "job:oncall_handoff"]
    assert [(o["at"], o["person"], o["next"]) for o in handoffs] == [
        ("2026-01-12T09:00:00Z", LENA, TOM)
    ]
    assert [(i["ticket"], i["status"]) for i in handoffs[0]["open"]] == [("zendesk:730", "new")]
