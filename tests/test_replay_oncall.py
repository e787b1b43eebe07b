"""After-hours paging through `deskbridge replay --until` with the example config (Mon-Fri
09:00-18:00 Europe/London; weekly rotation Priya → Lena → Tom from Monday 2026-01-05 09:00;
steps at 0, +10 (again), +20 (next member), +30 min (leads: Sam))."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.rules import load_rules
from deskbridge.workflows.model import EventKind, Source, TicketEvent
from deskbridge.workflows.replay import ReplayFeed
from deskbridge.workflows.rotation import Override
from deskbridge.workflows.rules import JOBS
from tests.test_replay_sla import AGENT, body, customer, delivered, reply, status

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
PRIYA, LENA, TOM, SAM = "U02PRIYA01", "U02LENAF01", "U02TOMOK01", "U02SAMWL01"


def replay(lines: list[dict], until: str, config: Path = EXAMPLE) -> list[dict]:
    text = "".join(json.dumps(line) + "\n" for line in lines)
    result = CliRunner().invoke(
        main, ["replay", "-", "--until", until, "--config", str(config)], input=text
    )
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def pages(out: list[dict]) -> list[tuple]:
    return [
        (o["at"], o["step"], o["person"], o["people"], o["channels"])
        for o in out
        if o["action"] == "page_oncall"
    ]


def pager(out: list[dict]) -> list[tuple]:
    return [(o["at"], o["event_action"], o["dedup_key"]) for o in out if o["action"] == "pager"]


ONCALL = ["#resolution-oncall"]
LEADS = ["#resolution-oncall", "#resolution-leads"]


def test_urgent_ticket_saturday_2310_pages_at_once_then_up_the_chain():
    created = "2026-01-10T23:10:00Z"  # Saturday; Priya's week, Lena next
    out = replay([body("created", "701", created, 1, status="NEW")], until="2026-01-11T06:00:00Z")
    assert pages(out) == [
        ("2026-01-10T23:10:00Z", 0, PRIYA, [PRIYA], ONCALL),
        ("2026-01-10T23:20:00Z", 1, PRIYA, [PRIYA], ONCALL),
        ("2026-01-10T23:30:00Z", 2, LENA, [LENA], ONCALL),
        ("2026-01-10T23:40:00Z", 3, SAM, [SAM], LEADS),
    ]
    first = next(o for o in out if o["action"] == "page_oncall")
    assert first["reason"] == "urgent ticket created after hours"
    assert first["key"] == "zendesk:701:oncall:2026-01-10T23:10:00+00:00:0"
    assert first["trigger"] == "urgent_created"
    later = [o["reason"] for o in out if o["action"] == "page_oncall"][1:]
    assert later == [
        "not acknowledged 10 min after the first page (urgent ticket created after hours): "
        "paging the person on call",
        "not acknowledged 20 min after the first page (urgent ticket created after hours): "
        "paging the next on the rotation",
        "not acknowledged 30 min after the first page (urgent ticket created after hours): "
        "paging the leads",
    ]
    # Every page is also a pager trigger for the same incident (the ticket).
    assert pager(out) == [
        (at, "trigger", "zendesk:701")
        for at in (
            "2026-01-10T23:10:00Z",
            "2026-01-10T23:20:00Z",
            "2026-01-10T23:30:00Z",
            "2026-01-10T23:40:00Z",
        )
    ]


def test_solving_stops_the_later_steps():
    created = "2026-01-10T23:10:00Z"
    out = replay(
        [
            body("created", "702", created, 1, status="NEW"),
            status("702", "2026-01-10T23:25:00Z", 2, "SOLVED", "NEW", created),
        ],
        until="2026-01-11T06:00:00Z",
    )
    assert [(at, step) for at, step, *_ in pages(out)] == [
        ("2026-01-10T23:10:00Z", 0),
        ("2026-01-10T23:20:00Z", 1),
    ]
    assert pager(out)[-1] == ("2026-01-10T23:25:00Z", "resolve", "zendesk:702")


def test_the_same_ticket_tuesday_1000_pages_nobody():
    created = "2026-01-13T10:00:00Z"  # Tuesday, within business hours
    out = replay([body("created", "703", created, 1, status="NEW")], until="2026-01-13T12:00:00Z")
    assert pages(out) == []
    assert pager(out) == []


def test_a_chain_begun_before_opening_goes_on_after_it_opens():
    # README: no chain starts in business hours, but one begun at 08:55 on a Tuesday (Lena's
    # week) pages its steps at 09:05, 09:15 and 09:25 until someone acknowledges.
    created = "2026-01-13T08:55:00Z"
    out = replay([body("created", "715", created, 1, status="NEW")], until="2026-01-13T10:00:00Z")
    steps = [("2026-01-13T08:55:00Z", LENA, ONCALL), ("2026-01-13T09:05:00Z", LENA, ONCALL)]
    steps += [("2026-01-13T09:15:00Z", TOM, ONCALL), ("2026-01-13T09:25:00Z", SAM, LEADS)]
    assert pages(out) == [(at, n, who, [who], where) for n, (at, who, where) in enumerate(steps)]


def test_a_bank_holiday_is_after_hours():
    created = "2026-12-25T10:00:00Z"  # Christmas Day, a Friday
    out = replay([body("created", "704", created, 1, status="NEW")], until="2026-12-25T10:05:00Z")
    assert pages(out)[0][:3] == ("2026-12-25T10:00:00Z", 0, rotation_person("2026-12-25T10:00:00"))


def test_a_normal_priority_ticket_pages_nobody():
    created = "2026-01-10T23:10:00Z"
    line = body("created", "705", created, 1, status="NEW", priority="NORMAL")
    assert pages(replay([line], until="2026-01-11T06:00:00Z")) == []


def test_a_second_paging_event_goes_to_the_chain_thread(tmp_path):
    created = "2026-01-10T23:10:00Z"
    legal = "I will take legal action and contact the ombudsman"
    escalate = customer("706", "2026-01-10T23:12:00Z", 2, created, legal)
    out = replay(
        [body("created", "706", created, 1, status="NEW"), escalate],
        until="2026-01-10T23:15:00Z",
    )
    assert [(o["at"], o["action"]) for o in out if o["action"] == "escalate"] == [
        ("2026-01-10T23:12:00Z", "escalate")
    ]
    assert [p[:2] for p in pages(out)] == [("2026-01-10T23:10:00Z", 0)]
    also = [o for o in out if o["rule"] == "oncall" and o["action"] == "notify"]
    assert [(o["at"], o["target"], o["text"]) for o in also] == [
        (
            "2026-01-10T23:12:00Z",
            "thread",
            # Why, as the escalation says it: the on-call channel is told nothing else of it.
            "Also: escalated to the specialist tier after hours — risk 3 ≥ 3: mentions "
            '"ombudsman" (legal, 3) (already paged)',
        )
    ]


def rotation_person(local_utc: str) -> str:
    from deskbridge.workflows.rotation import build_rotation

    rotation = build_rotation(load_rules(EXAMPLE))
    return rotation.rotation_person(datetime.fromisoformat(local_utc).replace(tzinfo=UTC))


def test_the_example_override_pages_tom_on_saturday_7_march():
    out = replay(
        [body("created", "707", "2026-03-07T23:10:00Z", 1, status="NEW")],
        until="2026-03-07T23:11:00Z",
    )
    assert pages(out) == [("2026-03-07T23:10:00Z", 0, TOM, [TOM], ONCALL)]


def test_an_override_covering_the_event_time_pages_the_override_person(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    # Sam covers Saturday evening of Priya's week, mid-shift.
    data["oncall"]["overrides"] = [
        {"person": SAM, "from": "2026-01-10T18:00", "to": "2026-01-11T08:00"}
    ]
    config = tmp_path / "rules.yaml"
    config.write_text(yaml.safe_dump(data))
    out = replay(
        [
            body("created", "708", "2026-01-10T23:10:00Z", 1, status="NEW"),
            body("created", "709", "2026-01-11T08:30:00Z", 1, status="NEW"),
        ],
        until="2026-01-11T08:31:00Z",
        config=config,
    )
    first_pages = [(p[0], p[2]) for p in pages(out) if p[1] == 0]
    assert first_pages == [("2026-01-10T23:10:00Z", SAM), ("2026-01-11T08:30:00Z", PRIYA)]


def test_autumn_dst_weekend_hands_off_at_nine_local():
    # Clocks go back on Sunday 2026-10-25. Monday 08:30 UTC is 08:30 GMT: still the old
    # shift (hand-off at 09:00 GMT = 09:00 UTC), and before opening time.
    before = rotation_person("2026-10-26T08:00:00")
    after = rotation_person("2026-10-26T09:00:00")
    assert before != after
    out = replay(
        [
            body("created", "711", "2026-10-19T07:30:00Z", 1, status="NEW"),
            body("created", "712", "2026-10-19T08:30:00Z", 1, status="NEW"),
            body("created", "710", "2026-10-26T08:30:00Z", 1, status="NEW"),
        ],
        until="2026-10-26T08:31:00Z",
    )
    # Each ticket's first chain (711 is paged again when its resolution target runs out at
    # 18:00 BST, after hours: a new chain in the week that started at 09:00 BST).
    firsts: dict[str, str] = {}
    for o in out:
        if o["action"] == "page_oncall" and o["step"] == 0:
            firsts.setdefault(o["ticket"], o["person"])
    assert firsts["zendesk:710"] == before
    # A week earlier (BST) the hand-off was at 09:00 BST = 08:00 UTC.
    assert firsts["zendesk:711"] == rotation_person("2026-10-19T07:00:00")
    # 712 (09:30 BST: business hours) is not paged when created; still unanswered when the
    # office closes at 18:00 BST, it is (its urgent first reply target long run out).
    first_712 = next(
        o for o in out if o["ticket"] == "zendesk:712" and o["action"] == "page_oncall"
    )
    assert (first_712["at"], first_712["trigger"]) == ("2026-10-19T17:00:00Z", "sla_breach_urgent")


def test_spring_dst_weekend_daily_handoff_at_local_time(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["oncall"]["rotation"].update(shift="daily", handoff="20:00")
    data["oncall"]["overrides"] = []
    config = tmp_path / "rules.yaml"
    config.write_text(yaml.safe_dump(data))
    # Clocks go forward on Sunday 2026-03-29: 20:00 BST is 19:00 UTC.
    out = replay(
        [
            body("created", "713", "2026-03-29T18:59:00Z", 1, status="NEW"),
            body("created", "714", "2026-03-29T19:00:00Z", 1, status="NEW"),
        ],
        until="2026-03-29T19:01:00Z",
        config=config,
    )
    firsts = {
        o["ticket"]: o["person"] for o in out if o["action"] == "page_oncall" and o["step"] == 0
    }
    days = (datetime(2026, 3, 29) - datetime(2026, 1, 5)).days  # shift index on the 29th
    members = [PRIYA, LENA, TOM]
    assert firsts == {
        "zendesk:713": members[(days - 1) % 3],
        "zendesk:714": members[days % 3],
    }


# -- acknowledgement: a Slack event, fed through the same service and timer stepping as replay


def acknowledged(ticket: str, at: str, by: str = "Priya Raman") -> TicketEvent:
    return TicketEvent(
        source=Source.zendesk,
        ticket_id=ticket,
        dedupe_key=f"slack:ack:{ticket}:{at}",
        kind=EventKind.acknowledged,
        occurred_at=datetime.fromisoformat(at),
        actor_id=PRIYA,
        vendor_type="slack:deskbridge.ack",
        meta={"by": by},
    )


def run_service(
    steps: list, until: str, overrides: list[Override] = (), config: Path = EXAMPLE
) -> list[dict]:
    """The replay engine fed Zendesk lines and Slack events (which replay files cannot hold):
    events at their times, due timers fired at their due times."""
    from deskbridge.connectors.zendesk.parse import parse_zendesk

    feed = ReplayFeed(load_rules(config), JOBS)
    with feed.store.writing() as session:
        for override in overrides:
            session.insert_override(override, datetime(2026, 1, 1, tzinfo=UTC))
    out: list[dict] = []
    for step in steps:
        if isinstance(step, TicketEvent):
            at, events, raw = step.occurred_at, [step], "{}"
        else:
            at = datetime.fromisoformat(step["at"])
            raw = json.dumps(step["body"])
            events = parse_zendesk(raw.encode(), at)
        out += list(feed.add(events, raw, at))
    out += list(feed.finish(datetime.fromisoformat(until)))
    return out


def test_an_acknowledgement_between_steps_stops_all_later_ones():
    created = "2026-01-10T23:10:00Z"
    out = run_service(
        [
            body("created", "720", created, 1, status="NEW"),
            acknowledged("720", "2026-01-10T23:25:00+00:00"),
        ],
        until="2026-01-11T06:00:00+00:00",
    )
    assert [o["step"] for o in out if o["action"] == "page_oncall"] == [0, 1]
    assert [o["event_action"] for o in out if o["action"] == "pager"] == [
        "trigger",
        "trigger",
        "acknowledge",
    ]


def test_a_second_chain_on_the_reopened_ticket_is_acknowledged_afresh_and_once():
    # Chain 1 pages Priya, she acknowledges, the ticket is solved; the customer reopens it with
    # legal words and chain 2 pages her again. Its acknowledgement is noted on the ticket and
    # told in the thread (the reply refreshes chain 2's page: its button goes) as chain 1's
    # was. The same click delivered twice, and the lead's click on chain 2 after hers, decide
    # nothing more.
    created = "2026-01-10T23:10:00Z"
    legal = "My lawyer will file a chargeback and I will complain to the ombudsman"
    out = run_service(
        [
            body("created", "722", created, 1, status="NEW"),
            acknowledged("722", "2026-01-10T23:15:00+00:00"),
            status("722", "2026-01-11T00:00:00Z", 3, "SOLVED", "NEW", created),
            customer("722", "2026-01-11T01:00:00Z", 4, created, legal),
            acknowledged("722", "2026-01-11T01:05:00+00:00"),
            acknowledged("722", "2026-01-11T01:05:00+00:00"),
            acknowledged("722", "2026-01-11T01:06:00+00:00", by="Sam Whitaker"),
        ],
        until="2026-01-11T06:00:00+00:00",
    )
    chain1, chain2 = "2026-01-10T23:10:00+00:00", "2026-01-11T01:00:00+00:00"
    told = [
        (
            o["at"],
            o["action"],
            o["key"].removeprefix("zendesk:722:"),
            o.get("body") or o.get("text"),
        )
        for o in out
        if (o["rule"] == "interactions" and "ack" in o["key"]) or o["action"] == "pager"
    ]
    assert told == [
        ("2026-01-10T23:10:00Z", "pager", f"oncall:{chain1}:trigger:0", None),
        (
            "2026-01-10T23:15:00Z",
            "note",
            f"interactions:ack:{chain1}:note",
            "deskbridge: alert acknowledged in Slack by Priya Raman.",
        ),
        (
            "2026-01-10T23:15:00Z",
            "notify",
            f"interactions:ack:{chain1}",
            "Acknowledged by Priya Raman",
        ),
        ("2026-01-10T23:15:00Z", "pager", f"oncall:{chain1}:acknowledge", None),
        ("2026-01-11T00:00:00Z", "pager", f"oncall:{chain1}:resolve", None),
        ("2026-01-11T01:00:00Z", "pager", f"oncall:{chain2}:trigger:0", None),
        (
            "2026-01-11T01:05:00Z",
            "note",
            f"interactions:ack:{chain2}:note",
            "deskbridge: alert acknowledged in Slack by Priya Raman.",
        ),
        (
            "2026-01-11T01:05:00Z",
            "notify",
            f"interactions:ack:{chain2}",
            "Acknowledged by Priya Raman",
        ),
        ("2026-01-11T01:05:00Z", "pager", f"oncall:{chain2}:acknowledge", None),
    ]
    refresh = [o["refresh"] for o in out if o["key"] == f"zendesk:722:interactions:ack:{chain2}"]
    assert refresh == [True]


def test_a_stored_override_pages_its_person():
    at = datetime(2026, 1, 10, 23, 0, tzinfo=UTC)
    override = Override(LENA, at, datetime(2026, 1, 11, 1, tzinfo=UTC), by=SAM)
    out = run_service(
        [body("created", "721", "2026-01-10T23:10:00Z", 1, status="NEW")],
        until="2026-01-10T23:11:00+00:00",
        overrides=[override],
    )
    assert [(o["step"], o["person"]) for o in out if o["action"] == "page_oncall"] == [(0, LENA)]


def test_an_old_urgent_ticket_seen_for_the_first_time_is_not_paged_as_new():
    # deskbridge meets ticket 740 (created Thursday) only on Saturday night, by a comment: not
    # an urgent ticket created after hours, but one unanswered since Thursday, its first reply
    # target run out: paged as that, when deskbridge learns of it.
    line = body("comment_added", "740", "2026-01-10T23:10:00Z", 1, created="2026-01-08T10:00:00Z")
    line["body"]["event"] = {
        "comment": {
            "id": "7401",
            "is_public": True,
            "body": "Any news?",
            "author": {"id": "77", "is_staff": False, "name": "Customer"},
        }
    }
    out = replay([line], until="2026-01-11T06:00:00Z")
    # Its breach (due Thursday 11:00, known now) pages first: replay dates the first page with
    # the breach, at the deadline; it goes out at 23:10 (the chain's id, the pager's paged_at),
    # and the later steps count from then. The unanswered watch pages no more.
    assert [p[:3] for p in pages(out)] == [
        ("2026-01-08T11:00:00Z", 0, PRIYA),
        ("2026-01-10T23:20:00Z", 1, PRIYA),
        ("2026-01-10T23:30:00Z", 2, LENA),
        ("2026-01-10T23:40:00Z", 3, SAM),
    ]
    first = next(o for o in out if o["action"] == "page_oncall")
    assert (first["trigger"], first["reason"], first["key"]) == (
        "sla_breach_urgent",
        # Which target ran out, and when, said in the page (the SLA rule's reason).
        "urgent ticket breached its SLA after hours — first reply target of 1h business-hours "
        "missed at Thu 08 Jan 11:00, 2 days ago",
        "zendesk:740:oncall:2026-01-10T23:10:00+00:00:0",
    )
    paged_at = [o["paged_at"] for o in out if o["action"] == "pager"]
    assert paged_at == [f"2026-01-10T23:{m}:00+00:00" for m in ("10", "20", "30", "40")]


FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ticket_created.json"


def test_the_readme_webhook_fixture_pages_only_when_written_and_sent_after_hours():
    """The README's "Try a webhook by hand": its `vip` ticket is escalated whenever it is sent.
    Written on Tuesday 2025-03-04 at 09:15, in business hours, it pages nobody even sent at
    night (a ticket the team saw in the helpdesk then, as a backlog delivered late); the same
    ticket written at 19:50 and sent at 20:00 pages the on-call."""
    fixture = json.loads(FIXTURE.read_text())

    def sent(at: str, body: dict = fixture) -> list[dict]:
        return replay([{"at": at, "source": "zendesk", "body": body}], until=at)

    def paging(outcome: list[dict]) -> list[str]:
        return [o["action"] for o in outcome if o["action"] in ("escalate", "page_oncall")]

    assert paging(sent("2026-03-03T10:00:00Z")) == ["escalate"]  # a Tuesday, 10:00 in London
    assert paging(sent("2026-03-03T20:00:00Z")) == ["escalate"]  # the same Tuesday, 20:00

    evening = json.loads(FIXTURE.read_text().replace("2025-03-04T09:15:22", "2026-03-03T19:50:00"))
    after = sent("2026-03-03T20:00:00Z", evening)
    assert paging(after) == ["escalate", "page_oncall"]
    page = next(o for o in after if o["action"] == "page_oncall")
    assert (page["trigger"], page["reason"], page["person"]) == (
        "escalated",
        'escalated to the specialist tier after hours — risk 3 ≥ 3: tagged "vip" (vip, 3)',
        TOM,
    )


def test_the_text_timeline_names_who_each_page_goes_to_and_the_pagers_step():
    """Was "page_oncall, pager": not who was paged, nor what the pager was told."""
    line = body("created", "701", "2026-01-10T23:10:00Z", 1, status="NEW")
    result = CliRunner().invoke(
        main,
        ["replay", "-", "--until", "2026-01-11T06:00:00Z", "--format", "text"],
        input=json.dumps(line) + "\n",
    )
    assert result.exit_code == 0, result.stderr
    pages = [line for line in result.stdout.splitlines() if "page_oncall" in line]
    assert pages == [
        "23:10  zendesk:701      page_oncall → U02PRIYA01 (#resolution-oncall), pager trigger",
        "23:20  zendesk:701      page_oncall → U02PRIYA01 (#resolution-oncall), pager trigger",
        "23:30  zendesk:701      page_oncall → U02LENAF01 (#resolution-oncall), pager trigger",
        "23:40  zendesk:701      page_oncall → U02SAMWL01 (#resolution-oncall, "
        "#resolution-leads), pager trigger",
    ]


LEGAL = "I will take legal action and contact the ombudsman"


def legal_threat(ticket: str, at: str, n: int, created: str) -> dict:
    """The customer's message with legal words: the risk rule escalates the ticket."""
    return customer(ticket, at, n, created, LEGAL)


