"""A timer whose rule raised was marked failed with nothing kept but a log line naming the
error's type: its message was stored nowhere, nothing listed it, and after the rule was fixed
it never fired, so an SLA warning, the breach its chain would have set, or an on-call page
silently never happened. It now keeps its error, `deskbridge timers --failed` lists it,
`/metrics` and `/readyz` count it, and `deskbridge redecide` puts it back to fire once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy.engine import make_url

from deskbridge.app import create_app, create_runtime
from deskbridge.cli import main
from deskbridge.store.outbox import list_actions
from deskbridge.store.timers import list_timers
from deskbridge.workflows import rules as rules_module
from deskbridge.workflows.decider import Decider
from deskbridge.workflows.model import EventKind
from deskbridge.workflows.service import WorkflowService
from tests.conftest import Clock
from tests.test_cli_redecide import NOTHING_PUT_BACK
from tests.workflows.test_sla_timers import T0
from tests.workflows.test_sla_timers import event as urgent

# Urgent ticket 7, created at T0 (Monday 09:00 London): first reply due in 1 business hour,
# warned at 75% (09:45) and 90% (09:54); resolution in 9, warned at 15:45 (config/example.yaml).
FIRST_WARN = "zendesk:7:sla:first_reply:warn1"
RESOLUTION_WARN = "zendesk:7:sla:resolution:warn1"
# What a rule raising on a ticket might say: the ticket's own words.
ERROR = "ValueError: no lead channel for 'Refund for order 5521'"


def break_sla_rule(monkeypatch, metric: str = "first_reply") -> None:
    """The SLA timer rule raises on `metric`'s timers (a bug); the other clocks' fire."""
    fire_sla = rules_module.TIMER_RULES["sla"]

    def broken(state, timer, ctx):
        if timer.payload.get("metric") == metric:
            raise ValueError("no lead channel for 'Refund for order 5521'")
        return fire_sla(state, timer, ctx)

    monkeypatch.setitem(rules_module.TIMER_RULES, "sla", broken)


def open_ticket(engine, rules) -> None:
    service = WorkflowService(engine, rules, clock=lambda: T0)
    service.accept_event(urgent(1, T0, EventKind.created), "{}", T0)


def statuses(engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as connection:
        return {t["id"]: (t["status"], t["error"]) for t in list_timers(connection)}


def sla_actions(engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [
            (row["action"], row["idempotency_key"])
            for row in list_actions(connection)
            if row["payload"]["rule"] == "sla"
        ]


# When `deskbridge redecide` runs in these tests: a Sunday evening, after hours.
REDECIDED_AT = datetime(2026, 12, 6, 19, 0, tzinfo=UTC)


def redecide_on_sunday_evening(monkeypatch) -> None:
    """The command's clock (it reads the real one) at REDECIDED_AT: what a catch-up pages,
    and how many timers it fires for that, depends on the hour."""

    class SundayEvening(datetime):
        @classmethod
        def now(cls, tz=None):
            return REDECIDED_AT.astimezone(tz)

    monkeypatch.setattr("deskbridge.cli.datetime", SundayEvening)


def where(store_url: str) -> str:
    return make_url(store_url).render_as_string(hide_password=True)


def test_a_failed_timer_keeps_its_error_and_is_listed(engine, store_url, rules, monkeypatch):
    open_ticket(engine, rules)
    break_sla_rule(monkeypatch)

    (failed,) = Decider(engine, rules, lambda: T0).fire_due_timers(T0 + timedelta(minutes=50))

    assert (failed.cause, failed.error) == (f"timer:{FIRST_WARN}", ERROR)
    assert statuses(engine)[FIRST_WARN] == ("failed", ERROR)
    env = {"DATABASE_URL": store_url}
    listed = CliRunner().invoke(main, ["timers", "--failed"], env=env)
    assert (listed.exit_code, listed.stdout, listed.stderr) == (
        0,
        "id                               ticket                    kind                due_at"
        "                     error\n"
        f"{FIRST_WARN}  zendesk:7                 sla                 2026-03-02T09:45:00+00:00  "
        f"{ERROR}\n",
        f"1 failed timer in {where(store_url)}\n"
        "after the fix, deskbridge redecide fires them (--timer ID: only those given)\n",
    )
    as_json = CliRunner().invoke(main, ["timers", "--failed", "--format", "json"], env=env)
    assert (as_json.exit_code, [json.loads(line) for line in as_json.stdout.splitlines()]) == (
        0,
        [
            {
                "id": FIRST_WARN,
                "ticket": "zendesk:7",
                "kind": "sla",
                "due_at": "2026-03-02T09:45:00+00:00",
                "error": ERROR,
            }
        ],
    )
    counts = CliRunner().invoke(main, ["timers"], env=env)
    assert (counts.exit_code, counts.stdout, counts.stderr) == (
        0,
        f"3 timers in {where(store_url)}: 2 pending, 0 fired, 0 cancelled, 1 failed\n",
        "deskbridge timers --failed lists the failed ones\n",
    )
    counts = CliRunner().invoke(main, ["timers", "--format", "json"], env=env)
    assert (counts.exit_code, json.loads(counts.stdout)) == (
        0,
        {"pending": 2, "fired": 0, "cancelled": 0, "failed": 1},
    )


def test_redecide_fires_a_failed_timer_once_after_the_fix(engine, store_url, rules, monkeypatch):
    open_ticket(engine, rules)
    break_sla_rule(monkeypatch)
    Decider(engine, rules, lambda: T0).fire_due_timers(T0 + timedelta(minutes=50))
    assert sla_actions(engine) == []
    monkeypatch.undo()  # the fix
    redecide_on_sunday_evening(monkeypatch)
    env = {"DATABASE_URL": store_url}

    fixed = CliRunner().invoke(main, ["redecide"], env=env)

    # Put back due at 09:45, it fires now, and sets the next stage, overdue too, which fires
    # in turn up to the breach; no sweep ran since 09:50, so the resolution clock's three
    # stages and the on-call watch (18:00) were due as well: seven fired. Caught up after
    # hours, the two breaches and the watch each page on call by a timer due now, fired in
    # the same run after what was stored by then (the first pages; the others find the
    # chain paging): ten.
    assert (fixed.exit_code, fixed.stdout, fixed.stderr) == (
        0,
        "0 events put back; 0 decided, 0 failed again\n"
        "1 timer put back; 10 fired, 0 failed again\n",
        "",
    )
    first_reply = [FIRST_WARN, *(FIRST_WARN.replace("warn1", s) for s in ("warn2", "breach"))]
    assert [statuses(engine)[t] for t in first_reply] == [("fired", None)] * 3
    queued = sla_actions(engine)
    # Redecided long after the deadline, the warnings say nothing beside the breach.
    assert [(kind, key) for kind, key in queued if ":first_reply:" in key] == [
        ("sla_breach", "zendesk:7:sla:first_reply:2026-03-02T09:00:00+00:00:breach"),
    ]

    again = CliRunner().invoke(main, ["redecide"], env=env)

    assert (again.exit_code, again.stdout, again.stderr) == (
        0,
        NOTHING_PUT_BACK,
        "",
    )
    assert sla_actions(engine) == queued
    listed = CliRunner().invoke(main, ["timers", "--failed"], env=env)
    assert (listed.stdout, listed.stderr) == ("", f"0 failed timers in {where(store_url)}\n")


def test_redecide_timer_puts_back_only_the_timers_given(engine, store_url, rules, monkeypatch):
    open_ticket(engine, rules)
    break_sla_rule(monkeypatch, "first_reply")
    Decider(engine, rules, lambda: T0).fire_due_timers(T0 + timedelta(minutes=50))
    monkeypatch.undo()
    break_sla_rule(monkeypatch, "resolution")
    Decider(engine, rules, lambda: T0).fire_due_timers(T0 + timedelta(hours=7))
    assert {t: s for t, s in statuses(engine).items() if s[0] == "failed"} == {
        FIRST_WARN: ("failed", ERROR),
        RESOLUTION_WARN: ("failed", ERROR),
    }
    monkeypatch.undo()  # the fix
    redecide_on_sunday_evening(monkeypatch)

    result = CliRunner().invoke(
        main,
        ["redecide", "--timer", RESOLUTION_WARN, "--timer", "zendesk:7:nothing"],
        env={"DATABASE_URL": store_url},
    )

    # The resolution warning, its next stage and the breach, and the on-call watch (18:00);
    # caught up after hours, the breach's and the watch's pages, timers due now: six.
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "0 events put back; 0 decided, 0 failed again\n1 timer put back; 6 fired, 0 failed again\n",
        "1 of the 2 timer ids given is not a failed timer (see deskbridge timers --failed)\n",
    )
    assert statuses(engine)[RESOLUTION_WARN] == ("fired", None)
    assert statuses(engine)[FIRST_WARN] == ("failed", ERROR)


def test_a_failed_timer_is_counted_in_metrics_and_readyz(engine, settings, rules, monkeypatch):
    open_ticket(engine, rules)
    break_sla_rule(monkeypatch)
    Decider(engine, rules, lambda: T0).fire_due_timers(T0 + timedelta(minutes=50))
    runtime = create_runtime(settings, rules, clock=Clock(T0 + timedelta(hours=1)), engine=engine)
    client = create_app(runtime=runtime).test_client()

    ready = client.get("/readyz").json
    metrics = client.get("/metrics").get_data(as_text=True).splitlines()

    assert (ready["events_failed"], ready["timers_failed"]) == (0, 1)
    assert "deskbridge_timers_failed_stored 1.0" in metrics
    assert "deskbridge_events_failed_stored 0.0" in metrics


def test_a_timer_that_failed_before_errors_were_kept_says_so(store_url, rules):
    # A store upgraded from 0013, where a timer had failed: only the log's type was kept.
    # `timers --failed` printed its error as "None"; it says none was kept, and where to look.
    from sqlalchemy import insert

    from deskbridge.store.db import create_store_engine, migrate_store
    from deskbridge.store.schema import timers

    engine = create_store_engine(store_url)
    migrate_store(engine, "0013")
    with engine.begin() as connection:
        connection.execute(
            insert(timers).values(
                id=FIRST_WARN,
                ticket="zendesk:7",
                kind="sla",
                due_at=T0 + timedelta(minutes=45),
                payload={},
                status="failed",
            )
        )
    migrate_store(engine)
    engine.dispose()

    env = {"DATABASE_URL": store_url}
    listed = CliRunner().invoke(main, ["timers", "--failed"], env=env)
    assert (listed.exit_code, listed.stdout) == (
        0,
        "id                               ticket                    kind                due_at"
        "                     error\n"
        f"{FIRST_WARN}  zendesk:7                 sla                 2026-03-02T09:45:00+00:00  "
        "(not kept: it failed before deskbridge kept timers' errors; the log's timer.failed "
        "line names its type)\n",
    )
    as_json = CliRunner().invoke(main, ["timers", "--failed", "--format", "json"], env=env)
    assert json.loads(as_json.stdout)["error"] is None
