"""Events delivered late or out of order decide what a clean, in-order replay decides
(DESIGN §3 step 4), through `deskbridge replay --until` (config/example.yaml)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from tests.test_replay_sla import body, delivered, replay_sla, reply, status


def replay_all(lines: list[dict], until: str) -> list[dict]:
    """Every action replaying `lines` in arrival order decides, as JSON records."""
    text = "".join(json.dumps(line) + "\n" for line in in_arrival_order(lines))
    result = CliRunner().invoke(main, ["replay", "-", "--until", until], input=text)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def in_arrival_order(lines: list[dict]) -> list[dict]:
    return sorted(lines, key=lambda line: line["at"])


# -- 1. a pending period delivered late ---------------------------------------------------


@pytest.mark.parametrize(
    "arrivals",
    [
        None,
        # The pending period and its end come after a later event (a 13:00 tag change).
        ("2026-03-09T13:05:00Z", "2026-03-09T13:10:00Z"),
        # Its end first, then its start.
        ("2026-03-09T13:10:00Z", "2026-03-09T13:05:00Z"),
        # Only the start late: the ticket was open again at 12:00, delivered in time.
        ("2026-03-09T13:05:00Z", None),
    ],
    ids=["in order", "both late", "end before start", "start late"],
)
def test_a_pending_period_delivered_late_pauses_resolution_as_in_order(arrivals):
    created = "2026-03-09T09:00:00Z"  # Monday; urgent resolution target 9 business hours
    pending = status("621", "2026-03-09T10:00:00Z", 3, "PENDING", "OPEN", created)
    reopened = status("621", "2026-03-09T12:00:00Z", 4, "OPEN", "PENDING", created)
    if arrivals is not None:
        start, end = arrivals
        pending = delivered(pending, start)
        reopened = delivered(reopened, end) if end else reopened
    tagged = body("tags_changed", "621", "2026-03-09T13:00:00Z", 5, created=created)
    lines = [
        body("created", "621", created, 1, status="NEW"),
        reply("621", "2026-03-09T09:20:00Z", 2, created),
        pending,
        reopened,
        tagged,
    ]
    fired = replay_sla(in_arrival_order(lines), until="2026-03-11T00:00:00Z", metric="resolution")
    # Two business hours on hold: each deadline two business hours later than unpaused
    # (test_replay_sla's 15:45, 17:06, 18:00).
    assert fired == [
        ("2026-03-09T17:45:00Z", "sla_warning", "resolution", "assignee"),
        ("2026-03-10T10:06:00Z", "sla_warning", "resolution", "lead"),
        ("2026-03-10T11:00:00Z", "sla_breach", "resolution", "lead"),
    ]
