"""Coaching (pure): friendly, specific nudges to agents as Slack DMs (`coach` actions), never
in public, only during the agent's working days and hours.

- On events: `slow_first_reply` (a first reply later than the SLA policy's target).
- On the 3-response rule's lead timer: `missed_call` (a written reply after the rule asked for
  a call, and no call made by the end of `three_responses.lead_grace`), beside the lead's
  alert and by the same check: a call made just before the reply whose event comes after it
  spares the agent as it spares the lead.
- Scheduled (workflows/schedule.py jobs): `pace` at each `coaching.pace_checks` time,
  `target_reached` and `unnecessary_replies` at the `coaching.check_every` checks (each once a
  day), and the leads' daily and weekly digest posted to `team.lead_channel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from deskbridge.config.rules import AgentConfig, RulesConfig
from deskbridge.workflows.actions import Action, ActionKind, build_action
from deskbridge.workflows.business_hours import merge_intervals
from deskbridge.workflows.decision import Context, Decision, Timer
from deskbridge.workflows.digest import (
    AgentFigures,
    build_digest,
    build_period,
    build_reply_figures,
    coached_agents,
    count_csat,
    daily_target,
    describe_period,
    expected_by,
    posts_review,
    posts_weekly_review,
    repeat_window,
    shift_progress,
    working_intervals,
)
from deskbridge.workflows.model import TicketEvent, TicketState
from deskbridge.workflows.rules.three_responses import call_made_by, call_requested, lead_check_by
from deskbridge.workflows.schedule import Job, build_job_action, local_occurrences, subject

RULE = "coaching"
PACE_JOB = "pace_check"
CHECK_JOB = "coaching_check"
DAILY_DIGEST = "daily_digest"
WEEKLY_DIGEST = "weekly_digest"


def _zone(rules: RulesConfig) -> ZoneInfo:
    return ZoneInfo(rules.team.timezone)


def working_windows(
    rules: RulesConfig, agents: Sequence[AgentConfig], day: date
) -> tuple[tuple[datetime, datetime], ...]:
    """When any of `agents` works on local `day` (their hours of that day and the day before,
    which may run past midnight), as merged UTC intervals."""
    return merge_intervals(
        interval
        for agent in agents
        for d in (day - timedelta(days=1), day)
        for interval in working_intervals(rules, agent, d)
    )


def is_working(rules: RulesConfig, agent: AgentConfig, at: datetime) -> bool:
    day = at.astimezone(_zone(rules)).date()
    return any(start <= at < end for start, end in working_windows(rules, [agent], day))


def shift_day(rules: RulesConfig, agent: AgentConfig, at: datetime) -> date:
    """The day the agent's day at `at` is counted on: the day before, during a shift begun
    then that runs past midnight (workflows.digest.working_intervals), else `at`'s own."""
    day = at.astimezone(_zone(rules)).date()
    before = day - timedelta(days=1)
    if any(start <= at < end for start, end in working_intervals(rules, agent, before)):
        return before
    return day


def _coach(
    ticket: str,
    agent: AgentConfig,
    kind: str,
    *discriminator: str,
    reason: str,
    responses: int | None,
    target: int | None,
    **extra,
) -> Action:
    return build_action(
        ticket,
        RULE,
        ActionKind.coach,
        *discriminator,
        reason=reason,
        person=agent.slack_id,
        kind=kind,
        responses=responses,
        target=target,
        **extra,
    )


def _coached_writer(
    rules: RulesConfig, state: TicketState, author: str | None, at: datetime
) -> AgentConfig | None:
    """The coached agent who wrote a reply on `state`'s ticket, if working at `at`. No author
    id (a Salesforce EmailMessage): the ticket owner wrote it (as counted)."""
    # `_value_`: StrEnum's `.value` is a Python-level property call on 3.11 (every agent reply).
    agent = rules.agent_by_helpdesk_id(state.source._value_, author or state.assignee)
    if agent is None or agent not in coached_agents(rules) or not is_working(rules, agent, at):
        return None
    return agent


# -- on events --------------------------------------------------------------------------


