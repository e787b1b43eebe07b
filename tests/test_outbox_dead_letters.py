"""Dead letters in the production layout (gunicorn web + `deskbridge worker`): the web process's
/readyz and /metrics count them from the store (the dispatcher's `outcome="dead"` counter lives
only in the worker, which has no HTTP endpoint), and `deskbridge outbox` lists them and puts
them back once the cause (a revoked token, a channel the bot left) is fixed. Review 4."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import event, select

from deskbridge.app import create_app, create_runtime
from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG, Settings
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.outbox import (
    complete_actions,
    count_by_state,
    find_attempts,
    insert_actions,
    retried_since,
)
from deskbridge.store.schema import outbox
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.ports import PermanentError
from tests.conftest import TEST_SECRET, Clock

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class RevokedSlack:
    """Slack after the bot's token was revoked: every message is invalid_auth (permanent)."""

    def perform(self, action):
        raise PermanentError("invalid_auth")


class Slack:
    """Slack once the token is fixed: records what it sends, and what the dispatcher's store
    says of each action's earlier attempts while it sends it."""

    def __init__(self, engine):
        self.engine, self.sent = engine, []

    def perform(self, action):
        with self.engine.connect() as connection:
            since = retried_since(find_attempts(connection, action.key))
        self.sent.append((action.key, since))
        return {}


def _notify(n: int, **params):
    return build_action(f"zendesk:{n}", "risk", ActionKind.notify, "x", reason="test", **params)


def _worker(store_url, monkeypatch, performer):
    """A worker on a migrated store whose every action goes to `performer`."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings(DATABASE_URL=store_url, ZENDESK_WEBHOOK_SECRET=TEST_SECRET)
    worker = create_runtime(
        settings, clock=Clock(NOW), performers={kind: performer for kind in ActionKind}
    )
    migrate_store(worker.engine)
    return settings, worker


@pytest.fixture
def dead_store(store_url, monkeypatch):
    """A store holding two dead letters (a lead's alert in a channel, an assignee's DM) and
    one action performed, dead-lettered by a worker's dispatcher at NOW."""
    settings, worker = _worker(store_url, monkeypatch, RevokedSlack())
    tag = build_action("zendesk:3", "risk", ActionKind.tag, reason="test", tags=["vip"])
    with worker.engine.begin() as connection:
        insert_actions(
            connection,
            [
                _notify(1, target="lead", channel="#resolution-leads", text="Customer Dana…"),
                _notify(2, target="assignee", person="U0AGENT", text="Call Dana…"),
                tag,
            ],
            NOW - timedelta(minutes=1),
        )
    worker.dispatcher.performers[ActionKind.tag] = Slack(worker.engine)
    worker.dispatcher.dispatch_due()
    worker.engine.dispose()
    return settings


def test_the_web_process_counts_dead_letters_in_readyz_and_metrics(dead_store):
    web = create_runtime(dead_store)  # gunicorn's process: no loops, no dispatcher counters
    client = create_app(runtime=web).test_client()

    ready = client.get("/readyz")
    metrics = client.get("/metrics").get_data(as_text=True)
    web.engine.dispose()

    # Dead letters are an alert, not unreadiness: the web process still takes webhooks.
    assert ready.status_code == 200
    assert {k: v for k, v in ready.json.items() if k.startswith(("status", "outbox"))} == {
        "status": "ready",
        "outbox_pending": 0,
        "outbox_oldest_seconds": 0.0,
        "outbox_dead": 2,
    }
    assert "\ndeskbridge_outbox_dead 2.0\n" in metrics
    assert 'deskbridge_actions_total{action="notify",outcome="dead"}' not in metrics


def _cli(settings: Settings, *args: str):
    env = {"DATABASE_URL": settings.database_url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}
    return CliRunner().invoke(main, list(args), env=env)


