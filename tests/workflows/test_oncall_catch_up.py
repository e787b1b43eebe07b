"""On call after an outage: deskbridge catching up on a backlog pages a person who must act now,
not every step whose time passed while it was down. Decided in business hours it pages
nobody (the team is there; the alerts go to Slack as usual); decided after hours it pages once:
a chain not started yet starts then, with whoever is on call then, and a running chain pages
the step it has reached. Before, the decider fired an urgent ticket's Friday-night timers at
their due times and paged Friday's chain, all four steps at once, on Monday at 10:00 (and
`deskbridge redecide` of a failed step did the same).

config/example.yaml: Mon-Fri 09:00-18:00 Europe/London (UTC in January); weekly rotation
Priya -> Lena -> Tom from Monday 5 January 09:00, so Friday 16 January is Lena's week and Tom's
starts on Monday 19 January at 09:00; steps at 0 (on call), +10 (again), +20 (next) and +30 min
(the leads: Sam)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import Engine

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.store.events import build_event_row, insert_events
from deskbridge.store.outbox import list_actions
from deskbridge.store.timers import list_timers, requeue_failed_timers
from deskbridge.workflows import rules as rules_module
from deskbridge.workflows.decider import Decided, Decider
from deskbridge.workflows.model import (
    Comment,
    EventKind,
    Priority,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
    evolve,
)
from tests.workflows.test_decider import reply
from tests.workflows.test_sla_timers import event as urgent

LENA, TOM, SAM = "U02LENAF01", "U02TOMOK01", "U02SAMWL01"
FRIDAY_NIGHT = datetime(2026, 1, 16, 23, 0, tzinfo=UTC)  # Lena on call, Tom next
SATURDAY_0300 = datetime(2026, 1, 17, 3, 0, 0, 250_000, tzinfo=UTC)  # still Lena's week
MONDAY_1000 = datetime(2026, 1, 19, 10, 0, 0, 250_000, tzinfo=UTC)  # office hours, Tom's week
STEP = "zendesk:7:oncall.step"
AGENT_REPLY = Comment(id="7-reply", public=True, author_id="900", author_is_agent=True)


def store(engine: Engine, event: TicketEvent, at: datetime) -> None:
    """The webhook's part: the event stored, undecided, at `at`."""
    with engine.begin() as connection:
        insert_events(connection, [build_event_row(event, "{}", at)])


def created(at: datetime = FRIDAY_NIGHT) -> TicketEvent:
    return urgent(1, at, EventKind.created, Status.new, created=at)


# What each on-call action says: whom a page pages, when the pager's page went out, what a
# line in the chain's thread reads.
SAYS = {"page_oncall": "people", "pager": "paged_at", "notify": "text"}


def paging(decided: list[Decided]) -> list[tuple]:
    """The on-call rule's actions: (cause, action, key after the ticket, what it says)."""
    return [
        (d.cause, a.kind.value, a.key.removeprefix("zendesk:7:"), a.params.get(SAYS[a.kind.value]))
        for d in decided
        for a in d.actions
        if a.rule == "oncall"
    ]


def skipped(steps: str, then: str) -> str:
    """The line in the chain's thread for the steps a catch-up does not page late."""
    return (
        f"Not acknowledged, and deskbridge was down or behind when the chain's {steps} after "
        f"the first page fell due: {then}."
    )


NOBODY_LATE = "caught up in business hours, it pages nobody late"
REACHED = "it pages the step the chain has reached, not each one late"


def catch_up(engine: Engine, rules, at: datetime, order: str) -> list[Decided]:
    """The decider and the timer loop back at `at` (the service runs both, in either order):
    what the decider's batch and the sweeps decide."""
    decider = Decider(engine, rules, lambda: at)
    if order == "decider first":
        return decider.decide_pending() + decider.fire_due_timers(at)
    return decider.fire_due_timers(at) + decider.decide_pending() + decider.fire_due_timers(at)


def pending_step(engine: Engine) -> tuple[datetime, dict] | None:
    """The chain's next step still to page: its due time and token."""
    with engine.connect() as connection:
        for t in list_timers(connection):
            if t["id"] == STEP and t["status"] == "pending":
                return t["due_at"], t["payload"]
    return None


ORDERS = ["decider first", "sweep first", "with another ticket's event"]


def store_backlog(engine: Engine, order: str, until: datetime) -> str:
    """With another ticket's reply stored a minute before the decider came back, its batch
    reaches that minute: the steps it sets for ticket 7's Friday chain fall due inside it."""
    if order == "with another ticket's event":
        store(engine, reply(9, 1, until - timedelta(minutes=1)), until - timedelta(minutes=1))
        return "decider first"
    return order


@pytest.mark.parametrize("order", ORDERS)
def test_an_urgent_ticket_stored_on_friday_night_and_decided_on_monday_morning_pages_nobody(
    engine, rules, order
):
    # The webhook stored ticket 7 at 23:00 on Friday; the decider was down until Monday
    # 10:00. Lena (Friday's on call) and Tom, Sam after her were all paged at 10:00 at once.
    store(engine, created(), FRIDAY_NIGHT)
    decided = catch_up(engine, rules, MONDAY_1000, store_backlog(engine, order, MONDAY_1000))

    assert paging(decided) == []
    assert pending_step(engine) is None
    # The alerts go to Slack as usual: its first reply target (an hour of business time from
    # Monday 09:00) breached at 10:00; its warnings (09:45, 09:54), known only then, are not
    # sent beside the breach.
    sla = [(a.kind.value, a.key.rsplit(":", 1)[1]) for d in decided for a in d.actions]
    assert [s for s in sla if s[0].startswith("sla")] == [("sla_breach", "breach")]


