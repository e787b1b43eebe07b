"""`deskbridge web` runs several gunicorn workers and /metrics is answered by whichever one the
request reaches: its counters are every worker's (prometheus_client's multiprocess mode, in a
folder `deskbridge web` makes for the run and removes as it stops, or, when the run was killed,
at the next start), and the store's figures are read once, not multiplied by the workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.acceptance.test_crash_restart import DESKBRIDGE, comment_body, deliver, free_port
from tests.acceptance.test_slow_clients import start_web
from tests.conftest import TEST_SECRET, process_env, signed_headers

pytestmark = pytest.mark.slow

STORE_FIGURES = (
    "deskbridge_decide_lag_seconds",
    "deskbridge_outbox_pending",
    "deskbridge_outbox_oldest_seconds",
    "deskbridge_outbox_dead",
    "deskbridge_events_failed_stored",
    "deskbridge_timers_failed_stored",
    "deskbridge_store_up",
)


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """/metrics as {sample name: [(labels, value), ...]}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def accepted(samples: dict) -> float:
    return sum(
        value
        for labels, value in samples.get("deskbridge_webhooks_total", [])
        if labels == {"source": "zendesk", "outcome": "accepted"}
    )


class HeldWorker:
    """A connection that has sent only a request line: the sync worker that accepted it waits
    for the rest, and takes no other request, until `finish` sends a whole signed webhook."""

    def __init__(self, port: int):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.socket.sendall(b"POST /webhooks/zendesk HTTP/1.1\r\n")

    def finish(self, body: bytes) -> bytes:
        headers = {
            **signed_headers(body, datetime.now(UTC)),
            "Host": "x",
            "Content-Length": str(len(body)),
            "Connection": "close",
        }
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.socket.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        while chunk := self.socket.recv(65536):
            answer += chunk
        self.socket.close()
        return answer.split(b"\r\n", 1)[0]


