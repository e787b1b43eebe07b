"""Pages an older version queued in their ticket's people lane (before pages had lanes of
their own, page:<ticket>) are moved to the page lane by migration 0016: a page in flight at
an upgrade no longer waits behind its ticket's failing channel post, and `outbox retry`
checks a dead one against the later pages of its lane. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.outbox import (
    DEAD,
    DONE,
    PENDING,
    claim_due_actions,
    insert_actions,
    list_actions,
)
from deskbridge.store.schema import outbox
from deskbridge.workflows.actions import Action, ActionKind

T0 = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)


def make(key: str, kind: ActionKind, ticket: str = "48213") -> Action:
    return Action(
        action=kind,
        ticket=f"zendesk:{ticket}",
        rule="oncall",
        reason="urgent ticket after hours",
        key=key,
        params={},
    )


def test_pages_queued_in_the_people_lane_by_an_older_version_move_to_their_page_lane(
    store_url,
):
    engine = create_store_engine(store_url)
    try:
        migrate_store(engine, to="0015")  # the store as the version before page lanes left it
        with engine.begin() as connection:
            insert_actions(
                connection,
                [
                    make("n0", ActionKind.notify),
                    make("p0", ActionKind.page_oncall),
                    make("p-dead", ActionKind.page_oncall, "48214"),
                    make("p-done", ActionKind.page_oncall, "48214"),
                    make("p-new", ActionKind.page_oncall, "48215"),
                    make("pager", ActionKind.pager),
                    make("tag", ActionKind.tag),
                ],
                T0,
            )
            # As the older version queued them: its pages in the ticket's people lane (the
            # newer p-new, queued by an upgraded worker, has its page lane already).
            connection.execute(
                update(outbox)
                .where(outbox.c.idempotency_key.in_(["p0", "p-dead", "p-done"]))
                .values(lane="people:" + outbox.c.ticket)
            )
            # The ticket's post failing, due again in a minute; two pages of another ticket
            # dead and done.
            connection.execute(
                update(outbox)
                .where(outbox.c.idempotency_key == "n0")
                .values(attempts=3, next_attempt_at=T0 + timedelta(minutes=1))
            )
            connection.execute(
                update(outbox).where(outbox.c.idempotency_key == "p-dead").values(status=DEAD)
            )
            connection.execute(
                update(outbox).where(outbox.c.idempotency_key == "p-done").values(status=DONE)
            )

        assert migrate_store(engine) == ("0015", "0016")

        with engine.connect() as connection:
            lanes = [
                (r["idempotency_key"], r["status"], r["lane"]) for r in list_actions(connection)
            ]
        assert lanes == [
            ("n0", PENDING, "people:zendesk:48213"),
            ("p0", PENDING, "page:zendesk:48213"),
            ("p-dead", DEAD, "page:zendesk:48214"),
            ("p-done", DONE, "page:zendesk:48214"),
            ("p-new", PENDING, "page:zendesk:48215"),
            ("pager", PENDING, "pager:zendesk:48213"),
            ("tag", PENDING, None),
        ]
        # The old page goes now, not behind the failing post (in the people lane it was not
        # claimed until n0 was done or dead).
        with engine.begin() as connection:
            claimed = claim_due_actions(connection, T0, 50, timedelta(minutes=2))
        assert [r.action.key for r in claimed] == ["p0", "p-new", "pager", "tag"]
    finally:
        engine.dispose()