def paged_then_waiting(ticket: str, acked: bool = True) -> list:
    """Urgent `ticket` created on Saturday 10 Jan 23:10 (Priya's week) and paged; Priya
    acknowledges at 23:15 (when `acked`); at 23:50 it waits on the customer (pending: no SLA
    clock runs out meanwhile)."""
    created = "2026-01-10T23:10:00Z"
    return [
        body("created", ticket, created, 1, status="NEW"),
        *([acknowledged(ticket, "2026-01-10T23:15:00+00:00")] if acked else []),
        status(ticket, "2026-01-10T23:50:00Z", 2, "PENDING", "NEW", created),
    ]


@pytest.mark.parametrize("acked", [True, False], ids=["acknowledged", "never_acknowledged"])
def test_a_paging_event_a_week_after_an_earlier_chain_pages_who_is_on_call_now(acked):
    # Ticket 730 is created urgent on Saturday night (Priya's week) and paged; Priya
    # acknowledges it (or nobody does, and every step pages). The agent asks the customer and
    # the ticket waits (pending: no SLA clock runs out meanwhile). A week later (Lena's week),
    # Saturday 23:00, the customer threatens legal action: escalated after hours. The earlier
    # chain pages no more, so a new one pages Lena and goes on up its steps; it was an
    # "Also: … (already paged)" line in last week's thread, which paged nobody.
    out = run_service(
        [
            *paged_then_waiting("730", acked),
            legal_threat("730", "2026-01-17T23:00:00Z", 3, "2026-01-10T23:10:00Z"),
        ],
        until="2026-01-18T01:00:00+00:00",
    )
    assert [o["at"] for o in out if o["action"] == "escalate"] == ["2026-01-17T23:00:00Z"]
    chain1, chain2 = "2026-01-10T23:10:00+00:00", "2026-01-17T23:00:00+00:00"
    first = [
        ("2026-01-10T23:10:00Z", 0, PRIYA, [PRIYA], ONCALL),
        *(
            []
            if acked
            else [
                ("2026-01-10T23:20:00Z", 1, PRIYA, [PRIYA], ONCALL),
                ("2026-01-10T23:30:00Z", 2, LENA, [LENA], ONCALL),
                ("2026-01-10T23:40:00Z", 3, SAM, [SAM], LEADS),
            ]
        ),
    ]
    assert pages(out) == [
        *first,
        ("2026-01-17T23:00:00Z", 0, LENA, [LENA], ONCALL),
        ("2026-01-17T23:10:00Z", 1, LENA, [LENA], ONCALL),
        ("2026-01-17T23:20:00Z", 2, TOM, [TOM], ONCALL),
        ("2026-01-17T23:30:00Z", 3, SAM, [SAM], LEADS),
    ]
    told = [o for o in out if o["ticket"] == "zendesk:730" and o["rule"] == "oncall"]
    assert [o for o in told if o["action"] == "notify"] == []  # no "Also: … (already paged)"
    # The pager's incident is the ticket's: last week's (acknowledged, or triggered still) is
    # resolved first, so the new trigger opens a new incident instead of joining the old.
    pager_keys = [
        o["key"].removeprefix("zendesk:730:oncall:") for o in out if o["action"] == "pager"
    ]
    assert pager_keys == [
        f"{chain1}:trigger:0",
        *([f"{chain1}:acknowledge"] if acked else [f"{chain1}:trigger:{n}" for n in (1, 2, 3)]),
        f"{chain1}:resolve",
        *[f"{chain2}:trigger:{n}" for n in range(4)],
    ]
    resolve = next(o for o in out if o["key"] == f"zendesk:730:oncall:{chain1}:resolve")
    assert (resolve["at"], resolve["reason"], resolve["replaced"], resolve["dedup_key"]) == (
        "2026-01-17T23:00:00Z",
        "replaced by a new on-call chain",
        chain2,
        "zendesk:730",
    )


