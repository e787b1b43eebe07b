"""`serve` on a port another process holds: one plain error naming the address and how to pick
another, exit 1, no traceback, and no claim that it is listening."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deskbridge.config.settings import EXAMPLE_CONFIG

pytestmark = pytest.mark.slow


def test_serve_on_a_busy_port_says_so(tmp_path: Path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ZENDESK_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deskbridge.db'}",
        "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG),
    }
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "deskbridge.cli", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another process has it? choose a port with --port, or make run PORT=…)"
    )
    assert "Traceback" not in done.stderr
    assert "listening on" not in done.stderr
    assert "decider.started" not in done.stderr
