"""A learned routing model's probabilities without scikit-learn: a measurement of the thirty-fifth
session (benchmarks/pure_model_cost.py), not used by deskbridge.

`deskbridge routing train`'s pipeline as plain tables (pure_model_cost.export_pipeline): for
each of its TfidfVectorizers, every n-gram's column, idf and the logistic regression's
coefficients; scored as scikit-learn does: the vectorizer's n-grams (word 1-2 grams by its
default token pattern, char_wb 2-5 grams, or word n-grams of the lemma text), sublinear tf
times idf, each view's row scaled to unit length, the coefficients and intercepts summed, and
the softmax. Typed for mypyc (pure_model_cost.py --compiled builds it in a scratch folder).
"""

from __future__ import annotations

import math
import re

# TfidfVectorizer's default token pattern, and the white-space runs char_wb folds to one space.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_SPACES = re.compile(r"\s\s+")
# Words whose char_wb columns are kept (a service meets the same words again and again); past
# this many, new words are scored without being kept.
_KEEP_WORDS = 100_000


class View:
    """One fitted vectorizer: its analyzer ("word" or "char_wb"), n-gram range, whether it reads
    the lemma text, each n-gram's column, the columns' idf, and the classifier's coefficients,
    `k` per column in the classes' order."""

    def __init__(
        self,
        analyzer: str,
        low: int,
        high: int,
        lemmas: bool,
        columns: dict[str, int],
        idf: list[float],
        coef: list[float],
        k: int,
    ) -> None:
        self.analyzer = analyzer
        self.low = low
        self.high = high
        self.lemmas = lemmas
        self.columns = columns
        self.idf = idf
        self.coef = coef
        self.k = k
        self.words: dict[str, list[int]] = {}


def count_word_columns(view: View, tokens: list[str], counts: dict[int, int]) -> None:
    """Count the columns of the tokens' n-grams (`low` to `high` words, joined by a space)."""
    columns = view.columns
    size = len(tokens)
    for n in range(view.low, view.high + 1):
        for i in range(size - n + 1):
            if n == 1:
                gram = tokens[i]
            elif n == 2:
                gram = tokens[i] + " " + tokens[i + 1]
            else:
                gram = " ".join(tokens[i : i + n])
            column = columns.get(gram, -1)
            if column >= 0:
                counts[column] = counts.get(column, 0) + 1


def char_columns(view: View, word: str) -> list[int]:
    """The columns of one word's char_wb n-grams, in scikit-learn's order: the word padded
    with a space each side, a word shorter than n counted once."""
    columns = view.columns
    found: list[int] = []
    padded = " " + word + " "
    size = len(padded)
    for n in range(view.low, view.high + 1):
        offset = 0
        column = columns.get(padded[0:n], -1)
        if column >= 0:
            found.append(column)
        while offset + n < size:
            offset += 1
            column = columns.get(padded[offset : offset + n], -1)
            if column >= 0:
                found.append(column)
        if offset == 0:
            break
    return found


def count_char_columns(view: View, text: str, counts: dict[int, int]) -> None:
    for word in _SPACES.sub(" ", text).split():
        found = view.words.get(word)
        if found is None:
            found = char_columns(view, word)
            if len(view.words) < _KEEP_WORDS:
                view.words[word] = found
        for column in found:
            counts[column] = counts.get(column, 0) + 1


def add_view(view: View, counts: dict[int, int], decision: list[float]) -> None:
    """Add one view's unit-length tf-idf row times the coefficients to `decision`."""
    k = view.k
    idf = view.idf
    coef = view.coef
    sums = [0.0] * k
    squares = 0.0
    for column, tf in counts.items():
        x = idf[column] if tf == 1 else (1.0 + math.log(tf)) * idf[column]
        squares += x * x
        base = column * k
        for c in range(k):
            sums[c] += x * coef[base + c]
    if squares > 0.0:
        norm = math.sqrt(squares)
        for c in range(k):
            decision[c] += sums[c] / norm


def score_probabilities(
    views: list[View], intercepts: list[float], text: str, lemma_text: str
) -> list[float]:
    """Each class's probability for `text` (`lemma_text`: model_lemmas(text), read by the
    views that read lemmas), as the pipeline's predict_proba gives it."""
    decision = list(intercepts)
    lowered = text.lower()
    for view in views:
        counts: dict[int, int] = {}
        if view.lemmas:
            count_word_columns(view, _TOKEN.findall(lemma_text), counts)
        elif view.analyzer == "char_wb":
            count_char_columns(view, lowered, counts)
        else:
            count_word_columns(view, _TOKEN.findall(lowered), counts)
        add_view(view, counts, decision)
    top = max(decision)
    exps = [math.exp(d - top) for d in decision]
    total = sum(exps)
    return [e / total for e in exps]
