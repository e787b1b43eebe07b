"""benchmarks/pure_scorer.py (the thirty-fifth session's measurement): `routing train`'s
pipeline scored without scikit-learn gives predict_proba's probabilities."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import pure_scorer
from benchmarks.pure_model_cost import PureModel, export_pipeline
from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.accuracy import parse_labelled
from deskbridge.workflows.classify import model_text

pytest.importorskip("sklearn")

LABELLED = Path(__file__).parent / "workflows" / "data" / "routing_labelled.yaml"


def test_char_wb_ngrams_are_scikit_learns_short_words_once():
    grams = [" a", "a ", " a ", " ab", "ab", "b ", "ab ", " ab "]
    view = pure_scorer.View("char_wb", 2, 5, False, {g: i for i, g in enumerate(grams)}, [], [], 4)

    assert pure_scorer.char_columns(view, "a") == [0, 1, 2]
    assert pure_scorer.char_columns(view, "ab") == [0, 4, 5, 3, 6, 7]

    from sklearn.feature_extraction.text import TfidfVectorizer

    analyze = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    assert analyze("a  ab") == [grams[i] for i in [0, 1, 2, 0, 4, 5, 3, 6, 7]]


def test_the_pure_scorer_gives_predict_probas_probabilities():
    from deskbridge.config.routing_model import train_routing_model

    rules = load_rules(EXAMPLE_CONFIG)
    tickets = parse_labelled(LABELLED.read_text(encoding="utf-8"), False, rules.departments)
    learned = train_routing_model(tickets)
    views, intercepts = export_pipeline(learned.pipeline, pure_scorer)
    pure = PureModel(pure_scorer, views, intercepts, learned.labels)
    texts = [model_text(t.subject, t.description, t.customer_messages) for t in tickets]
    texts += ["", "a", "  Die   Lieferung ist nicht gekommen!! ", "refund refund refund refund"]

    expected = learned.pipeline.predict_proba(texts)
    found = [pure.probabilities(text) for text in texts]

    assert [len(row) for row in found] == [4] * len(texts)
    largest = max(
        abs(a - float(b))
        for f, e in zip(found, expected, strict=True)
        for a, b in zip(f, e, strict=True)
    )
    assert largest < 1e-9
    labels = [pure.predict(text)[0] for text in texts]
    assert labels == [learned.predict(text)[0] for text in texts]
