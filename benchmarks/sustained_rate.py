"""Sustained load at a fixed offered rate: do the decider and the dispatcher keep up?

`deskbridge serve` on a fresh SQLite store (example config, dry run) receives signed Zendesk
events at a fixed rate (open loop: request i is sent at start + i / rate, whether or not the
earlier ones were answered) from a few keep-alive client threads. Every second the script
reads /readyz (decide lag, outbox backlog) and the server's RSS. After the load it waits for
the decider to drain, stops serve and reads the store:

- every acknowledged event stored, and decided exactly once (status, one decided mark);
- per event, decide delay = decided_at - received_at (p50/p95/p99/max);
- per action, end to end = the outbox row's done_at - its event's received_at (dry run: the
  dispatcher logs the action instead of calling Slack or the helpdesk);
- bytes stored per event (the SQLite file after a checkpoint);
- per window of the run (`--window`): webhook p50/p99, outbox backlog, RSS, decide lag, and
  whether the backlog stayed flat (a soak: `--duration 600`).

`--slack fake`: Slack messages really go out, to the test suite's fake Slack Web API
(tests/fakeslack.py) in a process of its own on 127.0.0.1, with SLACK_BOT_TOKEN set. The rules
are the example's plus `--agents` agents on the roster, and the events' tickets are assigned
across them, so the alerts are spread over that many DM conversations besides the example's
channels (lead, three departments, specialists, on-call); per-channel pacing is
`--slack-interval` seconds (Slack's own limit is about 1 message per second per channel). The
fake Slack is asked afterwards how many messages it got, where, and whether any action's
message arrived twice. Helpdesk write-back and the pager stay dry runs.

`--ack-limit 3`: the burst's verdict (reliability.md §6 E25) instead of the lag's: no request
answered in more than 3 s, and none lost (every request answered "accepted", and stored).

`--slack-cap 1` (with `--slack fake`): the backlog drain (reliability.md §6 E26). The fake Slack
answers 429 with Retry-After (whole seconds) to a second post within 1 s in one conversation,
as Slack's one message a second per channel does; every 429 is then self-inflicted. Reported:
per conversation the posts, updates and 429s, the posts' pace as a share of the cap and their
gaps; per window the outbox backlog, RSS, posts a second and serve's CPU; the time to drain.
Verdict: no 429, the busiest conversation (it bounds the drain) at 0.95 of the cap or more, the
whole drain at 0.95 of the pace that one sets, RSS without a trend over the drain's second half.

`--postgres [ADMIN_URL]`: `deskbridge serve` on PostgreSQL, in a database made for the run.

    .venv/bin/python benchmarks/sustained_rate.py --rate 500 --duration 60
    .venv/bin/python benchmarks/sustained_rate.py --rate 200 --duration 120   # end to end
    .venv/bin/python benchmarks/sustained_rate.py --rate 200 --duration 600 --slack fake  # soak
    .venv/bin/python benchmarks/sustained_rate.py --rate 2000 --duration 30 --clients 32 \
        --ack-limit 3 --drain 600                                            # burst (E25)
    .venv/bin/python benchmarks/sustained_rate.py --rate 1000 --duration 20 --slack fake \
        --agents 14 --slack-interval 1 --slack-cap 1 --drain 3600 --window 60  # drain (E26)
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import multiprocessing
import os
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
    PG_URL,
    ROOT,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_PATH,
    Server,
    base_env,
    build_signature,
    code_revision,
    free_port,
    make_events,
    postgres_database,
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sender:
    """Open-loop load: request i goes out at start + i / rate (late requests go at once)."""

    def __init__(self, port: int, bodies: list[bytes], rate: float, clients: int):
        self.port, self.bodies, self.rate, self.clients = port, bodies, rate, clients
        self.next = 0
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        # (seconds since start when sent, latency) of every request, for the windows.
        self.timeline: list[tuple[float, float]] = []
        self.statuses: dict[int, int] = {}
        self.accepted: set[int] = set()
        # The latest a request went out after its due time, s: the sender's own shortfall.
        self.late = 0.0
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
                self.late = max(self.late, sent - due)
                self.latencies.append(elapsed)
                self.timeline.append((sent - self.start, elapsed))
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


# -- fake Slack mode ---------------------------------------------------------------------------

FAKE_TOKEN = "xoxb-benchmark-not-a-token"
FAKE_TEAM = "T0BENCH001"


def write_spread_rules(path: Path, agents: int) -> list[tuple[str, str]]:
    """The example rules with `agents` more agents on the roster (Slack ids U0BENCH…, each a
    DM conversation of its own); returns their (Zendesk id, name) for the events."""
    import yaml

    rules = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    extra = [(f"9013300200{n:03d}", f"Bench Agent {n}") for n in range(agents)]
    rules["agents"] += [
        {
            "name": name,
            "slack_id": f"U0BENCH{n:03d}",
            "zendesk_id": zendesk_id,
            "team": "resolution",
            "role": "agent",
            "started_on": "2025-01-06",
        }
        for n, (zendesk_id, name) in enumerate(extra)
    ]
    path.write_text(yaml.safe_dump(rules, sort_keys=False, allow_unicode=True))
    return extra


def serve_fake_slack(connection, post_interval: float = 0.0) -> None:
    """A child process: the test suite's fake Slack on 127.0.0.1 (its URL sent first), capped
    at one post per `post_interval` s per conversation (0: no cap); on any message, what it
    received is summarised and sent back."""
    sys.path.insert(0, str(ROOT))
    from tests.fakeslack import FakeSlack

    fake = FakeSlack(post_interval=post_interval).start()
    connection.send(fake.url)
    connection.recv()
    with fake.lock:
        posts = [c for c in fake.calls if c.method == "chat.postMessage" and c.status == 200]
        methods: dict[str, int] = {}
        for call in fake.calls:
            methods[call.method] = methods.get(call.method, 0) + 1
        sent: dict[tuple[str, str], int] = {}
        where: dict[str, int] = {}
        # Per conversation: when each post was accepted, each update made, each 429 answered
        # (monotonic seconds, the same clock as this process's parent on Linux).
        timing: dict[str, dict[str, list[float]]] = {}
        for call in fake.calls:
            if call.method in ("chat.postMessage", "chat.update"):
                channel = fake.conversation(str(call.args.get("channel")))
                kind = "429" if call.status == 429 else call.method
                timing.setdefault(channel, {}).setdefault(kind, []).append(call.at)
        for post in posts:
            metadata = post.args.get("metadata") or {}
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            key = (metadata.get("event_payload") or {}).get("key", "")
            # A thread reply names the conversation by id, a first message as configured.
            channel = fake.conversation(str(post.args.get("channel")))
            sent[key, channel] = sent.get((key, channel), 0) + 1
            where[channel] = where.get(channel, 0) + 1
    connection.send(
        {
            "methods": methods,
            "posts": len(posts),
            "threaded": sum(1 for p in posts if p.args.get("thread_ts")),
            "doubled": sum(1 for n in sent.values() if n > 1),
            "conversations": where,
            "timing": timing,
        }
    )
    fake.stop()


def fake_slack_env(url: str, rules: Path, interval: float) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": FAKE_TOKEN,
        "SLACK_API_URL": url,
        "SLACK_TEAM_ID": FAKE_TEAM,
        "DESKBRIDGE_CONFIG": str(rules),
        "DESKBRIDGE_SLACK_MIN_INTERVAL": str(interval),
    }


# -- windows over the run ------------------------------------------------------------------


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per minute."""
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return 60 * cov / var if var else float("nan")


