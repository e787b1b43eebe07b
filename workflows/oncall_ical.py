"""The rotation as an iCalendar feed (RFC 5545, the `icalendar` package): one event per
stretch of on-call time, so people see their shifts in their own calendar."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from deskbridge.workflows.rotation import Rotation, upcoming


def build_ical(
    rotation: Rotation, at: datetime, shifts: int, names: dict[str, str], team: str
) -> bytes:
    """The stretch running at `at` and the next `shifts`, times in UTC. A UID is stable
    (person + start), so a calendar that refreshes the feed updates events in place."""
    calendar = Calendar()
    calendar.add("prodid", "-//deskbridge//on-call rotation//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{team} on call")
    for shift in upcoming(rotation, at, shifts):
        event = Event()
        start = shift.starts.strftime("%Y%m%dT%H%M%SZ")
        event.add("uid", f"oncall-{start}-{shift.person}@deskbridge")
        event.add("dtstamp", at)
        event.add("dtstart", shift.starts)
        event.add("dtend", shift.ends)
        name = names.get(shift.person, shift.person)
        event.add("summary", f"On call: {name}" + (" (override)" if shift.override else ""))
        calendar.add_component(event)
    return calendar.to_ical()
