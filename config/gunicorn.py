"""gunicorn settings for deskbridge's web part (docs/deploy.md), which `deskbridge web` runs as

    gunicorn -c python:deskbridge.config.gunicorn 'deskbridge.app:create_app()'

Sync workers behind a buffering reverse proxy (nginx): the proxy reads slow clients' requests
whole, so a worker only ever sees complete requests. Without the proxy, a client that sends
half a request holds a sync worker until `timeout`, when gunicorn replaces the worker.
Environment: DESKBRIDGE_BIND (default 127.0.0.1:8000) and WEB_CONCURRENCY (workers; by default
2 x cores + 1, one on SQLite).
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any


def is_sqlite(database_url: str | None) -> bool:
    """Whether DATABASE_URL (unset: deskbridge's default, sqlite:///deskbridge.db) is SQLite."""
    scheme = (database_url or "sqlite:").partition(":")[0]
    return scheme.partition("+")[0].strip().lower() == "sqlite"


def default_workers(sqlite: bool) -> int:
    """The workers when WEB_CONCURRENCY is not set: gunicorn's own starting point, 2 x cores +
    1, but one on SQLite. SQLite has one writer, so more processes only queue for it (each
    acknowledgement waiting up to 30 s for the others' commits) and lose what one process
    does: acknowledgements arriving together committed together. One worker keeps a try-out
    or one small host as `serve` runs it; more are PostgreSQL's (docs/deploy.md)."""
    return 1 if sqlite else 2 * multiprocessing.cpu_count() + 1


def read_workers(value: str | None, sqlite: bool = False) -> int:
    """WEB_CONCURRENCY as a number of worker processes. Unset or empty (an env file's
    `WEB_CONCURRENCY=`) is the default (default_workers); anything but a whole number of 1 or
    more stops the start with one line naming the variable."""
    if value is None or not value.strip():
        return default_workers(sqlite)
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise SystemExit(
            f"WEB_CONCURRENCY={value!r} is not a number of worker processes: give a whole "
            f"number, 1 or more, or leave it empty for 2 x cores + 1 "
            f"({default_workers(False)} here; 1 on SQLite)"
        )
    return workers


bind = os.environ.get("DESKBRIDGE_BIND", "127.0.0.1:8000")
workers = read_workers(os.environ.get("WEB_CONCURRENCY"), is_sqlite(os.environ.get("DATABASE_URL")))
worker_class = "sync"

# A worker silent for 30 s (stuck on a request, or on a client sending half of one) is killed
# and replaced. Webhook senders give up sooner (Zendesk 10 s, Slack 3 s).
timeout = 30
graceful_timeout = 30
# Keep-alive with the proxy on the same host.
keepalive = 5

# Bounded request heads: a longer line is 414, more or longer header fields are 431. Webhooks
# from Zendesk, Salesforce and Slack carry about 15 headers of under 1 KB.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190

# Replace workers now and then, so one slow leak cannot grow without bound.
max_requests = 10_000
max_requests_jitter = 1_000

# X-Forwarded-* are believed only from the proxy on this host.
forwarded_allow_ips = "127.0.0.1"
# Access lines carry method, path and status, never bodies.
accesslog = "-"
errorlog = "-"


def child_exit(_server: object, worker: Any) -> None:
    """A worker has ended (replaced after max_requests, killed at its timeout): its store
    figures leave /metrics (their "live" gauges' file is removed); its counts stay in the sum.
    Only where the workers write their metrics to files (`deskbridge web` sets that up). Its
    counter and histogram files stay until the run stops (its folder removed, or emptied by the
    operator before the next start): they hold its counts, and prometheus_client has no public
    way to fold them into one file (a worker is replaced every 10,000 requests or so)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


# gunicorn 27's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), which
# two instances on one host would share; deskbridge needs none of its commands.
control_socket_disable = True