def print_windows(
    timeline: list[tuple[float, float]],
    samples: list[tuple[float, float, int, float]],
    duration: float,
    window: float,
) -> bool:
    """One line per window of the load: webhook p50/p99, backlog mean/max, RSS, decide lag
    max; then the slopes, and whether the backlog was flat (its mean over the second half of
    the load no more than 1.25 times the first half's, plus 50 actions)."""
    print(
        f"per {window:g} s window: t  webhook_p50_ms  p99_ms  backlog_mean  max  rss_mb  lag_max_s"
    )
    p50s = []
    start = 0.0
    while start < duration:
        end = start + window
        acks = [x * 1000 for t, x in timeline if start <= t < end]
        inside = [s for s in samples if start <= s[0] < end]
        backlog = [s[2] for s in inside]
        p50 = percentile(acks, 50)
        p50s.append((start, p50))
        print(
            f"  {start:6.0f}  {p50:8.1f}  {percentile(acks, 99):8.1f}  "
            f"{sum(backlog) / max(len(backlog), 1):9.0f}  {max(backlog, default=0):6d}  "
            f"{inside[-1][3] if inside else float('nan'):7.1f}  "
            f"{max((s[1] for s in inside), default=0):6.2f}"
        )
        start = end
    during = [s for s in samples if s[0] <= duration]
    half = duration / 2
    first = [s[2] for s in during if s[0] < half]
    second = [s[2] for s in during if s[0] >= half]
    mean_first = sum(first) / max(len(first), 1)
    mean_second = sum(second) / max(len(second), 1)
    flat = mean_second <= 1.25 * mean_first + 50
    backlog_slope = slope_per_minute([(s[0], s[2]) for s in during])
    rss_slope = slope_per_minute([(s[0], s[3]) for s in during])
    print(
        f"slopes per minute of load: backlog {backlog_slope:+.1f} actions, RSS "
        f"{rss_slope:+.2f} MB, webhook p50 {slope_per_minute(p50s):+.2f} ms"
    )
    print(
        f"backlog mean, first half {mean_first:.0f}, second half {mean_second:.0f}: "
        f"{'flat' if flat else 'GROWING'}"
    )
    return flat


