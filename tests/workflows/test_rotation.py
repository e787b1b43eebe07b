"""who_is_on_call and the shifts ahead (example config: weekly, Monday 09:00 Europe/London,
members Priya, Lena, Tom from Monday 2026-01-05)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from deskbridge.config.rules import OverrideConfig, load_rules
from deskbridge.workflows.decision import Context
from deskbridge.workflows.rotation import Override, Rotation, Shift, who_is_on_call
from deskbridge.workflows.rules import oncall
from deskbridge.workflows.rules.oncall import build_resolver

EXAMPLE = "config/example.yaml"
PRIYA, LENA, TOM, SAM = "U02PRIYA01", "U02LENAF01", "U02TOMOK01", "U02SAMWL01"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def rules():
    example = load_rules(EXAMPLE)
    # Without the example's static override, so the rotation itself is what is tested.
    oncall = example.oncall.model_copy(update={"overrides": []})
    return example.model_copy(update={"oncall": oncall})


@pytest.fixture(scope="module")
def rotation(rules):
    return Rotation(rules.oncall, rules.team.timezone)


def test_first_shift_starts_at_the_first_handoff(rotation):
    assert rotation.handoff_at(0) == utc("2026-01-05T09:00:00")
    assert rotation.who_is_on_call(utc("2026-01-05T08:59:59")) is None
    assert rotation.who_is_on_call(utc("2026-01-05T09:00:00")) == PRIYA
    assert rotation.who_is_on_call(utc("2026-01-12T08:59:59")) == PRIYA
    assert rotation.who_is_on_call(utc("2026-01-12T09:00:00")) == LENA
    assert rotation.who_is_on_call(utc("2026-01-19T09:00:00")) == TOM
    assert rotation.who_is_on_call(utc("2026-01-26T09:00:00")) == PRIYA


def test_start_date_before_the_handoff_day_waits_for_it(rules):
    rotation_config = rules.oncall.rotation.model_copy(update={"start": date(2026, 1, 1)})
    config = rules.oncall.model_copy(update={"rotation": rotation_config})
    rotation = Rotation(config, "Europe/London")
    # 2026-01-01 is a Thursday: the first shift starts Monday 2026-01-05 09:00.
    assert rotation.handoff_at(0) == utc("2026-01-05T09:00:00")


def test_spring_forward_hands_off_at_nine_local(rotation):
    # Clocks go forward on Sunday 2026-03-29: Monday's 09:00 BST is 08:00 UTC.
    assert rotation.handoff_at(12) == utc("2026-03-30T08:00:00")
    assert rotation.who_is_on_call(utc("2026-03-30T07:59:59")) == TOM
    assert rotation.who_is_on_call(utc("2026-03-30T08:00:00")) == PRIYA
    # The week before the change still hands off at 09:00 UTC (GMT).
    assert rotation.handoff_at(11) == utc("2026-03-23T09:00:00")


def test_fall_back_hands_off_at_nine_local(rotation):
    # Clocks go back on Sunday 2026-10-25: the Monday before was 09:00 BST = 08:00 UTC,
    # the Monday after is 09:00 GMT = 09:00 UTC.
    assert rotation.handoff_at(41) == utc("2026-10-19T08:00:00")
    assert rotation.handoff_at(42) == utc("2026-10-26T09:00:00")
    before = rotation.member_for(41)
    assert rotation.who_is_on_call(utc("2026-10-26T08:30:00")) == before
    assert rotation.who_is_on_call(utc("2026-10-26T09:00:00")) == rotation.member_for(42)


def test_daily_shifts_across_dst(rules):
    rotation_config = rules.oncall.rotation.model_copy(
        update={"shift": "daily", "handoff": (None, datetime(2026, 1, 1, 18).time())}
    )
    config = rules.oncall.model_copy(update={"rotation": rotation_config})
    rotation = Rotation(config, "Europe/London")
    assert rotation.handoff_at(0) == utc("2026-01-05T18:00:00")
    assert rotation.who_is_on_call(utc("2026-01-06T17:59:00")) == PRIYA
    assert rotation.who_is_on_call(utc("2026-01-06T18:00:00")) == LENA
    # 2026-03-29 18:00 BST is 17:00 UTC.
    index = rotation.shift_index(utc("2026-03-29T17:00:00"))
    assert rotation.handoff_at(index) == utc("2026-03-29T17:00:00")
    assert rotation.shift_index(utc("2026-03-29T16:59:59")) == index - 1


def test_a_handoff_the_clock_change_skips_or_repeats(rules):
    # README: 01:30 does not exist on Sunday 2026-03-29 in London (01:00 GMT -> 02:00 BST):
    # that hand-off is at 02:30 BST (01:30 UTC, as if the clocks had not changed yet). On
    # Sunday 2026-10-25 01:30 comes twice: the hand-off is at the first, 01:30 BST.
    rotation_config = rules.oncall.rotation.model_copy(
        update={"shift": "daily", "handoff": (None, datetime(2026, 1, 1, 1, 30).time())}
    )
    config = rules.oncall.model_copy(update={"rotation": rotation_config})
    rotation = Rotation(config, "Europe/London")
    spring = rotation.shift_index(utc("2026-03-29T12:00:00"))
    assert [rotation.handoff_at(i) for i in (spring - 1, spring, spring + 1)] == [
        utc("2026-03-28T01:30:00"),
        utc("2026-03-29T01:30:00"),
        utc("2026-03-30T00:30:00"),
    ]
    autumn = rotation.shift_index(utc("2026-10-25T12:00:00"))
    assert [rotation.handoff_at(i) for i in (autumn - 1, autumn, autumn + 1)] == [
        utc("2026-10-24T00:30:00"),
        utc("2026-10-25T00:30:00"),
        utc("2026-10-26T01:30:00"),
    ]


def test_override_starting_and_ending_mid_shift(rotation, rules):
    london = Rotation(
        rules.oncall,
        "Europe/London",
        [Override(SAM, utc("2026-01-07T18:00:00"), utc("2026-01-08T07:00:00"))],
    )
    assert london.who_is_on_call(utc("2026-01-07T17:59:59")) == PRIYA
    assert london.who_is_on_call(utc("2026-01-07T18:00:00")) == SAM
    assert london.who_is_on_call(utc("2026-01-08T06:59:59")) == SAM
    assert london.who_is_on_call(utc("2026-01-08T07:00:00")) == PRIYA


def test_override_across_a_handoff_keeps_its_person(rules):
    rotation = Rotation(
        rules.oncall,
        "Europe/London",
        [Override(SAM, utc("2026-01-11T20:00:00"), utc("2026-01-12T12:00:00"))],
    )
    assert rotation.who_is_on_call(utc("2026-01-12T09:30:00")) == SAM
    assert rotation.who_is_on_call(utc("2026-01-12T12:00:00")) == LENA


def test_overlapping_overrides_the_later_defined_wins(rules):
    static = [
        # Static ones come first, in file order.
        {"person": LENA, "from": "2026-01-07T12:00", "to": "2026-01-08T12:00"},
        {"person": TOM, "from": "2026-01-07T18:00", "to": "2026-01-07T22:00"},
    ]
    config = rules.oncall.model_copy(
        update={"overrides": [OverrideConfig.model_validate(o) for o in static]}
    )
    stored = [Override(SAM, utc("2026-01-07T20:00:00"), utc("2026-01-07T21:00:00"), by=SAM)]
    rotation = Rotation(config, "Europe/London", stored)
    assert rotation.who_is_on_call(utc("2026-01-07T13:00:00")) == LENA
    assert rotation.who_is_on_call(utc("2026-01-07T19:00:00")) == TOM
    assert rotation.who_is_on_call(utc("2026-01-07T20:30:00")) == SAM
    assert rotation.who_is_on_call(utc("2026-01-07T21:30:00")) == TOM
    assert rotation.who_is_on_call(utc("2026-01-07T23:00:00")) == LENA
    assert rotation.who_is_on_call(utc("2026-01-08T12:00:00")) == PRIYA


def test_static_override_times_are_local():
    rules = load_rules(EXAMPLE)
    # Tom covers 2026-03-07 18:00 → 03-09 09:00 London (GMT then): the rotation has Tom
    # that week anyway, so check the edges through the override itself.
    (override,) = Rotation(rules.oncall, rules.team.timezone).overrides
    assert (override.starts, override.ends) == (
        utc("2026-03-07T18:00:00"),
        utc("2026-03-09T09:00:00"),
    )
    assert who_is_on_call(rules, utc("2026-03-07T23:10:00")) == TOM


def test_next_on_call_follows_the_rotation(rotation):
    assert rotation.next_on_call(utc("2026-01-10T23:10:00"), {PRIYA}) == LENA
    assert rotation.next_on_call(utc("2026-01-20T23:10:00"), {TOM}) == PRIYA
    # Before the rotation starts: its first member.
    assert rotation.next_on_call(utc("2026-01-01T23:10:00"), set()) == PRIYA


def test_next_on_call_skips_the_people_paged_and_applies_the_next_shifts_overrides(rules):
    saturday = utc("2026-01-10T23:10:00")  # Priya's week; Lena's from Monday 12 Jan 09:00
    covers = Override(LENA, utc("2026-01-10T18:00:00"), utc("2026-01-11T08:00:00"))
    # Lena covers tonight and is paged: she takes the next shift as well, so Tom follows.
    # Not Priya, whose night it is: she is away, and the rest of her week is not "next".
    assert Rotation(rules.oncall, "Europe/London", [covers]).next_on_call(saturday, {LENA}) == TOM
    # Sam covers the first day of Lena's week: he takes over at the hand-off, then Lena.
    monday = Override(SAM, utc("2026-01-12T09:00:00"), utc("2026-01-13T09:00:00"))
    rotation = Rotation(rules.oncall, "Europe/London", [monday])
    assert rotation.next_on_call(saturday, {PRIYA}) == SAM
    assert rotation.next_on_call(saturday, {PRIYA, SAM}) == LENA
    # Everyone on the rotation (and the override) paged already: nobody else.
    assert rotation.next_on_call(saturday, {PRIYA, SAM, LENA, TOM}) is None
    assert (
        Rotation(rules.oncall, "Europe/London").next_on_call(saturday, {PRIYA, LENA, TOM}) is None
    )


def test_timeline_applies_overrides_and_merges(rules):
    rotation = Rotation(
        rules.oncall,
        "Europe/London",
        [Override(SAM, utc("2026-01-14T18:00:00"), utc("2026-01-15T08:00:00"))],
    )
    assert rotation.timeline(utc("2026-01-13T10:00:00"), 2) == [
        Shift(LENA, utc("2026-01-12T09:00:00"), utc("2026-01-14T18:00:00")),
        Shift(SAM, utc("2026-01-14T18:00:00"), utc("2026-01-15T08:00:00"), override=True),
        Shift(LENA, utc("2026-01-15T08:00:00"), utc("2026-01-19T09:00:00")),
        Shift(TOM, utc("2026-01-19T09:00:00"), utc("2026-01-26T09:00:00")),
    ]


def test_no_oncall_section_means_nobody(rules):
    assert (
        who_is_on_call(rules.model_copy(update={"oncall": None}), utc("2026-01-10T00:00:00"))
        is None
    )


def test_paging_makes_the_rotation_once_per_rules_and_overrides(rules, monkeypatch):
    """Who is on call is asked on every paging decision: the rotation (and the shifts it
    worked out) is made once per rules and overrides, and other overrides get their own."""
    made = []

    class Counting(Rotation):
        def __init__(self, *args) -> None:
            made.append(args)
            super().__init__(*args)

    monkeypatch.setattr(oncall, "Rotation", Counting)
    oncall._ROTATIONS.clear()
    saturday = utc("2026-01-10T23:10:00")  # Priya's week
    resolvers = [build_resolver(rules, Context(saturday, rules), saturday) for _ in range(3)]
    assert [resolve("oncall", set()) for resolve in resolvers] == [[PRIYA]] * 3
    assert len(made) == 1
    covers = Override(LENA, utc("2026-01-10T18:00:00"), utc("2026-01-11T08:00:00"))
    covered = Context(saturday, rules, oncall_overrides=(covers,))
    assert build_resolver(rules, covered, saturday)("oncall", set()) == [LENA]
    assert build_resolver(rules, Context(saturday, rules), saturday)("oncall", set()) == [PRIYA]
    assert len(made) == 2
