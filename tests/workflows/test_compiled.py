"""The modules compiled by mypyc (workflows/compiled.py, tools/build_compiled.py): built where
they can be, never run stale, and classifying exactly as their Python source (replay's
identity is in the replay tests, which run on whichever is built)."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest
import yaml

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows import LOADED_AS, classify, compiled, text

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).with_name("data")
# The blind sets (routing_heldout_19 on) are never read outside the lead's evaluation.
BLIND = re.compile(r"routing_heldout_(19|[2-9]\d|\d{3,})\.yaml")


def _build_tool():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import build_compiled
    finally:
        sys.path.remove(str(ROOT / "tools"))
    return build_compiled


def _write(folder: Path, name: str, mtime_ns: int) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_build_older_than_a_source_or_missing_a_module_is_stale(tmp_path: Path) -> None:
    suffix = EXTENSION_SUFFIXES[0]
    names = ("workflows/text", "store/memory")
    for name in names:
        _write(tmp_path, f"{name}.py", 1_000)
    assert compiled.judge_build(str(tmp_path), names) == "absent"
    _write(tmp_path, f"{compiled.SHARED_LIBRARY}{suffix}", 2_000)
    _write(tmp_path, f"workflows/text{suffix}", 2_000)
    assert compiled.judge_build(str(tmp_path), names) == "stale"  # memory was not built
    _write(tmp_path, f"store/memory{suffix}", 2_000)
    assert compiled.judge_build(str(tmp_path), names) == "current"
    _write(tmp_path, "store/memory.py", 3_000)  # edited after the build
    assert compiled.judge_build(str(tmp_path), names) == "stale"


# What mypyc printed in a build of every compiled module (two of its nineteen notes), with
# another warning and an error of the kind it prints.
MYPYC_NOTES = [
    "deskbridge/store/memory.py:76: warning: Unsupported default attribute value",
    "deskbridge/workflows/text.py:159: warning: Treating generator comprehension as list",
]
MYPYC_OTHERS = [
    "deskbridge/workflows/state.py:12: warning: Some other warning",
    'deskbridge/workflows/state.py:40: error: Name "x" is not defined  [name-defined]',
]


@pytest.fixture
def build_tool(tmp_path, monkeypatch):
    """tools/build_compiled.py with mypyc and setuptools' setup replaced (nothing compiled),
    in a build folder of the test's, never touching the checkout's extensions."""
    mypyc_build = pytest.importorskip("mypyc.build")
    import setuptools

    tool = _build_tool()
    monkeypatch.setattr(tool, "BUILD", tmp_path / "build")
    monkeypatch.setattr(tool, "remove_built", lambda: [])
    monkeypatch.setattr(tool, "find_compiler", lambda: None)
    monkeypatch.setattr(tool.compiled, "find_built", lambda *args: [])
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: None)

    def use(mypycify):
        monkeypatch.setattr(mypyc_build, "mypycify", mypycify)
        return tool

    return use


def _mypycify_printing(lines: list[str], exit_code: int | None = None):
    def mypycify(*args, **kwargs):
        print("\n".join(lines))
        if exit_code is not None:
            sys.exit(exit_code)  # as mypyc does after an error
        return []

    return mypycify


@pytest.mark.parametrize(
    ("options", "out", "said"),
    [
        ([], [], " (2 of mypyc's notes left out, none a problem: --verbose shows them)"),
        (["--verbose"], MYPYC_NOTES, ""),
    ],
)
def test_the_build_counts_mypycs_notes_without_showing_them(build_tool, capsys, options, out, said):
    """mypyc says how it compiled some lines ("Treating generator comprehension as list", 18
    times, and a class default it sets on each instance) as "warning:" lines, which a new user
    read in `make`'s output as a failure: they are counted, shown with --verbose."""
    tool = build_tool(_mypycify_printing(MYPYC_NOTES))

    assert tool.main(options) == 0
    assert capsys.readouterr() == (
        "".join(line + "\n" for line in out),
        f"build_compiled: compiling {len(compiled.COMPILED)} modules with mypyc (several "
        "minutes: mypyc, then the C compiler)\n"
        "build_compiled: compiled " + ", ".join(compiled.COMPILED) + said + "\n",
    )


def test_the_build_shows_what_else_mypyc_says_when_it_fails(build_tool, capsys):
    tool = build_tool(_mypycify_printing([*MYPYC_NOTES, *MYPYC_OTHERS], exit_code=1))

    assert tool.main([]) == 0
    assert capsys.readouterr() == (
        "".join(line + "\n" for line in MYPYC_OTHERS),
        f"build_compiled: compiling {len(compiled.COMPILED)} modules with mypyc (several "
        "minutes: mypyc, then the C compiler)\n"
        "build_compiled: mypyc failed (1): the Python sources run\n",
    )


