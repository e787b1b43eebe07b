"""Retention cutoffs from the rules (pure): rows older than these may be purged."""

from __future__ import annotations

from datetime import datetime

from deskbridge.config.rules import RulesConfig


def build_cutoffs(rules: RulesConfig, now: datetime) -> dict[str, datetime]:
    keep = rules.retention
    return {
        "events": now - keep.events,
        "outbox_done": now - keep.outbox_done,
        "audit": now - keep.audit,
        # The digest's inputs go together: its facts and the replies counted beside them.
        "activity": now - keep.activity,
        "replies": now - keep.activity,
    }
