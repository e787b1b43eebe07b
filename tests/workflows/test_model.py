"""The one language inside (workflows/model.py): copies of states with changes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from deskbridge.workflows.model import (
    OncallChain,
    OncallStep,
    SlaClock,
    Source,
    Status,
    TicketState,
    dump_state,
    evolve,
    load_state,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_evolve_makes_the_copy_replace_makes():
    state = TicketState(
        key="zendesk:1", source=Source.zendesk, ticket_id="1", tags=["vip"], fired=["a"]
    )
    changes = {"status": Status.open, "fired": ["a", "b"], "subject": "Late"}
    evolved, copied = evolve(state, changes), dataclasses.replace(state, **changes)
    assert evolved == copied
    assert dump_state(evolved) == dump_state(copied)
    assert dump_state(evolved) == {
        **dump_state(state),
        "status": "open",
        "fired": ["a", "b"],
        "subject": "Late",
    }
    # A copy: the original is unchanged, and a new state is a new object.
    assert state.status is Status.new and state.fired == ["a"] and state.subject is None
    assert evolved is not state and evolve(state, {}) == state
    clock = SlaClock(metric="first_reply", instance="x", started_at=T0, running_since=T0)
    assert evolve(clock, {"running_since": None, "used_s": 60.0}) == dataclasses.replace(
        clock, running_since=None, used_s=60.0
    )


def test_states_are_validated_when_made_or_read_and_cannot_be_changed_in_place():
    first = TicketState(key="zendesk:1", source="zendesk", ticket_id="1", status="open")
    assert first.source is Source.zendesk and first.status is Status.open
    with pytest.raises(ValidationError, match="status"):
        TicketState(key="zendesk:1", source="zendesk", ticket_id="1", status="closed-ish")
    # Read back from the store (validated), with the clocks inside.
    clock = SlaClock(metric="first_reply", instance="x", started_at=T0, running_since=T0)
    stored = dump_state(evolve(first, {"sla_clocks": {"first_reply": clock}}))
    assert stored["sla_clocks"] == {
        "first_reply": {
            "metric": "first_reply",
            "instance": "x",
            "started_at": "2026-03-02T09:00:00Z",
            "running_since": "2026-03-02T09:00:00Z",
            "used_s": 0.0,
            "fulfilled_at": None,
            "stopped": False,
            "stopped_at": None,
            "breached_at": None,
        }
    }
    again = load_state(stored)
    assert again == evolve(first, {"sla_clocks": {"first_reply": clock}})
    assert type(again.sla_clocks["first_reply"]) is SlaClock
    with pytest.raises(ValidationError, match="sla_clocks"):
        load_state({**stored, "sla_clocks": {"first_reply": {"metric": "first_reply"}}})
    # States are changed by copies only.
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.subject = "Late"
    assert first.subject is None


def test_state_attributes_are_plain_reads():
    """The state models are not pydantic BaseModels: on Python 3.11 a BaseModel's every
    attribute read goes through its `__getattr__` hook (workflows/model.py, `state_model`)."""
    for model in (TicketState, SlaClock, OncallStep, OncallChain):
        assert dataclasses.is_dataclass(model) and not hasattr(model, "__getattr__")


def test_evolve_of_a_model_with_extra_fields_or_private_attributes_keeps_them():
    from pydantic import BaseModel, ConfigDict, PrivateAttr

    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")
        name: str

    class Private(BaseModel):
        name: str
        _seen: int = PrivateAttr(default=0)

    class Plain(BaseModel):
        name: str
        size: int = 0

    opened = evolve(Open(name="a", colour="red"), {"name": "b"})
    assert opened.name == "b" and opened.model_extra == {"colour": "red"}
    kept = Private(name="a")
    kept._seen = 3
    copied = evolve(kept, {"name": "b"})
    assert copied.name == "b" and copied._seen == 3
    # A plain model has neither: its copy has none either, and the fields given add up.
    plain = evolve(Plain(name="a"), {"size": 2})
    assert plain == Plain(name="a", size=2) and plain.model_fields_set == {"name", "size"}
    assert plain.__pydantic_extra__ is None and plain.__pydantic_private__ is None
