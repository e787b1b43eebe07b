"""Errors a connector raises; connectors/http.py maps each to its HTTP answer (DESIGN rule 5)."""

from __future__ import annotations


class InboundError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def to_json(self) -> dict[str, str]:
        body = {"error": self.message}
        if self.field:
            body["field"] = self.field
        return body


class PayloadError(InboundError):
    """Malformed body: 400 with the field path."""

    status = 400


class SignatureError(InboundError):
    """Missing, wrong or expired signature: 401."""

    status = 401


class ForbiddenError(InboundError):
    """Authentic-looking but not ours (another Salesforce org): 403."""

    status = 403


# What a 413 names as too large: the header that stated the length, or, when none did
# (a chunked body), the body, refused as it grew past the limit.
CONTENT_LENGTH = "Content-Length"
CHUNKED = "body"


def describe_too_large(limit: int, field: str, *, framing_counted: bool = False) -> dict[str, str]:
    """The 413 answer, the same from the app (gunicorn) and from `serve` (waitress).
    `framing_counted`: the server counted a chunked body's framing against the limit (waitress
    does), so the answer says so rather than claim the body itself was larger."""
    error = f"body is larger than {limit} bytes"
    if framing_counted:
        error += " (chunked: chunk sizes and line ends count too)"
    return {"error": error, "field": field}


class UnsupportedEvent(Exception):
    """A well-formed event deskbridge does not act on: 200 `ignored`."""

    def __init__(self, event_type: str):
        super().__init__(event_type)
        self.event_type = event_type


class PartlyMalformed(Exception):
    """A body of several events (a Salesforce message carries up to 100) in which some are
    well-formed and one is not: `events`, the well-formed ones, are stored, then `error` is
    answered (400), so the sender redelivers and the malformed one is not lost unseen."""

    def __init__(self, events: list, error: PayloadError):
        super().__init__(error.message)
        self.events = events
        self.error = error
