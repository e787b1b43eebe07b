"""The most that skipping rules which decide nothing could save on a replay (issue 12).

Usage:
  python benchmarks/replay_ceiling.py record PLAN.json WEEK.jsonl [deskbridge replay options]
  python benchmarks/replay_ceiling.py skip PLAN.json WEEK.jsonl [deskbridge replay options]

`record` is `deskbridge replay` (its output on stdout), and writes to PLAN.json which rules
decided something (actions, timers, cancels or updates) on each event, on-call paging among
them, and whether each timer fired decided anything. `skip` replays again running only those
rules on each event, and only the timers' rules that decided something: an oracle, told
beforehand what no dirty flag or input signature can know for nothing, whose output must be
the same as record's (compare their md5). Under callgrind, skip's instructions against
`deskbridge replay`'s on the same input bound what any scheme that skips a rule when it
would decide nothing could save, before the cost of its own checks.

Both run the decider's own code: each event's rules are chosen by swapping the registry
(`RULES`) and the paging rule the decider's `evaluate_rules_to_state` reads, not by a copy of
it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from deskbridge.cli import main as deskbridge
from deskbridge.workflows import decider, rules
from deskbridge.workflows.decision import Decision

PAGING = "paging"


def _decides(decision: Decision) -> bool:
    return bool(decision.actions or decision.timers or decision.cancel or decision.updates)


def record(plan_path: str) -> None:
    """Wrap every rule to note which decide something on each event, and each timer."""
    events: list[list[str]] = []
    timers: list[bool] = []
    # Where a rule that decides something is noted: the event's list while its rules run
    # (paging also runs for timers, which are noted apart).
    into: list[list[str]] = [[]]

    def noting(name: str, rule: Callable) -> Callable:
        def run(*args, **kwargs) -> Decision:
            decision = rule(*args, **kwargs)
            if _decides(decision):
                into[0].append(name)
            return decision

        return run

    for name, rule in list(rules.RULES.items()):
        rules.RULES[name] = noting(name, rule)
    rules.evaluate_paging = noting(PAGING, rules.evaluate_paging)
    evaluate_event, evaluate_timer = rules.evaluate_rules_to_state, rules.evaluate_timer_to_state

    def on_event(state, event, ctx):
        events.append([])
        into[0] = events[-1]
        try:
            return evaluate_event(state, event, ctx)
        finally:
            into[0] = []

    def on_timer(state, timer, ctx):
        decision, after = evaluate_timer(state, timer, ctx)
        timers.append(_decides(decision) or after is not state)
        return decision, after

    decider.evaluate_rules_to_state, decider.evaluate_timer_to_state = on_event, on_timer
    try:
        _replay()
    finally:
        with open(plan_path, "w", encoding="utf-8") as out:
            json.dump({"events": events, "timers": timers}, out)


def skip(plan_path: str) -> None:
    """Run on each event only the rules the plan says decided something, and fire only the
    timers whose rules did."""
    with open(plan_path, encoding="utf-8") as source:
        plan = json.load(source)
    every, page = dict(rules.RULES), rules.evaluate_paging

    def no_paging(*args, **kwargs) -> Decision:
        return Decision()

    # One registry per distinct set of rules (a few dozen), made before the replay starts.
    chosen: dict[tuple[str, ...], tuple[dict, Callable]] = {}
    for names in map(tuple, plan["events"]):
        if names not in chosen:
            kept = {n: r for n, r in every.items() if n in names}
            chosen[names] = (kept, page if PAGING in names else no_paging)
    steps = iter([chosen[tuple(names)] for names in plan["events"]])
    fires = iter(plan["timers"])
    evaluate_event, evaluate_timer = rules.evaluate_rules_to_state, rules.evaluate_timer_to_state

    def on_event(state, event, ctx):
        rules.RULES, rules.evaluate_paging = next(steps)
        return evaluate_event(state, event, ctx)

    def on_timer(state, timer, ctx):
        if next(fires):
            rules.evaluate_paging = page  # a timer's paging is not an event's choice
            return evaluate_timer(state, timer, ctx)
        return Decision(), state

    decider.evaluate_rules_to_state, decider.evaluate_timer_to_state = on_event, on_timer
    _replay()


def _replay() -> None:
    deskbridge(["replay", *sys.argv[3:]], prog_name="deskbridge", standalone_mode=False)


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in ("record", "skip"):
        sys.exit(__doc__)
    {"record": record, "skip": skip}[sys.argv[1]](sys.argv[2])
