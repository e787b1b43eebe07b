"""Routing order problems to Logistics, Quality or Post-Sales, with the reason, and the
hand-off deadline: if the department has not acted in time, the team lead is told."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from deskbridge.config.rules import DepartmentConfig, RulesConfig
from deskbridge.workflows.actions import Action, ActionKind, build_action, build_key
from deskbridge.workflows.business_hours import BusinessCalendar
from deskbridge.workflows.classify import (
    Classification,
    classify_by_field_or_tag,
    classify_texts,
)
from deskbridge.workflows.decision import Context, Decision, Timer, view_of
from deskbridge.workflows.memo import Memo
from deskbridge.workflows.model import EventKind, Source, TicketEvent, TicketState, owner_for

RULE = "routing"
HANDOFF = "routing.handoff"
# A Salesforce case known only by its comments this long after the first: its own notification
# is missing (no Outbound Message or Flow on Case), not late, and nothing would ever ask about
# it. Salesforce delivers out of order, but a case's notification late by more than an hour
# is itself worth a look.
UNDESCRIBED = "routing.undescribed"
DESCRIBED_WITHIN = timedelta(hours=1)


# The discriminator of the line saying who picked a department in Slack (_tell_picked).
PICKED = "picked"


def picked_key(ticket: str, department: str) -> str:
    """The key of the line saying who picked `department` for `ticket` in Slack."""
    return build_key(ticket, RULE, department, PICKED)


def handoff_timer_id(ticket: str) -> str:
    return f"{ticket}:{HANDOFF}"


def undescribed_timer_id(ticket: str) -> str:
    return f"{ticket}:{UNDESCRIBED}"


# Classifications by the ticket's text inputs: most events (an agent's reply, a status
# change) change none of them, and the classifier is the costliest step of the rules.
CLASSIFIED_KEPT = 8192
_classified = Memo(CLASSIFIED_KEPT)
# The phrases' (and the model's) answers by the texts alone: a tag or field edited that no
# category names leaves them as they were (2,070 of 6,994 classifications on the generated
# week), and the field and tags are checked first, in a few look-ups.
_read = Memo(CLASSIFIED_KEPT)

# Named once: on 3.11 `EventKind.x` goes through EnumType.__getattr__, on every event.
_DEPARTMENT_PICKED = EventKind.department_picked


def classify_state(state: TicketState, rules: RulesConfig) -> Classification:
    """The ticket's classification, worked out again only when one of its inputs changed."""
    texts = texts_of(state)
    inputs = (*texts, tuple(state.tags), tuple(state.custom_fields.items()))
    found = _classified.get(rules, inputs)
    if found is not None:
        return found
    view = view_of(rules)
    names = view.department_names
    result = classify_by_field_or_tag(
        view.routing, tags=state.tags, fields=state.custom_fields, department_names=names
    )
    if result is None:
        result = _read.get(rules, texts)
    if result is None:
        result = _read.put(rules, texts, _read_texts(texts, rules, names))
    return _classified.put(rules, inputs, result)


def texts_of(state: TicketState) -> tuple[str | None, str | None, tuple[str, ...]]:
    """The ticket's texts the phrases (and the model) read, as their answers are kept by."""
    return (state.subject, state.description, tuple(state.customer_messages))


def _read_texts(
    texts: tuple[str | None, str | None, tuple[str, ...]],
    rules: RulesConfig,
    names: dict[str, str],
) -> Classification:
    subject, description, customer_messages = texts
    return classify_texts(
        rules.routing,
        subject=subject,
        description=description,
        customer_messages=customer_messages,
        department_names=names,
        model=rules.routing_model,
    )


def read_texts(
    texts: tuple[str | None, str | None, tuple[str, ...]], rules: RulesConfig
) -> Classification | None:
    """What `classify_state` finds by the texts (`texts_of`'s) when neither the category field
    nor a tag decides, worked out; None where routing classifies nothing (off, no
    categories). Pure: replay's reader works it out ahead (`keep_read_texts`)."""
    view = view_of(rules)
    if not view.routing_on:
        return None
    return _read_texts(texts, rules, view.department_names)


def keep_read_texts(
    rules: RulesConfig,
    texts: tuple[str | None, str | None, tuple[str, ...]],
    result: Classification,
) -> None:
    """Keep `read_texts(texts, rules)`'s answer, worked out elsewhere, for `classify_state`
    (an answer kept already stays as it is)."""
    if _read.get(rules, texts) is None:
        _read.put(rules, texts, result)


def _known(state: TicketState) -> bool:
    """Whether any of the ticket's own notifications has come (its fields: subject,
    description, status …), not only comments on it."""
    return state.snapshot_at is not None or state.subject is not None


