"""simplemma's dictionaries for the classifier's words (workflows/text.py): lemmas, and whether
a language knows a word, in English and the other languages customers write in.

simplemma ships each language as an lzma-compressed pickle that it unpacks into a dict on first
use: 0.2-1.4 s and 20-110 MB a language, about 3.5 s and 330 MB for the six the classifier reads.
The first ticket with a typo paid that (a typo is checked against the other languages' words),
in `serve`'s decider, in each worker and in each CLI command (`routing explain` with a typo took
4.6 s). simplemma's own marisa-trie backend (its `marisa-trie` extra) keeps each language as a
compact trie cached on disk: built once per machine and simplemma version (about 8 s for the
six), then loaded in milliseconds, 35 MB for all six. The tries hold the same entries as the
dicts, so every lemma is the same (tests/workflows/test_lexicon.py).

Where the cache cannot be written (a read-only home directory), simplemma's dicts, as before:
a trie built in memory and not kept would cost more than the dict it replaces.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir
from simplemma import Lemmatizer
from simplemma.__metadata__ import __version__ as SIMPLEMMA_VERSION
from simplemma.strategies import DefaultStrategy, DictionaryLookupStrategy
from simplemma.strategies.dictionaries import DEFAULT_DICTIONARY_FACTORY
from simplemma.strategies.dictionaries.trie_dictionary_factory import TrieDictionaryFactory
from simplemma.utils import normalize_token

from deskbridge.config.logging import log_event

log = logging.getLogger("deskbridge.lexicon")


def default_cache_dir() -> Path:
    """Where the tries are kept: the user's cache directory (XDG_CACHE_HOME, else ~/.cache),
    one folder per simplemma version (a new version may ship new dictionaries)."""
    return Path(user_cache_dir("deskbridge")) / f"simplemma-{SIMPLEMMA_VERSION}"


class _CachedTries(TrieDictionaryFactory):
    """simplemma's trie factory, writing each trie to a temporary file renamed into place:
    several processes (gunicorn workers, test workers) may build the same language at once,
    and one must never load another's half-written file."""

    def __init__(self, cache_dir: Path):
        super().__init__(disk_cache_dir=str(cache_dir))
        self.cache_dir = cache_dir

    def _write_trie_to_disk(self, lang: str, trie: Any) -> None:
        handle, temporary = tempfile.mkstemp(prefix=f".{lang}.", dir=self.cache_dir)
        os.close(handle)
        try:
            trie.save(temporary)
            os.replace(temporary, self.cache_dir / f"{lang}.dic")
        finally:
            Path(temporary).unlink(missing_ok=True)
        log_event(log, logging.INFO, "lexicon.cached", language=lang)


def build_dictionary_factory(cache_dir: Path | None = None) -> Any:
    """Tries cached in `cache_dir` (default_cache_dir()) when it can be written, else
    simplemma's in-memory dicts."""
    cache_dir = cache_dir or default_cache_dir()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        writable = os.access(cache_dir, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if not writable:
        log_event(log, logging.WARNING, "lexicon.cache_unavailable", path=str(cache_dir))
        return DEFAULT_DICTIONARY_FACTORY
    return _CachedTries(cache_dir)


class Lexicon:
    """Lemmas and known words, as simplemma's module functions `lemmatize` and `is_known`
    answer them (its default strategy, not greedy), from one dictionary factory."""

    def __init__(self, factory: Any):
        self._factory = factory
        self._lemmatizer = Lemmatizer(
            lemmatization_strategy=DefaultStrategy(dictionary_factory=factory)
        )
        self._lookup = DictionaryLookupStrategy(factory)

    def lemmatize(self, word: str, language: str) -> str:
        return self._lemmatizer.lemmatize(word, language)

    def is_known(self, word: str, language: str) -> bool:
        return self._lookup.get_lemma(normalize_token(word), language) is not None

    def load(self, languages: Iterable[str]) -> None:
        """Read these languages' dictionaries now (building their tries if not cached yet),
        not when the first ticket with a typo needs them."""
        for language in languages:
            self._factory.get_dictionary(language)


@lru_cache(maxsize=1)
def get_lexicon() -> Lexicon:
    """The process's lexicon, made on first use (importing the classifier reads no files)."""
    return Lexicon(build_dictionary_factory())
