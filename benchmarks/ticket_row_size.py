"""How big does one ticket's stored row get over a long life? (issue 12: ticket rows stay small)

Not a test: `.venv/bin/python benchmarks/ticket_row_size.py [--rounds 250]`. One urgent Zendesk
ticket on a fresh SQLite store with the example config goes through `--rounds` rounds of a
customer message and an agent reply 3 h 10 min later (so every next reply clock warns and
breaches, and after hours on call is paged), each event decided by WorkflowService as `serve`
does, every timer fired at its own due time in between. Prints the stored state's JSON size
after some rounds, and the biggest parts of it at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from tests.workflows.test_ticket_row_bounded import live_a_long_ticket


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=250)
    args = parser.parse_args()

    # The same life as the test that keeps rows bounded (one scenario, not two copies).
    checkpoints = (10, 60, 120, *range(100, args.rounds + 1, 100))
    _, sizes, state, _ = live_a_long_ticket(load_rules(EXAMPLE_CONFIG), args.rounds, checkpoints)
    for n, size in sorted(sizes.items()):
        print(f"after {n:4d} rounds: stored state {size:6,d} bytes")
    parts = sorted(((len(json.dumps(v)), k) for k, v in state.items()), reverse=True)
    print("biggest parts: " + ", ".join(f"{k} {size:,d}" for size, k in parts[:5]))
    print(f"fired keys: {len(state['fired'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