def _departments(rules: RulesConfig) -> dict[str, DepartmentConfig]:
    """The rules' departments by key: the keys the rules and states name them by are the
    config's (checked when it loads), typed there as its literal names."""
    return view_of(rules).departments


def _department_acted(state: TicketState, event: TicketEvent, ctx: Context) -> bool:
    """A reply (public or internal) from one of the department's members, or a group change
    that deskbridge did not make."""
    if state.department is None:
        return False
    department = _departments(ctx.rules)[state.department]
    comment = event.comment
    if comment is not None and department.has_member(state.source, comment.author_id):
        return True
    return _group_changed_by_a_person(state, ctx)


def _group_changed_by_a_person(state: TicketState, ctx: Context) -> bool:
    previous = ctx.previous
    if previous is None or previous.group is None or state.group == previous.group:
        return False
    # Only the latest group deskbridge set is its own echo: a person moving the ticket back
    # to an earlier department's group is a person's decision.
    return not state.assigned_groups or state.group != state.assigned_groups[-1]


def evaluate_routing(state: TicketState, event: TicketEvent, ctx: Context) -> Decision:
    rules = ctx.rules
    decision = Decision()
    if not view_of(rules).routing_on or state.status.is_done:
        return decision

    if not state.department_acted and _department_acted(state, event, ctx):
        decision.updates["department_acted"] = True
        decision.cancel.append(handoff_timer_id(state.key))
    if state.routed_by_hand:
        return decision
    if _group_changed_by_a_person(state, ctx):
        # A person moved the ticket: their routing stands, deskbridge stops routing it.
        decision.updates["routed_by_hand"] = True
        return decision

    if event.kind is _DEPARTMENT_PICKED:
        picked = event.meta.get("department")
        if picked not in rules.departments or picked == state.department:
            return decision
        by = event.meta.get("by", "someone")
        department = rules.departments[picked]
        reason = f"picked in Slack by {by} → {department.name}"
        decision.extend(_route(state, picked, None, reason, "slack", ctx))
        decision.actions.append(_tell_picked(state, picked, department, by, reason))
        decision.updates["routed_by_hand"] = True  # a person decided: no automatic re-routing
        return decision

    if not _known(state):
        # Only comments so far: one delivered before its case's first notification
        # (Salesforce's retries come out of order) says nothing of the case to route it by
        # or to ask about. It is decided when the case's own notification comes, as in order,
        # or, if that never comes, DESCRIBED_WITHIN after the first comment (fire_undescribed).
        if ctx.previous is None and state.source is Source.salesforce:
            decision.timers.append(
                Timer(
                    id=undescribed_timer_id(state.key),
                    ticket=state.key,
                    kind=UNDESCRIBED,
                    due_at=ctx.now + DESCRIBED_WITHIN,
                )
            )
        return decision
    if ctx.previous is not None and not _known(ctx.previous):
        decision.cancel.append(undescribed_timer_id(state.key))  # it came: decided below
    result = classify_state(state, rules)
    if result.department is None:
        # Ask when nothing named a problem or two departments scored too close to choose;
        # "thanks, all arrived" needs no department.
        if state.department is None and result.asks:
            decision.actions.append(_ask(state, result.reason))
        return decision
    if result.department == state.department or result.department in state.routed_departments:
        return decision  # already there, or been there: no ping-pong

    reason = result.reason
    if state.department is not None:
        reason += f" (re-routed from {_departments(rules)[state.department].name})"
    decision.extend(_route(state, result.department, result.category, reason, result.source, ctx))
    return decision


def _tell_picked(
    state: TicketState, key: str, department: DepartmentConfig, by: str, reason: str
) -> Action:
    """Who picked which department, said in the ticket's threads (the question's among
    them) whose first messages are edited: the question's menu goes, as a pick after the
    first changes nothing (routed by hand). Not in the department's own thread: its alert
    says it already. `by` is kept for the Slack listener, which tells a later picker who
    picked first (picked_key)."""
    return build_action(
        state.key,
        RULE,
        ActionKind.notify,
        key,
        PICKED,
        reason=reason,
        target="thread",
        refresh=True,
        text=f"Sent to {department.name} by {by}",
        reply_in="channels",
        reply_not_in=[department.slack_channel],
        by=by,
    )


