"""After-hours paging: page the person on call, keep paging up the chain until someone owns it.

Outside business hours (the team calendar, holidays included) an event listed under
`oncall.page_when` starts the ticket's chain: the chain's steps are snapshotted on the ticket
(Grafana OnCall's escalation snapshot; who each step pages is read when it pages), the steps
due at once page now, and one timer waits for the next step, carrying the chain's id as its
token. Acknowledge
or solving stops the later steps; a second paging event while steps are still to page is told
in the chain's thread instead of paging again, and once none are (acknowledged, or every step
paged) it starts a new chain with who is on call then. During business hours nothing is paged:
the usual alerts go to the team. Decided long after its time (catching up after an outage, a
failed step redecided), a page goes by the decision's time (`paging_time`): in business hours
none, after hours one, to whoever is on call then or the step the chain has reached. That
page is a timer due at the decision's time (`defer_page`, a step set again): it fires after
what was stored by then, so a ticket answered, acknowledged or solved meanwhile pages nobody.
A new urgent ticket or an escalation written in business hours pages nobody when it is decided
late after hours: the team saw the ticket in the helpdesk (a customer still waiting is paged
for by the reply target's breach).

It runs after the other rules (it pages on what they decided: an escalation, an SLA breach).

An urgent ticket waiting for a reply is `sla_breach_urgent` on the after-hours clock too: its
reply target counted in business hours only would run out when the office opens again (a
ticket opened at 17:01 on Friday: Monday 09:01), so nobody would be paged all weekend. For
paging, the target goes on counting after hours: the watch timer pages when it has run out
and the office is closed (at closing, for a target that ran out in business hours and is
still unanswered then; for one fired with the office open, a catch-up's, at the next closing).
The SLA's own warnings, breaches and the review stay on business time.
A reply target running out pages once, and not when on call was paged during that wait
already (`paged_during_wait`), whether the watch or the target's own breach sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from deskbridge.config.rules import OncallConfig, RulesConfig
from deskbridge.workflows.actions import Action, ActionKind, build_action
from deskbridge.workflows.business_hours import BusinessCalendar
from deskbridge.workflows.decision import (
    CATCH_UP_AFTER,
    Context,
    Decision,
    Timer,
    decision_time,
    view_of,
)
from deskbridge.workflows.memo import Memo
from deskbridge.workflows.model import (
    EventKind,
    OncallChain,
    OncallStep,
    Priority,
    TicketEvent,
    TicketState,
    evolve,
)
from deskbridge.workflows.rotation import Override, Rotation, format_local
from deskbridge.workflows.rules.sla import LABELS, describe_ago, describe_span, policy_named

RULE = "oncall"


def build_chain_key_prefix(ticket: str, chain: str | None = None) -> str:
    """The start of the keys of this rule's actions on `ticket` (of one chain, when given):
    every on-call key is `build_key(ticket, RULE, chain id, …)`."""
    # `build_key`'s text, joined here: see sla.build_clock_key_prefix.
    if chain is None:
        return ":".join((ticket, RULE, ""))
    return ":".join((ticket, RULE, chain, ""))


TIMER_KIND = "oncall.step"
WATCH_KIND = "oncall.unanswered"
PAGE_KIND = "oncall.page"
# The clocks of a customer waiting for a reply (resolution is the team's work, not a wait).
_REPLY_METRICS = ("first_reply", "next_reply")
NEW_TICKET_WINDOW = timedelta(hours=1)

# Members named once here: on 3.11 naming one on its class (`ActionKind.escalate`) goes through
# EnumType.__getattr__'s slow attribute path, and these are checked for every event or action.
_CREATED, _ACKNOWLEDGED = EventKind.created, EventKind.acknowledged
_ESCALATE, _SLA_BREACH, _URGENT = ActionKind.escalate, ActionKind.sla_breach, Priority.urgent

TRIGGER_REASONS = {
    "urgent_created": "urgent ticket created after hours",
    "escalated": "escalated to the specialist tier after hours",
    "sla_breach_urgent": "urgent ticket breached its SLA after hours",
}
NOTIFY_WORDS = {
    "oncall": "the person on call",
    "next": "the next on the rotation",
    "lead": "the leads",
}


def timer_id(ticket: str) -> str:
    return f"{ticket}:{TIMER_KIND}"


def is_after_hours(rules: RulesConfig, at: datetime) -> bool:
    """Outside the team's business hours (holidays and closures count as outside). Without a
    business_hours section every hour is after hours."""
    calendar = view_of(rules).calendar
    return calendar is None or not calendar.is_open(at)


def paging_time(ctx: Context, at: datetime) -> datetime:
    """When a paging decision about `at` (an event's arrival, a step's or a deadline's due
    time) is made (decision_time): `at` itself, as replay decides it, unless the shell decides
    it more than CATCH_UP_AFTER later. A page is for a person who must act now: whether it is
    after hours, and who is on call, are read then, not at a time long past."""
    return decision_time(at, ctx.now, ctx.decided_at)


def find_triggers(
    state: TicketState, event: TicketEvent | None, decided: list[Action], ctx: Context
) -> list[tuple[str, str]]:
    """(trigger, discriminator) pairs for what happened that `page_when` lists."""
    urgent = state.priority is _URGENT
    if not decided and not urgent:
        return []  # most events and timers: nothing to page for, no settings to read
    wanted = view_of(ctx.rules).page_when
    found = []
    # A ticket first seen now counts as new only if it was created lately (not an old ticket
    # deskbridge meets for the first time).
    fresh = (
        ctx.previous is None
        and state.created_at is not None
        and ctx.now - state.created_at <= NEW_TICKET_WINDOW
    )
    new_ticket = event is not None and (event.kind is _CREATED or fresh)
    if "urgent_created" in wanted and new_ticket and urgent:
        found.append(("urgent_created", "created"))
    for action in decided:
        kind = action.kind
        if "escalated" in wanted and kind is _ESCALATE:
            found.append(("escalated", action.key))
        if (
            "sla_breach_urgent" in wanted
            and kind is _SLA_BREACH
            and urgent
            and not paged_during_wait(state, action.params.get("metric"))
        ):
            found.append(("sla_breach_urgent", action.key))
    return found


def paged_during_wait(state: TicketState, metric: str | None) -> bool:
    """Whether on call was paged (a chain started) since the customer began waiting on the
    reply `metric` measures: that chain went up its steps, or someone acknowledged it and owns
    the ticket. The wait's target running out then pages nobody again, whichever sees it first:
    the watch, or the target's own breach after hours (both at closing, for a business-time
    target running out then; a calendar-time one has only its breach)."""
    chain = state.oncall
    clock = state.sla_clocks.get(metric) if metric in _REPLY_METRICS else None
    return chain is not None and clock is not None and chain.started_at >= clock.started_at


def snapshot_chain(
    rules: RulesConfig,
    trigger: str,
    reason: str,
    now: datetime,
    previous: OncallChain | None = None,
) -> OncallChain:
    """The chain's steps as configured now (who each pages is read when it pages:
    build_resolver). `previous` is the ticket's chain this one replaces (acknowledged, solved,
    or every step paged)."""
    steps = [
        OncallStep(after_s=step.after.total_seconds(), notify=step.notify)
        for step in cast(OncallConfig, rules.oncall).escalation  # paging: on call is set up
    ]
    return OncallChain(
        id=new_chain_id(previous, now),
        trigger=trigger,
        reason=reason,
        started_at=now,
        steps=steps,
        number=1 if previous is None else chain_number(previous) + 1,
        latest_started_at=now if previous is None else max(now, chains_started_by(previous)),
    )


def build_resolver(
    rules: RulesConfig, ctx: Context, at: datetime, began: datetime | None = None
) -> Callable[[str, Collection[str]], list[str]]:
    """Who a step notifying `notify` pages at `at`, given the people the chain has paged:
    the rotation with the overrides known to `ctx` (Grafana OnCall's "notify on-call from
    schedule", read when the step runs). `began`: the chain's start (default `at`), from
    which `next` counts the rotation's order."""
    rotation, leads = _rotation_and_leads(rules, tuple(ctx.oncall_overrides))
    on_call = rotation.who_is_on_call(at)
    began = at if began is None else began
    first = on_call if began == at else rotation.who_is_on_call(began)

    def resolve(notify: str, paged: Collection[str]) -> list[str]:
        if notify == "lead":
            return list(leads)
        if notify == "oncall":
            # Nobody on call (before the rotation starts): the leads hear instead of nobody.
            return [on_call] if on_call else list(leads)
        # `next` is the first one on call after the shift the chain began in whom it has not
        # paged yet (nor the person on call then, whoever pages first): paging the same person
        # again "as the next" reaches nobody new. Counted from the chain's start, a `next`
        # after the hand-off is the new shift's person, not the one after them.
        person = rotation.next_on_call(began, {*paged, first} if first else paged)
        return [person] if person else []  # nobody else: told in the thread when due

    return resolve


def _rotation_and_leads(
    rules: RulesConfig, overrides: tuple[Override, ...]
) -> tuple[Rotation, tuple[str, ...]]:
    """The rotation with these overrides, and the leads' Slack ids, made once per rules and
    overrides (a rotation keeps the shifts it worked out: paging asks on every decision)."""
    found = _ROTATIONS.get(rules, overrides)
    if found is None:
        rotation = Rotation(cast(OncallConfig, rules.oncall), rules.team.timezone, overrides)
        leads = tuple(a.slack_id for a in rules.agents if a.role == "lead")
        found = _ROTATIONS.put(rules, overrides, (rotation, leads))
    return found


# By rules and the overrides made in Slack (a batch's, the same for all its events).
_ROTATIONS = Memo(16)


def new_chain_id(previous: OncallChain | None, now: datetime) -> str:
    """The first page's time, which names the chain's keys (pages, pager events, the
    acknowledgement's note). The keys of a chain that is over are forgotten (compact_fired),
    so a new chain's id must be none an earlier chain of the ticket had, or its pages would
    repeat old keys and the outbox would skip them. The plain time is new when it is later than
    every earlier chain's start; otherwise (all in one delivery: an acknowledgement and a new
    escalation, or steps that all page at 0m; an event delivered late) the chain's number
    follows it, and numbers only grow."""
    stamp = now.isoformat()
    if previous is None or now > chains_started_by(previous):
        return stamp
    return f"{stamp}#{chain_number(previous) + 1}"


def chains_started_by(previous: OncallChain) -> datetime:
    """The latest start of the ticket's chains up to `previous`."""
    latest = previous.latest_started_at
    return previous.started_at if latest is None else max(latest, previous.started_at)


def chain_number(previous: OncallChain) -> int:
    """How many chains the ticket has had, up to `previous`. A chain stored before chains were
    numbered carries its number in its id only (`…#3`)."""
    _, _, suffix = previous.id.partition("#")
    return max(previous.number, int(suffix) if suffix.isdigit() else 1)


def page_due_steps(
    state: TicketState,
    chain: OncallChain,
    now: datetime,
    ctx: Context,
    behind: bool = False,
) -> Decision:
    """Page every step due by `now` from `chain.next_step`; set the timer for the next one.
    The chain's steps and times are its snapshot's; who a step pages is read at `now`, so a
    step after a hand-off or an override made meanwhile pages whoever is on call then, not
    whoever was when the chain began. `behind`: `now` is a catch-up's, long after steps fell
    due (paging_time): those steps are not paged late one after another, waking several
    people at once; after hours the step the chain has reached pages (those due last), or
    when it has nobody to page the latest due step that has someone; in business hours none
    does."""
    rules = ctx.rules
    resolve = build_resolver(rules, ctx, now, chain.started_at)
    decision = Decision()
    elapsed = (now - chain.started_at).total_seconds()
    index = chain.next_step
    paged = list(chain.paged)
    total = len(chain.steps)
    due = index
    while due < total and chain.steps[due].after_s <= elapsed:
        due += 1
    to_page: range | tuple[int, ...] = range(index, due)
    if behind and due > index:
        reached = chain.steps[due - 1].after_s
        after_hours = is_after_hours(rules, now)
        skipped = index
        if after_hours:
            while chain.steps[index].after_s < reached:
                index += 1
        else:
            index = due
        to_page = range(index, due)
        # The step reached has nobody to page (a `next` step, everyone on the rotation paged
        # already): the chain is behind, and the latest due step with someone pages instead
        # of nobody (the person on call again, rather than nobody until the leads).
        fallback = None
        if after_hours and all(not resolve(chain.steps[i].notify, paged) for i in to_page):
            earlier = range(index - 1, skipped - 1, -1)
            fallback = next((i for i in earlier if resolve(chain.steps[i].notify, paged)), None)
        if fallback is not None:
            to_page = (fallback,)
            told = tell_skipped(state, chain, range(skipped, due), after_hours, rules, fallback)
            decision.actions.append(told)
        elif index > skipped:
            # In business hours the steps still to come page at their times, as a chain begun
            # before the office opens goes on after it opens: the line says so.
            later = due if due < total and not after_hours else None
            told = tell_skipped(
                state, chain, range(skipped, index), after_hours, rules, following=later
            )
            decision.actions.append(told)
    for index in to_page:
        step = chain.steps[index]
        people = resolve(step.notify, paged)
        minutes = int(step.after_s // 60)
        if not people and step.notify == "next":
            decision.actions.append(tell_nobody_else(state, chain, index, minutes, paged, rules))
            continue
        if index == 0:
            reason = chain.reason
        elif behind:  # its own minutes would understate the wait: "30 min", hours later
            reason = (
                f"not acknowledged since the first page, {describe_ago(int(elapsed))} "
                f"({chain.reason}): paging {NOTIFY_WORDS[step.notify]}"
            )
        else:
            reason = (
                f"not acknowledged {minutes} min after the first page ({chain.reason}): "
                f"paging {NOTIFY_WORDS[step.notify]}"
            )
        channels = [cast(OncallConfig, rules.oncall).channel]
        if step.notify == "lead":
            channels.append(rules.team.lead_channel)
        decision.actions.append(
            build_action(
                state.key,
                RULE,
                ActionKind.page_oncall,
                chain.id,
                str(index),
                reason=reason,
                person=people[0] if people else None,
                people=people,
                step=index,
                notify=step.notify,
                channels=channels,
                trigger=chain.trigger,
            )
        )
        decision.actions.append(
            build_pager(
                state,
                chain,
                "trigger",
                str(index),
                reason=reason,
                step=index,
                paged_at=now.isoformat(),
            )
        )
        paged += [p for p in people if p not in paged]
    chain = evolve(chain, {"next_step": due, "paged": paged})
    if due < total:
        decision.timers.append(
            Timer(
                id=timer_id(state.key),
                ticket=state.key,
                kind=TIMER_KIND,
                due_at=chain.started_at + timedelta(seconds=chain.steps[due].after_s),
                payload={"chain": chain.id, "step": due},
            )
        )
    decision.updates["oncall"] = chain
    return decision


def tell_nobody_else(
    state: TicketState,
    chain: OncallChain,
    index: int,
    minutes: int,
    paged: list[str],
    rules: RulesConfig,
) -> Action:
    """The `next` step with nobody on the rotation left to page (everyone on it is paged
    already): said in the chain's thread, rather than paging someone paged already as if
    they were someone else."""
    reason = (
        f"not acknowledged {minutes} min after the first page ({chain.reason}): "
        "nobody else on the rotation to page"
    )
    return build_action(
        state.key,
        RULE,
        ActionKind.notify,
        chain.id,
        str(index),
        reason=reason,
        target="thread",
        step=index,
        notify="next",
        text=f"Not acknowledged {minutes} min after the first page, and nobody else on the "
        "rotation to page: everyone on it has been paged for this ticket.",
        **_chain_audience(paged, rules),
    )


def _chain_audience(paged: list[str], rules: RulesConfig) -> dict[str, str | list[str]]:
    """Where a line about the chain itself goes: the channels' threads and the DMs of the
    people it paged (they hold it until someone acknowledges), not every DM about the ticket
    (the assignee's 3-response DM), nor a department's thread (_not_for_departments)."""
    return {
        "reply_in": "channels",
        "reply_dm": list(paged),
        "reply_not_in": _not_for_departments(rules),
    }


def _not_for_departments(rules: RulesConfig) -> list[str]:
    """The departments' channels, where the on-call chain's lines are not said: the specialist
    tier owns an escalated ticket, and a department's alert says so (the order problem still
    theirs); a later escalation's reason goes to the specialists and the leads, and a line
    about paging ("Also: escalated …, already paged") told the department only that something
    it was not told of had happened. A department channel that is also the on-call, the leads'
    or the specialists' channel hears them there."""
    oncall = cast(OncallConfig, rules.oncall)
    chain = {oncall.channel, rules.team.lead_channel}
    if rules.risk is not None:
        chain.add(rules.risk.specialist_channel)
    return sorted({d.slack_channel for d in rules.departments.values()} - chain)


def tell_skipped(
    state: TicketState,
    chain: OncallChain,
    skipped: range,
    after_hours: bool,
    rules: RulesConfig,
    fallback: int | None = None,
    following: int | None = None,
) -> Action:
    """Steps a catch-up does not page late (page_due_steps, `behind`): said in the chain's
    thread, so that nobody waits for them, nor wonders why the chain went quiet. With
    `fallback`, `skipped` is every step due, the last has nobody to page, and `fallback`
    pages instead. `following`: the step that still pages at its time (in business hours)."""
    steps = [f"{int(chain.steps[i].after_s // 60)} min" for i in skipped]
    listed = steps[0] if len(steps) == 1 else f"{', '.join(steps[:-1])} and {steps[-1]}"
    if fallback is not None:
        then = (
            f"the step it has reached, at {steps[-1]}, has nobody else on the rotation to "
            f"page: it pages the latest one with someone to page, at "
            f"{steps[fallback - skipped.start]}, once"
        )
    elif after_hours:
        then = "it pages the step the chain has reached, not each one late"
    else:
        then = "caught up in business hours, it pages nobody late"
        if following is not None:
            then += (
                f"; the chain goes on, its step at {int(chain.steps[following].after_s // 60)} "
                "min pages at its time unless someone acknowledges"
            )
    return build_action(
        state.key,
        RULE,
        ActionKind.notify,
        chain.id,
        "skipped",
        str(skipped.start),
        reason=f"on-call steps due while deskbridge was down or behind ({chain.reason})",
        target="thread",
        text=f"Not acknowledged, and deskbridge was down or behind when the chain's "
        f"{'step' if len(steps) == 1 else 'steps'} at {listed} after the first page fell due: "
        f"{then}.",
        **_chain_audience(chain.paged, rules),
    )


def build_pager(
    state: TicketState, chain: OncallChain, event_action: str, *discriminator: str, **params
) -> Action:
    """The pager's copy of a chain event; `dedup_key` is the ticket, so one ticket is one
    incident however many pages it took."""
    return build_action(
        state.key,
        RULE,
        ActionKind.pager,
        chain.id,
        event_action,
        *discriminator,
        reason=params.pop("reason", f"on-call chain {event_action}"),
        event_action=event_action,
        dedup_key=state.key,
        trigger=chain.trigger,
        # The helpdesk's number for it where it is not its id (a Salesforce CaseNumber): the
        # pager's summary names it so.
        **({"number": state.number} if state.number and event_action == "trigger" else {}),
        **params,
    )


def stop_chain(state: TicketState, chain: OncallChain, event: TicketEvent, ctx: Context):
    """Acknowledged or solved: cancel the later steps (and tell the pager)."""
    decision = Decision()
    if event.kind is _ACKNOWLEDGED and chain.running:
        by = event.meta.get("by", "someone")
        chain = evolve(chain, {"acknowledged_by": by, "acknowledged_at": ctx.now})
        decision.cancel.append(timer_id(state.key))
        decision.actions.append(
            build_pager(state, chain, "acknowledge", reason=f"acknowledged by {by}")
        )
    if state.status.is_done and chain.open:
        chain = evolve(chain, {"solved_at": ctx.now})
        decision.cancel.append(timer_id(state.key))
        decision.actions.append(
            build_pager(state, chain, "resolve", reason=f"the ticket is {state.status.value}")
        )
    if decision.cancel:
        decision.updates["oncall"] = chain
    return decision


def evaluate_paging(
    state: TicketState,
    ctx: Context,
    decided: list[Action],
    event: TicketEvent | None = None,
    since: datetime | None = None,
) -> Decision:
    """The on-call rule for an event (or a fired timer, `event` None), given the actions the
    other rules decided for it; on an event, the unanswered watch is set, moved or cancelled.
    `since`: when what decided them happened (a timer's due time; default `ctx.now`)."""
    decision = _decide_paging(state, ctx, decided, event, since)
    if event is not None:
        _plan_watch(state, ctx, decision)
    return decision


def _decide_paging(
    state: TicketState,
    ctx: Context,
    decided: list[Action],
    event: TicketEvent | None,
    since: datetime | None = None,
    written: datetime | None = None,
) -> Decision:
    """`written`: when the event that decided `decided` was written in the helpdesk, for a
    call without the event (what the event withdrawing a chain decided besides)."""
    rules = ctx.rules
    if view_of(rules).oncall is None:
        return Decision()
    chain = state.oncall
    if event is not None:
        written = event.occurred_at
    if chain is not None and event is not None:
        stopped = stop_chain(state, chain, event, ctx)
        if stopped.updates:
            return stopped
        withdrawn = withdraw_chain(state, chain, ctx)
        if withdrawn is not None:
            # What else this event decided (an escalation, a VIP tag) still pages: a new
            # chain, the withdrawn one being over.
            after = evolve(state, {"oncall": withdrawn.updates["oncall"]})
            withdrawn.extend(_decide_paging(after, ctx, decided, None, since, written))
            return withdrawn
    triggers = find_triggers(state, event, decided, ctx)
    if not triggers or state.status.is_done:
        return Decision()
    at = paging_time(ctx, ctx.now)
    if not is_after_hours(rules, at):
        return Decision()
    if written is not None and at - written > CATCH_UP_AFTER and not is_after_hours(rules, written):
        # An event of business hours delivered or decided late, after hours (a backlog after an
        # outage): the team was there and saw the ticket in the helpdesk then; paging now for
        # its creation or escalation would wake on-call for a day's tickets, most of them
        # answered. A customer still waiting is paged for by the unanswered watch.
        triggers = [t for t in triggers if t[0] == "sla_breach_urgent"]
        if not triggers:
            return Decision()
    trigger, discriminator = triggers[0]
    # The reply wait a breach pages for, so that a reply written before the page, delivered
    # after it, withdraws the chain (withdraw_chain); for a new urgent ticket, its first
    # reply: answered before a catch-up's page (defer_page), it pages nobody. Not when it
    # pages for more than the wait (escalated too, as the "also" line in _page), nor for a
    # ticket answered already (the page knows of the reply: no later event withdraws it).
    if trigger == "urgent_created":
        clock = state.sla_clocks.get("first_reply")
        waiting = len(triggers) == 1 and clock is not None and clock.active
        metric = "first_reply" if waiting else None
    else:
        metric = next((a.params.get("metric") for a in decided if a.key == discriminator), None)
    why = {a.key: a.reason for a in decided}
    # The page says what the rule that pages found (an escalation's signals, the target that
    # ran out), not only the trigger's name: the person woken reads why in the page itself.
    found = why.get(discriminator)
    reason = describe_trigger(trigger, found) if found else None
    return _page(state, ctx, triggers, at, reason, metric, since or ctx.now, why)


def withdraw_chain(state: TicketState, chain: OncallChain, ctx: Context) -> Decision | None:
    """A chain paged for a customer waiting on a reply, when the reply that ended the wait was
    written before the first page and reached deskbridge after it (Zendesk retries, Salesforce
    redelivers out of order): the page was a false alarm. Its later steps are cancelled, the
    pager's incident resolved and the thread told, rather than waking the next person and the
    leads for a customer who had their answer. None otherwise."""
    if not chain.running or chain.metric not in _REPLY_METRICS:
        return None
    clock = state.sla_clocks.get(chain.metric)
    if (
        clock is None
        or clock.fulfilled_at is None
        or clock.started_at > chain.started_at
        or clock.fulfilled_at > chain.started_at
    ):
        return None
    chain = evolve(chain, {"withdrawn_at": ctx.now})
    zone = ZoneInfo(ctx.rules.team.timezone)
    answered = format_local(clock.fulfilled_at, zone)
    text = (
        f"Withdrawn: the customer was answered at {answered}, before the first page. No more "
        "pages for this chain."
    )
    reason = f"false alarm: answered at {answered}, before the first page ({chain.reason})"
    return Decision(
        actions=[
            build_action(
                state.key,
                RULE,
                ActionKind.notify,
                chain.id,
                "withdrawn",
                reason=reason,
                target="thread",
                refresh=True,
                text=text,
                **_chain_audience(chain.paged, ctx.rules),
            ),
            build_pager(state, chain, "resolve", reason=reason),
        ],
        cancel=[timer_id(state.key)],
        updates={"oncall": chain},
    )


def _page(
    state: TicketState,
    ctx: Context,
    triggers: list[tuple[str, str]],
    at: datetime,
    reason: str | None = None,
    metric: str | None = None,
    since: datetime | None = None,
    why: dict[str, str] | None = None,
) -> Decision:
    """Page for `triggers` (after hours at `at`, the ticket open): a new chain starting at
    `at`, or a line in the thread of the chain still paging. `reason`: the first page's, if
    not the trigger's own; `metric`: the SLA clock whose breach pages. `since`: when what
    pages happened. `why`: the reasons of the actions that page, by key (a trigger's
    discriminator), said in the chain's line. The shell deciding it later (a catch-up: `at`,
    paging_time; a deadline known only after it), the new chain's page is a timer due at
    `at` (defer_page)."""
    rules, chain = ctx.rules, state.oncall
    if chain is not None and chain.pending:
        # One chain at a time: a paging event while its steps still page is told in its
        # thread. An acknowledged chain, or one whose steps have all paged, pages no more:
        # the event starts a new chain below (who is on call now, a week later maybe). Paging
        # now for more than the customer's wait, it is no longer withdrawn by the reply.
        return Decision(
            updates={"oncall": evolve(chain, {"metric": None})} if chain.metric else {},
            actions=[
                build_action(
                    state.key,
                    RULE,
                    ActionKind.notify,
                    chain.id,
                    "also",
                    trigger,
                    discriminator,
                    reason=TRIGGER_REASONS[trigger],
                    target="thread",
                    text=_also(trigger, (why or {}).get(discriminator)),
                    # For the chain's audience, the on-call channel (and the others that have
                    # the ticket but the departments'), not every DM: the assignee's
                    # 3-response DM, a page's DM.
                    reply_in="channels",
                    reply_not_in=_not_for_departments(rules),
                )
                for trigger, discriminator in triggers
            ],
        )
    if since is not None and at != since and ctx.decided_at is not None:
        return Decision(timers=[defer_page(state, triggers[0], at, reason, metric, since)])
    trigger = triggers[0][0]
    new = snapshot_chain(rules, trigger, reason or TRIGGER_REASONS[trigger], at, chain)
    if metric in _REPLY_METRICS:
        new = evolve(new, {"metric": metric})
    decision = page_due_steps(state, new, at, ctx)
    if chain is not None and chain.open:
        # The pager's incident is the ticket's (dedup_key): while the replaced chain's is
        # open (acknowledged or still triggered) a new trigger would only join it, and nobody
        # would be paged. Resolved first, the new chain's trigger opens a new incident.
        decision.actions.insert(
            0,
            build_pager(
                state, chain, "resolve", reason="replaced by a new on-call chain", replaced=new.id
            ),
        )
    return decision


def describe_trigger(trigger: str, why: str | None) -> str:
    """What pages and why: the trigger's words, and the reason of the rule's action that
    pages (an escalation's signals, the SLA target missed), when there is one."""
    said = f" — {why}" if why else ""
    return f"{TRIGGER_REASONS[trigger]}{said}"


def _also(trigger: str, why: str | None) -> str:
    """The chain's line for a paging event while it pages: what happened and why (an
    escalation's signals: the on-call channel is told nothing else of it)."""
    return f"Also: {describe_trigger(trigger, why)} (already paged)"


def defer_page(
    state: TicketState,
    trigger: tuple[str, str],
    at: datetime,
    reason: str | None,
    metric: str | None,
    since: datetime,
) -> Timer:
    """A page a catch-up decides at `at` for what happened at `since` (an event's arrival, a
    deadline, hours ago), as a timer due at `at`: it fires after the ticket's events stored
    by then (a reply, a solve), and pages only if they leave someone needed (fire_page). One
    a trigger, named by `since` first: two in one catch-up page in the order they happened,
    once, the second told in the chain's thread (or nothing, for the same wait), as on time."""
    payload = {"trigger": trigger[0], "discriminator": trigger[1], "reason": reason}
    clock = state.sla_clocks.get(metric) if metric in _REPLY_METRICS else None
    if clock is not None:  # the wait it pages for: a reply to it by `at` pages nobody
        payload.update(metric=metric, instance=clock.instance)
    # Fixed width, so that ids due at one time sort (and fire) by `since`.
    when = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    timer_id = f"{state.key}:{PAGE_KIND}:{when}:{trigger[0]}:{trigger[1]}"
    return Timer(timer_id, state.key, PAGE_KIND, at, payload)


def fire_page(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    """A catch-up's page (defer_page) is due: page, unless what was stored by then leaves
    nobody needed: the ticket is solved, the reply wait it pages for was answered (or on
    call paged for it since), or the office is open."""
    rules, payload = ctx.rules, timer.payload
    if view_of(rules).oncall is None or state.status.is_done:
        return Decision()
    metric = payload.get("metric")
    if metric is not None:
        clock = state.sla_clocks.get(metric)
        waiting = clock is not None and clock.active and clock.instance == payload["instance"]
        if not waiting or paged_during_wait(state, metric):
            return Decision()
    at = paging_time(ctx, timer.due_at)
    if not is_after_hours(rules, at):
        return Decision()
    trigger = (payload["trigger"], payload["discriminator"])
    return _page(state, ctx, [trigger], at, payload.get("reason"), metric)


def fire_step(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    """The chain's next step is due: page it unless the chain was stopped or replaced. A
    catch-up after hours sets it again at its own time, `behind` (its page fires after what
    was stored by then: an acknowledgement, a solve); in business hours it pages nobody, and
    says so at once."""
    chain = state.oncall
    current = (
        chain is not None
        and chain.id == timer.payload.get("chain")
        and chain.next_step == timer.payload.get("step")
        and chain.running
        and not state.status.is_done
    )
    if not current or view_of(ctx.rules).oncall is None:
        return Decision()
    at = paging_time(ctx, timer.due_at)
    set_again = timer.payload.get("behind", False)
    if at != timer.due_at and not set_again and is_after_hours(ctx.rules, at):
        payload = {**timer.payload, "behind": True}
        return Decision(timers=[Timer(timer.id, timer.ticket, TIMER_KIND, at, payload)])
    # `current`: the ticket's chain is there.
    return page_due_steps(
        state, cast(OncallChain, chain), at, ctx, behind=at != timer.due_at or set_again
    )


def watch_timer_id(ticket: str) -> str:
    return f"{ticket}:{WATCH_KIND}"


def unanswered_watch(state: TicketState, rules: RulesConfig) -> Timer | None:
    """When an open urgent ticket still waiting for a reply pages on call: the first moment
    outside business hours at or after its reply target, counted from the wait's start in
    calendar time, has run out (the soonest of its waits). None without one, or when
    `page_when` has no `sla_breach_urgent`, or a target already on calendar time (its own
    breach pages after hours)."""
    view = view_of(rules)
    calendar = view.calendar
    if (
        view.oncall is None
        or calendar is None
        or state.priority is not _URGENT
        or state.status.is_done
        or "sla_breach_urgent" not in view.page_when
    ):
        return None
    policy = policy_named(rules, state.sla_policy)
    if policy is None:
        return None
    soonest = None
    for metric in _REPLY_METRICS:
        clock = state.sla_clocks.get(metric)
        target = getattr(policy, metric)
        if (
            clock is None
            or target is None
            or not clock.active
            or clock.running_since is None
            or metric in policy.calendar_time
        ):
            continue
        at = calendar.closed_from(clock.started_at + target)
        if at is not None and (soonest is None or at < soonest[0]):
            soonest = (at, metric, clock.instance, target)
    if soonest is None:
        return None
    at, metric, instance, target = soonest
    payload = {"metric": metric, "instance": instance, "target_s": int(target.total_seconds())}
    return Timer(watch_timer_id(state.key), state.key, WATCH_KIND, at, payload)


def _plan_watch(state: TicketState, ctx: Context, decision: Decision) -> None:
    """Set the watch when it changes with the event (the event before set the one before)."""
    previous = ctx.previous
    if state.priority is not _URGENT and (previous is None or previous.priority is not _URGENT):
        return  # most tickets: never urgent, no watch to set or cancel
    watch = unanswered_watch(state, ctx.rules)
    before = unanswered_watch(previous, ctx.rules) if previous is not None else None
    if watch == before:
        return
    if watch is None:
        decision.cancel.append(watch_timer_id(state.key))
    elif watch.due_at < ctx.now:  # ran out before now (a ticket made urgent late): page now
        decision.timers.append(replace(watch, due_at=ctx.now))
    else:
        decision.timers.append(watch)


def fire_unanswered(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    """The urgent ticket's reply target has run out after hours: page, unless it was answered
    (or changed) since the watch was set, or on call was paged already during this wait (that
    chain went up its steps, or someone acknowledged it: they own it). With the office open
    (a catch-up, a ticket made urgent late) it pages nobody, and watches again from closing."""
    rules = ctx.rules
    watch = unanswered_watch(state, rules)
    # By its due time, as replay fires it, not the sweep's clock (`now`): a sweep seconds
    # late would name the chain, and its keys, by when it came.
    at = paging_time(ctx, timer.due_at)
    if watch is None or watch.payload != timer.payload:
        return Decision()
    metric = watch.payload["metric"]
    if paged_during_wait(state, metric):
        return Decision()
    if not is_after_hours(rules, at):
        # Fired with the office open (a catch-up in business hours, a ticket made urgent
        # late): nobody is paged now, the team is there; the wait goes on, so the watch is
        # set again for the office's closing, as for a target running out in business hours.
        # A calendar: the office is open.
        closing = cast(BusinessCalendar, rules.calendar).closed_from(at)
        return Decision(timers=[replace(watch, due_at=closing)] if closing else [])
    target = timedelta(seconds=watch.payload["target_s"])
    reason = (
        f"urgent ticket unanswered after hours: its {describe_span(target)} {LABELS[metric]} "
        "target ran out"
    )
    trigger = ("sla_breach_urgent", f"unanswered:{metric}:{watch.payload['instance']}")
    return _page(state, ctx, [trigger], at, reason, metric, since=timer.due_at)
