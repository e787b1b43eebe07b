"""SLA clocks: first reply, next reply and resolution, in business or calendar time, with
warnings before the breach and an alert at it, to the second (timers, not hourly sweeps).

- first reply: ticket creation → first public agent reply;
- next reply: oldest unanswered public customer message → next public agent reply;
- resolution: creation → solved, paused while waiting on the customer; a reopen restarts it.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from deskbridge.config.rules import RulesConfig, SlaPolicy
from deskbridge.workflows.actions import Action, ActionKind, build_action, build_key
from deskbridge.workflows.business_hours import CALENDAR_TIME, BusinessCalendar, CalendarTime
from deskbridge.workflows.decision import Context, Decision, Timer, view_of
from deskbridge.workflows.memo import Memo
from deskbridge.workflows.model import (
    KEEP_STATUS_POINTS,
    Comment,
    SlaClock,
    Status,
    TicketEvent,
    TicketState,
    evolve,
    same_organization,
    status_point_time,
)

RULE = "sla"


def build_clock_key_prefix(
    ticket: str, metric: str | None = None, instance: str | None = None
) -> str:
    """The start of the keys of this rule's actions on `ticket` (of one clock instance, when
    given): every SLA key is `build_key(ticket, RULE, metric, instance, stage)`."""
    # `build_key`'s text, joined here: a call with starred arguments from compiled code into
    # actions.py's Python went through the general call path (3,500 instructions a prefix;
    # `compact_fired` asks for one or two after most decisions).
    if metric is None or instance is None:
        return ":".join((ticket, RULE, ""))
    return ":".join((ticket, RULE, metric, instance, ""))


TIMER_KIND = "sla"
METRICS = ("first_reply", "next_reply", "resolution")
LABELS = {"first_reply": "first reply", "next_reply": "next reply", "resolution": "resolution"}
# What meets each clock, as the correction of its breach names it (`_breach_withdrawn`).
MET_BY = {"first_reply": "the reply written", "next_reply": "the reply written"}
MET_BY_DEFAULT = "the solve made"


def select_policy(state: TicketState, rules: RulesConfig) -> SlaPolicy | None:
    """The first policy whose conditions all hold."""
    return _select(state, _settings(rules).conditions)


def _select(state: TicketState, conditions: tuple) -> SlaPolicy | None:
    """`select_policy` by the policies' conditions as plain values (`_Settings.conditions`)."""
    priority, channel, tags = state.priority, (state.channel or "").lower(), state.tags
    for wanted_priority, wanted_channel, wanted_tags, organizations, policy in conditions:
        if wanted_priority is not None and wanted_priority != priority:
            continue
        if wanted_channel is not None and channel != wanted_channel:
            continue
        if wanted_tags and not any(t in tags for t in wanted_tags):
            continue
        if organizations and not (
            state.organization is not None
            and same_organization(state.source, state.organization, organizations)
        ):
            continue
        return policy
    return None


class _Settings(NamedTuple):
    """What the rule reads of the rules' SLA section on every event, as plain values."""

    on: bool  # enabled, with policies
    # Each policy's (priority, channel lower-cased, tags, organizations, the policy), in order.
    conditions: tuple[tuple, ...]
    # (stage, share of the target): each warning's, then the breach's.
    stages: tuple[tuple[str, float], ...]
    pause_resolution_when: tuple[Status, ...]


def _settings(rules: RulesConfig) -> _Settings:
    """The rules' `_Settings`, read from the config once: each read of a config model's field
    is pydantic's slow attribute path on 3.11, and the rule made a dozen per event (the
    policies' conditions alone were 16 before they were kept as plain values)."""
    found = _SETTINGS.get(rules, ())
    if found is None:
        sla = rules.sla
        warnings = enumerate(sla.warnings, 1)
        found = _SETTINGS.put(
            rules,
            (),
            _Settings(
                on=sla.enabled and bool(sla.policies),
                conditions=tuple(
                    (p.priority, p.channel and p.channel.lower(), tuple(p.tags), p.accounts, p)
                    for p in sla.policies
                ),
                stages=(*((f"warn{i}", w.at) for i, w in warnings), ("breach", 1.0)),
                pause_resolution_when=tuple(sla.pause_resolution_when),
            ),
        )
    return found


_SETTINGS = Memo(16)


def policy_named(rules: RulesConfig, name: str | None) -> SlaPolicy | None:
    """The first policy of that name (`RulesView.sla_policies`)."""
    return None if name is None else view_of(rules).sla_policies.get(name)


