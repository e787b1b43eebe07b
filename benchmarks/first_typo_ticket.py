"""The classifier's first ticket with a typo in a fresh process: the time it takes and the
process's peak memory after it (benchmarks/README.md, "Sixteenth session: the classifier's
dictionaries").

A typo is checked against the words of the other languages customers write in, so the first
such ticket reads six of simplemma's dictionaries (workflows/lexicon.py). Run it in a fresh
process each time (the dictionaries stay loaded):

    .venv/bin/python benchmarks/first_typo_ticket.py
    # an older commit's code, checked out in a worktree W, with this venv:
    mkdir -p /tmp/basepath && ln -sfn W /tmp/basepath/deskbridge
    PYTHONPATH=/tmp/basepath .venv/bin/python benchmarks/first_typo_ticket.py
"""

from __future__ import annotations

import resource
import time

started = time.perf_counter()
from deskbridge.config.rules import load_rules  # noqa: E402  (the import is measured)
from deskbridge.config.settings import EXAMPLE_CONFIG  # noqa: E402
from deskbridge.workflows.classify import classify_ticket  # noqa: E402

rules = load_rules(EXAMPLE_CONFIG)
loaded = time.perf_counter()
result = classify_ticket(
    rules.routing,
    subject="The wardorbe arived with a craked door",
    description="Pleese send a replacment, the hindge is brokn",
)
answered = time.perf_counter()
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(
    f"{result.department}: imports and rules {loaded - started:.2f} s, "
    f"first ticket with typos {answered - loaded:.2f} s, peak RSS {peak_mb} MB"
)