@pytest.mark.parametrize("order", ORDERS)
def test_an_urgent_ticket_stored_on_friday_night_and_decided_at_three_pages_lena_once_then(
    engine, rules, order
):
    # Decided after hours, at 03:00 on Saturday: Lena, on call now, is paged once, and the
    # chain goes on from 03:00 (again at 03:10, Tom at 03:20, the leads at 03:30). Before,
    # the chain began at 23:00 and all four steps paged at 03:00.
    store(engine, created(), FRIDAY_NIGHT)
    decided = catch_up(engine, rules, SATURDAY_0300, store_backlog(engine, order, SATURDAY_0300))

    # The page is a timer due at 03:00, when the catch-up decides it: it fires after what
    # was stored by then (a solve would page nobody).
    chain = SATURDAY_0300.isoformat()
    cause = "timer:zendesk:7:oncall.page:2026-01-16T23:00:00.000000:urgent_created:created"
    assert paging(decided) == [
        (cause, "page_oncall", f"oncall:{chain}:0", [LENA]),
        (cause, "pager", f"oncall:{chain}:trigger:0", chain),
    ]
    page = next(a for d in decided for a in d.actions if a.kind.value == "page_oncall")
    assert page.reason == "urgent ticket created after hours"
    assert pending_step(engine) == (
        SATURDAY_0300 + timedelta(minutes=10),
        {"chain": chain, "step": 1},
    )
    # The next steps page on time, as any chain's.
    decider = Decider(engine, rules, lambda: SATURDAY_0300)
    later = [
        d for m in (10, 20) for d in decider.fire_due_timers(SATURDAY_0300 + timedelta(minutes=m))
    ]
    assert [p[2:] for p in paging(later) if p[1] == "page_oncall"] == [
        (f"oncall:{chain}:1", [LENA]),
        (f"oncall:{chain}:2", [TOM]),
    ]


def test_a_backlog_of_minutes_pages_as_replay_does(engine, rules):
    # Behind by nine minutes (load, a restart), the decider decides as replay does: the
    # chain begins at the event's time, under replay's keys, and its steps count from then.
    store(engine, created(), FRIDAY_NIGHT)
    behind = FRIDAY_NIGHT + timedelta(minutes=9)

    decided = Decider(engine, rules, lambda: behind).decide_pending()

    chain = FRIDAY_NIGHT.isoformat()
    assert paging(decided) == [
        ("zendesk:event:7-1", "page_oncall", f"oncall:{chain}:0", [LENA]),
        ("zendesk:event:7-1", "pager", f"oncall:{chain}:trigger:0", chain),
    ]
    assert pending_step(engine) == (
        FRIDAY_NIGHT + timedelta(minutes=10),
        {"chain": chain, "step": 1},
    )


def paged_on_friday(engine: Engine, rules) -> str:
    """Ticket 7 decided at 23:00 on Friday: Lena paged, step 1 due at 23:10. Then deskbridge
    went down. Returns the chain's id."""
    store(engine, created(), FRIDAY_NIGHT)
    decided = Decider(engine, rules, lambda: FRIDAY_NIGHT).decide_pending()
    assert [p[1:3] for p in paging(decided)][:1] == [
        ("page_oncall", f"oncall:{FRIDAY_NIGHT.isoformat()}:0")
    ]
    return FRIDAY_NIGHT.isoformat()


# A chain paged on Friday at 23:00 (Lena), its next steps due at 23:10 (Lena again), 23:20
# (Tom) and 23:30 (the leads), caught up at each time: what its step's timer decides, by key
# after the chain's id. Before, whenever it was, Lena, Tom and the leads were paged at once.
CAUGHT_UP = [
    # Monday 10:00, office hours: nobody; the chain's thread says so.
    (
        MONDAY_1000,
        [("notify", ":skipped:1", skipped("steps at 10 min, 20 min and 30 min", NOBODY_LATE))],
    ),
    # Saturday 03:00, after hours: the chain has reached its last step, the leads, paged once.
    (
        SATURDAY_0300,
        [
            ("notify", ":skipped:1", skipped("steps at 10 min and 20 min", REACHED)),
            ("page_oncall", ":3", [SAM]),
            ("pager", ":trigger:3", SATURDAY_0300.isoformat()),
        ],
    ),
]


def steps_paged(decided: list[Decided], chain: str) -> list[tuple]:
    """The on-call actions, all the step's timer's, by key after the chain's id."""
    found = paging(decided)
    assert {p[0] for p in found} <= {f"timer:{STEP}"}
    return [(p[1], p[2].removeprefix(f"oncall:{chain}"), p[3]) for p in found]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(("at", "wanted"), CAUGHT_UP)
def test_a_chain_paged_on_friday_and_caught_up_later_pages_no_step_late(
    engine, rules, order, at, wanted
):
    # Lena was paged at 23:00 and deskbridge went down at 23:05.
    chain = paged_on_friday(engine, rules)
    decided = catch_up(engine, rules, at, store_backlog(engine, order, at))

    assert steps_paged(decided, chain) == wanted
    for page in (a for d in decided for a in d.actions if a.kind.value == "page_oncall"):
        assert page.reason == (
            "not acknowledged since the first page, 4h ago (urgent ticket created after "
            "hours): paging the leads"
        )
    assert pending_step(engine) is None  # every step is behind it


def test_a_chain_caught_up_between_two_steps_pages_the_one_due_and_goes_on(engine, rules):
    # Back at 23:25: of the steps due at 23:10 (Lena again) and 23:20 (Tom), Tom's is the
    # one the chain has reached; the leads' follows at 23:30, on time.
    chain = paged_on_friday(engine, rules)
    back = FRIDAY_NIGHT + timedelta(minutes=25)

    decided = Decider(engine, rules, lambda: back).fire_due_timers(back)

    assert steps_paged(decided, chain) == [
        ("notify", ":skipped:1", skipped("step at 10 min", REACHED)),
        ("page_oncall", ":2", [TOM]),
        ("pager", ":trigger:2", back.isoformat()),
    ]
    assert_paged_25_min_on(decided, "the next on the rotation")
    assert pending_step(engine) == (
        FRIDAY_NIGHT + timedelta(minutes=30),
        {"chain": chain, "step": 3},
    )


def assert_paged_25_min_on(decided: list[Decided], whom: str) -> None:
    """The catch-up's one page, 25 minutes into its chain, pages `whom`."""
    page = next(a for d in decided for a in d.actions if a.kind.value == "page_oncall")
    assert page.reason == (
        "not acknowledged since the first page, 25 min ago (urgent ticket created after "
        f"hours): paging {whom}"
    )


