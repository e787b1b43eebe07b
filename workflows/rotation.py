"""The on-call rotation (pure): who is on call at an instant, and the shifts ahead.

Hand-offs are local times in the team's timezone (`monday 09:00`), so each one is computed
from its local date and then converted to UTC: a DST change moves the UTC instant, never the
local hand-off. Overrides cover an interval; where several cover the same instant the one
defined later wins (the config's list first, then the ones made in Slack, oldest first).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from deskbridge.config.rules import OncallConfig, RulesConfig


@dataclass(frozen=True)
class Override:
    """`person` covers [starts, ends) (aware instants). `by` names who made it in Slack."""

    person: str
    starts: datetime
    ends: datetime
    by: str | None = None

    def covers(self, at: datetime) -> bool:
        return self.starts <= at < self.ends


@dataclass(frozen=True)
class Shift:
    """A stretch of time with one person on call; `override` when an override put them there."""

    person: str
    starts: datetime
    ends: datetime
    override: bool = False


def localize(value: datetime, zone: ZoneInfo) -> datetime:
    """A naive local time in `zone` (or an aware one, unchanged) as an aware UTC instant."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


class Rotation:
    def __init__(
        self, config: OncallConfig, timezone: str, stored: Sequence[Override] = ()
    ) -> None:
        self.config = config
        self.zone = ZoneInfo(timezone)
        self.members = list(config.rotation.members)
        weekday, self.handoff_time = config.rotation.handoff
        self.period_days = 7 if config.rotation.shift == "weekly" else 1
        self.period = timedelta(days=self.period_days)  # made once: see business_hours._ONE_DAY
        # Each shift's start once worked out, by index: who is on call is asked on every
        # paging decision, and a local date made a UTC instant costs a timedelta, a combine
        # and a conversion (the rotation itself never changes).
        self._handoffs: dict[int, datetime] = {}
        first = config.rotation.start
        if weekday is not None:
            first += timedelta(days=(weekday - first.weekday()) % 7)
        self.first_day: date = first
        self.overrides: list[Override] = [
            Override(o.person, localize(o.starts, self.zone), localize(o.ends, self.zone))
            for o in config.overrides
        ] + list(stored)

    # -- the rotation itself ---------------------------------------------------------

    def handoff_at(self, index: int) -> datetime:
        """The UTC instant shift `index` starts (0 is the first member's first shift)."""
        found = self._handoffs.get(index)
        if found is None:
            day = self.first_day + timedelta(days=index * self.period_days)
            found = datetime.combine(day, self.handoff_time, tzinfo=self.zone).astimezone(UTC)
            self._handoffs[index] = found
        return found

    def shift_index(self, at: datetime) -> int | None:
        """The rotation shift running at `at`; None before the rotation starts."""
        first = self.handoff_at(0)
        if at < first:
            return None
        index = int((at - first) / self.period)
        # The estimate is off by one at most, around a DST change.
        while self.handoff_at(index + 1) <= at:
            index += 1
        while index > 0 and self.handoff_at(index) > at:
            index -= 1
        return index

    def member_for(self, index: int) -> str:
        return self.members[index % len(self.members)]

    def rotation_person(self, at: datetime) -> str | None:
        index = self.shift_index(at)
        return None if index is None else self.member_for(index)

    # -- with overrides ----------------------------------------------------------------

    def override_at(self, at: datetime) -> Override | None:
        return next((o for o in reversed(self.overrides) if o.covers(at)), None)

    def who_is_on_call(self, at: datetime) -> str | None:
        override = self.override_at(at)
        return override.person if override else self.rotation_person(at)

    def next_on_call(self, at: datetime, paged: Collection[str]) -> str | None:
        """An on-call chain's `next`: from the hand-off after the shift running at `at`, the
        people on call in the order they take over (overrides applied), the first one not in
        `paged`; None when the rotation has nobody else. Not the rest of the running shift:
        whoever an override covers tonight is away, and the rotation's order is the answer."""
        index = self.shift_index(at)
        following = self.handoff_at(0 if index is None else index + 1)
        # One round of shifts reaches every member, unless overrides hide them all.
        for shift in self.timeline(following, len(self.members)):
            if shift.person not in paged:
                return shift.person
        return None

    def hands_over(self, at: datetime) -> Shift | None:
        """The first stretch after `at` with someone else on call than at `at` (overrides
        applied): when whoever is on call at `at` hands over, and to whom. An override may end
        their time before the next hand-off, or carry it past it. None when nobody else is
        ever on call (a rotation of one, no override naming anyone else)."""
        person = self.who_is_on_call(at)
        last = max((o.ends for o in self.overrides if o.ends > at), default=at)
        # Past the last override, one round of the rotation reaches every member.
        shifts = (self.shift_index(last) or 0) - (self.shift_index(at) or 0) + len(self.members)
        return next(
            (s for s in self.timeline(at, shifts + 1) if s.ends > at and s.person != person),
            None,
        )

    def timeline(self, at: datetime, shifts: int) -> list[Shift]:
        """Who is on call from the start of the shift running at `at` through `shifts`
        rotation shifts, overrides applied, adjacent stretches of one person merged."""
        first = self.shift_index(at)
        first = 0 if first is None else first
        start, end = self.handoff_at(first), self.handoff_at(first + shifts)
        cuts = {self.handoff_at(i) for i in range(first, first + shifts + 1)}
        for o in self.overrides:
            cuts |= {t for t in (o.starts, o.ends) if start < t < end}
        points = sorted(cuts)
        out: list[Shift] = []
        for begin, finish in pairwise(points):
            override = self.override_at(begin)
            person = override.person if override else self.member_for(self.shift_index(begin))
            last = out[-1] if out else None
            if last and last.person == person and last.override == (override is not None):
                out[-1] = Shift(person, last.starts, finish, last.override)
            else:
                out.append(Shift(person, begin, finish, override is not None))
        return out