def _rows(url: str) -> list[tuple]:
    engine = create_store_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                outbox.c.id,
                outbox.c.idempotency_key,
                outbox.c.status,
                outbox.c.attempts,
                outbox.c.next_attempt_at,
                outbox.c.first_attempt_at,
            ).order_by(outbox.c.id)
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_outbox_lists_the_dead_letters_without_message_text_or_people(dead_store):
    where = create_store_engine(dead_store.database_url).url.render_as_string(hide_password=True)

    counts = _cli(dead_store, "outbox")
    listing = _cli(dead_store, "outbox", "--dead")
    as_json = _cli(dead_store, "outbox", "--dead", "--format", "json")

    assert (counts.exit_code, counts.stdout, counts.stderr) == (
        0,
        f"3 actions in {where}: 0 pending, 1 done, 0 dry_run, 2 dead\n",
        "deskbridge outbox --dead lists the dead ones\n",
    )
    died = NOW.isoformat()
    assert (listing.exit_code, listing.stdout, listing.stderr) == (
        0,
        "      id  ticket                    kind            to                        attempts  "
        "dead_at                    last_error\n"
        f"       1  zendesk:1                 notify          lead #resolution-leads           "
        f"1  {died}  invalid_auth\n"
        f"       2  zendesk:2                 notify          assignee                         "
        f"1  {died}  invalid_auth\n",
        f"2 dead-lettered actions in {where}\n"
        "once the cause is fixed, deskbridge outbox retry --id N (or --all-dead) sends them "
        "again\n",
    )
    assert as_json.exit_code == 0
    assert as_json.stdout.splitlines()[1] == (
        '{"id": 2, "kind": "notify", "ticket": "zendesk:2", "attempts": 1, '
        f'"last_error": "invalid_auth", "dead_at": "{died}", "target": "assignee", '
        '"channel": null, "unreached": null}'
    )
    for secret in ("Dana", "U0AGENT"):
        assert secret not in listing.output + as_json.output