def test_an_sla_breach_after_the_chain_was_acknowledged_pages_again():
    # The reviewer's first case as it happens: ticket 731 paged and acknowledged on Saturday
    # night stays open; its urgent resolution target runs out at Monday 18:00, closing time.
    # That breach after hours pages Lena (on call since Monday 09:00), not a thread line.
    created = "2026-01-10T23:10:00Z"
    out = run_service(
        [
            body("created", "731", created, 1, status="NEW"),
            acknowledged("731", "2026-01-10T23:15:00+00:00"),
        ],
        until="2026-01-12T18:01:00+00:00",
    )
    breach = [(o["at"], o["metric"]) for o in out if o["action"] == "sla_breach"]
    assert breach[-1] == ("2026-01-12T18:00:00Z", "resolution")
    assert [(at, step, person) for at, step, person, *_ in pages(out)] == [
        ("2026-01-10T23:10:00Z", 0, PRIYA),
        ("2026-01-12T18:00:00Z", 0, LENA),
    ]
    page = [o for o in out if o["action"] == "page_oncall"][-1]
    assert (page["key"], page["trigger"]) == (
        "zendesk:731:oncall:2026-01-12T18:00:00+00:00:0",
        "sla_breach_urgent",
    )


def test_an_acknowledged_chain_and_a_new_escalation_in_one_instant_are_two_chains():
    # Lena acknowledges ticket 732's page and, in the same second, the customer's legal
    # threat is escalated. The new chain starts when the old one did its acknowledgement: its
    # id is numbered, so none of its keys (pages, pager, acknowledgement) is the first one's.
    created = "2026-01-17T23:00:00Z"
    out = run_service(
        [
            body("created", "732", created, 1, status="NEW"),
            acknowledged("732", "2026-01-17T23:00:00+00:00", by="Lena Fischer"),
            legal_threat("732", created, 2, created),
            acknowledged("732", "2026-01-17T23:05:00+00:00", by="Lena Fischer"),
        ],
        until="2026-01-17T23:06:00+00:00",
    )
    told = [
        (o["at"], o["action"], o["key"].removeprefix("zendesk:732:"))
        for o in out
        if o["rule"] == "oncall" or (o["rule"] == "interactions" and "ack" in o["key"])
    ]
    chain1, chain2 = "2026-01-17T23:00:00+00:00", "2026-01-17T23:00:00+00:00#2"
    assert told == [
        ("2026-01-17T23:00:00Z", "page_oncall", f"oncall:{chain1}:0"),
        ("2026-01-17T23:00:00Z", "pager", f"oncall:{chain1}:trigger:0"),
        ("2026-01-17T23:00:00Z", "note", f"interactions:ack:{chain1}:note"),
        ("2026-01-17T23:00:00Z", "notify", f"interactions:ack:{chain1}"),
        ("2026-01-17T23:00:00Z", "pager", f"oncall:{chain1}:acknowledge"),
        ("2026-01-17T23:00:00Z", "pager", f"oncall:{chain1}:resolve"),
        ("2026-01-17T23:00:00Z", "page_oncall", f"oncall:{chain2}:0"),
        ("2026-01-17T23:00:00Z", "pager", f"oncall:{chain2}:trigger:0"),
        ("2026-01-17T23:05:00Z", "note", f"interactions:ack:{chain2}:note"),
        ("2026-01-17T23:05:00Z", "notify", f"interactions:ack:{chain2}"),
        ("2026-01-17T23:05:00Z", "pager", f"oncall:{chain2}:acknowledge"),
    ]


