"""`serve`'s waitress channel (config/waitress_server.py): its main loop does not ask about a
socket's writability while a request thread is sending on it, and every answer still arrives
whole, also one too large for the socket's buffers, sent partly by the main loop; a body over
the limit gets the app's own 413, byte for byte."""

from __future__ import annotations

import hashlib
import socket
import threading

import pytest

from deskbridge.config.waitress_server import NotWritableWhileFlushing, build_server

SMALL = b'{"status":"accepted"}\n'
# Far more than loopback's socket buffers take at once: a request thread's flush leaves
# bytes unsent, and the main loop, woken, sends the rest.
LARGE = bytes(range(256)) * (8 * 1024 * 1024 // 256)


def _app(environ, start_response):
    body = LARGE if environ["PATH_INFO"] == "/large" else SMALL
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def refused() -> list[tuple[str, int, str]]:
    return []


@pytest.fixture
def server(refused):
    server = build_server(
        _app,
        max_body_bytes=1000,
        on_too_large=lambda path, limit, field: refused.append((path, limit, field)),
        host="127.0.0.1",
        port=0,
        threads=2,
        asyncore_use_poll=True,
    )
    thread = threading.Thread(target=server.run, name="main-loop", daemon=True)
    thread.start()
    yield server
    server.close()
    thread.join(timeout=5)


def _get(port: int, path: str, times: int = 1) -> list[bytes]:
    """`times` GETs of `path` on one kept-alive connection; the bodies."""
    bodies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rb")
        for _ in range(times):
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
            length = None
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None
            bodies.append(stream.read(length))
    return bodies


def test_not_writable_to_the_main_loop_while_a_request_thread_sends(server, monkeypatch):
    seen = []

    def send(self, data, do_close=True):
        seen.append((threading.current_thread().name != "main-loop", self.writable()))
        return sent(self, data, do_close)

    sent = NotWritableWhileFlushing.send
    monkeypatch.setattr(NotWritableWhileFlushing, "send", send)
    port = server.effective_port

    assert _get(port, "/small", times=20) == [SMALL] * 20
    from_request_threads = [writable for in_request_thread, writable in seen if in_request_thread]
    assert len(from_request_threads) >= 20
    assert not any(from_request_threads)


def test_an_answer_larger_than_the_socket_buffers_arrives_whole(server):
    port = server.effective_port
    bodies = _get(port, "/large", times=2)
    assert [hashlib.sha256(b).hexdigest() for b in bodies] == [
        hashlib.sha256(LARGE).hexdigest()
    ] * 2


def _post(port: int, head: bytes, body: bytes) -> bytes:
    """One POST to /webhooks/zendesk; the whole answer (the server closes after a 413)."""
    request = b"POST /webhooks/zendesk HTTP/1.1\r\nHost: test\r\n" + head + b"\r\n" + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_body_over_the_limit_gets_the_apps_413(server, refused):
    """The bytes the app's jsonify writes (tests/connectors/test_http.py checks the app's):
    compact, keys sorted, a closing newline."""
    port = server.effective_port
    sized = _post(port, b"Content-Length: 1001\r\n", b"x" * 1001)
    chunked = _post(port, b"Transfer-Encoding: chunked\r\n", b"3e9\r\n" + b"x" * 1001 + b"\r\n")
    answers = []
    for answer in (sized, chunked):
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {n.lower(): v.strip() for n, _, v in (line.partition(":") for line in lines[1:])}
        assert int(headers["content-length"]) == len(body)
        answers.append((lines[0], headers["content-type"], body))
    assert answers == [
        (
            "HTTP/1.1 413 Request Entity Too Large",
            "application/json",
            b'{"error":"body is larger than 1000 bytes","field":"Content-Length"}\n',
        ),
        (
            "HTTP/1.1 413 Request Entity Too Large",
            "application/json",
            b'{"error":"body is larger than 1000 bytes (chunked: chunk sizes and line ends count'
            b' too)","field":"body"}\n',
        ),
    ]
    assert refused == [
        ("/webhooks/zendesk", 1000, "Content-Length"),
        ("/webhooks/zendesk", 1000, "body"),
    ]