def test_outbox_counts_actions_performed_in_dry_run_apart_from_those_sent(store_url, monkeypatch):
    """Without a system's credentials its actions are logged, not sent, and stored done: the
    summary counted them done, and told an operator without credentials they had gone out."""
    for name in ("SLACK_BOT_TOKEN", "ZENDESK_API_TOKEN", "SALESFORCE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    settings, worker = _worker(store_url, monkeypatch, RevokedSlack())
    dry = create_runtime(settings, clock=Clock(NOW))  # the real performers: all in dry-run
    assert dry.dry_run == {"zendesk": True, "salesforce": True, "slack": True, "pager": True}
    worker.dispatcher.performers[ActionKind.tag] = Slack(worker.engine)
    with worker.engine.begin() as connection:
        insert_actions(
            connection,
            [
                build_action("zendesk:1", "risk", ActionKind.tag, reason="test", tags=["vip"]),
                build_action("zendesk:3", "risk", ActionKind.tag, reason="test", tags=["vip"]),
            ],
            NOW - timedelta(minutes=2),
        )
    dry.dispatcher.dispatch_due()
    with worker.engine.begin() as connection:
        insert_actions(
            connection,
            [
                _notify(2, target="assignee"),
                build_action("zendesk:4", "risk", ActionKind.tag, reason="test", tags=["vip"]),
            ],
            NOW - timedelta(minutes=1),
        )
        insert_actions(connection, [_notify(5, target="assignee")], NOW + timedelta(hours=1))
    worker.dispatcher.dispatch_due()  # the notify dead-lettered, the tag sent
    where = worker.engine.url.render_as_string(hide_password=True)
    dry.engine.dispose()
    worker.engine.dispose()

    counts = _cli(settings, "outbox")
    as_json = _cli(settings, "outbox", "--format", "json")

    assert (counts.exit_code, counts.stdout, counts.stderr) == (
        0,
        f"5 actions in {where}: 1 pending, 1 done, 2 dry_run, 1 dead\n",
        "the dry-run ones were logged, not sent: their system's credentials were unset (at "
        "start-up, serve and worker name them: dry_run.enabled)\n"
        "deskbridge outbox --dead lists the dead ones\n",
    )
    assert (as_json.exit_code, json.loads(as_json.stdout)) == (
        0,
        {"pending": 1, "done": 1, "dry_run": 2, "dead": 1},
    )


def test_outbox_counts_are_read_in_one_statement(store_url, monkeypatch):
    """Read by two statements (each state's count, then the dry-run ones among the done), an
    action done in dry-run between the two was taken from a done count that had not counted
    it: on PostgreSQL each statement sees its own moment."""
    _settings, worker = _worker(store_url, monkeypatch, RevokedSlack())
    with worker.engine.begin() as connection:
        insert_actions(connection, [_notify(n) for n in range(1, 4)], NOW)
        ids = connection.execute(select(outbox.c.id).order_by(outbox.c.id)).scalars().all()
        complete_actions(connection, [(ids[0], NOW, {"dry_run": True}), (ids[1], NOW, {})])
    selects: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(worker.engine, "before_cursor_execute", record)
    with worker.engine.connect() as connection:
        counts = count_by_state(connection)
    worker.engine.dispose()

    assert (counts, len(selects)) == ({"pending": 1, "done": 1, "dry_run": 1, "dead": 0}, 1)


def test_outbox_dead_listing_stays_in_columns_for_a_salesforce_case_and_a_long_channel(
    store_url, monkeypatch
):
    """A Salesforce case's ticket (29 characters) and the specialists' target with its channel
    (35) were wider than their 24-character columns and pushed the rest of their line out."""
    settings, worker = _worker(store_url, monkeypatch, RevokedSlack())
    escalate = build_action(
        "salesforce:5005j00000AbCdEAAV",
        "risk",
        ActionKind.escalate,
        "vip",
        reason="test",
        target="specialists",
        channel="#resolution-specialists",
    )
    with worker.engine.begin() as connection:
        insert_actions(
            connection, [escalate, _notify(2, target="assignee")], NOW - timedelta(minutes=1)
        )
    worker.dispatcher.dispatch_due()
    worker.engine.dispose()

    listing = _cli(settings, "outbox", "--dead")

    died = NOW.isoformat()
    assert (listing.exit_code, listing.stdout) == (
        0,
        "      id  ticket                         kind            "
        "to                                   attempts  dead_at                    last_error\n"
        f"       1  salesforce:5005j00000AbCdEAAV  escalate        "
        f"specialists #resolution-specialists         1  {died}  invalid_auth\n"
        f"       2  zendesk:2                      notify          "
        f"assignee                                    1  {died}  invalid_auth\n",
    )


def test_outbox_retry_puts_dead_letters_back_once_each(dead_store):
    url = dead_store.database_url
    before = _rows(url)
    started = datetime.now(UTC)

    one = _cli(dead_store, "outbox", "retry", "--id", "2", "--id", "2")
    again = _cli(dead_store, "outbox", "retry", "--id", "2", "--id", "3", "--id", "99")
    after_one = _rows(url)
    rest = _cli(dead_store, "outbox", "retry", "--all-dead")
    after_all = _rows(url)

    assert (one.exit_code, one.stdout, one.stderr) == (
        0,
        "1 action put back in the queue; the dispatcher (serve or worker) performs it now\n",
        "",
    )
    assert (again.exit_code, again.stdout, again.stderr) == (
        1,
        "0 actions put back in the queue; the dispatcher (serve or worker) performs them now\n",
        "3 of the 3 ids given are not dead-lettered actions (see deskbridge outbox --dead)\n",
    )
    assert rest.exit_code == 0 and rest.stdout.startswith("1 action put back"), rest.output
    first_try = NOW
    # Due now, attempts counted from 1 again, the key and the first attempt's time kept.
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in before] == [
        (1, "zendesk:1:risk:x", "dead", 1, first_try),
        (2, "zendesk:2:risk:x", "dead", 1, first_try),
        (3, "zendesk:3:risk", "done", 1, first_try),
    ]
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in after_one] == [
        (1, "zendesk:1:risk:x", "dead", 1, first_try),
        (2, "zendesk:2:risk:x", "pending", 1, first_try),
        (3, "zendesk:3:risk", "done", 1, first_try),
    ]
    assert [(r[0], r[2]) for r in after_all] == [(1, "pending"), (2, "pending"), (3, "done")]
    assert all(started <= r[4] <= datetime.now(UTC) for r in after_all[:2])

    # The token fixed: a worker sends each once, and its performer is told the action was
    # tried before (so it first looks for a message an earlier attempt may have sent).
    engine = create_store_engine(url)
    slack = Slack(engine)
    worker = create_runtime(
        dead_store, engine=engine, performers={kind: slack for kind in ActionKind}
    )
    worker.dispatcher.dispatch_due()
    worker.dispatcher.dispatch_due()
    engine.dispose()
    assert sorted(slack.sent) == [("zendesk:1:risk:x", first_try), ("zendesk:2:risk:x", first_try)]
    assert [(r[0], r[2], r[3]) for r in _rows(url)] == [
        (1, "done", 2),
        (2, "done", 2),
        (3, "done", 1),
    ]