def test_make_rebuilds_when_any_compiled_modules_source_changes() -> None:
    """The Makefile's COMPILED_SOURCES (what `make` rebuilds after) lists the modules by hand,
    apart from COMPILED: a module added to one alone was either never rebuilt by `make` after
    an edit (the guard then runs every module from source, slower and silently) or rebuilt
    for nothing."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^COMPILED_SOURCES := ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert found is not None
    listed = found.group(1).replace("\\\n", " ").split()
    assert sorted(listed) == sorted(
        ["workflows/compiled.py", "tools/build_compiled.py"]
        + [f"{name}.py" for name in compiled.COMPILED]
    )


def _modules() -> list[str]:
    return ["deskbridge." + name.replace("/", ".") for name in compiled.COMPILED]


def test_deskbridge_pure_runs_the_python_sources() -> None:
    """Each module from source, the in-memory store first (its package is not workflows)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib, sys; from deskbridge.store import memory;"
            "from deskbridge.workflows import LOADED_AS;"
            "print(LOADED_AS, *(importlib.import_module(m).__spec__.origin for m in sys.argv[1:]))",
            *_modules(),
        ],
        env={**os.environ, "DESKBRIDGE_PURE": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == "pure"
    assert [Path(path) for path in out[1:]] == [ROOT / f"{name}.py" for name in compiled.COMPILED]


def _made_since_the_sources() -> bool:
    """Whether make's build (its stamp, .venv/.compiled) is newer than the compiled modules'
    sources and the build's own code, as make judges it."""
    stamp = ROOT / ".venv" / ".compiled"
    sources = [f"{name}.py" for name in compiled.COMPILED]
    sources += ["workflows/compiled.py", "tools/build_compiled.py"]
    return stamp.exists() and all(
        (ROOT / source).stat().st_mtime_ns <= stamp.stat().st_mtime_ns for source in sources
    )


def test_the_classifier_runs_compiled_wherever_make_can_build_it() -> None:
    """`make` compiles the modules where a C compiler and mypyc are there (CI has both); a
    build older than a source is not run (LOADED_AS "stale": `make .venv/.compiled`)."""
    if os.environ.get("DESKBRIDGE_PURE") == "1":
        assert LOADED_AS == "pure"
        return
    why_not = _build_tool().find_compiler()
    if why_not is not None:
        assert LOADED_AS == "pure", why_not
        return
    if not _made_since_the_sources():
        # A venv made without the build (make .venv/.installed, pip install -e '.[dev]'), or a
        # source edited since: the sources run, as they should; make test builds first.
        pytest.skip("not built by make since the sources changed (make .venv/.compiled)")
    assert LOADED_AS == "compiled", "make .venv/.compiled built them: they should run"
    suffix = EXTENSION_SUFFIXES[0]
    # (The origin's folder is mypyc's guess for a module its library loads first: names only.)
    assert [Path(importlib.import_module(m).__spec__.origin).name for m in _modules()] == [
        Path(name).name + suffix for name in compiled.COMPILED
    ]
    assert type(classify.classify_ticket).__name__ == "builtin_function_or_method"  # C code


def classify_labelled() -> list[str]:
    """Every labelled ticket's Classification, as repr (tags and later messages included),
    and its texts' tokens."""
    routing = load_rules(EXAMPLE_CONFIG).routing
    out = []
    for path in sorted(DATA.glob("routing_*.yaml")):
        if BLIND.fullmatch(path.name):
            continue
        for ticket in yaml.safe_load(path.read_text()):
            subject = ticket.get("subject") or ""
            description = ticket.get("description") or ""
            messages = list(ticket.get("customer_messages") or ())
            result = classify.classify_ticket(
                routing,
                subject=subject,
                description=description,
                tags=tuple(ticket.get("tags") or ()),
                customer_messages=messages,
            )
            out.append(f"{path.stem}:{ticket['id']} {result!r}")
            out.append(repr([text.tokenize(part) for part in (subject, description, *messages)]))
    return out


@pytest.mark.skipif(LOADED_AS != "compiled", reason="the classifier runs from source here")
def test_the_compiled_classifier_classifies_the_labelled_sets_as_its_source() -> None:
    pure = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; from deskbridge.workflows import LOADED_AS;"
            "from tests.workflows.test_compiled import classify_labelled;"
            "json.dump([LOADED_AS, *classify_labelled()], sys.stdout)",
        ],
        cwd=ROOT,
        env={**os.environ, "DESKBRIDGE_PURE": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    source_said = json.loads(pure)
    assert source_said[0] == "pure"
    compiled_said = classify_labelled()
    assert len(compiled_said) > 2000
    assert compiled_said == source_said[1:]
