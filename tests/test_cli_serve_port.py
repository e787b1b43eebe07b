"""`serve` on a port another process holds: one plain error naming the address and how to pick
another, exit 1, no traceback, and no claim that it is listening. A port or thread count out of
range: click's usage error, exit 2, before anything starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG
from tests.conftest import process_env


@pytest.mark.slow
def test_serve_on_a_busy_port_says_so(tmp_path: Path):
    # The store was created and migrated first (store.migrated logged, deskbridge.db left
    # behind), then the port was found taken: the user met the error with a store made.
    store = tmp_path / "deskbridge.db"
    env = {
        **process_env(),
        "DATABASE_URL": f"sqlite:///{store}",
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
    assert "store.migrated" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_serve_lets_the_port_go_when_the_store_cannot_be_opened(tmp_path: Path):
    # Bound first, then the store: a store that cannot be opened must not leave the port held
    # (in one process, as a supervisor restarting serve in a loop, the next start found it busy).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    missing = tmp_path / "no-such-directory" / "deskbridge.db"
    env = {"DATABASE_URL": f"sqlite:///{missing}", "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}

    result = CliRunner().invoke(main, ["serve", "--port", str(port)], env=env)

    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1].startswith(
        f"Error: cannot open the store at sqlite:///{missing}"
    )
    assert "listening on" not in result.output
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--port", "0"], "Error: Invalid value for '--port': 0 is not in the range 1<=x<=65535."),
        (
            ["--port", "65536"],
            "Error: Invalid value for '--port': 65536 is not in the range 1<=x<=65535.",
        ),
        (
            ["--port", "70000"],
            "Error: Invalid value for '--port': 70000 is not in the range 1<=x<=65535.",
        ),
        (
            ["--port", "-1"],
            "Error: Invalid value for '--port': -1 is not in the range 1<=x<=65535.",
        ),
        (
            ["--threads", "0"],
            "Error: Invalid value for '--threads': 0 is not in the range 1<=x<=256.",
        ),
        (
            ["--threads", "-4"],
            "Error: Invalid value for '--threads': -4 is not in the range 1<=x<=256.",
        ),
        (
            ["--threads", "80000"],
            "Error: Invalid value for '--threads': 80000 is not in the range 1<=x<=256.",
        ),
        # A word was "not a valid integer range", as if a range had been asked for.
        (["--port", "http"], "Error: Invalid value for '--port': 'http' is not a valid integer."),
        (
            ["--threads", "8.5"],
            "Error: Invalid value for '--threads': '8.5' is not a valid integer.",
        ),
    ],
)
def test_serve_refuses_a_port_or_thread_count_out_of_range(args: list[str], error: str):
    """Waitress would take 70000 as port 4464 and 0 as any free port, and with 0 threads
    would listen but never answer."""
    result = CliRunner().invoke(main, ["serve", *args])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == error
    assert "listening on" not in result.output


@pytest.mark.parametrize("port", ["1", "65535"])
def test_serve_accepts_the_ends_of_the_port_range(port: str):
    ctx = main.commands["serve"].make_context("serve", ["--port", port, "--threads", "1"])
    assert (ctx.params["port"], ctx.params["threads"]) == (int(port), 1)


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("999.1.1.1", "no such address"),  # was waitress' "ValueError: Invalid host/port" traceback
        ("no-such-host.invalid", "no such address"),
        ("192.0.2.1", "Cannot assign requested address"),  # TEST-NET-1: never this machine's
    ],
)
def test_serve_on_an_address_this_machine_does_not_have_says_so(tmp_path: Path, host, why):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deskbridge.db'}",
        "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG),
    }
    result = CliRunner().invoke(main, ["serve", "--host", host, "--port", "8080"], env=env)

    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1] == (
        f"Error: cannot listen on {host}:8080: {why} (not an address of this machine: --host "
        "takes one of its addresses or names, like 127.0.0.1, or 0.0.0.0 for every interface)"
    )
    assert "listening on" not in result.output


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("localhost", "http://localhost:8080"),
        ("::1", "http://[::1]:8080"),  # was http://::1:8080, which no browser or curl opens
        ("::", "http://[::]:8080"),
    ],
)
def test_the_address_serve_says_it_listens_on(host, url):
    from deskbridge.cli import build_listen_url

    assert build_listen_url(host, 8080) == url


def test_serve_takes_its_connection_settings_from_the_environment_unless_given(
    tmp_path: Path, monkeypatch
):
    from deskbridge.config import waitress_server

    seen = []

    def build_server(app, **options):
        seen.append((options["connection_limit"], options["channel_timeout"]))
        raise OSError(98, "Address already in use")  # stop before anything starts

    monkeypatch.setattr(waitress_server, "build_server", build_server)
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deskbridge.db'}",
        "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG),
        "DESKBRIDGE_CONNECTION_LIMIT": "50",
        "DESKBRIDGE_CHANNEL_TIMEOUT": "7",
    }
    CliRunner().invoke(main, ["serve", "--port", "18089"], env=env)
    CliRunner().invoke(main, ["serve", "--port", "18089", "--channel-timeout", "9"], env=env)
    env.update(DESKBRIDGE_CONNECTION_LIMIT=None, DESKBRIDGE_CHANNEL_TIMEOUT=None)  # unset
    CliRunner().invoke(main, ["serve", "--port", "18089"], env=env)

    assert seen == [(50, 7), (50, 9), (1000, 30)]
