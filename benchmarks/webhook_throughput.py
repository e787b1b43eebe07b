"""Signed Zendesk webhooks per second through deskbridge's full path on SQLite, against a bare
Flask endpoint that only reads the body, measured in the same run on the same server setup.

Not a test: run it with `make bench` (or `.venv/bin/python benchmarks/webhook_throughput.py`).
See benchmarks/README.md for what it measures and the numbers it gave.

What happens:
1. N distinct, realistic `ticket.comment_added` event bodies (~1 KB, unique ids, many tickets)
   are generated and signed up front with a test secret, one request per line in a temp file.
2. Each server runs in its own subprocess on 127.0.0.1 and an ephemeral port, under waitress
   as `deskbridge serve` builds it (config/waitress_server.py), with the same thread count and
   settings: (a) `deskbridge serve`
   (migrations applied, decider and dispatcher threads, example config, dry-run: no
   Zendesk/Slack credentials, so nothing leaves the machine) on a temp SQLite database,
   (a') the same with its background threads not started (the acknowledgement alone), and
   (b) a bare Flask app whose one POST route reads the body, 200.
3. wrk (1 thread, Lua script cycling through the pre-signed requests) warms each up, then
   measures. Warm-up and measurement use disjoint slices of the events: every request to the
   full app is a new event that takes the whole path (no duplicates).
4. Afterwards the events stored in SQLite are counted and compared with the "accepted" answers.
Optionally (default on, `--no-gunicorn` to skip) the same is done under gunicorn gthread.
With `--gunicorn-postgres`, the production shape too: gunicorn (web only) on PostgreSQL, in a
database created for the run and dropped after it, with one `deskbridge worker` deciding
beside it; after the load it waits until the worker has decided every stored event and
reports how many were decided when the load stopped and how long the rest took.

If wrk is not installed, a Python threaded keep-alive client is used instead (it says so); it
eats far more of the CPU the servers need, so its absolute numbers are lower.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SECRET = "YmVuY2htYXJrX3NlY3JldF9ub3RfZm9yX3Byb2R1Y3Rpb24="
SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
WEBHOOK_PATH = "/webhooks/zendesk"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Variables that would turn dry-run off or point the app elsewhere: never inherited.
SCRUBBED_ENV = (
    "DATABASE_URL",
    "DESKBRIDGE_CONFIG",
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

# -- the bare endpoint ---------------------------------------------------------------------


def create_bare_app():
    """A Flask app with one POST route that reads the body and answers 200 (the baseline)."""
    from flask import Flask, request

    app = Flask("bare")

    @app.post(WEBHOOK_PATH)
    def receive():
        request.get_data(cache=False)
        return "ok", 200

    return app


def serve_bare(port: int, threads: int) -> None:
    import logging

    from deskbridge.config.logging import WAITRESS_QUEUE_LOGGER
    from deskbridge.config.waitress_server import build_server

    # As `deskbridge serve` configures it (config/logging.py): no line per queued request.
    logging.basicConfig()
    logging.getLogger(WAITRESS_QUEUE_LOGGER).setLevel(logging.ERROR)

    # The server and settings `deskbridge serve` runs (cli.py: build_server, deskbridge's
    # waitress channel), so that only the app differs.
    server = build_server(
        create_bare_app(),
        max_body_bytes=1024 * 1024,
        on_too_large=lambda path, limit, field: None,
        host="127.0.0.1",
        port=port,
        threads=threads,
        ident="bare",
        connection_limit=1000,
        channel_timeout=30,
        cleanup_interval=1,
        asyncore_use_poll=True,
    )
    server.print_listen("Serving on http://{}:{}")
    server.run()


# -- the acknowledgement alone ---------------------------------------------------------------

VARIANTS = {
    "ack-only": "`deskbridge serve` with its background threads not started (no decider, "
    "dispatcher or timers): the store-and-answer path alone, same server and settings",
}


def serve_variant(name: str, port: int, threads: int) -> None:
    """`deskbridge serve` exactly as the CLI runs it (same waitress settings), with
    Runtime.start_background made a no-op: events are stored and answered, never decided."""
    from deskbridge import cli
    from deskbridge.app import Runtime

    assert name == "ack-only", name
    Runtime.start_background = lambda self: None
    cli.main(
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)],
        standalone_mode=False,
    )


# -- events ----------------------------------------------------------------------------------

_AGENTS = [
    ("9013300112004", "Priya Raman"),
    ("9013300112005", "Tomás Ortega"),
    ("9013300112006", "Mei Lin"),
    ("9013300112007", "Ade Okafor"),
]
# (subject, description) of a ticket: a furniture retailer's usual mix, some with no problem.
_TOPICS = [
    ("Where is my sofa?", "My sofa was due last Tuesday and the tracking has not moved since."),
    ("Table arrived damaged", "The oak table arrived with a cracked leg and the box was crushed."),
    ("Missing screws", "The wardrobe came without the bag of screws, so I cannot build it."),
    ("Recliner stopped working", "The recliner mechanism stopped working after two weeks."),
    ("Refund not received", "I returned the chairs a month ago and still have no refund."),
    ("Wrong colour delivered", "I ordered the green velvet armchair and received a grey one."),
    ("Thank you", "Just wanted to say the bed arrived early and the driver was lovely."),
    ("Delivery slot", "Can I change my delivery slot to next week? I will be away."),
]
_CUSTOMER = [
    "Any news on this? It has been three days.",
    "I have attached photos of the damage.",
    "The courier says it left the depot but nothing since.",
    "I took a day off work to wait for this delivery and nobody came.",
    "Please can someone call me back, I have asked twice now.",
    "Thanks, that works for me.",
    "I would like a replacement rather than a refund.",
    "The order number is on the original email.",
]
_AGENT = [
    "Thanks for letting us know. I have asked the carrier for an update.",
    "Sorry about this. Could you send us a photo of the label on the box?",
    "I have arranged for the missing parts to be sent by courier.",
    "Your refund has been approved and should show within 3 to 5 working days.",
    "I have booked a technician visit; they will call the day before.",
    "Internal: carrier claims it was delivered, checking the proof of delivery.",
]
_TAGS = [[], ["web"], ["delivery"], ["sofa", "web"], ["returns"], ["vip"], ["phone_order"]]


def build_signature(timestamp: str, body: bytes) -> str:
    digest = hmac.new(SECRET.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def make_events(
    count: int,
    active: int = 1000,
    new_share: float = 0.15,
    seed: int = 7,
    agents: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    """`count` distinct `ticket.comment_added` bodies in time order, ~1 KB each, shaped like
    tests/fixtures/ticket_comment_added__public_agent.json. About `new_share` of them open a new
    ticket; the rest add to one of the `active` most recently opened tickets, so any window of
    the run has the same mix (~1 in 7 events is a ticket's first). Each ticket keeps its
    subject, priority, tags and requester; comments come from the customer or an agent (one of
    `agents`, (Zendesk id, name), default four of the example team's)."""
    rng = random.Random(seed)
    base = datetime.now(UTC) - timedelta(hours=2)
    profiles: dict[int, dict] = {}
    recent: list[int] = []
    bodies = []
    for n in range(count):
        if not recent or rng.random() < new_share:
            ticket = 100000 + len(profiles)
            recent.append(ticket)
            if len(recent) > active:
                recent.pop(0)
        else:
            ticket = rng.choice(recent)
        if ticket not in profiles:
            subject, description = rng.choice(_TOPICS)
            profiles[ticket] = {
                "subject": subject,
                "description": description,
                "priority": rng.choice(["URGENT", "HIGH", "NORMAL", "NORMAL", "NORMAL", "LOW"]),
                "tags": rng.choice(_TAGS),
                "created_at": base - timedelta(minutes=rng.randrange(1, 3 * 24 * 60)),
                "requester": f"90144567{ticket:06d}",
                "agent": rng.choice(agents or _AGENTS),
            }
        profile = profiles[ticket]
        at = base + timedelta(milliseconds=n)
        staff = rng.random() < 0.55
        agent_id, agent_name = profile["agent"]
        if staff:
            author = {"id": agent_id, "is_staff": True, "name": agent_name}
            text = rng.choice(_AGENT)
            public = not text.startswith("Internal")
        else:
            author = {"id": profile["requester"], "is_staff": False, "name": "Customer"}
            text = " ".join(rng.sample(_CUSTOMER, rng.randint(1, 3)))
            public = True
        body = {
            "account_id": 10234567,
            "detail": {
                "actor_id": author["id"],
                "assignee_id": agent_id,
                "brand_id": "360001234511",
                "created_at": profile["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                "custom_status": "360007711202",
                "description": profile["description"],
                "external_id": None,
                "form_id": "360000456701",
                "group_id": "360009988771",
                "id": str(ticket),
                "is_public": True,
                "organization_id": None,
                "priority": profile["priority"],
                "requester_id": profile["requester"],
                "status": "OPEN",
                "subject": profile["subject"],
                "submitter_id": profile["requester"],
                "tags": profile["tags"],
                "type": "INCIDENT",
                "updated_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "via": {"channel": "web_service"},
            },
            "event": {
                "comment": {
                    "author": author,
                    "body": text,
                    "id": str(31877650021 + n),
                    "is_public": public,
                }
            },
            "id": f"bench-{n:08d}-{rng.getrandbits(64):016x}",
            "subject": f"zen:ticket:{ticket}",
            "time": at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z",
            "type": "zen:event-type:ticket.comment_added",
            "zendesk_event_version": "2022-11-06",
        }
        bodies.append(json.dumps(body, ensure_ascii=False).encode())
    return bodies


def write_requests(path: Path, bodies: list[bytes]) -> None:
    """One pre-signed request per line: timestamp TAB signature TAB body (no newlines in it)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with path.open("wb") as out:
        for body in bodies:
            out.write(f"{stamp}\t{build_signature(stamp, body)}\t".encode() + body + b"\n")


def read_requests(path: Path, first: int, last: int) -> list[tuple[dict[str, str], bytes]]:
    out = []
    with path.open("rb") as src:
        for number, line in enumerate(src):
            if first <= number < last:
                stamp, signature, body = line.rstrip(b"\n").split(b"\t", 2)
                headers = {
                    "Content-Type": "application/json",
                    TIMESTAMP_HEADER: stamp.decode(),
                    SIGNATURE_HEADER: signature.decode(),
                }
                out.append((headers, body))
    return out


# -- load generators ---------------------------------------------------------------------------

LUA = r"""
-- args: requests file, first line (0-based, inclusive), last line (exclusive)
local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args)
  local path, first, last = args[1], tonumber(args[2]), tonumber(args[3])
  reqs = {}
  local n = 0
  for line in io.lines(path) do
    if n >= first and n < last then
      local ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json",
        ["X-Zendesk-Webhook-Signature-Timestamp"] = ts,
        ["X-Zendesk-Webhook-Signature"] = sig,
      }, body)
    end
    n = n + 1
  end
  idx = 0; wrapped = 0; accepted = 0; duplicate = 0; other_200 = 0; non_2xx = 0
