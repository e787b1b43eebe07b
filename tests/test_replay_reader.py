"""Replay's second process (workflows/replay_reader.py): the decider gets from it, item by
item, what it would have read itself, and replay runs in one process where none can start."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from deskbridge.connectors.registry import CONNECTORS
from deskbridge.connectors.zendesk.parse import GROUP_NAME_IGNORED, UNFILLED_PLACEHOLDER
from deskbridge.workflows import replay_reader
from deskbridge.workflows.replay import ReplayError, run_replay
from deskbridge.workflows.replay_reader import ReaderFailed, read_in_second_process

ROOT = Path(__file__).resolve().parents[1]
UNTIL = "2026-03-02T18:00:00Z"


def _trigger(ticket: str, at: str) -> dict:
    # A trigger body naming its group (ignored, logged) with a placeholder left unfilled
    # (logged): the parser's two warnings.
    return {
        "at": at,
        "source": "zendesk",
        "body": {
            "ticket_id": ticket,
            "event_id": f"trig-{ticket}",
            "status": "Open",
            "subject": "{{ticket.title}}",
            "updated_at": "2026-03-02T09:10Z",
            "group": "Support team",
        },
    }


BAD = [
    b'{"at": "2026-03-02T09:00:00", "source": "Zendesk", "body": 3}',
    b"not json",
    b"\xff\xfe not UTF-8",
    b"",
    b"# a comment",
    b"[1, 2]",
    b'{"subject": "Sofa", "department": "logistics"}',
]


@pytest.fixture
def mixed(tmp_path) -> Path:
    """The demo scenario with a byte order mark, bad lines, a trigger body the parser warns
    about and a time with an offset between its lines."""
    lines = (ROOT / "examples" / "scenario.jsonl").read_bytes().splitlines()
    offset = json.loads(lines[3])
    offset["at"] = offset["at"].replace("Z", "+01:00").replace("T08:", "T09:")
    lines[3] = json.dumps(offset).encode()
    out = [*lines[:5], *BAD, json.dumps(_trigger("48213", "2026-03-02T09:10:00Z")).encode()]
    out += [*lines[5:], *BAD[1:3]]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(out) + b"\n")
    return path


def _replay(path: Path, rules, read_ahead: bool) -> list:
    for warning in (GROUP_NAME_IGNORED, UNFILLED_PLACEHOLDER):
        warning.forget()
    with path.open("rb") as lines:
        until = datetime.fromisoformat(UNTIL)
        return list(run_replay(lines, rules, CONNECTORS, until=until, read_ahead=read_ahead))


EXPECTED_ERRORS = [
    ReplayError(6, 'at: time has no timezone: write it like "2026-03-02T09:55:00Z" (UTC), or '
                'with its offset ("2026-03-02T10:55:00+01:00")'),
    ReplayError(6, "source: 'Zendesk' is not one of zendesk, salesforce: write it in lowercase, "
                "zendesk"),
    ReplayError(6, "body: expected a JSON object or an XML string"),
    ReplayError(7, "invalid JSON: Expecting value"),
    ReplayError(8, "not UTF-8 text (byte 0)"),
    ReplayError(11, "expected a JSON object per line"),
    ReplayError(12, "at: required field is missing: this line is a labelled ticket, for "
                '`deskbridge routing evaluate`; replay reads events, {"at", "source", "body"} a '
                "line"),
]  # fmt: skip


def test_the_second_process_gives_the_decider_what_one_process_reads(mixed, rules, forks):
    one = _replay(mixed, rules, read_ahead=False)
    assert forks == []

    two = _replay(mixed, rules, read_ahead=True)

    assert len(forks) == 1
    assert two == one
    errors = [item for item in two if isinstance(item, ReplayError)]
    last = len(mixed.read_bytes().splitlines())
    assert errors == [
        *EXPECTED_ERRORS,
        ReplayError(last - 1, "invalid JSON: Expecting value"),
        ReplayError(last, "not UTF-8 text (byte 0)"),
    ]
    # Each error where its line comes among the actions, as in one process.
    assert [i for i, item in enumerate(two) if isinstance(item, ReplayError)] == [
        i for i, item in enumerate(one) if isinstance(item, ReplayError)
    ]
    assert len(two) - len(errors) > 20  # the scenario's actions


def test_a_second_replay_in_the_same_process_reads_its_own_file(mixed, rules, forks, tmp_path):
    """Each reader's enum members and times are numbered afresh: a second file whose times
    come in another order gets its own, not the first file's by the same numbers."""
    lines = mixed.read_bytes().splitlines()
    other = tmp_path / "other.jsonl"
    other.write_bytes(b"\n".join(lines[20:] + lines[1:20]) + b"\n")
    expected = _replay(other, rules, read_ahead=False)

    _replay(mixed, rules, read_ahead=True)
    second = _replay(other, rules, read_ahead=True)

    assert len(forks) == 2
    assert second == expected


