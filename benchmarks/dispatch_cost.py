"""CPU per Slack action performed: the dispatcher draining a filled outbox against a fake Slack.

The end-to-end soak (`sustained_rate.py --slack fake`) needs a quiet machine and ten minutes;
this measures the part that did not keep up, the dispatcher performing real Slack posts, in
CPU time, which a busy machine disturbs far less than wall time.

1. Fill (once, `--store` kept for later runs): `--events` signed Zendesk events of the soak's
   mix (benchmarks.webhook_throughput.make_events, tickets assigned across `--agents` agents of
   the soak's rules: 20 DM conversations besides the example's channels) go through the webhook
   (Flask test client) and the decider, due timers are fired, and the store is kept as a
   template: its outbox holds the actions `serve` would perform for those events.
2. Drain (`--runs` times, each on a fresh copy of the template): the test suite's fake Slack
   (tests/fakeslack.py) runs in a child process on 127.0.0.1, so its CPU is not counted; this
   process builds the runtime as `serve` does (SLACK_BOT_TOKEN and SLACK_API_URL set, per-
   channel pacing `--slack-interval`) and calls `dispatcher.dispatch_due()` until the outbox
   has no pending row. Reported: the process's CPU seconds (user + system, every thread) per
   action performed, SQL statements per action (counted with an engine event), Slack calls
   and the TCP connections they came on (counted by the fake server), and the wall time.

Run main and a branch in the same minutes on the same template, each with its own install:

    .venv/bin/python benchmarks/dispatch_cost.py --store /tmp/outbox.db            # fill + run
    ../base/.venv/bin/python benchmarks/dispatch_cost.py --store /tmp/outbox.db    # main's code

(the script, the template and the fake Slack are this checkout's; `deskbridge` is whichever
the interpreter imports). `--profile FILE` writes a cProfile of the drain.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sustained_rate import FAKE_TEAM, FAKE_TOKEN, write_spread_rules
from webhook_throughput import (
    ROOT,
    SECRET,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_PATH,
    build_signature,
    make_events,
)

sys.path.insert(0, str(ROOT))


def measured_code() -> str:
    """The checkout the imported `deskbridge` comes from, and its commit."""
    import subprocess

    import deskbridge.app

    where = Path(deskbridge.app.__file__).resolve().parent
    head = subprocess.run(
        ["git", "-C", str(where), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{where} at {head or 'unknown'}"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def settings_env(database: Path, rules: Path, slack_url: str | None, interval: float) -> dict:
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "DESKBRIDGE_CONFIG": str(rules),
        "ZENDESK_WEBHOOK_SECRET": SECRET,
        "ZENDESK_SIGNATURE_TOLERANCE_SECONDS": "86400",
        "DESKBRIDGE_LOG_LEVEL": "WARNING",
        "DESKBRIDGE_SLACK_MIN_INTERVAL": str(interval),
    }
    if slack_url:
        env.update(SLACK_BOT_TOKEN=FAKE_TOKEN, SLACK_API_URL=slack_url, SLACK_TEAM_ID=FAKE_TEAM)
    return env


@contextlib.contextmanager
def environment(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def fill(store: Path, rules: Path, events: int, agents: list[tuple[str, str]]) -> None:
    """Events through the webhook and the decider, due timers fired: the outbox `serve` has."""
    from deskbridge.app import create_app, create_runtime
    from deskbridge.config.settings import Settings
    from deskbridge.store.db import migrate_store

    with environment(settings_env(store, rules, None, 0.01)):
        runtime = create_runtime(Settings())
    migrate_store(runtime.engine)
    client = create_app(runtime=runtime).test_client()
    for body in make_events(events, agents=agents):
        timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = client.post(
            WEBHOOK_PATH,
            data=body,
            content_type="application/json",
            headers={
                SIGNATURE_HEADER: build_signature(timestamp, body),
                TIMESTAMP_HEADER: timestamp,
            },
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
    decider = runtime.service.decider
    while decider.decide_pending() or runtime.service.fire_due_timers(runtime.clock()):
        pass
    runtime.engine.dispose()


def make_certificate(workdir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), and its key."""
    import subprocess

    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"),
            *("ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def serve_fake_slack(connection, tls: tuple[Path, Path] | None) -> None:
    """A child process: the fake Slack (its URL sent first); on any message, a summary back."""
    import ssl

    from tests.fakeslack import FakeSlack

    context = None
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
    fake = FakeSlack(tls=context).start()
    connection.send(fake.url)
    connection.recv()
    with fake.lock:
        posts = fake.ok_calls("chat.postMessage")
        keys = [
            (p.args["metadata"]["event_payload"]["key"], fake.conversation(p.args["channel"]))
            for p in posts
        ]
        summary = {
            "calls": len(fake.calls),
            "posts": len(posts),
            "doubled": len(keys) - len(set(keys)),
            "connections": getattr(fake, "connections", None),
        }
    connection.send(summary)
    fake.stop()


def count_actions(engine) -> dict[str, int]:
    from sqlalchemy import func, select

    from deskbridge.store.schema import outbox

    with engine.connect() as connection:
        rows = connection.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
        return dict(rows.all())


def drain(
    store: Path, rules: Path, interval: float, profile: str | None, tls: tuple[Path, Path] | None
) -> dict:
    from sqlalchemy import event

    from deskbridge.app import create_runtime
    from deskbridge.config.settings import Settings

    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve_fake_slack, args=(child, tls), daemon=True)
    process.start()
    url = parent.recv()
    with environment(settings_env(store, rules, url, interval)):
        runtime = create_runtime(Settings())
    before = count_actions(runtime.engine)
    statements = 0

    def counted(*args) -> None:
        nonlocal statements
        statements += 1

    event.listen(runtime.engine, "before_cursor_execute", counted)
    # CPU time, not wall: waits on Slack and on SQLite's writer are not what is measured.
    profiler = cProfile.Profile(time.process_time) if profile else None
    cpu, wall = cpu_seconds(), time.monotonic()
    if profiler:
        profiler.enable()
    passes = 0
    while True:
        passes += 1
        runtime.dispatcher.dispatch_due()
        if not count_actions(runtime.engine).get("pending"):
            break
        time.sleep(0.01)  # paced rows come due within BOOK_WITHIN of a slot
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    cpu, wall = cpu_seconds() - cpu, time.monotonic() - wall
    event.remove(runtime.engine, "before_cursor_execute", counted)
    after = count_actions(runtime.engine)
    if runtime.dispatcher._pool is not None:
        runtime.dispatcher._pool.shutdown()
    runtime.engine.dispose()
    parent.send("stop")
    slack = parent.recv()
    process.join()
    performed = after.get("done", 0) - before.get("done", 0)
    return {
        "performed": performed,
        "dead": after.get("dead", 0) - before.get("dead", 0),
        "cpu": cpu,
        "wall": wall,
        "statements": statements,
        "passes": passes,
        **slack,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="the filled store: made if missing, reused")
    parser.add_argument("--events", type=int, default=1500, help="events to fill with")
    parser.add_argument("--agents", type=int, default=20, help="agents added (DM conversations)")
    parser.add_argument("--slack-interval", type=float, default=0.01, help="per-channel pacing, s")
    parser.add_argument("--runs", type=int, default=3, help="drains, each on a fresh copy")
    parser.add_argument(
        "--tls", action="store_true", help="the fake Slack over HTTPS (a self-signed certificate)"
    )
    parser.add_argument("--concurrency", type=int, help="DESKBRIDGE_DISPATCH_CONCURRENCY")
    parser.add_argument(
        "--profile",
        help="write a cProfile of the (last) drain here (main thread only: use it "
        "with --concurrency 1)",
    )
    args = parser.parse_args(argv)
    if args.concurrency:
        os.environ["DESKBRIDGE_DISPATCH_CONCURRENCY"] = str(args.concurrency)

    workdir = Path(tempfile.mkdtemp(prefix="deskbridge-dispatch-"))
    rules = workdir / "rules.yaml"
    agents = write_spread_rules(rules, args.agents)
    store = args.store or workdir / "template.db"
    if not store.exists():
        started = time.monotonic()
        try:
            fill(store, rules, args.events, agents)
        except BaseException:
            store.unlink(missing_ok=True)  # no half-filled template for the next run
            raise
        print(f"filled {store} from {args.events} events in {time.monotonic() - started:.0f} s")
    tls = None
    if args.tls:
        tls = make_certificate(workdir)
        os.environ["SSL_CERT_FILE"] = str(tls[0])  # the client trusts it as it trusts Slack
    print(f"code: {measured_code()}  load: {os.getloadavg()[0]:.1f}")
    for run in range(args.runs):
        copy = workdir / f"run{run}.db"
        shutil.copyfile(store, copy)
        got = drain(copy, rules, args.slack_interval, args.profile, tls)
        n = max(got["performed"], 1)
        print(
            f"run {run + 1}: {got['performed']} actions performed ({got['dead']} dead), "
            f"{got['posts']} posts, {got['calls']} Slack calls on {got['connections']} "
            f"connections, doubled {got['doubled']}; "
            f"CPU {got['cpu']:.2f} s = {1000 * got['cpu'] / n:.2f} ms/action "
            f"({1000 * got['cpu'] / max(got['posts'], 1):.2f} ms/post), "
            f"{got['statements'] / n:.1f} SQL statements/action, wall {got['wall']:.1f} s "
            f"({got['passes']} passes), load {os.getloadavg()[0]:.1f}"
        )
    shutil.rmtree(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
