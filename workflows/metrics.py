"""Prometheus metrics, one registry per app so several apps (tests) never collide.

Under gunicorn (`deskbridge web`: several worker processes, and /metrics answered by whichever
one the request reaches) prometheus_client's multiprocess mode is on: `deskbridge web` sets
PROMETHEUS_MULTIPROC_DIR before any worker imports prometheus_client, each worker writes its
series to files there, and /metrics sums every worker's (`scrape_registry`). In one process
(`serve`, tests) nothing changes: the registry is read as it is.
"""

from __future__ import annotations

import functools
import math
import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.multiprocess import MultiProcessCollector

# The figures read from the store at each scrape: the answering worker reads them just before
# it answers, so the most recent value any worker set is the true one. Summed ("all" would
# give one series per worker, labelled by pid) they were multiplied by the number of workers
# that had ever been scraped. "live": a dead worker's stale file is dropped (child_exit in
# config/gunicorn.py). Ignored in one process.
STORE_FIGURE = "livemostrecent"


def multiprocess_dir() -> str | None:
    """The folder this process's series are written to, or None when they are kept in memory
    (prometheus_client chose as it was first imported, by PROMETHEUS_MULTIPROC_DIR)."""
    # A private attribute: prometheus_client (0.26) has no public way to ask which it chose,
    # and the variable alone may have been set after the import (a test process running
    # `deskbridge web`'s set-up). getattr: a version without it reads as in memory.
    if getattr(values.ValueClass, "_multiprocess", False):
        return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
    return None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter(
            "deskbridge_webhooks",
            "Inbound webhook requests by source and outcome",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.webhook_seconds = Histogram(
            "deskbridge_webhook_seconds",
            "Time to verify and store one webhook request (deciding comes after)",
            ["source"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "deskbridge_decisions",
            "Actions decided by the workflows",
            ["action", "rule"],
            registry=self.registry,
        )
        self.actions = Counter(
            "deskbridge_actions",
            "Outbox actions performed by outcome (done, retry, dead, dry_run)",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.paced = Counter(
            "deskbridge_actions_paced",
            "Outbox actions held back by per-channel pacing (normal, not a retry)",
            ["action"],
            registry=self.registry,
        )
        self.events_decided = Counter(
            "deskbridge_events_decided",
            "Inbound events decided by the decider",
            registry=self.registry,
        )
        self.events_failed = Counter(
            "deskbridge_events_failed",
            "Inbound events the rules raised on (marked failed; see deskbridge events --failed)",
            registry=self.registry,
        )
        # Read from the store when /metrics or /readyz is asked (app.py): the figures an
        # operator alerts on.
        self.decide_lag = Gauge(
            "deskbridge_decide_lag_seconds",
            "Age of the oldest undecided event (0 when none waits)",
            registry=self.registry,
            multiprocess_mode=STORE_FIGURE,
        )
        self.outbox_pending = Gauge(
            "deskbridge_outbox_pending",
            "Actions not yet performed (dead letters excluded)",
            registry=self.registry,
            multiprocess_mode=STORE_FIGURE,
        )
        self.outbox_oldest = Gauge(
            "deskbridge_outbox_oldest_seconds",
            "Age of the oldest action not yet performed (0 when none waits)",
            registry=self.registry,
            multiprocess_mode=STORE_FIGURE,
        )
        self.outbox_dead = Gauge(
            "deskbridge_outbox_dead",
            "Actions dead-lettered and not retried (deskbridge outbox --dead lists them)",
            registry=self.registry,
            multiprocess_mode=STORE_FIGURE,
        )
        self.events_failed_stored = Gauge(
            "deskbridge_events_failed_stored",
            "Events the rules raised on, marked failed and not yet put back (deskbridge events "
            "--failed lists them)",
            registry=self.registry,
            multiprocess_mode=STORE_FIGURE,
        )
        self.timers_failed_stored = Gauge(
            "deskbridge_timers_failed_stored",
            "Timers whose rule raised, marked failed and not yet put back (deskbridge timers "
            "--failed lists them)",
            registry=self.registry,
            multiprocess_mode=STORE_FIGURE,
        )
        self.store_up = Gauge(
            "deskbridge_store_up",
            "1 when the store answered the last read of the figures above, 0 when "
            "it did not (they are then NaN: unknown)",
            registry=self.registry,
            multiprocess_mode=STORE_FIGURE,
        )
        # Each series' child looked up once: prometheus_client's labels() costs about 0.6 µs
        # a call (validation, a lock, a dict), paid per request, per decided action and per
        # performed action; the child it returns for the same values never changes (no
        # series is ever removed here).
        for metric in (
            self.webhooks,
            self.webhook_seconds,
            self.decisions,
            self.actions,
            self.paced,
        ):
            metric.labels = functools.cache(metric.labels)
        # What /metrics serves: every process's series where they are written to files
        # (several gunicorn workers), else this registry.
        self.scrape_registry = self.registry
        if (folder := multiprocess_dir()) is not None:
            self.scrape_registry = CollectorRegistry()
            MultiProcessCollector(self.scrape_registry, path=folder)

    def store_figures_unknown(self) -> None:
        """The store did not answer: its figures are unknown, not the last ones read (a web
        process kept showing those, or 0 if it had never read any, through a whole outage)."""
        for gauge in (
            self.decide_lag,
            self.outbox_pending,
            self.outbox_oldest,
            self.outbox_dead,
            self.events_failed_stored,
            self.timers_failed_stored,
        ):
            gauge.set(math.nan)
        self.store_up.set(0)
