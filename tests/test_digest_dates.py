"""The review counts each day by the helpdesk's time: an event's facts by the event's time, a
deadline's by when it passed, never by when deskbridge received or decided them. The README's
"Try a webhook by hand": the fixture (dated 2025-03-04) and a copy opened now, both received
now; today's review has the new ticket, the old one's week has it, its breaches included."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from deskbridge.connectors.zendesk.parse import parse_zendesk
from deskbridge.store.activity import read_period
from deskbridge.workflows.digest import build_digest, build_period, repeat_window
from deskbridge.workflows.service import WorkflowService
from tests.conftest import fixture_bytes

NOW = datetime(2026, 12, 2, 8, 39, 15, tzinfo=UTC)  # a Wednesday, before business hours


def review(engine, rules, day: date, week: bool = False) -> dict:
    period = build_period(rules, day, week=week)
    with engine.connect() as connection:
        data = read_period(connection, period, repeat_window(rules))
    result = build_digest(rules, period, data)
    return {key: result[key] for key in ("sla", "departments", "escalations", "repeat_contacts")}


def test_a_late_delivered_ticket_counts_on_its_own_day_with_all_its_facts(engine, rules):
    old = fixture_bytes("ticket_created.json")
    # What the README's sed line makes: opened now, a new event id and ticket number.
    new = re.sub(rb"2025-03-04T09:15:22[0-9.]*Z", b"2026-12-02T08:39:15Z", old)
    new = re.sub(rb"5f0c8a2e-[0-9a-f-]*", b"try-1796200755", new).replace(b"48213", b"1796200755")
    service = WorkflowService(engine, rules)
    for body in (old, new):
        [event] = parse_zendesk(body, NOW)
        service.accept_event(event, body.decode(), NOW)
    # Every deadline of the old ticket is long past: they fire now, as serve fires them.
    fired = {(o.ticket, a.kind.value) for o in service.fire_due_timers(NOW) for a in o.actions}
    assert ("zendesk:48213", "sla_breach") in fired

    nothing = {"met": 0, "breached": 0}
    departments = {
        key: {"name": rules.departments[key].name, "routed": 0, "overdue_handoffs": 0}
        for key in ("logistics", "quality", "post_sales")
    }
    assert review(engine, rules, date(2026, 12, 2)) == {
        "sla": {"first_reply": nothing, "next_reply": nothing, "resolution": nothing},
        "departments": departments,
        "escalations": 1,
        "repeat_contacts": 0,
    }
    # The old ticket's week: escalated on Tuesday 4 March 2025, its first reply due that
    # morning and its resolution the next day.
    assert review(engine, rules, date(2025, 3, 4), week=True) == {
        "sla": {
            "first_reply": {"met": 0, "breached": 1},
            "next_reply": nothing,
            "resolution": {"met": 0, "breached": 1},
        },
        "departments": departments,
        "escalations": 1,
        "repeat_contacts": 0,
    }
