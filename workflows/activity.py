"""What happened, as countable facts (pure): the coaching counters and the leads' digest are
sums over these. Each fact has a unique key (a comment id, an event id or an action key; a
ticket's first call its ticket), so a redelivered or replayed event adds nothing.

Public agent replies are counted from the `replies` table (one row per comment id); the facts
here are everything else the digest needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.frozen import quick_init
from deskbridge.workflows.model import (
    EventKind,
    SlaClock,
    Status,
    TicketEvent,
    TicketState,
    evolve,
)

CUSTOMER_MESSAGE = "customer_message"
CALL_LOGGED = "call_logged"
CALL_REQUESTED = "call_requested"
SOLVED = "solved"
ROUTE = "route"
CATEGORY = "category"
ESCALATE = "escalate"
HANDOFF_OVERDUE = "handoff_overdue"
SLA_MET = "sla_met"
SLA_BREACH = "sla_breach"
# A breach alert withdrawn (the SLA rule's correction): the clock was met in time, what met
# it came after the alert. Dated as the breach it takes back, which the review no longer counts.
SLA_BREACH_WITHDRAWN = "sla_breach_withdrawn"
CSAT_GOOD = "csat_good"
CSAT_BAD = "csat_bad"

# Members named once here: on 3.11 naming one on its class (`ActionKind.route`) goes through
# EnumType.__getattr__'s slow attribute path, and these are checked for every event or action.
_CALL_LOGGED_EVENT = EventKind.call_logged
_ROUTE, _ESCALATE, _CALL_CUSTOMER, _SLA_BREACH, _NOTIFY = (
    ActionKind.route,
    ActionKind.escalate,
    ActionKind.call_customer,
    ActionKind.sla_breach,
    ActionKind.notify,
)
_FACT_KINDS = frozenset({_ROUTE, _ESCALATE, _CALL_CUSTOMER, _SLA_BREACH, _NOTIFY})


@quick_init
@dataclass(frozen=True)
class Fact:
    key: str
    at: datetime
    kind: str
    ticket: str
    # A helpdesk user id (who is credited), when the fact is someone's.
    person: str | None = None
    # A department, a category or an SLA metric.
    detail: str | None = None


def build_event_facts(
    previous: TicketState | None,
    state: TicketState,
    event: TicketEvent,
    csat_field: str | None = None,
    call_logged_tag: str | None = None,
) -> list[Fact]:
    """Facts of one accepted event; `state` is the ticket after the rules' updates.
    `csat_field` names the ticket field a Zendesk trigger fills with the satisfaction rating
    (`{{satisfaction.current_rating}}`): a new "good" or "bad" there is a CSAT fact, credited
    to the assignee. `call_logged_tag` (the 3-response rule's) newly on the ticket is its
    first call, as the rule counts it."""
    ticket, at = state.key, event.occurred_at
    facts = []
    comment = event.comment
    if comment is not None and comment.public and not comment.author_is_agent:
        facts.append(Fact(f"{ticket}:customer:{comment.id}", at, CUSTOMER_MESSAGE, ticket))
    # The ticket's first call has one key, whichever records it first: the first voice
    # comment (Zendesk Talk) or the first "Call logged" click in Slack. An agent who calls
    # through Talk and then presses the button, as the DM asks, made one call, not two.
    # Further voice comments are further calls; further clicks confirm the same one.
    if comment is not None and comment.is_voice:
        person = comment.author_id if comment.author_is_agent else state.assignee
        first = state.voice_call_ids[:1] == [comment.id]
        key = f"{ticket}:call" if first else f"{ticket}:call:{comment.id}"
        facts.append(Fact(key, at, CALL_LOGGED, ticket, person))
    # The tag an agent adds in the helpdesk after calling (or the one a click writes back):
    # the same first call, so a click and its tag, or a Talk call and the tag, count once.
    clicked = event.kind is _CALL_LOGGED_EVENT and (
        previous is None or previous.call_logged_by is None
    )
    tagged = (
        call_logged_tag is not None
        and state.has_tag(call_logged_tag)
        and (previous is None or not previous.has_tag(call_logged_tag))
    )
    if clicked or tagged:
        facts.append(Fact(f"{ticket}:call", at, CALL_LOGGED, ticket, state.assignee))
    was_done = previous is not None and previous.status.is_done
    solved_at = (
        at if state.status.is_done and not was_done else _solve_found_late(previous, state, event)
    )
    if solved_at is not None:
        facts.append(
            Fact(f"{ticket}:solved:{event.dedupe_key}", solved_at, SOLVED, ticket, state.assignee)
        )
    before = previous.sla_clocks if previous is not None else {}
    for metric, clock in state.sla_clocks.items():
        old = before.get(metric)
        newly = clock.fulfilled_at is not None and (
            old is None or old.instance != clock.instance or old.fulfilled_at is None
        )
        if not newly:
            if old is None or old.instance == clock.instance:
                continue  # most events: no clock met, so no need to look for its breach
            replaced = _met_and_replaced(old, event) or _solved_and_replaced(old, clock, state)
            if replaced is None:
                continue
            clock = replaced
        breach = f"{ticket}:sla:{metric}:{clock.instance}:breach"
        told = [k for k in state.fired if k.startswith(breach)]
        # Met, unless its breach went out; a breach withdrawn (the SLA rule's correction: met
        # in time, what met it known only after the alert) is met too.
        if not told or f"{breach}_withdrawn" in told:
            key = f"{ticket}:sla_met:{metric}:{clock.instance}"
            met_at = cast(datetime, clock.fulfilled_at)  # newly met, or met as replaced
            facts.append(Fact(key, met_at, SLA_MET, ticket, state.assignee, metric))
    value = state.custom_fields.get(csat_field) if csat_field else None
    earlier = previous.custom_fields.get(csat_field) if csat_field and previous else None
    if value != earlier:  # the same text rates the same: most events change no rating
        rating = _rating(value)
        if rating is not None and rating != _rating(earlier):
            kind = CSAT_GOOD if rating == "good" else CSAT_BAD
            facts.append(
                Fact(f"{ticket}:csat:{event.dedupe_key}", at, kind, ticket, state.assignee)
            )
    return facts


def _solve_found_late(
    previous: TicketState | None, state: TicketState, event: TicketEvent
) -> datetime | None:
    """When a solve began that a status change delivered late (older than the ticket's
    snapshot, so the ticket's status stays as it was) shows: the late change is a solve that
    begins a solved period, or a reopen that splits one, its second part begun by a solve
    already folded. In writing order each solved period's first solve is one fact; a period
    counted already (a period before this event began within its span) is not again. By
    span, not by point: the points are kept to KEEP_STATUS_POINTS, and the late point can
    push out the one that began the period before."""
    status = event.ticket.status
    if (
        previous is None
        or status is None
        or previous.snapshot_at is None
        or event.occurred_at >= previous.snapshot_at
        or state.status_points_partial
    ):
        return None
    point = (event.occurred_at, status)
    runs = _solved_periods(state.status_points)
    if status.is_done:
        found = next((run for run in runs if point in run), None)
    else:
        found = next((run for run in runs if run[0][0] > point[0]), None)
    if found is None:
        return None
    first, last = found[0][0], found[-1][0]
    counted = any(first <= run[0][0] <= last for run in _solved_periods(previous.status_points))
    return None if counted else first


def _solved_periods(points: Iterable[tuple[datetime, Status]]) -> list[list[tuple]]:
    """The runs of consecutive done (solved or closed) status points, in time order."""
    runs: list[list[tuple]] = []
    open_before = True
    for point in points:
        if point[1].is_done:
            if open_before:
                runs.append([])
            runs[-1].append(point)
        open_before = not point[1].is_done
    return runs


def _met_and_replaced(old: SlaClock, event: TicketEvent) -> SlaClock | None:
    """`old`, replaced by another instance of its clock in this event's decision, as met by
    the event's reply, if the reply met it: a reply delivered late, after a newer customer
    message was folded, meets the running next-reply clock and that message starts the next
    one (the SLA rule). In writing order the two come one event apart, the first counted met."""
    comment = event.comment
    if (
        not old.active
        or comment is None
        or not comment.is_public_agent_reply
        or event.occurred_at < old.started_at
    ):
        return None
    return evolve(old, {"fulfilled_at": event.occurred_at})


def _solved_and_replaced(old: SlaClock, clock: SlaClock, state: TicketState) -> SlaClock | None:
    """`old`, a resolution clock replaced by `clock` because a solve and a reopen came late
    (the SLA rule), as met by the first solve between their starts, if any: in writing order
    that solve met it."""
    if old.metric != "resolution" or not old.active:
        return None
    solves = (
        at
        for at, status in state.status_points
        if status.is_done and old.started_at <= at < clock.started_at
    )
    solved_at = next(solves, None)
    return evolve(old, {"fulfilled_at": solved_at}) if solved_at is not None else None


def _rating(value: str | None) -> str | None:
    """Zendesk's rating words ("Good", "good, I'm satisfied", "Bad") → good | bad."""
    word = (value or "").strip().lower()
    if word.startswith("good"):
        return "good"
    if word.startswith("bad"):
        return "bad"
    return None


def build_action_facts(actions: Iterable[Action], at: datetime) -> list[Fact]:
    """Facts of decided actions (routes, escalations, call requests, overdue hand-offs, SLA
    breaches and their withdrawals), keyed by the action's own key."""
    facts = []
    for action in actions:
        kind = action.kind
        if kind not in _FACT_KINDS:  # most actions (notes, tags, warnings) make no fact
            continue
        params, ticket, key = action.params, action.ticket, action.key
        if kind is _ROUTE:
            facts.append(Fact(key, at, ROUTE, ticket, detail=params.get("department")))
            if params.get("category"):
                facts.append(
                    Fact(f"{key}:category", at, CATEGORY, ticket, detail=params["category"])
                )
        elif kind is _ESCALATE:
            facts.append(Fact(key, at, ESCALATE, ticket))
        elif kind is _CALL_CUSTOMER:
            facts.append(Fact(key, at, CALL_REQUESTED, ticket, params.get("assignee")))
        elif kind is _SLA_BREACH:
            facts.append(
                Fact(key, at, SLA_BREACH, ticket, params.get("assignee"), params.get("metric"))
            )
        elif kind is _NOTIFY and key.endswith(":handoff_overdue"):
            facts.append(Fact(key, at, HANDOFF_OVERDUE, ticket, detail=params.get("department")))
        elif kind is _NOTIFY and key.endswith(":breach_withdrawn"):
            # On the breach's day (its due time), where the review counted it.
            due = datetime.fromisoformat(params["due_at"])
            person, metric = params.get("assignee"), params.get("metric")
            facts.append(Fact(key, due, SLA_BREACH_WITHDRAWN, ticket, person, metric))
    return facts
