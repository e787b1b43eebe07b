"""Phrase matching for ticket text (pure): case and accent folding, lemmas (simplemma's English
dictionary: "arrived", "arrives" → "arrive"; "boxes" → "box"), tolerance for one-letter typos
in longer words, word boundaries, and negation ("not damaged, just late" does not mention
damage)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

import simplemma
from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

# Words that negate what follows them, up to NEGATION_WINDOW words on and not across a
# SCOPE_BREAK word ("it has not come and I want a refund" still asks for a refund).
NEGATORS = frozenset({"not", "no", "never", "without", "nothing", "nor", "neither", "none"})
NEGATION_WINDOW = 4
SCOPE_BREAKS = frozenset({"and", "so", "just", "then", "because", "instead", "only"})
# Words that make what follows hypothetical ("if it is not here by Friday I want a refund"
# does not ask for a refund yet), in their clause and, when they open it, in the next one
# ("if it is lost, send a replacement"); not when they make a request polite ("if you could").
CONDITIONALS = frozenset({"if", "unless", "otherwise", "whether"})
POLITE_AFTER_CONDITIONAL = frozenset({"you", "possible", "we", "poss"})
# Typos are corrected only in words at least this long: short words have too many neighbours.
MIN_TYPO_LENGTH = 5

# Lemmas that would merge words a ticket means differently ("later" is not "late", "worse"
# is not "wrong"); the dictionary is otherwise taken as it is.
_LEMMA_EXCEPTIONS = {
    "later": "later",
    "latest": "latest",
    "worse": "worse",
    "worst": "worst",
    "better": "better",
    "best": "best",
    "gone": "go",
    "suing": "suing",  # not the name Sue
}

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
# Negative contractions: "can't", "won't", then any "n't"; without the apostrophe ("hasnt",
# "didnt", "cant") they are expanded word by word in tokenize.
_CONTRACTIONS = (("can't", "can not"), ("won't", "will not"), ("n't", " not"))
_BARE_NEGATIVES = {
    f"{verb}nt": (verb, "not")
    for verb in (
        "has",
        "have",
        "had",
        "did",
        "does",
        "do",
        "is",
        "was",
        "were",
        "are",
        "could",
        "would",
        "should",
        "ca",
        "wo",
    )
}
_BARE_NEGATIVES |= {"cant": ("can", "not"), "wont": ("will", "not")}
# Clause breaks: punctuation, line breaks and contrast words ("not damaged, but late").
_BREAK = "\n"
_PUNCTUATION_BREAKS = str.maketrans({c: _BREAK for c in ".;:!?,()[]"})
_CONTRAST = (" but ", " however ", " although ", " though ")
# Everything that is not a letter or a digit separates words.
_NOT_WORD = str.maketrans(
    {chr(c): " " for c in range(128) if not chr(c).isalnum() and chr(c) != _BREAK}
)
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case, strip accents, normalise apostrophes and expand negative contractions."""
    text = text.translate(_APOSTROPHES)
    if not text.isascii():  # most tickets are plain ASCII: skip the per-character pass
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower()
    if "'t" in text:
        for short, long in _CONTRACTIONS:
            text = text.replace(short, long)
    return text


def _words(clause: str) -> list[str]:
    # Outside ASCII (£, —, ß…) the slower regex keeps only letters and digits.
    words = clause.translate(_NOT_WORD).split() if clause.isascii() else _WORD.findall(clause)
    if not _BARE_NEGATIVES.keys().isdisjoint(words):
        words = [part for w in words for part in _BARE_NEGATIVES.get(w, (w,))]
    return words


def lemma(word: str) -> str:
    """The word's dictionary form (simplemma, English), folded; unknown words stay as they are.
    Applied to both text and phrases, so "arrived damaged" matches "arrives damaged"."""
    return _LEMMAS[word]


