"""Rule registries (DESIGN rule 4): plain dicts of pure functions.

RULES run on every event: (state, event, ctx) -> Decision.
TIMER_RULES run when a timer of their kind is due: (state, timer, ctx) -> Decision.
JOBS are scheduled work on the same clock (workflows/schedule.py): occurrences from the rules,
each deciding actions once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from deskbridge.workflows.decision import Context, Decision, Timer
from deskbridge.workflows.model import TicketEvent, TicketState, evolve
from deskbridge.workflows.rules import coaching
from deskbridge.workflows.rules.combine import evaluate_in_turn, merge_decisions, merge_to_state
from deskbridge.workflows.rules.interactions import SNOOZE, evaluate_interactions, fire_snooze
from deskbridge.workflows.rules.oncall import (
    PAGE_KIND,
    WATCH_KIND,
    evaluate_paging,
    fire_page,
    fire_step,
    fire_unanswered,
)
from deskbridge.workflows.rules.oncall import TIMER_KIND as ONCALL_TIMER
from deskbridge.workflows.rules.oncall_handoff import HANDOFF_JOB
from deskbridge.workflows.rules.risk import REPEAT_KIND, evaluate_risk, fire_repeat_contact
from deskbridge.workflows.rules.routing import (
    HANDOFF,
    UNDESCRIBED,
    evaluate_routing,
    fire_handoff,
    fire_undescribed,
)
from deskbridge.workflows.rules.sla import TIMER_KIND as SLA_TIMER
from deskbridge.workflows.rules.sla import evaluate_sla, fire_sla
from deskbridge.workflows.rules.three_responses import (
    LEAD_TIMER,
    evaluate_three_responses,
    fire_lead,
)
from deskbridge.workflows.schedule import Job

Rule = Callable[[TicketState, TicketEvent, Context], Decision]
TimerRule = Callable[[TicketState, Timer, Context], Decision]

RULES: dict[str, Rule] = {
    "interactions": evaluate_interactions,
    "three_responses": evaluate_three_responses,
    "routing": evaluate_routing,
    "risk": evaluate_risk,
    "sla": evaluate_sla,
    "coaching": coaching.evaluate_coaching,
}


def _fire_lead_and_nudge(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    """The 3-response rule's grace is over: the lead's alert and the agent's `missed_call`
    nudge, by the one call check."""
    lead = fire_lead(state, timer, ctx)
    nudge = coaching.fire_missed_call(
        evolve(state, lead.updates) if lead.updates else state, timer, ctx
    )
    return merge_decisions(state, [lead, nudge])


TIMER_RULES: dict[str, TimerRule] = {
    HANDOFF: fire_handoff,
    UNDESCRIBED: fire_undescribed,
    SLA_TIMER: fire_sla,
    SNOOZE: fire_snooze,
    "slack.snooze": fire_snooze,  # snoozes stored before the rule was named "interactions"
    ONCALL_TIMER: fire_step,
    LEAD_TIMER: _fire_lead_and_nudge,
    WATCH_KIND: fire_unanswered,
    PAGE_KIND: fire_page,
    REPEAT_KIND: fire_repeat_contact,
}

JOBS: dict[str, Job] = {
    HANDOFF_JOB.name: HANDOFF_JOB,
    **coaching.JOBS,
}


def evaluate_rules(state: TicketState, event: TicketEvent, ctx: Context) -> Decision:
    """Every rule's decision for this event, minus actions already decided for the ticket.
    Each rule sees the state as updated by the rules before it."""
    return evaluate_rules_to_state(state, event, ctx)[0]


def evaluate_rules_to_state(
    state: TicketState, event: TicketEvent, ctx: Context
) -> tuple[Decision, TicketState]:
    """`evaluate_rules`, and the state with the decision's `updates` applied (what
    `evolve(state, decision.updates)` gives, worked out on the way: the decider need not copy
    the state once more)."""
    return evaluate_in_turn(RULES.values(), state, event, ctx)


def evaluate_timer(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    return evaluate_timer_to_state(state, timer, ctx)[0]


def evaluate_timer_to_state(
    state: TicketState, timer: Timer, ctx: Context
) -> tuple[Decision, TicketState]:
    """`evaluate_timer`, and the state with the decision's `updates` applied."""
    rule = TIMER_RULES.get(timer.kind)
    if rule is None:
        return Decision(), state
    decision = rule(state, timer, ctx)
    if decision.updates:
        state = evolve(state, decision.updates)
    decided = [a for a in decision.actions if a.key not in state.fired]
    # Paging goes by when the timer's actions go out: a breach known only after its time
    # (an urgent ticket's deadline passed at Friday's closing, it was made urgent on Monday
    # morning) is not "after hours" for its deadline's hour, and its chain starts then.
    # Its due time, not the sweep's clock (`now`, seconds late), as replay fires it: the
    # chain is named by it. Long behind, paging_time goes by the decision's time instead.
    known = timer.known_by(timer.due_at)
    paging = ctx if known == ctx.now else replace(ctx, now=known)
    paged = evaluate_paging(state, paging, decided, since=timer.due_at)
    return merge_to_state(state, [decision, paged])
