"""The classifier's dictionaries (workflows/lexicon.py): simplemma's entries kept as tries
cached on disk give the same lemmas and known words as simplemma's own dicts, the cache is
written whole or not at all, a language is built once however many threads ask for it, and
an unwritable cache is read for the tries it has and falls back to the dicts for the others."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
import simplemma
from marisa_trie import BytesTrie
from simplemma.strategies.dictionaries.dictionary_factory import _load_dictionary_from_disk

from deskbridge.workflows import lexicon as lexicon_module
from deskbridge.workflows.lexicon import Lexicon, build_lexicon, log_cache_unavailable

# Inflected, unknown, hyphenated, accented and foreign words, and typos: the words the
# classifier asks about. English and French (the two small dictionaries: a test process does
# not unpack all six).
WORDS = [
    "arrived", "arrives", "boxes", "damaged", "wardrobes", "delivered", "refunds", "chairs",
    "scratched", "cushions", "arived", "damged", "recieved", "re-delivered", "colour", "sofa",
    "ikea", "x7-200", "Schrank", "envoyer", "renvoyer", "remboursement", "cassée", "livrés",
    "reçu", "meubles", "bancale", "stoelen", "Ärger", "naïve", "café",
]  # fmt: skip


@pytest.fixture(scope="module")
def tries(tmp_path_factory: pytest.TempPathFactory) -> Lexicon:
    return build_lexicon(tmp_path_factory.mktemp("lexicon"))


@pytest.mark.parametrize("language", ["en", "fr"])
def test_tries_answer_as_simplemma_does(tries: Lexicon, language: str):
    # Every 40th entry of the shipped dictionary, and the words above.
    entries = list(_load_dictionary_from_disk(language))[::40]
    words = [entry.decode() for entry in entries] + WORDS
    assert len(words) > 4000
    expected = [
        (simplemma.lemmatize(w, lang=language), simplemma.is_known(w, lang=language)) for w in words
    ]
    assert [(tries.lemmatize(w, language), tries.is_known(w, language)) for w in words] == (
        expected
    )
    assert tries.lemmatize("arrived", "en") == "arrive"
    assert tries.is_known("arived", "en") is False


def test_a_trie_is_built_once_and_then_read_from_the_cache(tmp_path: Path, monkeypatch):
    first = build_lexicon(tmp_path)
    assert first.unavailable_cache is None
    assert first.lemmatize("boxes", "en") == "box"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en.dic"]  # no temporary file left

    def no_build(self, lang):
        raise AssertionError(f"built {lang} again")

    monkeypatch.setattr(lexicon_module._CachedTries, "_build_trie", no_build)
    second = build_lexicon(tmp_path)
    assert second.lemmatize("boxes", "en") == "box"
    assert second.is_known("wardrobe", "en") is True


def test_the_cache_file_appears_only_when_whole(tmp_path: Path, monkeypatch):
    # Another process may read the cache while this one writes it: the trie is saved to a
    # temporary name and renamed, so `en.dic` never exists half-written.
    lexicon = build_lexicon(tmp_path)
    saved: list[tuple[str, bool]] = []
    real_write = lexicon_module._CachedTries._write_trie_to_disk

    def watch(self, lang, trie):
        real_save = trie.save

        class Watched:
            def save(self, path):
                saved.append((Path(path).name, (tmp_path / "en.dic").exists()))
                real_save(path)

        real_write(self, lang, Watched())

    monkeypatch.setattr(lexicon_module._CachedTries, "_write_trie_to_disk", watch)
    lexicon.load(["en"])
    assert len(saved) == 1
    name, target_existed = saved[0]
    assert name.startswith(".en.") and target_existed is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en.dic"]
    assert (tmp_path / "en.dic").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


def test_an_unwritable_cache_falls_back_to_simplemmas_dicts(tmp_path: Path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    lexicon = build_lexicon(blocker / "cache")
    assert lexicon.unavailable_cache == blocker / "cache"
    assert lexicon.lemmatize("boxes", "en") == "box"
    # Said once logging is set up (the entry points call this), not while importing.
    assert caplog.records == []
    with caplog.at_level(logging.WARNING, logger="deskbridge.lexicon"):
        log_cache_unavailable(lexicon)
        log_cache_unavailable(build_lexicon(tmp_path / "writable"))  # says nothing
    assert [(r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [
        (
            "lexicon.cache_unavailable",
            {"path": str(blocker / "cache"), "languages": "en,de,fr,es,it,nl"},
        )
    ]


def test_two_threads_asking_for_a_language_at_once_build_it_once(tmp_path: Path, monkeypatch):
    # The start-up loader and the decider (a ticket with a typo) may ask for a language at
    # once: simplemma's lru_cache lets both compute it; the second must wait for the first's.
    builds: list[str] = []
    building, release, built_again = threading.Event(), threading.Event(), threading.Event()

    def build(self, lang):
        builds.append(lang)
        if len(builds) == 1:
            building.set()
            release.wait(timeout=10)
        else:
            built_again.set()
        return BytesTrie([("boxes", b"crate")])  # made up: a real one takes a second or two

    monkeypatch.setattr(lexicon_module._CachedTries, "_build_trie", build)
    lexicon = build_lexicon(tmp_path)
    threads = [threading.Thread(target=lexicon.load, args=(["en"],)) for _ in range(2)]
    threads[0].start()
    assert building.wait(timeout=10)
    threads[1].start()
    built_again.wait(timeout=0.5)  # time for the second thread to build, were it not held
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert builds == ["en"]
    assert lexicon.lemmatize("boxes", "en") == "crate"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en.dic"]


@pytest.fixture
def read_only(monkeypatch):
    """A cache directory that cannot be written (the tests run as root, who may write a 0555
    one), where nothing may be built."""

    def no_build(self, lang):
        raise AssertionError(f"built {lang}")

    monkeypatch.setattr(lexicon_module, "cache_writable", lambda cache_dir: False)
    monkeypatch.setattr(lexicon_module._CachedTries, "_build_trie", no_build)


def save_made_up_trie(cache_dir: Path, language: str) -> None:
    # "boxes" reads "crate": the lemma tells the cached trie from simplemma's dict.
    BytesTrie([("boxes", b"crate")]).save(str(cache_dir / f"{language}.dic"))


def test_a_read_only_cache_with_every_trie_is_read_and_not_warned(
    tmp_path: Path, read_only, caplog
):
    # A read-only image baked with the cache, a systemd unit's read-only cache directory.
    for language in ("en", "fr"):
        save_made_up_trie(tmp_path, language)
    lexicon = build_lexicon(tmp_path, languages=["en", "fr"])
    assert (lexicon.unavailable_cache, lexicon.uncached) == (None, ())
    assert lexicon.lemmatize("boxes", "en") == "crate"
    assert lexicon.is_known("boxes", "fr") is True
    with caplog.at_level(logging.WARNING, logger="deskbridge.lexicon"):
        log_cache_unavailable(lexicon)
    assert caplog.records == []


def test_a_language_missing_from_a_read_only_cache_falls_back_to_its_dict(
    tmp_path: Path, read_only, caplog
):
    save_made_up_trie(tmp_path, "en")
    lexicon = build_lexicon(tmp_path, languages=["en", "fr"])
    assert (lexicon.unavailable_cache, lexicon.uncached) == (tmp_path, ("fr",))
    assert lexicon.lemmatize("boxes", "en") == "crate"
    assert lexicon.lemmatize("livrés", "fr") == simplemma.lemmatize("livrés", lang="fr")
    assert lexicon.is_known("meubles", "fr") is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en.dic"]  # nothing written
    with caplog.at_level(logging.WARNING, logger="deskbridge.lexicon"):
        log_cache_unavailable(lexicon)
    assert [(r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [
        ("lexicon.cache_unavailable", {"path": str(tmp_path), "languages": "fr"})
    ]


def test_an_unreadable_trie_in_a_read_only_cache_is_left_and_its_dict_read(
    tmp_path: Path, read_only, caplog
):
    (tmp_path / "en.dic").write_bytes(b"not a trie")
    lexicon = build_lexicon(tmp_path, languages=["en"])
    with caplog.at_level(logging.WARNING, logger="deskbridge.lexicon"):
        assert lexicon.lemmatize("boxes", "en") == "box"
    assert (tmp_path / "en.dic").read_bytes() == b"not a trie"  # simplemma's reader would delete it
    assert [(r.getMessage(), r.deskbridge_fields["language"]) for r in caplog.records] == [
        ("lexicon.trie_unreadable", "en")
    ]
