"""SIGTERM, as systemd, Docker and Kubernetes stop a service, stops `serve` and `worker` the way
Ctrl-C does: background threads finish, `runtime.stopped` is logged, the exit status is 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deskbridge.config.settings import EXAMPLE_CONFIG

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_sigterm_stops_like_ctrl_c(command, tmp_path: Path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ZENDESK_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deskbridge.db'}",
        "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG),
    }
    args = [sys.executable, "-m", "deskbridge.cli", command]
    if command == "serve":
        args += ["--port", str(_free_port())]
    process = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        for line in process.stderr:
            lines.append(line)
            if "deskbridge worker running" in line or "deskbridge listening" in line:
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(60), "".join(lines)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=5)
    assert any("runtime.stopped" in line for line in lines), "".join(lines)
