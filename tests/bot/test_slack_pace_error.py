"""reliability.md §6 E26 (4816e52): a channel's next turn is a pace after Slack answered its last
call. An answer that is an error is an answer too: the next post is paced from it, not from the
slot the failed call was booked for."""

from __future__ import annotations

import pytest

from deskbridge.bot.notifier import build_web_client
from deskbridge.workflows.ports import Paced, PermanentError, RetryableError
from tests.bot.test_slack_pace_late import StallingClient, paced_lead_alerts
from tests.fakeslack import FakeSlack


def test_a_late_call_answered_with_an_error_pushes_the_channels_next_turn(sqlite_engine, rules):
    fake = FakeSlack().start()
    try:
        # The first post goes out 0.3 s after its slot (StallingClient) and is refused.
        fake.fail_for(1.0, 200, body={"ok": False, "error": "fatal_error"})
        client = StallingClient(build_web_client("xoxb-test", fake.url))
        slack, (first, second) = paced_lead_alerts(
            sqlite_engine, rules, client, ("zendesk:48631", "zendesk:48632")
        )
        with pytest.raises((RetryableError, PermanentError)):
            slack.perform(first)
        with pytest.raises(Paced) as paced:
            slack.perform(second)
        # A second after the refusal came (0.7 s: the next slot, less the stall, before).
        assert paced.value.retry_after >= 0.95
        assert [(c.method, c.status) for c in fake.calls] == [("chat.postMessage", 200)]
    finally:
        fake.stop()
