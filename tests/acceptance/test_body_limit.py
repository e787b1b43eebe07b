"""`deskbridge serve` refuses a body over DESKBRIDGE_MAX_BODY_BYTES before the app sees it
(waitress does, from Content-Length or as a chunked body arrives): the 413 names the configured
limit and what was too large, in the app's JSON, and is counted and logged like the app's."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from tests.acceptance.test_crash_restart import free_port, start_server

pytestmark = pytest.mark.slow

LIMIT = 100


def exchange(port: int, head: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """One raw request; the status, headers (lower-case names) and body of the answer."""
    request = b"POST /webhooks/zendesk HTTP/1.1\r\nHost: deskbridge\r\n" + head + b"\r\n" + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer:
                top, _, rest = answer.partition(b"\r\n\r\n")
                lines = top.decode().split("\r\n")
                headers = dict(
                    (name.lower(), value.strip())
                    for name, _, value in (line.partition(":") for line in lines[1:])
                )
                if len(rest) >= int(headers.get("content-length", "0")):
                    return int(lines[0].split()[1]), headers, rest
    raise AssertionError(f"incomplete answer: {answer!r}")


def sized(n: int) -> tuple[bytes, bytes]:
    return b"Content-Type: application/json\r\nContent-Length: %d\r\n" % n, b"x" * n


def chunked(body: bytes) -> tuple[bytes, bytes]:
    frame = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    return b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", frame


def test_a_body_over_the_limit_gets_a_json_413_naming_the_limit(tmp_path):
    log = tmp_path / "serve.log"
    port = free_port()
    server = start_server(
        tmp_path / "deskbridge.db", port, log, DESKBRIDGE_MAX_BODY_BYTES=str(LIMIT)
    )
    try:
        # At the limit: read, then refused for what it is (no signature), not for its size.
        at_limit = exchange(port, *sized(LIMIT))
        over = exchange(port, *sized(LIMIT + 1))
        huge = exchange(port, b"Content-Length: 1073741824\r\n", b"")
        # waitress counts a chunked body with its framing: 89 bytes in one chunk take 100.
        chunked_in = exchange(port, *chunked(b"x" * 89))
        chunked_over = exchange(port, *chunked(b"x" * 90))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert (at_limit[0], chunked_in[0]) == (401, 401)
    for status, headers, body in (over, huge):
        assert (status, headers["content-type"], json.loads(body)) == (
            413,
            "application/json",
            {"error": "body is larger than 100 bytes", "field": "Content-Length"},
        )
    status, headers, body = chunked_over
    assert (status, headers["content-type"], json.loads(body)) == (
        413,
        "application/json",
        {
            "error": "body is larger than 100 bytes (chunked: chunk sizes and line ends count too)",
            "field": "body",
        },
    )
    assert 'deskbridge_webhooks_total{outcome="too_large",source="zendesk"} 3.0' in metrics
    assert [line for line in metrics.splitlines() if "_created" in line] == []
    logged = [line for line in log.read_text().splitlines() if "webhook.too_large" in line]
    assert [line.split("webhook.too_large ", 1)[1] for line in logged] == [
        "source=zendesk limit=100 field=Content-Length",
        "source=zendesk limit=100 field=Content-Length",
        "source=zendesk limit=100 field=body",
    ]