def _clock_time(policy: SlaPolicy | None, metric: str, rules: RulesConfig):
    """What a clock's time is measured in: the team's business hours, or calendar time for a
    metric its policy counts so, or for a ticket no policy covers."""
    if policy is None:
        return CALENDAR_TIME
    view = view_of(rules)
    terms = view.sla_terms.get(id(policy))
    if metric in (terms[0] if terms is not None else policy.calendar_time):
        return CALENDAR_TIME
    return view.calendar or CALENDAR_TIME


def _target(policy: SlaPolicy | None, metric: str, rules: RulesConfig) -> timedelta | None:
    if policy is None:
        return None
    terms = view_of(rules).sla_terms.get(id(policy))
    if terms is not None and metric in terms[1]:
        return terms[1][metric]
    return getattr(policy, metric)


def _business(policy: SlaPolicy, metric: str, rules: RulesConfig) -> bool:
    """Whether the policy's `metric` counts business hours (the rules have them, and the
    policy does not list the metric under calendar_time)."""
    view = view_of(rules)
    terms = view.sla_terms.get(id(policy))
    calendar_time = terms[0] if terms is not None else policy.calendar_time
    return metric not in calendar_time and view.has_business_hours


def _policy_name(policy: SlaPolicy | None, rules: RulesConfig) -> str | None:
    if policy is None:
        return None
    terms = view_of(rules).sla_terms.get(id(policy))
    return terms[2] if terms is not None else policy.name


def timer_id(ticket: str, metric: str, stage: str) -> str:
    return f"{ticket}:sla:{metric}:{stage}"


def _stages(rules: RulesConfig) -> tuple[tuple[str, float], ...]:
    return _settings(rules).stages


def _used(clock: SlaClock, at: datetime, time_base) -> timedelta:
    used = _used_before(clock)
    if clock.running_since is not None and at > clock.running_since:
        used += time_base.business_time_between(clock.running_since, at)
    return used


def _used_before(clock: SlaClock) -> timedelta:
    """The time the clock used before `running_since`: most clocks used none (a reply clock
    never pauses), and `timedelta(seconds=…)` parses its keyword each time (given by
    position here: days, seconds)."""
    used_s = clock.used_s
    return timedelta(0, used_s) if used_s else _NONE_LEFT


def _plan(
    state: TicketState,
    clock: SlaClock,
    policy: SlaPolicy | None,
    rules: RulesConfig,
    decision: Decision,
    stages: tuple[tuple[str, float], ...],
    now: datetime,
) -> str | None:
    """Set the timer of the clock's next stage (`stages`: `_stages(rules)`; stages already
    used up are skipped; known at `now`) and cancel the one set before, or cancel it alone
    if the clock is not running. Only the next stage's timer is set: firing it sets the one
    after (`fire_sla`). Returns the stage set, if any."""
    key, metric = state.key, clock.metric
    was = _stage_set(state, metric) if metric in state.sla_clocks else None
    target = _target(policy, metric, rules)
    if target is None or clock.running_since is None or not _active(clock):
        _cancel(decision, key, metric, was, stages)
        return None
    timer = _next_timer(key, clock, policy, rules, target, _chain(stages, target), now)
    assert timer is not None  # the breach is never used up
    decision.timers.append(timer)
    stage = timer.payload["stage"]
    if was != stage:
        _cancel(decision, key, metric, was, stages, stage)
    return stage


def _stage_set(state: TicketState, metric: str) -> str | None:
    """The stage whose timer the ticket's `metric` clock set last: _ANY_STAGE for a clock
    stored before clocks kept it."""
    return state.sla_timer_stages.get(metric, _ANY_STAGE)


# Every stage's timer may be set (a clock stored when all were set at once).
_ANY_STAGE = "*"


def _cancel(
    decision: Decision,
    ticket: str,
    metric: str,
    was: str | None,
    stages: tuple[tuple[str, float], ...],
    keep: str | None = None,
) -> None:
    """Cancel the timer of stage `was` (every stage's but `keep` for _ANY_STAGE)."""
    if was == _ANY_STAGE:
        decision.cancel += [timer_id(ticket, metric, s) for s, _ in stages if s != keep]
    elif was is not None:
        decision.cancel.append(timer_id(ticket, metric, was))


def _chain(
    stages: tuple[tuple[str, float], ...], target: timedelta
) -> tuple[tuple[str, float, timedelta], ...]:
    """(stage, fraction, target * fraction) in the order the stages fall due: by share,
    then by stage name, the order their timers would be claimed in (due time, then id)."""
    chain = _CHAINS.get(stages, target)
    if chain is None:
        shares = ((s, f, target * f) for s, f in stages)
        chain = _CHAINS.put(stages, target, tuple(sorted(shares, key=lambda c: (c[2], c[0]))))
    return chain


