"""The rules' decisions for one event or timer, combined into one (pure).

The registries (RULES, TIMER_RULES) stay in `workflows.rules`, where tests replace them; the
loop over them and the merge of their decisions run here, compiled by mypyc with the rules
(workflows/compiled.py): on every event they read each decision's fields and each action's
key and kind, which compiled code reads from the native `Decision` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from deskbridge.workflows.actions import UNCARRIED, Action, ActionKind
from deskbridge.workflows.decision import Context, Decision
from deskbridge.workflows.model import TicketEvent, TicketState, evolve
from deskbridge.workflows.rules.oncall import evaluate_paging

Rule = Callable[[TicketState, TicketEvent, Context], Decision]


def evaluate_in_turn(
    rules: Iterable[Rule], state: TicketState, event: TicketEvent, ctx: Context
) -> tuple[Decision, TicketState]:
    """Each rule's decision for the event, each rule seeing the state as updated by the
    rules before it; on-call paging last, on what they decided; merged (`merge_to_state`)."""
    decisions = []
    for rule in rules:
        decision = rule(state, event, ctx)
        if decision.updates:
            state = evolve(state, decision.updates)
        decisions.append(decision)
    # On-call paging runs last: it pages on what the rules above decided.
    fired = state.fired
    decided = [a for d in decisions for a in d.actions if a.key not in fired]
    decisions.append(evaluate_paging(state, ctx, decided, event))
    return merge_to_state(state, decisions)


def merge_decisions(state: TicketState, decisions: list[Decision]) -> Decision:
    """The decisions as one, minus actions already decided for the ticket (`state.fired`),
    twice in them, or of a kind the ticket's helpdesk does not carry."""
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
        if decision.cancel:
            if merged.timers:
                # A later rule's cancel outdoes an earlier rule's timer of that id (the
                # routing's hand-off deadline for a ticket the risk rule escalates at once); a
                # rule's own cancel and timer of one id still set it (the timer comes after).
                cancelled = set(decision.cancel)
                merged.timers = [t for t in merged.timers if t.id not in cancelled]
            merged.cancel += decision.cancel
        if decision.timers:  # most rules decide nothing on most events
            merged.timers += decision.timers
        if decision.updates:
            merged.updates.update(decision.updates)
        if decision.warnings:
            merged.warnings += decision.warnings
    keep_last_owner_write(merged.actions, merged.updates)
    if not state.alerted and any(not a.is_helpdesk for a in merged.actions):
        merged.updates["alerted"] = True
    return merged


def keep_last_owner_write(actions: list[Action], updates: dict[str, Any]) -> None:
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


def merge_to_state(state: TicketState, decisions: list[Decision]) -> tuple[Decision, TicketState]:
    """`merge_decisions`, and `state` (which has every decision's updates but the last's) with
    the rest of the merged updates: the last decision's (paging) and `alerted`."""
    merged = merge_decisions(state, decisions)
    rest = dict(decisions[-1].updates)
    if "alerted" in merged.updates and not state.alerted:
        rest["alerted"] = merged.updates["alerted"]
    groups = merged.updates.get("assigned_groups")
    if groups is not None and groups != state.assigned_groups:  # an owner write left out
        rest["assigned_groups"] = groups
    return merged, evolve(state, rest) if rest else state
