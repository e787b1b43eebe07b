"""SLA timers: a clock sets only its next stage's timer, and firing it sets the one after, so
the warnings and the breach fall due when they would have with every stage set at once;
a clock stored before clocks kept their timer's stage still warns and stops as it did.
config/example.yaml: urgent first reply 1 business hour, resolution 9 (Mon-Fri 09:00-18:00
Europe/London), warnings at 75% (assignee) and 90% (lead)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deskbridge.config.rules import SlaWarning
from deskbridge.store.events import list_failed_events
from deskbridge.store.tickets import load_ticket
from deskbridge.store.timers import list_timers
from deskbridge.workflows.decision import Context, Timer
from deskbridge.workflows.model import (
    Comment,
    EventKind,
    Priority,
    SlaClock,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
    TicketState,
    evolve,
)
from deskbridge.workflows.rules.sla import describe_ago, evaluate_sla, fire_sla
from deskbridge.workflows.service import WorkflowService
from deskbridge.workflows.state import KEEP_COMMENT_IDS, apply_event, new_state

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 09:00 in London
AGENT = "9013300112004"


def event(
    n: int, at: datetime, kind: EventKind, status: Status = Status.open, created=T0, **kw
) -> TicketEvent:
    """Event n of urgent ticket 7 (created at `created`), at `at`."""
    return TicketEvent(
        source=Source.zendesk,
        ticket_id="7",
        dedupe_key=f"zendesk:event:7-{n}",
        kind=kind,
        occurred_at=at,
        ticket=TicketSnapshot(
            status=status,
            priority=Priority.urgent,
            assignee=AGENT,
            created_at=created,
            updated_at=at,
        ),
        **kw,
    )


def test_stages_overdue_at_a_sweep_fire_in_it_in_order_and_only_the_next_is_ever_set(engine, rules):
    service = WorkflowService(engine, rules, clock=lambda: T0)
    service.accept_event(event(1, T0, EventKind.created), "{}", T0)

    def timers() -> dict[str, str]:
        with engine.connect() as connection:
            return {t["id"]: (t["due_at"], t["status"]) for t in list_timers(connection)}

    # Each clock's first stage alone.
    assert timers() == {
        "zendesk:7:sla:first_reply:warn1": (T0 + timedelta(minutes=45), "pending"),
        "zendesk:7:sla:resolution:warn1": (T0 + timedelta(hours=6, minutes=45), "pending"),
        # The on-call watch: unanswered at closing (18:00), paged (workflows/rules/oncall.py).
        "zendesk:7:oncall.unanswered": (T0 + timedelta(hours=9), "pending"),
    }
    # The sweep runs late (the service was down): the first reply's three stages fire in it,
    # in due order, each set by the one before. The warnings, sent only after the deadline,
    # say nothing beside the breach.
    fired = service.fire_due_timers(T0 + timedelta(hours=2))
    assert [(f.timer_id, f.due_at, [a.kind.value for a in f.actions]) for f in fired] == [
        ("zendesk:7:sla:first_reply:warn1", T0 + timedelta(minutes=45), []),
        ("zendesk:7:sla:first_reply:warn2", T0 + timedelta(minutes=54), []),
        ("zendesk:7:sla:first_reply:breach", T0 + timedelta(hours=1), ["sla_breach"]),
    ]
    assert timers() == {
        "zendesk:7:sla:first_reply:warn1": (T0 + timedelta(minutes=45), "fired"),
        "zendesk:7:sla:first_reply:warn2": (T0 + timedelta(minutes=54), "fired"),
        "zendesk:7:sla:first_reply:breach": (T0 + timedelta(hours=1), "fired"),
        "zendesk:7:sla:resolution:warn1": (T0 + timedelta(hours=6, minutes=45), "pending"),
        # The on-call watch: unanswered at closing (18:00), paged (workflows/rules/oncall.py).
        "zendesk:7:oncall.unanswered": (T0 + timedelta(hours=9), "pending"),
    }
    # Resolution's first warning, then solved before the second: the one timer set is
    # cancelled, and nothing else was ever set.
    assert [f.timer_id for f in service.fire_due_timers(T0 + timedelta(hours=7))] == [
        "zendesk:7:sla:resolution:warn1"
    ]
    solved = T0 + timedelta(hours=7, minutes=30)
    service.accept_event(event(2, solved, EventKind.status_changed, Status.solved), "{}", solved)
    assert timers() == {
        "zendesk:7:sla:first_reply:warn1": (T0 + timedelta(minutes=45), "fired"),
        "zendesk:7:sla:first_reply:warn2": (T0 + timedelta(minutes=54), "fired"),
        "zendesk:7:sla:first_reply:breach": (T0 + timedelta(hours=1), "fired"),
        "zendesk:7:sla:resolution:warn1": (T0 + timedelta(hours=6, minutes=45), "fired"),
        "zendesk:7:sla:resolution:warn2": (T0 + timedelta(hours=8, minutes=6), "cancelled"),
        "zendesk:7:oncall.unanswered": (T0 + timedelta(hours=9), "cancelled"),
    }
    assert service.fire_due_timers(T0 + timedelta(days=2)) == []


def _stored_before(timer_stage: str | None = None, *, kept: bool = True) -> TicketState:
    """A ticket whose first-reply and resolution clocks run since T0, each having set the
    timer of `timer_stage`; or, not `kept`, stored before clocks kept it, when every stage's
    timer was set."""
    clocks = {
        metric: SlaClock(metric=metric, instance=T0.isoformat(), started_at=T0, running_since=T0)
        for metric in ("first_reply", "resolution")
    }
    return TicketState(
        key="zendesk:7",
        source=Source.zendesk,
        ticket_id="7",
        status=Status.open,
        priority=Priority.urgent,
        assignee=AGENT,
        created_at=T0,
        sla_policy="urgent",
        sla_clocks=clocks,
        sla_timer_stages=dict.fromkeys(clocks, timer_stage) if kept else {},
    )


def _stage_timer(stage: str, due: datetime) -> Timer:
    payload = {"metric": "first_reply", "instance": T0.isoformat(), "stage": stage}
    return Timer(f"zendesk:7:sla:first_reply:{stage}", "zendesk:7", "sla", due, payload)


def test_a_clock_stored_before_warns_from_any_stage_and_then_sets_the_next_alone(rules):
    state = _stored_before(kept=False)
    warn2 = T0 + timedelta(minutes=54)
    decision = fire_sla(state, _stage_timer("warn2", warn2), Context(now=warn2, rules=rules))
    assert [a.key for a in decision.actions] == [
        f"zendesk:7:sla:first_reply:{T0.isoformat()}:warn2"
    ]
    assert decision.timers == [
        Timer(
            "zendesk:7:sla:first_reply:breach",
            "zendesk:7",
            "sla",
            T0 + timedelta(hours=1),
            {
                "metric": "first_reply",
                "instance": T0.isoformat(),
                "stage": "breach",
                "fraction": 1.0,
            },
        )
    ]
    assert decision.updates == {"sla_timer_stages": {"first_reply": "breach"}}
    # A stage other than the one the clock set last is stale: it does nothing.
    later = _stored_before("breach")
    stale = fire_sla(later, _stage_timer("warn2", warn2), Context(now=warn2, rules=rules))
    assert (stale.actions, stale.timers, stale.updates) == ([], [], {})


def test_a_reply_cancels_every_stage_of_a_clock_stored_before_and_the_set_one_of_others(rules):
    at = T0 + timedelta(minutes=20)
    comment = Comment(id="7-2", public=True, author_id=AGENT, author_is_agent=True)
    reply = event(2, at, EventKind.comment_added, comment=comment)
    cancelled = {}
    for name, before in (
        ("stored before", _stored_before(kept=False)),
        ("warn2 set", _stored_before("warn2")),
        ("none set", _stored_before(None)),
    ):
        state, _ = apply_event(before, reply)
        decision = evaluate_sla(state, reply, Context(now=at, rules=rules, previous=before))
        assert decision.timers == []
        after = decision.updates.get("sla_timer_stages", before.sla_timer_stages)
        assert after["first_reply"] is None
        cancelled[name] = decision.cancel
    assert cancelled == {
        "stored before": [
            "zendesk:7:sla:first_reply:warn1",
            "zendesk:7:sla:first_reply:warn2",
            "zendesk:7:sla:first_reply:breach",
        ],
        "warn2 set": ["zendesk:7:sla:first_reply:warn2"],
        "none set": [],
    }


def test_a_state_stored_before_it_kept_the_newest_reply_reads_it_from_its_clocks(rules):
    # First reply at 09:20; the ticket stored before states kept the newest reply's time.
    # A customer message of 09:10 delivered now was answered; one of 09:30 starts the clock.
    answered = T0 + timedelta(minutes=20)
    stored = _stored_before()
    first = evolve(
        stored.sla_clocks["first_reply"], {"fulfilled_at": answered, "running_since": None}
    )
    before = evolve(
        stored,
        {
            "sla_clocks": {**stored.sla_clocks, "first_reply": first},
            "public_agent_reply_ids": ["7-2"],
        },
    )
    assert before.last_public_agent_reply_at is None
    started = {}
    for n, minutes in ((3, 10), (4, 30)):
        at = T0 + timedelta(minutes=minutes)
        comment = Comment(
            id=f"7-{n}", public=True, author_id="77", author_is_agent=False, body="Any news?"
        )
        message = event(n, at, EventKind.comment_added, comment=comment)
        state, _ = apply_event(before, message)
        decision = evaluate_sla(state, message, Context(now=at, rules=rules, previous=before))
        clock = decision.updates.get("sla_clocks", {}).get("next_reply")
        started[minutes] = clock and clock.instance
    assert started == {10: None, 30: (T0 + timedelta(minutes=30)).isoformat()}


def test_a_ticket_created_twelve_years_ago_is_decided_and_its_clocks_stop(engine, rules):
    # Created Mon 2 Jun 2014 (an old ticket answered now): its clocks have run twelve years
    # of business time, measured to the span's end, not given up on after 3,660 days.
    created, now = datetime(2014, 6, 2, 9, tzinfo=UTC), T0 + timedelta(days=1, minutes=59)
    service = WorkflowService(engine, rules, clock=lambda: now)

    for n, status in enumerate([Status.open, Status.open, Status.solved]):
        reply = Comment(id=f"7-{n}", public=True, author_id=AGENT, author_is_agent=True)
        at = now + n * timedelta(minutes=1)
        reply_event = event(n, at, EventKind.comment_added, status, created, comment=reply)
        service.accept_event(reply_event, "{}", now)
    with engine.connect() as connection:
        assert list_failed_events(connection) == []
        clocks = load_ticket(connection, "zendesk:7").sla_clocks
        timers = {t["id"]: (t["due_at"], t["status"]) for t in list_timers(connection)}
    # The resolution's first warning (75% of the urgent 9 business hours from Mon 10:00 BST),
    # set by the first reply twelve years overdue: no sweep ran, and the decider fires it
    # (and the stages it sets, as overdue) before the second reply, as a replay does.
    assert timers == {
        "zendesk:7:sla:resolution:warn1": (datetime(2014, 6, 2, 15, 45, tzinfo=UTC), "fired"),
        "zendesk:7:sla:resolution:warn2": (datetime(2014, 6, 3, 8, 6, tzinfo=UTC), "fired"),
        "zendesk:7:sla:resolution:breach": (datetime(2014, 6, 3, 9, 0, tzinfo=UTC), "fired"),
    }
    assert {m: (c.started_at, c.fulfilled_at) for m, c in clocks.items()} == {
        "first_reply": (created, now),
        "resolution": (created, now + 2 * timedelta(minutes=1)),
    }
    # From Mon 2 Jun 2014 10:00 BST: 613 weeks of 45 hours less the first hour and 95 days of
    # holidays (9 h each), then Mon 2 Mar 2026 (9 h) and Tue 3 Mar 09:00-10:01.
    assert clocks["resolution"].used_s == (613 * 45 - 1 - 95 * 9 + 9 + 1) * 3600 + 60
    assert clocks["first_reply"].used_s == clocks["resolution"].used_s - 120


def _with_warnings(rules, *warnings: SlaWarning):
    return rules.model_copy(
        update={"sla": rules.sla.model_copy(update={"warnings": list(warnings)})}
    )


def test_a_stage_removed_from_the_rules_has_passed_and_the_next_is_set(rules):
    # warn2 (90%) was set; the rules now have one warning: warn2 says nothing and the breach
    # is set; with that one warning at 95%, it is next (was IndexError: no breach alert).
    warn2 = T0 + timedelta(minutes=54)
    timer = Timer(
        "zendesk:7:sla:first_reply:warn2",
        "zendesk:7",
        "sla",
        warn2,
        {"metric": "first_reply", "instance": T0.isoformat(), "stage": "warn2", "fraction": 0.9},
    )
    followed = {}
    for at in (0.75, 0.95):
        later = _with_warnings(rules, SlaWarning(at=at, notify="assignee"))
        decision = fire_sla(_stored_before("warn2"), timer, Context(now=warn2, rules=later))
        assert decision.actions == []
        assert decision.updates == {
            "sla_timer_stages": {
                "first_reply": decision.timers[0].payload["stage"],
                "resolution": "warn2",
            }
        }
        followed[at] = [(t.id, t.due_at, t.payload["fraction"]) for t in decision.timers]
    assert followed == {
        0.75: [("zendesk:7:sla:first_reply:breach", T0 + timedelta(hours=1), 1.0)],
        0.95: [("zendesk:7:sla:first_reply:warn1", T0 + timedelta(minutes=57), 0.95)],
    }


def test_a_warning_removed_before_a_restart_still_leads_to_the_breach(engine, rules):
    service = WorkflowService(engine, rules, clock=lambda: T0)
    service.accept_event(event(1, T0, EventKind.created), "{}", T0)
    fired = service.fire_due_timers(T0 + timedelta(minutes=50))
    assert [f.timer_id for f in fired] == ["zendesk:7:sla:first_reply:warn1"]
    # Restarted with the second warning (90%, set for 09:54) removed from the rules.
    later = _with_warnings(rules, SlaWarning(at=0.75, notify="assignee"))
    restarted = WorkflowService(engine, later, clock=lambda: T0)
    fired = restarted.fire_due_timers(T0 + timedelta(hours=2))
    assert [(f.timer_id, f.due_at, [a.kind.value for a in f.actions]) for f in fired] == [
        ("zendesk:7:sla:first_reply:warn2", T0 + timedelta(minutes=54), []),
        ("zendesk:7:sla:first_reply:breach", T0 + timedelta(hours=1), ["sla_breach"]),
    ]
    with engine.connect() as connection:
        first_reply = {
            t["id"]: t["status"] for t in list_timers(connection) if ":first_reply:" in t["id"]
        }
    assert first_reply == {
        "zendesk:7:sla:first_reply:warn1": "fired",
        "zendesk:7:sla:first_reply:warn2": "fired",
        "zendesk:7:sla:first_reply:breach": "fired",
    }


def test_a_policy_renamed_in_the_rules_plans_the_clocks_again_under_the_one_that_applies(rules):
    # The ticket's clocks were set under "urgent", now renamed "critical" (the same targets):
    # the warn2 timer re-plans both clocks under it, from their first stage not used up (the
    # first reply's 75% warning, announced before, is not again: its action's key is known).
    policies = [
        p.model_copy(update={"name": "critical"}) if p.name == "urgent" else p
        for p in rules.sla.policies
    ]
    renamed = rules.model_copy(update={"sla": rules.sla.model_copy(update={"policies": policies})})
    warn2 = T0 + timedelta(minutes=54)
    timer = _stage_timer("warn2", warn2)
    decision = fire_sla(_stored_before("warn2"), timer, Context(now=warn2, rules=renamed))
    assert decision.actions == []
    assert decision.cancel == ["zendesk:7:sla:resolution:warn2"]
    assert [(t.id, t.due_at) for t in decision.timers] == [
        ("zendesk:7:sla:first_reply:warn1", T0 + timedelta(minutes=45)),
        ("zendesk:7:sla:resolution:warn1", T0 + timedelta(hours=6, minutes=45)),
    ]
    assert decision.updates == {
        "sla_policy": "critical",
        "sla_timer_stages": {"first_reply": "warn1", "resolution": "warn1"},
    }
    # Removed, with no other policy for the ticket: its timers are cancelled.
    removed = rules.model_copy(
        update={"sla": rules.sla.model_copy(update={"policies": [rules.sla.policies[0]]})}
    )
    decision = fire_sla(_stored_before("warn2"), timer, Context(now=warn2, rules=removed))
    assert (decision.actions, decision.timers) == ([], [])
    assert decision.cancel == ["zendesk:7:sla:resolution:warn2"]
    assert decision.updates == {
        "sla_policy": None,
        "sla_timer_stages": {"first_reply": None, "resolution": None},
    }


def test_a_policy_renamed_before_a_restart_still_warns_and_alerts_the_breach(engine, rules):
    service = WorkflowService(engine, rules, clock=lambda: T0)
    service.accept_event(event(1, T0, EventKind.created), "{}", T0)
    fired = service.fire_due_timers(T0 + timedelta(minutes=50))
    assert [f.timer_id for f in fired] == ["zendesk:7:sla:first_reply:warn1"]
    # Restarted with "urgent" renamed "critical" (the same targets).
    policies = [
        p.model_copy(update={"name": "critical"}) if p.name == "urgent" else p
        for p in rules.sla.policies
    ]
    renamed = rules.model_copy(update={"sla": rules.sla.model_copy(update={"policies": policies})})
    restarted = WorkflowService(engine, renamed, clock=lambda: T0)
    # Back at 09:55, before the deadline (a warning known only after it is not sent).
    fired = restarted.fire_due_timers(T0 + timedelta(minutes=55))
    fired += restarted.fire_due_timers(T0 + timedelta(hours=2))
    assert [
        (f.timer_id, f.due_at, [(a.kind.value, a.params["policy"]) for a in f.actions])
        for f in fired
    ] == [
        ("zendesk:7:sla:first_reply:warn2", T0 + timedelta(minutes=54), []),  # re-plans
        ("zendesk:7:sla:first_reply:warn1", T0 + timedelta(minutes=45), []),  # announced
        (
            "zendesk:7:sla:first_reply:warn2",
            T0 + timedelta(minutes=54),
            [("sla_warning", "critical")],
        ),
        ("zendesk:7:sla:first_reply:breach", T0 + timedelta(hours=1), [("sla_breach", "critical")]),
    ]


def test_the_messages_waiting_are_the_customers_written_after_the_newest_reply():
    # What a late reply may leave waiting: the customer's messages newer than every reply,
    # oldest first, however late each comment comes; each counted once.
    def said(state: TicketState, n: int, minutes: int, agent: bool) -> TicketState:
        comment = Comment(
            id=f"7-{n}",
            public=True,
            author_id=AGENT if agent else "77",
            author_is_agent=agent,
            body="On it." if agent else "Any news?",
        )
        at = T0 + timedelta(minutes=minutes)
        return apply_event(state, event(n, at, EventKind.comment_added, comment=comment))[0]

    created = event(1, T0, EventKind.created)
    state = apply_event(new_state(created), created)[0]
    waiting = {}
    for step, (n, minutes, agent) in enumerate(
        [
            (2, 60, False),  # 10:00
            (3, 90, False),  # 10:30
            (2, 60, False),  # 10:00 again
            (4, 70, True),  # reply 10:10 answers 10:00
            (5, 0, True),  # a reply of 09:00 delivered late answers none still waiting
            (6, 65, False),  # 10:05, delivered after the 10:10 reply: answered
            (7, 80, False),  # 10:20, delivered late: waits
            (8, 90, True),  # reply 10:30 answers every message
        ]
    ):
        state = said(state, n, minutes, agent)
        waiting[step] = [f"{at:%H:%M}" for at in state.unanswered_customer_message_at]
    assert waiting == {
        0: ["10:00"],
        1: ["10:00", "10:30"],
        2: ["10:00", "10:30"],
        3: ["10:30"],
        4: ["10:30"],
        5: ["10:30"],
        6: ["10:20", "10:30"],
        7: [],
    }
    assert f"{state.last_public_agent_reply_at:%H:%M}" == "10:30"
    # Bounded as the comment ids are: the newest KEEP_COMMENT_IDS.
    for n in range(100, 100 + KEEP_COMMENT_IDS + 5):
        state = said(state, n, 100 + n, False)
    assert state.unanswered_customer_message_at == [
        T0 + timedelta(minutes=100 + n) for n in range(105, 100 + KEEP_COMMENT_IDS + 5)
    ]


def _fold(state, e, rules, now):
    before = state
    state, _ = apply_event(state, e)
    decision = evaluate_sla(state, e, Context(now=now, rules=rules, previous=before))
    return evolve(state, decision.updates)


def test_a_late_status_on_a_ticket_stored_before_points_were_kept_keeps_its_pause(rules):
    # Urgent ticket 7 created Mon 09:00, pending Mon 10:00 to Tue 10:00: 1 business hour
    # used when it reopened. Stored then by a deskbridge that kept no status points; after the
    # upgrade, a tag change at Tue 11:00 and a status event of Tue 10:30 delivered after it.
    created = event(1, T0, EventKind.created, Status.new)
    state = _fold(new_state(created), created, rules, T0)
    pending = T0 + timedelta(hours=1)
    paused = event(2, pending, EventKind.status_changed, Status.pending)
    state = _fold(state, paused, rules, pending)
    reopened = T0 + timedelta(days=1, hours=1)
    state = _fold(state, event(3, reopened, EventKind.status_changed), rules, reopened)
    state = evolve(state, {"status_points": []})  # stored before they were kept
    tagged = reopened + timedelta(hours=1)
    state = _fold(state, event(4, tagged, EventKind.tags_changed), rules, tagged)
    late = event(5, reopened + timedelta(minutes=30), EventKind.tags_changed)
    state = _fold(state, late, rules, tagged + timedelta(minutes=5))
    clock = state.sla_clocks["resolution"]
    assert (clock.running_since, clock.used_s) == (reopened, 3600.0)


def test_a_breach_known_late_says_how_long_ago_as_a_lead_reads_it():
    # Minutes under the hour, hours and minutes under two days, then days: a breach known
    # only long after its time (a backlog, a replayed history) said "922093 min ago".
    assert [describe_ago(s) for s in (60, 301, 3600, 57000, 172799, 172800, 55325580)] == [
        "1 min ago",
        "5 min ago",
        "1h ago",
        "15h50m ago",
        "47h59m ago",
        "2 days ago",
        "640 days ago",
    ]


def test_the_sla_lines_of_alerts_write_time_left_as_the_reasons_write_targets(rules):
    # Urgent ticket 7 created Mon 09:00: first reply due 10:00 (1 business hour), resolution
    # Mon 18:00 (9h). Whole hours read "in 8h", as "8h business-hours target" does, not
    # "8h00m"; under a minute "in under 1m", not "in 0m".
    from deskbridge.workflows.rules.sla import describe_sla

    created = event(1, T0, EventKind.created, Status.new)
    state = _fold(new_state(created), created, rules, T0)
    lines = {
        minutes: describe_sla(state, rules, T0 + timedelta(minutes=minutes))
        for minutes in (0, 15, 59.5, 61)
    }
    assert lines == {
        0: [
            "First reply due Mon 02 Mar 10:00 (in 1h of business hours)",
            "Resolution due Mon 02 Mar 18:00 (in 9h of business hours)",
        ],
        15: [
            "First reply due Mon 02 Mar 10:00 (in 45m of business hours)",
            "Resolution due Mon 02 Mar 18:00 (in 8h45m of business hours)",
        ],
        59.5: [
            "First reply due Mon 02 Mar 10:00 (in under 1m of business hours)",
            "Resolution due Mon 02 Mar 18:00 (in 8h of business hours)",
        ],
        61: [
            "First reply due Mon 02 Mar 10:00 (overdue)",
            "Resolution due Mon 02 Mar 18:00 (in 7h59m of business hours)",
        ],
    }
