"""quick_init: the frozen dataclasses the decider makes per event keep what dataclasses gives
them (arguments, defaults, factories, frozenness, equality, hashing), made more cheaply."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from deskbridge.store.interface import DueTimer, StoredEvent
from deskbridge.workflows.activity import Fact
from deskbridge.workflows.decision import Context, Decision, RelatedTicket, Timer
from deskbridge.workflows.frozen import quick_init

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _record(name: str) -> type:
    """The same frozen dataclass each time: one left as dataclasses makes it, one given
    quick_init."""

    @dataclasses.dataclass(frozen=True)
    class Record:
        name: str
        at: datetime
        count: int = 0
        tags: list[str] = dataclasses.field(default_factory=list)
        note: str | None = None

    Record.__name__ = Record.__qualname__ = name
    return Record


_Plain = _record("_Plain")
_Quick = quick_init(_record("_Quick"))


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("a", AT), {}),
        (("a", AT, 3), {}),
        (("a",), {"at": AT, "note": "n"}),
        ((), {"name": "a", "at": AT, "tags": ["x"], "count": 2}),
        (("a", AT, 1, None, None), {}),  # a factory's field given None keeps None
    ],
)
def test_the_same_fields_as_dataclasses_gives(args, kwargs):
    quick, plain = _Quick(*args, **kwargs), _Plain(*args, **kwargs)
    assert quick.__dict__ == plain.__dict__
    assert list(quick.__dict__) == list(plain.__dict__)  # in field order
    assert repr(quick) == repr(plain).replace("_Plain", "_Quick")
    assert quick == _Quick(*args, **kwargs)
    if not isinstance(quick.tags, list):
        assert hash(quick) == hash(_Quick(*args, **kwargs))


def test_a_factory_gives_each_instance_its_own_value():
    first, second = _Quick("a", AT), _Quick("b", AT)
    assert first.tags == [] and first.tags is not second.tags


def test_still_frozen_and_checked_as_dataclasses_checks_arguments():
    quick = _Quick("a", AT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.count = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        _Quick("a")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Quick("a", AT, surprise=1)  # type: ignore[call-arg]
    assert dataclasses.replace(quick, count=5) == _Quick("a", AT, 5)


def test_refuses_what_it_does_not_copy():
    with pytest.raises(TypeError, match="not a frozen dataclass"):
        quick_init(dataclasses.dataclass(type("Open", (), {"__annotations__": {"a": int}})))

    @dataclasses.dataclass(frozen=True)
    class Later:
        a: int

        def __post_init__(self) -> None:
            pass

    with pytest.raises(TypeError, match="__post_init__"):
        quick_init(Later)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class ByName:
        a: int

    with pytest.raises(TypeError, match="keyword-only"):
        quick_init(ByName)


def test_the_decider_records_are_made_as_before():
    timer = Timer("t1", "zendesk:1", "sla", AT)
    assert timer.payload == {} and timer.payload is not Timer("t1", "zendesk:1", "sla", AT).payload
    assert timer == Timer(id="t1", ticket="zendesk:1", kind="sla", due_at=AT, payload={})
    context = Context(now=AT, rules=None)  # type: ignore[arg-type]
    assert dataclasses.astuple(context) == (AT, None, None, (), (), None)
    assert RelatedTicket("zendesk:2", AT).escalation_signals == ()
    fact = Fact("k", AT, "solved", "zendesk:1", "42")
    assert (fact.person, fact.detail) == ("42", None)
    assert hash(fact) == hash(Fact("k", AT, "solved", "zendesk:1", "42"))
    assert DueTimer(timer, 3).generation == 3
    assert StoredEvent(1, "d", "zendesk:1", AT, None).received_at == AT
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.now = AT  # type: ignore[misc]


def test_a_decision_starts_empty_with_lists_of_its_own():
    first, second = Decision(), Decision()
    assert first == Decision(actions=[], timers=[], cancel=[], updates={})
    assert first.actions is not second.actions and first.updates is not second.updates
    given = ["x"]
    assert Decision(cancel=given).cancel is given
