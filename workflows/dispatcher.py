"""The one executor: claims due outbox rows and performs them (DESIGN §3 step 4).

A failure is retried with exponential back-off (or the provider's Retry-After, whichever is
later); after `max_attempts` the row is dead-lettered and reported, never dropped silently.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from deskbridge.config.logging import log_event
from deskbridge.store.outbox import (
    OutboxRow,
    claim_due_actions,
    complete_action,
    dead_letter_action,
    retry_action,
)
from deskbridge.workflows.actions import ActionKind
from deskbridge.workflows.metrics import Metrics
from deskbridge.workflows.ports import Paced, Performer, PermanentError, RetryableError

log = logging.getLogger("deskbridge.dispatcher")

BASE_DELAY = 2.0
MAX_DELAY = 3600.0


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

    def dispatch_due(self) -> int:
        """Perform every action due now, one claim of `batch` rows at a time; returns how many
        were attempted."""
        total = 0
        while True:
            with self.writer, self.engine.begin() as connection:
                rows = claim_due_actions(connection, self.clock(), self.batch, self.lease)
            for row in rows:
                self._perform(row)
                self.step_aside()
            total += len(rows)
            if len(rows) < self.batch:
                return total

    def _perform(self, row: OutboxRow) -> None:
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
            self._reschedule(row, exc.retry_after or BASE_DELAY, str(exc), refund_attempt=True)
            self.metrics.paced.labels(action.kind.value).inc()
            log_event(
                log, logging.DEBUG, "outbox.paced", delay_s=round(exc.retry_after or 0, 1), **fields
            )
            return
        except RetryableError as exc:
            if row.attempts >= self.max_attempts and not exc.throttled:
                self._dead_letter(row, str(exc), fields)
                return
            if exc.throttled:  # wait exactly as Slack or the helpdesk asked; not a failure
                delay = exc.retry_after if exc.retry_after is not None else BASE_DELAY
            else:
                delay = compute_retry_delay(row.attempts, exc.retry_after, random.random())
            self._reschedule(row, delay, str(exc), refund_attempt=exc.throttled)
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
            self._dead_letter(row, str(exc), fields)
            return
        except Exception as exc:  # an unexpected bug must not kill the loop or lose the row
            if row.attempts >= self.max_attempts:
                self._dead_letter(row, f"{type(exc).__name__}: {exc}", fields)
                return
            delay = compute_retry_delay(row.attempts, None, random.random())
            self._reschedule(row, delay, f"{type(exc).__name__}: {exc}")
            log.exception("outbox.error")
            return
        with self.writer, self.engine.begin() as connection:
            complete_action(connection, row.id, self.clock(), result)
        outcome = "dry_run" if result.get("dry_run") else "done"
        self.metrics.actions.labels(action.kind.value, outcome).inc()
        log_event(
            log,
            logging.INFO,
            f"outbox.{outcome}",
            **fields,
            **{k: v for k, v in result.items() if k != "dry_run"},
        )

    def _reschedule(
        self, row: OutboxRow, delay: float, error: str, refund_attempt: bool = False
    ) -> None:
        with self.writer, self.engine.begin() as connection:
            retry_action(
                connection,
                row.id,
                self.clock() + timedelta(seconds=delay),
                error,
                refund_attempt=refund_attempt,
            )

    def _dead_letter(self, row: OutboxRow, error: str, fields: dict) -> None:
        with self.writer, self.engine.begin() as connection:
            dead_letter_action(connection, row.id, self.clock(), error)
        self.metrics.actions.labels(row.action.kind.value, "dead").inc()
        log_event(log, logging.ERROR, "outbox.dead_letter", error=error, **fields)

    def run(self, stop: threading.Event, interval: float) -> None:
        """Loop until `stop` is set. A store outage is logged and waited out."""
        log_event(log, logging.INFO, "dispatcher.started", interval_s=interval)
        while not stop.is_set():
            try:
                self.dispatch_due()
            except SQLAlchemyError as exc:
                log_event(
                    log, logging.ERROR, "dispatcher.store_unavailable", error=type(exc).__name__
                )
            stop.wait(interval)
