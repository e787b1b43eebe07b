"""Phrase matching for ticket text (pure): case and accent folding, lemmas (simplemma's English
dictionary: "arrived", "arrives" → "arrive"; "boxes" → "box"), tolerance for one-letter typos
in longer words, word boundaries, and negation ("not damaged, just late" does not mention
damage)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

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
_CONTRACTIONS = (
    (re.compile(r"\b(can)'?t\b"), r"\1 not"),
    (re.compile(r"\bwon'?t\b"), "will not"),
    (re.compile(r"\b(\w+)n't\b"), r"\1 not"),
    # Without the apostrophe: "hasnt", "didnt", "isnt", "wasnt", "doesnt", "havent", "arent".
    (
        re.compile(r"\b(has|have|had|did|does|do|is|was|were|are|could|would|should)nt\b"),
        r"\1 not",
    ),
)
_CLAUSE_BREAK = re.compile(r"[.;:!?,()\[\]\n]+|\s(?:but|however|although|though)\s")
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case, strip accents, normalise apostrophes and expand negative contractions."""
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


@lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """The word's dictionary form (simplemma, English), folded; unknown words stay as they are.
    Applied to both text and phrases, so "arrived damaged" matches "arrives damaged"."""
    if len(word) <= 2 or word in NEGATORS or word.isdigit():
        return word
    if word in _LEMMA_EXCEPTIONS:
        return _LEMMA_EXCEPTIONS[word]
    return fold(simplemma.lemmatize(word, lang="en"))


@lru_cache(maxsize=65536)
def is_known_word(word: str) -> bool:
    return simplemma.is_known(word, lang="en")


@lru_cache(maxsize=8192)  # subjects, descriptions and messages are seen again and again
def tokenize(text: str) -> tuple[tuple[str, ...], ...]:
    """Text → clauses → lemmas."""
    clauses = _CLAUSE_BREAK.split(f" {fold(text)} ")
    return tuple(
        tuple(lemma(w) for w in _WORD.findall(clause)) for clause in clauses if clause.strip()
    )


@lru_cache(maxsize=4096)
def compile_phrase(phrase: str) -> tuple[str, ...]:
    # Words only: a phrase is never split into clauses ("delivered but" keeps its "but").
    return tuple(lemma(w) for w in _WORD.findall(fold(phrase)))


@dataclass(frozen=True)
class PhraseMatch:
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
        self._by_first: dict[str, list[tuple[str, str, tuple[str, ...], bool]]] = {}
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
                self._by_first.setdefault(tokens[0], []).append((group, phrase, tokens, negative))
                vocabulary.update(tokens)
                for word, word_lemma in zip(_WORD.findall(fold(phrase)), tokens, strict=True):
                    for form in (word, word_lemma):
                        if len(form) >= MIN_TYPO_LENGTH:
                            typo_targets.setdefault(form, word_lemma)
        self.vocabulary = frozenset(vocabulary)
        self._typo_targets = typo_targets
        self._typo_forms = sorted(typo_targets)
        self._read_as: dict[str, str] = {}

    def read_as(self, token: str) -> str:
        """The phrase word a text word stands for: itself, or the vocabulary word it is a typo
        of."""
        known = self._read_as.get(token)
        if known is not None:
            return known
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
        if len(self._read_as) < 65536:
            self._read_as[token] = reading
        return reading

    def scan(self, clauses: tuple[tuple[str, ...], ...]) -> list[PhraseMatch]:
        """Every occurrence of every phrase, negated or conditional ones included (marked)."""
        matches: list[PhraseMatch] = []
        by_first = self._by_first
        carried = False  # the previous clause opened with "if …"
        for index, raw in enumerate(clauses):
            tokens = [self.read_as(t) for t in raw]
            conditional_from = -1 if carried else _conditional_start(tokens)
            carried = conditional_from == 0 and len(tokens) > 2
            for start, token in enumerate(tokens):
                candidates = by_first.get(token)
                if not candidates:
                    continue
                for group, phrase, wanted, negative in candidates:
                    size = len(wanted)
                    if tuple(tokens[start : start + size]) != wanted:
                        continue
                    negator = None if negative else _negator(tokens, start)
                    corrected = tuple(
                        f"{raw[i]}→{tokens[i]}"
                        for i in range(start, start + size)
                        if raw[i] != tokens[i]
                    )
                    matches.append(
                        PhraseMatch(
                            phrase,
                            group,
                            size,
                            index,
                            start,
                            negator,
                            start > conditional_from,
                            corrected,
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
