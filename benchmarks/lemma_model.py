"""A lemma model (the thirty-sixth session's question, docs/routing-accuracy.md): a linear model
over the lemmas the phrases already read, its weights learned with scikit-learn, scored
without it by dict look-ups on the classifier's own tokens (benchmarks/lemma_scorer.py). Is it
accurate enough by cross-validation, and cheap enough beside the phrases (issue 13: 0.2 ms a
1 KB ticket in all)?

Usage: python benchmarks/lemma_model.py [--tickets 6000] [--compiled]
and its cross-validation: python benchmarks/routing_crossval.py --then
       --trainer benchmarks.routing_variants:lemma_pairs (or :lemma_words)

What it reads of a ticket: the texts the phrases read (`texts_read`: the subject, the
description without its quote and signature, each later customer message likewise), each as
`tokenize` made it for the phrase scan (cached). Its features (`lemma_features`): each word
(1 + log its count) and, with pairs, each pair of neighbouring words in one clause (once), kept
when at least two training tickets have them, times their idf, scaled to unit length, into a
multinomial logistic regression, C=30, balanced class weights (`routing train`'s settings).

This script trains both (words and pairs; words alone) on every labelled set but the blind
ones (routing_crossval.labelled_sets never reads those) and prints:
- exactness: the scorer's probabilities against scikit-learn's predict_proba on those tickets;
- cost per ~1 KB ticket (classify_speed.py's generated tickets, warm words), CPU of this
  thread per call, the modes interleaved ticket by ticket (each ticket classified once, in
  one mode; a shared machine's load falls on every mode alike): the phrases alone
  (`classify_ticket`), and the phrases then each model on the classifier's texts' tokens
  (cached by the phrase scan); mean and median, and each model's mean over the phrases'.
--compiled: the scorer compiled with mypyc first (a scratch folder; the classifier is the
build's, compiled or not, as `make` left it).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

from deskbridge.config.rules import RoutingConfig, load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.accuracy import LabelledTicket, parse_labelled
from deskbridge.workflows.classify import _plan, classify_ticket
from deskbridge.workflows.text import BREAK, own_words, tokenize, without_signature

MIN_TICKETS = 2  # as config/routing_model.py's: an n-gram of one ticket teaches nothing


def texts_read(
    config: RoutingConfig,
    subject: str | None,
    description: str | None,
    customer_messages: Iterable[str] = (),
) -> list[str]:
    """The texts the phrases read of a ticket (classify_texts' `texts`)."""
    sign_offs = _plan(config).sign_offs
    texts = [subject or "", without_signature(own_words(description or ""), sign_offs)]
    texts += [without_signature(own_words(m), sign_offs) for m in customer_messages if m]
    return texts


def lemma_features(texts: Iterable[tuple[str, ...]], pairs: bool) -> dict[str, int]:
    """Each word's count, and with `pairs` each pair of neighbouring words in one clause
    ("a b") once."""
    found: dict[str, int] = {}
    for tokens in texts:
        for word in tokens:
            if word != BREAK:
                found[word] = found.get(word, 0) + 1
        if pairs:
            for a, b in pairwise(tokens):
                if a != BREAK and b != BREAK:
                    found[f"{a} {b}"] = 1
    return found


def tokens_of(config: RoutingConfig, ticket: LabelledTicket) -> list[tuple[str, ...]]:
    texts = texts_read(config, ticket.subject, ticket.description, ticket.customer_messages)
    return [tokenize(text) for text in texts]


class LemmaModel:
    """The fitted model: scikit-learn's classifier, the tickets' rows it was fitted on, and its
    tables for the scorer (`export`)."""

    def __init__(self, tickets: list[LabelledTicket], config: RoutingConfig, pairs: bool):
        import numpy as np
        from scipy.sparse import csr_matrix
        from sklearn.linear_model import LogisticRegression

        self.config, self.pairs = config, pairs
        found = [lemma_features(tokens_of(config, t), pairs) for t in tickets]
        documents: dict[str, int] = {}
        for features in found:
            for gram in features:
                documents[gram] = documents.get(gram, 0) + 1
        vocabulary = sorted(g for g, n in documents.items() if n >= MIN_TICKETS)
        self.column = {g: i for i, g in enumerate(vocabulary)}
        # scikit-learn's smooth idf.
        self.idf = [math.log((1 + len(tickets)) / (1 + documents[g])) + 1 for g in vocabulary]
        self.rows = self._rows(found, csr_matrix, np)
        self.classifier = LogisticRegression(C=30.0, class_weight="balanced", max_iter=3000)
        self.classifier.fit(self.rows, [t.department for t in tickets])
        self.labels = tuple(str(c) for c in self.classifier.classes_)

    def _rows(self, found: list[dict[str, int]], csr_matrix: Any, np: Any) -> Any:
        data: list[float] = []
        indices: list[int] = []
        starts = [0]
        for features in found:
            row = {
                self.column[g]: (1.0 + math.log(n) if n > 1 else 1.0) * self.idf[self.column[g]]
                for g, n in features.items()
                if g in self.column
            }
            length = math.sqrt(sum(v * v for v in row.values())) or 1.0
            for i in sorted(row):
                indices.append(i)
                data.append(row[i] / length)
            starts.append(len(indices))
        return csr_matrix(
            (np.array(data), np.array(indices, dtype=np.int64), np.array(starts)),
            shape=(len(found), len(self.column)),
        )

    def ticket_probabilities(self, tickets: list[LabelledTicket]) -> Any:
        """scikit-learn's probabilities for tickets (routing_crossval's folds)."""
        import numpy as np
        from scipy.sparse import csr_matrix

        found = [lemma_features(tokens_of(self.config, t), self.pairs) for t in tickets]
        return self.classifier.predict_proba(self._rows(found, csr_matrix, np))

    def export(self, scorer: ModuleType) -> Any:
        """The tables as `scorer`'s LemmaScorer (benchmarks/lemma_scorer.py)."""
        words: dict[str, list[float]] = {}
        pairs: dict[tuple[str, str], list[float]] = {}
        coef = self.classifier.coef_
        for g, i in self.column.items():
            idf = self.idf[i]
            row = [idf * idf, *(idf * float(w) for w in coef[:, i])]
            if " " in g:
                first, second = g.split(" ")
                pairs[(first, second)] = row
            else:
                words[g] = row
        intercepts = [float(b) for b in self.classifier.intercept_]
        return scorer.LemmaScorer(list(self.labels), intercepts, words, pairs)


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.classify_speed import make_ticket
    from benchmarks.pure_model_cost import load_scorer
    from benchmarks.routing_crossval import labelled_sets

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=6000, help="tickets for each mode")
    parser.add_argument("--compiled", action="store_true", help="the scorer built by mypyc")
    args = parser.parse_args(argv)
    rules = load_rules(EXAMPLE_CONFIG)
    config = rules.routing
    tickets = [
        ticket
        for path in labelled_sets()
        for ticket in parse_labelled(path.read_text(encoding="utf-8"), False, rules.departments)
    ]
    scorer = load_scorer(args.compiled, Path(__file__).with_name("lemma_scorer.py"))
    models = {}
    for name, pairs in (("words and pairs", True), ("words alone", False)):
        started = time.process_time()
        model = LemmaModel(tickets, config, pairs)
        seconds = time.process_time() - started
        scoring = model.export(scorer)
        expected = model.classifier.predict_proba(model.rows)
        worst, differ = 0.0, 0
        for ticket, row in zip(tickets, expected, strict=True):
            found = scoring.probabilities(tokens_of(config, ticket))
            worst = max(worst, *(abs(a - float(b)) for a, b in zip(found, row, strict=True)))
            differ += max(range(len(found)), key=found.__getitem__) != int(row.argmax())
        words = sum(" " not in g for g in model.column)
        print(
            f"{name}: trained on {len(tickets)} tickets in {seconds:.1f} s of CPU;"
            f" {words} words, {len(model.column) - words} pairs; largest difference from"
            f" predict_proba {worst:.1e}, the most probable label differs on {differ}"
        )
        models[name] = scoring
    print(f"scorer: {scorer.__file__}")

    def phrases(subject: str, description: str) -> None:
        classify_ticket(config, subject=subject, description=description)

    def with_model(scoring: Any) -> Any:
        def classify(subject: str, description: str) -> None:
            classify_ticket(config, subject=subject, description=description)
            texts = texts_read(config, subject, description)
            scoring.predict([tokenize(text) for text in texts])  # the scan's, cached

        return classify

    modes = {"phrases alone": phrases, **{f"+ {n}": with_model(s) for n, s in models.items()}}
    rng = random.Random(13)
    for subject, description in [make_ticket(rng) for _ in range(500)]:
        for run in modes.values():
            run(subject, description)  # warm words
    spent: dict[str, list[int]] = {name: [] for name in modes}
    names = list(modes)
    clock = time.thread_time_ns
    for i in range(args.tickets * len(names)):
        subject, description = make_ticket(rng)  # each ticket new: no answer kept by text
        name = names[i % len(names)]
        started = clock()
        modes[name](subject, description)
        spent[name].append(clock() - started)
    base = statistics.mean(spent["phrases alone"]) / 1e6
    for name, values in spent.items():
        mean = statistics.mean(values) / 1e6
        print(
            f"{name:<22} CPU mean {mean:.4f} ms/ticket, median"
            f" {statistics.median(values) / 1e6:.4f}; over the phrases alone {mean - base:+.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