def web_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {
        **process_env("PROMETHEUS_"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deskbridge.db'}",
        "DESKBRIDGE_BIND": f"127.0.0.1:{port}",
        "ZENDESK_WEBHOOK_SECRET": TEST_SECRET,
        "WEB_CONCURRENCY": "2",
        # The private metrics folder is made here, where the test can see it.
        "TMPDIR": str(tmp_path / "tmp"),
        **extra,
    }
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return env


def stop(server) -> int:
    server.send_signal(signal.SIGTERM)
    return server.wait(timeout=40)


def test_every_worker_answers_metrics_with_every_workers_webhooks(tmp_path):
    port = free_port()
    server, status = start_web([str(DESKBRIDGE), "web"], web_env(tmp_path, port), tmp_path)
    try:
        folders = [p.name for p in (tmp_path / "tmp").iterdir()]
        # The two workers are told apart by holding one: each half-sent request keeps the
        # worker that took it from taking any other, so the other answers everything.
        first = HeldWorker(port)  # worker A waits
        to_b = [deliver(port, comment_body(1, n)) for n in range(5)]
        only_b = accepted(scrape(port))
        second = HeldWorker(port)  # worker B waits (A still does)
        from_a = [first.finish(comment_body(2, 0))]  # A answers it, then takes the rest
        from_a += [deliver(port, comment_body(2, n)) for n in range(1, 4)]
        only_a = scrape(port)  # B still waits: A answers, with B's five
        from_b = second.finish(comment_body(3, 0))
        scrapes = [scrape(port) for _ in range(6)]
    finally:
        code = stop(server)

    assert status == b"HTTP/1.1 200 OK"
    assert (to_b, from_a, from_b) == (
        [200] * 5,
        [b"HTTP/1.1 200 OK"] + [200] * 3,
        b"HTTP/1.1 200 OK",
    )
    assert (only_b, accepted(only_a), [accepted(s) for s in scrapes]) == (5, 9, [10] * 6)
    assert [name for name in scrapes[0] if name.endswith("_created")] == []
    # The store's figures: one series each, read by the answering worker (no worker runs
    # here to decide the ten events, and the outbox is empty), not one per worker or summed.
    for samples in (only_a, *scrapes):
        figures = {name: samples[name] for name in STORE_FIGURES}
        assert {name: len(series) for name, series in figures.items()} == dict.fromkeys(
            STORE_FIGURES, 1
        )
        assert all(labels == {} for series in figures.values() for labels, _ in series)
        assert figures["deskbridge_decide_lag_seconds"][0][1] > 0
        assert {name: series[0][1] for name, series in figures.items()} | {
            "deskbridge_decide_lag_seconds": 0
        } == dict.fromkeys(STORE_FIGURES, 0) | {"deskbridge_store_up": 1}
    # Made for the run, and gone with it.
    assert (code, len(folders), folders[0].startswith("deskbridge-metrics-")) == (0, 1, True)
    assert list((tmp_path / "tmp").iterdir()) == []


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers of a master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _ended(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def test_a_killed_runs_metrics_folder_is_removed_at_the_next_start(tmp_path):
    """`deskbridge web` killed (SIGKILL: it never stops, never removes its private folder) left
    the folder and its workers' files in $TMPDIR for good, one more for each such run. The next
    start removes the folders of runs none of whose processes lives, and only those: a running
    web's is kept, as are a folder of that name without the lock file (an older version's) and
    anything else there."""
    tmp = tmp_path / "tmp"
    names = lambda: {p.name for p in tmp.iterdir()}  # noqa: E731
    live_env = web_env(tmp_path, free_port(), WEB_CONCURRENCY="1")
    live, _status = start_web([str(DESKBRIDGE), "web"], live_env, tmp_path)
    try:
        (live_folder,) = names()
        killed_port = free_port()
        killed_env = web_env(tmp_path, killed_port, WEB_CONCURRENCY="1")
        killed, _status = start_web([str(DESKBRIDGE), "web"], killed_env, tmp_path)
        (killed_folder,) = names() - {live_folder}
        delivered = deliver(killed_port, comment_body(5, 0))
        workers = _children(killed.pid)
        killed.kill()
        killed.wait(timeout=40)
        until = time.monotonic() + 30
        while not all(_ended(pid) for pid in workers) and time.monotonic() < until:
            time.sleep(0.1)
        left = {p.name.split("_")[0] for p in (tmp / killed_folder).iterdir()}
        (tmp / "deskbridge-metrics-older").mkdir()
        (tmp / "other").mkdir()
        before = names()
        next_env = web_env(tmp_path, free_port(), WEB_CONCURRENCY="1")
        following, _status = start_web([str(DESKBRIDGE), "web"], next_env, tmp_path)
        try:
            after = names()
        finally:
            following_code = stop(following)
    finally:
        live_code = stop(live)

    assert (delivered, len(workers), left) == (
        200,
        1,
        {"owner.lock", "counter", "gauge", "histogram"},
    )
    assert before == {live_folder, killed_folder, "deskbridge-metrics-older", "other"}
    (next_folder,) = after - before
    assert after == {live_folder, next_folder, "deskbridge-metrics-older", "other"}
    removals = [
        line.split(" ", 4)[4]
        for line in (tmp_path / "web.log").read_text().splitlines()
        if "web.metrics_folders_removed" in line
    ]
    assert removals == [
        f"web.metrics_folders_removed count=1 folders={killed_folder} "
        'reason="left by runs that ended without stopping (killed)"'
    ]
    assert (live_code, following_code) == (0, 0)
    assert names() == {"deskbridge-metrics-older", "other"}


def test_an_operators_metrics_folder_is_used_and_kept(tmp_path):
    port = free_port()
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = web_env(tmp_path, port, PROMETHEUS_MULTIPROC_DIR=str(folder))
    server, _status = start_web([str(DESKBRIDGE), "web"], env, tmp_path)
    try:
        codes = [deliver(port, comment_body(4, n)) for n in range(3)]
        counts = [accepted(scrape(port)) for _ in range(3)]
    finally:
        code = stop(server)

    assert (codes, counts, code) == ([200] * 3, [3] * 3, 0)
    # Kept, with the workers' counts; their store figures went as each worker ended.
    assert {p.name.split("_")[0] for p in folder.iterdir()} == {"counter", "histogram"}
    assert list((tmp_path / "tmp").iterdir()) == []


def test_web_refuses_a_metrics_folder_that_is_not_one(tmp_path):
    missing = tmp_path / "nowhere"
    env = web_env(tmp_path, free_port(), PROMETHEUS_MULTIPROC_DIR=str(missing))

    # A process of its own: `web` imports gunicorn's settings, which read WEB_CONCURRENCY once.
    result = subprocess.run(
        [str(DESKBRIDGE), "web"], env=env, capture_output=True, text=True, timeout=60
    )

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: PROMETHEUS_MULTIPROC_DIR={str(missing)!r} is not a folder this user can "
        "write to: create it (empty), or unset it for a private one per run\n",
    )


def test_a_folder_a_run_of_ours_made_is_not_taken_for_the_operators(tmp_path, monkeypatch):
    """gunicorn's USR2 upgrade executes `deskbridge web` again with the old master's
    environment, PROMETHEUS_MULTIPROC_DIR included: the new run took the old run's private
    folder for the operator's and kept it, and the old master removed it as it stopped, under
    the new run's workers. The new run makes its own; an operator's folder is still used."""
    import shutil
    import tempfile

    from deskbridge import cli

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for name in ("PROMETHEUS_MULTIPROC_DIR", cli.PRIVATE_METRICS_FOLDER):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)  # restored (unset) after the test
    old, old_lock, _ = cli._metrics_folder()
    try:
        new, new_lock, removed = cli._metrics_folder()  # the upgrade's run
        try:
            assert (new is not None, new != old, removed) == (True, True, [])
            assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == new
            assert os.environ[cli.PRIVATE_METRICS_FOLDER] == new
            assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
                [Path(old).name, Path(new).name]
            )
            operators = tmp_path / "operators"
            operators.mkdir()
            monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(operators))
            assert cli._metrics_folder() == (None, -1, [])
        finally:
            shutil.rmtree(new)
            os.close(new_lock)
    finally:
        shutil.rmtree(old)
        os.close(old_lock)