end

function request()
  idx = idx + 1
  if idx > #reqs then idx = 1; wrapped = wrapped + 1 end
  return reqs[idx]
end

function response(status, headers, body)
  if status == 200 then
    if body:find('"status":"accepted"', 1, true) then accepted = accepted + 1
    elseif body:find('"status":"duplicate"', 1, true) then duplicate = duplicate + 1
    else other_200 = other_200 + 1 end
  elseif status < 200 or status > 299 then non_2xx = non_2xx + 1 end
end

function done(summary, latency, requests)
  local t = {accepted = 0, duplicate = 0, other_200 = 0, non_2xx = 0, wrapped = 0, sent = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do
      if k ~= "sent" then t[k] = t[k] + (thread:get(k) or 0) end
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "accepted": %d, "duplicate": %d, "other_200": %d, ' ..
    '"non_2xx": %d, "status_errors": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, t.accepted, t.duplicate, t.other_200, t.non_2xx,
    e.status, e.connect, e.read, e.write, e.timeout, t.wrapped))
end
"""


@dataclass
class Load:
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    accepted: int = 0
    duplicate: int = 0
    other_200: int = 0
    non_2xx: int = 0
    socket_errors: int = 0
    wrapped: int = 0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    database_cpu_s: float = 0.0  # PostgreSQL's server processes for this store

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    url: str,
    requests_file: Path,
    lua: Path,
    first: int,
    last: int,
    seconds: float,
    connections: int,
) -> Load:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(lua),
        url,
        "--",
        str(requests_file),
        str(first),
        str(last),
    ]
    before = os.times()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = os.times()
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Load(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        accepted=data["accepted"],
        duplicate=data["duplicate"],
        other_200=data["other_200"],
        non_2xx=data["non_2xx"],
        socket_errors=sum(
            data[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
        ),
        wrapped=data["wrapped"],
        client_cpu_s=(after.children_user + after.children_system)
        - (before.children_user + before.children_system),
    )


def run_python_client(
    url: str, requests_file: Path, first: int, last: int, seconds: float, connections: int
) -> Load:
    """Fallback when wrk is missing: `connections` threads, one keep-alive connection each."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    prepared = read_requests(requests_file, first, last)
    lock = threading.Lock()
    cursor = [0, 0]  # next index, wraps
    latencies: list[float] = []
    load = Load()
    stop_at = time.perf_counter() + seconds

    def next_request():
        with lock:
            if cursor[0] >= len(prepared):
                cursor[0] = 0
                cursor[1] += 1
            item = prepared[cursor[0]]
            cursor[0] += 1
            return item

    def worker():
        local: list[float] = []
        counts = {"accepted": 0, "duplicate": 0, "other_200": 0, "non_2xx": 0, "errors": 0}
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        while time.perf_counter() < stop_at:
            headers, body = next_request()
            started = time.perf_counter()
            try:
                conn.request("POST", parts.path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                counts["errors"] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                continue
            local.append(time.perf_counter() - started)
            if response.status == 200:
                if b'"status":"accepted"' in payload:
                    counts["accepted"] += 1
                elif b'"status":"duplicate"' in payload:
                    counts["duplicate"] += 1
                else:
                    counts["other_200"] += 1
            elif not 200 <= response.status < 300:
                counts["non_2xx"] += 1
        conn.close()
        with lock:
            latencies.extend(local)
            load.accepted += counts["accepted"]
            load.duplicate += counts["duplicate"]
            load.other_200 += counts["other_200"]
            load.non_2xx += counts["non_2xx"]
            load.socket_errors += counts["errors"]

    cpu_before = time.process_time()
    started = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    load.seconds = time.perf_counter() - started
    load.client_cpu_s = time.process_time() - cpu_before
    load.requests = len(latencies)
    load.wrapped = cursor[1]
    if len(latencies) >= 2:
        cuts = statistics.quantiles(latencies, n=100)
        load.p50_ms, load.p90_ms, load.p99_ms = (cuts[i] * 1000 for i in (49, 89, 98))
    return load


# -- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_tree_cpu(pid: int) -> float:
    """User+system CPU seconds of `pid` and its live children (gunicorn workers)."""
    return sum(
        cpu for entry, (parent, cpu) in processes_cpu().items() if entry == pid or parent == pid
    )


def processes_cpu() -> dict[int, tuple[int, float]]:
    """Every live process: pid → (parent pid, user+system CPU seconds)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after "comm)": state ppid ... utime(12th) stime(13th), 0-based 11 and 12
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return found


def database_cpu(database: Path | str | None) -> dict[int, float]:
    """PostgreSQL on this machine: CPU seconds of each server process serving the benchmark's
    database (its own, so no other client's); {} for SQLite, which runs inside the app."""
    if not isinstance(database, str):
        return {}
    from sqlalchemy import text

    with open_store(database) as connection:
        pids = set(
            connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalars()
        )
    return {pid: cpu for pid, (_, cpu) in processes_cpu().items() if pid in pids}


@dataclass
class Server:
    label: str
    command: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    # The store the full path writes to: a SQLite file, or a SQLAlchemy URL (PostgreSQL).
    database: Path | str | None = None
    # A process started before the server and stopped after the backlog is decided: the
    # `deskbridge worker` beside gunicorn (it decides, fires timers and dispatches).
    companion: list[str] | None = None
    # The server decides what it stores (`deskbridge serve`): after the load it keeps running
    # until the backlog is decided, and the decide delay is reported as for the companion.
    decides: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)
    companion_process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def launch(self, command: list[str], log_path: Path) -> subprocess.Popen:
        return subprocess.Popen(
            command,
            env=self.env,
            cwd=ROOT,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self, timeout: float = 60.0) -> None:
        if self.companion:
            log = self.log_path.with_suffix(".companion.log")
            self.companion_process = self.launch(self.companion, log)
        self.process = self.launch(self.command, self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.label} exited early; see {self.log_path}:\n"
                    + self.log_path.read_text()[-2000:]
                )
            if self.answers():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} did not answer on port {self.port} in {timeout} s")

    def answers(self) -> bool:
        """Whether the app answers HTTP (any status): gunicorn's master listens before its
        workers have loaded the app, which takes seconds on a loaded machine."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()
        return True

    def cpu(self) -> float:
        return process_tree_cpu(self.process.pid) if self.process else 0.0

    def companion_cpu(self) -> float:
        return process_tree_cpu(self.companion_process.pid) if self.companion_process else 0.0

    def stop(self) -> None:
        stop_process(self.process)

    def stop_companion(self) -> None:
        stop_process(self.companion_process)


def stop_process(process: subprocess.Popen | None, timeout: float = 15) -> None:
    if not process or process.poll() is not None:
        return
    # SIGINT: waitress raises KeyboardInterrupt and `serve` stops its dispatcher; gunicorn
    # treats SIGINT as a quick shutdown of master and workers; `deskbridge worker` finishes
    # its batch and exits.
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def base_env(database: Path | str | None, log_level: str) -> dict[str, str]:
    """The servers' environment: a bench secret, dry run; `database` is a SQLite file or a
    SQLAlchemy URL."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(
        ZENDESK_WEBHOOK_SECRET=SECRET,
        # Requests are signed once, before the run; keep them inside the replay window.
        ZENDESK_SIGNATURE_TOLERANCE_SECONDS="86400",
        DESKBRIDGE_LOG_LEVEL=log_level,
        PYTHONUNBUFFERED="1",
    )
    if database is not None:
        env["DATABASE_URL"] = store_url(database)
    return env


