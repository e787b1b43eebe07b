"""What classify_ticket leaves undone per ticket (benchmarks/README.md, "Routing classifier"),
with results as before."""

from __future__ import annotations

import dataclasses
import random

import pytest

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows import classify
from deskbridge.workflows.classify import Classification, Hit, classify_ticket, decide

RULES = load_rules(EXAMPLE_CONFIG)


def test_a_classification_is_made_without_a_call_per_field():
    hit = Hit("refund", "refund", "subject", 2.0)
    args = ("refund", "post_sales", "r", "phrase", 2.0, (hit,), {"refund": 2.0}, "quality")
    made = Classification(*args, problem="finish_issue")
    # dataclasses' frozen __init__ sets each field with a call of object.__setattr__.
    assert "__setattr__" not in Classification.__init__.__code__.co_names
    assert dataclasses.astuple(made) == (*args, "finish_issue", None, None)
    assert Classification(None, None, "x", "none").scores == {}
    assert Classification(None, None, "x", "none").scores is not made.scores
    assert dataclasses.replace(made, source="ambiguous").source == "ambiguous"
    assert hash(Classification(None, None, "x", "none", hits=(hit,), scores=None)) == hash(
        Classification(None, None, "x", "none", hits=(hit,), scores=None)
    )


@pytest.mark.source_only
def test_a_text_without_a_phrase_goes_through_no_per_text_check(monkeypatch):
    asked: list[tuple[str, ...]] = []
    shop_subject = classify._shop_subject

    def recording(tokens):
        asked.append(tokens)
        return shop_subject(tokens)

    monkeypatch.setattr(classify, "_shop_subject", recording)
    result = classify_ticket(
        RULES.routing, subject="Order 88213 - oak sideboard", description="It arrived damaged."
    )
    assert (result.category, result.department) == ("transit_damage", "logistics")
    assert asked == []
    classify_ticket(RULES.routing, subject="Damaged sideboard", description="")
    assert asked == [("damage", "sideboard")]


class _CountedReads(list):
    reads = 0

    def __iter__(self):
        _CountedReads.reads += 1
        return super().__iter__()


@pytest.mark.source_only
def test_decide_reads_the_hits_once_whatever_it_quotes():
    hits = _CountedReads(
        [
            Hit("refund", "refund", "subject", 2.0),
            Hit("finish_issue", "scratch", "description", 1.0),
            Hit("finish_issue", "chipped paint", "description", 2.0),
            Hit("refund", "money back", "description", 2.0),
        ]
    )
    plan = classify._plan(RULES.routing)
    result = decide(plan.config, hits, classify.DEPARTMENT_NAMES)
    assert result.reason == (
        'subject mentions "refund" (a remedy request; the problem: finishing or workmanship'
        ' issue, "chipped paint") → refund request → Post-Sales'
    )
    assert _CountedReads.reads == 2  # the scores, and the result's tuple of hits


def test_a_scan_lists_one_word_phrases_then_longer_ones_each_in_reading_order():
    """_scan_texts sorts a scan's matches by length alone (longest first): within a length,
    the scan's order is reading order."""
    index = classify._plan(RULES.routing).index
    rng = random.Random(5)
    vocabulary = sorted(index.vocabulary)
    for _ in range(2000):
        tokens = tuple(
            rng.choice(vocabulary) if rng.random() < 0.7 else rng.choice((".", "not", "if", "or"))
            for _ in range(rng.randrange(40))
        )
        matches = index.scan(tokens)
        ones = [m for m in matches if m.tokens == 1]
        assert matches[: len(ones)] == ones
        assert ones == sorted(ones, key=lambda m: m.start)
        longer = matches[len(ones) :]
        assert longer == sorted(longer, key=lambda m: (m.start, m.tokens))
