"""The inbound blueprint: size limit → signature → parse → store-and-decide → answer.

Answers (DESIGN rule 5): 200 accepted / duplicate / ignored, 400 malformed (with the field),
401 bad signature, 413 too large, 503 store unavailable. Never 200 before the event is stored,
never a stack trace in a response.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from config.logging import log_event
from connectors.errors import InboundError, UnsupportedEvent
from connectors.registry import PARSERS
from connectors.zendesk.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from workflows.model import Source, TicketEvent

log = logging.getLogger("deskbridge.webhooks")

Verifier = Callable[[bytes, datetime], None]


def _zendesk_verifier(settings) -> Verifier:
    secrets = settings.zendesk_secrets
    tolerance = timedelta(seconds=settings.zendesk_signature_tolerance)

    def verify(raw: bytes, now: datetime) -> None:
        verify_signature(
            secrets,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(TIMESTAMP_HEADER),
            raw,
            now,
            tolerance,
        )

    return verify


def create_webhooks_blueprint(runtime) -> Blueprint:
    blueprint = Blueprint("webhooks", __name__)
    verifiers: dict[Source, Verifier] = {Source.zendesk: _zendesk_verifier(runtime.settings)}

    def handle(source: Source) -> tuple[Response, int]:
        started = time.perf_counter()
        now = runtime.clock()
        metrics = runtime.metrics
        try:
            raw = request.get_data(cache=False)
            verifiers[source](raw, now)
            events: list[TicketEvent] = PARSERS[source](raw, now)
            body = raw.decode("utf-8")
            outcomes = [runtime.service.accept_event(e, body, now) for e in events]
        except RequestEntityTooLarge:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            metrics.webhooks.labels(source.value, "too_large").inc()
            log_event(log, logging.WARNING, "webhook.too_large", source=source.value, limit=limit)
            return jsonify(error=f"body is larger than {limit} bytes"), 413
        except InboundError as exc:
            outcome = "unauthorized" if exc.status == 401 else "malformed"
            metrics.webhooks.labels(source.value, outcome).inc()
            log_event(
                log,
                logging.WARNING,
                f"webhook.{outcome}",
                source=source.value,
                error=exc.message,
                field=exc.field or "",
            )
            return jsonify(exc.to_json()), exc.status
        except UnsupportedEvent as exc:
            metrics.webhooks.labels(source.value, "ignored").inc()
            log_event(
                log, logging.INFO, "webhook.ignored", source=source.value, type=exc.event_type[:80]
            )
            return jsonify(
                status="ignored",
                reason=f"event type {exc.event_type[:80]} is not used by deskbridge",
            ), 200
        except SQLAlchemyError as exc:
            metrics.webhooks.labels(source.value, "store_unavailable").inc()
            log_event(
                log,
                logging.ERROR,
                "webhook.store_unavailable",
                source=source.value,
                error=type(exc).__name__,
            )
            response = jsonify(error="event store unavailable, retry later")
            response.headers["Retry-After"] = "10"
            return response, 503
        duplicate = all(o.duplicate for o in outcomes)
        status = "duplicate" if duplicate else "accepted"
        metrics.webhooks.labels(source.value, status).inc()
        metrics.webhook_seconds.labels(source.value).observe(time.perf_counter() - started)
        for outcome in outcomes:
            for action in outcome.actions:
                metrics.decisions.labels(action.action.value, action.rule).inc()
        return jsonify(
            status=status,
            events=len(outcomes),
            actions=[a.action.value for o in outcomes for a in o.actions],
        ), 200

    @blueprint.post("/webhooks/zendesk")
    def zendesk_webhook():
        return handle(Source.zendesk)

    return blueprint
