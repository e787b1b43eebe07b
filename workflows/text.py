"""Phrase matching for ticket text (pure): case and accent folding, light stemming so plurals
and inflections match ("arrives", "arrived" → "arriv"), word boundaries, and negation within a
clause ("not damaged, just late" does not mention damage)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Words that negate what follows them in the same clause.
NEGATORS = frozenset({"not", "no", "never", "without", "nothing", "nor", "neither", "none"})
NEGATION_WINDOW = 2

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
_SUFFIXES = ("ings", "ing", "ies", "ied", "ed", "es", "s", "e", "y")


def fold(text: str) -> str:
    """Lower-case, strip accents, normalise apostrophes and expand negative contractions."""
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A deliberately small stemmer: strips one common English suffix from longer words.
    Applied to both text and phrases, so only consistency matters, not linguistics."""
    if len(word) <= 3 or word in NEGATORS:
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=8192)  # subjects, descriptions and messages are seen again and again
def tokenize(text: str) -> tuple[tuple[str, ...], ...]:
    """Text → clauses → stemmed tokens."""
    clauses = _CLAUSE_BREAK.split(f" {fold(text)} ")
    return tuple(
        tuple(stem(w) for w in _WORD.findall(clause)) for clause in clauses if clause.strip()
    )


@lru_cache(maxsize=4096)
def compile_phrase(phrase: str) -> tuple[str, ...]:
    # Words only: a phrase is never split into clauses ("delivered but" keeps its "but").
    return tuple(stem(w) for w in _WORD.findall(fold(phrase)))


@dataclass(frozen=True)
class PhraseMatch:
    phrase: str
    tokens: int
    clause: int
    start: int

    def overlaps(self, other: PhraseMatch) -> bool:
        return self.clause == other.clause and (
            self.start < other.start + other.tokens and other.start < self.start + self.tokens
        )


class PhraseIndex:
    """Many phrases matched in one pass: phrases are indexed by their first token, so the text
    is scanned once instead of once per phrase."""

    def __init__(self, phrases: tuple[str, ...]):
        self.phrases = phrases
        self._by_first: dict[str, list[tuple[str, tuple[str, ...], bool]]] = {}
        for phrase in phrases:
            tokens = compile_phrase(phrase)
            if tokens:
                negative = any(t in NEGATORS for t in tokens)
                self._by_first.setdefault(tokens[0], []).append((phrase, tokens, negative))

    def find_all(self, clauses: tuple[tuple[str, ...], ...]) -> dict[str, PhraseMatch]:
        """The first occurrence of every phrase present, skipping occurrences negated within
        NEGATION_WINDOW words before them (unless the phrase itself is negative)."""
        found: dict[str, PhraseMatch] = {}
        for index, tokens in enumerate(clauses):
            for start, token in enumerate(tokens):
                candidates = self._by_first.get(token)
                if not candidates:
                    continue
                for phrase, wanted, negative in candidates:
                    if phrase in found:
                        continue
                    size = len(wanted)
                    if tuple(tokens[start : start + size]) != wanted:
                        continue
                    before = tokens[max(0, start - NEGATION_WINDOW) : start]
                    if not negative and any(t in NEGATORS for t in before):
                        continue
                    found[phrase] = PhraseMatch(phrase, size, index, start)
        return found


@lru_cache(maxsize=256)
def phrase_index(phrases: tuple[str, ...]) -> PhraseIndex:
    return PhraseIndex(phrases)
