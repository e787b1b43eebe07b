"""Retention: only rows past their keeping time go, in small batches; undecided or failed
events, actions not yet performed and dead letters stay whatever their age; coaching facts
and replies go after `retention.activity`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from deskbridge.cli import main
from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.store.activity import record_facts
from deskbridge.store.audit import build_decision_rows, insert_decision_rows
from deskbridge.store.events import (
    build_event_row,
    insert_events,
    mark_events_decided,
    mark_events_failed,
)
from deskbridge.store.outbox import complete_action, dead_letter_action, insert_actions
from deskbridge.store.replies import build_reply_row, record_replies
from deskbridge.store.retention import count_purgeable, purge
from deskbridge.store.schema import activity, audit, events, outbox, replies
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.activity import CUSTOMER_MESSAGE, SOLVED, Fact
from deskbridge.workflows.model import EventKind, Source, TicketEvent
from deskbridge.workflows.retention import build_cutoffs

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=400)  # past every default retention
RECENT = NOW - timedelta(days=1)


def event(key: str) -> TicketEvent:
    return TicketEvent(
        source=Source.zendesk,
        ticket_id="7",
        dedupe_key=key,
        kind=EventKind.created,
        occurred_at=OLD,
    )


def action(key: str):
    return build_action("zendesk:7", "test", ActionKind.notify, key, reason="r", target="lead")


def seed(engine) -> None:
    with engine.begin() as connection:
        insert_events(
            connection,
            [build_event_row(event(f"old-{n}"), "{}", OLD) for n in range(5)]
            + [build_event_row(event(k), "{}", OLD) for k in ("old-undecided", "old-failed")]
            + [build_event_row(event("recent"), "{}", RECENT)],
        )
        ids = dict(connection.execute(select(events.c.dedupe_key, events.c.id)).all())
        mark_events_decided(connection, [ids[f"old-{n}"] for n in range(5)], OLD)
        mark_events_decided(connection, [ids["recent"]], RECENT)
        mark_events_failed(connection, [(ids["old-failed"], "ValueError: x")], OLD)
        insert_actions(connection, [action(k) for k in ("d1", "d2", "d3", "p", "x")], OLD)
        insert_actions(connection, [action("d-recent")], RECENT)
        keys = dict(connection.execute(select(outbox.c.idempotency_key, outbox.c.id)).all())
        for k in ("d1", "d2", "d3"):
            complete_action(connection, keys[f"zendesk:7:test:{k}"], OLD, {})
        complete_action(connection, keys["zendesk:7:test:d-recent"], RECENT, {})
        dead_letter_action(connection, keys["zendesk:7:test:x"], OLD, "gone")
        insert_decision_rows(connection, build_decision_rows([action("a")] * 3, "e", OLD))
        insert_decision_rows(connection, build_decision_rows([action("b")], "e", RECENT))
        record_facts(
            connection,
            [Fact(f"old-{n}", OLD, SOLVED, "zendesk:7", "91") for n in range(3)]
            + [Fact("recent", RECENT, CUSTOMER_MESSAGE, "zendesk:7")],
        )
        record_replies(
            connection,
            [build_reply_row(f"old-{n}", "zendesk:7", "91", OLD) for n in range(2)]
            + [build_reply_row("recent", "zendesk:7", "91", RECENT)],
        )


def remaining(engine) -> dict[str, list]:
    with engine.connect() as connection:
        return {
            "events": sorted(connection.execute(select(events.c.dedupe_key)).scalars()),
            "outbox": sorted(
                connection.execute(select(outbox.c.idempotency_key, outbox.c.status)).all()
            ),
            "audit": sorted(connection.execute(select(audit.c.at)).scalars()),
            "activity": sorted(connection.execute(select(activity.c.key)).scalars()),
            "replies": sorted(connection.execute(select(replies.c.comment_id)).scalars()),
        }


def test_purge_deletes_only_what_is_past_retention_in_small_batches(engine):
    seed(engine)
    cutoffs = build_cutoffs(load_rules(EXAMPLE_CONFIG), NOW)
    expected = {"events": 5, "outbox_done": 3, "audit": 3, "activity": 3, "replies": 2}
    with engine.connect() as connection:
        assert count_purgeable(connection, cutoffs) == expected
    batches: list[tuple[str, int]] = []
    deleted = purge(engine, cutoffs, batch=2, on_batch=lambda t, n: batches.append((t, n)))
    assert deleted == expected
    assert batches == [
        ("events", 2),
        ("events", 2),
        ("events", 1),
        ("outbox_done", 2),
        ("outbox_done", 1),
        ("audit", 2),
        ("audit", 1),
        ("activity", 2),
        ("activity", 1),
        ("replies", 2),
    ]
    assert remaining(engine) == {
        "events": ["old-failed", "old-undecided", "recent"],
        "outbox": [
            ("zendesk:7:test:d-recent", "done"),
            ("zendesk:7:test:p", "pending"),
            ("zendesk:7:test:x", "dead"),
        ],
        "audit": [RECENT],
        "activity": ["recent"],
        "replies": ["zendesk:7:recent"],
    }
    assert purge(engine, cutoffs) == dict.fromkeys(expected, 0)


def test_purge_command_with_dry_run_counts_and_without_deletes(engine, store_url):
    seed(engine)
    env = {"DATABASE_URL": store_url}
    dry = CliRunner().invoke(main, ["purge", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert [line.split(" older than")[0] for line in dry.output.splitlines()] == [
        "events: would delete 5 rows",
        "outbox_done: would delete 3 rows",
        "audit: would delete 3 rows",
        "activity: would delete 3 rows",
        "replies: would delete 2 rows",
    ]
    assert len(remaining(engine)["events"]) == 8
    done = CliRunner().invoke(main, ["purge"], env=env)
    assert done.exit_code == 0, done.output
    assert [line.split(" older than")[0] for line in done.output.splitlines()] == [
        "events: deleted 5 rows",
        "outbox_done: deleted 3 rows",
        "audit: deleted 3 rows",
        "activity: deleted 3 rows",
        "replies: deleted 2 rows",
    ]
    assert remaining(engine)["events"] == ["old-failed", "old-undecided", "recent"]


def test_facts_and_replies_are_kept_for_retention_activity(engine, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        EXAMPLE_CONFIG.read_text(encoding="utf-8").replace("activity: 365d", "activity: 45d")
    )
    rules = load_rules(path)
    assert rules.retention.activity == timedelta(days=45)
    days = {"kept": NOW - timedelta(days=44), "gone": NOW - timedelta(days=46)}
    with engine.begin() as connection:
        record_facts(connection, [Fact(k, at, SOLVED, "zendesk:7", "91") for k, at in days.items()])
        record_replies(
            connection, [build_reply_row(k, "zendesk:7", "91", at) for k, at in days.items()]
        )
    deleted = purge(engine, build_cutoffs(rules, NOW))
    assert (deleted["activity"], deleted["replies"]) == (1, 1)
    left = remaining(engine)
    assert (left["activity"], left["replies"]) == (["kept"], ["zendesk:7:kept"])
