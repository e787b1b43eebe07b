"""How late does `deskbridge serve` fire a due timer? (issue 4: p99 under 1 s over 1,000 timers
due in the same minute.)

Not a test: run it with `.venv/bin/python benchmarks/timer_latency.py` (a few minutes; SQLite,
and PostgreSQL when it answers at --pg-url). See benchmarks/README.md for the figures.

What happens, per backend:
1. A fresh store (temp SQLite file, or a PostgreSQL schema of its own) is migrated, and N
   tickets are created the way production creates them: a `ticket.created` Zendesk body per
   ticket goes through the real parser and WorkflowService.accept_event, so the rules schedule
   their SLA (first reply, resolution: two warnings and a breach each) and routing hand-off
   timers (7 per ticket).
2. `deskbridge serve` starts as a subprocess on 127.0.0.1 and an ephemeral port, with
   DATABASE_URL pointing at that store, DESKBRIDGE_LOG_LEVEL=INFO and no helpdesk/Slack
   credentials (dry run: nothing leaves the machine; its dispatcher still works the outbox).
3. Once /healthz answers, one timer per ticket (cycling through the kinds and stages) gets a due
   time spread at random over one minute starting --lead seconds later; the ticket's other
   timers stay pending hours away. Nothing else about the store is touched.
4. When all N have fired (or the deadline passes) serve is stopped with SIGINT.

Lateness of each timer, two ways:
- committed: the timestamp of serve's `timer.fired` log line (written right after the timer's
  transaction committed) minus its due_at. This is what the target is judged on.
- decided: the `now` the sweep decided with (late_s in that line; audit.at / outbox.created_at
  hold the same instant) minus due_at. Smaller by the time the sweep took to reach the timer.
The target holds when the committed p99 is under 1 s and every timer fired.

`--webhook-load N` adds N keep-alive clients that post new signed `ticket.created` webhooks to
the same serve for the whole run, so the sweep competes with webhook writers: as fast as serve
answers (closed loop, serve at its ceiling), or paced to `--webhook-rate R` per second in all.
`--window 0` puts every timer at the same instant (a burst).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import bindparam, create_engine, func, or_, select, text, update  # noqa: E402
from webhook_throughput import stop_process  # noqa: E402

from deskbridge.config.rules import load_rules  # noqa: E402
from deskbridge.config.settings import EXAMPLE_CONFIG  # noqa: E402
from deskbridge.connectors.registry import CONNECTORS  # noqa: E402
from deskbridge.connectors.zendesk.signature import (  # noqa: E402
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    build_signature,
)
from deskbridge.store.db import (  # noqa: E402
    create_store_engine,
    migrate_store,
    postgres_available,
)
from deskbridge.store.schema import audit, timers  # noqa: E402
from deskbridge.workflows.model import Source  # noqa: E402
from deskbridge.workflows.service import WorkflowService  # noqa: E402

BIN = Path(sys.executable).parent
SECRET = "YmVuY2htYXJrX3NlY3JldF9ub3RfZm9yX3Byb2R1Y3Rpb24="
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_MS = 1000
# Variables that would turn dry-run off or point serve elsewhere: never inherited.
SCRUBBED_ENV = (
    "DATABASE_URL",
    "DESKBRIDGE_CONFIG",
    "DESKBRIDGE_TIMER_INTERVAL",
    "DESKBRIDGE_DISPATCH_INTERVAL",
    "ZENDESK_SUBDOMAIN",
    "ZENDESK_EMAIL",
    "ZENDESK_API_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_API_URL",
    "SALESFORCE_INSTANCE_URL",
    "SALESFORCE_USERNAME",
    "SALESFORCE_PASSWORD",
    "SALESFORCE_SECURITY_TOKEN",
)
AGENT = "9013300112004"
SUBJECTS = (
    "Where is my sofa? Delivery is late",
    "Parcel marked as delivered but never arrived",
    "Wrong colour sofa delivered",
    "Still waiting for my order, tracking not updated",
)
PRIORITIES = ("URGENT", "HIGH", "NORMAL", "LOW")
# `2026-11-23 10:15:02,123 INFO deskbridge.decider timer.fired ticket=… timer=… kind=… late_s=…`
# (seconds to the ms; late_ms, in ms, before the thirty-third session)
FIRED = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) INFO \S+ timer\.fired "
    r"ticket=(\S+) (?:timer=\S+ )?kind=(\S+) late_s=(-?[\d.]+)"
)


@dataclass
class Result:
    backend: str
    planned: int
    fired: int
    committed_ms: list[float]
    decided_ms: list[float]
    audit_ms: list[float]
    log_lines: int
    prep_s: float
    run_s: float
    webhooks: int = 0
    webhook_errors: int = 0


# -- the store -----------------------------------------------------------------------------------


def created_body(i: int, at: datetime) -> bytes:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    ticket = str(8_000_000 + i)
    body = {
        "type": "zen:event-type:ticket.created",
        "id": f"bench-timer-{ticket}",
        "time": stamp,
        "subject": f"zen:ticket:{ticket}",
        "detail": {
            "id": ticket,
            "status": "OPEN",
            "priority": PRIORITIES[i % len(PRIORITIES)],
            "assignee_id": AGENT,
            "requester_id": str(500_000 + i),
            "tags": [],
            "subject": SUBJECTS[i % len(SUBJECTS)],
            "description": "Ordered weeks ago and nothing yet. Please help.",
            "created_at": stamp,
            "updated_at": stamp,
            "via": {"channel": "web"},
        },
        "event": {},
    }
    return json.dumps(body).encode()


def prepare_store(url: str, count: int) -> tuple[dict[str, str], float]:
    """Migrate, create `count` tickets through accept_event, and pick one timer per ticket.
    Returns the picked timer ids (→ their ticket) and the seconds it took."""
    started = time.perf_counter()
    engine = create_store_engine(url)
    try:
        migrate_store(engine)
        rules = load_rules(EXAMPLE_CONFIG)
        service = WorkflowService(engine, rules)
        now = datetime.now(UTC)
        for i in range(count):
            raw = created_body(i, now)
            for event in CONNECTORS[Source.zendesk].parse(raw, now, rules):
                service.accept_event(event, raw.decode(), now)
        with engine.connect() as connection:
            rows = connection.execute(
                select(timers.c.id, timers.c.ticket).where(timers.c.status == "pending")
            ).all()
    finally:
        engine.dispose()
    by_ticket: dict[str, list[str]] = {}
    for row in rows:
        by_ticket.setdefault(row.ticket, []).append(row.id)
    if len(by_ticket) != count:
        raise SystemExit(f"expected timers on {count} tickets, found {len(by_ticket)}")
    picked = {}
    for n, ticket in enumerate(sorted(by_ticket)):
        ids = sorted(by_ticket[ticket])
        picked[ids[n % len(ids)]] = ticket  # a mix of hand-offs, warnings and breaches
    per_ticket = statistics.mean(len(v) for v in by_ticket.values())
    print(f"  store: {count} tickets, {len(rows)} pending timers ({per_ticket:.0f} per ticket)")
    return picked, time.perf_counter() - started


def set_due_times(url: str, picked: list[str], start: datetime, window: float, seed: int):
    """Spread the picked timers over [start, start + window); push every other pending timer
    that would fall due before the run ends out of the way (none do with the example config)."""
    rng = random.Random(seed)
    due = {tid: start + timedelta(seconds=rng.uniform(0, window)) for tid in picked}
    horizon = start + timedelta(seconds=window + 600)
    engine = create_store_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                update(timers)
                .where(timers.c.id == bindparam("tid"))
                .values(due_at=bindparam("due")),
                [{"tid": tid, "due": at} for tid, at in due.items()],
            )
            others = connection.execute(
                update(timers)
                .where(
                    timers.c.status == "pending",
                    timers.c.due_at < horizon,
                    timers.c.id.not_in(picked),
                )
                .values(due_at=horizon + timedelta(days=1))
            ).rowcount
    finally:
        engine.dispose()
    if others:
        print(f"  moved {others} other timers out of the measured window")
    return due


def count_fired(engine, picked: list[str], window_end: datetime) -> int:
    """Picked timers no longer waiting in the window: fired, or fired and set again by their
    own rule for a later stage (pending, due after the window; 125 of the 1,000 do that)."""
    with engine.connect() as connection:
        return connection.execute(
            select(func.count())
            .select_from(timers)
            .where(
                timers.c.id.in_(picked),
                or_(timers.c.status != "pending", timers.c.due_at > window_end),
            )
        ).scalar_one()


def audit_times(url: str, picked: list[str]) -> dict[str, datetime]:
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(audit.c.event_key, func.min(audit.c.at).label("at"))
                .where(audit.c.event_key.in_([f"timer:{t}" for t in picked]))
                .group_by(audit.c.event_key)
            ).all()
    finally:
        engine.dispose()
    out = {}
    for row in rows:
        at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(str(row.at))
        out[row.event_key.removeprefix("timer:")] = (
            at.replace(tzinfo=UTC) if at.tzinfo is None else at
        )
    return out


# -- serve -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(url: str, log_path: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(
        DATABASE_URL=url,
        DESKBRIDGE_LOG_LEVEL="INFO",
        ZENDESK_WEBHOOK_SECRET=SECRET,
        TZ="UTC",  # log timestamps in UTC, like due_at
        PYTHONUNBUFFERED="1",
    )
    command = [str(BIN / "deskbridge"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = log_path.open("wb")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"serve exited with {process.returncode}:\n{log_path.read_text()}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r,
        ):
            if r.status == 200:
                return process, port
        time.sleep(0.1)
    stop_process(process, timeout=20)
    raise SystemExit("serve did not answer /healthz within 60 s")


def parse_log(log_path: Path) -> tuple[dict[str, tuple[datetime, int]], int]:
    """ticket → (when its timer.fired line was written, late_s in ms), and how many lines."""
    fired: dict[str, tuple[datetime, int]] = {}
    lines = 0
    for line in log_path.read_text(errors="replace").splitlines():
        match = FIRED.match(line)
        if not match:
            continue
        lines += 1
        stamp, millis, ticket, _kind, late_s = match.groups()
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=UTC, microsecond=int(millis) * 1000
        )
        fired.setdefault(ticket, (at, round(float(late_s) * 1000)))
    return fired, lines


# -- optional webhook load ---------------------------------------------------------------------


class WebhookLoad:
    """`threads` keep-alive clients posting signed, new `ticket.created` events to serve as fast
    as it answers (closed loop), so the sweep competes with webhook writers for the store."""

    def __init__(self, port: int, threads: int, rate: float = 0):
        self.port = port
        self.interval = threads / rate if rate > 0 else 0.0  # per client, paced; 0: closed loop
        self.stop = threading.Event()
        self.sent = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(k,), daemon=True) for k in range(threads)
        ]

    def __enter__(self) -> WebhookLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _client(self, k: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        n = 0
        next_at = time.monotonic() + self.interval * k / max(1, len(self._threads))
        while not self.stop.is_set():
            if self.interval:
                next_at += self.interval
                if self.stop.wait(max(0.0, next_at - time.monotonic())):
                    break
            now = datetime.now(UTC)
            body = created_body(1_000_000 * (k + 1) + n, now)
            stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: build_signature(SECRET.encode(), stamp, body),
            }
            n += 1
            try:
                connection.request("POST", "/webhooks/zendesk", body, headers)
                response = connection.getresponse()
                response.read()
                ok = response.status < 300
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            with self._lock:
                self.sent += 1
                self.errors += not ok
        connection.close()


# -- one run -----------------------------------------------------------------------------------


def run_backend(backend: str, url: str, args, workdir: Path) -> Result:
    print(f"\n[{backend}] preparing {args.timers} tickets …", flush=True)
    ticket_of, prep_s = prepare_store(url, args.timers)
    picked = list(ticket_of)
    log_path = workdir / f"serve-{backend}.log"
    process, port = start_serve(url, log_path)
    started = time.perf_counter()
    try:
        print(f"  serve up on 127.0.0.1:{port} (pid {process.pid}), log {log_path}", flush=True)
        start = datetime.now(UTC) + timedelta(seconds=args.lead)
        due = set_due_times(url, picked, start, args.window, args.seed)
        print(
            f"  {len(picked)} timers due between {start:%H:%M:%S} and "
            f"{start + timedelta(seconds=args.window):%H:%M:%S} UTC; waiting …",
            flush=True,
        )
        # A plain engine: on SQLite it reads without taking the write lock (no BEGIN IMMEDIATE).
        engine = create_engine(url)
        deadline = time.monotonic() + args.lead + args.window + args.grace
        fired = 0
        load = (
            WebhookLoad(port, args.webhook_load, args.webhook_rate) if args.webhook_load else None
        )
        with load or contextlib.nullcontext():
            if load is not None:
                pace = f"{args.webhook_rate:g}/s in all" if args.webhook_rate else "closed loop"
                print(f"  webhook load: {args.webhook_load} clients, {pace}", flush=True)
            try:
                while time.monotonic() < deadline:
                    fired = count_fired(engine, picked, start + timedelta(seconds=args.window))
                    if fired == len(picked):
                        break
                    if process.poll() is not None:
                        raise SystemExit(f"serve died:\n{log_path.read_text()[-4000:]}")
                    time.sleep(1)
            finally:
                engine.dispose()
        time.sleep(0.5)  # let the last log lines reach the file
    finally:
        stop_process(process, timeout=20)
    run_s = time.perf_counter() - started

    lines, count = parse_log(log_path)
    at_audit = audit_times(url, picked)
    committed, decided, audited = [], [], []
    for tid in picked:
        entry = lines.get(ticket_of[tid])
        if entry is not None:
            committed.append((entry[0] - due[tid]).total_seconds() * 1000)
            decided.append(float(entry[1]))
        if tid in at_audit:
            audited.append((at_audit[tid] - due[tid]).total_seconds() * 1000)
    return Result(
        backend=backend,
        planned=len(picked),
        fired=fired,
        committed_ms=committed,
        decided_ms=decided,
        audit_ms=audited,
        log_lines=count,
        prep_s=prep_s,
        run_s=run_s,
        webhooks=load.sent if load else 0,
        webhook_errors=load.errors if load else 0,
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))  # nearest rank
    return ordered[index]


def describe(values: list[float]) -> str:
    if not values:
        return "no data"
    return (
        f"p50 {pct(values, 50):6.0f}  p95 {pct(values, 95):6.0f}  p99 {pct(values, 99):6.0f}  "
        f"max {max(values):6.0f}  min {min(values):6.0f}  (ms, n={len(values)})"
    )


def report(result: Result) -> bool:
    ok = result.fired == result.planned and pct(result.committed_ms, 99) < TARGET_MS
    print(
        f"\n[{result.backend}] {result.fired}/{result.planned} fired "
        f"(prep {result.prep_s:.0f} s, serve ran {result.run_s:.0f} s, "
        f"{result.log_lines} timer.fired lines)"
    )
    if result.webhooks:
        print(
            f"  under webhook load: {result.webhooks} webhooks posted meanwhile "
            f"({result.webhooks / result.run_s:.0f}/s, {result.webhook_errors} not 2xx)"
        )
    print(f"  committed lateness (log line - due_at): {describe(result.committed_ms)}")
    print(f"  decided lateness   (late_s, as ms)    : {describe(result.decided_ms)}")
    print(
        f"  audit.at - due_at  ({len(result.audit_ms)} with actions)  : {describe(result.audit_ms)}"
    )
    verdict = "MET" if ok else "MISSED"
    print(f"  target p99 < {TARGET_MS} ms: {verdict}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds the dues span")
    parser.add_argument("--lead", type=float, default=20.0, help="seconds from ready to first due")
    parser.add_argument("--grace", type=float, default=60.0, help="wait after the window ends")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--webhook-load",
        type=int,
        default=0,
        metavar="N",
        help="N clients post new signed webhooks to serve throughout (default 0: an idle serve)",
    )
    parser.add_argument(
        "--webhook-rate",
        type=float,
        default=0,
        metavar="R",
        help="with --webhook-load: R webhooks/s in all, paced (default 0: as fast as answered)",
    )
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql", "both"],
        default="both",
        help="both: PostgreSQL only when it answers at --pg-url",
    )
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()

    print(
        f"timer latency: {args.timers} timers due within {args.window:.0f} s, "
        f"serve's sweep every 0.5 s (DESKBRIDGE_TIMER_INTERVAL default); "
        f"{os.cpu_count()} CPUs"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="deskbridge-timers-") as tmp:
        workdir = Path(tmp)
        if args.backend in ("sqlite", "both"):
            url = f"sqlite:///{workdir / 'deskbridge.db'}"
            results.append(run_backend("sqlite", url, args, workdir))
        if args.backend in ("postgresql", "both"):
            if not postgres_available(args.pg_url):
                if args.backend == "postgresql":
                    raise SystemExit(f"PostgreSQL is not reachable at {args.pg_url}")
                print(f"\n[postgresql] skipped: not reachable at {args.pg_url}")
            else:
                schema = f"bench_timers_{uuid.uuid4().hex[:10]}"
                admin = create_engine(args.pg_url)
                with admin.begin() as connection:
                    connection.execute(text(f'CREATE SCHEMA "{schema}"'))
                sep = "&" if "?" in args.pg_url else "?"
                url = f"{args.pg_url}{sep}options=-csearch_path%3D{schema}"
                try:
                    results.append(run_backend("postgresql", url, args, workdir))
                finally:
                    with admin.begin() as connection:
                        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()
        print("\n== summary ==")
        verdicts = [report(r) for r in results]
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
