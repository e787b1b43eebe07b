"""Prometheus metrics, one registry per app so several apps (tests) never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


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
            "Time to verify, store and decide one webhook request",
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