def print_conversations(
    timing: dict[str, dict[str, list[float]]], cap: float, start: float
) -> tuple[float, float, int]:
    """One line per conversation of the fake Slack: posts accepted, updates, 429s answered; the
    first and last post (s since the load began); posts per second over that span and as a
    share of the cap (turns: posts and updates, which deskbridge paces alike); the gaps
    between posts. Returns the busiest conversation's turns per second as a share of the cap
    (the one that bounds the drain), the whole drain's share of the time that one alone
    needs at the cap, and the 429s in all."""
    print(
        f"per conversation (cap: 1 post per {cap:g} s): posts  updates  429s  first_s  last_s  "
        "posts_per_s  of_cap  turns_of_cap  gap_min_s  gap_p50_s  gap_max_s"
    )
    throttled = 0
    rows = sorted(
        timing.items(),
        key=lambda item: -len(item[1].get("chat.postMessage", []) + item[1].get("chat.update", [])),
    )
    shares = []
    for channel, kinds in rows:
        posts = sorted(kinds.get("chat.postMessage", []))
        turns = sorted(posts + kinds.get("chat.update", []))
        throttled += len(kinds.get("429", []))
        gaps = [b - a for a, b in itertools.pairwise(posts)]
        span = posts[-1] - posts[0] if len(posts) > 1 else 0.0
        rate = (len(posts) - 1) / span if span else float("nan")
        turn_span = turns[-1] - turns[0] if len(turns) > 1 else 0.0
        share = (len(turns) - 1) / turn_span * cap if turn_span else float("nan")
        shares.append(share)
        print(
            f"  {channel:12s} {len(posts):6d} {len(kinds.get('chat.update', [])):6d} "
            f"{len(kinds.get('429', [])):5d} "
            f"{(posts[0] - start) if posts else float('nan'):8.1f} "
            f"{(posts[-1] - start) if posts else float('nan'):8.1f} "
            f"{rate:8.3f} {rate * cap:7.3f} {share:7.3f} {min(gaps, default=float('nan')):9.3f} "
            f"{percentile(gaps, 50):9.3f} {max(gaps, default=float('nan')):9.3f}"
        )
    busiest = max(
        (len(k.get("chat.postMessage", []) + k.get("chat.update", [])) for k in timing.values()),
        default=0,
    )
    last = max(
        (
            t
            for k in timing.values()
            for t in k.get("chat.postMessage", []) + k.get("chat.update", [])
        ),
        default=start,
    )
    first = min(
        (
            t
            for k in timing.values()
            for t in k.get("chat.postMessage", []) + k.get("chat.update", [])
        ),
        default=start,
    )
    whole = busiest * cap / (last - first) if last > first else float("nan")
    print(
        f"busiest conversation: {busiest} turns, {busiest * cap:.0f} s at the cap; all "
        f"conversations' turns took {last - first:.0f} s: {whole:.3f} of the cap's pace"
    )
    return shares[0] if shares else float("nan"), whole, throttled


