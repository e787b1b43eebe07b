"""`deskbridge serve` killed with SIGKILL right after acknowledging a burst, then restarted:
every acknowledged event is stored, decided once, and its actions are in the outbox exactly
once (the kill lands while the decider is still working through the burst)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.store.db import create_store_engine
from deskbridge.store.schema import events, outbox
from tests.conftest import TEST_SECRET, signed_headers

# Starts real `deskbridge serve` processes (still part of `make test`).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DESKBRIDGE = Path(sys.executable).with_name("deskbridge")
TICKETS = 20
REPLIES = 4  # per ticket: call_customer + tag + note at the 3rd, notify at the 4th


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path | str, port: int, log: Path, **extra: str) -> subprocess.Popen:
    """`deskbridge serve` on `db` (a SQLite file, or a database URL), ready to answer."""
    env = {
        **os.environ,
        "DATABASE_URL": db if isinstance(db, str) else f"sqlite:///{db}",
        "ZENDESK_WEBHOOK_SECRET": TEST_SECRET,
        "DESKBRIDGE_LOG_LEVEL": "WARNING",
        "DESKBRIDGE_DISPATCH_LEASE_SECONDS": "3",
    }
    for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_API_TOKEN", "SLACK_BOT_TOKEN", "DESKBRIDGE_CONFIG"):
        env.pop(name, None)
    env.update(extra)
    process = subprocess.Popen(
        [str(DESKBRIDGE), "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return process
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    process.kill()
    pytest.fail("deskbridge serve did not become ready:\n" + log.read_text())


# Events from the last hour, so SLA deadlines (hours away) stay out of this test's outbox.
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def comment_body(ticket: int, n: int) -> bytes:
    at = START + timedelta(minutes=n)
    return json.dumps(
        {
            "type": "zen:event-type:ticket.comment_added",
            "id": f"evt-{ticket}-{n}",
            "time": at.isoformat().replace("+00:00", "Z"),
            "subject": f"zen:ticket:{ticket}",
            "detail": {
                "id": str(ticket),
                "status": "OPEN",
                "priority": "NORMAL",
                "assignee_id": "900",
                "requester_id": "77",
                "tags": [],
            },
            "event": {
                "comment": {
                    "id": f"{ticket}{n:03d}",
                    "is_public": True,
                    "body": "…",
                    "author": {"id": "900", "is_staff": True, "name": "A"},
                }
            },
        }
    ).encode()


def deliver(port: int, body: bytes) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/zendesk",
        data=body,
        method="POST",
        headers=signed_headers(body, datetime.now(UTC)),
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, OSError):
        return 0


def open_around_the_clock(tmp_path: Path) -> str:
    """The example rules with business hours every hour of every day: the 4th reply's lead
    alert (held outside business hours to the next opening) is due whenever the test runs."""
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    rules["business_hours"] = {
        "timezone": "Europe/London",
        "week": {d: ["00:00-24:00"] for d in days},
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    return str(path)


def test_sigkill_after_a_burst_loses_and_doubles_nothing(tmp_path):
    db, log = tmp_path / "deskbridge.db", tmp_path / "serve.log"
    config = open_around_the_clock(tmp_path)
    port = free_port()
    server = start_server(db, port, log, DESKBRIDGE_CONFIG=config)
    bodies = [
        comment_body(t, n) for n in range(1, REPLIES + 1) for t in range(1000, 1000 + TICKETS)
    ]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda b: deliver(port, b), bodies))
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    acknowledged = {json.loads(b)["id"] for b, s in zip(bodies, statuses, strict=True) if s == 200}
    assert len(acknowledged) == len(bodies), f"not every delivery was acknowledged: {statuses}"

    engine = create_store_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        stored = set(connection.execute(select(events.c.dedupe_key)).scalars())
    assert stored == {f"zendesk:event:{key}" for key in acknowledged}

    # Restart; Zendesk redelivers everything (it may not have seen our 200s).
    port = free_port()
    server = start_server(db, port, log, DESKBRIDGE_CONFIG=config)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            again = list(pool.map(lambda b: deliver(port, b), bodies))
        assert set(again) == {200}
        # The restarted decider decides what the killed one had not (each event once), and
        # the dispatcher performs (dry-run) every queued action once.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                pending = connection.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.status != "done")
                ).scalar_one()
                undecided = connection.execute(
                    select(func.count()).select_from(events).where(events.c.status != "decided")
                ).scalar_one()
            if pending == 0 and undecided == 0:
                break
            time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)

    with engine.connect() as connection:
        # Only the tickets' actions: a scheduled job (a digest, a hand-off) falling due while
        # the test runs would add its own row, depending on the hour CI happens to run at.
        rows = connection.execute(
            select(outbox.c.ticket, outbox.c.action, outbox.c.status).where(
                outbox.c.ticket.like("zendesk:%")
            )
        ).all()
        event_count = connection.execute(select(func.count()).select_from(events)).scalar_one()
    engine.dispose()
    assert event_count == len(bodies)
    expected = sorted(
        (f"zendesk:{t}", action, "done")
        for t in range(1000, 1000 + TICKETS)
        # the 3-response rule's four, and routing asking for a department (no subject)
        for action in ("call_customer", "tag", "note", "notify", "notify")
    )
    assert sorted(tuple(r) for r in rows) == expected
