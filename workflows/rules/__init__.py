"""Rule registries (DESIGN rule 4): plain dicts of pure functions.

RULES run on every event: (state, event, ctx) -> Decision.
TIMER_RULES run when a timer of their kind is due: (state, timer, ctx) -> Decision.
JOBS are scheduled work on the same clock (workflows/schedule.py): occurrences from the rules,
each deciding actions once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from deskbridge.workflows.actions import UNCARRIED, Action, ActionKind
from deskbridge.workflows.decision import Context, Decision, Timer
from deskbridge.workflows.model import TicketEvent, TicketState, evolve
from deskbridge.workflows.rules import coaching
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
    return _merge(state, [lead, nudge])


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


def _merge(state: TicketState, decisions: list[Decision]) -> Decision:
    merged = Decision()
    seen: set[str] | None = None  # made for the first action: most events decide none
    uncarried = UNCARRIED.get(state.source, {})  # a case's tags: decided only where kept
    for decision in decisions:
        for action in decision.actions:
            if seen is None:
                seen = set(state.fired)
            if action.key not in seen and action.kind not in uncarried:
                seen.add(action.key)
                merged.actions.append(action)
        if decision.timers:  # most rules decide nothing on most events
            merged.timers += decision.timers
        if decision.cancel:
            merged.cancel += decision.cancel
        if decision.updates:
            merged.updates.update(decision.updates)
        if decision.warnings:
            merged.warnings += decision.warnings
    _keep_last_owner_write(merged.actions, merged.updates)
    if not state.alerted and any(not a.is_helpdesk for a in merged.actions):
        merged.updates["alerted"] = True
    return merged


def _keep_last_owner_write(actions: list[Action], updates: dict[str, Any]) -> None:
    """One owner write a decision: a ticket routed and escalated by one event (a legal threat
    in a new ticket) was assigned to the department's group, then at once to the
    specialists' (two helpdesk writes; on Salesforce the first may email the queue's
    members). The last rule's owner stands: the routing's is left out, its alert, tag and
    note kept (the department still looks into the order problem). A group left out is taken
    out of the groups the ticket's state says deskbridge assigned, where its rule put it."""
    owners = [i for i, a in enumerate(actions) if a.kind is ActionKind.assign]
    if len(owners) < 2:  # nearly every decision
        return
    assigned = updates.get("assigned_groups")
    assigned = None if assigned is None else list(assigned)
    for i in reversed(owners[:-1]):
        group = actions[i].params.get("group")
        if assigned is not None and group in assigned:  # its last: the one its rule appended
            del assigned[len(assigned) - 1 - assigned[::-1].index(group)]
        del actions[i]
    if assigned is not None:
        updates["assigned_groups"] = assigned


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
    decisions = []
    for rule in RULES.values():
        decision = rule(state, event, ctx)
        if decision.updates:
            state = evolve(state, decision.updates)
        decisions.append(decision)
    # On-call paging runs last: it pages on what the rules above decided.
    decided = [a for d in decisions for a in d.actions if a.key not in state.fired]
    decisions.append(evaluate_paging(state, ctx, decided, event))
    return _merge_to_state(state, decisions)


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
    return _merge_to_state(state, [decision, paged])


def _merge_to_state(state: TicketState, decisions: list[Decision]) -> tuple[Decision, TicketState]:
    """`_merge`, and `state` (which has every decision's updates but the last's) with the
    rest of the merged updates: the last decision's (paging) and `alerted`."""
    merged = _merge(state, decisions)
    rest = dict(decisions[-1].updates)
    if "alerted" in merged.updates and not state.alerted:
        rest["alerted"] = merged.updates["alerted"]
    groups = merged.updates.get("assigned_groups")
    if groups is not None and groups != state.assigned_groups:  # an owner write left out
        rest["assigned_groups"] = groups
    return merged, evolve(state, rest) if rest else state
