"""An urgent ticket's reply target running out pages on call once. A business-time target
that runs out as the office closes is seen twice at that instant: by the unanswered watch
(`oncall.unanswered`) and by its own SLA breach, after hours. The decider fires them by due
time, then id (the watch first); the rules page once in either order, and not at all when
the ticket is answered between them. config/example.yaml: urgent first reply 1 business hour,
Mon-Fri 09:00-18:00 Europe/London (UTC in January), Lena on call that week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deskbridge.workflows.decision import Context, Timer
from deskbridge.workflows.model import (
    Comment,
    EventKind,
    Priority,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
    TicketState,
)
from deskbridge.workflows.rules import evaluate_rules_to_state, evaluate_timer_to_state
from deskbridge.workflows.state import apply_event, mark_fired, new_state
from tests.workflows.test_sla_timers import AGENT
from tests.workflows.test_sla_timers import event as urgent

CREATED = datetime(2026, 1, 16, 17, 0, tzinfo=UTC)  # Friday 17:00
CLOSING = CREATED + timedelta(hours=1)
WATCH, BREACH = "zendesk:7:oncall.unanswered", "zendesk:7:sla:first_reply:breach"
CHAIN = "zendesk:7:oncall:2026-01-16T18:00:00+00:00"
SLA_KEY = "zendesk:7:sla:first_reply:2026-01-16T17:00:00+00:00"
RAN_OUT = "urgent ticket unanswered after hours: its 1h first reply target ran out"
MISSED = "first reply target of 1h business-hours missed at Fri 16 Jan 18:00"
# The breach's page says which target ran out (the SLA rule's reason).
BREACHED = f"urgent ticket breached its SLA after hours — {MISSED}"
CORRECTED = (
    "correction: first reply target met — the reply written Fri 16 Jan 18:00, at the 18:00 "
    "deadline, reached deskbridge after the breach alert"
)


class Ticket:
    """Ticket 7 folded through the rules, event by event and timer by timer, as the decider
    does: each sees the state the one before left, and its actions' keys marked fired."""

    def __init__(self, rules) -> None:
        self.rules = rules
        self.state: TicketState | None = None
        self.timers: dict[str, Timer] = {}

    def event(self, event: TicketEvent) -> list[tuple[str, str, str]]:
        previous = self.state
        state, _ = apply_event(previous or new_state(event), event)
        ctx = Context(now=event.occurred_at, rules=self.rules, previous=previous)
        return self._fold(*evaluate_rules_to_state(state, event, ctx))

    def fire(self, timer_id: str) -> list[tuple[str, str, str]]:
        timer = self.timers.pop(timer_id)
        ctx = Context(now=timer.due_at, rules=self.rules, previous=self.state)
        return self._fold(*evaluate_timer_to_state(self.state, timer, ctx))

    def fire_before(self, until: datetime) -> None:
        while due := [t for t in self.timers.values() if t.due_at < until]:
            self.fire(min(due, key=lambda t: (t.due_at, t.id)).id)

    def _fold(self, decision, after: TicketState) -> list[tuple[str, str, str]]:
        self.state = mark_fired(after, [a.key for a in decision.actions])
        for timer_id in decision.cancel:
            self.timers.pop(timer_id, None)
        self.timers.update((t.id, t) for t in decision.timers)
        return [(a.kind.value, a.key, a.reason) for a in decision.actions]


@pytest.fixture
def ticket(rules) -> Ticket:
    """Created at 17:00 and unanswered at 17:59:59: the watch and the breach due at 18:00."""
    ticket = Ticket(rules)
    ticket.event(urgent(1, CREATED, EventKind.created, Status.new, created=CREATED))
    ticket.fire_before(CLOSING)
    assert (ticket.timers[WATCH].due_at, ticket.timers[BREACH].due_at) == (CLOSING, CLOSING)
    return ticket


def page(reason: str) -> list[tuple[str, str, str]]:
    return [("page_oncall", f"{CHAIN}:0", reason), ("pager", f"{CHAIN}:trigger:0", reason)]


def test_the_watch_first_pages_and_the_breach_only_goes_to_the_leads(ticket):
    assert ticket.fire(WATCH) == page(RAN_OUT)
    # Not also an "Also: urgent ticket breached its SLA after hours (already paged)" line in
    # the chain's thread: it is the same target running out.
    assert ticket.fire(BREACH) == [("sla_breach", f"{SLA_KEY}:breach", MISSED)]
    assert ticket.state.oncall.reason == RAN_OUT


