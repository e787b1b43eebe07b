"""The one language inside (workflows/model.py): copies of states with changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

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


def test_states_share_their_set_of_fields_given_and_cannot_be_changed_in_place():
    def make(n: int) -> TicketState:
        return TicketState(key=f"zendesk:{n}", source=Source.zendesk, ticket_id=str(n))

    first, second = make(1), make(2)
    assert first.model_fields_set == {"key", "source", "ticket_id"}
    assert first.model_fields_set is second.model_fields_set
    # A copy with a field not given before gets the set of the other copies with that field;
    # one with fields already given keeps its state's.
    opened = evolve(first, {"status": Status.open})
    assert opened.model_fields_set == {"key", "source", "ticket_id", "status"}
    assert opened.model_fields_set is evolve(second, {"status": Status.solved}).model_fields_set
    assert evolve(opened, {"status": Status.pending}).model_fields_set is opened.model_fields_set
    # Read back from the store (validated), with the clocks inside.
    clock = SlaClock(metric="first_reply", instance="x", started_at=T0, running_since=T0)
    stored = evolve(first, {"sla_clocks": {"first_reply": clock}}).model_dump(mode="json")
    again, other = TicketState.model_validate(stored), TicketState.model_validate(stored)
    assert again.model_fields_set is other.model_fields_set
    read_clock = again.sla_clocks["first_reply"]
    assert read_clock.model_fields_set is other.sla_clocks["first_reply"].model_fields_set
    assert read_clock == clock
    # Nothing can add a name to a shared set: states are changed by copies only.
    with pytest.raises(ValidationError, match="frozen"):
        first.subject = "Late"
    assert first.subject is None and second.model_fields_set == {"key", "source", "ticket_id"}


def test_evolve_of_a_model_with_extra_fields_or_private_attributes_keeps_them():
    from pydantic import BaseModel, ConfigDict, PrivateAttr

    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")
        name: str

    class Private(BaseModel):
        name: str
        _seen: int = PrivateAttr(default=0)

    opened = evolve(Open(name="a", colour="red"), {"name": "b"})
    assert opened.name == "b" and opened.model_extra == {"colour": "red"}
    kept = Private(name="a")
    kept._seen = 3
    copied = evolve(kept, {"name": "b"})
    assert copied.name == "b" and copied._seen == 3
    # A plain model has neither: its copy has none either.
    clock = SlaClock(metric="first_reply", instance="x", started_at=T0, running_since=T0)
    copied_clock = evolve(clock, {"used_s": 1.0})
    assert copied_clock.__pydantic_extra__ is None and copied_clock.__pydantic_private__ is None
