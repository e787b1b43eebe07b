"""What a rule returns: actions to queue, timers to set or cancel, and state to remember."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, cast

from deskbridge.config.rules import (
    DepartmentConfig,
    OncallConfig,
    RiskConfig,
    RoutingConfig,
    RulesConfig,
    SlaPolicy,
    ThreeResponsesConfig,
)
from deskbridge.workflows.actions import Action
from deskbridge.workflows.business_hours import BusinessCalendar
from deskbridge.workflows.frozen import quick_init
from deskbridge.workflows.model import TicketState
from deskbridge.workflows.rotation import Override

# A decision made more than this after its time is catching up on a backlog (the decider or
# the timer loop was down, a failed step was redecided). Made sooner (the decider seconds or
# minutes behind under load, a restart) it decides as replay does, by the event's or the
# timer's own time, under replay's keys; a lag shorter than the example's 10 minutes between
# on-call steps never has two of them due at once.
CATCH_UP_AFTER = timedelta(minutes=10)


def decision_time(at: datetime, now: datetime, decided_at: datetime | None) -> datetime:
    """When a decision about `at` (an event's arrival, a timer's due time) is made: `at`
    itself, as replay decides it, unless the shell decides it more than CATCH_UP_AFTER later
    (`decided_at`, or `now` for a timer the sweep fires late): then the decision's own time.
    Catching up, a page goes by the hour and the rotation then (rules/oncall.py
    paging_time), and a timer is fired on what is stored by then (workflows/decider.py)."""
    decided = now if decided_at is None else max(now, decided_at)
    return decided if decided - at > CATCH_UP_AFTER else at


# Timer, RelatedTicket and Context are made for every event and timer and read attribute by
# attribute by the compiled rules. Compiled (mypyc), each is a native class: its fields read
# from compiled code as C struct members (a dataclass instance's, through Python's generic
# attribute look-up, about 230 instructions each) and written by its own `__init__`, whose
# assignments go to the struct, not through the frozen `__setattr__` (mypy is told so with
# `type: ignore[misc]`). From the Python sources they are frozen dataclasses with
# `quick_init`'s `__init__` (instances with a `__dict__`: `__dictoffset__` is not 0), as
# before. Either way: frozen, compared and hashed by their fields, `dataclasses.replace`.


@dataclass(frozen=True)
class Timer:
    """A deadline on a ticket. `id` is deterministic (ticket + purpose), so setting it again
    replaces it; the store bumps its generation so a stale firing is ignored."""

    id: str
    ticket: str
    kind: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        id: str,
        ticket: str,
        kind: str,
        due_at: datetime,
        payload: dict[str, Any] | None = None,
    ) -> None:
        self.id = id  # type: ignore[misc]
        self.ticket = ticket  # type: ignore[misc]
        self.kind = kind  # type: ignore[misc]
        self.due_at = due_at  # type: ignore[misc]
        self.payload = {} if payload is None else payload  # type: ignore[misc]

    def known_by(self, now: datetime) -> datetime:
        """When what the timer decides, fired at `now`, goes out: `now`, or later when its
        time had passed before it became known (`known_at`: the event that made it due came
        late, a raised priority shortened a target). It still fires at its time, in writing
        order."""
        known = self.payload.get("known_at")
        return now if known is None else max(now, datetime.fromisoformat(known))


@dataclass(frozen=True)
class RelatedTicket:
    """Another ticket from the same requester (for repeat-contact detection), with the signals
    it was escalated for (a repeat contact is escalated once, on one ticket of the pair)."""

    key: str
    created_at: datetime
    escalation_signals: tuple[str, ...] = ()

    def __init__(
        self, key: str, created_at: datetime, escalation_signals: tuple[str, ...] = ()
    ) -> None:
        self.key = key  # type: ignore[misc]
        self.created_at = created_at  # type: ignore[misc]
        self.escalation_signals = escalation_signals  # type: ignore[misc]


@dataclass(frozen=True)
class Context:
    now: datetime
    rules: RulesConfig
    previous: TicketState | None = None
    related: tuple[RelatedTicket, ...] = ()
    # On-call overrides made in Slack (store), applied after the config's own.
    oncall_overrides: tuple[Override, ...] = ()
    # When the shell really decides, if later than `now`: an event or a timer decided behind
    # its time (the decider catching up after an outage) decides as at its time, as replay
    # does, reports how late it went out (an SLA breach's `late_by_s`), and pages as the
    # hour and the rotation are then (rules/oncall.py paging_time). None: at `now`.
    decided_at: datetime | None = None

    def __init__(
        self,
        now: datetime,
        rules: RulesConfig,
        previous: TicketState | None = None,
        related: tuple[RelatedTicket, ...] = (),
        oncall_overrides: tuple[Override, ...] = (),
        decided_at: datetime | None = None,
    ) -> None:
        self.now = now  # type: ignore[misc]
        self.rules = rules  # type: ignore[misc]
        self.previous = previous  # type: ignore[misc]
        self.related = related  # type: ignore[misc]
        self.oncall_overrides = oncall_overrides  # type: ignore[misc]
        self.decided_at = decided_at  # type: ignore[misc]


if Timer.__dictoffset__:  # the Python sources: see Timer
    quick_init(Timer)
    quick_init(RelatedTicket)
    quick_init(Context)


@dataclass(slots=True)
class Decision:
    actions: list[Action] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    cancel: list[str] = field(default_factory=list)
    updates: dict[str, Any] = field(default_factory=dict)
    # Log lines for the shell to write after the commit, (event name, fields): a team's
    # set-up that a rule found wanting (a case whose own notification never came). Never
    # personal data. A tuple, shared empty: almost no decision has one.
    warnings: tuple[tuple[str, dict[str, Any]], ...] = ()

    def __init__(
        self,
        actions: list[Action] | None = None,
        timers: list[Timer] | None = None,
        cancel: list[str] | None = None,
        updates: dict[str, Any] | None = None,
        warnings: tuple[tuple[str, dict[str, Any]], ...] = (),
    ) -> None:
        # The generated __init__ calls a factory per field: every rule makes one or more per
        # event (nine an event on a replayed week, most of them left empty).
        self.actions = [] if actions is None else actions
        self.timers = [] if timers is None else timers
        self.cancel = [] if cancel is None else cancel
        self.updates = {} if updates is None else updates
        self.warnings = warnings

    def extend(self, other: Decision) -> None:
        self.actions += other.actions
        self.timers += other.timers
        self.cancel += other.cancel
        self.updates.update(other.updates)
        self.warnings += other.warnings


class RulesView:
    """What the compiled rules read of the rules file on every event and timer, read from its
    pydantic models once (`view_of`). Each read of a config model's attribute is pydantic's
    slow path on 3.11 (BaseModel defines `__getattr__`: about 540 instructions from compiled
    code) and `RulesConfig.calendar` a property call besides: the rules made some 48 such
    reads an event on the generated week (benchmarks/README.md, "Thirty-sixth session:
    replay (perf36s)"). Compiled, a native class: its fields are C struct members. The config
    is frozen, so the values cannot go stale."""

    def __init__(self, rules: RulesConfig) -> None:
        self.rules = rules
        self.calendar: BusinessCalendar | None = rules.calendar
        self.has_business_hours = rules.business_hours is not None
        routing = rules.routing
        self.routing: RoutingConfig = routing
        # Enabled, with categories: what routing needs to decide anything.
        self.routing_on = routing.enabled and bool(routing.categories)
        # Keyed by the config's literal names (checked when it loads).
        departments = cast(dict[str, DepartmentConfig], rules.departments)
        self.departments = departments
        self.department_names: dict[str, str] = {k: d.name for k, d in departments.items()}
        risk = rules.risk
        self.risk: RiskConfig | None = risk if risk is not None and risk.enabled else None
        self.repeat_contact = self.risk is not None and "repeat_contact" in self.risk.signals
        three = rules.three_responses
        self.three_responses: ThreeResponsesConfig = three
        self.three_responses_on: bool = three.enabled
        self.three_responses_threshold: int = three.threshold
        self.oncall: OncallConfig | None = rules.oncall
        # SLA policies: the first of each name, and each policy's (metrics it counts in
        # calendar time, targets by metric, name), by the policy's id (the view keeps the rules,
        # and so the policies, alive).
        policies: dict[str, SlaPolicy] = {}
        terms: dict[int, tuple[frozenset[str], dict[str, timedelta | None], str]] = {}
        for policy in rules.sla.policies:
            policies.setdefault(policy.name, policy)
            targets = {metric: getattr(policy, metric) for metric in _SLA_METRICS}
            terms[id(policy)] = (frozenset(policy.calendar_time), targets, policy.name)
        self.sla_policies = policies
        self.sla_terms = terms
        self.page_when: frozenset[str] = frozenset(
            rules.oncall.page_when if rules.oncall is not None else ()
        )


# The metrics an SLA policy sets targets for (rules/sla.py METRICS).
_SLA_METRICS = ("first_reply", "next_reply", "resolution")


class _LastView:
    """The latest `RulesView` made: one rules file is read for every event (replay, `serve`
    between reloads); another rules object (a reload, a test's) makes its own."""

    def __init__(self) -> None:
        self.view: RulesView | None = None


_LAST: Final = _LastView()


def view_of(rules: RulesConfig) -> RulesView:
    """The `RulesView` of `rules` (made once for the latest rules object seen). Threads may
    race to make one: each gets a view of the rules it asked for."""
    view = _LAST.view
    if view is None or view.rules is not rules:
        view = RulesView(rules)
        _LAST.view = view
    return view