def break_step_rule(monkeypatch) -> None:
    """The on-call step's rule raises (a bug): the step's timer is stored failed."""

    def broken(state, timer, ctx):
        raise ValueError("a bug")

    monkeypatch.setitem(rules_module.TIMER_RULES, "oncall.step", broken)


@pytest.mark.parametrize(("at", "wanted"), CAUGHT_UP)
def test_redecide_of_a_failed_step_pages_as_the_chain_stands_now(
    engine, rules, monkeypatch, at, wanted
):
    # The step due at 23:10 failed (a bug); after the fix `deskbridge redecide` puts it back
    # and decides it as below (the decider's batches, then the sweep, on the real clock).
    # Before, Lena, Tom and the leads were paged at once, whenever it ran.
    chain = paged_on_friday(engine, rules)
    break_step_rule(monkeypatch)
    [failed] = Decider(engine, rules, lambda: FRIDAY_NIGHT).fire_due_timers(
        FRIDAY_NIGHT + timedelta(minutes=10)
    )
    assert failed.error == "ValueError: a bug"
    monkeypatch.undo()  # the fix
    with engine.begin() as connection:
        assert requeue_failed_timers(connection) == 1

    decider = Decider(engine, rules, lambda: at)
    decided = decider.decide_pending() + decider.fire_due_timers()

    assert steps_paged(decided, chain) == wanted
    assert pending_step(engine) is None


@pytest.mark.parametrize("order", ["decider first", "sweep first"])
def test_the_unanswered_watch_due_on_friday_evening_pages_nobody_on_monday_morning(
    engine, rules, order
):
    # Ticket 7, urgent, opened at 17:01 on Friday and decided then; its first reply target
    # runs out after hours at 18:01 (the watch). The decider was down from 17:30 to Monday
    # 10:00, and the webhook stored an update of the ticket at 09:59: the decider's batch
    # fired the watch at 18:01 before it and paged Lena, Tom and the leads at once, while the
    # timer loop, first at 10:00, paged nobody. Both now page nobody.
    opened = datetime(2026, 1, 16, 17, 1, tzinfo=UTC)
    store(engine, created(opened), opened)
    assert paging(Decider(engine, rules, lambda: opened).decide_pending()) == []
    update = MONDAY_1000 - timedelta(minutes=1)
    store(engine, urgent(2, update, EventKind.updated, created=opened), update)

    decided = catch_up(engine, rules, MONDAY_1000, order)

    assert "timer:zendesk:7:oncall.unanswered" in [d.cause for d in decided]
    assert paging(decided) == []
    assert pending_step(engine) is None


FRIDAY_1701 = datetime(2026, 1, 16, 17, 1, tzinfo=UTC)  # an hour's first reply: 18:01


@pytest.mark.parametrize("late", [timedelta(seconds=30), timedelta(minutes=9)])
def test_the_unanswered_watch_fired_by_a_late_sweep_pages_under_replays_chain_id(
    engine, rules, late
):
    # Ticket 7, urgent, opened at 17:01 on Friday: its first reply target runs out at 18:01,
    # after hours (the watch). The timer loop's sweep comes a little after (its poll, a busy
    # minute): the chain began at the sweep's time, so its keys were not replay's (18:01:00)
    # and a redecide or a retry at another moment would page again under other keys.
    store(engine, created(FRIDAY_1701), FRIDAY_1701)
    assert paging(Decider(engine, rules, lambda: FRIDAY_1701).decide_pending()) == []
    due = FRIDAY_1701 + timedelta(hours=1)
    sweep = due + late

    decided = Decider(engine, rules, lambda: sweep).fire_due_timers(sweep)

    chain = due.isoformat()
    assert paging(decided) == [
        ("timer:zendesk:7:oncall.unanswered", "page_oncall", f"oncall:{chain}:0", [LENA]),
        ("timer:zendesk:7:oncall.unanswered", "pager", f"oncall:{chain}:trigger:0", chain),
    ]
    assert pending_step(engine) == (due + timedelta(minutes=10), {"chain": chain, "step": 1})


def test_a_breach_at_closing_fired_by_a_late_sweep_pages_under_replays_chain_id(engine, rules):
    # Ticket 7, urgent, opened at 09:00 on Friday and answered at 09:05: its 9h resolution
    # target runs out at 18:00, as the office closes, and its breach pages. The sweep came
    # 30 seconds late and named the chain 18:00:30; replay names it 18:00.
    opened = datetime(2026, 1, 16, 9, 0, tzinfo=UTC)
    store(engine, created(opened), opened)
    answered = opened + timedelta(minutes=5)
    store(
        engine,
        urgent(2, answered, EventKind.comment_added, created=opened, comment=AGENT_REPLY),
        answered,
    )
    Decider(engine, rules, lambda: answered).decide_pending()
    due = datetime(2026, 1, 16, 18, 0, tzinfo=UTC)
    Decider(engine, rules, lambda: due).fire_due_timers(due - timedelta(minutes=1))
    sweep = due + timedelta(seconds=30)

    decided = Decider(engine, rules, lambda: sweep).fire_due_timers(sweep)

    chain = due.isoformat()
    cause = "timer:zendesk:7:sla:resolution:breach"
    assert paging(decided) == [
        (cause, "page_oncall", f"oncall:{chain}:0", [LENA]),
        (cause, "pager", f"oncall:{chain}:trigger:0", chain),
    ]


def paged_then_back(engine: Engine, rules, start: datetime, back: datetime) -> list[tuple]:
    """Ticket 7 created and paged at `start`; deskbridge down until `back`, when the timer
    loop catches up: its on-call actions (steps_paged), the chain's id being `start`."""
    store(engine, created(start), start)
    Decider(engine, rules, lambda: start).decide_pending()
    return steps_paged(
        Decider(engine, rules, lambda: back).fire_due_timers(back), start.isoformat()
    )


