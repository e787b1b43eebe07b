"""benchmarks/lemma_model.py and lemma_scorer.py (the thirty-sixth session's measurement): a
linear model over the lemmas the phrases read, scored without scikit-learn on the phrase
scan's tokens, gives scikit-learn's probabilities."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import lemma_scorer
from benchmarks.lemma_model import LemmaModel, lemma_features, texts_read, tokens_of
from benchmarks.routing_crossval import cross_validate, load_sets
from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.accuracy import parse_labelled
from deskbridge.workflows.text import BREAK, tokenize

pytest.importorskip("sklearn")

DATA = Path(__file__).parent / "workflows" / "data"
LABELLED = DATA / "routing_labelled.yaml"


@pytest.mark.parametrize(("pairs", "words", "pair_count"), [(True, 321, 288), (False, 321, 0)])
def test_the_scorer_gives_predict_probas_probabilities(pairs, words, pair_count):
    rules = load_rules(EXAMPLE_CONFIG)
    tickets = parse_labelled(LABELLED.read_text(encoding="utf-8"), False, rules.departments)
    model = LemmaModel(tickets, rules.routing, pairs)
    scorer = model.export(lemma_scorer)
    # The words and pairs at least two of the 120 tickets have.
    assert (len(scorer.words), scorer.pair_count) == (words, pair_count)
    assert model.labels == ("logistics", "none", "post_sales", "quality")

    expected = model.classifier.predict_proba(model.rows)
    found = [scorer.probabilities(tokens_of(rules.routing, t)) for t in tickets]

    largest = max(
        abs(a - float(b))
        for f, e in zip(found, expected, strict=True)
        for a, b in zip(f, e, strict=True)
    )
    assert largest < 1e-12
    assert [scorer.predict(tokens_of(rules.routing, t))[0] for t in tickets] == [
        model.labels[int(row.argmax())] for row in expected
    ]


def test_it_reads_the_texts_the_phrases_read():
    """The subject, and the description without its quote and its signature."""
    rules = load_rules(EXAMPLE_CONFIG)
    description = (
        "The chair arrived with a cracked leg.\n\nKind regards,\nDelivery Damage\n\n"
        "> On Monday you wrote:\n> your parcel is on its way"
    )
    texts = texts_read(rules.routing, "Chair", description, ["", "Still waiting.\n> quoted"])
    assert texts == ["Chair", "The chair arrived with a cracked leg.\n", "Still waiting."]
    assert lemma_features([tokenize(text) for text in texts], pairs=True) == {
        "chair": 2,
        "the": 1,
        "arrive": 1,
        "with": 1,
        "a": 1,
        "crack": 1,
        "leg": 1,
        "still": 1,
        "wait": 1,
        "the chair": 1,
        "chair arrive": 1,
        "arrive with": 1,
        "with a": 1,
        "a crack": 1,
        "crack leg": 1,
        "still wait": 1,
    }
    assert BREAK in tokenize(texts[1])  # the sentence's end: no pair across it


def test_the_scorer_by_hand():
    """Two labels, two words and one pair: the sums as the module says."""
    scorer = lemma_scorer.LemmaScorer(
        ["logistics", "none"],
        [0.25, -0.25],
        {"parcel": [4.0, 2.0, -2.0], "late": [1.0, 1.0, 0.0]},
        {("parcel", "late"): [9.0, 3.0, -3.0]},
    )
    # "parcel" and "late" twice each (tf 1 + ln 2), the pair once (twice in the text); "the"
    # and "." unknown.
    texts = [("the", "parcel", "late"), ("parcel", "late", ".")]
    tf = 1 + math.log(2)
    norm = math.sqrt(tf * tf * 4.0 + tf * tf * 1.0 + 9.0)
    logistics = 0.25 + (tf * 2.0 + tf * 1.0 + 3.0) / norm
    none = -0.25 + (tf * -2.0 + tf * 0.0 - 3.0) / norm
    expected = 1 / (1 + math.exp(none - logistics))

    assert scorer.probabilities(texts) == pytest.approx([expected, 1 - expected], abs=1e-15)
    assert scorer.predict(texts) == ("logistics", pytest.approx(expected, abs=1e-15))
    # Nothing known: the intercepts alone.
    alone = 1 / (1 + math.exp(-0.5))
    assert scorer.probabilities([("sofa",)]) == pytest.approx([alone, 1 - alone], abs=1e-15)


def test_the_scorer_takes_at_most_eight_labels():
    labels = [f"team{n}" for n in range(9)]
    with pytest.raises(ValueError) as refused:
        lemma_scorer.LemmaScorer(labels, [0.0] * 9, {}, {})
    assert str(refused.value) == "2 to 8 labels, each with an intercept"


def test_cross_validation_asks_the_lemma_model_about_the_tickets():
    """routing_crossval's folds ask a model with `ticket_probabilities` about the tickets
    themselves (the lemma model reads the scan's texts, not `model_text`)."""
    rules = load_rules(EXAMPLE_CONFIG)
    paths = [LABELLED, DATA / "routing_tuning_2.yaml"]
    sets = load_sets(paths, rules.departments)

    def trainer(tickets):
        return LemmaModel(tickets, rules.routing, True)

    predictions, _ = cross_validate(sets, trainer)

    for left_out, other in ((sets[0], sets[1]), (sets[1], sets[0])):
        model = LemmaModel(other.tickets, rules.routing, True)
        expected = model.ticket_probabilities(left_out.tickets)
        found = predictions[left_out.name]
        assert [p.probabilities for p in found] == [
            dict(zip(model.labels, map(float, row), strict=True)) for row in expected
        ]
