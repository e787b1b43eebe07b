"""`deskbridge events` names the store it read: run without the service's DATABASE_URL it read
a new SQLite file it made in the current folder, and a bare "0 failed events" passed for the
service's (it now only reads: tests/test_cli_store_unavailable.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.store.events import build_event_row, insert_events, mark_events_failed
from deskbridge.workflows.model import EventKind, Source, TicketEvent, TicketSnapshot


def test_events_says_which_store_it_read(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'deskbridge.db'}"
    env = {"DATABASE_URL": url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}
    assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0

    result = CliRunner().invoke(main, ["events", "--failed"], env=env)

    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "",
        f"0 failed events in {url}\n",
    )


def test_events_alone_counts_the_events_by_state(tmp_path: Path):
    """`events` listed the failed events, as `events --failed` did: the flag changed nothing.
    Alone it now says how many events wait, were decided and failed."""
    url = f"sqlite:///{tmp_path / 'deskbridge.db'}"
    env = {"DATABASE_URL": url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}
    assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0

    text = CliRunner().invoke(main, ["events"], env=env)
    as_json = CliRunner().invoke(main, ["events", "--format", "json"], env=env)

    assert (text.exit_code, text.stdout, text.stderr) == (
        0,
        f"0 events in {url}: 0 undecided, 0 decided, 0 failed\n",
        "",
    )
    assert (as_json.exit_code, as_json.stdout, as_json.stderr) == (
        0,
        '{"undecided": 0, "decided": 0, "failed": 0}\n',
        "",
    )


def test_failed_events_stay_in_columns_for_a_salesforce_case(engine, store_url):
    """A Salesforce case's ticket (29 characters) was wider than its 24-character column and
    pushed the rest of its line out of line with the others."""
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    rows = [
        build_event_row(
            TicketEvent(
                source=source,
                ticket_id=ticket_id,
                dedupe_key=f"{source.value}:event:{ticket_id}",
                kind=EventKind.created,
                occurred_at=at,
                ticket=TicketSnapshot(),
            ),
            "{}",
            at,
        )
        for source, ticket_id in ((Source.salesforce, "5005j00000AbCdEAAV"), (Source.zendesk, "7"))
    ]
    with engine.begin() as connection:
        insert_events(connection, rows)
        mark_events_failed(connection, [(1, "ValueError: x"), (2, "ValueError: y")], at)
    env = {"DATABASE_URL": store_url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}

    result = CliRunner().invoke(main, ["events", "--failed"], env=env)

    # Headed as --format json names the fields: the rows alone left "1", "created" and a
    # time to guess at.
    assert (result.exit_code, result.stdout) == (
        0,
        "      id  ticket                         kind                failed_at                  "
        "error\n"
        f"       1  salesforce:5005j00000AbCdEAAV  created             {at.isoformat()}  "
        "ValueError: x\n"
        f"       2  zendesk:7                      created             {at.isoformat()}  "
        "ValueError: y\n",
    )


def test_a_multi_line_error_stays_on_its_row(engine, store_url):
    """pydantic's messages run over several lines: the text listing printed them as they were,
    so one failed event took four lines and `| wc -l` or a grep by id lost the rest; the rows
    show the lines joined (--format json keeps the error as stored)."""
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    error = (
        "ValidationError: 1 validation error for TicketSnapshot\n"
        "priority\n"
        "  Input should be 'low', 'normal', 'high' or 'urgent' [type=enum]\n"
    )
    row = build_event_row(
        TicketEvent(
            source=Source.zendesk,
            ticket_id="7",
            dedupe_key="zendesk:event:7",
            kind=EventKind.created,
            occurred_at=at,
            ticket=TicketSnapshot(),
        ),
        "{}",
        at,
    )
    with engine.begin() as connection:
        insert_events(connection, [row])
        mark_events_failed(connection, [(1, error)], at)
    env = {"DATABASE_URL": store_url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}

    text = CliRunner().invoke(main, ["events", "--failed"], env=env)
    as_json = CliRunner().invoke(main, ["events", "--failed", "--format", "json"], env=env)

    assert (text.exit_code, text.stdout) == (
        0,
        "      id  ticket                    kind                failed_at                  error\n"
        f"       1  zendesk:7                 created             {at.isoformat()}  "
        "ValidationError: 1 validation error for TicketSnapshot ⏎ priority ⏎ Input should be "
        "'low', 'normal', 'high' or 'urgent' [type=enum]\n",
    )
    assert json.loads(as_json.stdout)["error"] == error
