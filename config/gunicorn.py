"""gunicorn settings for deskbridge's web part (docs/deploy.md), which `deskbridge web` runs as

    gunicorn -c python:deskbridge.config.gunicorn 'deskbridge.app:create_app()'

Sync workers behind a buffering reverse proxy (nginx): the proxy reads slow clients' requests
whole, so a worker only ever sees complete requests. Without the proxy, a client that sends
half a request holds a sync worker until `timeout`, when gunicorn replaces the worker.
Environment: DESKBRIDGE_BIND (default 127.0.0.1:8000) and WEB_CONCURRENCY (workers).
"""

from __future__ import annotations

import multiprocessing
import os


def read_workers(value: str | None) -> int:
    """WEB_CONCURRENCY as a number of worker processes. Unset or empty (an env file's
    `WEB_CONCURRENCY=`) is gunicorn's own starting point, 2 x cores + 1; anything but a whole
    number of 1 or more stops the start with one line naming the variable."""
    default = 2 * multiprocessing.cpu_count() + 1
    if value is None or not value.strip():
        return default
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise SystemExit(
            f"WEB_CONCURRENCY={value!r} is not a number of worker processes: give a whole "
            f"number, 1 or more, or leave it empty for 2 x cores + 1 ({default} here)"
        )
    return workers


bind = os.environ.get("DESKBRIDGE_BIND", "127.0.0.1:8000")
workers = read_workers(os.environ.get("WEB_CONCURRENCY"))
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
# gunicorn 27's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), which
# two instances on one host would share; deskbridge needs none of its commands.
control_socket_disable = True
