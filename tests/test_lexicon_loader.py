"""serve's and worker's start-up reading of the classifier's dictionaries
(Runtime.start_background, workflows/lexicon.py's load_in_background): a daemon thread reads
the six languages; a language that fails is logged and the next one read, and nothing is
raised into start_background or out of the thread."""

from __future__ import annotations

import logging
import threading

from deskbridge import app as app_module
from deskbridge.app import create_runtime
from deskbridge.config.settings import Settings
from deskbridge.workflows.lexicon import Lexicon
from tests.conftest import TEST_SECRET

SIX = ["en", "de", "fr", "es", "it", "nl"]


class Factory:
    """Records who asks for which language; `de` fails, with a message that is not logged."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, threading.Thread]] = []
        self.done = threading.Event()

    def get_dictionary(self, lang: str) -> dict[str, str]:
        self.asked.append((lang, threading.current_thread()))
        if lang == "nl":
            self.done.set()
        if lang == "de":
            raise MemoryError("/home/jane.roe/.cache")
        return {}


def test_the_dictionaries_are_read_at_start_in_a_daemon_thread_that_logs_a_failure(
    sqlite_engine, rules, monkeypatch, caplog
):
    factory = Factory()
    monkeypatch.setattr(app_module, "get_lexicon", lambda: Lexicon(factory))
    escaped: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", escaped.append)
    for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    runtime = create_runtime(
        Settings(ZENDESK_WEBHOOK_SECRET=TEST_SECRET), rules, engine=sqlite_engine
    )
    with caplog.at_level(logging.DEBUG, logger="deskbridge.lexicon"):
        runtime.start_background()  # returns: the failure is not raised here
        try:
            assert factory.done.wait(timeout=10)
            factory.asked[-1][1].join(timeout=10)
        finally:
            runtime.stop_background()

    assert [language for language, _ in factory.asked] == SIX
    (loader,) = {thread for _, thread in factory.asked}
    assert (loader.name, loader.daemon, loader.is_alive()) == ("deskbridge-lexicon", True, False)
    assert escaped == []  # nothing left the thread: logged, not printed as a traceback
    assert [
        (r.levelname, r.getMessage(), r.deskbridge_fields)
        for r in caplog.records
        if r.name == "deskbridge.lexicon"
    ] == [("ERROR", "lexicon.load_failed", {"language": "de", "error": "MemoryError"})]
    assert "jane" not in caplog.text
