"""On-call overrides and paged tickets in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from deskbridge.store.audit import insert_decisions, list_decisions
from deskbridge.store.oncall import insert_override, list_overrides, list_paged_tickets
from deskbridge.store.tickets import lock_ticket, save_ticket
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.model import Source, Status, TicketState, evolve
from deskbridge.workflows.rotation import Override

T0 = datetime(2026, 1, 10, 18, tzinfo=UTC)


def at(hour: int, day: int = 10) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def test_overrides_are_stored_in_order_and_audited(engine):
    with engine.begin() as connection:
        first = insert_override(
            connection, Override("U02TOMOK01", at(18), at(23), by="U02SAMWL01"), T0
        )
        second = insert_override(
            connection, Override("U02LENAF01", at(20), at(8, 11), by="U02SAMWL01"), T0
        )
    with engine.connect() as connection:
        assert list_overrides(connection) == [
            Override("U02TOMOK01", at(18), at(23), by="U02SAMWL01"),
            Override("U02LENAF01", at(20), at(8, 11), by="U02SAMWL01"),
        ]
        assert list_overrides(connection, ending_after=at(23)) == [
            Override("U02LENAF01", at(20), at(8, 11), by="U02SAMWL01")
        ]
        audit = list_decisions(connection, "oncall")
    assert [(a["action"], a["idempotency_key"], a["event_key"]) for a in audit] == [
        ("override", f"oncall:override:{first}", f"slack:override:{first}"),
        ("override", f"oncall:override:{second}", f"slack:override:{second}"),
    ]


def test_paged_tickets_of_a_shift_as_they_are_now(engine):
    def ticket(number: str, status: Status) -> TicketState:
        return TicketState(
            key=f"zendesk:{number}", source=Source.zendesk, ticket_id=number, status=status
        )

    with engine.begin() as connection:
        for number, status, paged_at in (
            ("1", Status.open, at(23)),
            ("2", Status.solved, at(23)),
            ("3", Status.open, at(10, 12)),
        ):
            state = ticket(number, status)
            lock_ticket(connection, state.key, paged_at)
            save_ticket(connection, state, paged_at)
            page = build_action(state.key, "oncall", ActionKind.page_oncall, "c", "0", reason="r")
            insert_decisions(connection, [page], "evt", paged_at)
            insert_decisions(connection, [evolve(page, {"key": page.key + ":1"})], "e", paged_at)
    with engine.connect() as connection:
        found = list_paged_tickets(connection, at(9, 5), at(9, 12))
    assert [(t.key, t.status) for t in found] == [
        ("zendesk:1", Status.open),
        ("zendesk:2", Status.solved),
    ]
