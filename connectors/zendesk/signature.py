"""Zendesk webhook signatures: base64(HMAC-SHA256(secret, timestamp + body)).

The secret is used as its UTF-8 bytes, never base64-decoded (protocols.md §1.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from deskbridge.connectors.errors import SignatureError

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"


def build_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _parse_timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SignatureError(
            "signature timestamp is not an ISO-8601 time", TIMESTAMP_HEADER
        ) from None
    if parsed.tzinfo is None:
        raise SignatureError("signature timestamp has no timezone", TIMESTAMP_HEADER)
    return parsed


def verify_signature(
    secrets: list[bytes],
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: datetime,
    tolerance: timedelta,
) -> None:
    """Raise SignatureError unless one of `secrets` signed `timestamp + body` within
    `tolerance` of `now` (either direction). Several secrets allow rotation."""
    if not secrets:
        # Every webhook is refused, signed or not: say that it is the configuration, not the
        # request, so a correctly signed test does not send the operator hunting in Zendesk.
        raise SignatureError(
            "ZENDESK_WEBHOOK_SECRET is not set: this deskbridge has no secret for the zendesk "
            "connector, so no webhook can be verified and every one is refused, signed or not"
        )
    if not signature:
        raise SignatureError("signature header is missing", SIGNATURE_HEADER)
    if not timestamp:
        raise SignatureError("signature timestamp header is missing", TIMESTAMP_HEADER)
    if abs(now - _parse_timestamp(timestamp)) > tolerance:
        raise SignatureError("signature timestamp is outside the replay window", TIMESTAMP_HEADER)
    given = signature.strip().encode()
    # Check every secret, so timing does not tell which one (or whether any) matched.
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(build_signature(secret, timestamp, body).encode(), given)
    if not matched:
        raise SignatureError("signature does not match the body", SIGNATURE_HEADER)