def test_the_next_step_pages_someone_other_than_the_person_who_did_not_answer(tmp_path):
    # Priya's week (Lena is next on the rotation); Lena covers Saturday night by an override.
    # An urgent ticket at 23:10 pages Lena (step 0, again at step 1). Nobody answers: the
    # "next" step (+20 min) is there to reach somebody else. Lena takes the next shift too, so
    # it is Tom, who follows her; it paged Lena a third time.
    data = yaml.safe_load(EXAMPLE.read_text())
    data["oncall"]["overrides"] = [
        {"person": LENA, "from": "2026-01-10T18:00", "to": "2026-01-11T08:00"}
    ]
    config = tmp_path / "rules.yaml"
    config.write_text(yaml.safe_dump(data))
    out = replay(
        [body("created", "733", "2026-01-10T23:10:00Z", 1, status="NEW")],
        until="2026-01-11T06:00:00Z",
        config=config,
    )
    assert [(o["step"], o["notify"], o["person"]) for o in out if o["action"] == "page_oncall"] == [
        (0, "oncall", LENA),
        (1, "oncall", LENA),
        (2, "next", TOM),
        (3, "lead", SAM),
    ]


def test_with_nobody_else_on_the_rotation_the_next_step_says_so_in_the_thread(tmp_path):
    # A rotation of Priya alone: the "next" step has nobody else to page. It says so in the
    # chain's thread and pages nobody (no pager trigger either); the leads' step follows.
    data = yaml.safe_load(EXAMPLE.read_text())
    data["oncall"]["rotation"]["members"] = [PRIYA]
    data["oncall"]["overrides"] = []
    config = tmp_path / "rules.yaml"
    config.write_text(yaml.safe_dump(data))
    out = replay(
        [body("created", "734", "2026-01-10T23:10:00Z", 1, status="NEW")],
        until="2026-01-11T06:00:00Z",
        config=config,
    )
    assert [(at, step, person) for at, step, person, *_ in pages(out)] == [
        ("2026-01-10T23:10:00Z", 0, PRIYA),
        ("2026-01-10T23:20:00Z", 1, PRIYA),
        ("2026-01-10T23:40:00Z", 3, SAM),
    ]
    told = [o for o in out if o["rule"] == "oncall" and o["action"] == "notify"]
    # Said in the channels' threads and in the DM of the person it paged, not in every DM
    # about the ticket (the assignee's 3-response DM).
    assert [
        (o["at"], o["key"], o["target"], o["reason"], o["text"], o["reply_in"], o["reply_dm"])
        for o in told
    ] == [
        (
            "2026-01-10T23:30:00Z",
            "zendesk:734:oncall:2026-01-10T23:10:00+00:00:2",
            "thread",
            "not acknowledged 20 min after the first page (urgent ticket created after hours): "
            "nobody else on the rotation to page",
            "Not acknowledged 20 min after the first page, and nobody else on the rotation to "
            "page: everyone on it has been paged for this ticket.",
            "channels",
            [PRIYA],
        )
    ]
    assert [at for at, *_ in pager(out)] == [
        "2026-01-10T23:10:00Z",
        "2026-01-10T23:20:00Z",
        "2026-01-10T23:40:00Z",
    ]