def store_url(database: Path | str) -> str:
    return database if isinstance(database, str) else f"sqlite:///{database}"


@contextlib.contextmanager
def open_store(database: Path | str):
    """A plain connection to the benchmarked store (no pool: opened for a count or two)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(store_url(database), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def count_rows(database: Path | str) -> dict[str, int]:
    """Rows per table, and events per decider status (undecided, decided, failed)."""
    from sqlalchemy import text

    with open_store(database) as connection:
        counts = {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("events", "tickets", "outbox", "audit")
        }
        counts |= {"undecided": 0, "decided": 0, "failed": 0}
        counts |= dict(
            connection.execute(text("SELECT status, count(*) FROM events GROUP BY status")).all()
        )
    return counts


def migrate_store_at(database: Path | str) -> None:
    """`deskbridge migrate`, as a deployment runs it before gunicorn starts."""
    migrate = subprocess.run(
        [str(BIN / "deskbridge"), "migrate"],
        cwd=ROOT,
        env=base_env(database, "WARNING"),
        capture_output=True,
        text=True,
        check=False,
    )
    if migrate.returncode != 0:
        raise RuntimeError(f"deskbridge migrate failed:\n{migrate.stderr}")


@contextlib.contextmanager
def postgres_database(admin_url: str):
    """A new, empty database on the server at `admin_url`, dropped afterwards: the worker's
    LISTEN/NOTIFY channel and advisory locks are per database, so nothing here wakes or
    blocks the deciders of test runs sharing the server."""
    from sqlalchemy import create_engine, make_url, text

    name = f"bench_ack_{os.getpid()}_{random.getrandbits(32):08x}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Deciding:
    """How far the deciders were when the load stopped, and how long the rest took."""

    decided_in_window: int  # decided during the measured window
    decided_at_stop: int  # decided when the load generator stopped
    stored_at_stop: int
    drain_s: float | None = None  # load's end → last event decided; None: not waited for
    undecided_left: int = 0  # still undecided when the wait ended (0 unless it timed out)
    delay_ms: tuple[float, float, float] | None = None  # received → decided: p50, p99, max
    companion_cpu_s: float = 0.0  # the worker's CPU in the measured window


@dataclass
class Result:
    label: str
    warmup: Load
    measured: Load
    stored: dict[str, int] | None = None
    deciding: Deciding | None = None
    companion: bool = False  # deciding was another process's (deskbridge worker)

    def lost(self) -> int | None:
        """Accepted answers with no stored event (must be 0). Stored may exceed accepted by
        requests still in flight when the load generator stopped (answers it never read)."""
        if self.stored is None:
            return None
        answered = self.warmup.accepted + self.measured.accepted
        return max(0, answered - self.stored["events"])

    def of(self, base: Result) -> float:
        """This run's measured rate as a share of `base`'s (0 when base measured nothing)."""
        return self.measured.rps / base.measured.rps if base.measured.rps else 0.0

    def cpu_ms(self) -> float:
        """Server CPU per measured request, in ms."""
        m = self.measured
        return 1000 * m.server_cpu_s / m.requests if m.requests else 0.0


def wait_until_decided(
    database: Path | str, load_end: datetime, timeout_s: float
) -> tuple[float | None, int, tuple[float, float, float] | None]:
    """Wait for the worker to decide every stored event; (seconds from the load's end to the
    last decision, events still undecided, decide delay p50/p99/max in ms)."""
    from sqlalchemy import func, select

    from deskbridge.store.schema import events

    deadline = time.monotonic() + timeout_s
    while True:
        left = count_rows(database)["undecided"]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    with open_store(database) as connection:
        last = connection.execute(select(func.max(events.c.decided_at))).scalar_one()
        delays = sorted(
            (decided - received).total_seconds() * 1000
            for received, decided in connection.execute(
                select(events.c.received_at, events.c.decided_at).where(
                    events.c.decided_at.is_not(None)
                )
            )
        )
    drain = None if left or last is None else max(0.0, (last - load_end).total_seconds())
    quantiles = None
    if len(delays) >= 2:
        cuts = statistics.quantiles(delays, n=100)
        quantiles = (cuts[49], cuts[98], delays[-1])
    return drain, left, quantiles


def bench(
    server: Server,
    drive,
    warmup_slice: tuple[int, int],
    measure_slice: tuple[int, int],
    warmup_s: float,
    measure_s: float,
    profile: Path | None = None,
    drain_timeout_s: float = 300.0,
) -> Result:
    print(f"\n== {server.label}: {' '.join(server.command[-6:])}", flush=True)
    deciding = None
    server.start()
    try:
        try:
            warm = drive(server.url, *warmup_slice, warmup_s)
            print(f"   warm-up  {warm.rps:8.0f} req/s  ({warm.requests} requests)", flush=True)
            spy = start_profiler(server, profile, measure_s) if profile else None
            decided_before = count_rows(server.database)["decided"] if server.database else 0
            cpu_before, companion_before = server.cpu(), server.companion_cpu()
            database_before = database_cpu(server.database)
            measured = drive(server.url, *measure_slice, measure_s)
            load_end = datetime.now(UTC)
            measured.server_cpu_s = server.cpu() - cpu_before
            # Backends that connected during the window count from zero; ones that closed
            # during it are missed (the pools keep theirs open, so few do either).
            measured.database_cpu_s = sum(
                cpu - database_before.get(pid, 0.0)
                for pid, cpu in database_cpu(server.database).items()
            )
            if server.database is not None:
                at_stop = count_rows(server.database)
                deciding = Deciding(
                    decided_in_window=at_stop["decided"] - decided_before,
                    decided_at_stop=at_stop["decided"],
                    stored_at_stop=at_stop["events"],
                    companion_cpu_s=server.companion_cpu() - companion_before,
                )
            if spy is not None:
                spy.wait(timeout=60)
            if server.decides and deciding is not None:
                deciding.drain_s, deciding.undecided_left, deciding.delay_ms = wait_until_decided(
                    server.database, load_end, drain_timeout_s
                )
        finally:
            server.stop()
        if server.companion and deciding is not None:
            deciding.drain_s, deciding.undecided_left, deciding.delay_ms = wait_until_decided(
                server.database, load_end, drain_timeout_s
            )
    finally:
        server.stop_companion()
    result = Result(
        server.label, warm, measured, deciding=deciding, companion=bool(server.companion)
    )
    if server.database is not None:
        result.stored = count_rows(server.database)
    print_result(result)
    return result


# -- profiling (optional) ---------------------------------------------------------------------


def start_profiler(server: Server, out: Path, seconds: float) -> subprocess.Popen:
    """py-spy, sampling only threads that hold the GIL (where the CPU goes), for the measured
    window; raw collapsed stacks to `out`. Profiling costs throughput: those numbers are not
    the benchmark's."""
    spy = shutil.which("py-spy") or os.environ.get("PY_SPY")
    if not spy:
        raise SystemExit("--profile needs py-spy on PATH (or PY_SPY=/path/to/py-spy)")
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(server.process.pid),
            "--duration",
            str(round(seconds)),
            "--rate",
            "200",
            "--gil",
            "--nonblocking",
            # gunicorn: its workers, where the requests are handled.
            "--subprocesses",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# Where a sample's time goes, by the first matching frame from the leaf up.
