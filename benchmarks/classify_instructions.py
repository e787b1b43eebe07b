"""Instructions per ticket of `classify_ticket` under callgrind: the figure that does not move
with the machine's load (benchmarks/README.md, "Routing classifier", fifteenth session).

Not a test. Run it under valgrind with instrumentation off at the start: the script switches it
on (callgrind_control) after the warm tickets, which counts the same as instrumenting all along
in a fifth of the time; the measured tickets are framed by calls of `os.getppid` (a C function
nothing else here calls), at which callgrind dumps its counters:

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no --dump-before=os_getppid \\
        --callgrind-out-file=/tmp/classify.%p \\
        .venv/bin/python benchmarks/classify_instructions.py --callgrind [--previous COMMIT]
    .venv/bin/python benchmarks/classify_instructions.py --read /tmp/classify.<pid>

The tickets are classify_speed.py's (seed 13): 300 warm ones, then 400 measured, with
config/example.yaml; --previous COMMIT measures that commit's classifier instead (read with git
show, as classify_speed.py --previous does). Without --callgrind it runs the same tickets (a
smoke run).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import classify_speed as cs

WARM = 300
MEASURED = 400


def read_dumps(prefix: str) -> int:
    """The measured phase's instructions (dump 2), per ticket."""
    text = Path(f"{prefix}.2").read_text()
    total = int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1))
    print(f"{total / MEASURED:,.0f} instructions a ticket ({MEASURED} tickets)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--read", metavar="OUT_PREFIX", help="read the dumps of a run")
    parser.add_argument("--callgrind", action="store_true", help="running under callgrind")
    parser.add_argument("--previous", metavar="COMMIT", help="that commit's classifier")
    args = parser.parse_args(argv)
    if args.read:
        return read_dumps(args.read)
    classify = cs.load_previous(args.previous) if args.previous else cs.classify
    rules = cs.load_rules(cs.EXAMPLE_CONFIG)
    rng = random.Random(13)
    warm = [cs.make_ticket(rng) for _ in range(WARM)]
    measured = [cs.make_ticket(rng) for _ in range(MEASURED)]
    for subject, description in warm:
        classify.classify_ticket(rules.routing, subject=subject, description=description)
    gc.collect()
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True)
    os.getppid()  # dump 1: until here
    for subject, description in measured:
        classify.classify_ticket(rules.routing, subject=subject, description=description)
    os.getppid()  # dump 2: the measured tickets
    return 0


if __name__ == "__main__":
    sys.exit(main())