def _next_timer(
    key: str,
    clock: SlaClock,
    policy: SlaPolicy | None,
    rules: RulesConfig,
    target: timedelta,
    chain: tuple[tuple[str, float, timedelta], ...],
    now: datetime,
) -> Timer | None:
    """The timer of the first stage of `chain` not yet used up (the breach never is), if
    any. A stage whose time has passed by `now` (the message that started the clock came
    late, a raised priority shortened the target) fires at its time, as the rules decide it
    in writing order, and its payload says when it became known (`known_at`): its breach
    cannot go out before then, and says how late it is (`late_by_s`)."""
    used = _used_before(clock)
    found = next((c for c in chain if c[2] - used > _NONE_LEFT or c[0] == "breach"), None)
    if found is None:
        return None
    stage, fraction, share = found
    left, metric = share - used, clock.metric
    due = _clock_time(policy, metric, rules).add_business_time(
        clock.running_since, max(left, _NONE_LEFT)
    )
    payload = {"metric": metric, "instance": clock.instance, "stage": stage, "fraction": fraction}
    if due < now:
        payload["known_at"] = now.isoformat()
    # Timer(id, ticket, kind, due_at, payload), given by position.
    return Timer(timer_id(key, metric, stage), key, TIMER_KIND, due, payload)


_NONE_LEFT = timedelta(0)
# Each stage's share of a target, in the order the stages fall due, by the stages (as
# `_stages` gives them) and the target: a timedelta times a float costs more than the rest of
# a stage's arithmetic, and the targets are a few per policy.
_CHAINS = Memo(64)


def _start(metric: str, at: datetime, instance: str | None = None) -> SlaClock:
    """`SlaClock(metric=…, instance=at.isoformat(), started_at=at, running_since=at)`, as a
    copy of one made so (the same fields given) without validating it again: 20,000 clocks
    start on a replayed week. `instance`: `at.isoformat()` when the caller has it already."""
    if instance is None:
        instance = at.isoformat()
    changes = {"metric": metric, "instance": instance, "started_at": at, "running_since": at}
    return evolve(_STARTED, changes)


_STARTED = SlaClock(
    metric="first_reply",
    instance="1970-01-01T00:00:00+00:00",
    started_at=datetime(1970, 1, 1, tzinfo=UTC),
    running_since=datetime(1970, 1, 1, tzinfo=UTC),
)


