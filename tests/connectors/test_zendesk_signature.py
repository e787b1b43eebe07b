"""Zendesk webhook signatures: base64(HMAC-SHA256(secret, timestamp + body)), protocols.md §1.2.

The computed vectors in tests/fixtures/signature_test_vectors.json (the Zendesk part of the
project's shared vectors) are verified over the exact bytes of the fixture files they name,
with `now` injected near the vector's timestamp (the verifier has a replay window and the
vectors are from 2025).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from deskbridge.connectors.errors import SignatureError
from deskbridge.connectors.zendesk.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    build_signature,
    verify_signature,
)
from tests.conftest import TEST_SECRET, fixture_bytes, fixture_json

TOLERANCE = timedelta(seconds=300)
SECRET = TEST_SECRET.encode()
STAMP = "2025-03-04T09:15:23Z"
STAMP_AT = datetime(2025, 3, 4, 9, 15, 23, tzinfo=UTC)
BODY = fixture_bytes("ticket_created.json")


def _vectors() -> list[dict]:
    return fixture_json("signature_test_vectors.json")["zendesk"]


COMPUTED = [v for v in _vectors() if "file" in v]
HISTORICAL = next(v for v in _vectors() if v["kind"].startswith("historical"))


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def verify(
    signature: str | None,
    timestamp: str | None = STAMP,
    body: bytes = BODY,
    now: datetime = STAMP_AT,
    secrets: list[bytes] | None = None,
) -> bool:
    """True when the signature is accepted; a refusal raises SignatureError."""
    verify_signature(
        [SECRET] if secrets is None else secrets, signature, timestamp, body, now, TOLERANCE
    )
    return True


def good_signature(timestamp: str = STAMP, body: bytes = BODY, secret: bytes = SECRET) -> str:
    return build_signature(secret, timestamp, body)


# -- the computed vectors ------------------------------------------------------------------


def test_the_vector_file_has_a_computed_vector_for_every_zendesk_webhook_fixture():
    assert sorted(v["file"] for v in COMPUTED) == [
        "ticket_comment_added__public_agent.json",
        "ticket_created.json",
        "ticket_priority_changed.json",
        "trigger_ticket_updated.json",
    ]


@pytest.mark.parametrize("vector", COMPUTED, ids=lambda v: v["file"])
@pytest.mark.parametrize("offset", [0, -299, 299], ids=["at", "299s-before", "299s-after"])
def test_computed_vector_verifies_over_the_exact_fixture_bytes(vector, offset):
    headers = vector["headers"]
    timestamp = headers[TIMESTAMP_HEADER]
    body = fixture_bytes(vector["file"])
    assert body.endswith(b"}\n") and not body.endswith(b"\n\n")  # bytes as stored, unreformatted
    assert vector["signing_secret"] == TEST_SECRET
    now = _at(timestamp) + timedelta(seconds=offset)

    verify_signature(
        [vector["signing_secret"].encode()],
        headers[SIGNATURE_HEADER],
        timestamp,
        body,
        now,
        TOLERANCE,
    )
    assert build_signature(SECRET, timestamp, body) == headers[SIGNATURE_HEADER]


@pytest.mark.parametrize("vector", COMPUTED, ids=lambda v: v["file"])
def test_computed_vector_fails_once_the_replay_window_has_passed(vector):
    headers = vector["headers"]
    with pytest.raises(SignatureError) as caught:
        verify_signature(
            [SECRET],
            headers[SIGNATURE_HEADER],
            headers[TIMESTAMP_HEADER],
            fixture_bytes(vector["file"]),
            _at(headers[TIMESTAMP_HEADER]) + timedelta(seconds=301),
            TOLERANCE,
        )
    assert caught.value.field == TIMESTAMP_HEADER


@pytest.mark.parametrize("vector", COMPUTED, ids=lambda v: v["file"])
def test_computed_vector_does_not_verify_with_a_base64_decoded_key(vector):
    """The secret is used as its UTF-8 bytes; it only looks like base64."""
    headers = vector["headers"]
    with pytest.raises(SignatureError) as caught:
        verify_signature(
            [base64.b64decode(TEST_SECRET)],
            headers[SIGNATURE_HEADER],
            headers[TIMESTAMP_HEADER],
            fixture_bytes(vector["file"]),
            _at(headers[TIMESTAMP_HEADER]),
            TOLERANCE,
        )
    assert caught.value.field == SIGNATURE_HEADER


def test_historical_doc_vector_does_not_verify_with_timestamp_then_body():
    """The old doc example was signed as body + timestamp; we build to the current page's
    timestamp + body (protocols.md §1.2 "Doc inconsistency"), so it must be refused."""
    secret = HISTORICAL["signing_secret"].encode()
    timestamp = HISTORICAL["timestamp"]
    body = HISTORICAL["body"].encode()
    with pytest.raises(SignatureError) as caught:
        verify_signature(
            [secret], HISTORICAL["signature"], timestamp, body, _at(timestamp), TOLERANCE
        )
    assert caught.value.field == SIGNATURE_HEADER

    # The vector itself is genuine: it is exactly HMAC(body + timestamp) with the raw key,
    # so the refusal above is about the order, not a corrupt vector.
    legacy = hmac.new(secret, body + timestamp.encode(), hashlib.sha256).digest()
    assert base64.b64encode(legacy).decode() == HISTORICAL["signature"]
    assert build_signature(secret, timestamp, body) != HISTORICAL["signature"]


# -- tampering -------------------------------------------------------------------------------


def test_a_freshly_built_signature_verifies():
    assert verify(good_signature())


@pytest.mark.parametrize("index", [0, 1, len(BODY) // 2, len(BODY) - 1])
def test_one_flipped_body_byte_is_refused(index):
    body = bytearray(BODY)
    body[index] ^= 0x01
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(), body=bytes(body))
    assert caught.value.field == SIGNATURE_HEADER


@pytest.mark.parametrize(
    "reserialise",
    [
        lambda data: json.dumps(data).encode(),
        lambda data: json.dumps(data, separators=(",", ":")).encode(),
        lambda data: json.dumps(data, indent=2, sort_keys=True).encode(),
        lambda data: (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"),
    ],
    ids=["default", "compact", "sorted-no-newline", "sorted-with-newline"],
)
def test_re_serialised_json_with_the_same_content_is_refused(reserialise):
    """The signature covers the raw bytes, never a parsed-and-dumped copy."""
    body = reserialise(json.loads(BODY))
    assert json.loads(body) == json.loads(BODY)
    assert body != BODY
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(), body=body)
    assert caught.value.field == SIGNATURE_HEADER


def test_empty_body_is_signed_as_timestamp_alone():
    """GET/DELETE deliveries may have no body: the message is the timestamp only."""
    verify(good_signature(body=b""), body=b"")
    with pytest.raises(SignatureError):
        verify(good_signature(body=b""), body=b"{}")


def test_signature_for_another_timestamp_is_refused():
    other = "2025-03-04T09:15:24Z"
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(timestamp=other), timestamp=STAMP)
    assert caught.value.field == SIGNATURE_HEADER


def test_signature_by_another_secret_is_refused():
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(secret=b"someone-else"))
    assert caught.value.field == SIGNATURE_HEADER


def _swap_one_char(signature: str) -> str:
    middle = len(signature) // 2
    return signature[:middle] + ("B" if signature[middle] == "A" else "A") + signature[middle + 1 :]


# -- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", [None, ""], ids=["missing", "empty"])
def test_missing_or_empty_signature_header_is_refused(signature):
    with pytest.raises(SignatureError) as caught:
        verify(signature)
    assert caught.value.field == SIGNATURE_HEADER
    assert caught.value.status == 401


@pytest.mark.parametrize("timestamp", [None, ""], ids=["missing", "empty"])
def test_missing_or_empty_timestamp_header_is_refused(timestamp):
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(), timestamp=timestamp)
    assert caught.value.field == TIMESTAMP_HEADER


def test_both_headers_missing_names_the_signature_first():
    with pytest.raises(SignatureError) as caught:
        verify(None, timestamp=None)
    assert caught.value.field == SIGNATURE_HEADER


@pytest.mark.parametrize(
    "signature",
    [
        " ",
        "=",
        "AAAA",
        good_signature()[:-2],  # truncated
        good_signature() + "AAAA",  # too long
        _swap_one_char(good_signature()),  # right length, one character off
        hashlib.sha256(b"x").hexdigest(),  # hex, not base64
        base64.b64encode(b"\x00" * 32).decode(),  # right length, wrong value
        "é" * 44,  # non-ASCII
    ],
    ids=[
        "space",
        "pad-only",
        "short",
        "truncated",
        "too-long",
        "one-char",
        "hex",
        "zeros",
        "non-ascii",
    ],
)
def test_wrong_length_or_wrong_value_signature_is_refused(signature):
    with pytest.raises(SignatureError) as caught:
        verify(signature)
    assert caught.value.field == SIGNATURE_HEADER


def test_surrounding_whitespace_in_the_signature_header_is_tolerated():
    assert verify(f"  {good_signature()} ")


# -- replay window ---------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [-299, -1, 0, 1, 299, -300, 300])
def test_timestamp_inside_the_window_verifies(seconds):
    assert verify(good_signature(), now=STAMP_AT + timedelta(seconds=seconds))


@pytest.mark.parametrize(
    "seconds", [-301, 301, -86_400, 86_400 * 365], ids=["301s-early", "301s-late", "day", "year"]
)
def test_timestamp_outside_the_window_is_refused_in_both_directions(seconds):
    """now - 301 s: the signature is from the future; now + 301 s: a replay."""
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(), now=STAMP_AT + timedelta(seconds=seconds))
    assert caught.value.field == TIMESTAMP_HEADER
    assert "replay window" in caught.value.message


@pytest.mark.parametrize(
    ("seconds", "when"),
    [(301, "301 s old"), (-86_400, "86400 s ahead of this server's clock")],
)
def test_a_timestamp_outside_the_window_says_how_far_and_which_way(seconds, when):
    # "outside the replay window" alone left the admin guessing: a late delivery, or this
    # server's clock, and by how much; and which setting the window is.
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(), now=STAMP_AT + timedelta(seconds=seconds))
    assert caught.value.message == (
        f"signature timestamp is {when}, outside the replay window of 300 s "
        "(ZENDESK_SIGNATURE_TOLERANCE_SECONDS): a delivery sent again later, or a clock that is "
        "wrong; check this server's clock (NTP)"
    )


def test_window_is_checked_even_when_the_signature_is_right():
    """An old, correctly signed delivery captured on the wire cannot be replayed later."""
    later = STAMP_AT + timedelta(hours=1)
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(), now=later)
    assert caught.value.field == TIMESTAMP_HEADER


@pytest.mark.parametrize(
    "stamp",
    ["2025-03-04T11:15:23+02:00", "2025-03-04T09:15:23.000Z", "2025-03-04T09:15:23+00:00"],
)
def test_other_iso_spellings_of_the_same_instant_verify(stamp):
    assert verify(good_signature(timestamp=stamp), timestamp=stamp)


@pytest.mark.parametrize(
    "stamp",
    [
        "1741079723",  # a Unix epoch, as Slack sends: not Zendesk's format
        "Tue, 04 Mar 2025 09:15:23 GMT",
        "yesterday",
        "2025-13-04T09:15:23Z",
        "2025-03-04T25:15:23Z",
        "2025-03-04T09:15:23 UTC",
    ],
)
def test_non_iso_timestamp_is_refused(stamp):
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(timestamp=stamp), timestamp=stamp)
    assert caught.value.field == TIMESTAMP_HEADER
    assert "ISO-8601" in caught.value.message


@pytest.mark.parametrize("stamp", ["2025-03-04T09:15:23", "2025-03-04"])
def test_timestamp_without_a_timezone_is_refused(stamp):
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(timestamp=stamp), timestamp=stamp)
    assert caught.value.field == TIMESTAMP_HEADER
    assert "timezone" in caught.value.message


# -- secrets ---------------------------------------------------------------------------------

OLD = b"old-secret-being-rotated-out"
NEW = b"new-secret-being-rotated-in"


@pytest.mark.parametrize("signer", [OLD, NEW], ids=["old", "new"])
@pytest.mark.parametrize("order", [(OLD, NEW), (NEW, OLD)], ids=["old-first", "new-first"])
def test_during_rotation_either_secret_verifies(signer, order):
    assert verify(good_signature(secret=signer), secrets=list(order))


def test_during_rotation_a_third_secret_is_refused():
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(secret=b"neither"), secrets=[OLD, NEW])
    assert caught.value.field == SIGNATURE_HEADER


def test_no_secret_configured_refuses_everything():
    """Unsigned webhooks are never accepted: no secret is a configuration problem, not a
    request field, so the error carries no field."""
    with pytest.raises(SignatureError) as caught:
        verify(good_signature(), secrets=[])
    assert caught.value.field is None
    assert caught.value.status == 401
    assert "ZENDESK_WEBHOOK_SECRET" in caught.value.message
    assert caught.value.to_json() == {"error": caught.value.message}


def test_no_secret_configured_is_checked_before_the_headers():
    with pytest.raises(SignatureError) as caught:
        verify(None, timestamp=None, secrets=[])
    assert caught.value.field is None


def test_error_body_names_the_header():
    with pytest.raises(SignatureError) as caught:
        verify("AAAA")
    assert caught.value.to_json() == {
        "error": caught.value.message,
        "field": SIGNATURE_HEADER,
    }
    assert caught.value.message.startswith(
        "signature does not match the body: check that ZENDESK_WEBHOOK_SECRET is this webhook's "
        "signing secret"
    )


@pytest.mark.parametrize("openssl", [True, False])
def test_the_signature_is_the_hmac_module_s_with_and_without_openssl_s_object(openssl, monkeypatch):
    """build_signature keys OpenSSL's HMAC object where Python has one, the hmac module's
    otherwise: the same base64 of HMAC-SHA256(secret, timestamp + body) either way."""
    from deskbridge.connectors.zendesk import signature

    if not openssl:
        monkeypatch.setattr(signature, "_openssl_hmac", None)
    signature._keyed.cache_clear()
    try:
        for secret, body in [(b"k", b""), (TEST_SECRET.encode(), b'{"a": 1}' * 200)]:
            stamp = "2026-03-02T08:00:27Z"
            expected = hmac.new(secret, stamp.encode() + body, hashlib.sha256).digest()
            assert signature.build_signature(secret, stamp, body) == (
                base64.b64encode(expected).decode()
            )
    finally:
        signature._keyed.cache_clear()
