"""The one executor: claims due outbox rows and performs them (DESIGN §3 step 4).

A failure is retried with exponential back-off (or the provider's Retry-After, whichever is
later); after `max_attempts` the row is dead-lettered and reported, never dropped silently.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from deskbridge.config.logging import OutageLog, describe_exception, log_event
from deskbridge.store.db import describe_store_error
from deskbridge.store.outbox import (
    DONE,
    DRY_RUN,
    OutboxRow,
    claim_due_actions,
    complete_actions,
    dead_letter_actions,
    release_actions,
    retry_actions,
)
from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.metrics import Metrics
from deskbridge.workflows.ports import Paced, Performer, PermanentError, RetryableError

log = logging.getLogger("deskbridge.dispatcher")

BASE_DELAY = 2.0
MAX_DELAY = 3600.0
# Outcomes of actions performed within this many seconds are written in one transaction. A
# process killed in between performs those again after the lease, as further attempts: a
# Slack message or a helpdesk note is then looked for first and not sent again
# (SlackNotifier._post_once, connectors.writers.HelpdeskRouter), other helpdesk writes set
# the same value again; kept short so that window stays about one real call.
RECORD_EVERY = 0.05
# The dispatcher works this long between two steps aside for acknowledgements (and due
# timers). Stepping aside after every action cost up to 5 ms each under constant webhook load,
# which capped it near 200 actions/s (profiled at 200 events/s: 30 of 60 s in step_aside).
STEP_EVERY = 0.01
# How soon the loop looks again after a pass that found work: under steady load actions are
# queued every few milliseconds, and waiting the full idle interval added up to 0.5 s to each.
BUSY_INTERVAL = 0.05
# A throttled attempt (a 429, Retry-After) is given back: the provider asked us to wait, nothing
# failed. Without Retry-After it waits this long, as the Slack client does.
THROTTLED_WAIT = 30.0
# How long after its first attempt a row may keep being throttled without using up attempts:
# a rate limit of some minutes (another integration using up a Zendesk account's budget) never
# dead-letters a write; one that never ends does, after max_attempts more, and is alerted on.
THROTTLE_PATIENCE = timedelta(hours=1)


@dataclass
class _Outcomes:
    """What a run of performed rows came to, written together by Dispatcher._record."""

    done: list[tuple[OutboxRow, datetime, dict[str, Any], dict]] = field(default_factory=list)
    retries: list[tuple[int, datetime, str, bool]] = field(default_factory=list)
    dead_letters: list[tuple[OutboxRow, datetime, str, dict, tuple[str, ...]]] = field(
        default_factory=list
    )

    def retry(self, row: OutboxRow, at: datetime, error: str, refund: bool = False) -> None:
        self.retries.append((row.id, at, error, refund))

    def dead(
        self,
        row: OutboxRow,
        at: datetime,
        error: str,
        logged: dict,
        unreached: tuple[str, ...] = (),
    ) -> None:
        """`error` is kept in the row; `logged`, the line's fields, says it without its
        message (ActionFailure, describe_exception)."""
        self.dead_letters.append((row, at, error, logged, unreached))

    def add(self, other: _Outcomes) -> None:
        self.done += other.done
        self.retries += other.retries
        self.dead_letters += other.dead_letters


def compute_retry_delay(attempts: int, retry_after: float | None, jitter: float) -> float:
    """Seconds before the next attempt: exponential from 2 s, capped at 1 h, never sooner
    than the provider asked. `jitter` in [0, 1) spreads retries of a burst."""
    # The exponent is bounded: 2.0 * 2**1024 does not fit in a float (OverflowError).
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** min(attempts - 1, 30) * (1 + 0.25 * jitter))
    return max(delay, retry_after or 0.0)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        performers: Mapping[ActionKind, Performer],
        metrics: Metrics,
        clock: Callable[[], datetime],
        max_attempts: int = 8,
        batch: int = 50,
        lease: timedelta = timedelta(minutes=2),
        writer: AbstractContextManager | None = None,
        step_aside: Callable[[], None] | None = None,
        concurrency: int = 1,
        throttle_patience: timedelta = THROTTLE_PATIENCE,
    ):
        self.engine = engine
        # SQLite's one writer, shared with the decider and the webhook (a Python lock taken in
        # turn), so the dispatcher is not starved polling SQLite's busy handler under ingest.
        self.writer = writer or nullcontext()
        # Called between actions: lets webhook acknowledgements in this process go first.
        self.step_aside = step_aside or (lambda: None)
        self.performers = performers
        self.metrics = metrics
        self.clock = clock
        self.max_attempts = max_attempts
        self.batch = batch
        # A claimed row not finished within the lease (its process died) becomes due again.
        self.lease = lease
        # How many rows of a claim are performed at once. They are in different lanes (a
        # lane's next row is claimed only once its head is done), so their order does not
        # matter; a Slack or helpdesk call mostly waits on the network.
        self.concurrency = concurrency
        self.throttle_patience = throttle_patience
        self._pool: ThreadPoolExecutor | None = None
        # When the rows this dispatcher held back (paced to their channel's turn, throttled,
        # retried) are due, soonest first: the loop looks again then, not a whole idle
        # interval later (a paced channel's turn is a second away, the interval half of one).
        self._held: list[datetime] = []

    def dispatch_due(self, stop: threading.Event | None = None) -> int:
        """Perform every action due now, one claim of `batch` rows at a time; returns how many
        were attempted. Before a claimed batch is performed, each performer that can is given
        the whole batch (`prepare`: one read of the batch's tickets instead of one per
        action). Outcomes are written in batches too (one transaction for all the rows
        performed within RECORD_EVERY), so a burst of quick actions costs a handful of
        commits, while a slow one (a real Slack call) is still recorded right after it.

        Once `stop` is set nothing more is claimed or started: the actions under way are
        finished and recorded, and the claimed rows not started are given back (due at once,
        their attempt not counted). A stopping process then neither goes on sending the rest
        of a batch of 50 nor exits with performed actions unrecorded (sent again after the
        lease)."""
        stop = stop or threading.Event()
        total = 0
        while not stop.is_set():
            with self.writer, self.engine.begin() as connection:
                rows = claim_due_actions(connection, self.clock(), self.batch, self.lease)
            self._prepare(rows)
            outcomes = _Outcomes()
            unstarted: list[OutboxRow] = []
            flush_at = time.monotonic() + RECORD_EVERY
            aside_at = time.monotonic() + STEP_EVERY
            for performed in self._perform_all(rows, stop, unstarted):
                outcomes.add(performed)
                now = time.monotonic()
                if now >= flush_at:
                    self._record(outcomes)
                    outcomes = _Outcomes()
                    flush_at = time.monotonic() + RECORD_EVERY
                if now >= aside_at:
                    self.step_aside()
                    aside_at = time.monotonic() + STEP_EVERY
            self._record(outcomes)
            if unstarted:
                with self.writer, self.engine.begin() as connection:
                    release_actions(connection, [r.id for r in unstarted], self.clock())
                log_event(log, logging.INFO, "outbox.released", rows=len(unstarted))
            total += len(rows) - len(unstarted)
            if len(rows) < self.batch:
                break
        return total

    def _recorders(self) -> list[Any]:
        """The performers with a `record`: what they keep to write with the outcomes."""
        found: dict[int, Any] = {}
        for performer in self.performers.values():
            if hasattr(performer, "record"):
                found.setdefault(id(performer), performer)
        return list(found.values())

    def _prepare(self, rows: list[OutboxRow]) -> None:
        """Hand each performer that has a `prepare` the actions it is about to perform."""
        batches: dict[int, tuple[Any, list[Action]]] = {}
        for row in rows:
            performer = self.performers.get(row.action.kind)
            if performer is not None and hasattr(performer, "prepare"):
                batches.setdefault(id(performer), (performer, []))[1].append(row.action)
        for performer, actions in batches.values():
            try:
                performer.prepare(actions)
            except Exception as exc:  # each action then reads what it needs itself
                log_event(
                    log,
                    logging.ERROR,
                    "outbox.prepare_failed",
                    exc_info=True,
                    **describe_exception(exc),
                )

    def _perform_all(
        self, rows: list[OutboxRow], stop: threading.Event, unstarted: list[OutboxRow]
    ) -> Iterator[_Outcomes]:
        """Perform the rows (`concurrency` at a time), yielding each one's outcome as it comes.
        Once `stop` is set no row is started: those not started are put in `unstarted`, after
        the ones under way have finished."""
        if self.concurrency <= 1 or len(rows) <= 1:
            waiting = deque(rows)
            while waiting and not stop.is_set():
                yield self._perform_one(waiting.popleft())
            unstarted.extend(waiting)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.concurrency, thread_name_prefix="deskbridge-perform"
            )
        pool = self._pool
        # The whole batch is queued at once, each task checking `stop` as it starts: the pool's
        # threads go from one row to the next by themselves. Handing rows in one at a time as
        # others finished made each row wait for this thread to get the GIL back from the
        # webhook and decider threads (up to the 5 ms switch interval): at 500 events/s the
        # outbox backlog grew by ~20,000 actions a minute (benchmarks/sustained_rate.py).
        futures = {pool.submit(self._perform_unless_stopped, row, stop): row for row in rows}
        for future in as_completed(futures):
            outcome = future.result()
            if outcome is None:
                unstarted.append(futures[future])
            else:
                yield outcome

    def _perform_unless_stopped(self, row: OutboxRow, stop: threading.Event) -> _Outcomes | None:
        """A queued row's task: performed, or None (not started) once the process stops."""
        return None if stop.is_set() else self._perform_one(row)

    def _perform_one(self, row: OutboxRow) -> _Outcomes:
        outcomes = _Outcomes()
        self._perform(row, outcomes)
        return outcomes

    def _perform(self, row: OutboxRow, outcomes: _Outcomes) -> None:
        action = row.action
        performer = self.performers.get(action.kind)
        fields = {
            "ticket": action.ticket,
            "action": action.kind.value,
            "key": action.key,
            "attempt": row.attempts,
        }
        try:
            if performer is None:
                raise PermanentError(f"no performer for action {action.kind.value}")
            result = performer.perform(action)
        except Paced as exc:
            outcomes.retry(row, self._at(exc.retry_after or BASE_DELAY), str(exc), refund=True)
            self.metrics.paced.labels(action.kind.value).inc()
            log_event(
                log, logging.DEBUG, "outbox.paced", delay_s=round(exc.retry_after or 0, 1), **fields
            )
            return
        except RetryableError as exc:
            throttled = exc.throttled and not self._throttled_too_long(row)
            if row.attempts >= self.max_attempts and not throttled:
                outcomes.dead(
                    row, self.clock(), exc.stored, {"error": str(exc), **fields}, exc.unreached
                )
                return
            if throttled:  # wait exactly as Slack or the helpdesk asked; not a failure
                delay = exc.retry_after if exc.retry_after is not None else THROTTLED_WAIT
            else:
                delay = compute_retry_delay(row.attempts, exc.retry_after, random.random())
            outcomes.retry(row, self._at(delay), exc.stored, refund=throttled)
            self.metrics.actions.labels(action.kind.value, "retry").inc()
            log_event(
                log,
                logging.WARNING,
                "outbox.retry",
                error=str(exc),
                delay_s=round(delay, 1),
                **fields,
            )
            return
        except PermanentError as exc:
            outcomes.dead(
                row, self.clock(), exc.stored, {"error": str(exc), **fields}, exc.unreached
            )
            return
        except Exception as exc:  # an unexpected bug must not kill the loop or lose the row
            # The row keeps the message for `outbox --dead`; the log only where it was raised.
            stored, described = f"{type(exc).__name__}: {exc}", describe_exception(exc)
            if row.attempts >= self.max_attempts:
                outcomes.dead(row, self.clock(), stored, {**described, **fields})
                return
            delay = compute_retry_delay(row.attempts, None, random.random())
            outcomes.retry(row, self._at(delay), stored)
            log_event(log, logging.ERROR, "outbox.error", exc_info=True, **described, **fields)
            return
        outcomes.done.append((row, self.clock(), result, fields))

    def _throttled_too_long(self, row: OutboxRow) -> bool:
        """Whether the row's first attempt (or an operator's requeue of it, since) is more than
        `throttle_patience` ago: its throttled attempts count from then on (THROTTLE_PATIENCE)."""
        since = row.throttled_since or row.first_attempt_at
        return since is not None and self.clock() - since > self.throttle_patience

    def _at(self, delay: float) -> datetime:
        return self.clock() + timedelta(seconds=delay)

    def _record(self, outcomes: _Outcomes) -> None:
        """Write the outcomes in one transaction, then count and log them (as done only once
        they are)."""
        if not (outcomes.done or outcomes.retries or outcomes.dead_letters):
            return
        with self.writer, self.engine.begin() as connection:
            for performer in self._recorders():
                performer.record(connection)
            complete_actions(connection, [(r.id, at, res) for r, at, res, _ in outcomes.done])
            retry_actions(connection, outcomes.retries)
            dead_letter_actions(
                connection, [(r.id, at, e, where) for r, at, e, _, where in outcomes.dead_letters]
            )
        for _id, at, _error, _refund in outcomes.retries:
            heapq.heappush(self._held, at)
        for row, _at, result, fields in outcomes.done:
            outcome = DRY_RUN if result.get("dry_run") else DONE
            self.metrics.actions.labels(row.action.kind.value, outcome).inc()
            log_event(
                log,
                logging.INFO,
                f"outbox.{outcome}",
                **fields,
                # A list (channels) joined as slack.dry_run logs it, not as a Python repr.
                **{
                    k: ",".join(map(str, v)) if isinstance(v, list) else v
                    for k, v in result.items()
                    if k != "dry_run"
                },
            )
        for row, _at, _error, logged, _where in outcomes.dead_letters:
            self.metrics.actions.labels(row.action.kind.value, "dead").inc()
            log_event(log, logging.ERROR, "outbox.dead_letter", **logged)

    def run(self, stop: threading.Event, interval: float) -> None:
        """Loop until `stop` is set (returning once the actions under way are recorded). A
        store outage is logged and waited out; so is an unexpected error (a bug), which must
        not end deliveries for good while the process looks healthy."""
        log_event(log, logging.INFO, "dispatcher.started", interval_s=interval)
        outage = OutageLog(log, "dispatcher.store_unavailable", "dispatcher.store_recovered")
        # A bug met again at every pass is logged as an outage is: when it starts (with its
        # traceback), then at most once a minute, and when a pass gets through again.
        failing = OutageLog(log, "dispatcher.error", "dispatcher.recovered")
        while not stop.is_set():
            performed = 0
            try:
                performed = self.dispatch_due(stop)
            except SQLAlchemyError as exc:
                outage.failed(**describe_store_error(exc))
            except Exception as exc:
                failing.failed(**describe_exception(exc), exc_info=True)
            else:
                outage.succeeded()
                failing.succeeded()
            stop.wait(self._until_held_due(min(interval, BUSY_INTERVAL) if performed else interval))

    def _until_held_due(self, wait: float) -> float:
        """`wait` seconds, or fewer: until the soonest row this dispatcher held back is due."""
        now = self.clock()
        while self._held and self._held[0] <= now:
            heapq.heappop(self._held)
        if self._held:
            wait = min(wait, (self._held[0] - now).total_seconds())
        return wait