def assert_the_leads_are_paged_at(engine: Engine, rules, chain: str, at: datetime) -> None:
    """The chain's last step, the leads, is what is left, and pages on time at `at`."""
    assert pending_step(engine) == (at, {"chain": chain, "step": 3})
    later = Decider(engine, rules, lambda: at).fire_due_timers(at)
    assert [p[1:] for p in steps_paged(later, chain)] == [
        (":3", [SAM]),
        (":trigger:3", at.isoformat()),
    ]


PRIYA = "U02PRIYA01"
SATURDAY_2310 = datetime(2026, 1, 10, 23, 10, tzinfo=UTC)  # Priya's week


@pytest.fixture
def priya_alone(tmp_path):
    """The example rules with a rotation of Priya alone: the chain pages Priya (0), Priya
    again (+10), nobody at its `next` step (+20: nobody else on the rotation), the leads
    (+30)."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["oncall"]["rotation"]["members"] = [PRIYA]
    data["oncall"]["overrides"] = []
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_rules(path)


def test_a_chain_caught_up_at_a_next_step_with_nobody_left_pages_the_latest_step_with_someone(
    engine, priya_alone
):
    # Priya was paged at 23:10; deskbridge was down from 23:15 to 23:35. Of the steps due
    # meanwhile, Priya again (23:20) and the `next` one (23:30), the one reached has nobody
    # else on the rotation to page: the catch-up skipped Priya's and paged nobody at all,
    # the chain behind and nobody woken until the leads at 23:40. Now Priya, on call, is paged
    # again, once, and the chain's thread says why; the leads follow at 23:40.
    back = SATURDAY_2310 + timedelta(minutes=25)
    then = (
        "the step it has reached, at 20 min, has nobody else on the rotation to page: it "
        "pages the latest one with someone to page, at 10 min, once"
    )
    assert paged_then_back(engine, priya_alone, SATURDAY_2310, back) == [
        ("notify", ":skipped:1", skipped("steps at 10 min and 20 min", then)),
        ("page_oncall", ":1", [PRIYA]),
        ("pager", ":trigger:1", back.isoformat()),
    ]
    with engine.connect() as connection:
        page = [r for r in list_actions(connection) if r["action"] == "page_oncall"][-1]
    assert page["payload"]["reason"] == (
        "not acknowledged since the first page, 25 min ago (urgent ticket created after "
        "hours): paging the person on call"
    )
    # The line is the chain's: the channels' threads and the DM of the one it paged (Priya),
    # not every DM about the ticket, nor the departments' threads.
    with engine.connect() as connection:
        rows = [r["payload"] for r in list_actions(connection)]
        told = [p["params"] for p in rows if p["rule"] == "oncall" and p["kind"] == "notify"]
    assert [(t["reply_in"], t["reply_dm"], t["reply_not_in"]) for t in told] == [
        ("channels", [PRIYA], ["#dept-logistics", "#dept-post-sales", "#dept-quality"])
    ]
    leads = SATURDAY_2310 + timedelta(minutes=30)
    assert_the_leads_are_paged_at(engine, priya_alone, SATURDAY_2310.isoformat(), leads)


TUESDAY_0855 = datetime(2026, 1, 13, 8, 55, tzinfo=UTC)  # Lena's week, the office opens at 09:00


def test_a_chain_begun_before_opening_and_caught_up_in_office_hours_says_its_next_step_pages(
    engine, rules
):
    # Lena was paged at 08:55; deskbridge was down from 09:00 to 09:16. On time the chain goes
    # on after the office opens (Lena at 09:05, Tom at 09:15, the leads at 09:25: README, On
    # call). Caught up at 09:16 it pages nobody late, and the leads' step still pages at 09:25,
    # as on time; the thread said only "it pages nobody late", and the leads' page minutes
    # later came as a surprise. It now says the chain goes on, and when.
    then = (
        "caught up in business hours, it pages nobody late; the chain goes on, its step at "
        "30 min pages at its time unless someone acknowledges"
    )
    back = TUESDAY_0855 + timedelta(minutes=21)
    assert paged_then_back(engine, rules, TUESDAY_0855, back) == [
        ("notify", ":skipped:1", skipped("steps at 10 min and 20 min", then))
    ]
    leads = TUESDAY_0855 + timedelta(minutes=30)
    assert_the_leads_are_paged_at(engine, rules, TUESDAY_0855.isoformat(), leads)


FRIDAY_1700 = datetime(2026, 1, 16, 17, 0, tzinfo=UTC)  # an hour's first reply: 18:00
CLOSING = datetime(2026, 1, 16, 18, 0, tzinfo=UTC)


def answered_at(written: datetime, opened: datetime) -> TicketEvent:
    """The agent's reply to ticket 7 (opened at `opened`), written at `written`."""
    return urgent(2, written, EventKind.comment_added, created=opened, comment=AGENT_REPLY)


def decided_on_time(engine: Engine, rules, opened: datetime) -> None:
    """Urgent ticket 7 opened and decided at `opened`, in office hours: nobody paged."""
    store(engine, created(opened), opened)
    assert paging(Decider(engine, rules, lambda: opened).decide_pending()) == []


def said_on_7(decided: list[Decided]) -> list[tuple[str, str]]:
    """What the SLA and on-call rules decided for ticket 7: (action, key's last part)."""
    return [
        (a.kind.value, a.key.rsplit(":", 1)[1])
        for d in decided
        for a in d.actions
        if a.ticket == "zendesk:7" and a.rule in ("sla", "oncall")
    ]


def timer_status(engine: Engine, timer_id: str) -> str:
    with engine.connect() as connection:
        return next(t["status"] for t in list_timers(connection) if t["id"] == timer_id)


def pending_timers(engine: Engine) -> list[str]:
    """Ticket 7's timers still to fire."""
    with engine.connect() as connection:
        return [
            t["id"]
            for t in list_timers(connection)
            if t["status"] == "pending" and t["ticket"] == "zendesk:7"
        ]


