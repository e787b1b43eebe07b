"""Sustained load at a fixed offered rate: does the decider keep up?

`deskbridge serve` on a fresh SQLite store (example config, dry run) receives signed Zendesk
events at a fixed rate (open loop: request i is sent at start + i / rate, whether or not the
earlier ones were answered) from a few keep-alive client threads. Every second the script
reads /readyz (decide lag, outbox backlog) and the server's RSS. After the load it waits for
the decider to drain, stops serve and reads the store:

- every acknowledged event stored, and decided exactly once (status, one decided mark);
- per event, decide delay = decided_at - received_at (p50/p95/p99/max);
- per action, end to end = the outbox row's done_at - its event's received_at (dry run: the
  dispatcher logs the action instead of calling Slack or the helpdesk);
- bytes stored per event (the SQLite file after a checkpoint).

    .venv/bin/python benchmarks/sustained_rate.py --rate 500 --duration 60
    .venv/bin/python benchmarks/sustained_rate.py --rate 200 --duration 60   # end to end
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhook_throughput import (
    BIN,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_PATH,
    Server,
    base_env,
    build_signature,
    code_revision,
    free_port,
    make_events,
)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sender:
    """Open-loop load: request i goes out at start + i / rate (late requests go at once)."""

    def __init__(self, port: int, bodies: list[bytes], rate: float, clients: int):
        self.port, self.bodies, self.rate, self.clients = port, bodies, rate, clients
        self.next = 0
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.accepted: set[int] = set()
        self.start = 0.0

    def run(self) -> None:
        self.start = time.monotonic() + 0.2
        threads = [threading.Thread(target=self._client) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _client(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        stamp = datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%SZ")
        while True:
            with self.lock:
                index = self.next
                self.next += 1
            if index >= len(self.bodies):
                break
            due = self.start + index / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            body = self.bodies[index]
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: build_signature(stamp, body),
            }
            sent = time.monotonic()
            try:
                connection.request("POST", WEBHOOK_PATH, body, headers)
                response = connection.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                status, payload = 0, b""
            elapsed = time.monotonic() - sent
            with self.lock:
                self.latencies.append(elapsed)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == 200 and b'"status":"accepted"' in payload:
                    self.accepted.add(index)
        connection.close()


def read_readyz(port: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/readyz")
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500, help="events per second offered")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument("--drain", type=float, default=120, help="max seconds to drain after")
    args = parser.parse_args(argv)

    count = int(args.rate * args.duration)
    bodies = make_events(count)
    workdir = Path(tempfile.mkdtemp(prefix="deskbridge-sustained-"))
    database = workdir / "deskbridge.db"
    port = free_port()
    env = base_env(database, "WARNING")
    server = Server(
        "serve",
        [str(BIN / "deskbridge"), "serve", "--port", str(port), "--threads", str(args.threads)],
        env,
        port,
        workdir / "serve.log",
        database,
    )
    print(f"code: {code_revision()}")
    print(
        f"offered: {args.rate:g} events/s for {args.duration:g} s ({count} events), "
        f"{args.clients} client threads; store {database}"
    )
    server.start()
    samples: list[tuple[float, float, int, float]] = []
    sender = Sender(port, bodies, args.rate, args.clients)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            with contextlib.suppress(OSError, ValueError):
                ready = read_readyz(port)
                samples.append(
                    (
                        time.monotonic() - sender.start,
                        ready["decide_lag_seconds"],
                        ready["outbox_pending"],
                        rss_mb(server.process.pid),
                    )
                )

    sampler = threading.Thread(target=sample)
    sampler.start()
    began = time.monotonic()
    sender.run()
    sent_for = time.monotonic() - began
    drained_at = None
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline:
        ready = read_readyz(port)
        if ready["decide_lag_seconds"] == 0 and ready["outbox_pending"] == 0:
            drained_at = time.monotonic() - began
            break
        time.sleep(0.5)
    done.set()
    sampler.join()
    server.stop()

    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        by_status = dict(db.execute("SELECT status, count(*) FROM events GROUP BY status"))
        stored = sum(by_status.values())
        decide = [
            r[0]
            for r in db.execute(
                "SELECT (julianday(decided_at) - julianday(received_at)) * 86400 FROM events "
                "WHERE decided_at IS NOT NULL"
            )
        ]
        end_to_end = [
            r[0]
            for r in db.execute(
                "SELECT (julianday(o.done_at) - julianday(e.received_at)) * 86400 "
                "FROM outbox o JOIN audit a ON a.idempotency_key = o.idempotency_key "
                "JOIN events e ON e.dedupe_key = a.event_key WHERE o.done_at IS NOT NULL"
            )
        ]
        keys = {r[0] for r in db.execute("SELECT dedupe_key FROM events")}
        actions = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        pending = db.execute("SELECT count(*) FROM outbox WHERE status != 'done'").fetchone()[0]
        # Bytes per table with its indexes (SQLite's dbstat: pages in use, per b-tree).
        indexes = dict(db.execute("SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index'"))
        per_table: dict[str, int] = {}
        for name, pages in db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = indexes.get(name, name)
            per_table[table] = per_table.get(table, 0) + pages
        tickets = db.execute("SELECT count(*), avg(length(state)) FROM tickets").fetchone()
    size = database.stat().st_size

    ack = [x * 1000 for x in sender.latencies]
    print(
        f"sent in {sent_for:.1f} s ({len(bodies) / sent_for:.0f}/s achieved); "
        f"answers {dict(sorted(sender.statuses.items()))}"
    )
    print(
        f"ack latency ms: p50 {percentile(ack, 50):.1f}  p95 {percentile(ack, 95):.1f}  "
        f"p99 {percentile(ack, 99):.1f}  max {max(ack):.1f}"
    )
    lost = sum(
        1 for i in sender.accepted if f"zendesk:event:{json.loads(bodies[i])['id']}" not in keys
    )
    print(f"events: {len(sender.accepted)} accepted, {stored} stored {by_status}; lost {lost}")
    print(
        f"decide delay s (decided_at - received_at): p50 {percentile(decide, 50):.3f}  "
        f"p95 {percentile(decide, 95):.3f}  p99 {percentile(decide, 99):.3f}  "
        f"max {max(decide):.3f}"
    )
    print(
        f"actions: {actions} queued, {pending} not done; end to end s (done_at - "
        f"received_at): p50 {percentile(end_to_end, 50):.3f}  "
        f"p95 {percentile(end_to_end, 95):.3f}  p99 {percentile(end_to_end, 99):.3f}"
    )
    drained = f"at {drained_at:.1f} s" if drained_at else "NOT within the drain limit"
    print(f"drained {drained}")
    print(f"store: {size / 1e6:.1f} MB, {size / max(stored, 1):.0f} bytes per event")
    biggest = sorted(per_table.items(), key=lambda item: -item[1])
    print(
        "  per event, by table with its indexes: "
        + ", ".join(f"{t} {b / max(stored, 1):.0f}" for t, b in biggest if b / max(stored, 1) >= 1)
    )
    print(f"  tickets: {tickets[0]} rows, state JSON {tickets[1] or 0:.0f} bytes on average")
    print("per second: t  decide_lag_s  outbox_pending  rss_mb")
    for t, lag, backlog, rss in samples:
        print(f"  {t:6.1f}  {lag:8.3f}  {backlog:8d}  {rss:7.1f}")
    flat = all(lag < 1.0 for t, lag, _, _ in samples if t <= args.duration)
    decided_once = by_status.get("decided", 0) == stored and stored >= len(sender.accepted)
    print(f"verdict: lag under 1 s throughout: {flat}; every event decided once: {decided_once}")
    return 0 if flat and decided_once else 1


if __name__ == "__main__":
    sys.exit(main())