def evaluate_sla(state: TicketState, event: TicketEvent, ctx: Context) -> Decision:
    rules = ctx.rules
    decision = Decision()
    settings = _settings(rules)
    if not settings.on:
        return decision
    policy = _select(state, settings.conditions)
    clocks = dict(state.sla_clocks)
    changed: set[str] = set()
    at = event.occurred_at
    created = state.created_at or at
    comment = event.comment
    previous = ctx.previous
    # A comment counts when the event that brings it is folded in, not again when it comes
    # again (the same comment through a trigger and an event subscription, a redelivery).
    agent_reply = (
        comment is not None
        and is_public_agent_reply(comment)
        and (previous is None or comment.id not in previous.public_agent_reply_ids)
    )
    customer_message = (
        comment is not None
        and comment.public
        and not comment.author_is_agent
        and comment.id in state.customer_comment_ids
        and (previous is None or comment.id not in previous.customer_comment_ids)
    )

    met: list[SlaClock] = []  # the clocks this event meets, as they were: see _breach_withdrawn

    # Clocks that start with the ticket: both named by its creation time, written once (an
    # aware datetime's `isoformat` costs as much as the rest of starting a clock).
    instance = None
    for metric in ("first_reply", "resolution"):
        if metric not in clocks:
            instance = instance or created.isoformat()
            clocks[metric] = _start(metric, created, instance)
            changed.add(metric)
            if metric == "first_reply" and state.public_agent_replies and not agent_reply:
                _update(clocks, changed, metric, {"fulfilled_at": created, "running_since": None})

    # Events come late (a message delivered after the reply that answered it, one re-decided
    # after a fix): the clocks go by when each comment was written, as in writing order.
    if agent_reply:
        first_stopped_at = None  # when the first reply clock this reply meets late stopped
        for metric in ("first_reply", "next_reply"):
            stopped = clocks.get(metric)
            met_late = _met_before_stop(stopped, at, policy, rules)
            if met_late is not None and stopped is not None:  # met late: it was there
                if metric == "first_reply":
                    first_stopped_at = stopped.stopped_at
                clocks[metric] = met_late
                changed.add(metric)
                met.append(stopped)
        answered = _active(clocks["first_reply"]) or _answers(clocks.get("next_reply"), at)
        _stop(clocks, changed, met, "first_reply", True, at, policy, rules)
        if _answers(clocks.get("next_reply"), at):  # not a reply older than its start
            _stop(clocks, changed, met, "next_reply", True, at, policy, rules)
        waiting = state.unanswered_customer_message_at
        if answered and waiting:
            # A reply delivered late, after newer messages were folded, answered only the
            # older ones: as in writing order, the oldest written after it starts the next.
            clocks["next_reply"] = _start("next_reply", waiting[0])
            changed.add("next_reply")
        elif first_stopped_at is not None and not state.status.is_done:
            # Met late, after the ticket was solved and reopened: a message written after the
            # solve started the next reply clock in writing order. It has one already when
            # that message came first (`_waits_for_next_reply`): that clock is kept as it is.
            since = [w for w in waiting if w > first_stopped_at]
            current = clocks.get("next_reply")
            if since and not (current and _active(current) and current.started_at == since[0]):
                clocks["next_reply"] = _start("next_reply", since[0])
                changed.add("next_reply")
    elif customer_message and _waits_for_next_reply(clocks["first_reply"], at):
        current = clocks.get("next_reply")
        last_reply = _last_reply_at(state, clocks)
        # The oldest message not answered by the newest reply starts it.
        if (last_reply is None or at > last_reply) and (
            current is None or not _active(current) or at < current.started_at
        ):
            clocks["next_reply"] = _start("next_reply", at)
            changed.add("next_reply")

    status = state.status
    stale_status = (
        event.ticket.status is not None
        and previous is not None
        and previous.snapshot_at is not None
        and at < previous.snapshot_at
    )
    if stale_status:
        # A solve delivered late, after newer events: the status stays the newest one's, but
        # as in writing order it stopped the reply clocks running then, unmet.
        for metric in ("first_reply", "next_reply"):
            stopped = _stopped_by_points(clocks.get(metric), state.status_points, policy, rules)
            if stopped is not None:
                clocks[metric] = stopped
                changed.add(metric)
    was_done = previous is not None and previous.status.is_done
    if status.is_done:
        _stop(clocks, changed, met, "resolution", True, at, policy, rules)
        _stop(clocks, changed, met, "first_reply", False, at, policy, rules)
        _stop(clocks, changed, met, "next_reply", False, at, policy, rules)
    elif was_done:
        clocks["resolution"] = _start("resolution", at)  # a reopen restarts resolution
        changed.add("resolution")
    resolution = clocks["resolution"]
    late_status = stale_status and _active(resolution) and policy is not None
    if late_status and not state.status_points_partial:
        # A solve and a reopen delivered late: in writing order the solve met the clock and
        # the reopen started a new one (the leads' review counts the first met: activity).
        reopened_at = _reopened_at(state.status_points)
        restarted = False
        if reopened_at is not None and reopened_at != resolution.started_at:
            restarted = True
            resolution = clocks["resolution"] = _start("resolution", reopened_at)
            changed.add("resolution")
    else:
        restarted = False
    if late_status and (restarted or at >= resolution.started_at):
        # A status delivered late (a pending period and its end after newer events): its
        # snapshot is stale, so the status stays the newest one's, but the time waiting on
        # the customer is paused as it would have been in writing order.
        base = _clock_time(policy, "resolution", rules)
        points = state.status_points
        redone = _pause_by_points(resolution, points, state.status_points_partial, rules, base)
        if redone is not None and redone.__dict__ != resolution.__dict__:
            redo: dict[str, Any] = {"running_since": redone.running_since}
            redo["used_s"] = redone.used_s
            _update(clocks, changed, "resolution", redo)
            resolution = clocks["resolution"]
    if _active(resolution) and policy is not None:
        paused = status in settings.pause_resolution_when
        if paused and resolution.running_since is not None:
            base = _clock_time(policy, "resolution", rules)
            used = _used(resolution, at, base).total_seconds()
            _update(clocks, changed, "resolution", {"running_since": None, "used_s": used})
        elif not paused and resolution.running_since is None:
            resumed = max(at, resolution.started_at)
            _update(clocks, changed, "resolution", {"running_since": resumed})

    for clock in met:
        correction = _breach_withdrawn(state, clock, at, rules)
        if correction is not None:
            decision.actions.append(correction)

    policy_name = _policy_name(policy, rules)
    if policy_name != state.sla_policy:
        changed.update(clocks)  # a new policy re-plans every clock
        decision.updates["sla_policy"] = policy_name
    if changed:
        stages = settings.stages
        timer_stages = dict(state.sla_timer_stages)
        for metric in sorted(changed):
            timer_stages[metric] = _plan(
                state, clocks[metric], policy, rules, decision, stages, ctx.now
            )
        if timer_stages != state.sla_timer_stages:
            decision.updates["sla_timer_stages"] = timer_stages
    if _clocks_differ(clocks, state.sla_clocks):
        decision.updates["sla_clocks"] = clocks
    return decision