WATCH = "zendesk:7:oncall.unanswered"


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    "stored",
    [CLOSING - timedelta(minutes=10), CLOSING + timedelta(minutes=20)],
    ids=["stored before the deadline", "stored after it"],
)
def test_a_reply_written_before_the_deadline_pages_nobody_in_the_catch_up(
    engine, rules, order, stored
):
    # Ticket 7, urgent, opened at 17:00 on Friday: its hour's first reply target runs out at
    # 18:00, as the office closes (the breach, and the watch that pages on call). The agent
    # answered at 17:50. Deskbridge was down from 17:30 to 03:00 on Saturday; the reply was
    # stored at 17:50, or at 18:20 when the webhook was down too and Zendesk retried. Stored
    # after the deadline, the catch-up fired the 18:00 timers before it: Lena was paged at
    # 03:00 and the leads told the target was missed, then the reply, decided next in the
    # same batch, withdrew the page and corrected the breach.
    decided_on_time(engine, rules, FRIDAY_1700)
    store(engine, answered_at(CLOSING - timedelta(minutes=10), FRIDAY_1700), stored)

    decided = catch_up(engine, rules, SATURDAY_0300, store_backlog(engine, order, SATURDAY_0300))

    assert said_on_7(decided) == []  # no page, no breach, nothing withdrawn or corrected
    assert "zendesk:event:7-2" in [d.cause for d in decided]
    # The reply stopped the clock: the watch is cancelled, and only the resolution's timer
    # (Monday's business hours) is left.
    assert timer_status(engine, WATCH) == "cancelled"
    assert pending_timers(engine) == ["zendesk:7:sla:resolution:warn1"]


@pytest.mark.parametrize("who", ["decider", "sweep"])
def test_a_reply_stored_after_the_batchs_events_is_still_decided_before_the_deadline(
    engine, rules, who
):
    # As above, the reply written at 17:50 and stored at 18:20; an update of the ticket was
    # stored at 18:05, and two replies on ticket 9 at 18:10 and 18:15. The decider's batch of
    # three (or the sweep's one event) ends before the reply: it is read all the same, as
    # written before the 18:00 deadline, and decided before the timers; the update after
    # them, in its turn.
    decided_on_time(engine, rules, FRIDAY_1700)
    update = CLOSING + timedelta(minutes=5)
    store(engine, urgent(3, update, EventKind.updated, created=FRIDAY_1700), update)
    for n, minutes in enumerate((10, 15), 1):
        store(
            engine,
            reply(9, n, CLOSING + timedelta(minutes=minutes)),
            CLOSING + timedelta(minutes=minutes),
        )
    store(
        engine,
        answered_at(CLOSING - timedelta(minutes=10), FRIDAY_1700),
        CLOSING + timedelta(minutes=20),
    )
    decider = Decider(engine, rules, lambda: SATURDAY_0300)

    if who == "decider":
        first = decider.decide_pending(limit=3)
    else:
        first = decider.fire_due_timers(SATURDAY_0300, event_limit=1)
    decided = first + decider.decide_pending() + decider.fire_due_timers(SATURDAY_0300)

    assert [d.cause for d in first if d.ticket == "zendesk:7" and not d.is_timer] == [
        "zendesk:event:7-2",
        "zendesk:event:7-3",
    ]
    assert said_on_7(decided) == []
    assert pending_timers(engine) == ["zendesk:7:sla:resolution:warn1"]


FRIDAY_1600 = datetime(2026, 1, 16, 16, 0, tzinfo=UTC)  # an hour's first reply: 17:00


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    "stored",
    [FRIDAY_1700 + timedelta(minutes=30), CLOSING + timedelta(minutes=20)],
    ids=["stored at once", "stored after closing"],
)
def test_a_reply_after_the_deadline_but_before_the_page_reports_the_breach_and_pages_nobody(
    engine, rules, order, stored
):
    # Ticket 7, urgent, opened at 16:00 on Friday: its hour's first reply target ran out at
    # 17:00, in office hours (the breach goes to the leads), and the watch would page on call
    # at closing, 18:00. The agent answered at 17:30. Deskbridge was down from 16:30 to 03:00
    # on Saturday. Caught up after hours, the 17:00 breach paged Lena at 03:00, then the
    # reply, decided next in the same batch, withdrew the page: the customer was answered
    # hours before anyone was paged.
    decided_on_time(engine, rules, FRIDAY_1600)
    store(engine, answered_at(FRIDAY_1700 + timedelta(minutes=30), FRIDAY_1600), stored)

    decided = catch_up(engine, rules, SATURDAY_0300, store_backlog(engine, order, SATURDAY_0300))

    # The breach was true (the reply came after it): the leads hear of it, late.
    assert said_on_7(decided) == [("sla_breach", "breach")]
    breach = next(a for d in decided for a in d.actions if a.kind.value == "sla_breach")
    assert breach.reason == (
        "first reply target of 1h business-hours missed at Fri 16 Jan 17:00, 10h ago"
    )
    assert pending_timers(engine) == ["zendesk:7:sla:resolution:warn1"]


def solved(n: int, at: datetime, opened: datetime = FRIDAY_NIGHT) -> TicketEvent:
    return urgent(n, at, EventKind.status_changed, Status.solved, created=opened)


@pytest.mark.parametrize("order", ORDERS)
def test_a_ticket_created_and_solved_while_deskbridge_was_down_pages_nobody(engine, rules, order):
    # Ticket 7, urgent, created at 23:00 on Friday and solved at 23:30; both stored, decided
    # when deskbridge came back at 03:00. The catch-up paged Lena at 03:00 for a ticket
    # solved hours before, then resolved the page at once.
    store(engine, created(), FRIDAY_NIGHT)
    store(
        engine,
        solved(2, FRIDAY_NIGHT + timedelta(minutes=30)),
        FRIDAY_NIGHT + timedelta(minutes=30),
    )

    decided = catch_up(engine, rules, SATURDAY_0300, store_backlog(engine, order, SATURDAY_0300))

    assert paging(decided) == []
    assert pending_step(engine) is None