def serve_keys(engine, steps: list, until: str, config: Path = EXAMPLE) -> list[str]:
    """The keys `serve` decides for `steps` (Zendesk lines and Slack events, each accepted at
    its time after the timers due by then have fired at theirs) and the timers due by
    `until`, in the order it decides them."""
    from deskbridge.connectors.zendesk.parse import parse_zendesk
    from deskbridge.workflows.service import WorkflowService
    from tests.conftest import fire_timers_until

    rules = load_rules(config)
    clock = {"now": datetime(2026, 1, 1, tzinfo=UTC)}
    service = WorkflowService(engine, rules, clock=lambda: clock["now"])
    keys: list[str] = []

    def fire(limit: datetime) -> None:
        for due, outcome in fire_timers_until(service, limit):
            clock["now"] = due
            keys.extend(a.key for a in outcome.actions)

    for step in steps:
        if isinstance(step, TicketEvent):
            at, events = step.occurred_at, [step]
        else:
            at = datetime.fromisoformat(step["at"])
            events = parse_zendesk(json.dumps(step["body"]).encode(), at)
        fire(at)
        clock["now"] = at
        for event in events:
            keys.extend(a.key for a in service.accept_event(event, "{}", at).actions)
    fire(datetime.fromisoformat(until))
    return keys


