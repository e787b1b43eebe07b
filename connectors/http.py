"""The inbound blueprint: size limit → signature → parse → store-and-decide → answer.

Answers (DESIGN rule 5): 200 accepted / duplicate / ignored, 400 malformed (with the field),
401 bad signature, 413 too large, 503 store unavailable. Never 200 before the event is stored,
never a stack trace in a response.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from deskbridge.config.logging import log_event
from deskbridge.connectors.errors import (
    ForbiddenError,
    InboundError,
    SignatureError,
    UnsupportedEvent,
)
from deskbridge.connectors.registry import PARSERS
from deskbridge.connectors.salesforce.ack import CONTENT_TYPE as ACK_CONTENT_TYPE
from deskbridge.connectors.salesforce.ack import build_ack
from deskbridge.connectors.salesforce.parse import (
    build_events,
    read_json_callout,
    read_outbound_message,
    same_org,
)
from deskbridge.connectors.zendesk.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)
from deskbridge.workflows.model import Source, TicketEvent

log = logging.getLogger("deskbridge.webhooks")

Verifier = Callable[[bytes, datetime], None]
# Verify and parse one request body into events (raises InboundError / UnsupportedEvent).
Reader = Callable[[bytes, datetime], list[TicketEvent]]


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


def _salesforce_reader(runtime) -> Reader:
    """Outbound Messages (SOAP) or Flow callouts (JSON, bearer token); the organization must
    be ours. Outbound Messages carry no signature: the org id is the in-band check."""
    settings = runtime.settings

    def read(raw: bytes, now: datetime) -> list[TicketEvent]:
        if _is_json():
            expected = settings.salesforce_webhook_token
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if expected is None:
                raise SignatureError(
                    "SALESFORCE_WEBHOOK_TOKEN is not set; JSON callouts are refused"
                )
            if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
                raise SignatureError("bearer token does not match", "Authorization")
            message = read_json_callout(raw)
        else:
            message = read_outbound_message(raw)
        if not settings.salesforce_org_id:
            raise ForbiddenError("SALESFORCE_ORG_ID is not set; outbound messages are refused")
        if not same_org(message.organization_id, settings.salesforce_org_id):
            raise ForbiddenError(
                "organization id is not this deskbridge's Salesforce org", "OrganizationId"
            )
        return build_events(message, runtime.rules.salesforce)

    return read


def _is_json() -> bool:
    return (request.mimetype or "").endswith("json")


def create_webhooks_blueprint(runtime) -> Blueprint:
    blueprint = Blueprint("webhooks", __name__)
    zendesk_verify = _zendesk_verifier(runtime.settings)

    def read_zendesk(raw: bytes, now: datetime) -> list[TicketEvent]:
        zendesk_verify(raw, now)
        return PARSERS[Source.zendesk](raw, now)

    readers: dict[Source, Reader] = {
        Source.zendesk: read_zendesk,
        Source.salesforce: _salesforce_reader(runtime),
    }

    def ok(source: Source, body: dict) -> tuple[Response, int]:
        """200: a SOAP Ack for Salesforce outbound messages (else they are retried for 24 h),
        JSON otherwise."""
        if source is Source.salesforce and not _is_json():
            return Response(build_ack(), content_type=ACK_CONTENT_TYPE), 200
        return jsonify(body), 200

    def handle(source: Source) -> tuple[Response, int]:
        started = time.perf_counter()
        now = runtime.clock()
        metrics = runtime.metrics
        try:
            raw = request.get_data(cache=False)
            events: list[TicketEvent] = readers[source](raw, now)
            body = raw.decode("utf-8")
            outcomes = [runtime.service.accept_event(e, body, now) for e in events]
        except RequestEntityTooLarge:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            metrics.webhooks.labels(source.value, "too_large").inc()
            log_event(log, logging.WARNING, "webhook.too_large", source=source.value, limit=limit)
            return jsonify(error=f"body is larger than {limit} bytes"), 413
        except InboundError as exc:
            outcome = {401: "unauthorized", 403: "forbidden"}.get(exc.status, "malformed")
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
            return ok(
                source,
                {
                    "status": "ignored",
                    "reason": f"event type {exc.event_type[:80]} is not used by deskbridge",
                },
            )
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
                metrics.decisions.labels(action.kind.value, action.rule).inc()
        return ok(
            source,
            {
                "status": status,
                "events": len(outcomes),
                "actions": [a.kind.value for o in outcomes for a in o.actions],
            },
        )

    @blueprint.post("/webhooks/zendesk")
    def zendesk_webhook():
        return handle(Source.zendesk)

    @blueprint.post("/webhooks/salesforce")
    def salesforce_webhook():
        return handle(Source.salesforce)

    return blueprint
