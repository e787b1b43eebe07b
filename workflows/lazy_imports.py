"""Two libraries whose packages import every language or country they know, loaded so that a
process pays only for the ones it uses.

simplemma's package imports its suffix rules for all 21 languages that have any, compiling
some 370 regular expressions (97 for Finnish alone) at import: about 0.23 G instructions, a
tenth of `replay`'s start, where the classifier reads six languages and four of them have
rules. `holidays`' `country_holidays` already finds a country lazily (`EntityLoader`), but the
module it imports, `holidays.countries.<name>`, is in a package whose `__init__` imports all
250 countries first: another 0.25 G for one calendar.

Each package is put in `sys.modules` as what its `__init__` exposes, its submodules imported
on first use, from the package's own table: simplemma's `RULE_FUNCTIONS` as its `__init__`
writes it (read, not run), holidays' registry of countries (`holidays.registry.COUNTRIES`, the
list its `EntityLoader` reads). The same functions and classes come out, from the same files:
tests/workflows/test_lazy_imports.py compares them with the packages imported as shipped. A
package already imported (another library, a test) is left as it is.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

SIMPLEMMA_RULES = "simplemma.strategies.defaultrules"
HOLIDAY_COUNTRIES = "holidays.countries"
# serve's threads may make a calendar at once: one of them installs the package.
_INSTALLING = threading.Lock()


class _RulesByLanguage(dict):
    """simplemma's RULE_FUNCTIONS (language → its rules function), each language's module
    imported when the language is first asked for. RulesStrategy reads it by `.get(lang)`."""

    def __init__(self, package: str, names: dict[str, tuple[str, str]]):
        super().__init__()
        self._package = package
        # language → (module, function), as the package's __init__ imports them
        self._names = names

    def __missing__(self, language: str) -> Callable[[str], str | None]:
        module, function = self._names[language]  # KeyError: a language without rules
        found = getattr(importlib.import_module(f"{self._package}.{module}"), function)
        self[language] = found
        return found

    def get(self, language: str, default: Any = None) -> Any:
        try:
            return self[language]
        except KeyError:
            return default

    def __contains__(self, language: object) -> bool:
        return language in self._names

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def keys(self):
        return self._names.keys()

    def items(self):
        return [(language, self[language]) for language in self._names]

    def values(self):
        return [self[language] for language in self._names]


def read_rule_functions(init_source: str) -> dict[str, tuple[str, str]]:
    """language → (module, function) from simplemma's defaultrules/__init__.py: its
    `from .cs import apply_cs` lines and its RULE_FUNCTIONS dict of them."""
    tree = ast.parse(init_source)
    modules = {
        alias.asname or alias.name: node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        for alias in node.names
    }
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "RULE_FUNCTIONS":
            table = node.value
            break
    else:
        raise LookupError("RULE_FUNCTIONS not found")
    if not isinstance(table, ast.Dict):
        raise LookupError("RULE_FUNCTIONS is not a dict literal")
    rules = {}
    for key, value in zip(table.keys, table.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(value, ast.Name)):
            raise LookupError("RULE_FUNCTIONS holds something else than language: function")
        rules[key.value] = (modules[value.id], value.id)
    return rules


def _unexecuted_package(name: str, folder: Path) -> ModuleType:
    """The package `name` in `folder` as a module object with its path set (so its submodules
    import), its `__init__` not run."""
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None:
        raise ImportError(name)
    return importlib.util.module_from_spec(spec)


def import_simplemma_rules_lazily() -> None:
    """Before simplemma is imported: its rules package, each language's module imported
    when a word of that language is first lemmatized by rule. Without effect once simplemma is
    imported, or where its layout is not the one this reads (then imported as shipped)."""
    if "simplemma" in sys.modules or SIMPLEMMA_RULES in sys.modules:
        return
    spec = importlib.util.find_spec("simplemma")  # finds it, imports nothing
    if spec is None or not spec.submodule_search_locations:
        return
    folder = Path(spec.submodule_search_locations[0]) / "strategies" / "defaultrules"
    try:
        names = read_rule_functions((folder / "__init__.py").read_text(encoding="utf-8"))
        package = _unexecuted_package(SIMPLEMMA_RULES, folder)
    except (OSError, SyntaxError, LookupError, KeyError, ValueError, ImportError):
        return
    package.RULE_FUNCTIONS = _RulesByLanguage(SIMPLEMMA_RULES, names)
    sys.modules[SIMPLEMMA_RULES] = package


def _country_attribute(entities: Iterable[tuple[str, tuple[str, ...]]]):
    """The lazy package's `__getattr__`: a country's class or code (`UnitedKingdom`, `GB`,
    `GBR`, `UK`), its module imported on first use, as the package's `__init__` exports them."""
    modules = {name: module for module, names in entities for name in names}

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {HOLIDAY_COUNTRIES!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{HOLIDAY_COUNTRIES}.{module}"), name)

    return __getattr__, sorted(modules)


def import_holiday_countries_lazily() -> None:
    """`holidays.countries` as a package whose countries are imported one by one, when named
    (see the module's doc). Without effect once it is imported."""
    if HOLIDAY_COUNTRIES in sys.modules:
        return
    with _INSTALLING:
        if HOLIDAY_COUNTRIES not in sys.modules:
            _install_holiday_countries()


def _install_holiday_countries() -> None:
    import holidays  # its __init__ does not import the countries

    try:
        from holidays.registry import COUNTRIES

        attribute, names = _country_attribute(COUNTRIES.items())
    except (ImportError, AttributeError, TypeError, ValueError):
        # Another layout (holidays>=0.50 is all pyproject asks): its own country_holidays
        # imports the package as shipped, rather than every calendar failing to load.
        return
    spec = importlib.util.find_spec(HOLIDAY_COUNTRIES)
    if spec is None or not spec.submodule_search_locations or spec.origin is None:
        return
    package = _unexecuted_package(HOLIDAY_COUNTRIES, Path(spec.submodule_search_locations[0]))
    package.__getattr__, package.__all__ = attribute, names
    sys.modules[HOLIDAY_COUNTRIES] = package
    holidays.countries = package


def country_holidays(country: str, subdiv: str | None = None, years: Any = None) -> Any:
    """holidays.country_holidays, importing the one country's module."""
    import_holiday_countries_lazily()
    import holidays

    return holidays.country_holidays(country, subdiv=subdiv, years=years)