def test_serve_pages_the_second_chain_as_replay_does(engine):
    # The week-later escalation of an acknowledged chain, decided by serve's decider on the
    # store (SQLite and PostgreSQL): the same pages, pager events and acknowledgements, under
    # the same keys, as the replay engine.
    steps = [
        *paged_then_waiting("735"),
        legal_threat("735", "2026-01-17T23:00:00Z", 3, "2026-01-10T23:10:00Z"),
        acknowledged("735", "2026-01-17T23:25:00+00:00", by="Lena Fischer"),
    ]
    until = "2026-01-18T01:00:00+00:00"
    wanted = ("zendesk:735:oncall:", "zendesk:735:interactions:ack")
    replayed = [o["key"] for o in run_service(steps, until) if o["key"].startswith(wanted)]
    chain1, chain2 = "2026-01-10T23:10:00+00:00", "2026-01-17T23:00:00+00:00"
    assert [k.removeprefix("zendesk:735:") for k in replayed] == [
        f"oncall:{chain1}:0",
        f"oncall:{chain1}:trigger:0",
        f"interactions:ack:{chain1}:note",
        f"interactions:ack:{chain1}",
        f"oncall:{chain1}:acknowledge",
        f"oncall:{chain1}:resolve",
        f"oncall:{chain2}:0",
        f"oncall:{chain2}:trigger:0",
        f"oncall:{chain2}:1",
        f"oncall:{chain2}:trigger:1",
        f"oncall:{chain2}:2",
        f"oncall:{chain2}:trigger:2",
        f"interactions:ack:{chain2}:note",
        f"interactions:ack:{chain2}",
        f"oncall:{chain2}:acknowledge",
    ]
    assert [k for k in serve_keys(engine, steps, until) if k.startswith(wanted)] == replayed


# Friday 16 January 2026, Lena's week on call (Tom's from Monday 19 January 09:00). London is
# on UTC in January. The urgent policy's first reply target is 1 h of business time.
FRIDAY_CLOSE_UNTIL = "2026-01-19T09:00:00Z"  # Monday's opening


def test_an_urgent_ticket_created_friday_1701_unanswered_is_paged_when_its_hour_is_up():
    # Created in business hours, so not paged as new. Its first reply target counted only in
    # business hours would run out on Monday at 09:01: nobody paged all weekend. The hour
    # goes on counting after hours for paging: 59 min by 18:00, the last minute by 18:01.
    created = "2026-01-16T17:01:00Z"
    out = replay([body("created", "741", created, 1, status="NEW")], until=FRIDAY_CLOSE_UNTIL)
    assert pages(out) == [
        ("2026-01-16T18:01:00Z", 0, LENA, [LENA], ONCALL),
        ("2026-01-16T18:11:00Z", 1, LENA, [LENA], ONCALL),
        ("2026-01-16T18:21:00Z", 2, TOM, [TOM], ONCALL),
        ("2026-01-16T18:31:00Z", 3, SAM, [SAM], LEADS),
    ]
    first = next(o for o in out if o["action"] == "page_oncall")
    assert (first["trigger"], first["reason"]) == (
        "sla_breach_urgent",
        "urgent ticket unanswered after hours: its 1h first reply target ran out",
    )
    # The SLA figures stay on business time: the breach the review counts is Monday's.
    assert [(o["at"], o["metric"]) for o in out if o["action"] == "sla_breach"] == []


def test_an_urgent_ticket_breached_at_1759_friday_unanswered_is_paged_at_closing():
    # Created 16:59: its first reply target runs out at 17:59, in business hours (the leads'
    # channel is told). Still unanswered when the office closes at 18:00: paged then.
    created = "2026-01-16T16:59:00Z"
    out = replay([body("created", "742", created, 1, status="NEW")], until=FRIDAY_CLOSE_UNTIL)
    assert [(o["at"], o["metric"]) for o in out if o["action"] == "sla_breach"][:1] == [
        ("2026-01-16T17:59:00Z", "first_reply")
    ]
    assert [(at, step, person) for at, step, person, *_ in pages(out)] == [
        ("2026-01-16T18:00:00Z", 0, LENA),
        ("2026-01-16T18:10:00Z", 1, LENA),
        ("2026-01-16T18:20:00Z", 2, TOM),
        ("2026-01-16T18:30:00Z", 3, SAM),
    ]


def test_an_urgent_ticket_answered_before_closing_is_not_paged():
    created = "2026-01-16T17:01:00Z"
    out = replay(
        [
            body("created", "743", created, 1, status="NEW"),
            reply("743", "2026-01-16T17:30:00Z", 2, created),
        ],
        until=FRIDAY_CLOSE_UNTIL,
    )
    assert pages(out) == []


# -- one page for an urgent ticket's reply target running out. The same run-out is seen twice:
# by the SLA breach, on the target's own time, and by the unanswered watch, on calendar time.
# Either pages for it, once; neither pages when on call was paged during that wait already.


def oncall_and_breaches(out: list[dict], ticket: str) -> list[tuple]:
    """(at, action, key without the ticket, reason) of the on-call rule's actions and the
    SLA breaches."""
    return [
        (o["at"], o["action"], o["key"].removeprefix(f"zendesk:{ticket}:"), o["reason"])
        for o in out
        if (o["rule"] == "oncall" and o["key"].startswith(f"zendesk:{ticket}:"))
        or o["action"] == "sla_breach"
    ]


def calendar_reply_targets(tmp_path: Path) -> Path:
    """The example rules with the urgent policy's reply targets (1h first, 2h next) counted
    in calendar time: their own breach falls after hours, and no watch is kept for them."""
    rules = yaml.safe_load(EXAMPLE.read_text())
    urgent = next(p for p in rules["sla"]["policies"] if p["name"] == "urgent")
    urgent["calendar_time"] = ["first_reply", "next_reply"]
    config = tmp_path / "calendar.yaml"
    config.write_text(yaml.safe_dump(rules))
    return config


def chain_of(chain: str, reason: str) -> list[tuple]:
    """The on-call actions of a chain of the example (steps at 0, 10, 20, 30 min) whose first
    page went out at `chain` for `reason`."""
    start = datetime.fromisoformat(chain)
    later = ("the person on call", "the next on the rotation", "the leads")
    reasons = [reason] + [
        f"not acknowledged {m} min after the first page ({reason}): paging {who}"
        for m, who in zip((10, 20, 30), later, strict=True)
    ]
    return [
        (f"{start + timedelta(minutes=10 * n):%Y-%m-%dT%H:%M:%SZ}", kind, key, reasons[n])
        for n in range(4)
        for kind, key in (
            ("page_oncall", f"oncall:{chain}:{n}"),
            ("pager", f"oncall:{chain}:trigger:{n}"),
        )
    ]


RAN_OUT = "urgent ticket unanswered after hours: its 1h first reply target ran out"
BREACHED = "urgent ticket breached its SLA after hours"


