"""simplemma's rules and holidays' countries loaded one language or country at a time
(workflows/lazy_imports.py) give what the packages give imported as shipped. Each side runs in
a fresh interpreter: this test process may have imported either package already."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from deskbridge.workflows.lazy_imports import read_rule_functions

RULES_PROBE = """
import json, sys
{setup}
from simplemma.strategies.defaultrules import RULE_FUNCTIONS
from simplemma.strategies.rules import RulesStrategy
rules = RulesStrategy()
words = ["Rückerstattungen", "devoluciones", "terugbetalingen", "organizations", "kissoille"]
print(json.dumps({{
    "table": {{lang: [f.__module__, f.__qualname__] for lang, f in RULE_FUNCTIONS.items()}},
    "lemmas": {{lang: [rules.get_lemma(w, lang) for w in words] for lang in RULE_FUNCTIONS}},
    "none": rules.get_lemma("boxes", "fr"),
    "loaded": sorted(m for m in sys.modules if m.startswith("simplemma.strategies.defaultrules.")),
}}))
"""

COUNTRIES_PROBE = """
import json, sys
{setup}
import holidays
import holidays.countries as countries
from holidays.registry import COUNTRIES
names = sorted(name for names in COUNTRIES.values() for name in names)
found = {{name: getattr(countries, name) for name in names}}
print(json.dumps({{
    "classes": {{name: [c.__module__, c.__qualname__] for name, c in found.items()}},
    "gb": sorted(str(d) for d in holidays.country_holidays("GB", subdiv="ENG", years=2026)),
    "fr": sorted(str(d) for d in holidays.country_holidays("GP", years=2026)),
}}))
"""

LAZY_RULES = (
    "from deskbridge.workflows.lazy_imports import import_simplemma_rules_lazily\n"
    "import_simplemma_rules_lazily()"
)
LAZY_COUNTRIES = (
    "from deskbridge.workflows.lazy_imports import import_holiday_countries_lazily\n"
    "import_holiday_countries_lazily()"
)


def _probe(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout)


def test_simplemma_rules_loaded_by_language_are_the_packages_own():
    shipped = _probe(RULES_PROBE.format(setup=""))
    lazy = _probe(RULES_PROBE.format(setup=LAZY_RULES))
    assert lazy["table"] == shipped["table"]
    assert lazy["lemmas"] == shipped["lemmas"]
    assert lazy["none"] is shipped["none"] is None
    # Asked for every language, every language's module is imported, as shipped.
    assert lazy["loaded"] == shipped["loaded"]


def test_simplemma_rules_unasked_are_not_imported():
    code = (
        f"{LAZY_RULES}\n"
        "import sys\n"
        "from simplemma.strategies.rules import RulesStrategy\n"
        "print(RulesStrategy().get_lemma('Rückerstattungen', 'de'))\n"
        "rules = 'simplemma.strategies.defaultrules.'\n"
        "print(sorted(m for m in sys.modules if m.startswith(rules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lemma, loaded = done.stdout.splitlines()
    assert lemma == "Rückerstattung"
    # German's rules, none of the 20 other languages'.
    assert loaded == "['simplemma.strategies.defaultrules.de']"


def test_holiday_countries_loaded_one_by_one_are_the_packages_own():
    shipped = _probe(COUNTRIES_PROBE.format(setup=""))
    lazy = _probe(COUNTRIES_PROBE.format(setup=LAZY_COUNTRIES))
    assert lazy == shipped
    assert len(lazy["classes"]) > 500  # every country's class and codes


@pytest.mark.parametrize(
    "change",
    ["del registry.COUNTRIES", "registry.COUNTRIES = {'united_kingdom': 1}"],
)
def test_holidays_of_another_layout_are_imported_as_shipped(change):
    # A registry without the countries' table as this reads it (pyproject asks holidays>=0.50
    # only): a calendar is still made, not ImportError or TypeError at every start.
    code = (
        f"import holidays.registry as registry\n{change}\n"
        "from deskbridge.workflows.lazy_imports import country_holidays\n"
        "print(sorted(str(d) for d in country_holidays('GB', subdiv='ENG', years=2026))[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "2026-01-01\n"), done.stderr


@pytest.mark.parametrize(
    "source, problem",
    [
        ("RULES = {}", "RULE_FUNCTIONS not found"),
        ("RULE_FUNCTIONS = dict(en=apply_en)", "not a dict literal"),
        ("RULE_FUNCTIONS = {'en': lambda token: None}", "something else"),
    ],
)
def test_a_rules_table_of_another_shape_is_refused(source, problem):
    # import_simplemma_rules_lazily then leaves simplemma to import as shipped.
    with pytest.raises(LookupError, match=problem):
        read_rule_functions(source)


def test_the_rules_table_is_read_with_its_modules():
    source = (
        "from collections.abc import Callable\n"
        "from .en import apply_en\n"
        "from .is_ import apply_is\n"
        "RULE_FUNCTIONS: dict[str, Callable] = {'en': apply_en, 'is': apply_is}\n"
    )
    assert read_rule_functions(source) == {"en": ("en", "apply_en"), "is": ("is_", "apply_is")}