def test_outbox_retry_needs_ids_or_all_dead(dead_store):
    neither = _cli(dead_store, "outbox", "retry")
    both = _cli(dead_store, "outbox", "retry", "--id", "1", "--all-dead")

    assert (neither.exit_code, neither.stdout) == (2, "")
    assert neither.stderr.endswith(
        "Error: give the actions to retry: --id N (repeatable) or --all-dead\n"
    )
    assert (both.exit_code, both.stdout) == (2, "")
    assert both.stderr.endswith("Error: --id and --all-dead together: give one of them\n")
    assert [r[2] for r in _rows(dead_store.database_url)] == ["dead", "dead", "done"]


def _set_rows(url: str, **by_id: dict) -> None:
    engine = create_store_engine(url)
    with engine.begin() as connection:
        for row_id, values in by_id.items():
            connection.execute(
                outbox.update()
                .where(outbox.c.id == int(row_id.removeprefix("row")))
                .values(**values)
            )
    engine.dispose()


def test_outbox_retry_leaves_a_dead_letter_that_a_later_action_of_its_lane_passed(dead_store):
    # Ticket 4's pager trigger died (PagerDuty down); the ticket was solved and its resolve
    # went through once PagerDuty was back. Sent now, the trigger would open the incident
    # again, for a solved ticket: --all-dead leaves it, and says so; --out-of-order sends it.
    url = dead_store.database_url
    engine = create_store_engine(url)
    pager = [
        build_action("zendesk:4", "oncall", ActionKind.pager, "c", e, reason="r", event=e)
        for e in ("trigger", "resolve")
    ]
    with engine.begin() as connection:
        insert_actions(connection, pager, NOW)
    engine.dispose()
    _set_rows(url, row4={"status": "dead", "done_at": NOW}, row5={"status": "done"})

    every = _cli(dead_store, "outbox", "retry", "--all-dead")
    trigger = _cli(dead_store, "outbox", "retry", "--id", "4")
    forced = _cli(dead_store, "outbox", "retry", "--id", "4", "--out-of-order")

    left = LEFT_DEAD.format(ids="4")
    assert (every.exit_code, every.stdout, every.stderr) == (
        0,
        "2 actions put back in the queue; the dispatcher (serve or worker) performs them now\n",
        left,
    )
    assert (trigger.exit_code, trigger.stdout, trigger.stderr) == (
        1,
        "0 actions put back in the queue; the dispatcher (serve or worker) performs them now\n",
        left,
    )
    assert (forced.exit_code, forced.stdout, forced.stderr) == (
        0,
        "1 action put back in the queue; the dispatcher (serve or worker) performs it now\n",
        "",
    )
    assert [(r[0], r[2]) for r in _rows(url)] == [
        (1, "pending"),
        (2, "pending"),
        (3, "done"),
        (4, "pending"),
        (5, "done"),
    ]


def test_outbox_retry_names_every_dead_letter_it_leaves(dead_store):
    # Tickets 4 and 5: each pager trigger died and its resolve went through since. The line
    # said "(ids 4; … sends them anyway)" of one, "a channel it has still to reach" of two.
    url = dead_store.database_url
    engine = create_store_engine(url)
    pager = [
        build_action(ticket, "oncall", ActionKind.pager, "c", e, reason="r", event=e)
        for ticket in ("zendesk:4", "zendesk:5")
        for e in ("trigger", "resolve")
    ]
    with engine.begin() as connection:
        insert_actions(connection, pager, NOW)
    engine.dispose()
    dead, done = {"status": "dead", "done_at": NOW}, {"status": "done"}
    _set_rows(url, row4=dead, row5=done, row6=dead, row7=done)

    every = _cli(dead_store, "outbox", "retry", "--all-dead")

    assert (every.exit_code, every.stdout, every.stderr) == (
        0,
        "2 actions put back in the queue; the dispatcher (serve or worker) performs them now\n",
        "2 dead-lettered actions left dead, a later Slack message having been posted since to "
        "a channel they have still to reach (or a later pager event of their incident "
        "performed): sent now, they would arrive after it (ids 4, 6; --out-of-order sends "
        "them anyway)\n",
    )
    assert [(r[0], r[2]) for r in _rows(url)][3:] == [
        (4, "dead"),
        (5, "done"),
        (6, "dead"),
        (7, "done"),
    ]


