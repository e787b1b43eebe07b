"""Compile the modules workflows/compiled.py names (COMPILED) with mypyc, beside their
sources, where a C compiler and mypyc are there; otherwise say so and leave the pure
Python modules to run. `make` runs it; `--clean` only removes what it built.

    .venv/bin/python tools/build_compiled.py [--clean] [--verbose]

mypyc names a module by its package, and the package `deskbridge` is the checkout's root
under another name (package-dir "."): the build sees the checkout through a link named
deskbridge in build/mypyc/src, and `build_ext --inplace` writes the extensions through it
into the checkout. A failed build is reported and leaves no extension behind: the sources run.
mypyc's notes on how it compiled a line (NOTES), which are no problem, are counted, not shown,
unless --verbose: a new user read nineteen "warning:" lines in `make`'s output as a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import shutil
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "mypyc"


def _load_compiled() -> ModuleType:
    """workflows/compiled.py, read as a file: importing deskbridge.workflows would judge (and
    warn about) the very build this replaces."""
    spec = importlib.util.spec_from_file_location("_compiled", ROOT / "workflows" / "compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compiled = _load_compiled()


def remove_built() -> list[str]:
    """Delete the extensions of a previous build; their paths."""
    removed = compiled.find_built(compiled.ROOT)
    for path in removed:
        os.remove(path)
    return removed


def find_compiler() -> str | None:
    """Why the modules cannot be compiled here, or None when they can."""
    # setuptools compiles with $CC when set, else the one Python was built with.
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        return "mypyc is not installed (the dev extra brings it)"
    return None


# mypyc's notes that say how it compiled a line, not that anything is wrong.
NOTES = (
    # any(x for x in y) and the like: the items are made as a list, then iterated; the same
    # values (workflows/text.py, classify.py, the rules).
    ": warning: Treating generator comprehension as list",
    # A class attribute's default that is not a constant (store/memory.py's writer, a
    # nullcontext): set on each instance as it is made, the same to every caller.
    ": warning: Unsupported default attribute value",
)


def split_notes(output: str) -> tuple[list[str], int]:
    """mypyc's output without its NOTES: the lines to show (errors, any other warning), and
    how many notes were left out."""
    shown = []
    notes = 0
    for line in output.splitlines():
        if line.endswith(NOTES):
            notes += 1
        else:
            shown.append(line)
    return shown, notes


def build(verbose: bool = False) -> int:
    """Compile the modules into workflows/ (raises on a mypyc or compiler error); how many of
    mypyc's notes were left out of what it printed (none with `verbose`)."""
    from mypyc.build import mypycify
    from setuptools import setup

    source = BUILD / "src"
    source.mkdir(parents=True, exist_ok=True)
    link = source / "deskbridge"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(ROOT, target_is_directory=True)
    cwd = os.getcwd()
    os.chdir(source)
    try:
        paths = [f"deskbridge/{name}.py" for name in compiled.COMPILED]
        printed = io.StringIO()  # mypyc prints its messages, errors too, then may exit
        try:
            with contextlib.redirect_stdout(printed):
                extensions = _compile_to_c(mypycify, paths)
        finally:
            output = printed.getvalue()
            shown, notes = (output.splitlines(), 0) if verbose else split_notes(output)
            for line in shown:
                print(line)
        setup(
            name="deskbridge-compiled",
            packages=[],
            py_modules=[],
            ext_modules=extensions,
            script_args=["--quiet", "build_ext", "--inplace", "--build-temp", str(BUILD / "o")],
        )
    finally:
        os.chdir(cwd)
        link.unlink()  # a link to the checkout inside it: nothing walking the tree should follow
    return notes


def _compile_to_c(mypycify, paths: list[str]) -> list:
    return mypycify(
        # Module names from the folders under this one (deskbridge has no __init__.py);
        # imported modules are read for their types, not checked (nor compiled); libraries
        # without types (quotequail) are taken as Any.
        [
            "--explicit-package-bases",
            "--follow-imports=silent",
            "--ignore-missing-imports",
            *paths,
        ],
        # mypyc adds __mypyc: deskbridge.workflows._mypyc__mypyc, inside the package
        # (its default name, a hash, would be a top-level module, not importable here).
        group_name="deskbridge."
        + compiled.SHARED_LIBRARY.removesuffix("__mypyc").replace("/", "."),
        target_dir=str(BUILD / "c"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clean", action="store_true", help="only remove the built extensions")
    parser.add_argument("--verbose", action="store_true", help="show mypyc's notes too")
    args = parser.parse_args(argv)
    remove_built()
    if args.clean:
        shutil.rmtree(BUILD, ignore_errors=True)
        return 0
    why_not = find_compiler()
    if why_not is not None:
        print(f"build_compiled: {why_not}: the Python sources run", file=sys.stderr)
        return 0
    print(
        f"build_compiled: compiling {len(compiled.COMPILED)} modules with mypyc (several "
        "minutes: mypyc, then the C compiler)",
        file=sys.stderr,
    )
    try:
        notes = build(args.verbose)
    except (Exception, SystemExit) as exc:  # setuptools exits on a compiler error
        with contextlib.suppress(OSError):
            remove_built()
        print(
            f"build_compiled: mypyc failed ({exc}): the Python sources run",
            file=sys.stderr,
        )
        return 0
    # Dated now: the copies keep the build folder's times, and a shim or library that did not
    # change is not linked again, so a file can predate the source edit this build compiled.
    for path in compiled.find_built(compiled.ROOT):
        os.utime(path)
    said = f" ({notes} of mypyc's notes left out, none a problem: --verbose shows them)"
    print(
        "build_compiled: compiled " + ", ".join(compiled.COMPILED) + (said if notes else ""),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
