"""A fake Slack Web API on 127.0.0.1 for tests: records every call, answers like Slack, and can
be told to answer 429 (with Retry-After) or 5xx, or a Slack error for a channel, or to lose the
answer to a call it has handled (`lost_answers`), or never to answer it (NO_ANSWER).

It keeps the messages posted, as Slack does, for the methods that read them back:
- a channel named in chat.postMessage (`#name` or `name`) exists, with an id of its own (C…)
  that Slack answers with; a DM to a user id lands in a D… conversation (conversations.open
  gives the same id); conversations.list lists the named channels;
- files.completeUploadExternal with a `channel_id` shares the files there as a message of its
  own (`files`: id, name, title);
- a message's `ts` is the time it was posted (seconds.microseconds, unique per message);
- conversations.history (top-level messages, newest first) and conversations.replies (the
  parent, then its replies, oldest first) take a conversation id only, `oldest`/`latest`
  (exclusive unless `inclusive`), `limit` and a `cursor`; a message's `metadata` is returned
  only when `include_all_metadata` is true."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# In `lost_answers`: the call is handled (a message posted) and the connection then held open
# with no answer, as a server that hangs does, until the fake stops (or HUNG_FOR seconds).
NO_ANSWER = -1
HUNG_FOR = 30.0


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    status: int
    at: float
    ts: str | None = None  # what chat.postMessage answered


def too_long(blocks: list[dict[str, Any]]) -> bool:
    """Slack's Block Kit limits, as Slack enforces them (invalid_blocks): section text 3,000
    characters, each field 2,000, header 150."""
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        limit = 150 if block.get("type") == "header" else 3000
        if len(text) > limit or any(len(f.get("text", "")) > 2000 for f in block.get("fields", [])):
            return True
    return False


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    # (status, headers, body) answered to every call until `fail_until` (monotonic seconds).
    failure: tuple[int, dict[str, str], dict[str, Any]] | None = None
    fail_until: float = 0.0
    channel_errors: dict[str, str] = field(default_factory=dict)
    # Channels rate limited: until (monotonic seconds), each call naming one is answered 429
    # with this Retry-After (seconds, as text); other channels are answered as usual.
    channel_limits: dict[str, tuple[float, str]] = field(default_factory=dict)
    # Slack's own limit on chat.postMessage, about one message a second in a conversation
    # (reliability.md §1.5): a post arriving sooner than this many seconds after the last one
    # accepted in its conversation is answered 429 with Retry-After (whole seconds, as Slack
    # sends it) and not posted; 0: no limit.
    post_interval: float = 0.0
    # When the last post was accepted (monotonic seconds), by conversation id.
    last_post: dict[str, float] = field(default_factory=dict)
    # Channels where a message with blocks is refused (invalid_blocks), plain text accepted.
    blocks_refused: set[str] = field(default_factory=set)
    # Bytes posted to upload URLs (files_upload_v2's second step), by file id.
    uploads: dict[str, bytes] = field(default_factory=dict)
    # What Slack holds: messages by conversation id, oldest first; channel ids by name.
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    channel_ids: dict[str, str] = field(default_factory=dict)
    file_names: dict[str, str] = field(default_factory=dict)
    # Slack's clock (Unix seconds), which message ts come from.
    clock: Callable[[], float] = time.time
    # TCP connections accepted: a client keeping its connection alive makes fewer than calls.
    connections: int = 0
    # TCP connections closed by the fake.
    closed: int = 0
    # Requests on a connection that has served one already, answered by closing it unanswered
    # (a kept-alive connection dropped as the request arrived): how many still to drop.
    drop_reused: int = 0
    # Calls Slack handles (a message posted) and then does not answer ok, by method, in turn:
    # 0 closes the connection unanswered (dropped while the client reads the answer), NO_ANSWER
    # holds it open unanswered, a status (500, 503) is answered instead, as Slack may after it
    # has posted.
    lost_answers: dict[str, list[int]] = field(default_factory=dict)
    # Close every connection after this many answers without saying so (no Connection: close),
    # as a server closing idle connections does; 0: never.
    close_after: int = 0
    # Served over TLS with this context (an ssl.SSLContext) when set, as Slack's API is.
    tls: Any = None
    # The port to listen on; 0: any free one.
    port: int = 0
    # Print each call answered as a line of JSON on stdout (run by itself: `main`).
    print_calls: bool = False
    _open: set = field(default_factory=set)
    _stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: int = 0
    _last_ts: Decimal = Decimal(0)

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive as Slack's own API allows (a client may still ask to close).
            protocol_version = "HTTP/1.1"
            # Headers and body are two writes: without this, a kept-alive client waits for
            # the delayed ACK (40 ms) before the body arrives.
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                self.served = 0
                with fake.lock:
                    fake.connections += 1
                    fake._open.add(self.connection)

            def finish(self) -> None:
                super().finish()
                with fake.lock:
                    fake._open.discard(self.connection)

            def handle_one_request(self) -> None:
                super().handle_one_request()
                self.served += 1
                if fake.close_after and self.served >= fake.close_after:
                    self.close_connection = True

            def dropped(self) -> bool:
                """Whether this request is dropped unanswered (see `drop_reused`)."""
                with fake.lock:
                    if self.served and fake.drop_reused:
                        fake.drop_reused -= 1
                        fake.calls.append(Call("dropped", {}, 0, time.monotonic()))
                        self.close_connection = True
                        return True
                return False

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                if self.dropped():
                    return
                if self.path.startswith("/upload/"):  # a file's bytes, not an API call
                    file_id = self.path.rsplit("/", 1)[1]
                    with fake.lock:
                        fake.uploads[file_id] = data
                        fake.calls.append(Call("upload", {"file": file_id}, 200, time.monotonic()))
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"OK")
                    return
                raw = data.decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                self.reply(self.path, args)

            def do_GET(self) -> None:  # slack_sdk reads conversations.* with GET and a query
                if self.dropped():
                    return
                url = urlsplit(self.path)
                self.reply(url.path, {k: v[0] for k, v in parse_qs(url.query).items()})

            def reply(self, path: str, args: dict[str, Any]) -> None:
                status, headers, body = fake.answer(path.strip("/"), args)
                if fake.print_calls:
                    print(
                        json.dumps(build_call_line(path, args, status), ensure_ascii=False),
                        flush=True,
                    )
                with fake.lock:
                    lost = fake.lost_answers.get(path.strip("/").removeprefix("api/"))
                    instead = lost.pop(0) if lost else None
                if instead == NO_ANSWER:
                    fake._stopping.wait(HUNG_FOR)
                if instead in (0, NO_ANSWER):
                    self.close_connection = True
                    return
                if instead is not None:
                    status, headers, body = instead, {}, {"ok": False, "error": "internal_error"}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        self.server = _Server(("127.0.0.1", self.port), Handler, self)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}/api/"

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
        with self.lock:  # kept-alive connections too: a stopped Slack answers nobody
            for connection in list(self._open):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def fail_for(
        self,
        seconds: float,
        status: int,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.failure = (status, headers or {}, body or {"ok": False, "error": "ratelimited"})
        self.fail_until = time.monotonic() + seconds

    def answer(self, method: str, args: dict[str, Any]) -> tuple[int, dict, dict]:
        method = method.removeprefix("api/")
        with self.lock:
            if self.failure and time.monotonic() < self.fail_until:
                status, headers, body = self.failure
                self.calls.append(Call(method, args, status, time.monotonic()))
                return status, headers, body
            channel = str(args.get("channel", ""))
            limit = self.channel_limits.get(channel)
            if limit is not None and time.monotonic() < limit[0]:
                self.calls.append(Call(method, args, 429, time.monotonic()))
                return 429, {"Retry-After": limit[1]}, {"ok": False, "error": "ratelimited"}
            error = self.channel_errors.get(channel)
            blocks = args.get("blocks")
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            if error is None and blocks and (channel in self.blocks_refused or too_long(blocks)):
                error = "invalid_blocks"
            if error is not None:
                self.calls.append(Call(method, args, 200, time.monotonic()))
                return 200, {}, {"ok": False, "error": error}
            if method == "chat.postMessage":
                conversation = self.conversation(channel)
                now = time.monotonic()
                last = self.last_post.get(conversation)
                if self.post_interval and last is not None and now - last < self.post_interval:
                    self.calls.append(Call(method, args, 429, now))
                    wait = math.ceil(self.post_interval - (now - last))
                    return 429, {"Retry-After": str(wait)}, {"ok": False, "error": "ratelimited"}
                self.last_post[conversation] = now
                ts = self._next_ts()
                self.calls.append(Call(method, args, 200, time.monotonic(), ts))
                message: dict[str, Any] = {
                    "type": "message",
                    "bot_id": "B0FAKESLACK",
                    "text": args.get("text", ""),
                    "ts": ts,
                }
                if blocks:
                    message["blocks"] = blocks
                if args.get("thread_ts"):
                    message["thread_ts"] = args["thread_ts"]
                metadata = args.get("metadata")
                if metadata:
                    message["metadata"] = (
                        json.loads(metadata) if isinstance(metadata, str) else metadata
                    )
                self.messages.setdefault(conversation, []).append(message)
                answer = {k: v for k, v in message.items() if k != "metadata"}
                return 200, {}, {"ok": True, "channel": conversation, "ts": ts, "message": answer}
            if method in ("conversations.history", "conversations.replies"):
                self.calls.append(Call(method, args, 200, time.monotonic()))
                return 200, {}, self._read(method, args)
            if method == "conversations.open":
                self.calls.append(Call(method, args, 200, time.monotonic()))
                users = str(args.get("users", ""))
                if "," in users or not users.startswith(("U", "W")):
                    return 200, {}, {"ok": False, "error": "user_not_found"}
                return 200, {}, {"ok": True, "channel": {"id": self.conversation(users)}}
            if method == "conversations.list":
                self.calls.append(Call(method, args, 200, time.monotonic()))
                channels = [
                    {"id": cid, "name": name, "is_channel": True, "is_archived": False}
                    for name, cid in sorted(self.channel_ids.items())
                ]
                page, more = _page(channels, args, 100, 1000)
                return 200, {}, {"ok": True, "channels": page, "response_metadata": more}
            if method == "files.getUploadURLExternal":
                self._ts += 1
                file_id = f"F{self._ts:08d}"
                self.file_names[file_id] = str(args.get("filename", ""))
                self.calls.append(Call(method, args, 200, time.monotonic()))
                upload = self.url.removesuffix("api/") + f"upload/{file_id}"
                return 200, {}, {"ok": True, "upload_url": upload, "file_id": file_id}
            if method == "files.completeUploadExternal":
                self.calls.append(Call(method, args, 200, time.monotonic()))
                files = args.get("files") or []
                files = json.loads(files) if isinstance(files, str) else files
                if args.get("channel_id"):  # shared: a message with the files, in the channel
                    share: dict[str, Any] = {
                        "type": "message",
                        "bot_id": "B0FAKESLACK",
                        "upload": True,
                        "ts": self._next_ts(),
                        "files": [
                            {
                                "id": f["id"],
                                "name": self.file_names.get(f["id"], ""),
                                "title": f.get("title"),
                            }
                            for f in files
                        ],
                    }
                    if args.get("thread_ts"):
                        share["thread_ts"] = args["thread_ts"]
                    conversation = self.conversation(str(args["channel_id"]))
                    self.messages.setdefault(conversation, []).append(share)
                return (
                    200,
                    {},
                    {
                        "ok": True,
                        "files": [{"id": f["id"], "title": f.get("title")} for f in files],
                    },
                )
            self.calls.append(Call(method, args, 200, time.monotonic()))
            return 200, {}, {"ok": True, "channel": channel, "ts": args.get("ts", "")}

    def conversation(self, channel: str) -> str:
        """The conversation id chat.postMessage puts a message in: its own for an id, the DM
        for a user id, the channel's for a name."""
        if channel.startswith(("C", "G", "D")) and channel.isupper():
            return channel
        if channel.startswith(("U", "W")) and channel.isupper():
            return "D" + channel[1:]
        name = channel.removeprefix("#")
        if name not in self.channel_ids:
            digest = hashlib.sha256(name.encode()).hexdigest()[:9].upper()
            self.channel_ids[name] = "C" + digest
        return self.channel_ids[name]

    def channel_id(self, name: str) -> str:
        with self.lock:
            return self.conversation(name)

    def _next_ts(self) -> str:
        """Slack's ts: the time of posting, to the microsecond, never repeated."""
        self._ts += 1
        now = Decimal(f"{self.clock():.6f}")
        self._last_ts = max(now, self._last_ts + Decimal("0.000001"))
        return f"{self._last_ts:.6f}"

    def _read(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        conversation = str(args.get("channel", ""))
        if conversation not in self.messages and conversation not in self.channel_ids.values():
            return {"ok": False, "error": "channel_not_found"}
        held = self.messages.get(conversation, [])
        if method == "conversations.history":
            # Top-level messages only (a thread's parent included), newest first.
            messages = [m for m in reversed(held) if m.get("thread_ts", m["ts"]) == m["ts"]]
        else:
            parent = next((m for m in held if m["ts"] == args.get("ts")), None)
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            root = parent.get("thread_ts", parent["ts"])
            messages = [m for m in held if m.get("thread_ts", m["ts"]) == root]
        inclusive = _true(args.get("inclusive"))
        oldest, latest = Decimal(args.get("oldest") or 0), args.get("latest")
        after = (lambda ts: ts >= oldest) if inclusive else (lambda ts: ts > oldest)
        if latest is None:
            before = lambda ts: True  # noqa: E731
        else:
            end = Decimal(latest)
            before = (lambda ts: ts <= end) if inclusive else (lambda ts: ts < end)
        in_range = [m for m in messages if after(Decimal(m["ts"])) and before(Decimal(m["ts"]))]
        if method == "conversations.replies":  # the parent always comes first
            in_range = [m for m in messages if m["ts"] == root] + [
                m for m in in_range if m["ts"] != root
            ]
        if not _true(args.get("include_all_metadata")):
            in_range = [{k: v for k, v in m.items() if k != "metadata"} for m in in_range]
        page, more = _page(in_range, args, 100 if method == "conversations.history" else 1000, 999)
        return {
            "ok": True,
            "messages": page,
            "has_more": bool(more["next_cursor"]),
            "response_metadata": more,
        }

    def ok_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status == 200]


