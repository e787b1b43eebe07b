"""Scheduled jobs (DESIGN §3 step 7), pure: occurrences on the team's clock, and what each
occurrence decides.

A job is a name, a function giving its occurrences in a time window from the rules (the team's
timezone, its business calendar), and a function that, given one occurrence's time, the rules
and a reader of the data it needs (a port the shell implements over the store), returns
actions. Every action of an occurrence has a key naming the job and the occurrence
(`build_job_action`), so running an occurrence again changes nothing.

The shell (`workflows/job_runner.py`) claims each occurrence once in the store, in the same
transaction that queues its actions, so exactly one instance runs it; `replay` runs the same
jobs at their occurrence times on its simulated clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from deskbridge.config.rules import RulesConfig
from deskbridge.workflows.actions import Action, ActionKind, build_action

if TYPE_CHECKING:
    from deskbridge.workflows.digest import Period, PeriodData


class JobReader(Protocol):
    """What scheduled jobs may read. The store implements it (store/session.py);
    a job that needs more data adds a method here and there."""

    def read_period(self, period: Period, repeat_window: timedelta) -> PeriodData:
        """What the store holds for one review period (workflows/digest.py)."""
        ...

    def read_period_replies(self, period: Period) -> PeriodData:
        """Only the period's responses per author and same-author repeats (the rest empty)."""
        ...


Occurrences = Callable[[RulesConfig, datetime, datetime], Iterable[datetime]]
JobRun = Callable[[datetime, RulesConfig, Any], list[Action]]


@dataclass(frozen=True)
class Job:
    """`occurrences(rules, start, end)` yields the aware UTC instants in (start, end];
    `run(at, rules, reader)` returns the occurrence's actions. An occurrence missed (the
    service was down) is still run when the service comes back within `catch_up` of it;
    older ones are skipped, since a pace nudge hours late helps nobody."""

    name: str
    occurrences: Occurrences
    run: JobRun
    catch_up: timedelta = timedelta(hours=1)


def subject(job: str) -> str:
    """The `ticket` field of a job's actions: they are about the job, not one ticket."""
    return f"job:{job}"


def format_instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_job_action(
    job: str,
    at: datetime,
    rule: str,
    kind: ActionKind,
    /,
    *discriminator: str,
    reason: str,
    **params: Any,
) -> Action:
    """An action of one occurrence of `job`, keyed
    `job:{job}:{rule}:{occurrence}:{discriminator…}`."""
    return build_action(
        subject(job), rule, kind, format_instant(at), *discriminator, reason=reason, **params
    )


def local_occurrences(
    timezone: str,
    start: datetime,
    end: datetime,
    times: Iterable[time],
    on_day: Callable[[date], bool] = lambda _day: True,
) -> list[datetime]:
    """The instants in (start, end] when the local clock of `timezone` shows one of `times` on a
    day for which `on_day` holds, soonest first. A local time skipped by a DST change happens
    at the same wall-clock offset as before the change (zoneinfo's fold=0), i.e. just after."""
    zone = ZoneInfo(timezone)
    first = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    out = []
    day = first
    while day <= last:
        if on_day(day):
            for moment in times:
                at = datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)
                if start < at <= end:
                    out.append(at)
        day += timedelta(days=1)
    return sorted(set(out))


def list_occurrences(
    jobs: Mapping[str, Job], rules: RulesConfig, start: datetime, end: datetime
) -> list[tuple[datetime, Job]]:
    """Every job's occurrences in (start, end], in time order (then by job name)."""
    found = [(at, job) for job in jobs.values() for at in job.occurrences(rules, start, end)]
    return sorted(found, key=lambda item: (item[0], item[1].name))
