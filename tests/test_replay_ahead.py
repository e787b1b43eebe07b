"""What replay's reader process works out ahead for the deciding process
(workflows/replay_ahead.py): the answers for a ticket's texts, the ones the rules would
otherwise work out, and nothing where working one out logs or raises."""

from __future__ import annotations

import logging
import warnings
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

from deskbridge.connectors.registry import CONNECTORS
from deskbridge.workflows import replay_ahead
from deskbridge.workflows.replay import read_lines, run_replay
from deskbridge.workflows.replay_ahead import WorkedOut, work_out_ahead
from deskbridge.workflows.rules import risk, routing

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "scenario.jsonl"
UNTIL = datetime.fromisoformat("2026-03-02T18:00:00Z")


@pytest.fixture
def fresh_memos():
    """The rules' memos of the texts' answers, empty (they are the process's)."""
    memos = (routing._read, routing._classified, risk._said)
    for memo in memos:
        memo.clear()
    yield
    for memo in memos:
        memo.clear()


def _sent(rules) -> tuple[list, list[WorkedOut]]:
    with SCENARIO.open("rb") as lines:
        items = list(work_out_ahead(read_lines(lines, rules, CONNECTORS, False), rules))
    return [i for i in items if not isinstance(i, WorkedOut)], [
        i for i in items if isinstance(i, WorkedOut)
    ]


def test_the_reader_sends_each_tickets_new_texts_answers_before_its_events(rules):
    with SCENARIO.open("rb") as lines:
        read = list(read_lines(lines, rules, CONNECTORS, False))
    with SCENARIO.open("rb") as lines:
        items = list(work_out_ahead(read_lines(lines, rules, CONNECTORS, False), rules))

    # The lines' items as they were, in order, each answer just before the events it is for.
    assert [i for i in items if not isinstance(i, WorkedOut)] == read
    for before, after in pairwise(items):
        if isinstance(before, WorkedOut):
            assert isinstance(after, tuple)
    ahead = [i for i in items if isinstance(i, WorkedOut)]
    routed = [texts for worked in ahead for texts, _ in worked.routing]
    said = [texts for worked in ahead for texts, _ in worked.risk]
    # Once each texts: each ticket's first, and again with each new message of its customer.
    assert len(routed) == len(set(routed)) == len(said) == len(set(said)) == 10
    assert [(texts[0], len(texts[2])) for texts in routed] == [
        ("Order 100482 — tracking hasn't moved in 6 days", 0),
        ("Missing screws for the bookcase", 0),
        ("Wrong colour sofa delivered", 0),
        ("Table leg arrived cracked", 0),
        ("Recliner mechanism broke after two weeks", 0),
        ("Order 100482 — tracking hasn't moved in 6 days", 1),
        ("Mattress delivered without the protective cover", 0),
        ("Order 100482 — tracking hasn't moved in 6 days", 2),
        ("Still no screws", 0),
        ("Wrong rug delivered", 0),
    ]
    for worked in ahead:
        for texts, result in worked.routing:
            assert result == routing.read_texts(texts, rules)
        for texts, found in worked.risk:
            assert found == risk.read_texts(texts, rules.risk)
            assert texts == (texts[0], texts[1], *routed[said.index(texts)][2])


def test_the_decider_finds_every_answer_the_reader_sent(rules, fresh_memos, forks, monkeypatch):
    """Two processes: every answer the decider looks up by a ticket's texts is the one the
    reader sent (the same object, kept), none worked out by the decider; the same records as
    one process."""
    kept: dict = {}
    keep = WorkedOut.keep

    def keeping(self: WorkedOut, given) -> None:
        kept.update(self.routing)
        keep(self, given)

    monkeypatch.setattr(WorkedOut, "keep", keeping)
    with SCENARIO.open("rb") as lines:
        two = list(run_replay(lines, rules, CONNECTORS, until=UNTIL, read_ahead=True))

    assert len(forks) == 1
    assert len(kept) == 10
    # What the decider looked up, each the reader's answer (the object kept): none of its own.
    looked_up = {texts: answer for (_, texts), (_, answer) in routing._read._entries.items()}
    assert len(looked_up) == 10
    assert all(answer is kept[texts] for texts, answer in looked_up.items())
    routing._read.clear()
    routing._classified.clear()
    risk._said.clear()
    with SCENARIO.open("rb") as lines:
        one = list(run_replay(lines, rules, CONNECTORS, until=UNTIL, read_ahead=False))
    assert two == one
    assert len(two) > 20
    # In one process the decider works out answers for the same ten texts the reader sent.
    needed = {texts for _, texts in routing._read._entries}
    assert needed == kept.keys()


def test_an_answer_kept_already_stays(rules, fresh_memos):
    texts = ("Wrong colour delivered", "I ordered grey and got blue.", ())
    first = routing.read_texts(texts, rules)
    second = routing.read_texts(texts, rules)
    assert first == second and first is not second

    routing.keep_read_texts(rules, texts, first)
    routing.keep_read_texts(rules, texts, second)

    assert routing._read.get(rules, texts) is first
    said = ("Wrong colour delivered", "I ordered grey and got blue.")
    found = risk.read_texts(said, rules.risk)
    assert found == {"legal": None, "social_media": None, "anger": None}
    risk.keep_read_texts(rules.risk, said, found)
    risk.keep_read_texts(rules.risk, said, {"legal": "lawyer"})
    assert risk._said.get(rules.risk, said) is found


def test_nothing_is_sent_for_an_answer_that_logged_warned_or_raised(caplog):
    log = logging.getLogger("deskbridge.test")
    handle, show = logging.Logger.handle, warnings.showwarning

    def logs() -> str:
        log.warning("lexicon.trie_unreadable")
        return "answer"

    def warns() -> str:
        warnings.warn("a dictionary is missing", UserWarning, stacklevel=1)
        return "answer"

    def raises() -> str:
        raise ValueError("the classifier's own mistake")

    caplog.set_level(logging.WARNING, logger="deskbridge")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert replay_ahead._quietly(logs) is None
        assert replay_ahead._quietly(warns) is None
        assert replay_ahead._quietly(raises) is None
        assert replay_ahead._quietly(lambda word: word.upper(), "answer") == "ANSWER"

    # Nothing said here: the decider works each out itself, and says it where it comes.
    assert caplog.records == []
    assert (logging.Logger.handle, warnings.showwarning) == (handle, show)


def test_an_answer_is_sent_again_once_the_memos_may_have_let_it_go():
    sent = replay_ahead._Sent()
    assert sent.due(("a",)) is True
    assert sent.due(("a",)) is False
    for n in range(replay_ahead.SEND_AGAIN_AFTER - 1):
        assert sent.due((str(n),)) is True
    assert sent.due(("a",)) is True  # SEND_AGAIN_AFTER others since
    assert sent.due(("a",)) is False
    assert replay_ahead.SEND_AGAIN_AFTER == 4096


def test_nothing_is_worked_out_when_the_rules_read_no_texts(rules):
    quiet = rules.model_copy(
        update={
            "routing": rules.routing.model_copy(update={"enabled": False}),
            "risk": None,
        }
    )
    items, ahead = _sent(quiet)
    assert ahead == []
    with SCENARIO.open("rb") as lines:
        assert items == list(read_lines(lines, quiet, CONNECTORS, False))
