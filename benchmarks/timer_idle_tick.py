"""What does one idle tick of the timer loop cost with 1,000,000 pending timers in the store?
(issue 4: under 5 ms on SQLite and PostgreSQL; it reads only what is due.)

Not a test: run it with `.venv/bin/python benchmarks/timer_idle_tick.py` (a minute or two;
SQLite, and PostgreSQL when it answers at --pg-url). See benchmarks/README.md for the figures.

What happens, per backend:
1. A fresh store (temp SQLite file, or a PostgreSQL schema of its own) is migrated.
2. The idle tick is timed on the empty store first (the baseline), then 1,000,000 pending timers
   are bulk-loaded (SQLite: executemany in one transaction; PostgreSQL: COPY), all due in the
   next 30 days, none now: SLA warnings/breaches and routing hand-offs over 200,000 tickets,
   with the same payload shapes the rules write. PostgreSQL then gets the ANALYZE autovacuum
   would run; SQLite gets none (deskbridge never runs ANALYZE).
3. The tick is what Runtime.sweep_timers runs: WorkflowService(engine, rules)
   .fire_due_timers(now) with the real clock, here with nothing due. It is timed --ticks
   times after a warm-up, and every SQL statement one tick sends is recorded.
4. The due query the tick sent is EXPLAINed (SQLite: EXPLAIN QUERY PLAN; PostgreSQL:
   EXPLAIN (ANALYZE, BUFFERS)) to show it is a range scan of ix_timers_due that touches
   only the due end of the index.
The target holds when the p99 tick is under 5 ms on the loaded store.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, func, select, text  # noqa: E402

from deskbridge.config.rules import load_rules  # noqa: E402
from deskbridge.config.settings import EXAMPLE_CONFIG  # noqa: E402
from deskbridge.store.db import (  # noqa: E402
    create_store_engine,
    migrate_store,
    postgres_available,
)
from deskbridge.store.schema import timers  # noqa: E402
from deskbridge.workflows.service import WorkflowService  # noqa: E402

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_MS = 5.0
STAGES = ("warn1", "warn2", "breach")
METRICS = ("first_reply", "next_reply", "resolution")
DEPARTMENTS = ("logistics", "quality", "post_sales")


@dataclass
class Timing:
    median: float
    p95: float
    p99: float
    max: float
    mean: float
    n: int

    def line(self) -> str:
        return (
            f"median {self.median:.3f}  p95 {self.p95:.3f}  p99 {self.p99:.3f}  "
            f"max {self.max:.3f}  mean {self.mean:.3f}  (ms, n={self.n})"
        )


@dataclass
class Result:
    backend: str
    pending: int
    load_s: float
    empty: Timing
    loaded: Timing
    statements: list[str]
    plan: list[str]


# -- data ----------------------------------------------------------------------------------------


def timer_rows(count: int, now: datetime, seed: int):
    """(id, ticket, kind, due_at, generation, payload, status) for `count` pending timers due
    between 1 minute and 30 days from `now`, ~5 per ticket."""
    rng = random.Random(seed)
    span = 30 * 24 * 3600 - 60
    for n in range(count):
        ticket = f"zendesk:{9_000_000 + n // 5}"
        due = now + timedelta(seconds=60 + rng.random() * span)
        if n % 5 == 4:
            department = DEPARTMENTS[n % 3]
            yield (
                f"{ticket}:routing.handoff",
                ticket,
                "routing.handoff",
                due,
                0,
                {"department": department},
                "pending",
            )
            continue
        metric, stage = METRICS[(n // 3) % 3], STAGES[n % 3]
        fraction = {"warn1": 0.75, "warn2": 0.9, "breach": 1.0}[stage]
        yield (
            f"{ticket}:sla:{metric}:{stage}:{n}",
            ticket,
            "sla",
            due,
            0,
            {"metric": metric, "instance": now.isoformat(), "stage": stage, "fraction": fraction},
            "pending",
        )


def load_sqlite(engine, count: int, now: datetime, seed: int) -> None:
    dialect = engine.dialect
    # The column type's own conversion (aware UTC → the text SQLAlchemy stores in SQLite).
    due_bind = timers.c.due_at.type.dialect_impl(dialect).bind_processor(dialect)
    batch: list[tuple] = []
    with engine.begin() as connection:
        cursor = connection.connection.driver_connection.cursor()
        sql = (
            "INSERT INTO timers (id, ticket, kind, due_at, generation, payload, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        for tid, ticket, kind, due, generation, payload, status in timer_rows(count, now, seed):
            batch.append(
                (
                    tid,
                    ticket,
                    kind,
                    due_bind(due),
                    generation,
                    json.dumps(payload),
                    status,
                )
            )
            if len(batch) == 50_000:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
        cursor.close()


def load_postgres(engine, count: int, now: datetime, seed: int) -> None:
    with engine.begin() as connection:
        cursor = connection.connection.driver_connection.cursor()
        columns = "id, ticket, kind, due_at, generation, payload, status"
        with cursor.copy(f"COPY timers ({columns}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for n, row in enumerate(timer_rows(count, now, seed), 1):
                tid, ticket, kind, due, generation, payload, status = row
                buffer.write(
                    f"{tid}\t{ticket}\t{kind}\t{due.isoformat()}\t{generation}\t"
                    f"{json.dumps(payload)}\t{status}\n"
                )
                if n % 50_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE timers"))


# -- measuring -----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def time_ticks(service: WorkflowService, ticks: int, warmup: int) -> Timing:
    for _ in range(warmup):
        if service.fire_due_timers(datetime.now(UTC)):
            raise SystemExit("a timer fired: the store was not idle")
    samples = []
    for _ in range(ticks):
        now = datetime.now(UTC)
        started = time.perf_counter()
        fired = service.fire_due_timers(now)
        samples.append((time.perf_counter() - started) * 1000)
        if fired:
            raise SystemExit("a timer fired: the store was not idle")
    return Timing(
        median=statistics.median(samples),
        p95=pct(samples, 95),
        p99=pct(samples, 99),
        max=max(samples),
        mean=statistics.fmean(samples),
        n=len(samples),
    )


def record_tick(engine, service: WorkflowService) -> list[tuple[str, object]]:
    """Every statement (with its parameters) one idle tick sends."""
    sent: list[tuple[str, object]] = []

    def remember(_conn, _cursor, statement, parameters, _context, _many):
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        service.fire_due_timers(datetime.now(UTC))
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    return sent


def explain(engine, statement: str, parameters) -> list[str]:
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        cursor.execute(prefix + statement, parameters)
        rows = cursor.fetchall()
        cursor.close()
        connection.rollback()
    if postgres:
        return [row[0] for row in rows]
    return [str(row[-1]) for row in rows]  # (id, parent, notused, detail)


def run_backend(backend: str, url: str, args) -> Result:
    print(f"\n[{backend}]", flush=True)
    engine = create_store_engine(url)
    try:
        migrate_store(engine)
        service = WorkflowService(engine, load_rules(EXAMPLE_CONFIG))
        empty = time_ticks(service, args.ticks, args.warmup)
        print(f"  empty store : {empty.line()}", flush=True)
        started = time.perf_counter()
        now = datetime.now(UTC)
        (load_postgres if backend == "postgresql" else load_sqlite)(
            engine, args.timers, now, args.seed
        )
        load_s = time.perf_counter() - started
        with engine.connect() as connection:
            pending = connection.execute(
                select(func.count()).select_from(timers).where(timers.c.status == "pending")
            ).scalar_one()
        print(f"  loaded {pending:,} pending timers in {load_s:.1f} s", flush=True)
        loaded = time_ticks(service, args.ticks, args.warmup)
        print(f"  loaded store: {loaded.line()}", flush=True)
        sent = record_tick(engine, service)
        due_query = next((s, p) for s, p in sent if "FROM timers" in s)
        plan = explain(engine, *due_query)
    finally:
        engine.dispose()
    return Result(
        backend=backend,
        pending=pending,
        load_s=load_s,
        empty=empty,
        loaded=loaded,
        statements=[" ".join(s.split()) + f"  -- {p!r}" for s, p in sent],
        plan=plan,
    )


def report(result: Result) -> bool:
    ok = result.loaded.p99 < TARGET_MS
    print(
        f"\n[{result.backend}] {result.pending:,} pending timers (loaded in {result.load_s:.0f} s)"
    )
    print(f"  idle tick, empty store       : {result.empty.line()}")
    print(f"  idle tick, 1M pending timers : {result.loaded.line()}")
    print(f"  statements per idle tick ({len(result.statements)}):")
    for statement in result.statements:
        print(f"    {statement}")
    print("  plan of the due query:")
    for line in result.plan:
        print(f"    {line}")
    print(f"  target p99 < {TARGET_MS:g} ms: {'MET' if ok else 'MISSED'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=2000, help="timed ticks per store")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql", "both"],
        default="both",
        help="both: PostgreSQL only when it answers at --pg-url",
    )
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()

    print(
        f"timer idle tick: WorkflowService.fire_due_timers(now) with nothing due, "
        f"{args.timers:,} pending timers; {os.cpu_count()} CPUs"
    )
    results = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="deskbridge-idle-") as tmp:
            results.append(run_backend("sqlite", f"sqlite:///{Path(tmp) / 'timers.db'}", args))
    if args.backend in ("postgresql", "both"):
        if not postgres_available(args.pg_url):
            if args.backend == "postgresql":
                raise SystemExit(f"PostgreSQL is not reachable at {args.pg_url}")
            print(f"\n[postgresql] skipped: not reachable at {args.pg_url}")
        else:
            schema = f"bench_idle_{uuid.uuid4().hex[:10]}"
            admin = create_engine(args.pg_url)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in args.pg_url else "?"
            try:
                url = f"{args.pg_url}{sep}options=-csearch_path%3D{schema}"
                results.append(run_backend("postgresql", url, args))
            finally:
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    print("\n== summary ==")
    verdicts = [report(r) for r in results]
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
