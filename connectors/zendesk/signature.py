"""Zendesk webhook signatures: base64(HMAC-SHA256(secret, timestamp + body)).

The secret is used as its UTF-8 bytes, never base64-decoded (protocols.md §1.2).
"""

from __future__ import annotations

import hashlib
import hmac
from binascii import b2a_base64
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from deskbridge.connectors.errors import SignatureError

try:
    from _hashlib import hmac_new as _openssl_hmac
except ImportError:  # a Python built without OpenSSL's hashes: the hmac module's own
    _openssl_hmac = None

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"


def build_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    mac = _keyed(secret).copy()
    mac.update(timestamp.encode())
    mac.update(body)  # not appended to the timestamp: no copy of the body
    # base64.b64encode is this call behind a Python function.
    return b2a_base64(mac.digest(), newline=False).decode()


@lru_cache(maxsize=8)
def _keyed(secret: bytes) -> Any:
    """The HMAC with its key set up (the key's two padded blocks hashed), made once per
    secret and copied for each signature instead of set up again for every webhook. OpenSSL's
    HMAC object itself where Python has it (what hmac.new wraps in Python methods, a call
    each for copy, update and digest: callgrind 52.9k -> 47.5k instructions a signature)."""
    if _openssl_hmac is not None:
        return _openssl_hmac(secret, digestmod="sha256")
    return hmac.new(secret, digestmod=hashlib.sha256)


def _parse_timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SignatureError(
            "signature timestamp is not an ISO-8601 time (Zendesk sends one like "
            "2021-03-25T05:09:27Z)",
            TIMESTAMP_HEADER,
        ) from None
    if parsed.tzinfo is None:
        raise SignatureError("signature timestamp has no timezone", TIMESTAMP_HEADER)
    return parsed


def verify_signature(
    secrets: Sequence[bytes],
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
        raise SignatureError(f"signature header is missing: {_BOTH_HEADERS}", SIGNATURE_HEADER)
    if not timestamp:
        raise SignatureError(
            f"signature timestamp header is missing: {_BOTH_HEADERS}", TIMESTAMP_HEADER
        )
    age = now - _parse_timestamp(timestamp)
    if abs(age) > tolerance:
        raise SignatureError(_describe_outside_window(age, tolerance), TIMESTAMP_HEADER)
    given = signature.strip().encode()
    # Check every secret, so timing does not tell which one (or whether any) matched.
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(build_signature(secret, timestamp, body).encode(), given)
    if not matched:
        raise SignatureError(_NOT_MATCHED, SIGNATURE_HEADER)


# What a 401 tells the admin to check (Zendesk shows the answer in the webhook's activity),
# never the secret itself nor the signature expected: the settings and headers by name. ASCII:
# jsonify writes any other character as an escape, which Zendesk's activity shows as it is.
_BOTH_HEADERS = (
    f"Zendesk sends {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} with every webhook (check that "
    "a proxy on the way passes both on); by hand, `deskbridge sign BODY` makes them"
)
_NOT_MATCHED = (
    "signature does not match the body: check that ZENDESK_WEBHOOK_SECRET is this webhook's "
    "signing secret (Admin Center > Webhooks > the webhook > Signing secret; a test sent before "
    "the webhook is saved is signed with Zendesk's test secret), and that nothing on the way "
    f"changes the body or {TIMESTAMP_HEADER}, which is signed with it"
)


def _describe_outside_window(age: timedelta, tolerance: timedelta) -> str:
    """How far outside the window, and which way: the admin then knows whether a delivery came
    late or this server's clock is off, and which setting sets the window."""
    seconds = round(abs(age.total_seconds()))
    when = f"{seconds} s old" if age > timedelta(0) else f"{seconds} s ahead of this server's clock"
    return (
        f"signature timestamp is {when}, outside the replay window of "
        f"{round(tolerance.total_seconds())} s (ZENDESK_SIGNATURE_TOLERANCE_SECONDS): a delivery "
        "sent again later, or a clock that is wrong; check this server's clock (NTP)"
    )
