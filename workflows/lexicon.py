"""simplemma's dictionaries for the classifier's words (workflows/text.py): lemmas, and whether
a language knows a word, in English and the other languages customers write in.

simplemma ships each language as an lzma-compressed pickle that it unpacks into a dict on first
use: 0.2-1.4 s and 20-110 MB a language, about 3.5 s and 330 MB for the six the classifier reads.
The first ticket with a typo paid that (a typo is checked against the other languages' words),
in `serve`'s decider, in each worker and in each CLI command (`routing explain` with a typo took
4.6 s). simplemma's own marisa-trie backend (its `marisa-trie` extra) keeps each language as a
compact trie cached on disk: built once per machine and simplemma version (8-13 s for the six
on the project's machine), then loaded in milliseconds, 35 MB for all six. The tries hold the
same entries as the dicts, so every lemma is the same (tests/workflows/test_lexicon.py).

Where the cache cannot be written (a read-only home directory, an image baked with the cache, a
systemd unit's read-only cache directory), the tries already in it are read, and a language
without its trie there falls back to simplemma's dict: a trie built in memory unpacks that same
dict first and then builds the trie (8-13 s for the six against the dicts' 3.5 s), in every
process, as nothing keeps it; the dict costs least to start and is the faster to look up, for
more memory (20-110 MB a language against the trie's few). log_cache_unavailable names the
path and the languages that fell back, and says nothing when every trie was there.

A language is read (or built) once per process, even when two threads ask for it at once (the
start-up loader, load_in_background, and the decider with a typo): simplemma's lru_cache calls
the factory again for a key still being computed, so the factory takes a lock, on a miss only.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

from deskbridge.workflows.lazy_imports import import_simplemma_rules_lazily

# Before simplemma is first imported (below): the rules of the 17 languages the classifier
# never reads are not compiled (see lazy_imports).
import_simplemma_rules_lazily()

from simplemma import Lemmatizer  # noqa: E402
from simplemma.__metadata__ import __version__ as SIMPLEMMA_VERSION  # noqa: E402
from simplemma.strategies import DefaultStrategy, DictionaryLookupStrategy  # noqa: E402
from simplemma.strategies.dictionaries import DEFAULT_DICTIONARY_FACTORY  # noqa: E402
from simplemma.strategies.dictionaries.dictionary_factory import (  # noqa: E402
    SUPPORTED_LANGUAGES,
)
from simplemma.strategies.dictionaries.trie_dictionary_factory import (  # noqa: E402
    BytesTrie,
    TrieDictionaryFactory,
    TrieWrapDict,
)
from simplemma.utils import normalize_token  # noqa: E402

from deskbridge.config.logging import log_event  # noqa: E402

log = logging.getLogger("deskbridge.lexicon")

# The languages the classifier reads (workflows/text.py): English, and the other languages
# customers write in.
LANGUAGES = ("en", "de", "fr", "es", "it", "nl")


def default_cache_dir() -> Path:
    """Where the tries are kept: the user's cache directory (XDG_CACHE_HOME, else ~/.cache),
    one folder per simplemma version (a new version may ship new dictionaries)."""
    return Path(user_cache_dir("deskbridge")) / f"simplemma-{SIMPLEMMA_VERSION}"


class _CachedTries(TrieDictionaryFactory):
    """simplemma's trie factory, writing each trie to a temporary file renamed into place:
    several processes (gunicorn workers, test workers) may build the same language at once,
    and one must never load another's half-written file."""

    def __init__(self, cache_dir: Path, writable: bool = True):
        super().__init__(disk_cache_dir=str(cache_dir))
        self.cache_dir = cache_dir
        self.writable = writable
        # Every dictionary read or built, kept for the process (as the lru_cache keeps them):
        # a thread that waited for the lock finds here the one the other thread made.
        self._made: dict[str, Mapping[str, str]] = {}
        self._making = threading.Lock()

    def _get_dictionary_uncached(self, lang: str) -> Mapping[str, str]:
        """Called by get_dictionary's lru_cache on a miss only, so a word's lookup never takes
        the lock. The lru_cache does not hold back a second caller while the first computes
        the value: without the lock both would build the same trie (seconds of CPU each)."""
        with self._making:
            if lang not in self._made:
                self._made[lang] = self._read_or_build(lang)
            return self._made[lang]

    def _read_or_build(self, lang: str) -> Mapping[str, str]:
        if self.writable:
            return super()._get_dictionary_uncached(lang)
        if lang not in SUPPORTED_LANGUAGES:  # before its name makes a path
            raise ValueError(f"Unsupported language: {lang}")
        if has_trie(self.cache_dir, lang):
            try:
                return TrieWrapDict(BytesTrie().load(str(self.cache_dir / f"{lang}.dic")))
            except Exception as exc:  # simplemma's own reader would delete it: not here
                log_event(
                    log,
                    logging.WARNING,
                    "lexicon.trie_unreadable",
                    language=lang,
                    error=type(exc).__name__,
                )
        return DEFAULT_DICTIONARY_FACTORY.get_dictionary(lang)

    def _write_trie_to_disk(self, lang: str, trie: Any) -> None:
        handle, temporary = tempfile.mkstemp(prefix=f".{lang}.", dir=self.cache_dir)
        os.close(handle)
        try:
            trie.save(temporary)
            os.chmod(temporary, 0o644)  # mkstemp's 0600: readable by the service's other users
            os.replace(temporary, self.cache_dir / f"{lang}.dic")
        finally:
            Path(temporary).unlink(missing_ok=True)
        log_event(log, logging.DEBUG, "lexicon.cached", language=lang)


