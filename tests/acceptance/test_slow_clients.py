"""Slow clients cannot starve `deskbridge serve`: 500 half-sent requests from one client leave
room for /healthz and a signed webhook, and the server closes those sockets itself once they
have been idle for the configured channel timeout."""

from __future__ import annotations

import selectors
import socket
import time
import urllib.request
from datetime import UTC, datetime

import pytest

from tests.acceptance.test_crash_restart import comment_body, free_port, start_server
from tests.conftest import signed_headers

HALF_OPEN = 500
CHANNEL_TIMEOUT = 3  # seconds; serve's default is 30
# A half-sent request: headers promise 1,000 bytes of body, six arrive, then nothing.
PARTIAL = (
    b"POST /webhooks/zendesk HTTP/1.1\r\nHost: deskbridge\r\n"
    b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id":'
)


def _open_half_sent(port: int) -> list[socket.socket]:
    sockets = []
    for _ in range(HALF_OPEN):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(PARTIAL)
        sockets.append(sock)
    return sockets


def _wait_closed(sockets: list[socket.socket], deadline: float) -> dict[socket.socket, float]:
    """When each socket was closed by the server (read end of file or reset)."""
    closed: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        while len(closed) < len(sockets) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if not data:
                    closed[sock] = time.monotonic()
                    selector.unregister(sock)
    return closed


@pytest.mark.slow
def test_500_half_open_connections_leave_room_and_are_closed_after_the_timeout(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("DESKBRIDGE_CHANNEL_TIMEOUT", str(CHANNEL_TIMEOUT))
    port = free_port()
    server = start_server(tmp_path / "deskbridge.db", port, tmp_path / "serve.log")
    sockets: list[socket.socket] = []
    try:
        sockets = _open_half_sent(port)
        last_sent = time.monotonic()

        started = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as health:
            assert (health.status, health.read()) == (200, b'{"status":"ok"}\n')
        body = comment_body(48600, 1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/zendesk",
            data=body,
            method="POST",
            headers=signed_headers(body, datetime.now(UTC)),
        )
        with urllib.request.urlopen(request, timeout=2) as webhook:
            assert webhook.status == 200
        assert time.monotonic() - started < 4  # each answered within its 2 s timeout

        # Closed once idle for the timeout; the idle check runs every second.
        closed = _wait_closed(sockets, last_sent + CHANNEL_TIMEOUT + 1 + 3)
        assert len(closed) == HALF_OPEN
        assert max(closed.values()) - last_sent <= CHANNEL_TIMEOUT + 1 + 1
        assert min(closed.values()) - last_sent >= CHANNEL_TIMEOUT - 1
    finally:
        for sock in sockets:
            sock.close()
        server.terminate()
        server.wait(timeout=20)
