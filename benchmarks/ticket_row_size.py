"""How big does one ticket's stored row get over a long life? (issue 12: ticket rows stay small)

Not a test: `.venv/bin/python benchmarks/ticket_row_size.py [--rounds 250]`. One urgent Zendesk
ticket on a fresh SQLite store with the example config goes through `--rounds` rounds of a
customer message and an agent reply 3 h 10 min later (so every next reply clock warns and
breaches, and after hours on call is paged), each event decided by WorkflowService as `serve`
does, every timer fired at its own due time in between. Prints the stored state's JSON size
after some rounds, and the biggest parts of it at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.schema import tickets
from deskbridge.store.timers import next_due_at
from deskbridge.workflows.model import (
    Comment,
    EventKind,
    Priority,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
)
from deskbridge.workflows.service import WorkflowService

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
AGENT = "9013300112004"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=250)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="deskbridge-row-") as tmp:
        engine = create_store_engine(f"sqlite:///{tmp}/deskbridge.db")
        migrate_store(engine)
        service = WorkflowService(engine, load_rules(EXAMPLE_CONFIG))
        snapshot = TicketSnapshot(
            subject="Wrong item delivered",
            description="I ordered the oak dining table and you sent a pine one.",
            status=Status.open,
            priority=Priority.urgent,
            group="360010000000",
            assignee=AGENT,
            requester="cust-1",
            created_at=T0,
        )

        def accept(name: str, at: datetime, comment: Comment | None = None) -> None:
            while (due := _next_due(engine)) is not None and due <= at:
                service.fire_due_timers(due)
            event = TicketEvent(
                source=Source.zendesk,
                ticket_id="1",
                dedupe_key=f"zendesk:event:{name}",
                kind=EventKind.comment_added if comment else EventKind.created,
                occurred_at=at,
                ticket=snapshot,
                comment=comment,
            )
            service.accept_event(event, "{}", at)

        def stored() -> dict:
            with engine.connect() as connection:
                return connection.execute(select(tickets.c.state)).scalar_one()

        at = T0
        accept("created", at)
        for n in range(1, args.rounds + 1):
            at += timedelta(minutes=50)
            message = Comment(
                id=f"m{n:04d}", public=True, author_id="cust-1", author_is_agent=False, body="?"
            )
            accept(f"m{n}", at, message)
            at += timedelta(hours=3, minutes=10)
            reply = Comment(
                id=f"r{n:04d}", public=True, author_id=AGENT, author_is_agent=True, body="On it"
            )
            accept(f"r{n}", at, reply)
            if n in (10, 60, 120, args.rounds) or n % 100 == 0:
                print(f"after {n:4d} rounds: stored state {len(json.dumps(stored())):6,d} bytes")
        state = stored()
        parts = sorted(((len(json.dumps(v)), k) for k, v in state.items()), reverse=True)
        print("biggest parts: " + ", ".join(f"{k} {size:,d}" for size, k in parts[:5]))
        print(f"fired keys: {len(state['fired'])}")
        engine.dispose()
    return 0


def _next_due(engine) -> datetime | None:
    with engine.connect() as connection:
        return next_due_at(connection)


if __name__ == "__main__":
    sys.exit(main())
