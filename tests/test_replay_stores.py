"""Replay on the memory store (the default) decides exactly what it decides on SQLite (what
`serve` writes): the whole output, byte for byte, on the demo scenario, a generated working
week and a generated coaching day; and what each store holds afterwards (tickets, timers,
outbox, audit, job runs) and reads for the scheduled jobs (every period) is the same."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.make_week import generate
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.jobs import list_job_runs
from deskbridge.store.memory import MemoryStore
from deskbridge.store.outbox import list_actions
from deskbridge.store.schema import audit, events, tickets
from deskbridge.store.session import SqlStore
from deskbridge.store.sql import rows_as_dicts
from deskbridge.store.timers import list_timers
from deskbridge.workflows.actions import dump_action
from deskbridge.workflows.digest import build_period, repeat_window
from deskbridge.workflows.model import dump_state
from deskbridge.workflows.replay import run_replay
from tests.teamday import build_day
from tests.test_failed_timers import ERROR, break_sla_rule
from tests.test_replay_both_sources import salesforce_line, zendesk_line
from tests.test_replay_coaching import team_rules

ROOT = Path(__file__).resolve().parents[1]
WEEK = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
WEEK_UNTIL = datetime(2026, 3, 9, tzinfo=UTC)
DAY = date(2026, 3, 2)


def replay_on_both(lines: list[str], rules, until: datetime, tmp_path):
    """The output lines (as `deskbridge replay` prints them) on each store, and the stores."""
    memory = MemoryStore()
    engine = create_store_engine(f"sqlite:///{tmp_path / 'replay.db'}")
    migrate_store(engine)
    sql = SqlStore(engine)
    outputs = []
    for store in (memory, sql):
        records = run_replay(lines, rules, CONNECTORS, until=until, store=store)
        outputs.append([json.dumps(r, ensure_ascii=False) for r in records])
    return outputs, memory, sql


def assert_same_contents(memory: MemoryStore, sql: SqlStore) -> None:
    with sql.engine.connect() as connection:
        stored = {
            row["key"]: (row["version"], row["state"])
            for row in rows_as_dicts(connection.execute(tickets.select()))
        }
        timers = list_timers(connection)
        outbox = [(r["idempotency_key"], r["payload"]) for r in list_actions(connection)]
        trail = [
            {k: v for k, v in row.items() if k != "id"}
            for row in rows_as_dicts(connection.execute(audit.select().order_by(audit.c.id)))
        ]
        runs = list_job_runs(connection)
    kept = {key: (version, dump_state(state)) for key, (version, state) in memory._tickets.items()}
    assert kept == stored
    assert memory.list_timers() == timers
    assert [(key, dump_action(a)) for key, (a, _) in memory.outbox.items()] == outbox
    assert memory.audit == trail
    assert memory.list_job_runs() == runs


def assert_same_period_reads(memory: MemoryStore, sql: SqlStore, rules, days: list[date]) -> None:
    """Every day's and the week's review reads, and the coaching checks' reads at several
    times of each day, are equal (first replies compared as a set: SQL gives no order)."""
    periods = [build_period(rules, day) for day in days]
    periods.append(build_period(rules, days[0], week=True))
    for day in days:
        for hour in (9, 12, 16):
            now = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)
            periods.append(build_period(rules, day, now=now))
    window = repeat_window(rules)
    with sql.reading() as session:
        for period in periods:
            ours, theirs = memory.read_period(period, window), session.read_period(period, window)
            assert set(ours.first_replies) == set(theirs.first_replies)
            ours.first_replies = theirs.first_replies = []
            assert ours == theirs
            assert memory.read_period_replies(period) == session.read_period_replies(period)
        assert memory.read_latest_dated() == session.read_latest_dated()


def test_the_demo_scenario_is_the_same_on_both_stores(rules, tmp_path):
    lines = (ROOT / "examples" / "scenario.jsonl").read_text().splitlines()
    until = datetime(2026, 3, 2, 18, tzinfo=UTC)
    (on_memory, on_sql), memory, sql = replay_on_both(lines, rules, until, tmp_path)
    assert len(on_memory) > 50
    assert on_memory == on_sql
    assert_same_contents(memory, sql)


def test_timers_whose_rule_raised_are_stored_failed_with_their_error_on_both_stores(
    rules, tmp_path, monkeypatch
):
    """A timer fired from the store and one set and fired within a batch, failed: each keeps
    its error, on either store."""
    break_sla_rule(monkeypatch)
    lines = (ROOT / "examples" / "scenario.jsonl").read_text().splitlines()
    until = datetime(2026, 3, 2, 18, tzinfo=UTC)
    (on_memory, on_sql), memory, sql = replay_on_both(lines, rules, until, tmp_path)
    assert on_memory == on_sql
    assert_same_contents(memory, sql)
    failed = {t["id"]: t["error"] for t in memory.list_timers() if t["status"] == "failed"}
    # The first-reply clocks' first warnings; the stages after them were never set.
    assert failed == {
        f"zendesk:{ticket}:sla:first_reply:warn1": ERROR for ticket in (48217, 48218, 48219, 48220)
    }


def test_a_generated_week_is_the_same_on_both_stores(rules, tmp_path):
    lines = [
        json.dumps(line)
        for line in generate(agents=8, tickets_per_day=30, days=5, start=WEEK, seed=11)
    ]
    (on_memory, on_sql), memory, sql = replay_on_both(lines, rules, WEEK_UNTIL, tmp_path)
    decided = [json.loads(line) for line in on_memory]
    rules_seen = {(d["rule"], d["action"]) for d in decided}
    # Every rule family, the timers and the scheduled jobs (the daily review reads periods).
    assert {
        ("routing", "route"),
        ("three_responses", "call_customer"),
        ("risk", "escalate"),
        ("sla", "sla_warning"),
        ("sla", "sla_breach"),
        ("coaching", "notify"),
    } <= rules_seen
    assert on_memory == on_sql
    assert_same_contents(memory, sql)
    assert_same_period_reads(
        memory, sql, rules, [WEEK.date() + timedelta(days=n) for n in range(7)]
    )


@pytest.fixture(scope="module")
def coaching_day():
    events, _ = build_day(12, DAY)
    return [json.dumps(e) for e in events]


def test_a_coaching_day_is_the_same_on_both_stores(coaching_day, tmp_path):
    """A day of 12 agents on the roster: pace checks, unnecessary replies, missed calls, slow
    first replies and the review all read the periods."""
    rules = team_rules()
    until = datetime(2026, 3, 2, 18, tzinfo=UTC)
    (on_memory, on_sql), memory, sql = replay_on_both(coaching_day, rules, until, tmp_path)
    kinds = {json.loads(line).get("kind") for line in on_memory}
    assert {"pace", "unnecessary_replies"} <= kinds
    assert on_memory == on_sql
    assert_same_contents(memory, sql)
    assert_same_period_reads(memory, sql, rules, [DAY])


def test_a_sqlite_store_keeps_each_body_as_the_webhook_would_have_carried_it(rules, tmp_path):
    """Replay parses a JSON line's body as decoded (Connector.parse_object) and writes it out
    only for a store that keeps bodies: SQLite stores the JSON text (as `serve` stores the
    request), Salesforce's XML as it came; the memory store keeps none."""
    lines = [
        zendesk_line(0, 0, "created"),
        zendesk_line(1, 20, "agent"),
        salesforce_line(0, 0, "created"),
    ]
    lines[0]["body"]["detail"]["subject"] = "Café ☕ \u0000 late"
    text = [json.dumps(line) for line in lines]
    (on_memory, on_sql), memory, sql = replay_on_both(text, rules, WEEK_UNTIL, tmp_path)

    with sql.engine.connect() as connection:
        stored = [row.body for row in connection.execute(events.select().order_by(events.c.id))]
    assert stored == [
        json.dumps(lines[0]["body"], ensure_ascii=False),
        json.dumps(lines[1]["body"], ensure_ascii=False),
        lines[2]["body"],
    ]
    assert on_memory == on_sql
    assert not memory.keeps_bodies and sql.keeps_bodies
