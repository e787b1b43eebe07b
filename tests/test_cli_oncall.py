"""`deskbridge oncall [--at ISO] [--shifts N] [--ical]` with the example config."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from icalendar import Calendar

from deskbridge.cli import main
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.oncall import insert_override
from deskbridge.workflows.rotation import Override


@pytest.fixture
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'deskbridge.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    return url


def run(*args: str) -> str:
    result = CliRunner().invoke(main, ["oncall", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_saturday_7_march_2310_is_tom_by_the_override(database):
    assert run("--at", "2026-03-07T23:10:00Z") == (
        "On call at Sat 07 Mar 2026 23:10 GMT: Tom Okafor (U02TOMOK01), override until "
        "Mon 09 Mar 2026 09:00 GMT\n"
        "Next shifts (Europe/London):\n"
        "  Mon 09 Mar 2026 09:00 GMT → Mon 16 Mar 2026 09:00 GMT  Priya Raman (U02PRIYA01)\n"
        "  Mon 16 Mar 2026 09:00 GMT → Mon 23 Mar 2026 09:00 GMT  Lena Fischer (U02LENAF01)\n"
        "  Mon 23 Mar 2026 09:00 GMT → Mon 30 Mar 2026 09:00 BST  Tom Okafor (U02TOMOK01)\n"
    )


def test_a_rotation_shift_and_a_stored_override_ahead(database):
    engine = create_store_engine(database)
    migrate_store(engine)
    with engine.begin() as connection:
        insert_override(
            connection,
            Override(
                "U02SAMWL01",
                datetime(2026, 1, 14, 18, tzinfo=UTC),
                datetime(2026, 1, 15, 8, tzinfo=UTC),
                by="U02SAMWL01",
            ),
            datetime(2026, 1, 2, tzinfo=UTC),
        )
    assert run("--at", "2026-01-13T12:00:00", "--shifts", "2") == (
        "On call at Tue 13 Jan 2026 12:00 GMT: Lena Fischer (U02LENAF01), rotation until "
        "Wed 14 Jan 2026 18:00 GMT\n"
        "Next shifts (Europe/London):\n"
        "  Wed 14 Jan 2026 18:00 GMT → Thu 15 Jan 2026 08:00 GMT  Sam Whitaker (U02SAMWL01)"
        " (override)\n"
        "  Thu 15 Jan 2026 08:00 GMT → Mon 19 Jan 2026 09:00 GMT  Lena Fischer (U02LENAF01)\n"
    )


def test_a_time_without_an_offset_is_the_teams(database):
    """23:10 on a summer Saturday in London was read as 23:10 UTC, and the answer spoke of
    00:10 BST on the Sunday."""
    assert run("--at", "2026-07-04T23:10:00", "--shifts", "0") == (
        "On call at Sat 04 Jul 2026 23:10 BST: Lena Fischer (U02LENAF01), rotation until "
        "Mon 06 Jul 2026 09:00 BST\n"
    )
    assert run("--at", "2026-07-04T23:10:00", "--shifts", "0") == run(
        "--at", "2026-07-04T22:10:00Z", "--shifts", "0"
    )


def test_before_the_rotation_starts_nobody_is_on_call(database):
    assert run("--at", "2025-12-07T23:10:00Z", "--shifts", "1") == (
        "Nobody is on call at Sun 07 Dec 2025 23:10 GMT: the rotation starts "
        "Mon 05 Jan 2026 09:00 GMT.\n"
        "Next shifts (Europe/London):\n"
        "  Mon 05 Jan 2026 09:00 GMT → Mon 12 Jan 2026 09:00 GMT  Priya Raman (U02PRIYA01)\n"
    )


def test_ical_parses_and_holds_the_next_shifts(database):
    feed = CliRunner().invoke(main, ["oncall", "--ical", "--at", "2026-03-20T12:00:00Z"])
    assert feed.exit_code == 0, feed.output
    calendar = Calendar.from_ical(feed.stdout_bytes)
    events = [
        (
            str(e["summary"]),
            e.decoded("dtstart").isoformat(),
            e.decoded("dtend").isoformat(),
            str(e["uid"]),
        )
        for e in calendar.walk("VEVENT")
    ]
    assert len(events) == 13  # the running shift and the next 12
    assert events[:3] == [
        (
            "On call: Lena Fischer",
            "2026-03-16T09:00:00+00:00",
            "2026-03-23T09:00:00+00:00",
            "oncall-20260316T090000Z-U02LENAF01@deskbridge",
        ),
        (
            "On call: Tom Okafor",
            "2026-03-23T09:00:00+00:00",
            "2026-03-30T08:00:00+00:00",  # 09:00 BST after the clocks go forward
            "oncall-20260323T090000Z-U02TOMOK01@deskbridge",
        ),
        (
            "On call: Priya Raman",
            "2026-03-30T08:00:00+00:00",
            "2026-04-06T08:00:00+00:00",
            "oncall-20260330T080000Z-U02PRIYA01@deskbridge",
        ),
    ]
    assert str(calendar["x-wr-calname"]) == "Resolution team on call"


def test_a_bad_at_is_refused_with_the_option_named(database):
    result = CliRunner().invoke(main, ["oncall", "--at", "saturday night"])
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: Invalid value for '--at': 'saturday night' is not an ISO 8601 time "
        "(like 2026-03-07T23:10:00Z, 2026-03-07T18:00 or 2026-03-07)\n"
    )


@pytest.mark.parametrize("at", ["2026-03-07T23:10", "2026-03-07 23:10:00+00:00"])
def test_at_as_the_rules_file_writes_times(database, at):
    """Minutes without seconds (the overrides' form) and a space for the T were refused."""
    assert run("--at", at, "--shifts", "0") == (
        "On call at Sat 07 Mar 2026 23:10 GMT: Tom Okafor (U02TOMOK01), override until "
        "Mon 09 Mar 2026 09:00 GMT\n"
    )


def test_store_down_still_prints_the_rotation(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["oncall", "--at", "2026-03-07T23:10:00Z", "--shifts", "0"])
    assert result.exit_code == 0
    assert result.stdout == (
        "On call at Sat 07 Mar 2026 23:10 GMT: Tom Okafor (U02TOMOK01), override until "
        "Mon 09 Mar 2026 09:00 GMT\n"
    )
    # Worded as the other commands word a store they cannot open (the password hidden).
    assert result.stderr.startswith(
        "cannot open the store at postgresql+psycopg://nobody@127.0.0.1:1/none: connection "
        'failed: connection to server at "127.0.0.1", port 1 failed: '
    )
    assert result.stderr.endswith("; overrides made in Slack are not shown\n")
    assert result.stderr.count("\n") == 1


def test_a_sqlite_file_that_is_no_database_still_prints_the_rotation(monkeypatch, tmp_path):
    path = tmp_path / "deskbridge.db"
    path.write_text("not a database\n")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["oncall", "--at", "2026-03-07T23:10:00Z", "--shifts", "0"])
    assert result.exit_code == 0
    assert result.stdout.startswith("On call at Sat 07 Mar 2026 23:10 GMT: Tom Okafor")
    assert result.stderr == (
        f"cannot open the store at sqlite:///{path}: file is not a database; "
        "overrides made in Slack are not shown\n"
    )


def test_oncall_reads_a_store_and_changes_none(database, tmp_path):
    """It migrated the store it read, creating an empty SQLite file where there was none
    (a read on a host without the service's DATABASE_URL left a deskbridge.db behind)."""
    result = CliRunner().invoke(main, ["oncall", "--at", "2026-03-07T23:10:00Z", "--shifts", "0"])

    assert result.exit_code == 0
    assert result.stdout.startswith("On call at Sat 07 Mar 2026 23:10 GMT: Tom Okafor")
    assert result.stderr == (
        f"cannot open the store at {database}: no such file; overrides made in Slack are not "
        "shown\n"
    )
    assert list(tmp_path.iterdir()) == []