@pytest.mark.parametrize("order", ORDERS)
def test_a_ticket_created_and_answered_while_deskbridge_was_down_pages_nobody(engine, rules, order):
    # Ticket 7, urgent, created at 23:00 on Friday and answered by an agent working late at
    # 23:50; both stored, decided when deskbridge came back at 03:00. The catch-up paged Lena
    # at 03:00 for a customer answered three hours before anyone was paged (a reply before
    # the first page is a false alarm on time too: withdraw_chain).
    store(engine, created(), FRIDAY_NIGHT)
    reply_7 = answered_at(FRIDAY_NIGHT + timedelta(minutes=50), FRIDAY_NIGHT)
    store(engine, reply_7, reply_7.occurred_at)

    decided = catch_up(engine, rules, SATURDAY_0300, store_backlog(engine, order, SATURDAY_0300))

    assert paging(decided) == []
    assert pending_step(engine) is None
    assert "zendesk:event:7-2" in [d.cause for d in decided]


def vip(event: TicketEvent) -> TicketEvent:
    """The event with ticket 7 tagged vip: the risk rule escalates it when it is opened."""
    return evolve(event, {"ticket": evolve(event.ticket, {"tags": ("vip",)})})


LENA_PAGED = [("page_oncall", "0"), ("pager", "0")]


@pytest.mark.parametrize("caught_up", [False, True], ids=["on time", "caught up at 03:00"])
def test_an_urgent_ticket_escalated_when_opened_still_pages_once_answered(engine, rules, caught_up):
    # Ticket 7, urgent and tagged vip (the risk rule escalates it to the specialists), opened
    # at 23:00 on Friday; an agent's reply written at 23:00:30. An escalation pages on call
    # whether or not the customer was answered (a VIP ticket that is not urgent pages, and
    # its reply withdraws nothing). 285092b gave the page the first reply's wait: on time
    # the reply, delivered at 23:02 after the page of 23:01, withdrew it as a false alarm;
    # caught up at 03:00 nobody was paged.
    written = FRIDAY_NIGHT + timedelta(seconds=30)
    reply_7 = vip(answered_at(written, FRIDAY_NIGHT))
    if caught_up:
        store(engine, vip(created()), FRIDAY_NIGHT)
        store(engine, reply_7, written)
        decided = catch_up(engine, rules, SATURDAY_0300, "decider first")
    else:
        decided = []
        for event, at in ((vip(created()), 1), (reply_7, 2)):
            arrived = FRIDAY_NIGHT + timedelta(minutes=at)
            store(engine, event, arrived)
            decided += Decider(engine, rules, lambda at=arrived: at).decide_pending()
    assert [(a, k) for a, k in said_on_7(decided) if a != "notify"] == LENA_PAGED
    assert pending_step(engine) is not None  # the chain goes on until acknowledged


def test_an_urgent_ticket_answered_when_opened_is_not_withdrawn_by_its_next_event(engine, rules):
    # Ticket 7, urgent, opened at 23:00 on Friday by an agent with a public comment (answered
    # as it was opened), paged on time; its next event came at 23:03. 285092b withdrew the
    # page then as "answered at 23:00, before the first page": a reply the page knew of, not
    # one delivered after it, withdrawn by whichever event came next.
    store(engine, evolve(created(), {"comment": AGENT_REPLY}), FRIDAY_NIGHT)
    decided = Decider(engine, rules, lambda: FRIDAY_NIGHT).decide_pending()
    again = FRIDAY_NIGHT + timedelta(minutes=3)
    store(engine, urgent(2, again, EventKind.comment_added, created=FRIDAY_NIGHT), again)
    decided += Decider(engine, rules, lambda: again).decide_pending()
    assert said_on_7(decided) == LENA_PAGED
    assert pending_step(engine) is not None


@pytest.mark.parametrize("order", ORDERS)
def test_a_chain_caught_up_after_hours_pages_nobody_for_a_ticket_solved_meanwhile(
    engine, rules, order
):
    # Lena was paged at 23:00; deskbridge went down at 23:05, the ticket was solved at 23:15
    # (after the step due at 23:10), and deskbridge came back at 03:00. The catch-up paged
    # the leads at 03:00 for a ticket solved hours before, then resolved the page at once.
    chain = paged_on_friday(engine, rules)
    solve = solved(2, FRIDAY_NIGHT + timedelta(minutes=15))
    store(engine, solve, solve.occurred_at)

    decided = catch_up(engine, rules, SATURDAY_0300, store_backlog(engine, order, SATURDAY_0300))

    # Only Lena's page of 23:00 is resolved, as the solve does on time.
    assert paging(decided) == [("zendesk:event:7-2", "pager", f"oncall:{chain}:resolve", None)]
    assert pending_step(engine) is None


@pytest.mark.parametrize("order", ORDERS)
def test_a_chain_caught_up_after_hours_still_pages_for_a_ticket_answered_after_its_page(
    engine, rules, order
):
    # As above, answered at 23:15 instead: a reply after the first page stops no step (an
    # acknowledgement, a solve, or a reply written before the first page do): the catch-up
    # pages the step the chain has reached, the leads, once.
    chain = paged_on_friday(engine, rules)
    reply_7 = answered_at(FRIDAY_NIGHT + timedelta(minutes=15), FRIDAY_NIGHT)
    store(engine, reply_7, reply_7.occurred_at)

    decided = catch_up(engine, rules, SATURDAY_0300, store_backlog(engine, order, SATURDAY_0300))

    assert steps_paged(decided, chain) == CAUGHT_UP[1][1]
    assert pending_step(engine) is None


