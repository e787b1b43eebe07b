"""read_body reads a body of stated length itself (not through werkzeug's stream wrapper): the
same bytes, or the same error, as werkzeug's `get_data` with the app's limit, which is what
it read before (connectors/http.py)."""

from __future__ import annotations

import io

import pytest
from flask import Flask, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.test import EnvironBuilder

from deskbridge.connectors.http import read_body

LIMIT = 64
BODY = b'{"id": "evt-1", "type": "zendesk:ticket.comment_added"}'


class Trickle:
    """A WSGI input (read only) that gives at most 3 bytes a read."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(3 if size < 0 else min(size, 3))


def read_as_werkzeug_does(limit: int) -> bytes:
    """read_body as it was: werkzeug's get_data, then one byte more for a chunked body."""
    raw = request.get_data(cache=False)
    stream = request.environ["wsgi.input"]
    if len(raw) >= limit and request.content_length is None and stream.read(1):
        raise RequestEntityTooLarge()
    return raw


def outcome(read, environ: dict) -> tuple:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = LIMIT
    with app.request_context(environ):
        try:
            return ("body", bytes(read(LIMIT)))
        except HTTPException as exc:
            return ("error", type(exc), exc.code)


def environ_of(stream_data: bytes, length: str | None, **extra) -> dict:
    environ = EnvironBuilder(path="/webhooks/zendesk", method="POST").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    environ["wsgi.input"] = extra.pop("stream", None) or io.BytesIO(stream_data)
    environ.update(extra)
    return environ


TERMINATED = {"wsgi.input_terminated": True}

CASES = {
    "stated length": (BODY, str(len(BODY)), {}),
    "stated length, terminated": (BODY, str(len(BODY)), TERMINATED),
    "empty": (b"", "0", {}),
    "empty, terminated": (b"", "0", TERMINATED),
    "zero length, data behind": (BODY, "0", {}),
    "leading zeros": (BODY, f"000{len(BODY)}", {}),
    "shorter than the stream": (BODY, "10", {}),
    "stream ends early": (BODY, str(len(BODY) + 5), {}),
    "stream ends early, terminated": (BODY, str(len(BODY) + 5), TERMINATED),
    "exactly the limit": (b"x" * LIMIT, str(LIMIT), {}),
    "one over the limit": (b"x" * (LIMIT + 1), str(LIMIT + 1), {}),
    "one over the limit, terminated": (b"x" * (LIMIT + 1), str(LIMIT + 1), TERMINATED),
    "spaces around the length": (BODY, f" {len(BODY)}\t", {}),
    "a sign": (BODY, f"+{len(BODY)}", {}),
    "negative": (BODY, "-5", {}),
    "not a number": (BODY, "ten", {}),
    "non-ASCII digits": (BODY, "\uff14\uff15", {}),
    "no length": (BODY, None, {}),
    "no length, terminated": (BODY, None, TERMINATED),
    "chunked at the limit": (
        b"x" * LIMIT,
        None,
        {"HTTP_TRANSFER_ENCODING": "chunked", **TERMINATED},
    ),
    "chunked over the limit": (
        b"x" * (LIMIT + 1),
        None,
        {"HTTP_TRANSFER_ENCODING": "chunked", **TERMINATED},
    ),
    "chunked with a length": (BODY, "5", {"HTTP_TRANSFER_ENCODING": "chunked", **TERMINATED}),
    "another transfer coding": (BODY, str(len(BODY)), {"HTTP_TRANSFER_ENCODING": "gzip"}),
    "short reads": (b"", str(len(BODY)), {"stream": Trickle(BODY)}),
    "short reads, ending early": (b"", str(len(BODY) + 2), {"stream": Trickle(BODY)}),
}


@pytest.mark.parametrize(("data", "length", "extra"), CASES.values(), ids=CASES.keys())
def test_read_body_reads_what_werkzeug_reads(data, length, extra):
    def fresh() -> dict:
        copy = dict(extra)
        if "stream" in copy:
            copy["stream"] = Trickle(BODY)
        return environ_of(data, length, **copy)

    now = outcome(lambda limit: read_body(request._get_current_object(), limit), fresh())
    assert now == outcome(read_as_werkzeug_does, fresh())


def test_each_read_is_a_bytes_object_of_its_own():
    """As werkzeug's: io.BytesIO hands back the very bytes it was made from, and a connector
    may know the body it read last by its object (Salesforce)."""
    environ = environ_of(BODY, str(len(BODY)))
    app = Flask(__name__)
    with app.request_context(environ):
        raw = read_body(request._get_current_object(), LIMIT)
    assert raw == BODY
    assert raw is not BODY