def _update(
    clocks: dict[str, SlaClock], changed: set[str], metric: str, changes: dict[str, Any]
) -> None:
    """`clocks[metric]` with `changes`, and `metric` among the clocks `changed`. A function of
    the module, not a closure in `evaluate_sla`: compiled, a closure called with keywords
    went through Python's general call path (9,500 instructions a call)."""
    clocks[metric] = evolve(clocks[metric], changes)
    changed.add(metric)


def _stop(
    clocks: dict[str, SlaClock],
    changed: set[str],
    met: list[SlaClock],
    metric: str,
    fulfilled: bool,
    at: datetime,
    policy: SlaPolicy | None,
    rules: RulesConfig,
) -> None:
    """Stop the `metric` clock at `at` if it is active: met (`fulfilled`; the clock as it was
    goes to `met`) or not."""
    clock = clocks.get(metric)
    if clock is None or not _active(clock):
        return
    base = _clock_time(policy, metric, rules)
    used = _used(clock, at, base).total_seconds()
    if fulfilled:
        changes: dict[str, Any] = {"fulfilled_at": at, "running_since": None, "used_s": used}
        _update(clocks, changed, metric, changes)
        met.append(clock)
    else:
        changes = {"stopped": True, "running_since": None, "used_s": used, "stopped_at": at}
        _update(clocks, changed, metric, changes)


def is_public_agent_reply(comment: Comment) -> bool:
    """`comment.is_public_agent_reply`, read here for compiled code (see `_active`)."""
    return comment.public and comment.author_is_agent and not comment.is_voice


def _active(clock: SlaClock) -> bool:
    """`clock.active`, read here: from compiled code the model's property is a call into
    Python (1,600 instructions), its two fields two reads."""
    return clock.fulfilled_at is None and not clock.stopped


def _pause_by_points(
    clock: SlaClock,
    points: list[tuple[datetime, Status]],
    partial: bool,
    rules: RulesConfig,
    base: BusinessCalendar | CalendarTime,
) -> SlaClock | None:
    """The resolution `clock` as the statuses known at each time (`points`, in time order)
    pause and resume it from its start: running but while paused (or done), the time it
    ran measured in `base`. None when the status at its start is no longer known (older
    points were let go, or never kept: `partial`, TicketState.status_points_partial)."""
    paused = rules.sla.pause_resolution_when
    start = clock.started_at
    first = bisect_right(points, start, key=status_point_time)
    if first == 0 and (partial or len(points) >= KEEP_STATUS_POINTS):
        return None
    # Before any point the clock runs, as it started with the ticket.
    running = first == 0 or not _pauses(points[first - 1][1], paused)
    since, used = (start if running else None), timedelta(0)
    for at, status in points[first:]:
        now_running = not _pauses(status, paused)
        if running and not now_running:
            used += base.business_time_between(cast(datetime, since), at)  # set while running
            since = None
        elif now_running and not running:
            since = at
        running = now_running
    return evolve(clock, {"running_since": since, "used_s": used.total_seconds()})


def _stopped_by_points(
    clock: SlaClock | None,
    points: list[tuple[datetime, Status]],
    policy: SlaPolicy | None,
    rules: RulesConfig,
) -> SlaClock | None:
    """A running reply `clock` stopped unmet by the first done status known after its start
    (`points`, in time order), as in writing order; None if none is known."""
    if clock is None or not _active(clock):
        return None
    start = clock.started_at
    first = bisect_right(points, start, key=status_point_time)
    done_at = next((at for at, status in points[first:] if status.is_done), None)
    if done_at is None:
        return None
    base = _clock_time(policy, clock.metric, rules)
    used = _used(clock, done_at, base).total_seconds()
    return evolve(
        clock, {"stopped": True, "running_since": None, "used_s": used, "stopped_at": done_at}
    )


def _reopened_at(points: list[tuple[datetime, Status]]) -> datetime | None:
    """When the ticket was last reopened, as the statuses known at each time (`points`, in
    time order) tell: the first not done after a done one, the newest such. None if never."""
    for index in range(len(points) - 1, 0, -1):
        if points[index - 1][1].is_done and not points[index][1].is_done:
            return points[index][0]
    return None


