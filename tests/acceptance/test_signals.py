"""SIGTERM, as systemd, Docker and Kubernetes stop a service, stops `serve` and `worker` the way
Ctrl-C does: background threads finish, `runtime.stopped` is logged, the exit status is 0."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from deskbridge.app import STOP_TIMEOUT
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.outbox import DONE, PENDING, insert_actions
from deskbridge.store.schema import outbox
from deskbridge.workflows.actions import ActionKind, build_action
from tests.conftest import process_env

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_sigterm_stops_like_ctrl_c(command, tmp_path: Path):
    env = {
        **process_env(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deskbridge.db'}",
        "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG),
    }
    args = [sys.executable, "-m", "deskbridge.cli", command]
    if command == "serve":
        args += ["--port", str(_free_port())]
    process = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        for line in process.stderr:
            lines.append(line)
            if "deskbridge worker running" in line or "deskbridge listening" in line:
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(60), "".join(lines)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=5)
    assert any("runtime.stopped" in line for line in lines), "".join(lines)


class SlowPagerDuty:
    """PagerDuty's Events API answering 202 after `delay` seconds (within the client's 10 s)."""

    def __init__(self, delay: float):
        self.received = self.answered = 0
        lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    fake.received += 1
                time.sleep(delay)
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"success"}')
                with lock:
                    fake.answered += 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/enqueue"


def test_sigterm_mid_dispatch_finishes_and_records_the_actions_under_way(tmp_path: Path):
    # SIGTERM while four pages are being sent (DESKBRIDGE_DISPATCH_CONCURRENCY's default) and
    # eight more of the claimed batch wait: the four are finished and recorded, the eight are
    # neither sent nor left leased, and the process exits before systemd's TimeoutStopSec.
    # (Before: the whole claimed batch was sent, at most 50 slow calls past the SIGTERM, and
    # what the perform threads finished after the 10 s join went unrecorded.)
    url = f"sqlite:///{tmp_path / 'deskbridge.db'}"
    engine = create_store_engine(url)
    migrate_store(engine)
    with engine.begin() as connection:
        insert_actions(
            connection,
            [
                build_action(
                    f"zendesk:{7000 + n}",
                    "oncall",
                    ActionKind.pager,
                    "t",
                    reason="after hours",
                    event_action="trigger",
                    dedup_key=f"zendesk:{7000 + n}",
                )
                for n in range(12)
            ],
            datetime.now(UTC),
        )
    pagerduty = SlowPagerDuty(delay=1.5)
    env = {
        **process_env(),
        "DATABASE_URL": url,
        "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG),
        "PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY0000000000000000000001",
        "PAGERDUTY_API_URL": pagerduty.url,
        "DESKBRIDGE_DISPATCH_CONCURRENCY": "4",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "deskbridge.cli", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while pagerduty.received < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pagerduty.received == 4, log.read_text()
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = process.wait(timeout=60)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    now = datetime.now(UTC)
    with engine.connect() as connection:
        rows = connection.execute(
            select(outbox.c.status, outbox.c.attempts, outbox.c.next_attempt_at <= now)
        ).all()
    engine.dispose()
    lines = log.read_text().splitlines()
    # "date time LEVEL logger event fields…": the events, in order.
    said = [line.split()[4] for line in lines if len(line.split()) > 4]

    assert (code, pagerduty.received, pagerduty.answered) == (0, 4, 4), "\n".join(lines)
    assert took < STOP_TIMEOUT
    # The four sent are recorded; the eight never started are due again, no attempt counted.
    assert sorted(tuple(r) for r in rows) == sorted(
        [(DONE, 1, False)] * 4 + [(PENDING, 0, True)] * 8
    )
    # Said once the dispatcher had recorded them, not while it was still sending.
    assert said.count("outbox.done") == 4
    assert said.index("runtime.stopped") > max(i for i, e in enumerate(said) if e == "outbox.done")


def test_sigterm_is_a_clean_stop_from_before_the_loops_start(monkeypatch):
    # The dispatcher started before the handler was set: a SIGTERM in between (systemd
    # stopping a service just started; seen under load in this file's test above, exit -15)
    # killed the worker mid-dispatch instead of stopping it cleanly.
    import threading

    from click.testing import CliRunner

    from deskbridge import cli

    seen = []

    class Runtime:
        stop = threading.Event()

        def start_background(self) -> None:
            seen.append(signal.getsignal(signal.SIGTERM))
            self.stop.set()

        def stop_background(self) -> None:
            seen.append("stopped")

    monkeypatch.setattr(cli, "_prepare_runtime", lambda takes_webhooks: Runtime())
    before = signal.getsignal(signal.SIGTERM)
    try:
        result = CliRunner().invoke(cli.main, ["worker"])
    finally:
        signal.signal(signal.SIGTERM, before)

    assert result.exit_code == 0, result.output
    assert seen == [signal.default_int_handler, "stopped"]