def test_the_parsers_warnings_are_logged_by_the_first_process_in_the_lines_order(
    mixed, rules, forks, caplog
):
    caplog.set_level(logging.WARNING, logger="deskbridge")
    _replay(mixed, rules, read_ahead=False)
    one = [(r.process, r.getMessage(), r.deskbridge_fields) for r in caplog.records]
    caplog.clear()

    _replay(mixed, rules, read_ahead=True)

    two = [(r.process, r.getMessage(), r.deskbridge_fields) for r in caplog.records]
    assert len(forks) == 1
    hint = 'send "group_id": "{{ticket.group.id}}" (README, Connecting Zendesk)'
    assert [(message, fields) for _, message, fields in two] == [
        (
            "webhook.group_name_ignored",
            {"ticket": "zendesk:48213", "trigger": "unnamed", "hint": hint},
        ),
        (
            "webhook.unfilled_placeholder",
            {
                "ticket": "zendesk:48213",
                "trigger": "unnamed",
                "fields": "subject",
                "hint": "a placeholder there was not filled in: check its name in the trigger's "
                "JSON body (placeholders are case-sensitive; README, Connecting Zendesk)",
            },
        ),
    ]
    assert [(m, f) for _, m, f in two] == [(m, f) for _, m, f in one]
    # Made in the child (its process id), handled here.
    assert {p for p, _, _ in two} == set(forks)


def test_one_process_where_no_second_can_start(mixed, rules, forks, monkeypatch):
    expected = _replay(mixed, rules, read_ahead=False)

    def refused() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refused)
    assert _replay(mixed, rules, read_ahead=True) == expected

    monkeypatch.setattr(threading, "active_count", lambda: 2)  # another thread: no fork
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked beside a thread"))
    assert _replay(mixed, rules, read_ahead=True) == expected

    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(replay_reader, "usable_cpus", lambda: 1)
    assert _replay(mixed, rules, read_ahead=True) == expected

    monkeypatch.setattr(replay_reader, "usable_cpus", lambda: 2)
    lines = mixed.read_text(encoding="utf-8", errors="replace").splitlines()  # not a file
    until = datetime.fromisoformat(UNTIL)
    in_memory = list(run_replay(lines, rules, CONNECTORS, until=until, read_ahead=True))
    assert [r for r in in_memory if not isinstance(r, ReplayError)] == [
        r for r in expected if not isinstance(r, ReplayError)
    ]


def _reading(items, path: Path):
    with path.open("rb") as lines:
        received = read_in_second_process(lines, items)
        assert received is not None
        return received


def test_an_error_raised_while_reading_is_raised_after_the_items_before_it(tmp_path, forks):
    def items():
        yield ReplayError(1, "first")
        yield ReplayError(2, "second")
        raise ValueError("the parser's own mistake")

    (tmp_path / "x").write_bytes(b"{}\n")
    received = _reading(items(), tmp_path / "x")

    assert next(received) == ReplayError(1, "first")
    assert next(received) == ReplayError(2, "second")
    with pytest.raises(ValueError, match=r"^the parser's own mistake$"):
        next(received)
    assert len(forks) == 1


def test_a_reader_that_ends_early_is_said_not_taken_for_the_end(tmp_path, forks):
    sent = replay_reader.ITEMS_PER_MESSAGE  # one message's worth: sent before it ends

    def items():
        for n in range(1, sent + 1):
            yield ReplayError(n, "read")
        os._exit(3)  # killed, or out of memory: the end's message never comes
        yield ReplayError(sent + 1, "never")

    (tmp_path / "x").write_bytes(b"{}\n")
    received = _reading(items(), tmp_path / "x")

    assert [next(received) for _ in range(sent)] == [
        ReplayError(n, "read") for n in range(1, sent + 1)
    ]
    with pytest.raises(ReaderFailed) as failed:
        next(received)
    assert str(failed.value) == (
        "the process reading the events ended before the end of the file (exit status 3)"
    )


def test_the_command_writes_the_same_in_two_processes_and_in_one(mixed):
    """The command as run, in a process of its own (no test runner's threads: the second
    process starts where the machine has two CPUs): stdout and stderr alike."""

    def run(*flags: str) -> tuple[int, str, str]:
        command = ["replay", str(mixed), "--until", UNTIL, "--format", "text", *flags]
        done = subprocess.run(
            [sys.executable, "-c", "from deskbridge.cli import main; main()", *command],
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        # A log line's time is when it was made.
        stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", re.MULTILINE)
        return done.returncode, done.stdout, stamp.sub("", done.stderr)

    two, one = run(), run("--one-process")

    assert two == one
    assert two[0] == 1  # bad lines
    assert "line 7: invalid JSON: Expecting value" in two[2]
    assert "WARNING deskbridge.webhooks webhook.unfilled_placeholder" in two[2]