def build_rotation(rules: RulesConfig, stored: Sequence[Override] = ()) -> Rotation | None:
    """The team's rotation, or None when the rules have no `oncall` section."""
    if rules.oncall is None:
        return None
    return Rotation(rules.oncall, rules.team.timezone, stored)


def who_is_on_call(rules: RulesConfig, at: datetime, stored: Sequence[Override] = ()) -> str | None:
    """The Slack id of the person on call at `at` (None: no rotation, or before it starts)."""
    rotation = build_rotation(rules, stored)
    return rotation.who_is_on_call(at) if rotation else None


def format_local(at: datetime, zone: ZoneInfo) -> str:
    """'Sat 07 Mar 2026 18:00 GMT': how people read a shift boundary."""
    return at.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z")


def upcoming(rotation: Rotation, at: datetime, shifts: int) -> list[Shift]:
    """The stretch running at `at` followed by the next `shifts` stretches."""
    ahead = [s for s in rotation.timeline(at, shifts + 1) if s.ends > at]
    while len(ahead) < shifts + 1:  # overrides cut shifts into more stretches: look further
        more = [
            s for s in rotation.timeline(ahead[-1].ends, shifts + 1) if s.starts >= ahead[-1].ends
        ]
        ahead += more
    return ahead[: shifts + 1]


def describe_schedule(
    rotation: Rotation, at: datetime, shifts: int, names: dict[str, str]
) -> list[str]:
    """Who is on call at `at` and the next `shifts` stretches, as plain lines (the Slack
    command and the terminal show the same)."""
    zone = rotation.zone
    if rotation.shift_index(at) is None:
        first = rotation.handoff_at(0)
        lines = [
            f"Nobody is on call at {format_local(at, zone)}: the rotation starts "
            f"{format_local(first, zone)}."
        ]
        later = upcoming(rotation, first, shifts - 1)
    else:
        current, *later = upcoming(rotation, at, shifts)
        how = "override" if current.override else "rotation"
        lines = [
            f"On call at {format_local(at, zone)}: {_name(current.person, names)}, "
            f"{how} until {format_local(current.ends, zone)}"
        ]
    if later:  # `--shifts 0` asks for none: no heading over nothing
        lines.append(f"Next shifts ({zone.key}):")
    for shift in later:
        mark = " (override)" if shift.override else ""
        lines.append(
            f"  {format_local(shift.starts, zone)} → {format_local(shift.ends, zone)}  "
            f"{_name(shift.person, names)}{mark}"
        )
    return lines


def _name(person: str, names: dict[str, str]) -> str:
    name = names.get(person)
    return f"{name} ({person})" if name else person
