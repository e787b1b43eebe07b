"""The pure core (rules, state, classifier, calendar) imports no infrastructure: it can be
read, tested and replayed without a database, a web framework or a Slack client."""

from __future__ import annotations

import json
import subprocess
import sys

PURE = [
    "deskbridge.workflows.rules",
    "deskbridge.workflows.state",
    "deskbridge.workflows.classify",
    "deskbridge.workflows.business_hours",
]
INFRASTRUCTURE = ["sqlalchemy", "flask", "prometheus_client", "slack_sdk", "requests"]
STORE = "deskbridge.store"


def test_importing_the_pure_core_loads_no_infrastructure():
    # A fresh interpreter: this test process has loaded everything already.
    probe = (
        "import importlib, json, sys\n"
        f"for name in {PURE!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(result.stdout)
    assert set(PURE) <= set(loaded)  # the probe did import them
    offending = [
        name
        for name in loaded
        if name.split(".")[0] in INFRASTRUCTURE or name == STORE or name.startswith(STORE + ".")
    ]
    assert offending == []