BUCKETS = [
    ("logging (log_event → stderr)", ("logging/", "config/logging.py")),
    ("sqlite3 C calls (execute/commit)", ("do_execute ", "do_commit ", "_exec_insertmany")),
    ("pydantic (TicketState validate/dump)", ("pydantic/", "pydantic_core")),
    ("prometheus metrics", ("prometheus_client/",)),
    ("SQLAlchemy Core (compile, cache, result)", ("sqlalchemy/",)),
    ("alembic", ("alembic/",)),
    ("JSON (parse, dumps)", ("json/",)),
    ("deskbridge code (parse, rules, state)", ("connectors/", "workflows/", "store/", "config/")),
    ("Flask / Werkzeug", ("flask/", "werkzeug/")),
    ("waitress (HTTP)", ("waitress/",)),
]


def summarize_profile(path: Path, top: int = 25) -> None:
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    buckets: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [
            f
            for f in stack.split(";")
            if not f.startswith("process ") and not f.startswith("thread ")
        ]
        if not frames:
            continue
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        bucket = "other"
        for frame in reversed(frames):
            hit = next((name for name, keys in BUCKETS if any(k in frame for k in keys)), None)
            if hit:
                bucket = hit
                break
        buckets[bucket] = buckets.get(bucket, 0) + count
    if not total:
        print("   profile: no samples")
        return
    print(f"\n== profile: {total} GIL-holding samples at 200 Hz (raw stacks: {path})")
    print("   time by first matching frame from the leaf:")
    for name, count in sorted(buckets.items(), key=lambda x: -x[1]):
        print(f"   {100 * count / total:5.1f}%  {name}")
    print("   inclusive, top functions:")
    for frame, count in sorted(inclusive.items(), key=lambda x: -x[1])[:top]:
        print(f"   {100 * count / total:5.1f}%  {frame[:110]}")
    print("   self, top functions:")
    for frame, count in sorted(own.items(), key=lambda x: -x[1])[:15]:
        print(f"   {100 * count / total:5.1f}%  {frame[:110]}")