def print_drain(
    samples: list[tuple[float, float, int, float]],
    cpu: list[tuple[float, float]],
    timing: dict[str, dict[str, list[float]]],
    start: float,
    load_end: float,
    drained: float,
    window: float,
) -> bool:
    """One line per window from the start of the load to the end of the drain: outbox backlog
    and RSS at the window's end, posts accepted by the fake Slack in it (per second) and the
    conversations they went to. Returns whether the RSS stayed flat over the drain: no trend
    over its second half (least-squares slope within 0.5 MB a minute), where a leak in
    proportion to the work would show; a step once (an allocator arena) is reported, not
    failed."""
    posts = sorted(
        (t - start, channel)
        for channel, kinds in timing.items()
        for t in kinds.get("chat.postMessage", [])
    )
    print(
        f"per {window:g} s window: t  outbox_pending  rss_mb  posts_per_s  conversations  "
        "serve_cpu_%"
    )
    begin = 0.0
    while begin < drained:
        end = begin + window
        inside = [s for s in samples if begin <= s[0] < end]
        sent = [c for t, c in posts if begin <= t < end]
        used = [c for c in cpu if begin <= c[0] < end]
        busy = (
            100 * (used[-1][1] - used[0][1]) / (used[-1][0] - used[0][0])
            if len(used) > 1
            else float("nan")
        )
        print(
            f"  {begin:6.0f}  {inside[-1][2] if inside else 0:8d}  "
            f"{inside[-1][3] if inside else float('nan'):7.1f}  {len(sent) / window:8.2f}  "
            f"{len(set(sent)):4d}  {busy:6.0f}"
        )
        begin = end
    during = [s for s in samples if load_end <= s[0] <= drained]
    half = (load_end + drained) / 2
    second = [(s[0], s[3]) for s in during if s[0] >= half]
    trend = slope_per_minute(second)
    flat = abs(trend) <= 0.5
    rss = [s[3] for s in during]
    print(
        f"RSS over the drain ({load_end:.0f}-{drained:.0f} s): at its start "
        f"{rss[0] if rss else float('nan'):.1f} MB, highest {max(rss, default=float('nan')):.1f}, "
        f"at its end {rss[-1] if rss else float('nan'):.1f}; slope over the whole drain "
        f"{slope_per_minute([(s[0], s[3]) for s in during]):+.2f} MB a minute, over its second "
        f"half {trend:+.2f}: {'flat' if flat else 'GROWING'}"
    )
    return flat


