"""`deskbridge routing …` writes a warning with its level, logger and fields, as `replay` does:
without a handler, Python printed only the event name ("lexicon.cache_unavailable")."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

import deskbridge.workflows.classify as classify
from deskbridge.cli import main
from deskbridge.config.logging import LIBRARY_LOGGERS, log_event


@pytest.fixture
def restored_logging():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in LIBRARY_LOGGERS})
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_a_warning_during_routing_explain_names_its_fields(monkeypatch, restored_logging):
    original = classify.classify_ticket

    def warning_first(*args, **kwargs):
        log = logging.getLogger("deskbridge.lexicon")
        log_event(log, logging.WARNING, "lexicon.cache_unavailable", path="/nowhere/deskbridge")
        return original(*args, **kwargs)

    monkeypatch.setattr(classify, "classify_ticket", warning_first)
    result = CliRunner().invoke(main, ["routing", "explain", "Where is my parcel?"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("department: Logistics")
    assert (
        "WARNING deskbridge.lexicon lexicon.cache_unavailable path=/nowhere/deskbridge\n"
        in result.stderr
    )