def print_result(r: Result) -> None:
    m = r.measured
    lat = (
        f"p50 {m.p50_ms:.1f} ms  p90 {m.p90_ms:.1f} ms  p99 {m.p99_ms:.1f} ms"
        if m.p50_ms is not None
        else "latency n/a"
    )
    print(f"   measured {m.rps:8.0f} req/s  ({m.requests} in {m.seconds:.1f} s)  {lat}")
    cpu_ms = r.cpu_ms()
    print(
        f"   non-2xx {m.non_2xx}  socket errors {m.socket_errors}  "
        f"server CPU {m.server_cpu_s:.1f} s ({cpu_ms:.2f} ms/request)  "
        f"load generator CPU {m.client_cpu_s:.1f} s"
    )
    if m.database_cpu_s:
        db_ms = 1000 * m.database_cpu_s / m.requests if m.requests else 0.0
        print(
            f"   PostgreSQL server processes of this database: CPU {m.database_cpu_s:.1f} s "
            f"({db_ms:.2f} ms/request; the worker's queries included)"
        )
    if r.stored is not None:
        answered = r.warmup.accepted + m.accepted
        dupes = r.warmup.duplicate + m.duplicate
        print(
            f"   accepted answers {answered} (warm-up {r.warmup.accepted} + measured "
            f"{m.accepted}), duplicate {dupes}, other 200 {r.warmup.other_200 + m.other_200}"
        )
        print(
            f"   stored: events {r.stored['events']}  tickets {r.stored['tickets']}  "
            f"outbox {r.stored['outbox']}  audit {r.stored['audit']}  "
            f"failed to decide {r.stored['failed']}  "
            f"→ lost {r.lost()}, stored but unanswered (in flight at stop) "
            f"{r.stored['events'] - answered}"
        )
    d = r.deciding
    if d is not None:
        rate = d.decided_in_window / m.seconds if m.seconds else 0.0
        print(
            f"   decided when the load stopped: {d.decided_at_stop} of {d.stored_at_stop} "
            f"stored ({d.decided_in_window} in the measured window, {rate:.0f}/s)"
        )
    if d is not None and d.delay_ms is not None:
        drain = (
            f"{d.drain_s:.1f} s after the load stopped"
            if d.drain_s is not None
            else f"NOT within the wait: {d.undecided_left} still undecided"
        )
        p50, p99, most = d.delay_ms
        who = f"worker CPU {d.companion_cpu_s:.1f} s in the window; " if r.companion else ""
        print(
            f"   {who}backlog decided {drain}; "
            f"decide delay (received → decided) p50 {p50 / 1000:.2f} s  p99 {p99 / 1000:.2f} s  "
            f"max {most / 1000:.2f} s"
        )
    if r.stored is not None and (m.wrapped or r.warmup.wrapped):
        print("   WARNING: the request list wrapped around; later requests were duplicates")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (both apps)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument(
        "--events",
        type=int,
        default=40000,
        help="distinct events for the measured window of each full-path run",
    )
    parser.add_argument(
        "--active-tickets",
        type=int,
        default=1000,
        help="follow-up events go to one of this many most recently opened tickets",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="DESKBRIDGE_LOG_LEVEL for deskbridge serve (default: its default)",
    )
    parser.add_argument(
        "--no-gunicorn",
        action="store_true",
        help="skip the gunicorn gthread -w 2 --threads 4 web part on SQLite",
    )
    parser.add_argument(
        "--gunicorn-postgres",
        action="store_true",
        help="also run the production shape: gunicorn gthread -w 2 --threads 4 (web only) on "
        "PostgreSQL with one `deskbridge worker` deciding beside it, in a database of its own "
        "created on --pg-url's server and dropped afterwards",
    )
    parser.add_argument(
        "--pg-url",
        default=PG_URL,
        help="PostgreSQL to create the benchmark's database on (default: TEST_DATABASE_URL, "
        "else the test database's server)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for the worker to decide the backlog after the load",
    )
    parser.add_argument(
        "--python-client",
        action="store_true",
        help="use the Python threaded client even if wrk is installed",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="RAW_FILE",
        help="profile the full path under waitress with py-spy instead: raw "
        "stacks to RAW_FILE and a summary (no bare or gunicorn runs); with "
        "--gunicorn-postgres, gunicorn's web workers on PostgreSQL instead",
    )
    parser.add_argument(
        "--variant",
        choices=[*sorted(VARIANTS), "bare"],
        help="run only this variant of serve under waitress (ack-only: see VARIANTS), or only "
        "the bare endpoint (bare), e.g. with --profile",
    )
    parser.add_argument(
        "--no-ack-only",
        action="store_true",
        help="skip the ack-only run (serve without its background threads) between bare and full",
    )
    parser.add_argument(
        "--no-full",
        action="store_true",
        help="skip the full path (serve with its decider, dispatcher and timers): bare and "
        "ack-only only, for A/B runs of the acknowledgement",
    )
    parser.add_argument(
        "--split-sqlite",
        action="store_true",
        help="also run serve's acknowledgement (background threads off) with one `deskbridge "
        "worker` deciding beside it on the same SQLite file: the decider in a process of its "
        "own, the two processes meeting at SQLite's one writer (its busy handler)",
    )
    parser.add_argument(
        "--no-waitress",
        action="store_true",
        help="skip the waitress runs (bare, ack-only, full): with --gunicorn-postgres, "
        "gunicorn's bare endpoint and its runs on PostgreSQL only",
    )
    parser.add_argument(
        "--no-pg-worker",
        action="store_true",
        help="with --gunicorn-postgres, only the acknowledgement alone on PostgreSQL "
        "(no run with the worker; --profile profiles that one)",
    )
    parser.add_argument(
        "--gunicorn-threads",
        type=int,
        default=4,
        help="threads per gunicorn worker (2 workers; default 4: the 8 request threads of "
        "waitress' runs). On PostgreSQL each request thread waits for its COMMIT's WAL "
        "flush, so threads / flush time bounds the acknowledgements per second",
    )
    parser.add_argument("--serve-variant", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve_bare:
        serve_bare(args.serve_bare, args.threads)
        return 0
    if args.serve_variant:
        name, port = args.serve_variant.split(":")
        serve_variant(name, int(port), args.threads)
        return 0

    use_wrk = shutil.which("wrk") is not None and not args.python_client
    work = Path(tempfile.mkdtemp(prefix="deskbridge-bench-"))
    try:
        warm_n = 12000
        bodies = make_events(warm_n + args.events, args.active_tickets)
        requests_file = work / "requests.tsv"
        write_requests(requests_file, bodies)
        sizes = [len(b) for b in bodies]
        tickets = len({re.search(rb'"zen:ticket:(\d+)"', b)[1] for b in bodies})
        lua = work / "signed.lua"
        lua.write_text(LUA)
        warm_slice, measure_slice = (0, warm_n), (warm_n, warm_n + args.events)

        if use_wrk:

            def drive(url, first, last, seconds):
                return run_wrk(url, requests_file, lua, first, last, seconds, args.connections)

            generator = "wrk -t1 (Lua, pre-signed requests)"
        else:

            def drive(url, first, last, seconds):
                return run_python_client(url, requests_file, first, last, seconds, args.connections)

            generator = "Python threaded client"
            if not args.python_client:
                generator += " (wrk not found)"

        print(f"deskbridge webhook throughput — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}; Python {sys.version.split()[0]}")
        print(f"code: {ROOT} at {code_revision()}")
        print(
            f"load: {generator}, {args.connections} connections, "
            f"{args.warmup:g} s warm-up + {args.duration:g} s measured, loopback"
        )
        print(
            f"events: {len(bodies)} distinct comment_added bodies on {tickets} tickets "
            f"(~1 in {len(bodies) / tickets:.1f} opens a ticket; follow-ups spread over the "
            f"{args.active_tickets} newest), {min(sizes)}-{max(sizes)} bytes "
            f"(mean {statistics.mean(sizes):.0f}), signed HMAC-SHA256"
        )
        if not use_wrk:
            print("NOTE: wrk not found, using the Python threaded client instead")

        db = work / "waitress.db"
        full = Server(
            f"full path: deskbridge serve (waitress --threads {args.threads}, SQLite)",
            [
                str(BIN / "deskbridge"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port := free_port()),
                "--threads",
                str(args.threads),
            ],
            base_env(db, args.log_level),
            port,
            work / "serve.log",
            database=db,
            decides=True,
        )
        bare = Server(
            f"bare Flask endpoint (waitress --threads {args.threads})",
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve-bare",
                str(port := free_port()),
                "--threads",
                str(args.threads),
            ],
            base_env(None, args.log_level),
            port,
            work / "bare.log",
        )
        g_args = ["-w", "2", "--threads", str(args.gunicorn_threads), "-k", "gthread"]
        g_label = f"gunicorn gthread -w 2 --threads {args.gunicorn_threads}"

        def gunicorn_server(label: str, app: str, database, log: str, **kwargs) -> Server:
            return Server(
                label,
                [
                    str(BIN / "gunicorn"),
                    *g_args,
                    "-b",
                    f"127.0.0.1:{(port := free_port())}",
                    *(["--chdir", str(Path(__file__).resolve().parent)] if not database else []),
                    app,
                ],
                base_env(database, args.log_level),
                port,
                work / log,
                database=database,
                **kwargs,
            )

        def run_gunicorn_postgres(profile: Path | None = None, worker: bool = True) -> Result:
            """The production shape: gunicorn (web only) on PostgreSQL, one worker deciding;
            without `worker`, the acknowledgement alone (nothing decides during the load)."""
            from deskbridge.store.db import postgres_available

            if not postgres_available(args.pg_url):
                raise SystemExit(f"PostgreSQL is not reachable at {args.pg_url}")
            with postgres_database(args.pg_url) as pg:
                migrate_store_at(pg)
                return bench(
                    gunicorn_server(
                        f"{g_label}: deskbridge.app:create_app() on PostgreSQL, "
                        + ("+ one `deskbridge worker` deciding" if worker else "web only"),
                        "deskbridge.app:create_app()",
                        pg,
                        "gunicorn-pg.log" if worker else "gunicorn-pg-web.log",
                        companion=[str(BIN / "deskbridge"), "worker"] if worker else None,
                    ),
                    drive,
                    warm_slice,
                    measure_slice,
                    args.warmup,
                    args.duration,
                    profile=profile,
                    drain_timeout_s=args.drain_timeout,
                )

        def variant_server(name: str) -> Server:
            port = free_port()
            return Server(
                f"variant {name} (waitress --threads {args.threads}, SQLite): {VARIANTS[name]}",
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--serve-variant",
                    f"{name}:{port}",
                    "--threads",
                    str(args.threads),
                ],
                base_env(work / f"{name}.db", args.log_level),
                port,
                work / f"{name}.log",
                database=work / f"{name}.db",
            )

        if args.variant:
            bench(
                bare if args.variant == "bare" else variant_server(args.variant),
                drive,
                warm_slice,
                measure_slice,
                args.warmup,
                args.duration,
                profile=args.profile.resolve() if args.profile else None,
            )
            if args.profile:
                summarize_profile(args.profile.resolve())
            return 0
        if args.profile and args.gunicorn_postgres:
            run_gunicorn_postgres(profile=args.profile.resolve(), worker=not args.no_pg_worker)
            summarize_profile(args.profile.resolve())
            return 0
        if args.profile:
            bench(
                full,
                drive,
                warm_slice,
                measure_slice,
                args.warmup,
                args.duration,
                profile=args.profile.resolve(),
            )
            summarize_profile(args.profile.resolve())
            return 0

        def run(server: Server | None) -> Result | None:
            if server is None:
                return None
            return bench(
                server,
                drive,
                warm_slice,
                measure_slice,
                args.warmup,
                args.duration,
                drain_timeout_s=args.drain_timeout,
            )

        bare_r = run(None if args.no_waitress else bare)
        ack_r = run(None if args.no_waitress or args.no_ack_only else variant_server("ack-only"))
        full_r = run(None if args.no_waitress or args.no_full else full)
        split_r = None
        if args.split_sqlite:
            split = variant_server("ack-only")
            split.label = (
                f"split: serve's acknowledgement (waitress --threads {args.threads}) + one "
                "`deskbridge worker` deciding, on one SQLite file"
            )
            split.database = work / "split.db"
            split.env = base_env(split.database, args.log_level)
            migrate_store_at(split.database)
            split.companion = [str(BIN / "deskbridge"), "worker"]
            split_r = run(split)

        g_bare_r = g_full_r = g_pg_r = None
        if (not args.no_gunicorn or args.gunicorn_postgres) and (BIN / "gunicorn").exists():
            g_bare_r = bench(
                gunicorn_server(
                    f"{g_label}: bare Flask endpoint",
                    "webhook_throughput:create_bare_app()",
                    None,
                    "gunicorn-bare.log",
                ),
                drive,
                warm_slice,
                measure_slice,
                args.warmup,
                args.duration,
            )
        if g_bare_r and not args.no_gunicorn:
            gdb = work / "gunicorn.db"
            migrate_store_at(gdb)
            g_full_r = bench(
                gunicorn_server(
                    f"{g_label}: deskbridge.app:create_app() on SQLite (web only, no worker)",
                    "deskbridge.app:create_app()",
                    gdb,
                    "gunicorn.log",
                ),
                drive,
                warm_slice,
                measure_slice,
                args.warmup,
                args.duration,
            )
        g_pg_web_r = None
        if g_bare_r and args.gunicorn_postgres:
            g_pg_web_r = run_gunicorn_postgres(worker=False)
            g_pg_r = None if args.no_pg_worker else run_gunicorn_postgres()

        print("\n== summary")
        if full_r is not None and bare_r is not None:
            ratio = full_r.of(bare_r)
            print(
                f"   waitress: full {full_r.measured.rps:.0f} req/s, bare "
                f"{bare_r.measured.rps:.0f} req/s, ratio full/bare {ratio:.2f} "
                f"({'meets' if ratio >= 0.5 else 'BELOW'} the 0.5 aim); full p99 "
                f"{full_r.measured.p99_ms or 0.0:.0f} ms"
            )
        if ack_r is not None and bare_r is not None:
            ack_ratio = ack_r.of(bare_r)
            print(
                f"   waitress, acknowledgement alone (serve, background threads off): "
                f"{ack_r.measured.rps:.0f} req/s, ratio {ack_ratio:.2f}; p99 "
                f"{ack_r.measured.p99_ms or 0.0:.0f} ms; lost {ack_r.lost()}"
            )
            # Steadier than the rates on a shared machine: the server's CPU per request.
            ack_cpu, bare_cpu = ack_r.cpu_ms(), bare_r.cpu_ms()
            print(
                f"   server CPU per request: acknowledgement {ack_cpu:.2f} ms, bare "
                f"{bare_cpu:.2f} ms ({ack_cpu / bare_cpu if bare_cpu else 0:.2f}x)"
            )
        if split_r is not None and bare_r is not None:
            print(
                f"   split (ack in serve, deciding in a worker, SQLite): "
                f"{split_r.measured.rps:.0f} req/s, ratio "
                f"{split_r.of(bare_r):.2f}; "
                f"p99 {split_r.measured.p99_ms or 0.0:.0f} ms; lost {split_r.lost()}"
            )
        if full_r is not None:
            print(f"   events lost (accepted but not stored): {full_r.lost()}")
        runs = (
            ("SQLite, web only", g_full_r),
            ("PostgreSQL, web only (the acknowledgement alone)", g_pg_web_r),
            ("PostgreSQL + worker", g_pg_r),
        )
        for name, r in runs:
            if r is None:
                continue
            rps = r.measured.rps
            like = r.of(g_bare_r)
            p99 = r.measured.p99_ms or 0.0
            waitress = f"; against waitress bare {r.of(bare_r):.2f}" if bare_r else ""
            print(
                f"   {g_label} on {name}: full {rps:.0f} req/s (p99 {p99:.0f} ms), gunicorn "
                f"bare {g_bare_r.measured.rps:.0f} req/s: ratio {like:.2f} "
                f"({'meets' if like >= 0.5 else 'BELOW'} 0.5){waitress}; p99 "
                f"{'under' if p99 < 50 else 'NOT under'} 50 ms; lost {r.lost()}"
            )
            # Steadier than the rates on a shared machine: CPU per request, by process.
            m = r.measured
            per = (1000 / m.requests) if m.requests else 0.0
            print(
                f"      CPU per request: web {m.server_cpu_s * per:.2f} ms, PostgreSQL "
                f"{m.database_cpu_s * per:.2f} ms"
                + (f", worker {r.deciding.companion_cpu_s * per:.2f} ms" if r.companion else "")
                + f"; gunicorn bare {g_bare_r.cpu_ms():.2f} ms"
            )
        failed = any(
            r.lost()
            for r in (full_r, ack_r, split_r, g_full_r, g_pg_web_r, g_pg_r)
            if r is not None
        )
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def code_revision() -> str:
    """The commit measured, and whether tracked files outside benchmarks/ differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return os.environ.get("DESKBRIDGE_BENCH_REVISION", "unknown (not a git checkout)")
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks")
    count = len(changed.splitlines())
    return head + (f" with {count} uncommitted file(s) changed" if count else " (clean)")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