def test_a_sweep_claiming_its_full_limit_of_timers_still_decides_the_reply_first(engine, rules):
    # The reply to ticket 7 written at 17:50 and stored at 18:20, as in the tests above
    # (opened at 17:00, first reply due at 18:00); ticket 9 (urgent, opened at 17:05) has its
    # timers due too. After the outage the timer loop's first sweep claimed as many as its
    # limit (the first four due) and read the events stored only up to its last one's due
    # time: the reply was not among them, so the leads were told of 7's breach and, in the
    # same catch-up, that it was withdrawn.
    decided_on_time(engine, rules, FRIDAY_1700)
    opened_9 = FRIDAY_1700 + timedelta(minutes=5)
    nine = urgent(1, opened_9, EventKind.created, Status.new, created=opened_9)
    store(engine, evolve(nine, {"ticket_id": "9", "dedupe_key": "zendesk:event:9-1"}), opened_9)
    Decider(engine, rules, lambda: opened_9).decide_pending()
    store(
        engine,
        answered_at(CLOSING - timedelta(minutes=10), FRIDAY_1700),
        CLOSING + timedelta(minutes=20),
    )
    decider = Decider(engine, rules, lambda: SATURDAY_0300)

    first = decider.fire_due_timers(SATURDAY_0300, limit=4)
    decided = first + decider.decide_pending() + decider.fire_due_timers(SATURDAY_0300)

    assert "zendesk:event:7-2" in [d.cause for d in first]
    assert said_on_7(decided) == []  # as with a claim that is not full: no breach


@pytest.mark.parametrize("limit", [None, 3], ids=["one batch", "batch ends before the reply"])
def test_a_deadline_set_in_the_catch_up_batch_waits_for_the_reply_stored_after_it(
    engine, rules, limit
):
    # The decider was down from 16:30 to 03:00 on Saturday: the webhook stored urgent ticket 7
    # at 17:00, two replies on ticket 9 at 18:05 and 18:10, and the reply to 7 written at
    # 17:50 at 18:20 (Zendesk retried). The catch-up's batch decided 7's creation, which set
    # its 18:00 first-reply deadline, due inside the batch; when the batch ended before the
    # reply (its limit), the deadline fired before it: the leads were told of a breach, then
    # that it was withdrawn.
    store(engine, created(FRIDAY_1700), FRIDAY_1700)
    for n, minutes in enumerate((5, 10), 1):
        at = CLOSING + timedelta(minutes=minutes)
        store(engine, reply(9, n, at), at)
    store(
        engine,
        answered_at(CLOSING - timedelta(minutes=10), FRIDAY_1700),
        CLOSING + timedelta(minutes=20),
    )
    decider = Decider(engine, rules, lambda: SATURDAY_0300)

    first = decider.decide_pending(limit=limit)
    decided = first + decider.decide_pending() + decider.fire_due_timers(SATURDAY_0300)

    assert "zendesk:event:7-2" in [d.cause for d in first]
    assert [d.cause for d in decided].count("zendesk:event:7-2") == 1
    # No breach reported, nothing withdrawn, in one batch or two. (The page for the urgent
    # ticket's creation, caught up on after hours, goes out at 03:00 either way: 997c303.)
    sla = [s for s in said_on_7(decided) if s[0].startswith("sla") or "breach" in s[1]]
    assert sla == []


FRIDAY_1200 = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)  # Lena's week; Tom's from Monday 09:00
SATURDAY_2300 = datetime(2026, 1, 17, 23, 0, tzinfo=UTC)
MONDAY_CLOSING = datetime(2026, 1, 19, 18, 0, tzinfo=UTC)
CUSTOMER = Comment(
    id="7-customer", public=True, author_id="500", author_is_agent=False, body="Any news?"
)


def waiting_again(engine: Engine, rules, written: datetime, decided: bool) -> None:
    """Urgent ticket 7, opened at 12:00 on Friday and answered at 12:30 (its resolution
    target, 9h of business time, runs out at 12:00 on Monday, in office hours); the customer
    writes again at `written`, stored then (and decided then, if `decided`): a wait for the
    next reply, a target of 2 hours."""
    decided_on_time(engine, rules, FRIDAY_1200)
    answer = FRIDAY_1200 + timedelta(minutes=30)
    store(engine, answered_at(answer, FRIDAY_1200), answer)
    Decider(engine, rules, lambda: answer).decide_pending()
    again = urgent(3, written, EventKind.comment_added, created=FRIDAY_1200, comment=CUSTOMER)
    store(engine, again, written)
    if decided:
        assert paging(Decider(engine, rules, lambda: written).decide_pending()) == []


def fire_on_time(engine: Engine, rules, until: datetime) -> list[Decided]:
    """The timer loop up and on time until `until`: each timer fired at its due time."""
    decided = []
    while True:
        with engine.connect() as connection:
            due = [
                t["due_at"]
                for t in list_timers(connection)
                if t["status"] == "pending" and t["due_at"] <= until
            ]
        if not due:
            return decided
        at = min(due)
        decided += Decider(engine, rules, lambda at=at: at).fire_due_timers(at)


TOM_AT_CLOSING = [
    (f"timer:{WATCH}", "page_oncall", f"oncall:{MONDAY_CLOSING.isoformat()}:0", [TOM]),
    (
        f"timer:{WATCH}",
        "pager",
        f"oncall:{MONDAY_CLOSING.isoformat()}:trigger:0",
        MONDAY_CLOSING.isoformat(),
    ),
]


def test_an_urgent_ticket_waiting_since_monday_morning_pages_at_closing(engine, rules):
    # What the catch-ups below are held to: the customer writes again at 10:00 on Monday;
    # the 2-hour target runs out at 12:00, in office hours (the leads hear of the breach).
    # Nobody answers all day: at closing, 18:00, the watch pages Tom, on call.
    waiting_again(engine, rules, MONDAY_1000, decided=True)
    assert fire_on_time(engine, rules, MONDAY_CLOSING - timedelta(seconds=1)) != []

    assert paging(fire_on_time(engine, rules, MONDAY_CLOSING)) == TOM_AT_CLOSING


