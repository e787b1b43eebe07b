"""tests/fakeslack.py run by itself (README, Try Slack by hand): a new user sees what the bot
posts, as a team lead would read it, without a Slack workspace."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_fakeslack_run_alone_prints_each_call_as_a_json_line() -> None:
    process = subprocess.Popen(
        [sys.executable, "tests/fakeslack.py", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("fake Slack at http://127.0.0.1:"), first
        url = first.split()[3]
        assert first == f"fake Slack at {url} (set SLACK_API_URL to it); Ctrl-C stops it\n"
        post = {
            "channel": "#resolution-leads",
            "text": "SLA breached: #48213 Invoice export returns 502",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": ":fire: SLA breached"}},
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": "*Why:* first reply target missed"},
                    "fields": [{"type": "mrkdwn", "text": "*Priority*\nhigh"}],
                },
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "static_select",
                            "placeholder": {"type": "plain_text", "text": "Pick department"},
                        },
                        {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}},
                    ],
                },
            ],
        }
        request = urllib.request.Request(
            url + "chat.postMessage",
            data=json.dumps(post).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert json.loads(answer.read())["ok"] is True
        line = json.loads(process.stdout.readline())
        assert line == {
            "method": "chat.postMessage",
            "status": 200,
            "channel": "#resolution-leads",
            "thread_ts": None,
            "text": "SLA breached: #48213 Invoice export returns 502",
            "shown": [
                ":fire: SLA breached",
                "*Why:* first reply target missed",
                "*Priority*\nhigh",
                "[Pick department ▾]",
                "[Acknowledge]",
            ],
        }
    finally:
        process.terminate()
        process.wait(timeout=5)