def _lemmatize(word: str) -> str:
    if len(word) <= 2 or word in NEGATORS or word.isdigit():
        return word
    if word in _LEMMA_EXCEPTIONS:
        return _LEMMA_EXCEPTIONS[word]
    return fold(simplemma.lemmatize(word, lang="en"))


class _Memo(dict):
    """word → what `compute` makes of it, worked out once per word (bounded: names and order
    numbers are endless). A dict lookup, cheaper than a cached function call per word."""

    def __init__(self, compute: Callable[[str], str], size: int = 65536):
        super().__init__()
        self._compute = compute
        self._size = size

    def __missing__(self, word: str) -> str:
        value = self._compute(word)
        if len(self) < self._size:
            self[word] = value
        return value


_LEMMAS = _Memo(_lemmatize)


@lru_cache(maxsize=65536)
def is_known_word(word: str) -> bool:
    return simplemma.is_known(word, lang="en")


@lru_cache(maxsize=8192)  # subjects, descriptions and messages are seen again and again
def tokenize(text: str) -> tuple[tuple[str, ...], ...]:
    """Text → clauses → lemmas."""
    text = f" {fold(text)} ".translate(_PUNCTUATION_BREAKS)
    for word in _CONTRAST:
        if word in text:
            text = text.replace(word, _BREAK)
    clauses = (_words(clause) for clause in text.split(_BREAK))
    lemmas = _LEMMAS
    return tuple(tuple([lemmas[w] for w in words]) for words in clauses if words)


@lru_cache(maxsize=4096)
def compile_phrase(phrase: str) -> tuple[str, ...]:
    # Words only: a phrase is never split into clauses ("delivered but" keeps its "but").
    return tuple(lemma(w) for w in _words(fold(phrase)))


class PhraseMatch(NamedTuple):  # a tuple: made by the thousand per second
    phrase: str
    group: str  # what the phrase belongs to (a category, a signal…), as the caller indexed it
    tokens: int
    clause: int
    start: int
    negated_by: str | None = None  # the negating word when the match does not count
    conditional: bool = False  # inside an "if …" clause
    corrected: tuple[str, ...] = ()  # typos read as a phrase word: ("recieved→receive",)

    def overlaps(self, other: PhraseMatch) -> bool:
        return self.clause == other.clause and (
            self.start < other.start + other.tokens and other.start < self.start + self.tokens
        )