LEFT_DEAD = (
    "1 dead-lettered action left dead, a later Slack message having been posted since to a "
    "channel it has still to reach (or a later pager event of its incident performed): sent "
    "now, it would arrive after it (id {ids}; --out-of-order sends it anyway)\n"
)


def test_outbox_retry_checks_a_dead_letter_that_kept_no_destination_against_its_whole_lane(
    dead_store,
):
    # Ticket 6's route died before dead letters kept the channels they had still to reach
    # (or its performer named none): any later message about the ticket performed leaves it
    # dead, as for a pager event, since where it would go is not known. A Slack message that
    # died since says where (tests/bot/test_slack_dead_letters.py).
    url = dead_store.database_url
    engine = create_store_engine(url)
    route = build_action(
        "zendesk:6", "routing", ActionKind.route, "quality", reason="r", channel="#dept-quality"
    )
    escalate = build_action(
        "zendesk:6", "risk", ActionKind.escalate, "vip", reason="r", channel="#specialists"
    )
    with engine.begin() as connection:
        insert_actions(connection, [route, escalate], NOW)
    engine.dispose()
    _set_rows(url, row4={"status": "dead", "done_at": NOW}, row5={"status": "done"})

    retried = _cli(dead_store, "outbox", "retry", "--id", "4")

    assert (retried.exit_code, retried.stderr) == (1, LEFT_DEAD.format(ids="4"))


def test_outbox_retry_since_takes_only_the_recent_dead_letters(dead_store):
    # Row 1 died three days ago (an old outage, its alert long stale), row 2 an hour ago.
    url = dead_store.database_url
    now = datetime.now(UTC)
    _set_rows(
        url,
        row1={"done_at": now - timedelta(days=3)},
        row2={"done_at": now - timedelta(hours=1)},
    )

    recent = _cli(dead_store, "outbox", "retry", "--all-dead", "--since", "6h")
    old_id = _cli(dead_store, "outbox", "retry", "--id", "1", "--since", "1d")
    bad = _cli(dead_store, "outbox", "retry", "--all-dead", "--since", "yesterday")

    assert (recent.exit_code, recent.stdout) == (
        0,
        "1 action put back in the queue; the dispatcher (serve or worker) performs it now\n",
    )
    assert (old_id.exit_code, old_id.stderr) == (
        1,
        "1 of the 1 id given is not a dead-lettered action that died within 1d "
        "(see deskbridge outbox --dead)\n",
    )
    assert (bad.exit_code, bad.stdout) == (2, "")
    assert bad.stderr.endswith(
        "Error: Invalid value for '--since': 'yesterday': expected a duration like \"4h\"\n"
    )
    assert [(r[0], r[2]) for r in _rows(url)] == [(1, "dead"), (2, "pending"), (3, "done")]


class RefusingHelpdesk:
    """A helpdesk whose refusal runs over lines (a 422 with its details on lines of their own)."""

    def perform(self, action):
        raise PermanentError("Zendesk answered 422: RecordInvalid\n  assignee: not in the group")


def test_outbox_dead_listing_keeps_a_multi_line_error_on_its_row(store_url, monkeypatch):
    settings, worker = _worker(store_url, monkeypatch, RefusingHelpdesk())
    tag = build_action("zendesk:3", "risk", ActionKind.tag, reason="test", tags=["vip"])
    with worker.engine.begin() as connection:
        insert_actions(connection, [tag], NOW - timedelta(minutes=1))
    worker.dispatcher.dispatch_due()
    worker.engine.dispose()

    listing = _cli(settings, "outbox", "--dead")

    assert (listing.exit_code, listing.stdout) == (
        0,
        "      id  ticket                    kind            to                        attempts  "
        "dead_at                    last_error\n"
        f"       1  zendesk:3                 tag             -                                1  "
        f"{NOW.isoformat()}  Zendesk answered 422: RecordInvalid ⏎ assignee: not in the group\n",
    )