class _Server(ThreadingHTTPServer):
    # Slack takes a burst of new connections (16 lanes connecting at once): socketserver's
    # backlog of 5 resets some, after they have sent their request.
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type, fake: FakeSlack):
        self.fake = fake
        super().__init__(address, handler)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self.fake.lock:
            self.fake.closed += 1


def _true(value: Any) -> bool:
    return value in (True, 1, "1", "true")


def _page(items: list, args: dict[str, Any], default: int, most: int) -> tuple[list, dict]:
    """One page of `items` from the `cursor` (an offset here; opaque to clients), `limit` at
    most `most`."""
    limit = min(int(args.get("limit") or default), most)
    start = int(args.get("cursor") or 0)
    end = start + limit
    return items[start:end], {"next_cursor": str(end) if end < len(items) else ""}


def build_call_line(path: str, args: dict[str, Any], status: int) -> dict[str, Any]:
    """One call as `main` prints it: the method, where it went, and what a reader sees: each
    block's text and fields, a button as [its label], a menu as [its placeholder ▾]."""
    blocks = args.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    shown: list[str] = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            shown.append(text.get("text", ""))
        shown.extend(f.get("text", "") for f in block.get("fields") or [])
        for element in block.get("elements") or []:
            label = element.get("text")
            if element.get("type") == "button" and isinstance(label, dict):
                shown.append(f"[{label.get('text', '')}]")
            elif isinstance(label, str):  # a context block's text
                shown.append(label)
            elif isinstance(element.get("placeholder"), dict):  # a menu (Pick department)
                shown.append(f"[{element['placeholder'].get('text', '')} ▾]")
    return {
        "method": path.strip("/").removeprefix("api/"),
        "status": status,
        "channel": args.get("channel"),
        "thread_ts": args.get("thread_ts"),
        "text": args.get("text"),
        "shown": shown,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the fake Slack by itself, for trying the bot by hand (README, Try Slack by hand):
    point SLACK_API_URL at it and read what each message would show."""
    parser = argparse.ArgumentParser(description="A fake Slack Web API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=9001, help="0: any free one")
    args = parser.parse_args(argv)
    fake = FakeSlack(port=args.port, print_calls=True).start()
    print(f"fake Slack at {fake.url} (set SLACK_API_URL to it); Ctrl-C stops it", flush=True)
    try:
        fake._stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


def wait_until(condition: Callable[[], Any], seconds: float = 5.0) -> None:
    """Wait for what a background thread does (a lazy listener's note, a kept-alive socket)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.001)


if __name__ == "__main__":
    sys.exit(main())
