"""Prometheus metrics, one registry per app so several apps (tests) never collide."""

from __future__ import annotations

import functools
import math

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
        )
        self.outbox_pending = Gauge(
            "deskbridge_outbox_pending",
            "Actions not yet performed (dead letters excluded)",
            registry=self.registry,
        )
        self.outbox_oldest = Gauge(
            "deskbridge_outbox_oldest_seconds",
            "Age of the oldest action not yet performed (0 when none waits)",
            registry=self.registry,
        )
        self.outbox_dead = Gauge(
            "deskbridge_outbox_dead",
            "Actions dead-lettered and not retried (deskbridge outbox --dead lists them)",
            registry=self.registry,
        )
        self.events_failed_stored = Gauge(
            "deskbridge_events_failed_stored",
            "Events the rules raised on, marked failed and not yet put back (deskbridge events "
            "--failed lists them)",
            registry=self.registry,
        )
        self.timers_failed_stored = Gauge(
            "deskbridge_timers_failed_stored",
            "Timers whose rule raised, marked failed and not yet put back (deskbridge timers "
            "--failed lists them)",
            registry=self.registry,
        )
        self.store_up = Gauge(
            "deskbridge_store_up",
            "1 when the store answered this process's last read of the figures above, 0 when "
            "it did not (they are then NaN: unknown)",
            registry=self.registry,
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
