"""A text word is compared only with the phrase words that keep its first or its last letters
(one edit leaves one of the two halves), and reads as the same word as when it was compared with
every phrase word."""

from __future__ import annotations

import random
import string

from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows import classify, text


def test_a_word_is_compared_only_with_the_forms_sharing_its_head_or_tail(monkeypatch):
    index = text.phrase_index(("receive", "recover", "deliver", "delivery"))
    compared: list[list[str]] = []

    def recording(word, choices, **kwargs):
        compared.append(list(choices))
        return extractOne(word, choices, **kwargs)

    monkeypatch.setattr(text, "extractOne", recording)
    assert index.read_as("recieve") == "receive"
    assert index.read_as("delivry") == "delivery"
    assert index.read_as("parcels") == "parcels"  # no form near it: nothing compared
    # "rec…" (not "…eve"), "del…" (not "…vry"); "par…" and "…els" begin and end no form.
    assert compared == [["receive", "recover"], ["deliver", "delivery"]]


def _all_forms_reading(index: text.PhraseIndex, token: str) -> str:
    """read_as as it was: the best of every form of n-1 to n+1 letters, in alphabetical order."""
    if (
        token in index.vocabulary
        or len(token) < text.MIN_TYPO_LENGTH
        or not token.isalpha()
        or token in text.NEGATORS
    ):
        return token
    forms = sorted(f for f in index._typo_targets if abs(len(f) - len(token)) <= 1)
    best = extractOne(token, forms, scorer=OSA.distance, score_cutoff=1) if forms else None
    if best is None or text.is_known_word(token):
        return token
    if text.is_foreign_word(token) and (
        text.is_known_word(best[0]) or text.is_other_word_of_its_language(token, best[0])
    ):
        return token
    return index._typo_targets[best[0]]


def test_every_one_edit_typo_of_the_example_rules_reads_as_with_every_form_compared():
    index = classify._plan(load_rules(EXAMPLE_CONFIG).routing).index
    rng = random.Random(7)
    forms = sorted(index._typo_targets)
    words = []
    for _ in range(3000):
        word = rng.choice(forms)
        at = rng.randrange(len(word))
        letter = rng.choice(string.ascii_lowercase)
        words += [
            word[:at] + word[at + 1 :],  # a letter left out
            word[:at] + letter + word[at:],  # one put in
            word[:at] + letter + word[at + 1 :],  # one changed
            word[:at] + word[at + 1 : at + 2] + word[at] + word[at + 2 :],  # neighbours swapped
        ]
    words += ["".join(rng.choice("aeilnorstu") for _ in range(7)) for _ in range(1000)]
    assert [index.read_as(w) for w in words] == [_all_forms_reading(index, w) for w in words]
