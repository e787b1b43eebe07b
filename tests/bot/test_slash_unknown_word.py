"""`/deskbridge` with a word that is none of its commands answers the help, as before, saying
first which word was not understood: a lead typing `/deskbridge tema` got the help alone and
could not tell a typo from a command that answered nothing."""

from __future__ import annotations

import pytest

from deskbridge.app import create_runtime
from deskbridge.bot.blocks import build_help
from deskbridge.bot.listeners.commands import answer_command
from deskbridge.config.settings import Settings


@pytest.fixture
def runtime(sqlite_engine, rules):
    return create_runtime(Settings(), rules, engine=sqlite_engine)


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("tema", "`tema` is not a deskbridge command.\n"),
        ("Tema today", "`Tema` is not a deskbridge command.\n"),
        ("<!channel>", "`&lt;!channel&gt;` is not a deskbridge command.\n"),
        ("`me`", "`'me'` is not a deskbridge command.\n"),
        ("x" * 60, f"`{'x' * 39}…` is not a deskbridge command.\n"),
    ],
)
def test_an_unknown_word_is_named_before_the_help(runtime, typed, said):
    answer = answer_command(runtime, "U02SAMWL01", typed)

    assert answer["text"] == said + build_help()["text"]
    assert answer["blocks"][0]["text"]["text"] == answer["text"]
    assert answer["response_type"] == "ephemeral"


@pytest.mark.parametrize("typed", ["", "  ", "help", "HELP"])
def test_help_or_nothing_is_the_help_alone(runtime, typed):
    assert answer_command(runtime, "U02SAMWL01", typed) == build_help()
