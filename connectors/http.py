"""The inbound blueprint: size limit → verify → parse → store → answer (DESIGN §3), each step
the helpdesk's own from the connector registry (no helpdesk is special-cased here).

The acknowledgement only stores the events (undecided) and wakes the decider; deciding
happens after the 200, in batches (workflows/decider.py).

Answers (DESIGN rule 5): 200 accepted / duplicate / ignored, 400 malformed (with the field),
401 bad signature, 413 too large, 503 store unavailable. Never 200 before the event is stored,
never a stack trace in a response.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Request, Response, jsonify, request
from sqlalchemy.exc import DataError, SQLAlchemyError
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from deskbridge.config.logging import log_event
from deskbridge.connectors.connector import Outcome
from deskbridge.connectors.errors import (
    CHUNKED,
    CONTENT_LENGTH,
    InboundError,
    PartlyMalformed,
    PayloadError,
    UnsupportedEvent,
    describe_too_large,
)
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.store.db import describe_store_error
from deskbridge.workflows.model import Source, TicketEvent

log = logging.getLogger("deskbridge.webhooks")


def read_body(req: Request, limit: int) -> bytes:
    """The request body, or RequestEntityTooLarge. A body of stated length over the limit is
    refused before reading; a chunked one (no length; the server ends the stream) is read up to
    the limit, where werkzeug stops without complaint, so one byte more means it was larger.
    `limit` is the app's MAX_CONTENT_LENGTH (create_app), which werkzeug's reading enforces."""
    environ = req.environ
    length = environ.get("CONTENT_LENGTH")
    # The usual body: a plain stated length within the limit, not chunked.
    if length and length.isascii() and length.isdigit() and "HTTP_TRANSFER_ENCODING" not in environ:
        size = int(length)
        if size <= limit:
            return _read_stated_length(environ, size)
    raw = req.get_data(cache=False)
    # The length first: the usual body is far under the limit, and content_length reads
    # two headers.
    if len(raw) >= limit and req.content_length is None and req.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return raw


def _read_stated_length(environ: dict, length: int) -> bytes:
    """The body of stated length, as werkzeug's `get_data` reads it: the stream's first `length`
    bytes; a stream that ends early is a client gone (400), unless the server ends the stream
    itself (`wsgi.input_terminated`: what it gave is the body). Read without werkzeug's stream
    wrapper, whose reads fill two 64 KB buffers for a body of 1 KB (callgrind: ~50k
    instructions a request). A server that ends the stream ends it at the stated length
    (waitress, gunicorn), where werkzeug would read on to the end."""
    stream = environ["wsgi.input"]
    raw = stream.read(length)
    while len(raw) < length:
        more = stream.read(length - len(raw))
        if not more:
            if "wsgi.input_terminated" in environ:
                break
            raise ClientDisconnected()
        raw += more
    # A bytes object of its own, as werkzeug's reading gives: io.BytesIO (the test client's
    # input) hands back the very bytes it was made from, and the Salesforce connector knows
    # the body it read last by that object (connectors/salesforce/connector.py).
    return bytes(memoryview(raw))


def record_too_large(metrics, source: str, limit: int, field: str) -> None:
    """Count and log a body refused as too large: by this app (gunicorn), or by waitress
    before the app sees it (`serve`, config/waitress_server.py)."""
    metrics.webhooks.labels(source, "too_large").inc()
    log_event(log, logging.WARNING, "webhook.too_large", source=source, limit=limit, field=field)


def answer_too_large(req: Request, metrics, source: str, limit: int) -> tuple[Response, int]:
    """The 413 for a body read_body refused, counted and logged: the same answer `serve`
    (waitress) gives, naming what was too large."""
    # gunicorn hands over a chunked body de-chunked: only the body counts, no framing.
    field = CONTENT_LENGTH if req.content_length is not None else CHUNKED
    record_too_large(metrics, source, limit, field)
    return jsonify(describe_too_large(limit, field)), 413


class _AnsweredAsIs(Response):
    """A 200 made once and answered time after time (`ok` below): what werkzeug works out to
    send for it (the status line, the headers, the body) is worked out on its first answer and
    sent as it is after that. werkzeug's answer copies the headers, scans them for Location and
    Content-Length, and wraps a generator over the body in a ClosingIterator, every time
    (callgrind: ~40k instructions a request). Only for a response nothing changes once made."""

    _sent: tuple[str, list[tuple[str, str]], bytes] | None = None

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "HEAD":  # headers only: werkzeug's own
            return super().__call__(environ, start_response)
        if self._sent is None:
            headers = self.get_wsgi_headers(environ).to_wsgi_list()
            self._sent = (self.status, headers, self.get_data())
        status, headers, body = self._sent
        start_response(status, list(headers))  # a list of its own, as werkzeug gives
        return [body]


def create_webhooks_blueprint(runtime) -> Blueprint:
    blueprint = Blueprint("webhooks", __name__)

    # The app's MAX_CONTENT_LENGTH is this setting (create_app): read here, not through
    # current_app's proxy on every request (callgrind: 9k instructions).
    limit = runtime.settings.max_body_bytes
    # The labelled counters, looked up once each (labels() takes a lock and builds a key).
    counters: dict[tuple[Source, str], Any] = {}
    timers: dict[Source, Any] = {}

    def count(source: Source, outcome: str) -> None:
        counter = counters.get((source, outcome))
        if counter is None:
            counter = counters[source, outcome] = runtime.metrics.webhooks.labels(
                source.value, outcome
            )
        counter.inc()

    # The 200s, each made once and then answered as it is: the same few answers (accepted or
    # duplicate, one event) end nearly every webhook, and making a werkzeug Response (its
    # headers, content type and length) cost ~25k instructions a request (callgrind). Nothing
    # after the view changes one: this app has no after_request functions and no session (no
    # secret key: flask's null session saves nothing), and werkzeug answers a copy of its
    # headers (Response.get_wsgi_headers). Bounded: an ignored event's answer names its type.
    responses: dict[tuple[bytes, str], Response] = {}

    def ok(source: Source, raw: bytes, summary: dict) -> Response:
        answer = CONNECTORS[source].respond(Outcome(raw, summary))
        key = (answer.content, answer.content_type)
        response = responses.get(key)
        if response is None:
            # A Response's status is 200 already: no (response, 200) for flask to take apart
            # and set again (callgrind: 9k instructions a request).
            response = _AnsweredAsIs(answer.content, content_type=answer.content_type)
            if len(responses) < 64:
                responses[key] = response
        return response

    def handle(source: Source) -> Response | tuple[Response, int]:
        with runtime.service.decider.acknowledging():
            return acknowledge(source)

    def acknowledge(source: Source) -> Response | tuple[Response, int]:
        started = time.perf_counter()
        now = runtime.clock()
        metrics = runtime.metrics
        # The request itself, not through its proxy: each use of `request` looks it up.
        req = request._get_current_object()
        try:
            raw = read_body(req, limit)
            connector = CONNECTORS[source]
            connector.verify(req.headers, raw, now, runtime.settings)
            refused: PayloadError | None = None
            try:
                events: list[TicketEvent] = connector.parse(raw, now, runtime.rules)
            except PartlyMalformed as exc:
                # The well-formed events are stored, then the malformed one answered: the
                # sender redelivers the body, and the stored ones come back as duplicates.
                events, refused = exc.events, exc.error
            keep = connector.stored_body
            body = raw.decode("utf-8") if keep is None else keep(raw)
            try:
                stored = runtime.service.store_events(events, body, now)
            except DataError:
                # The store answered and refused a value: retrying cannot help, not a 503.
                # Which value, the driver does not say: the body as a whole is named.
                raise PayloadError(
                    "a value in the body cannot be stored (too long or invalid)", "body"
                ) from None
            if refused is not None:
                raise refused
        except RequestEntityTooLarge:
            return answer_too_large(req, metrics, source.value, limit)
        except InboundError as exc:
            outcome = {401: "unauthorized", 403: "forbidden"}.get(exc.status, "malformed")
            count(source, outcome)
            log_event(
                log,
                logging.WARNING,
                f"webhook.{outcome}",
                source=source.value,
                error=exc.message,
                # A missing secret is the configuration's fault: no request field to name.
                **({"field": exc.field} if exc.field else {}),
            )
            return jsonify(exc.to_json()), exc.status
        except UnsupportedEvent as exc:
            count(source, "ignored")
            log_event(
                log, logging.INFO, "webhook.ignored", source=source.value, type=exc.event_type[:80]
            )
            return ok(
                source,
                raw,
                {
                    "status": "ignored",
                    "reason": f"event type {exc.event_type[:80]} is not used by deskbridge",
                },
            )
        except SQLAlchemyError as exc:
            count(source, "store_unavailable")
            log_event(
                log,
                logging.ERROR,
                "webhook.store_unavailable",
                source=source.value,
                **describe_store_error(exc),
            )
            response = jsonify(error="event store unavailable, retry later")
            response.headers["Retry-After"] = "10"
            return response, 503
        status = "accepted" if stored else "duplicate"
        count(source, status)
        timer = timers.get(source)
        if timer is None:
            timer = timers[source] = metrics.webhook_seconds.labels(source.value)
        timer.observe(time.perf_counter() - started)
        return ok(source, raw, {"status": status, "events": len(events)})

    # One URL per registered helpdesk: /webhooks/zendesk, /webhooks/salesforce.
    for source in CONNECTORS:
        blueprint.add_url_rule(
            f"/webhooks/{source.value}",
            f"{source.value}_webhook",
            lambda source=source: handle(source),
            methods=["POST"],
        )

    return blueprint