def _pauses(status: Status, paused: list[Status]) -> bool:
    return status.is_done or status in paused


def _met_before_stop(
    clock: SlaClock | None, at: datetime, policy: SlaPolicy | None, rules: RulesConfig
) -> SlaClock | None:
    """A reply clock stopped unmet (the ticket solved), met by a reply written at `at`,
    before it stopped, and delivered after: met then, as in writing order (the leads' review
    counts it met, coaching sees how long the first reply took). None otherwise."""
    if clock is None or not clock.stopped or clock.stopped_at is None:
        return None
    if not clock.started_at <= at <= clock.stopped_at:
        return None
    # A reply clock never pauses: it ran from `at` to its stop.
    base = _clock_time(policy, clock.metric, rules)
    ran_after = base.business_time_between(at, clock.stopped_at).total_seconds()
    changes = {"fulfilled_at": at, "stopped": False, "stopped_at": None}
    return evolve(clock, {**changes, "used_s": max(clock.used_s - ran_after, 0.0)})


def _breach_withdrawn(
    state: TicketState, clock: SlaClock, met_at: datetime, rules: RulesConfig
) -> Action | None:
    """The lead's correction of `clock`'s breach alert, when what met it (a reply, a solve)
    was written at `met_at`, by the time the alert named, and reached deskbridge after the
    alert went out (Salesforce redelivers out of order, Zendesk retries): the alert was
    false. None when no alert went out, or when it was written after (the breach was true,
    also when a longer target since, a lowered priority, would have been met)."""
    due = clock.breached_at
    if due is None or met_at > due:
        return None
    metric, instance = clock.metric, clock.instance
    zone = _zone(rules)
    same_day = met_at.astimezone(zone).date() == due.astimezone(zone).date()
    deadline = due.astimezone(zone).strftime("%H:%M") if same_day else _local(due, rules)
    return build_action(
        state.key,
        RULE,
        ActionKind.notify,
        metric,
        instance,
        "breach_withdrawn",
        reason=(
            f"correction: {LABELS[metric]} target met — {MET_BY.get(metric, MET_BY_DEFAULT)} "
            f"{_local(met_at, rules)}, {'at' if met_at == due else 'before'} the {deadline} "
            "deadline, reached deskbridge after the breach alert"
        ),
        metric=metric,
        target="lead",
        channel=rules.team.lead_channel,
        assignee=state.assignee,
        due_at=due.isoformat(),
        met_at=met_at.isoformat(),
        withdraws=build_key(state.key, RULE, metric, instance, "breach"),
    )


def _answers(clock: SlaClock | None, at: datetime) -> bool:
    """Whether a reply written at `at` answers `clock`: it runs, and started at or before."""
    return clock is not None and _active(clock) and at >= clock.started_at


def _waits_for_next_reply(first_reply: SlaClock, at: datetime) -> bool:
    """Whether a customer message written at `at` starts a next reply clock: the first reply
    was given, or the first reply clock stopped unmet before the message (the ticket solved
    unanswered, then reopened: as on an answered ticket reopened, the customer writing again
    waits on a reply, and no other clock watches that wait)."""
    if first_reply.fulfilled_at is not None:
        return True
    stopped_at = first_reply.stopped_at
    return first_reply.stopped and (stopped_at is None or at > stopped_at)


def _last_reply_at(state: TicketState, clocks: dict[str, SlaClock]) -> datetime | None:
    """When the newest public agent reply was written; for a state stored before states kept
    it, when its reply clocks were last fulfilled; None when no reply is known."""
    if state.last_public_agent_reply_at is not None:
        return state.last_public_agent_reply_at
    fulfilled = (clocks[m].fulfilled_at for m in ("first_reply", "next_reply") if m in clocks)
    return max((at for at in fulfilled if at is not None), default=None)


def _clocks_differ(clocks: dict[str, SlaClock], before: dict[str, SlaClock]) -> bool:
    """`clocks != before`, with each clock that is not the same object compared by its
    fields' values (its `__dict__`: a clock has no extra or private attributes), not by
    pydantic's `__eq__` (a Python call, its type, private and extra checks): the rule changes
    a clock on about one event in two."""
    if clocks.keys() != before.keys():
        return True
    for metric, clock in clocks.items():
        old = before[metric]
        if clock is not old and clock.__dict__ != old.__dict__:
            return True
    return False


def _zone(rules: RulesConfig) -> ZoneInfo:
    """The team's clock, which the alerts' times are on."""
    return ZoneInfo((rules.business_hours and rules.business_hours.timezone) or rules.team.timezone)


