"""reliability.md §6 E26 (4816e52): a channel's next turn is a pace after Slack answered its last
call. An answer that is an error is an answer too: the next post is paced from it, not from the
slot the failed call was booked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deskbridge.bot.notifier import build_web_client
from deskbridge.workflows.ports import Paced, PermanentError, RetryableError
from tests.bot.test_slack_pace_late import STALL, StallingClient, paced_lead_alerts
from tests.conftest import Clock
from tests.fakeslack import FakeSlack


def test_a_late_call_answered_with_an_error_pushes_the_channels_next_turn(sqlite_engine, rules):
    # The notifier's clock is the test's: on the wall clock a busy machine's pause between the
    # refusal and the next post took from the turn measured (0.92-0.95 s seen under load).
    clock = Clock(datetime(2026, 12, 8, 10, 15, tzinfo=UTC))
    fake = FakeSlack().start()
    try:
        # Every post is refused (the second is never sent: it is paced).
        fake.fail_for(600, 200, body={"ok": False, "error": "fatal_error"})

        def stall() -> None:
            clock.now += timedelta(seconds=STALL)

        # The first post goes out STALL (0.3 s) after its slot and is refused.
        client = StallingClient(build_web_client("xoxb-test", fake.url), stall)
        slack, (first, second) = paced_lead_alerts(
            sqlite_engine, rules, client, ("zendesk:48631", "zendesk:48632"), clock
        )
        with pytest.raises((RetryableError, PermanentError)):
            slack.perform(first)
        with pytest.raises(Paced) as paced:
            slack.perform(second)
        # A second after the refusal came: from the slot it would be 0.7 s (a second, less the
        # stall).
        assert paced.value.retry_after == 1.0
        assert [(c.method, c.status) for c in fake.calls] == [("chat.postMessage", 200)]
    finally:
        fake.stop()
