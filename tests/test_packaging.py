"""The wheel installs one top-level name, `deskbridge`, and the folders inside it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_only_the_deskbridge_package(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("deskbridge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level).decode().split() == ["deskbridge"]
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "deskbridge = deskbridge.cli:main" in archive.read(entry_points).decode()
    roots = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert roots == {"deskbridge"}
    for module in (
        "deskbridge/app.py",
        "deskbridge/cli.py",
        "deskbridge/config/example.yaml",
        "deskbridge/store/migrations/env.py",
        "deskbridge/workflows/rules/sla.py",
        "deskbridge/bot/listeners/commands.py",
        "deskbridge/connectors/salesforce/parse.py",
    ):
        assert module in names
    assert not any(n.startswith("deskbridge/tests/") for n in names)


# Folders that are not part of the installed package: the checkout's own tooling and tests.
NOT_INSTALLED = {"tests", "benchmarks", "examples", "docs", "deploy", "build", "tools"}


def test_packages_list_every_folder_holding_python_files() -> None:
    """A folder of modules missing from `packages` is left out of the wheel (setuptools warns
    "Package would be ignored"); alembic's migrations once were, carried only as data."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"deskbridge": "."}
    folders = {
        path.parent.relative_to(ROOT)
        for path in ROOT.rglob("*.py")
        if not path.relative_to(ROOT).parts[0].startswith(".")
        and path.relative_to(ROOT).parts[0] not in NOT_INSTALLED
    }
    expected = sorted(".".join(("deskbridge", *folder.parts)) for folder in folders)
    assert sorted(config["packages"]) == expected
    assert "deskbridge.store.migrations.versions" in expected


def test_python_dash_m_deskbridge_cli_knows_every_command() -> None:
    """`python -m deskbridge.cli` is the `deskbridge` script: the same commands, `routing`
    (defined last) included."""
    from deskbridge.cli import main

    done = subprocess.run(
        [sys.executable, "-m", "deskbridge.cli", "routing", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: python -m deskbridge.cli routing [OPTIONS] COMMAND")
    listed = subprocess.run(
        [sys.executable, "-m", "deskbridge.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    commands = listed.split("Commands:\n", 1)[1].split()
    assert sorted(set(commands) & set(main.commands)) == sorted(main.commands)


def _requirement(name: str) -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [found] = [d for d in dependencies if d.split(">")[0].split("<")[0].split("[")[0] == name]
    return found


def test_the_pins_reliability_md_asks_for(settings):
    """reliability.md §6 F29: APScheduler below 4 (4 is a pre-release whose stores and
    scheduling differ; its jobs drive serve's scheduled jobs and the purge), defusedxml
    present and what parses Salesforce's XML, and Flask's MAX_CONTENT_LENGTH set (Flask's
    default is no limit) to DESKBRIDGE_MAX_BODY_BYTES."""
    from importlib.metadata import version

    import defusedxml.ElementTree

    from deskbridge.app import create_app, create_runtime
    from deskbridge.connectors.salesforce import parse

    assert _requirement("apscheduler").endswith(",<4")
    assert int(version("apscheduler").split(".")[0]) == 3
    assert _requirement("defusedxml") == "defusedxml>=0.7"
    assert parse.fromstring is defusedxml.ElementTree.fromstring
    app = create_app(runtime=create_runtime(settings))
    assert app.config["MAX_CONTENT_LENGTH"] == settings.max_body_bytes == 1024 * 1024