def test_a_reply_target_running_out_as_the_office_closes_pages_once(engine):
    # Ticket 744, created at 17:00 on Friday: its 1h first reply target, in business hours,
    # runs out at 18:00, as the office closes. The watch and the breach are both due then,
    # after hours. The watch pages (its timer comes first); the breach goes to the leads
    # and pages nobody again. The chain's thread was also told "Also: urgent ticket
    # breached its SLA after hours (already paged)": the same run-out told as a second one.
    created = "2026-01-16T17:00:00Z"
    steps = [body("created", "744", created, 1, status="NEW")]
    out = replay(steps, until=FRIDAY_CLOSE_UNTIL)
    chain = "2026-01-16T18:00:00+00:00"
    breach = (
        "2026-01-16T18:00:00Z",
        "sla_breach",
        "sla:first_reply:2026-01-16T17:00:00+00:00:breach",
        "first reply target of 1h business-hours missed at Fri 16 Jan 18:00",
    )
    expected = chain_of(chain, RAN_OUT)
    assert oncall_and_breaches(out, "744") == [*expected[:2], breach, *expected[2:]]
    assert [p[:3] for p in pages(out)] == [
        ("2026-01-16T18:00:00Z", 0, LENA),
        ("2026-01-16T18:10:00Z", 1, LENA),
        ("2026-01-16T18:20:00Z", 2, TOM),
        ("2026-01-16T18:30:00Z", 3, SAM),
    ]
    # serve decides the same (SQLite and PostgreSQL): its timers fire in the same order.
    keys = [k.removeprefix("zendesk:744:") for k in serve_keys(engine, steps, FRIDAY_CLOSE_UNTIL)]
    assert [k for k in keys if k.startswith("oncall:") or k.endswith(":breach")] == [
        key for _, _, key, _ in oncall_and_breaches(out, "744")
    ]


def test_a_calendar_time_target_pages_once_through_its_own_breach(tmp_path):
    # The same ticket with the reply targets on calendar time, created at 17:30: its first
    # reply target runs out at 18:30, after hours. Its breach pages, once: no watch is kept
    # for a calendar-time target (it would be due at the same instant).
    config = calendar_reply_targets(tmp_path)
    created = "2026-01-16T17:30:00Z"
    out = replay([body("created", "745", created, 1, status="NEW")], FRIDAY_CLOSE_UNTIL, config)
    breach = (
        "2026-01-16T18:30:00Z",
        "sla_breach",
        "sla:first_reply:2026-01-16T17:30:00+00:00:breach",
        "first reply target of 1h calendar missed at Fri 16 Jan 18:30",
    )
    assert oncall_and_breaches(out, "745") == [
        breach,
        *chain_of("2026-01-16T18:30:00+00:00", f"{BREACHED} — {breach[3]}"),
    ]


def test_a_calendar_time_target_answered_before_it_runs_out_pages_nobody(tmp_path):
    config = calendar_reply_targets(tmp_path)
    created = "2026-01-16T17:30:00Z"
    lines = [
        body("created", "746", created, 1, status="NEW"),
        reply("746", "2026-01-16T18:20:00Z", 2, created),
    ]
    out = replay(lines, FRIDAY_CLOSE_UNTIL, config)
    assert oncall_and_breaches(out, "746") == []


@pytest.mark.parametrize("acked", [True, False], ids=["acknowledged", "never_acknowledged"])
@pytest.mark.parametrize("time", ["business", "calendar"])
def test_a_reply_target_running_out_after_on_call_was_paged_in_that_wait_pages_no_more(
    tmp_path, time, acked
):
    # Ticket 747, urgent, created on Saturday at 23:10 and paged for it (Priya acknowledges
    # at 23:15, or nobody does and the chain pages up to the leads by 23:40). Its 1h first
    # reply target runs out unanswered at 00:10: on call was paged during this very wait, so
    # nobody is paged again, whether the target counts business hours (the watch) or
    # calendar time (its own breach, which went to the leads and paged Priya again with a
    # new chain and a new pager incident).
    config = EXAMPLE if time == "business" else calendar_reply_targets(tmp_path)
    created = "2026-01-10T23:10:00Z"
    steps = [body("created", "747", created, 1, status="NEW")]
    if acked:
        steps.append(acknowledged("747", "2026-01-10T23:15:00+00:00"))
    out = run_service(steps, "2026-01-11T03:00:00+00:00", config=config)
    chain = "2026-01-10T23:10:00+00:00"
    created_chain = chain_of(chain, "urgent ticket created after hours")
    if acked:
        first = [
            *created_chain[:2],
            (
                "2026-01-10T23:15:00Z",
                "pager",
                f"oncall:{chain}:acknowledge",
                "acknowledged by Priya Raman",
            ),
        ]
    else:
        first = created_chain
    breach = (
        "2026-01-11T00:10:00Z",
        "sla_breach",
        "sla:first_reply:2026-01-10T23:10:00+00:00:breach",
        "first reply target of 1h calendar missed at Sun 11 Jan 00:10",
    )
    assert oncall_and_breaches(out, "747") == first + ([breach] if time == "calendar" else [])


@pytest.mark.parametrize("time", ["business", "calendar"])
def test_a_new_wait_after_the_chain_pages_when_its_target_runs_out(tmp_path, time):
    # Ticket 748 is paged at creation on Saturday 23:10 and Priya acknowledges; the agent
    # answers at 23:20 and the customer writes again at 23:30. That new wait began after the
    # chain: its 2h next reply target running out at 01:30 pages on call (Priya's week).
    config = EXAMPLE if time == "business" else calendar_reply_targets(tmp_path)
    created = "2026-01-10T23:10:00Z"
    steps = [
        body("created", "748", created, 1, status="NEW"),
        acknowledged("748", "2026-01-10T23:15:00+00:00"),
        reply("748", "2026-01-10T23:20:00Z", 2, created),
        customer("748", "2026-01-10T23:30:00Z", 3, created),
    ]
    out = run_service(steps, "2026-01-11T03:00:00+00:00", config=config)
    chain1, chain2 = "2026-01-10T23:10:00+00:00", "2026-01-11T01:30:00+00:00"
    acked = (
        "2026-01-10T23:15:00Z",
        "pager",
        f"oncall:{chain1}:acknowledge",
        "acknowledged by Priya Raman",
    )
    replaced = (
        "2026-01-11T01:30:00Z",
        "pager",
        f"oncall:{chain1}:resolve",
        "replaced by a new on-call chain",
    )
    if time == "business":
        second = chain_of(
            chain2, "urgent ticket unanswered after hours: its 2h next reply target ran out"
        )
        breach = []
    else:
        breach = [
            (
                "2026-01-11T01:30:00Z",
                "sla_breach",
                "sla:next_reply:2026-01-10T23:30:00+00:00:breach",
                "next reply target of 2h calendar missed at Sun 11 Jan 01:30",
            )
        ]
        second = chain_of(chain2, f"{BREACHED} — {breach[0][3]}")
    first = chain_of(chain1, "urgent ticket created after hours")[:2]
    assert oncall_and_breaches(out, "748") == [*first, acked, *breach, replaced, *second]