def read_sqlite(database: Path) -> dict:
    """What the run left in the SQLite store (after a checkpoint)."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        by_status = dict(db.execute("SELECT status, count(*) FROM events GROUP BY status"))
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
        slack_end_to_end = [
            r[0]
            for r in db.execute(
                "SELECT (julianday(o.done_at) - julianday(e.received_at)) * 86400 "
                "FROM outbox o JOIN audit a ON a.idempotency_key = o.idempotency_key "
                "JOIN events e ON e.dedupe_key = a.event_key WHERE o.done_at IS NOT NULL "
                "AND o.status = 'done' AND json_extract(o.result, '$.dry_run') IS NULL"
            )
        ]
        dead = db.execute("SELECT count(*) FROM outbox WHERE status = 'dead'").fetchone()[0]
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
    return {
        "by_status": by_status,
        "decide": decide,
        "end_to_end": end_to_end,
        "slack_end_to_end": slack_end_to_end,
        "dead": dead,
        "keys": keys,
        "actions": actions,
        "pending": pending,
        "per_table": per_table,
        "tickets": tickets,
        "size": size,
    }


# Seconds between two timestamps, and JSON fields, as PostgreSQL writes them.
_PG_READS = {
    "decide": "SELECT extract(epoch FROM decided_at - received_at) FROM events "
    "WHERE decided_at IS NOT NULL",
    "end_to_end": "SELECT extract(epoch FROM o.done_at - e.received_at) "
    "FROM outbox o JOIN audit a ON a.idempotency_key = o.idempotency_key "
    "JOIN events e ON e.dedupe_key = a.event_key WHERE o.done_at IS NOT NULL",
    "slack_end_to_end": "SELECT extract(epoch FROM o.done_at - e.received_at) "
    "FROM outbox o JOIN audit a ON a.idempotency_key = o.idempotency_key "
    "JOIN events e ON e.dedupe_key = a.event_key WHERE o.done_at IS NOT NULL "
    "AND o.status = 'done' AND o.result ->> 'dry_run' IS NULL",
}


def read_postgres(url: str) -> dict:
    """What the run left in its PostgreSQL database, as read_sqlite reads SQLite's."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as db:

            def column(sql: str) -> list:
                return [r[0] for r in db.execute(text(sql))]

            def one(sql: str):
                return db.execute(text(sql)).one()

            found = {name: [float(v) for v in column(sql)] for name, sql in _PG_READS.items()}
            found["by_status"] = dict(
                db.execute(text("SELECT status, count(*) FROM events GROUP BY status")).all()
            )
            found["dead"] = one("SELECT count(*) FROM outbox WHERE status = 'dead'")[0]
            found["keys"] = set(column("SELECT dedupe_key FROM events"))
            found["actions"] = one("SELECT count(*) FROM outbox")[0]
            found["pending"] = one("SELECT count(*) FROM outbox WHERE status != 'done'")[0]
            found["per_table"] = dict(
                db.execute(
                    text("SELECT relname, pg_total_relation_size(relid) FROM pg_statio_user_tables")
                ).all()
            )
            found["tickets"] = one("SELECT count(*), avg(length(state::text)) FROM tickets")
            found["size"] = one("SELECT pg_database_size(current_database())")[0]
    finally:
        engine.dispose()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500, help="events per second offered")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument("--drain", type=float, default=120, help="max seconds to drain after")
    parser.add_argument(
        "--slack", choices=("dry-run", "fake"), default="dry-run", help="Slack: dry run or fake"
    )
    parser.add_argument("--agents", type=int, default=20, help="--slack fake: agents added")
    parser.add_argument(
        "--slack-interval", type=float, default=0.01, help="--slack fake: per-channel pacing, s"
    )
    parser.add_argument(
        "--slack-cap",
        type=float,
        default=0,
        help="--slack fake: the fake answers 429 + Retry-After to a second post within this "
        "many seconds in one conversation, as Slack does (0: no cap); backlog drain verdict",
    )
    parser.add_argument(
        "--ack-limit",
        type=float,
        default=0,
        help="burst verdict: no request slower than this many seconds, and none lost (0: the "
        "sustained verdict, decide lag under 1 s)",
    )
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=PG_URL,
        metavar="ADMIN_URL",
        help="serve on PostgreSQL instead of SQLite: a database made for the run on this "
        f"server (default {PG_URL}), dropped after it",
    )
    parser.add_argument("--window", type=float, default=0, help="seconds per window (0: auto)")
    args = parser.parse_args(argv)
    if args.slack_cap and args.slack != "fake":
        parser.error("--slack-cap needs --slack fake")
    if args.postgres:
        with postgres_database(args.postgres) as url:
            return run(args, url)
    return run(args, None)


