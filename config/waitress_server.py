"""waitress as `deskbridge serve` runs it (gunicorn, for production, is config/gunicorn.py).

waitress refuses a body over the limit itself, from Content-Length before reading it, or as a
chunked body grows past it, so the app never sees it. waitress refuses at and above its bound,
which is therefore set one above DESKBRIDGE_MAX_BODY_BYTES, and its own answer is plain text
naming that bound ("exceeds max_body of 101" for a limit of 100). This answers instead as the
app does behind gunicorn: JSON naming the real limit and what was too large, and tells
`on_too_large` (which logs and counts it) since no request handler runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from waitress import create_server
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, MultiSocketServer
from waitress.task import ErrorTask
from waitress.utilities import RequestEntityTooLarge

from deskbridge.connectors.errors import CHUNKED, CONTENT_LENGTH, describe_too_large

# on_too_large(path, limit, field): the refused request's path, the limit and what was too large.
TooLargeHook = Callable[[str, int, str], None]


def _channel_class(limit: int, on_too_large: TooLargeHook) -> type[HTTPChannel]:
    class _TooLargeAsJson(ErrorTask):
        def execute(self) -> None:
            if not isinstance(self.request.error, RequestEntityTooLarge):
                super().execute()
                return
            field = CHUNKED if self.request.chunked else CONTENT_LENGTH
            on_too_large(getattr(self.request, "path", ""), limit, field)
            # waitress counts a chunked body as it arrives, framing included: 90 bytes in one
            # chunk are refused at a limit of 100.
            answer = describe_too_large(limit, field, framing_counted=field == CHUNKED)
            # Written as the app's jsonify writes its 413 (flask's defaults: compact, keys
            # sorted, a closing newline): the same bytes from serve as from gunicorn.
            body = (json.dumps(answer, separators=(",", ":"), sort_keys=True) + "\n").encode()
            self.status = "413 Request Entity Too Large"
            self.response_headers.append(("Content-Type", "application/json"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class _Channel(NotWritableWhileFlushing):
        error_task_class = _TooLargeAsJson

    return _Channel


class NotWritableWhileFlushing(HTTPChannel):
    """waitress' channel without its main loop's busy wait on an answer being sent.

    A request thread sends its answer itself (`write_soon` flushes at once), holding the
    channel's output lock. Meanwhile its bytes are counted as unsent, so the main loop asks
    poll() about the socket's writability, which is immediate, finds the lock taken, and asks
    again: the sending thread's send() gives up the GIL, and the main loop keeps it for up to
    the interpreter's switch interval. Measured: 12 such turns per request on a bare Flask
    endpoint, 17 per acknowledgement, 0.3 ms of CPU each acknowledgement, the main loop's
    largest cost (benchmarks/README.md, eighth session). Not writable while a flush is under
    way: a request thread that leaves bytes unsent pulls the trigger after its flush, and the
    main loop, woken, sends them."""

    _flushing = False

    def writable(self) -> bool:
        return not self._flushing and super().writable()

    def _flush_some(self, do_close: bool = True) -> bool:
        self._flushing = True
        try:
            return super()._flush_some(do_close=do_close)
        finally:
            self._flushing = False


def build_server(
    app: Any, *, max_body_bytes: int, on_too_large: TooLargeHook, **adjustments: Any
) -> Any:
    """A waitress server (not yet running: call `.run()`) that refuses bodies over
    `max_body_bytes` with a JSON 413; `adjustments` are waitress' own settings."""
    server = create_server(app, max_request_body_size=max_body_bytes + 1, **adjustments)
    channel = _channel_class(max_body_bytes, on_too_large)
    # A server makes a channel of `channel_class` for each connection it accepts, from the
    # first one on.
    for listener in _listeners(server):
        listener.channel_class = channel
    return server


def _starting(environ: dict, start_response: Callable) -> list[bytes]:
    """The app of a server bound before its app exists (`serve` binds before it opens the
    store): nothing is accepted until `.run()`, which comes after `set_app`, so no request
    should meet it; one that did is told to retry."""
    body = b'{"error":"starting, retry shortly"}\n'
    start_response(
        "503 Service Unavailable",
        [("Content-Type", "application/json"), ("Retry-After", "1")],
    )
    return [body]


def bind_server(*, max_body_bytes: int, on_too_large: TooLargeHook, **adjustments: Any) -> Any:
    """build_server's server, bound, before its app exists: `set_app` gives it, then `.run()`.
    A port another process holds, an address not of this machine, is then said before anything
    else is set up (serve created and migrated the store first, then said the port was taken);
    `close_server` lets the port go when what follows fails."""
    return build_server(
        _starting, max_body_bytes=max_body_bytes, on_too_large=on_too_large, **adjustments
    )


def _listeners(server: Any) -> list[BaseWSGIServer]:
    """A waitress server's listeners: one address, the server itself; several (localhost:
    127.0.0.1 and ::1), each registered itself in the map the MultiSocketServer runs."""
    if isinstance(server, MultiSocketServer):
        return [d for d in server.map.values() if isinstance(d, BaseWSGIServer)]
    return [server]


def set_app(server: Any, app: Any) -> None:
    """The WSGI app every listener of a `bind_server` server calls from now on."""
    for listener in _listeners(server):
        listener.application = app


def close_server(server: Any) -> None:
    """Stop a server that never ran: its request threads, then its listening sockets."""
    if isinstance(server, MultiSocketServer):
        server.close()  # the task threads, then every socket in its map
        return
    server.task_dispatcher.shutdown()
    server.close()