def evaluate_coaching(state: TicketState, event: TicketEvent, ctx: Context) -> Decision:
    rules = ctx.rules
    comment = event.comment
    if not rules.coaching.enabled or comment is None or not comment.is_public_agent_reply:
        return Decision()
    agent = _coached_writer(rules, state, comment.author_id, event.occurred_at)
    if agent is None:
        return Decision()
    target = daily_target(rules, agent, event.occurred_at.astimezone(_zone(rules)).date())
    actions = []
    clock = state.sla_clocks.get("first_reply")
    before = ctx.previous.sla_clocks.get("first_reply") if ctx.previous else None
    policy = next((p for p in rules.sla.policies if p.name == state.sla_policy), None)
    if (
        rules.coaching.nudge_on("slow_first_reply")
        and clock is not None
        and clock.fulfilled_at == event.occurred_at
        and (before is None or before.fulfilled_at is None)
        and policy is not None
        and policy.first_reply is not None
        and clock.used_s > policy.first_reply.total_seconds()
    ):
        took = int(clock.used_s // 60)
        goal = int(policy.first_reply.total_seconds() // 60)
        # The clock counts as its target does: a calendar_time target's took calendar time.
        counted = "calendar" if "first_reply" in policy.calendar_time else "business"
        actions.append(
            _coach(
                state.key,
                agent,
                "slow_first_reply",
                "slow_first_reply",
                reason=(
                    f"This first reply took {_minutes(took)} of {counted} time against a "
                    f"{_minutes(goal)} target — picking up new tickets early keeps customers "
                    f"calm"
                ),
                responses=None,
                target=target,
            )
        )
    return Decision(actions=actions)


def fire_missed_call(state: TicketState, timer: Timer, ctx: Context) -> Decision:
    """The 3-response rule's lead timer is due (the grace after the written reply past its
    threshold): nudge the reply's writer when no call was made by then, as the lead is told
    (`fire_lead`), if they are working at the timer's time."""
    rules = ctx.rules
    if (
        not rules.coaching.nudge_on("missed_call")  # off too when coaching is
        or state.status.is_done
        or not call_requested(state)
        or call_made_by(state, rules, lead_check_by(timer))
    ):
        return Decision()
    # No writer kept (a timer set before it was, or by an event other than the reply): the
    # ticket's assignee, as for a reply with no author id.
    agent = _coached_writer(rules, state, timer.payload.get("author"), timer.due_at)
    if agent is None:
        return Decision()
    day = timer.due_at.astimezone(_zone(rules)).date()
    nudge = _coach(
        state.key,
        agent,
        "missed_call",
        "missed_call",
        reason=(
            "Another written reply went out after a call was suggested — a quick call "
            "usually settles it faster; press Call logged when you have called"
        ),
        responses=None,
        target=daily_target(rules, agent, day),
    )
    return Decision(actions=[nudge])


def _minutes(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes % 60 else f"{minutes // 60}h"


# -- scheduled ---------------------------------------------------------------------------


def _day_figures(rules: RulesConfig, day: date, at: datetime, reader) -> dict[str, AgentFigures]:
    """Each agent's responses and unnecessary replies for local `day` so far (up to `at`);
    the checks need nothing else (first replies, judgements and the rest stay empty)."""
    period = build_period(rules, day, now=at)
    return build_reply_figures(rules, reader.read_period_replies(period))


class _DayFigures:
    """`_day_figures` read once per day a check asks about (an agent on a night shift begun
    yesterday is counted on yesterday's)."""

    def __init__(self, rules: RulesConfig, at: datetime, reader):
        self.rules, self.at, self.reader = rules, at, reader
        self.days: dict[date, dict[str, AgentFigures]] = {}

    def of(self, agent: AgentConfig, day: date) -> AgentFigures:
        if day not in self.days:
            self.days[day] = _day_figures(self.rules, day, self.at, self.reader)
        return self.days[day][agent.slack_id]


def pace_occurrences(rules: RulesConfig, start: datetime, end: datetime) -> list[datetime]:
    if not rules.coaching.nudge_on("pace"):
        return []
    return local_occurrences(rules.team.timezone, start, end, rules.coaching.pace_checks)


def run_pace_check(at: datetime, rules: RulesConfig, reader) -> list[Action]:
    """Agents working now and behind a straight line from 0 at their start to the target at
    their end of day get one nudge per check (not those with no reply yet today: away)."""
    local = at.astimezone(_zone(rules)).strftime("%H:%M")
    figures = _DayFigures(rules, at, reader)
    actions = []
    for agent in coached_agents(rules):
        if not is_working(rules, agent, at):
            continue
        day = shift_day(rules, agent, at)
        done, total = shift_progress(rules, agent, day, at)
        responses = figures.of(agent, day).responses
        target = daily_target(rules, agent, day)
        # The review judges a running shift on the same line (workflows.digest.judge_agent).
        expected = expected_by(target, done, total)
        # No reply at all today: away (ill, on leave, not started), not slow. No nudge.
        if responses == 0 or responses >= expected or responses >= target:
            continue
        hours_left = (total - done).total_seconds() / 3600
        rate = (target - responses) / hours_left if hours_left > 0 else target - responses
        actions.append(
            build_job_action(
                PACE_JOB,
                at,
                RULE,
                ActionKind.coach,
                agent.slack_id,
                reason=(
                    f"{responses} of {target} by {local} — about {max(1, round(rate))} an "
                    f"hour keeps you on track"
                ),
                person=agent.slack_id,
                kind="pace",
                responses=responses,
                target=target,
            )
        )
    return actions


def check_occurrences(rules: RulesConfig, start: datetime, end: datetime) -> list[datetime]:
    coaching = rules.coaching
    if not (coaching.nudge_on("target_reached") or coaching.nudge_on("unnecessary_replies")):
        return []
    step = int(coaching.check_every.total_seconds() // 60) or 1
    times = [time(m // 60, m % 60) for m in range(0, 24 * 60, step)]
    candidates = local_occurrences(rules.team.timezone, start, end, times)
    # Only checks when somebody works: a check with nobody at work decides nothing, and
    # nights and weekends would otherwise be three quarters of all occurrences (and of
    # replay's time). Each day's windows are computed once.
    agents = coached_agents(rules)
    zone = _zone(rules)
    windows: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    def anybody_working(at: datetime) -> bool:
        day = at.astimezone(zone).date()
        if day not in windows:
            windows[day] = working_windows(rules, agents, day)
        return any(start <= at < end for start, end in windows[day])

    return [at for at in candidates if anybody_working(at)]


def run_coaching_check(at: datetime, rules: RulesConfig, reader) -> list[Action]:
    """`target_reached` and `unnecessary_replies`, each at most once a day per agent (the key
    names the local day, so later checks find it queued already)."""
    coaching = rules.coaching
    working = [a for a in coached_agents(rules) if is_working(rules, a, at)]
    if not working:
        return []
    figures = _DayFigures(rules, at, reader)
    actions = []
    for agent in working:
        day = shift_day(rules, agent, at)
        mine = figures.of(agent, day)
        target = daily_target(rules, agent, day)
        if coaching.nudge_on("target_reached") and mine.responses >= target:
            actions.append(
                _daily(
                    agent,
                    day,
                    "target_reached",
                    reason=(
                        f"{mine.responses} of {target} — today's target is reached. "
                        f"Thank you, great work!"
                    ),
                    responses=mine.responses,
                    target=target,
                )
            )
        if (
            coaching.nudge_on("unnecessary_replies")
            and len(mine.unnecessary) > coaching.unnecessary_nudge_after
        ):
            tickets = sorted(set(mine.unnecessary))
            names = ", ".join(t.split(":", 1)[1] for t in tickets)
            window = int(coaching.unnecessary_window.total_seconds() // 60)
            actions.append(
                _daily(
                    agent,
                    day,
                    "unnecessary_replies",
                    reason=(
                        f"{len(mine.unnecessary)} replies today followed your own earlier one "
                        f"within {window} min with no customer message between (tickets "
                        f"{names}) — one complete reply saves the customer reading twice"
                    ),
                    responses=mine.responses,
                    target=target,
                    tickets=tickets,
                )
            )
    return actions


def _daily(agent: AgentConfig, day: date, kind: str, **fields) -> Action:
    return _coach(subject(CHECK_JOB), agent, kind, day.isoformat(), agent.slack_id, kind, **fields)


def daily_digest_occurrences(rules: RulesConfig, start: datetime, end: datetime) -> list[datetime]:
    digest = rules.coaching.digest
    if not (rules.coaching.enabled and digest.enabled):
        return []
    return local_occurrences(
        rules.team.timezone, start, end, [digest.daily_at], lambda day: posts_review(rules, day)
    )


def weekly_digest_occurrences(rules: RulesConfig, start: datetime, end: datetime) -> list[datetime]:
    digest = rules.coaching.digest
    if not (rules.coaching.enabled and digest.enabled):
        return []
    weekday, at = digest.weekly_on
    return local_occurrences(
        rules.team.timezone, start, end, [at], lambda day: posts_weekly_review(rules, day, weekday)
    )


def _run_digest(job: str, week: bool, at: datetime, rules: RulesConfig, reader) -> list[Action]:
    period = build_period(rules, at.astimezone(_zone(rules)).date(), week=week, now=at)
    data = reader.read_period(period, repeat_window(rules))
    digest = build_digest(rules, period, data)
    what = "Weekly" if week else "Daily"
    return [
        build_job_action(
            job,
            at,
            RULE,
            ActionKind.notify,
            reason=f"{what} review for {rules.team.name}, {describe_period(period.kind, digest)}",
            target="lead",
            channel=rules.team.lead_channel,
            digest=digest,
            csat=count_csat(data),
        )
    ]


def run_daily_digest(at: datetime, rules: RulesConfig, reader) -> list[Action]:
    return _run_digest(DAILY_DIGEST, False, at, rules, reader)


def run_weekly_digest(at: datetime, rules: RulesConfig, reader) -> list[Action]:
    return _run_digest(WEEKLY_DIGEST, True, at, rules, reader)


JOBS = {
    PACE_JOB: Job(PACE_JOB, pace_occurrences, run_pace_check, catch_up=timedelta(minutes=30)),
    CHECK_JOB: Job(
        CHECK_JOB, check_occurrences, run_coaching_check, catch_up=timedelta(minutes=30)
    ),
    DAILY_DIGEST: Job(DAILY_DIGEST, daily_digest_occurrences, run_daily_digest, timedelta(hours=6)),
    WEEKLY_DIGEST: Job(
        WEEKLY_DIGEST, weekly_digest_occurrences, run_weekly_digest, timedelta(hours=12)
    ),
}
