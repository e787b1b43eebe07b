"""A lemma model's scorer (the thirty-sixth session's measurement, benchmarks/lemma_model.py):
a linear model over the lemmas the phrases read, scored by dict look-ups on the token tuples
the phrase scan made of a ticket's texts (`tokenize`, cached), without scikit-learn. Plain
Python that mypyc compiles (`lemma_model.py --compiled`); it imports nothing of deskbridge.

Each known word weighs (1 + log its count) * idf, each known pair of neighbouring words idf
once, the whole scaled to unit length (scikit-learn's sublinear tf-idf with norm l2); the
probabilities are the softmax of intercept + the weighed sum (its logistic regression's). A
table row is [idf^2, idf * the weight for each label...]."""

from __future__ import annotations

import math

# The labels a scorer holds at most (seven departments and none): each row's weights are
# summed in eight plain float variables, read from a compiled object's unboxed fields (a
# list's or a tuple's floats are objects of their own; summing into a list made a new float
# at each addition, most of the first version's time).
MOST_LABELS = 8


class Weights:
    """One word's or pair's row, unboxed when compiled; `number` tells pairs apart."""

    def __init__(self, row: list[float], number: int) -> None:
        padded = row + [0.0] * (MOST_LABELS + 1 - len(row))
        self.number = number
        self.norm = padded[0]
        self.w0 = padded[1]
        self.w1 = padded[2]
        self.w2 = padded[3]
        self.w3 = padded[4]
        self.w4 = padded[5]
        self.w5 = padded[6]
        self.w6 = padded[7]
        self.w7 = padded[8]


class LemmaScorer:
    def __init__(
        self,
        labels: list[str],
        intercepts: list[float],
        words: dict[str, list[float]],
        pairs: dict[tuple[str, str], list[float]],
    ) -> None:
        if not 2 <= len(labels) <= MOST_LABELS or len(intercepts) != len(labels):
            raise ValueError(f"2 to {MOST_LABELS} labels, each with an intercept")
        self.labels = labels
        self.intercepts = intercepts
        self.words = {word: Weights(row, 0) for word, row in words.items()}
        # The pairs by their first word, then their second: no pair of the text is made to be
        # looked up.
        self.pair_count = len(pairs)
        self.pairs: dict[str, dict[str, Weights]] = {}
        for number, ((first, second), row) in enumerate(pairs.items()):
            self.pairs.setdefault(first, {})[second] = Weights(row, number)

    def predict(self, texts: list[tuple[str, ...]]) -> tuple[str, float]:
        """The most probable label and its probability for the texts' tokens."""
        found = self.probabilities(texts)
        best = 0
        for i in range(1, len(found)):
            if found[i] > found[best]:
                best = i
        return self.labels[best], found[best]

    def probabilities(self, texts: list[tuple[str, ...]]) -> list[float]:
        counts: dict[str, int] = {}
        for tokens in texts:
            for word in tokens:
                counts[word] = counts.get(word, 0) + 1
        norm = s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
        words = self.words
        for word, n in counts.items():
            row = words.get(word)
            if row is not None:
                tf = 1.0 + math.log(n) if n > 1 else 1.0
                norm += tf * tf * row.norm
                s0 += tf * row.w0
                s1 += tf * row.w1
                s2 += tf * row.w2
                s3 += tf * row.w3
                s4 += tf * row.w4
                s5 += tf * row.w5
                s6 += tf * row.w6
                s7 += tf * row.w7
        pairs = self.pairs
        if pairs:
            seen = bytearray(self.pair_count)  # the pairs counted (a set would box numbers)
            for tokens in texts:
                for i in range(len(tokens) - 1):
                    after = pairs.get(tokens[i])
                    if after is None:
                        continue
                    pair = after.get(tokens[i + 1])
                    if pair is None or seen[pair.number]:
                        continue
                    seen[pair.number] = 1
                    norm += pair.norm
                    s0 += pair.w0
                    s1 += pair.w1
                    s2 += pair.w2
                    s3 += pair.w3
                    s4 += pair.w4
                    s5 += pair.w5
                    s6 += pair.w6
                    s7 += pair.w7
        scale = 1.0 / math.sqrt(norm) if norm > 0.0 else 0.0
        sums = [s0, s1, s2, s3, s4, s5, s6, s7]
        intercepts = self.intercepts
        logits = [intercepts[i] + sums[i] * scale for i in range(len(intercepts))]
        top = max(logits)
        exps = [math.exp(x - top) for x in logits]
        total = sum(exps)
        return [x / total for x in exps]