def _route(
    state: TicketState,
    department_key: str,
    category: str | None,
    reason: str,
    source: str,
    ctx: Context,
) -> Decision:
    """Route to a department: Slack message, group, tag, note, and the hand-off deadline."""
    department = _departments(ctx.rules)[department_key]
    owner = owner_for(state.source, department.group, department.salesforce_queue)
    ticket = state.key
    decision = Decision()
    decision.actions += [
        build_action(
            ticket,
            RULE,
            ActionKind.route,
            department_key,
            "route",
            reason=reason,
            department=department_key,
            category=category,
            channel=department.slack_channel,
            source=source,
        ),
        *(
            ()  # a Zendesk ticket of a team that gave only the department's queue stays put
            if owner is None
            else [
                build_action(
                    ticket,
                    RULE,
                    ActionKind.assign,
                    department_key,
                    "assign",
                    reason=reason,
                    group=owner,
                )
            ]
        ),
        build_action(
            ticket,
            RULE,
            ActionKind.tag,
            department_key,
            "tag",
            reason=reason,
            tags=[f"dept_{department_key}"],
        ),
        build_action(
            ticket,
            RULE,
            ActionKind.note,
            department_key,
            "note",
            reason=reason,
            body=f"deskbridge routed this ticket to {department.name}: {reason}.",
        ),
    ]
    if not state.escalation_signals:  # escalated: no hand-off deadline (fire_handoff)
        decision.timers.append(
            Timer(
                id=handoff_timer_id(ticket),
                ticket=ticket,
                kind=HANDOFF,
                due_at=handoff_due(ctx.rules, ctx.now, department),
                payload={"department": department_key},
            )
        )
    decision.updates.update(
        department=department_key,
        routed_departments=[*state.routed_departments, department_key],
        assigned_groups=[*state.assigned_groups, *([owner] if owner else [])],
        department_acted=False,
    )
    return decision


def handoff_due(rules: RulesConfig, routed_at: datetime, department: DepartmentConfig) -> datetime:
    """When a department routed at `routed_at` is overdue: its `handoff_within` of the team's
    business hours (a ticket routed on Friday evening is the department's on Monday morning,
    and the lead is not told of it over the weekend), or of calendar time without business
    hours or for a department on `handoff_calendar_time`."""
    calendar = _handoff_calendar(rules, department)
    within = department.handoff_within
    return routed_at + within if calendar is None else calendar.add_business_time(routed_at, within)


def _handoff_calendar(rules: RulesConfig, department: DepartmentConfig) -> BusinessCalendar | None:
    return None if department.handoff_calendar_time else view_of(rules).calendar


def fire_handoff(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    """The hand-off deadline passed: tell the lead, unless the department acted or the ticket
    moved on (solved, re-routed, routed by hand)."""
    department_key: Any = timer.payload.get("department")  # as the route set it
    if (
        state.department != department_key
        or state.department_acted
        or state.routed_by_hand
        or state.status.is_done
        or state.escalation_signals  # escalated: the specialist tier owns it now
    ):
        return Decision()
    department = _departments(ctx.rules)[department_key]
    waited = department.handoff_within
    hours = waited.total_seconds() / 3600
    span = f"{hours:g}h" if hours >= 1 else f"{waited.total_seconds() / 60:g}m"
    counted = " (business hours)" if _handoff_calendar(ctx.rules, department) else ""
    return Decision(
        actions=[
            build_action(
                state.key,
                RULE,
                ActionKind.notify,
                department_key,
                "handoff_overdue",
                reason=f"{department.name} has not acted within {span} of the hand-off{counted}",
                target="lead",
                channel=ctx.rules.team.lead_channel,
                department=department_key,
            )
        ]
    )


def fire_undescribed(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    """A Salesforce case is still known only by its comments DESCRIBED_WITHIN after the first:
    route it on what they say, or ask (its owner is not known either: the lead channel), and
    log it once, so the missing Case notification is heard of. The ask is the one the case's
    own notification would make (one key): a late one does not ask again."""
    rules = ctx.rules
    if (
        _known(state)
        or not view_of(rules).routing_on
        or state.status.is_done
        or state.routed_by_hand
        or state.department is not None
    ):
        return Decision()
    waited = DESCRIBED_WITHIN.total_seconds()
    missing = (
        f"the case's own notification has not come within {waited / 3600:g}h of its first comment"
    )
    decision = Decision(
        warnings=(
            (
                "salesforce.case_notification_missing",
                {"ticket": state.key, "waited_s": int(waited)},
            ),
        )
    )
    result = classify_state(state, rules)
    if result.department is not None:
        reason = f"{result.reason} ({missing})"
        decision.extend(
            _route(state, result.department, result.category, reason, result.source, ctx)
        )
        return decision
    decision.actions.append(
        _ask(state, f"{missing} (is the Outbound Message or Flow on Case set up?)")
    )
    return decision


def _ask(state: TicketState, why: str) -> Action:
    """The ticket's owner (else the lead channel) asked to pick a department, once a ticket:
    one key, whatever asked."""
    return build_action(
        state.key,
        RULE,
        ActionKind.notify,
        "unclassified",
        reason=f"unclassified: {why} — pick a department",
        target="assignee",
        assignee=state.assignee,
        ask="pick_department",
    )
