"""A fake Slack Web API on 127.0.0.1 for tests: records every call, answers like Slack, and can
be told to answer 429 (with Retry-After) or 5xx, or a Slack error for a channel."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


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
    # Channels where a message with blocks is refused (invalid_blocks), plain text accepted.
    blocks_refused: set[str] = field(default_factory=set)
    # Bytes posted to upload URLs (files_upload_v2's second step), by file id.
    uploads: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: int = 0

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
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
                status, headers, body = fake.answer(self.path.strip("/"), args)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

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
                self._ts += 1
                ts = f"1741083767.{self._ts:06d}"
                self.calls.append(Call(method, args, 200, time.monotonic(), ts))
                # A DM to a user id lands in a D… channel, as in Slack.
                posted = "D" + channel[1:] if channel.startswith("U") else channel
                return (
                    200,
                    {},
                    {
                        "ok": True,
                        "channel": posted,
                        "ts": ts,
                        "message": {"text": args.get("text", "")},
                    },
                )
            if method == "files.getUploadURLExternal":
                self._ts += 1
                file_id = f"F{self._ts:08d}"
                self.calls.append(Call(method, args, 200, time.monotonic()))
                upload = self.url.removesuffix("api/") + f"upload/{file_id}"
                return 200, {}, {"ok": True, "upload_url": upload, "file_id": file_id}
            if method == "files.completeUploadExternal":
                self.calls.append(Call(method, args, 200, time.monotonic()))
                files = args.get("files") or []
                files = json.loads(files) if isinstance(files, str) else files
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

    def ok_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status == 200]