class Lexicon:
    """Lemmas and known words, as simplemma's module functions `lemmatize` and `is_known`
    answer them (its default strategy, not greedy), from one dictionary factory."""

    def __init__(
        self,
        factory: Any,
        unavailable_cache: Path | None = None,
        uncached: tuple[str, ...] = (),
    ):
        self._factory = factory
        # The cache directory that could not be written, when some languages had no trie
        # there (`uncached`: they use simplemma's dicts instead).
        self.unavailable_cache = unavailable_cache
        self.uncached = uncached
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


def has_trie(cache_dir: Path, language: str) -> bool:
    try:
        return (cache_dir / f"{language}.dic").is_file()
    except OSError:  # a directory that cannot be searched
        return False


def cache_writable(cache_dir: Path) -> bool:
    """Whether the tries can be written in `cache_dir` (made if missing)."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        return os.access(cache_dir, os.W_OK | os.X_OK)
    except OSError:
        return False


def build_lexicon(cache_dir: Path | None = None, languages: Iterable[str] = LANGUAGES) -> Lexicon:
    """Tries cached in `cache_dir` (default_cache_dir()). Where it cannot be written, the tries
    already there, and simplemma's dicts for those of `languages` without one (said by
    log_cache_unavailable, once logging is set up)."""
    cache_dir = cache_dir or default_cache_dir()
    if cache_writable(cache_dir):
        return Lexicon(_CachedTries(cache_dir))
    uncached = tuple(language for language in languages if not has_trie(cache_dir, language))
    return Lexicon(
        _CachedTries(cache_dir, writable=False),
        unavailable_cache=cache_dir if uncached else None,
        uncached=uncached,
    )


@lru_cache(maxsize=1)
def get_lexicon() -> Lexicon:
    """The process's lexicon, made on first use. The classifier's module-level phrase lemmas
    use it, so importing the classifier reads the English dictionary (as it always did) and,
    on a machine without the cache yet, builds and caches that one trie."""
    return build_lexicon()


def log_cache_unavailable(lexicon: Lexicon | None = None) -> None:
    """Warn, with the path and the languages, when some dictionaries could not be cached (and
    are unpacked in memory instead). Called by the entry points once their logging is set up:
    the lexicon is first made while the classifier is imported, before any handler exists."""
    lexicon = lexicon or get_lexicon()
    if lexicon.unavailable_cache is not None:
        log_event(
            log,
            logging.WARNING,
            "lexicon.cache_unavailable",
            path=str(lexicon.unavailable_cache),
            languages=",".join(lexicon.uncached),
        )


def load_in_background(lexicon: Lexicon, languages: Iterable[str] = LANGUAGES) -> threading.Thread:
    """Read these languages' dictionaries in a daemon thread (serve and worker, at start), not
    when the first ticket with a typo needs them; on a new machine their tries are built and
    cached first: seconds. Not joined at stop: it ends by itself, and a stop need not wait for
    a build. A language that fails is logged (`lexicon.load_failed`) and the next one read: the
    classifier asks for it again when it needs it."""
    thread = threading.Thread(
        target=_load_each,
        args=(lexicon, tuple(languages)),
        name="deskbridge-lexicon",
        daemon=True,
    )
    thread.start()
    return thread


def _load_each(lexicon: Lexicon, languages: tuple[str, ...]) -> None:
    for language in languages:
        try:
            lexicon.load([language])
        except Exception as exc:
            error = type(exc).__name__
            log_event(log, logging.ERROR, "lexicon.load_failed", language=language, error=error)