def test_the_breach_first_pages_and_the_watch_pages_nobody_again(ticket):
    assert ticket.fire(BREACH) == [("sla_breach", f"{SLA_KEY}:breach", MISSED), *page(BREACHED)]
    assert ticket.fire(WATCH) == []
    assert ticket.state.oncall.reason == BREACHED


def answer(at: datetime = CLOSING) -> TicketEvent:
    comment = Comment(id="7-2", public=True, author_id="900", author_is_agent=True)
    return urgent(2, at, EventKind.comment_added, comment=comment, created=CREATED)


def withdrawn(reason: str) -> list[tuple[str, str, str]]:
    """The chain withdrawn: said in its thread, the pager's incident resolved."""
    why = f"false alarm: answered at Fri 16 Jan 2026 18:00 GMT, before the first page ({reason})"
    return [("notify", f"{CHAIN}:withdrawn", why), ("pager", f"{CHAIN}:resolve", why)]


def test_answered_after_the_watch_paged_the_breach_decides_nothing(ticket):
    assert ticket.fire(WATCH) == page(RAN_OUT)
    breach = ticket.timers[BREACH]
    # The reply, written at 18:00 and delivered after the page, met the target: the page was
    # a false alarm, and the chain stops (before, Lena was paged again at 18:10, Tom at 18:20
    # and the leads at 18:30 for a customer who had their answer).
    assert ticket.event(answer()) == withdrawn(RAN_OUT)
    # The reply stopped the clock: its breach is cancelled, and were it fired all the same
    # (claimed before the reply was decided) it would decide nothing.
    assert sorted(ticket.timers) == ["zendesk:7:sla:resolution:warn1"]
    assert ticket.state.oncall.withdrawn_at == CLOSING
    ticket.timers[BREACH] = breach
    assert ticket.fire(BREACH) == []


def test_answered_after_the_breach_paged_the_watch_decides_nothing(ticket):
    assert ticket.fire(BREACH) == [("sla_breach", f"{SLA_KEY}:breach", MISSED), *page(BREACHED)]
    watch = ticket.timers[WATCH]
    # Written at 18:00, the reply met its target (at, not after, the deadline): the leads
    # hear their alert was false, and the chain it paged is withdrawn; the watch pages nobody.
    assert ticket.event(answer()) == [
        ("notify", f"{SLA_KEY}:breach_withdrawn", CORRECTED),
        *withdrawn(BREACHED),
    ]
    assert sorted(ticket.timers) == ["zendesk:7:sla:resolution:warn1"]
    ticket.timers[WATCH] = watch
    assert ticket.fire(WATCH) == []


def test_answered_after_the_page_stops_nothing(ticket):
    # A reply written after the page answers the customer late: the page was due, and the
    # chain goes on until someone acknowledges it.
    assert ticket.fire(WATCH) == page(RAN_OUT)
    assert ticket.event(answer(CLOSING + timedelta(minutes=5))) == []
    assert "zendesk:7:oncall.step" in ticket.timers
    assert ticket.state.oncall.withdrawn_at is None


def test_deskbridge_ack_of_a_withdrawn_chain_says_it_was_a_false_alarm(ticket):
    from deskbridge.bot.oncall import describe_stopped_chain

    ticket.fire(WATCH)
    ticket.event(answer())
    assert describe_stopped_chain(ticket.rules, ticket.state.oncall) == (
        "Nothing to acknowledge: the page was withdrawn at Fri 16 Jan 2026 18:00 GMT, the "
        "customer having been answered before it; no more pages for it."
    )


def test_a_chain_that_pages_for_more_than_the_wait_is_not_withdrawn(ticket):
    # Paged at 18:00 for the reply target; at 18:05 the customer threatens legal action: the
    # escalation is told in the chain's thread ("Also: …"). The reply written at 17:59 then
    # arrives: the wait was a false alarm, the escalation is not, and the chain goes on
    # (before, it was withdrawn and nobody further heard of the escalation).
    said = "my lawyer will take legal action"
    comment = Comment(id="7-c3", public=True, author_id="111", author_is_agent=False, body=said)
    threat = urgent(
        3, CLOSING + timedelta(minutes=5), EventKind.comment_added, comment=comment, created=CREATED
    )
    assert ticket.fire(WATCH) == page(RAN_OUT)
    assert ticket.event(threat)[-1] == (
        "notify",
        f"{CHAIN}:also:escalated:zendesk:7:risk:legal:escalate",
        "escalated to the specialist tier after hours",
    )
    assert ticket.event(answer(CLOSING - timedelta(minutes=1))) == []
    assert ticket.state.oncall.withdrawn_at is None
    assert "zendesk:7:oncall.step" in ticket.timers