def run(args: argparse.Namespace, store_url: str | None) -> int:
    """The run `main` was asked for, on SQLite (a new file) or at `store_url` (PostgreSQL)."""
    count = int(args.rate * args.duration)
    workdir = Path(tempfile.mkdtemp(prefix="deskbridge-sustained-"))
    database = workdir / "deskbridge.db"
    port = free_port()
    env = base_env(store_url or database, "WARNING")
    agents = None
    fake_slack = None
    if args.slack == "fake":
        agents = write_spread_rules(workdir / "rules.yaml", args.agents)
        fake_slack, child = multiprocessing.Pipe()
        multiprocessing.Process(
            target=serve_fake_slack, args=(child, args.slack_cap), daemon=True
        ).start()
        env.update(fake_slack_env(fake_slack.recv(), workdir / "rules.yaml", args.slack_interval))
    bodies = make_events(count, agents=agents)
    server = Server(
        "serve",
        [str(BIN / "deskbridge"), "serve", "--port", str(port), "--threads", str(args.threads)],
        env,
        port,
        workdir / "serve.log",
        store_url or database,
    )
    print(f"code: {code_revision()}")
    print(
        f"offered: {args.rate:g} events/s for {args.duration:g} s ({count} events), "
        f"{args.clients} client threads; store "
        f"{database if store_url is None else 'PostgreSQL, a database made for the run'}"
    )
    if fake_slack is not None:
        print(
            f"slack: fake Web API on 127.0.0.1 ({env['SLACK_API_URL']}), {args.agents} agents "
            f"added to the roster, pacing {args.slack_interval:g} s per channel; "
            + (
                f"capped at 1 post per {args.slack_cap:g} s per conversation (429 beyond)"
                if args.slack_cap
                else "no cap"
            )
        )
    else:
        print("slack: dry run")
    server.start()
    samples: list[tuple[float, float, int, float]] = []
    cpu: list[tuple[float, float]] = []
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
                cpu.append((time.monotonic() - sender.start, cpu_seconds(server.process.pid)))

    sampler = threading.Thread(target=sample)
    sampler.start()
    began = time.monotonic()
    began_cpu = time.process_time()
    served_cpu = cpu_seconds(server.process.pid)
    sender.run()
    sent_for = time.monotonic() - began
    # The sender shares the machine with serve: what each used while it sent.
    sender_cpu = time.process_time() - began_cpu
    served_cpu = cpu_seconds(server.process.pid) - served_cpu
    load_end = time.monotonic() - sender.start
    drained_at = None
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline:
        ready = read_readyz(port)
        if ready["decide_lag_seconds"] == 0 and ready["outbox_pending"] == 0:
            drained_at = time.monotonic() - sender.start
            break
        time.sleep(0.5)
    done.set()
    sampler.join()
    server.stop()

    found = read_sqlite(database) if store_url is None else read_postgres(store_url)
    by_status, decide, end_to_end, slack_end_to_end = (
        found["by_status"],
        found["decide"],
        found["end_to_end"],
        found["slack_end_to_end"],
    )
    dead, keys, actions, pending = found["dead"], found["keys"], found["actions"], found["pending"]
    per_table, tickets, size = found["per_table"], found["tickets"], found["size"]
    stored = sum(by_status.values())

    ack = [x * 1000 for x in sender.latencies]
    print(
        f"sent in {sent_for:.1f} s ({len(bodies) / sent_for:.0f}/s achieved; the latest "
        f"request went {sender.late:.3f} s after its due time); "
        f"answers {dict(sorted(sender.statuses.items()))}"
    )
    print(
        f"CPU while sending: this sender (and its samplers) {sender_cpu:.1f} s, serve "
        f"{served_cpu:.1f} s, of {(os.cpu_count() or 1) * sent_for:.0f} s on "
        f"{os.cpu_count()} cores"
    )
    print(
        f"ack latency ms: p50 {percentile(ack, 50):.1f}  p95 {percentile(ack, 95):.1f}  "
        f"p99 {percentile(ack, 99):.1f}  max {max(ack):.1f}"
    )
    lost = sum(
        1 for i in sender.accepted if f"zendesk:event:{json.loads(bodies[i])['id']}" not in keys
    )
    over = sum(1 for x in sender.latencies if args.ack_limit and x > args.ack_limit)
    if args.ack_limit:
        print(f"requests over {args.ack_limit:g} s: {over}")
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
    if slack_end_to_end:
        print(
            f"  performed for real (Slack posts): {len(slack_end_to_end)}; end to end s: p50 "
            f"{percentile(slack_end_to_end, 50):.3f}  p95 {percentile(slack_end_to_end, 95):.3f}  "
            f"p99 {percentile(slack_end_to_end, 99):.3f}"
        )
    print(f"  dead letters: {dead}")
    got = None
    if fake_slack is not None:
        fake_slack.send("stop")
        got = fake_slack.recv()
        busiest = sorted(got["conversations"].items(), key=lambda item: -item[1])
        print(
            f"fake slack: {got['posts']} messages posted ({got['threaded']} in threads) to "
            f"{len(busiest)} conversations; actions posted twice to a channel: {got['doubled']}; "
            f"calls {dict(sorted(got['methods'].items()))}"
        )
        print("  by conversation: " + ", ".join(f"{c} {n}" for c, n in busiest))
    drained = (
        f"at {drained_at:.1f} s ({drained_at - load_end:.1f} s after the load)"
        if drained_at
        else "NOT within the drain limit"
    )
    print(f"drained {drained}")
    print(f"store: {size / 1e6:.1f} MB, {size / max(stored, 1):.0f} bytes per event")
    biggest = sorted(per_table.items(), key=lambda item: -item[1])
    print(
        "  per event, by table with its indexes: "
        + ", ".join(f"{t} {b / max(stored, 1):.0f}" for t, b in biggest if b / max(stored, 1) >= 1)
    )
    print(f"  tickets: {tickets[0]} rows, state JSON {tickets[1] or 0:.0f} bytes on average")
    if len(samples) <= 600:
        print("per second: t  decide_lag_s  outbox_pending  rss_mb")
        for t, lag, backlog, rss in samples:
            print(f"  {t:6.1f}  {lag:8.3f}  {backlog:8d}  {rss:7.1f}")
    window = args.window or (60 if args.duration >= 300 else 10)
    print_windows(sender.timeline, samples, args.duration, window)
    flat = all(lag < 1.0 for t, lag, _, _ in samples if t <= args.duration)
    decided_once = by_status.get("decided", 0) == stored and stored >= len(sender.accepted)
    # Which criteria: reliability.md §6 E25 (burst), E26 (backlog drain), else issue 12's.
    verdict: dict[str, bool] = {"every event decided once": decided_once}
    if args.ack_limit:
        verdict[f"no request over {args.ack_limit:g} s"] = over == 0
        verdict["none lost (every request answered accepted, and stored)"] = (
            sender.statuses == {200: count} and len(sender.accepted) == count and lost == 0
        )
    elif not args.slack_cap:
        verdict["lag under 1 s throughout"] = flat
    if args.slack_cap and got is not None:
        busiest, whole, throttled = print_conversations(got["timing"], args.slack_cap, sender.start)
        end = drained_at or (time.monotonic() - sender.start)
        drain_window = args.window or (60 if end >= 600 else 10)
        rss_flat = print_drain(
            samples, cpu, got["timing"], sender.start, load_end, end, drain_window
        )
        verdict["no 429 (each one self-inflicted: the cap is reached only by sending too fast)"] = (
            throttled == 0
        )
        verdict[
            "the busiest conversation (it bounds the drain) took its turns at 0.95 of the cap "
            "or faster"
        ] = busiest >= 0.95
        verdict[
            "the whole drain at 0.95 of the pace the busiest conversation alone sets, or faster"
        ] = whole >= 0.95
        verdict["RSS flat over the drain"] = rss_flat
        verdict["drained within --drain"] = drained_at is not None
    print("verdict: " + "; ".join(f"{name}: {ok}" for name, ok in verdict.items()))
    return 0 if all(verdict.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
