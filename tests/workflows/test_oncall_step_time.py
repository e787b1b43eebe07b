"""Who a chain's later step pages is read when the step runs (Grafana OnCall's "notify on-call
from schedule"): the chain's steps and times are snapshotted when it starts, its people are
not. Before, a chain paged the people on call when it began all the way up: a step after the
rotation's hand-off paged the person whose shift had ended, and one after an override made in
Slack in the middle of the night (`/deskbridge oncall override`: Lena is ill, Priya covers)
paged Lena again and not Priya, who had taken over.

config/example.yaml: weekly rotation Priya -> Lena -> Tom, hand-off Monday 09:00 Europe/London
(UTC in January) from 5 January, so 12-19 January is Lena's week and Tom's starts on Monday 19
January at 09:00; steps at 0 (on call), +10 (on call again), +20 (next) and +30 min (the
leads: Sam)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from deskbridge.store.oncall import insert_override
from deskbridge.workflows.decider import Decider
from deskbridge.workflows.rotation import Override
from tests.workflows.test_oncall_catch_up import created, paging, store

PRIYA, LENA, TOM, SAM = "U02PRIYA01", "U02LENAF01", "U02TOMOK01", "U02SAMWL01"
FRIDAY_NIGHT = datetime(2026, 1, 16, 23, 0, tzinfo=UTC)  # Lena's week
MONDAY_0850 = datetime(2026, 1, 19, 8, 50, tzinfo=UTC)  # Lena's week until 09:00, then Tom's


def run_chain(engine: Engine, rules, start: datetime, between=None) -> list[tuple]:
    """Ticket 7 created urgent at `start`, decided then; `between(engine)` runs after the first
    page; then each step's timer fires at its time. Whom each page pages, step by step."""
    store(engine, created(start), start)
    decided = Decider(engine, rules, lambda: start).decide_pending()
    if between is not None:
        between(engine)
    for minutes in (10, 20, 30):
        at = start + timedelta(minutes=minutes)
        decided += Decider(engine, rules, lambda at=at: at).fire_due_timers(at)
    chain = start.isoformat()
    return [
        (key.removeprefix(f"oncall:{chain}:"), people)
        for _, kind, key, people in paging(decided)
        if kind == "page_oncall"
    ]


def test_a_chain_pages_the_person_who_covers_from_an_override_made_after_its_first_page(
    engine, rules
):
    # Lena is paged at 23:00; at 23:05 she is ill and Priya covers the rest of her night.
    def priya_covers(engine: Engine) -> None:
        with engine.begin() as connection:
            cover = Override(
                PRIYA,
                FRIDAY_NIGHT + timedelta(minutes=5),
                datetime(2026, 1, 17, 9, 0, tzinfo=UTC),
                by=LENA,
            )
            insert_override(connection, cover, FRIDAY_NIGHT + timedelta(minutes=5))

    assert run_chain(engine, rules, FRIDAY_NIGHT, priya_covers) == [
        ("0", [LENA]),
        ("1", [PRIYA]),  # on call at 23:10 (was: Lena, ill, again)
        ("2", [TOM]),  # the next on the rotation, neither of the two paged
        ("3", [SAM]),
    ]


def test_without_an_override_the_chain_pages_as_it_began(engine, rules):
    assert run_chain(engine, rules, FRIDAY_NIGHT) == [
        ("0", [LENA]),
        ("1", [LENA]),
        ("2", [TOM]),
        ("3", [SAM]),
    ]


def test_a_step_after_the_hand_off_pages_the_new_shift(engine, rules):
    # Paged at 08:50 on Monday, before the office opens: Lena's week. At 09:00 Tom's week
    # begins: the step at +10 pages him (was: Lena, off call), and `next` at +20 is the one
    # after Tom's week, Priya (was: Tom, as the next after Lena's).
    assert run_chain(engine, rules, MONDAY_0850) == [
        ("0", [LENA]),
        ("1", [TOM]),
        ("2", [PRIYA]),
        ("3", [SAM]),
    ]


def test_next_steps_after_the_hand_off_page_the_new_shift_first(engine, tmp_path):
    # Steps on call, next, next, the leads, paged at 08:50 on Monday: at 09:00 Tom's week
    # begins. The `next` steps page Tom, then Priya: the rotation's order from the shift the
    # chain began in. Counted from the step's own shift, Tom (on call from 09:00) was skipped
    # as "the person on call" and never paged, and the second `next` said everyone had been.
    import yaml

    from deskbridge.config.rules import load_rules
    from deskbridge.config.settings import EXAMPLE_CONFIG

    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["oncall"]["escalation"] = [
        {"after": "0m", "notify": "oncall"},
        {"after": "10m", "notify": "next"},
        {"after": "20m", "notify": "next"},
        {"after": "30m", "notify": "lead"},
    ]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data))
    assert run_chain(engine, load_rules(path), MONDAY_0850) == [
        ("0", [LENA]),
        ("1", [TOM]),
        ("2", [PRIYA]),
        ("3", [SAM]),
    ]
