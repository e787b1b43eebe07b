"""reliability.md §6 A1: the same signed Zendesk event delivered 5 times one after another,
then 5 times at once, to `deskbridge web` with 2 gunicorn workers on PostgreSQL, a `deskbridge
worker` deciding and sending to a fake Slack: every delivery is answered 200, one is taken and
nine are duplicates; the event is stored once, its actions are queued and performed once each,
and Slack gets one message per action and channel."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from deskbridge.store.db import create_store_engine
from deskbridge.store.schema import events, outbox, slack_messages
from tests.acceptance.test_crash_restart import DESKBRIDGE, free_port, open_around_the_clock
from tests.acceptance.test_slow_clients import start_web
from tests.bot.test_slack_flow import SIGNING_SECRET, TEAM, zendesk_event
from tests.conftest import (
    TEST_SECRET,
    postgres_available,
    postgres_schema,
    process_env,
    signed_headers,
)
from tests.fakeslack import FakeSlack

pytestmark = pytest.mark.slow


def deliver(port: int, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/zendesk",
        data=body,
        method="POST",
        headers=signed_headers(body, datetime.now(UTC)),
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())["status"]


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def test_one_event_sent_ten_times_to_two_web_workers_is_stored_and_performed_once(tmp_path):
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable")
    slack = FakeSlack().start()
    port = free_port()
    body = zendesk_event("created", 1, status="NEW", ticket="48401")
    with postgres_schema() as url:
        env = {
            **process_env(),
            "DATABASE_URL": url,
            "DESKBRIDGE_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "DESKBRIDGE_CONFIG": open_around_the_clock(tmp_path),
            "ZENDESK_WEBHOOK_SECRET": TEST_SECRET,
            "SLACK_BOT_TOKEN": "xoxb-duplicate-delivery",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_TEAM_ID": TEAM,
            "SLACK_API_URL": slack.url,
            "DESKBRIDGE_SLACK_MIN_INTERVAL": "0",
            "DESKBRIDGE_DISPATCH_INTERVAL": "0.1",
        }
        env.pop("PAGERDUTY_ROUTING_KEY", None)
        web, _ = start_web([str(DESKBRIDGE), "web"], env, tmp_path)
        worker = None
        engine = create_store_engine(url)
        try:
            answers = [deliver(port, body) for _ in range(5)]
            with ThreadPoolExecutor(max_workers=5) as pool:
                answers += list(pool.map(lambda _: deliver(port, body), range(5)))
            with (tmp_path / "worker.log").open("ab") as log:
                worker = subprocess.Popen(
                    [str(DESKBRIDGE), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
                )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with engine.connect() as connection:
                    statuses = connection.execute(select(outbox.c.status)).scalars().all()
                if statuses and set(statuses) == {"done"}:
                    break
                time.sleep(0.2)
            time.sleep(1)  # a second sending, if there were one, would show by now
            with engine.connect() as connection:
                stored = connection.execute(select(events.c.dedupe_key)).scalars().all()
                rows = connection.execute(select(outbox.c.idempotency_key, outbox.c.status)).all()
                recorded = connection.execute(
                    select(func.count()).select_from(slack_messages)
                ).scalar_one()
        finally:
            if worker is not None:
                stop(worker)
            stop(web)
            engine.dispose()
            slack.stop()

    assert answers[:5] == [(200, "accepted")] + [(200, "duplicate")] * 4
    assert sorted(answers[5:]) == [(200, "duplicate")] * 5
    assert stored == ["zendesk:event:evt-48401-1"]
    assert rows and {status for _, status in rows} == {"done"}
    assert len({key for key, _ in rows}) == len(rows)
    posts = [p for p in slack.ok_calls("chat.postMessage") if p.ts is not None]
    sent = Counter((p.args["metadata"]["event_payload"]["key"], p.args["channel"]) for p in posts)
    assert posts and set(sent.values()) == {1}
    assert {key for key, _ in sent} <= {key for key, _ in rows}
    assert recorded == len(posts)
