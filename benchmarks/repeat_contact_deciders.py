"""Deciders on PostgreSQL deciding new tickets, a share of them from one requester: how often
the repeat-contact check (390ce19, Decider._check_related) rolls a batch back.

Usage: python benchmarks/repeat_contact_deciders.py TICKETS EVERY DECIDERS BATCH check|nocheck

A fresh schema on the test suite's PostgreSQL (TEST_DATABASE_URL); TICKETS created events,
every EVERY-th from requester 81 (an integration opening tickets as one customer), the others
each from a customer of their own; DECIDERS threads each with its own engine and Decider
(BATCH events, 4 partitions a batch) until none is left, then one timer sweep (the repeat
contacts found late). `nocheck` turns the check off (`store.shared = False`). Prints the wall
time, the batches rolled back (`decider.conflict`), the batches given up (`RuntimeError`) and
the risk rule's escalations.
"""

from __future__ import annotations

import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.events import build_event_row, insert_events
from deskbridge.workflows.decider import Decider
from deskbridge.workflows.model import evolve
from tests.conftest import postgres_schema
from tests.workflows.test_repeat_contact_order import created

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)


class _Conflicts(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "conflict" in record.getMessage():
            self.count += 1


def main() -> None:
    tickets, every, deciders, batch = (int(a) for a in sys.argv[1:5])
    check = sys.argv[5] == "check"
    rules = load_rules(EXAMPLE_CONFIG)
    conflicts = _Conflicts()
    decider_log = logging.getLogger("deskbridge.decider")
    decider_log.addHandler(conflicts)
    decider_log.setLevel(logging.INFO)
    with postgres_schema() as url:
        engine = create_store_engine(url)
        migrate_store(engine)
        rows = []
        for i in range(tickets):
            at = T0 + timedelta(seconds=i)
            event = created(str(1000 + i), at)
            if i % every:
                event = evolve(event, {"ticket": evolve(event.ticket, {"requester": f"c{i}"})})
            rows.append(build_event_row(event, "{}", at))
        with engine.begin() as connection:
            insert_events(connection, rows)
        given_up, decided = [], []

        def run() -> None:
            own = create_store_engine(url)
            decider = Decider(own, rules, lambda: NOW, batch=batch, shards_per_batch=4)
            decider.store.shared = check
            idle = 0
            while idle < 3:
                try:
                    got = decider.decide_pending()
                except RuntimeError as exc:
                    given_up.append(exc)
                    continue
                decided.append(len(got))
                idle = 0 if got else idle + 1
                if not got:
                    time.sleep(0.05)
            own.dispose()

        start = time.monotonic()
        with ThreadPoolExecutor(deciders) as pool:  # an error in one is raised here
            list(pool.map(lambda _: run(), range(deciders)))
        wall = time.monotonic() - start
        Decider(engine, rules, lambda: NOW).fire_due_timers(NOW)
        with engine.connect() as connection:
            escalations = connection.execute(
                text(
                    "SELECT count(*) FROM outbox "
                    "WHERE payload->>'rule' = 'risk' AND action = 'escalate'"
                )
            ).scalar()
        engine.dispose()
    print(
        f"check={check} events={sum(decided)} wall={wall:.1f}s conflicts={conflicts.count} "
        f"given_up={len(given_up)} escalations={escalations}"
    )


if __name__ == "__main__":
    main()