def test_a_withdrawn_page_offers_no_acknowledge_and_says_why(ticket):
    # The refreshed page kept its red Acknowledge button and said nothing of the withdrawal;
    # a click recorded an acknowledgement of a false alarm.
    from deskbridge.bot.blocks import TicketView, build_alert

    def buttons(view: TicketView) -> list[str]:
        page = {"action": "page_oncall", "reason": RAN_OUT, "ticket": "zendesk:7"}
        blocks = build_alert(page, view)["blocks"]
        return [
            e["text"]["text"]
            for b in blocks
            if b["type"] == "actions"
            for e in b["elements"]
            if e["type"] == "button"
        ] + [str(blocks)]

    from deskbridge.bot.notifier import build_view

    ticket.fire(WATCH)
    assert "Acknowledge" in buttons(build_view(ticket.state, ticket.rules, CLOSING))
    ticket.event(answer())
    assert build_view(ticket.state, ticket.rules, CLOSING).page_withdrawn
    view = TicketView(key="zendesk:7", number="7", url=None, subject="Sofa")
    assert "Acknowledge" in buttons(view)
    withdrawn = buttons(TicketView(**{**view.__dict__, "page_withdrawn": True}))
    assert "Acknowledge" not in withdrawn
    assert "Page withdrawn: answered before it" in withdrawn[-1]


def test_the_hand_off_says_a_withdrawn_page_was_withdrawn(ticket):
    # It said "not acknowledged": the new shift read a false alarm as a page left unowned.
    from deskbridge.workflows.rules.oncall_handoff import build_handoff
    from tests.workflows.test_oncall_handoff import Reader

    ticket.fire(WATCH)
    ticket.event(answer())
    at = datetime(2026, 1, 19, 9, 0, tzinfo=UTC)
    (action,) = build_handoff(at, ticket.rules, Reader([ticket.state]))
    assert (
        action.params["text"]
        .splitlines()[3]
        .endswith("paged Fri 16 Jan 2026 18:00 GMT, page withdrawn, answered before it")
    )


def test_a_late_reply_that_withdraws_the_chain_does_not_page_for_its_business_hours_escalation(
    ticket,
):
    # The agent's reply at 17:59, tagging the customer "vip" as they answered, reaches
    # deskbridge at 18:30 (Zendesk's retries): the 18:00 page was a false alarm and is
    # withdrawn. The escalation it carries was written in business hours, seen by the team
    # then: it pages nobody, as it would not have without a chain to withdraw (1b5d578).
    # Before, what the withdrawn chain's event decided besides was paged without that check:
    # a new chain paged Lena at 18:30.
    assert ticket.fire(WATCH) == page(RAN_OUT)
    written = CLOSING - timedelta(minutes=1)
    reply = TicketEvent(
        source=Source.zendesk,
        ticket_id="7",
        dedupe_key="zendesk:event:7-2",
        kind=EventKind.comment_added,
        occurred_at=written,
        ticket=TicketSnapshot(
            status=Status.open,
            priority=Priority.urgent,
            assignee=AGENT,
            tags=["vip"],
            created_at=CREATED,
            updated_at=written,
        ),
        comment=Comment(id="7-2", public=True, author_id="900", author_is_agent=True),
    )
    previous = ticket.state
    state, _ = apply_event(previous, reply)
    ctx = Context(now=CLOSING + timedelta(minutes=30), rules=ticket.rules, previous=previous)
    decision, _ = evaluate_rules_to_state(state, reply, ctx)

    escalated = 'risk 3 ≥ 3: tagged "vip" (vip, 3)'
    false_alarm = (
        f"false alarm: answered at Fri 16 Jan 2026 17:59 GMT, before the first page ({RAN_OUT})"
    )
    assert [(a.kind.value, a.key, a.reason) for a in decision.actions] == [
        ("escalate", "zendesk:7:risk:vip:escalate", escalated),
        ("assign", "zendesk:7:risk:vip:assign", escalated),
        ("note", "zendesk:7:risk:vip:note", escalated),
        ("notify", f"{CHAIN}:withdrawn", false_alarm),
        ("pager", f"{CHAIN}:resolve", false_alarm),
    ]