# -- a breach known only after its time: after hours or not by when it is known. Its timer
# fires at the deadline, as in writing order (and replay dates its actions so), but on call is
# paged, or not, by the hour it goes out, and the chain starts then.


def made_urgent(ticket: str, created: str, written: str, n: int) -> dict:
    """The ticket's priority raised from normal to urgent at `written`."""
    change = {"current": "URGENT", "previous": "NORMAL"}
    return body("priority_changed", ticket, written, n, created=created, event=change)


@pytest.mark.parametrize(
    ("time", "created", "missed"),
    [
        # Its 1h first reply target, in business hours, ran out as the office closed.
        (
            "business",
            "2026-01-16T17:00:00Z",
            "1h business-hours missed at Fri 16 Jan 18:00, 2 days",
        ),
        # Counted in calendar time, it ran out on Saturday.
        ("calendar", "2026-01-17T11:00:00Z", "1h calendar missed at Sat 17 Jan 12:00, 46h"),
    ],
)
def test_a_ticket_made_urgent_in_office_hours_after_its_target_ran_out_pages_nobody(
    tmp_path, time, created, missed
):
    # Ticket 751, normal priority and unanswered, is made urgent on Monday at 10:00 (Tom's
    # week): its urgent first reply target had run out after hours. The breach goes to the
    # leads' channel, in office hours, saying how late; nobody is paged. It paged whoever was
    # on call at the deadline, "after hours", with all four steps at once.
    config = EXAMPLE if time == "business" else calendar_reply_targets(tmp_path)
    steps = [
        body("created", "751", created, 1, status="NEW", priority="NORMAL"),
        made_urgent("751", created, "2026-01-19T10:00:00Z", 2),
    ]
    out = replay(steps, "2026-01-19T12:00:00Z", config)
    start = datetime.fromisoformat(created)
    due = start + timedelta(hours=1)
    late = datetime(2026, 1, 19, 10, tzinfo=UTC) - due
    # Its warnings, known only at 10:00 on Monday, long after the deadline, are not sent
    # beside the breach.
    assert [o for o in out if o["ticket"] == "zendesk:751" and o["rule"] != "routing"] == [
        {
            "at": f"{due:%Y-%m-%dT%H:%M:%SZ}",
            "ticket": "zendesk:751",
            "action": "sla_breach",
            "rule": "sla",
            "reason": f"first reply target of {missed} ago",
            "metric": "first_reply",
            "target": "lead",
            "channel": "#resolution-leads",
            "assignee": AGENT,
            "sla_target_s": 3600,
            "business_hours": time == "business",
            "due_at": due.isoformat(),
            "late_by_s": int(late.total_seconds()),
            "policy": "urgent",
            "key": f"zendesk:751:sla:first_reply:{start.isoformat()}:breach",
        }
    ]


def test_a_ticket_made_urgent_in_office_hours_after_its_target_ran_out_pages_at_closing():
    # Ticket 751 as above (its 1h business-time target ran out at Friday's closing), made
    # urgent on Monday at 10:00 and paging nobody then; nobody answers all day. As a ticket
    # whose target runs out in office hours, it pages Tom, on call, at closing, up the chain
    # from 18:00. Its watch, due at 10:00 when it was made urgent, paged nobody (the office
    # was open) and was used up: nobody was paged at closing, nor all night.
    created = "2026-01-16T17:00:00Z"
    steps = [
        body("created", "751", created, 1, status="NEW", priority="NORMAL"),
        made_urgent("751", created, "2026-01-19T10:00:00Z", 2),
    ]
    out = replay(steps, "2026-01-19T19:00:00Z")
    reason = "urgent ticket unanswered after hours: its 1h first reply target ran out"
    found = oncall_and_breaches(out, "751")
    # The breaches, in office hours, go to the leads' channel: the first reply's (known at
    # 10:00) and the resolution's at 17:00.
    assert [b[2].split(":")[1] for b in found if b[1] == "sla_breach"] == [
        "first_reply",
        "resolution",
    ]
    oncall = [o for o in found if o[1] != "sla_breach"]
    assert oncall == chain_of("2026-01-19T18:00:00+00:00", reason)
    assert [p[1:3] for p in pages(out)] == [(0, TOM), (1, TOM), (2, PRIYA), (3, SAM)]


def test_a_breach_due_in_office_hours_known_only_at_night_pages_when_it_is_known(engine):
    # Ticket 752, normal priority, created on Thursday at 12:00 and answered at 12:10, is made
    # urgent on Monday at 10:00; that change reaches deskbridge at 23:00 (an outage). Its
    # urgent resolution target (9 business hours) ran out on Friday at 12:00, in office hours:
    # it is known only at 23:00, after hours, and pages Tom (on call this week) then, up the
    # chain from 23:00. It paged nobody: the deadline's hour was an office hour.
    created = "2026-01-15T12:00:00Z"
    steps = [
        body("created", "752", created, 1, status="NEW", priority="NORMAL"),
        reply("752", "2026-01-15T12:10:00Z", 2, created, priority="NORMAL"),
        delivered(made_urgent("752", created, "2026-01-19T10:00:00Z", 3), "2026-01-19T23:00:00Z"),
    ]
    out = replay(steps, "2026-01-20T02:00:00Z")
    breach = (
        "2026-01-16T12:00:00Z",
        "sla_breach",
        "sla:resolution:2026-01-15T12:00:00+00:00:breach",
        "resolution target of 9h business-hours missed at Fri 16 Jan 12:00, 3 days ago",
    )
    chain = chain_of("2026-01-19T23:00:00+00:00", f"{BREACHED} — {breach[3]}")
    # The first page is decided with the breach, by its timer: replay dates both at the
    # deadline (as the leads' review does); the page went out at 23:00 (its chain's id, the
    # pager's paged_at), and the later steps count from then.
    first = [("2026-01-16T12:00:00Z", *page[1:]) for page in chain[:2]]
    assert oncall_and_breaches(out, "752") == [breach, *first, *chain[2:]]
    assert [p[1:3] for p in pages(out)] == [(0, TOM), (1, TOM), (2, PRIYA), (3, SAM)]
    paged_at = [o["paged_at"] for o in out if o["action"] == "pager"]
    assert paged_at == [f"2026-01-19T23:{m}:00+00:00" for m in ("00", "10", "20", "30")]
    # serve decides the same (SQLite and PostgreSQL).
    keys = serve_keys(engine, steps, "2026-01-20T02:00:00Z")
    assert [k.removeprefix("zendesk:752:") for k in keys if ":oncall:" in k or "breach" in k] == [
        key for _, _, key, _ in oncall_and_breaches(out, "752")
    ]
