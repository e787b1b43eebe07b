"""A new on-call chain's id is one no earlier chain of the ticket had: a chain's keys are
forgotten once it is over, so a repeated id would give the new chain's pages the old keys and
the outbox would skip them (nobody paged)."""

from __future__ import annotations

from datetime import UTC, datetime

from deskbridge.config.rules import load_rules
from deskbridge.workflows.model import OncallChain
from deskbridge.workflows.rules.oncall import snapshot_chain
from tests.test_replay_oncall import EXAMPLE

T0 = datetime(2026, 1, 17, 22, 0, tzinfo=UTC)
T1 = datetime(2026, 1, 17, 23, 0, tzinfo=UTC)
T2 = datetime(2026, 1, 18, 0, 30, tzinfo=UTC)


def start_chains(*times: datetime) -> list[OncallChain]:
    """Each time a chain starts, replacing the one before (as the on-call rule does)."""
    rules = load_rules(EXAMPLE)
    chains: list[OncallChain] = []
    for now in times:
        previous = chains[-1] if chains else None
        chains.append(snapshot_chain(rules, "escalated", "r", now, previous))
    return chains


def test_chain_ids_never_repeat_even_when_a_chain_starts_earlier_than_the_last():
    # Two chains in one instant, then one started by an event of an earlier time, then one
    # at the first instant again: before, the fourth took the first's id ("T1"), its pages the
    # first chain's keys.
    ids = [c.id for c in start_chains(T1, T1, T0, T1, T2, T2)]
    assert ids == [
        "2026-01-17T23:00:00+00:00",
        "2026-01-17T23:00:00+00:00#2",
        "2026-01-17T22:00:00+00:00#3",
        "2026-01-17T23:00:00+00:00#4",
        "2026-01-18T00:30:00+00:00",
        "2026-01-18T00:30:00+00:00#6",
    ]
    chains = start_chains(T1, T1, T0, T1, T2, T2)
    assert [(c.number, c.latest_started_at) for c in chains] == [
        (1, T1),
        (2, T1),
        (3, T1),
        (4, T1),
        (5, T2),
        (6, T2),
    ]


def test_a_chain_stored_before_chains_were_numbered_counts_from_its_id():
    # A state stored by the previous version: no number, no latest start; its id says #3.
    rules = load_rules(EXAMPLE)
    stored = OncallChain(
        id="2026-01-17T23:00:00+00:00#3",
        trigger="escalated",
        reason="r",
        started_at=T1,
        steps=[],
    )
    new = snapshot_chain(rules, "escalated", "r", T1, stored)
    assert (new.id, new.number, new.latest_started_at) == ("2026-01-17T23:00:00+00:00#4", 4, T1)


def test_a_chain_stored_with_its_steps_people_still_loads():
    # Stored before who a step pages was read when it pages: each step kept its people.
    from pydantic import TypeAdapter

    from deskbridge.workflows.model import OncallStep

    stored = {
        "id": "2026-01-17T23:00:00+00:00",
        "trigger": "escalated",
        "reason": "r",
        "started_at": "2026-01-17T23:00:00+00:00",
        "steps": [{"after_s": 0.0, "notify": "oncall", "people": ["U02LENAF01"]}],
        "paged": ["U02LENAF01"],
    }
    chain = TypeAdapter(OncallChain).validate_python(stored)
    assert chain.steps == [OncallStep(after_s=0.0, notify="oncall")]
    assert chain.paged == ["U02LENAF01"]