@pytest.mark.parametrize("order", ["decider first", "sweep first"])
@pytest.mark.parametrize("decided", [True, False], ids=["decided then", "stored then"])
def test_an_urgent_ticket_waiting_since_saturday_and_caught_up_on_monday_still_pages_at_closing(
    engine, rules, order, decided
):
    # The customer wrote again at 23:00 on Saturday: the watch would page Lena at 01:00 on
    # Sunday. Deskbridge was down from before then (from 22:00, or from 23:30) to 10:00 on
    # Monday. Caught up in office hours, the watch pages nobody (the team is there), and was
    # used up: nobody answered all Monday, and nobody was paged at closing, nor all night,
    # for a customer waiting since Saturday. As on time (waiting since Monday 10:00), the
    # watch now pages Tom at closing.
    waiting_again(engine, rules, SATURDAY_2300, decided)

    caught_up = catch_up(engine, rules, MONDAY_1000, order)

    assert f"timer:{WATCH}" in [d.cause for d in caught_up]
    assert paging(caught_up) == []
    assert paging(fire_on_time(engine, rules, MONDAY_CLOSING - timedelta(seconds=1))) == []
    assert paging(fire_on_time(engine, rules, MONDAY_CLOSING)) == TOM_AT_CLOSING


def test_timers_fired_at_their_due_times_by_a_batch_behind_log_how_late_they_went_out(
    engine, rules, caplog
):
    # Ticket 7, urgent, opened at 17:00 on Friday (its first reply's warnings at 17:45 and
    # 17:54, its breach at 18:00); an update stored at 18:20; the decider down until 03:00.
    # Its batch fires the timers due before the update at their due times, as replay does:
    # the log said they went out on time (late_ms=0, now late_s), nine hours late.
    store(engine, created(FRIDAY_1700), FRIDAY_1700)
    update = CLOSING + timedelta(minutes=20)
    store(engine, urgent(2, update, EventKind.updated, created=FRIDAY_1700), update)

    with caplog.at_level(logging.INFO, logger="deskbridge.decider"):
        Decider(engine, rules, lambda: SATURDAY_0300).decide_pending()

    fired = [
        (r.deskbridge_fields["timer"], r.deskbridge_fields["kind"], r.deskbridge_fields["late_s"])
        for r in caplog.records
        if r.getMessage() == "timer.fired"
    ]
    # The warnings at 17:45 and 17:54 (not sent beside the breach), the unanswered watch and
    # the breach at 18:00.
    # Each line names its timer: the two warnings' lines were alike but for their lateness.
    # In seconds to the ms (the decider woke at 03:00:00.25), as every other line's
    # durations (delay_s, down_s): it was late_ms.
    assert fired == [
        ("zendesk:7:sla:first_reply:warn1", "sla", 33300.25),
        ("zendesk:7:sla:first_reply:warn2", "sla", 32760.25),
        ("zendesk:7:oncall.unanswered", "oncall.unanswered", 32400.25),
        ("zendesk:7:sla:first_reply:breach", "sla", 32400.25),
    ]


# A backlog of business hours delivered after hours (Zendesk's retries after an outage, an
# evening catch-up): the team was there when these tickets came and saw them in the helpdesk.
# The new-trial operator's backlog of one day's tickets, delivered at 21:46, started 82 chains
# ("urgent ticket created after hours" for a ticket created at 09:39 and answered at 11:14).
FRIDAY_1500 = datetime(2026, 1, 16, 15, 0, tzinfo=UTC)
FRIDAY_2000 = datetime(2026, 1, 16, 20, 0, 0, 250_000, tzinfo=UTC)


def test_an_urgent_ticket_of_the_afternoon_delivered_in_the_evening_is_not_paged_as_new(
    engine, rules
):
    # Created and answered in the afternoon; both events reach deskbridge at 20:00.
    store(engine, created(FRIDAY_1500), FRIDAY_2000)
    answered = urgent(
        2,
        FRIDAY_1500 + timedelta(minutes=20),
        EventKind.comment_added,
        created=FRIDAY_1500,
        comment=AGENT_REPLY,
    )
    store(engine, answered, FRIDAY_2000)
    decided = catch_up(engine, rules, FRIDAY_2000, "decider first")

    print(repr(paging(decided)))
    assert paging(decided) == []
    assert pending_step(engine) is None


def test_an_urgent_ticket_of_the_afternoon_still_unanswered_in_the_evening_pages_for_the_wait(
    engine, rules
):
    # Not as a new ticket: for its first reply target, run out at 16:00 and still waiting.
    store(engine, created(FRIDAY_1500), FRIDAY_2000)
    decided = catch_up(engine, rules, FRIDAY_2000, "decider first")

    cause = (
        "timer:zendesk:7:oncall.page:2026-01-16T16:00:00.000000:sla_breach_urgent:"
        "zendesk:7:sla:first_reply:2026-01-16T15:00:00+00:00:breach"
    )
    chain = "oncall:2026-01-16T20:00:00.250000+00:00"
    assert paging(decided) == [
        (cause, "page_oncall", f"{chain}:0", [LENA]),
        (cause, "pager", f"{chain}:trigger:0", FRIDAY_2000.isoformat()),
    ]


def lawyer(at: datetime, stored: datetime, engine: Engine) -> None:
    """A normal-priority ticket whose customer threatens legal action: escalated."""
    store(
        engine,
        TicketEvent(
            source=Source.zendesk,
            ticket_id="8",
            dedupe_key="zendesk:event:8-1",
            kind=EventKind.created,
            occurred_at=at,
            ticket=TicketSnapshot(
                status=Status.new,
                priority=Priority.normal,
                subject="Order 100311 never arrived",
                description="If this is not sorted by Monday my lawyer will be in touch.",
                created_at=at,
                updated_at=at,
            ),
        ),
        stored,
    )


@pytest.mark.parametrize(
    ("at", "paged"),
    [(FRIDAY_1500, []), (FRIDAY_2000 - timedelta(minutes=30), [[LENA]])],
    ids=["written in the afternoon", "written after hours"],
)
def test_an_escalation_delivered_late_after_hours_pages_only_if_written_after_hours(
    engine, rules, at, paged
):
    lawyer(at, FRIDAY_2000, engine)
    decided = catch_up(engine, rules, FRIDAY_2000, "decider first")

    assert [a.kind.value for d in decided for a in d.actions if a.rule == "risk"] == [
        "escalate",
        "set_priority",
        "assign",
        "note",
    ]
    pages = [a for d in decided for a in d.actions if a.kind.value == "page_oncall"]
    assert [a.params["people"] for a in pages] == paged