class PhraseIndex:
    """Many phrases matched in one pass: phrases are indexed by their first lemma, so the text
    is scanned once instead of once per phrase. Words of the text that are not English words
    and are one edit (insertion, deletion, substitution or swap of neighbours) away from a
    phrase word of MIN_TYPO_LENGTH letters or more are read as that word."""

    def __init__(self, groups: tuple[tuple[str, tuple[str, ...]], ...]):
        self.groups = groups
        # One-word phrases by their word, longer ones by their first two words: a text word
        # then meets only the few phrases that can start there.
        self._single: dict[str, list[tuple[str, str, tuple[str, ...], bool]]] = {}
        self._by_pair: dict[tuple[str, str], list[tuple[str, str, tuple[str, ...], bool]]] = {}
        vocabulary: set[str] = set()
        typo_targets: dict[str, str] = {}  # a phrase word as written or as its lemma → lemma
        seen: set[tuple[str, tuple[str, ...]]] = set()
        for group, phrases in groups:
            for phrase in phrases:
                tokens = compile_phrase(phrase)
                if not tokens or (group, tokens) in seen:
                    continue  # "refunded" after "refund": the same lemmas, found once
                seen.add((group, tokens))
                negative = any(t in NEGATORS for t in tokens)
                entry = (group, phrase, tokens, negative)
                if len(tokens) == 1:
                    self._single.setdefault(tokens[0], []).append(entry)
                else:
                    self._by_pair.setdefault(tokens[:2], []).append(entry)
                vocabulary.update(tokens)
                for word, word_lemma in zip(_words(fold(phrase)), tokens, strict=True):
                    for form in (word, word_lemma):
                        if len(form) >= MIN_TYPO_LENGTH:
                            typo_targets.setdefault(form, word_lemma)
        self.vocabulary = frozenset(vocabulary)
        self._typo_targets = typo_targets
        self._typo_forms = sorted(typo_targets)
        self._readings = _Memo(self.read_as)

    def read_as(self, token: str) -> str:
        """The phrase word a text word stands for: itself, or the vocabulary word it is a typo
        of."""
        reading = token
        if (
            token not in self.vocabulary
            and len(token) >= MIN_TYPO_LENGTH
            and token.isalpha()
            and not is_known_word(token)
        ):
            best = extractOne(token, self._typo_forms, scorer=OSA.distance, score_cutoff=1)
            if best is not None:
                reading = self._typo_targets[best[0]]
        return reading

    def scan(self, clauses: tuple[tuple[str, ...], ...]) -> list[PhraseMatch]:
        """Every occurrence of every phrase, negated or conditional ones included (marked)."""
        matches: list[PhraseMatch] = []
        single, by_pair, readings = self._single, self._by_pair, self._readings
        carried = False  # the previous clause opened with "if …"
        for index, raw in enumerate(clauses):
            tokens = [readings[t] for t in raw]
            conditional = not CONDITIONALS.isdisjoint(tokens)
            conditional_from = -1 if carried else (None if conditional else len(tokens))
            carried = (
                conditional
                and len(tokens) > 2
                and tokens[0] in CONDITIONALS
                and _conditional_start(tokens) == 0
            )
            # Where phrases start, found with C-level loops: one-word phrases by the word,
            # longer ones by the word and the next.
            starts = [(i, single[t]) for i, t in enumerate(tokens) if t in single]
            starts += [(i, by_pair[p]) for i, p in enumerate(pairwise(tokens)) if p in by_pair]
            if not starts:
                continue
            corrected = tuple(tokens) != raw
            for start, found in starts:
                for group, phrase, wanted, negative in found:
                    size = len(wanted)
                    if size > 2 and tuple(tokens[start : start + size]) != wanted:
                        continue
                    if conditional_from is None:
                        conditional_from = _conditional_start(tokens)
                    matches.append(
                        PhraseMatch(
                            phrase,
                            group,
                            size,
                            index,
                            start,
                            None if negative else _negator(tokens, start),
                            start > conditional_from,
                            tuple(
                                f"{raw[i]}→{tokens[i]}"
                                for i in range(start, start + size)
                                if raw[i] != tokens[i]
                            )
                            if corrected
                            else (),
                        )
                    )
        return matches

    def find_all(self, clauses: tuple[tuple[str, ...], ...]) -> dict[str, PhraseMatch]:
        """The first occurrence of every phrase that counts (not negated)."""
        found: dict[str, PhraseMatch] = {}
        for match in self.scan(clauses):
            if match.negated_by is None and match.phrase not in found:
                found[match.phrase] = match
        return found


def _conditional_start(tokens: list[str]) -> int:
    """Where a hypothetical starts in the clause (its length when it has none)."""
    for i, token in enumerate(tokens):
        if token in CONDITIONALS and (
            i + 1 == len(tokens) or tokens[i + 1] not in POLITE_AFTER_CONDITIONAL
        ):
            return i
    return len(tokens)


def _negator(tokens: list[str], start: int) -> str | None:
    for token in reversed(tokens[max(0, start - NEGATION_WINDOW) : start]):
        if token in SCOPE_BREAKS:
            return None
        if token in NEGATORS:
            return token
    return None


@lru_cache(maxsize=256)
def phrase_index(phrases: tuple[str, ...]) -> PhraseIndex:
    """One list of phrases (its group is the empty string)."""
    return PhraseIndex((("", phrases),))


@lru_cache(maxsize=64)
def grouped_index(groups: tuple[tuple[str, tuple[str, ...]], ...]) -> PhraseIndex:
    """Several named lists of phrases matched in one pass."""
    return PhraseIndex(groups)