def _local(moment: datetime, rules: RulesConfig, now: datetime | None = None) -> str:
    """`moment` in the team's zone, as describe_local_time writes it."""
    return describe_local_time(moment.astimezone(_zone(rules)), now)


def describe_local_time(local: datetime, now: datetime | None = None) -> str:
    """`local` (a time in the zone it is read in) as `strftime("%a %d %b %H:%M")` writes it in
    the C locale (Python's own: deskbridge sets none), "Mon 02 Mar 09:30", written out:
    strftime cost 8,000 instructions a call, and each SLA alert names a time or two. With its
    year when `now` is in another ("Tue 04 Mar 2025 09:45": beside this year's times, a date
    of last year read as this year's). The SLA lines' and /deskbridge ticket's decisions'."""
    day, month = _DAY_NAMES[local.weekday()], _MONTH_NAMES[local.month - 1]
    year = ""
    if now is not None and now.astimezone(local.tzinfo).year != local.year:
        year = f" {local.year}"
    return f"{day} {local.day:02d} {month}{year} {local.hour:02d}:{local.minute:02d}"


_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def describe_span(target: timedelta) -> str:
    """A target as the alerts write it: 45m, 4h, 1h30m (whole minutes)."""
    minutes = int(target.total_seconds() // 60)
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def describe_ago(seconds: int) -> str:
    """How long ago, as a lead reads it: 5 min ago, 15h50m ago, 3 days ago. A breach known
    only long after its time (a backlog, a replayed history) said "922093 min ago"."""
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{describe_span(timedelta(minutes=minutes))} ago"
    return f"{minutes // (24 * 60)} days ago"


def _describe_target(target: timedelta, business: bool) -> str:
    return f"{describe_span(target)} {'business-hours' if business else 'calendar'}"


def fire_sla(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    """A warning or breach time came: act only if that very clock is still running and this
    is the stage whose timer it set last; then set the next stage's timer."""
    rules = ctx.rules
    # Any: the stored timer's payload, as it was set (`_next_timer`).
    metric: Any = timer.payload.get("metric")
    clock = state.sla_clocks.get(metric)
    policy = policy_named(rules, state.sla_policy)
    target = _target(policy, metric, rules)
    stage: Any = timer.payload.get("stage")
    if (
        clock is None
        or clock.instance != timer.payload.get("instance")
        or not _active(clock)
        or clock.running_since is None
        or state.status.is_done
        or _stage_set(state, metric) not in (stage, _ANY_STAGE)  # set before a change
    ):
        return Decision()
    if policy is None and state.sla_policy is not None:
        return _replan(state, metric, rules, ctx.now)
    if target is None:
        return Decision()
    # When this stage became known: the later stages cannot be known before it either.
    known = timer.known_by(ctx.now)
    chain = _chain(_stages(rules), target)
    at = next((n for n, c in enumerate(chain) if c[0] == stage), None)
    if at is None:
        # A stage the rules no longer have (a warning removed since its timer was set): it
        # has passed, unannounced, and the stages after its share of the target follow.
        passed = (target * timer.payload.get("fraction", 0.0), stage)
        rest = tuple(c for c in chain if (c[2], c[0]) > passed)
        decision = Decision()
    else:
        rest = chain[at + 1 :]
        # A target comes from a policy (_target): there is one.
        decision = _fire_stage(
            state, clock, cast(SlaPolicy, policy), rules, ctx, stage, target, known
        )
    # The next stage's timer: the clock is as it was when this one was set, so it falls due
    # when it would have, had every stage been set at once.
    following = _next_timer(state.key, clock, policy, rules, target, rest, known)
    if following is not None:
        decision.timers.append(following)
    following_stage = following.payload["stage"] if following is not None else None
    decision.updates["sla_timer_stages"] = {**state.sla_timer_stages, metric: following_stage}
    return decision


def _replan(state: TicketState, firing: str, rules: RulesConfig, now: datetime) -> Decision:
    """The ticket's policy is gone from the rules (renamed or removed since its timers were
    set): every clock is planned again under the policy the ticket gets now, as when an event
    changes its policy (stages already announced are not again: their actions' keys are
    known). The `firing` clock's timer is the one being fired: it is not cancelled."""
    policy = select_policy(state, rules)
    planned = evolve(state, {"sla_timer_stages": {**state.sla_timer_stages, firing: None}})
    decision, stages = Decision(), _stages(rules)
    timer_stages = dict(state.sla_timer_stages)
    for metric in sorted(state.sla_clocks):
        clock = state.sla_clocks[metric]
        timer_stages[metric] = _plan(planned, clock, policy, rules, decision, stages, now)
    decision.updates["sla_policy"] = policy.name if policy is not None else None
    decision.updates["sla_timer_stages"] = timer_stages
    return decision


def _fire_stage(
    state: TicketState,
    clock: SlaClock,
    policy: SlaPolicy,
    rules: RulesConfig,
    ctx: Context,
    stage: str,
    target: timedelta,
    known: datetime,
) -> Decision:
    """The warning or breach of a running clock's stage, known at `known` (its time, or
    later when what made it due came late)."""
    metric = clock.metric
    business = _business(policy, metric, rules)
    time_base: BusinessCalendar | CalendarTime = _clock_time(policy, metric, rules)
    due = time_base.add_business_time(  # a running clock's (fire_sla)
        cast(datetime, clock.running_since), max(target - _used_before(clock), _NONE_LEFT)
    )
    label = LABELS[metric]
    described = _describe_target(target, business)
    once = (metric, clock.instance, stage)  # each stage of each clock instance, once
    # When it goes out: at its time, or when it became known only later (the event that
    # made it due came late) or the shell fired it behind (an outage).
    sent = known if ctx.decided_at is None else max(known, ctx.decided_at)
    if stage == "breach":
        late = max(0, int((sent - due).total_seconds()))
        # Kept on the clock: what met it by `due`, delivered after, withdraws the alert.
        breached = {**state.sla_clocks, metric: evolve(clock, {"breached_at": due})}
        return Decision(
            actions=[
                build_action(
                    state.key,
                    RULE,
                    ActionKind.sla_breach,
                    *once,
                    reason=f"{label} target of {described} missed at {_local(due, rules)}"
                    + (f", {describe_ago(late)}" if late >= 60 else ""),
                    metric=metric,
                    target="lead",
                    channel=rules.team.lead_channel,
                    assignee=state.assignee,
                    sla_target_s=int(target.total_seconds()),
                    business_hours=business,
                    due_at=due.isoformat(),
                    late_by_s=late,
                    policy=policy.name,
                )
            ],
            updates={"sla_clocks": breached},
        )
    if sent >= due:
        # Known only once the deadline had passed (what made it due came late, an outage):
        # "due at 10:00" beside the breach alert is noise; the breach says it.
        return Decision()
    warning = rules.sla.warnings[int(stage.removeprefix("warn")) - 1]
    audience: dict[str, str] = {"target": warning.notify}
    if warning.notify == "lead":
        audience["channel"] = rules.team.lead_channel
    return Decision(
        actions=[
            build_action(
                state.key,
                RULE,
                ActionKind.sla_warning,
                *once,
                reason=(
                    f"{label} due {_local(due, rules)} — {warning.at:.0%} of the "
                    f"{described} target used"
                ),
                metric=metric,
                **audience,
                assignee=state.assignee,
                sla_target_s=int(target.total_seconds()),
                business_hours=business,
                due_at=due.isoformat(),
                used=warning.at,
                policy=policy.name,
            )
        ]
    )


def sla_due_times(state: TicketState, rules: RulesConfig) -> list[tuple[str, datetime, bool]]:
    """(metric, due time, business hours?) of every running clock, soonest first."""
    policy = policy_named(rules, state.sla_policy)
    out = []
    for metric, clock in state.sla_clocks.items():
        target = _target(policy, metric, rules)
        if target is None or not _active(clock) or clock.running_since is None:
            continue
        time_base = _clock_time(policy, metric, rules)
        left = max(target - timedelta(seconds=clock.used_s), timedelta(0))
        # A target comes from a policy (_target): there is one.
        business = _business(cast(SlaPolicy, policy), metric, rules)
        out.append((metric, time_base.add_business_time(clock.running_since, left), business))
    return sorted(out, key=lambda item: item[1])


def describe_sla(state: TicketState, rules: RulesConfig, now: datetime) -> list[str]:
    """'First reply due Mon 09 Mar 09:55 (in 40m of business hours)' lines for messages."""
    lines = []
    for metric, due, business in sla_due_times(state, rules):
        # Business hours only where the rules have them (sla_due_times).
        time_base = cast(BusinessCalendar, rules.calendar) if business else CALENDAR_TIME
        left = time_base.business_time_between(now, due) if due > now else timedelta(0)
        # As the reasons write a target ("8h business-hours target"): "in 8h", not "8h00m".
        span = describe_span(left) if left >= timedelta(minutes=1) else "under 1m"
        kind = "business hours" if business else "calendar time"
        when = f"in {span} of {kind}" if due > now else "overdue"
        lines.append(f"{LABELS[metric].capitalize()} due {_local(due, rules, now)} ({when})")
    return lines
