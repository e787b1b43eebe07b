"""Replay decides in batches on the serve decider; what it decides equals deciding each event
the moment it arrives, with every timer fired at its own due time in between (what `serve`
does live), on a generated working week."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from benchmarks.make_week import generate
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.connectors.zendesk.parse import parse_zendesk
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.workflows.replay import run_replay
from deskbridge.workflows.service import WorkflowService
from tests.conftest import fire_timers_until

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
UNTIL = datetime(2026, 3, 9, tzinfo=UTC)


def week() -> list[dict]:
    return generate(agents=6, tickets_per_day=16, days=5, start=START, seed=3)


def one_by_one(lines: list[dict], rules, until: datetime) -> list[tuple]:
    """The reference: each event stored and decided alone; before it, every timer due by its
    time fired at its own due time, one instant at a time."""
    engine = create_store_engine("sqlite://")
    migrate_store(engine)
    service = WorkflowService(engine, rules)
    decided = []

    def fire_until(limit: datetime) -> None:
        for due, outcome in fire_timers_until(service, limit):
            decided.extend((due, a.ticket, a.kind.value, a.key) for a in outcome.actions)

    for line in lines:
        at = datetime.fromisoformat(line["at"].replace("Z", "+00:00"))
        raw = json.dumps(line["body"], ensure_ascii=False).encode()
        fire_until(at)
        for event in parse_zendesk(raw, at):
            outcome = service.accept_event(event, raw.decode(), at)
            decided.extend((at, a.ticket, a.kind.value, a.key) for a in outcome.actions)
    fire_until(until)
    engine.dispose()
    return decided


def batched(lines: list[dict], rules, until: datetime, batch: int = 500) -> list[tuple]:
    records = run_replay(
        [json.dumps(line) for line in lines], rules, CONNECTORS, until=until, batch=batch
    )
    # Scheduled jobs' posts (the on-call hand-off) are not about tickets; the reference
    # decides tickets only.
    return [
        (datetime.fromisoformat(r["at"].replace("Z", "+00:00")), r["ticket"], r["action"], r["key"])
        for r in records
        if not r["ticket"].startswith("job:")
    ]


def test_a_generated_week_decides_the_same_in_batches_as_one_by_one(rules):
    lines = week()
    assert len(lines) > 400
    reference = one_by_one(lines, rules, UNTIL)
    kinds = {kind for _, _, kind, _ in reference}
    # The week exercises every rule family and the timers.
    assert {"route", "call_customer", "escalate", "sla_warning", "sla_breach"} <= kinds
    assert batched(lines, rules, UNTIL) == reference
    # Batches of 1: more stored timers fall due than one claim takes, so events wait for the
    # rest of them (the cut at the last claimed timer's due time).
    assert batched(lines, rules, UNTIL, batch=1) == reference
