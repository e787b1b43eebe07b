"""The pure decide core alone: parsing, folding into state and the rules, per event (issue 12).

Usage: python benchmarks/decide_core.py WEEK.jsonl [--repeat 3] [--config PATH]

`deskbridge replay` also stores, reads and writes every batch; this measures only what the
rules side costs, in this process's CPU time (a shared machine's wall clock also counts other
processes):
- parse: each line's body through the Zendesk/Salesforce parser (as the webhook and replay do);
- decide: in arrival order, each event folded into its ticket's state (`apply_event`), every
  rule run (`evaluate_rules_to_state`, which also gives the state after the decision's
  updates, as the decider takes it), the fired keys marked; before each event, the timers the
  rules set that fell due by its arrival fire at their due times (`evaluate_timer_to_state`),
  as replay fires them. No store: no repeat-contact reads (no related
  tickets), no scheduled jobs, no on-call overrides.
The digest of every action decided (its record, in order) is printed, so two commits can be
compared on the same input: a speed-up must not change it.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import itertools
import json
import time
from datetime import datetime

from deskbridge.cli import _without_collecting
from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.connectors.parsing import parse_time
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.workflows.actions import Action
from deskbridge.workflows.decision import Context, Decision, Timer
from deskbridge.workflows.model import Source, TicketEvent, TicketState
from deskbridge.workflows.rules import evaluate_rules_to_state, evaluate_timer_to_state
from deskbridge.workflows.state import apply_event, mark_fired, new_state


def read_lines(path: str) -> list[tuple[datetime, Source, bytes]]:
    out = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            item = json.loads(line)
            body = item["body"]
            raw = json.dumps(body, ensure_ascii=False) if isinstance(body, dict) else body
            out.append((parse_time(item["at"], "at"), Source(item["source"]), raw.encode()))
    return out


def parse_all(lines, rules) -> list[tuple[datetime, TicketEvent]]:
    return [
        (at, event)
        for at, source, raw in lines
        for event in CONNECTORS[source].parse(raw, at, rules)
    ]


def decide_all(events, rules) -> list[tuple[datetime, Action]]:
    states: dict[str, TicketState] = {}
    timers: dict[str, Timer] = {}  # each timer id's last word
    due: list[tuple] = []
    sequence = itertools.count()
    decided: list[tuple[datetime, Action]] = []

    def fold(outcome: tuple[Decision, TicketState], now: datetime) -> None:
        decision, after = outcome
        states[after.key] = mark_fired(after, [a.key for a in decision.actions])
        for timer_id in decision.cancel:
            timers.pop(timer_id, None)
        for timer in decision.timers:
            timers[timer.id] = timer
            heapq.heappush(due, (timer.due_at, next(sequence), timer))
        decided.extend((now, action) for action in decision.actions)

    for at, event in events:
        while due and due[0][0] <= at:
            timer = heapq.heappop(due)[2]
            if timers.get(timer.id) is not timer:
                continue  # set again or cancelled since
            del timers[timer.id]
            state = states[timer.ticket]
            ctx = Context(now=timer.due_at, rules=rules, previous=state)
            fold(evaluate_timer_to_state(state, timer, ctx), timer.due_at)
        previous = states.get(event.ticket_key)
        state, _ = apply_event(previous or new_state(event), event)
        ctx = Context(now=at, rules=rules, previous=previous)
        fold(evaluate_rules_to_state(state, event, ctx), at)
    return decided


def digest_of(decided: list[tuple[datetime, Action]]) -> str:
    digest = hashlib.sha256()
    for now, action in decided:
        digest.update(json.dumps([now.isoformat(), action.to_record()], default=str).encode())
    return digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("week")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--config", default=str(EXAMPLE_CONFIG))
    args = parser.parse_args()
    lines = read_lines(args.week)
    with _without_collecting():  # the garbage collector as `deskbridge replay` runs it
        for run in range(1, args.repeat + 1):
            measure(run, lines, load_rules(args.config))


def measure(run: int, lines, rules) -> None:
    """One run from fresh rules: the memos kept by rules (classifications, the risk phrases
    found, the calendar) start empty; the text module's word caches stay warm after run 1."""
    started = time.process_time()
    events = parse_all(lines, rules)
    parsed = time.process_time()
    actions = decide_all(events, rules)
    decided = time.process_time()
    n = len(events)
    print(
        f"run {run}: {n} events, {len(actions)} actions, digest {digest_of(actions)}; "
        f"CPU parse {parsed - started:.2f} s ({(parsed - started) / n * 1e6:.0f} µs/event), "
        f"decide {decided - parsed:.2f} s ({(decided - parsed) / n * 1e6:.0f} µs/event), "
        f"together {n / (decided - started):,.0f} events per CPU-second"
    )


if __name__ == "__main__":
    main()
