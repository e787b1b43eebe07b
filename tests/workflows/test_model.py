"""The one language inside (workflows/model.py): copies of states with changes."""

from __future__ import annotations

from datetime import UTC, datetime

from deskbridge.workflows.model import SlaClock, Source, Status, TicketState, evolve

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_evolve_makes_the_copy_model_copy_makes():
    state = TicketState(
        key="zendesk:1", source=Source.zendesk, ticket_id="1", tags=["vip"], fired=["a"]
    )
    changes = {"status": Status.open, "fired": ["a", "b"], "subject": "Late"}
    evolved, copied = evolve(state, changes), state.model_copy(update=changes)
    assert evolved == copied
    assert evolved.model_dump() == copied.model_dump()
    assert evolved.model_fields_set == copied.model_fields_set
    assert evolved.model_dump_json(exclude_unset=True) == copied.model_dump_json(exclude_unset=True)
    # A copy: the original is unchanged, and a new state is a new object.
    assert state.status is Status.new and state.fired == ["a"] and state.subject is None
    assert evolved is not state and evolve(state, {}) == state
    clock = SlaClock(metric="first_reply", instance="x", started_at=T0, running_since=T0)
    assert evolve(clock, {"running_since": None, "used_s": 60.0}) == clock.model_copy(
        update={"running_since": None, "used_s": 60.0}
    )
