"""Which modules may run compiled by mypyc, and the guard that keeps a stale build from
running.

The Python files are the source and the fallback: `make` compiles these modules into C
extensions beside them (tools/build_compiled.py) where a C compiler is there, and Python
imports an extension before a `.py` of the same name. The modules are built as one group
(mypyc calls between them directly), so they run all compiled or all from source: from
source when DESKBRIDGE_PURE=1, when they were never built, and when a source is newer than
the build (a developer's edit `make` has not compiled yet: the edit runs, not the old build).
The packages that hold them (workflows, store) call `choose_sources` before any is imported.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from types import ModuleType

# Paths from the package's root (the checkout), without ".py". The classifier's pure
# functions on strings, dicts and tuples (mypyc's best case) and the memo they keep results
# in; replay's ticket state, rules (risk, SLA, routing, on call, three responses,
# interactions), the loop that runs them and merges their decisions (rules/combine), their
# decisions and actions, business hours, the review's facts and the in-memory store. Not
# the modules tests patch (rules/__init__'s RULES, the decider's constants and methods) nor
# those mypyc refuses (lexicon.py's subclass of simplemma's factory; frozen.py's generated
# __init__) nor model.py: a compiled module's classes carry
# their annotations as bare classes (`dict`, not `dict[str, SlaClock]`), so pydantic would
# no longer validate what the ticket state's fields hold. actions.py loses nothing that
# matters: `params` is validated as a dict, its keys no longer checked to be strings (JSON's
# always are); its default is given as a value mypy does not type as a dict (compiled code
# checked the FieldInfo against that at import).
COMPILED = (
    "workflows/memo",
    "workflows/text",
    "workflows/classify",
    "workflows/state",
    "workflows/rules/risk",
    "store/memory",
    "workflows/rules/sla",
    "workflows/activity",
    "workflows/decision",
    "workflows/rules/three_responses",
    "workflows/rules/interactions",
    "workflows/business_hours",
    "workflows/rules/routing",
    "workflows/rules/oncall",
    "workflows/actions",
    "workflows/rules/combine",
)
# The group's shared library (the modules' code; each module's extension is a small shim).
SHARED_LIBRARY = "workflows/_mypyc__mypyc"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_built(root: str, names: Sequence[str] = (*COMPILED, SHARED_LIBRARY)) -> list[str]:
    """The extension files built under `root` for `names` (this Python's suffix only)."""
    suffix = EXTENSION_SUFFIXES[0]  # e.g. .cpython-311-x86_64-linux-gnu.so: what make builds
    return [path for name in names if os.path.exists(path := os.path.join(root, name + suffix))]


def judge_build(root: str, names: Sequence[str] = COMPILED) -> str:
    """ "absent" (nothing built), "current" (every module built after its source changed) or
    "stale" (a module missing from the build, or a source newer than it)."""
    built = find_built(root, (*names, SHARED_LIBRARY))
    if not built:
        return "absent"
    if len(built) < len(names) + 1:
        return "stale"
    oldest = min(os.stat(path).st_mtime_ns for path in built)
    newest = max(os.stat(os.path.join(root, name + ".py")).st_mtime_ns for name in names)
    return "current" if newest <= oldest else "stale"


class _SourceFinder:
    """Finds the compiled modules' `.py` files, ahead of the path finder that would take the
    extensions."""

    def __init__(self, root: str, names: Sequence[str]):
        self._paths = {
            "deskbridge." + name.replace("/", "."): os.path.join(root, name + ".py")
            for name in names
        }

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        source = self._paths.get(fullname)
        return None if source is None else importlib.util.spec_from_file_location(fullname, source)


_chosen: list[str] = []  # what the first call chose: every later call answers the same


def choose_sources(environ: Mapping[str, str] = os.environ) -> str:
    """Make the compiled modules load from source when they must (see the module's
    docstring): installs a finder on sys.meta_path then. Returns "compiled", "pure" or
    "stale" (from source, with a warning saying how to rebuild)."""
    if not _chosen:
        _chosen.append(_choose(environ))
    return _chosen[0]


def _choose(environ: Mapping[str, str]) -> str:
    if environ.get("DESKBRIDGE_PURE") == "1":
        state = "pure"
    else:
        state = judge_build(ROOT)
        if state == "current":
            return "compiled"
        if state == "absent":
            return "pure"  # nothing to shadow the sources
        warnings.warn(
            "deskbridge: a module compiled by mypyc (workflows/compiled.py) changed after the"
            " build: running the Python sources (`make .venv/.compiled` compiles them again)",
            RuntimeWarning,
            stacklevel=2,
        )
    sys.meta_path.insert(0, _SourceFinder(ROOT, COMPILED))
    return state
