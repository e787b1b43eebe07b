"""A dump of everything the routing classifier says about many tickets, to compare two versions
of its code byte for byte (a speed-up must change no result). Not a test, and no accuracy: the
labels are never read.

    .venv/bin/python benchmarks/classify_identity.py > /tmp/new.txt
    PYTHONPATH=/tmp/old_pp .venv/bin/python benchmarks/classify_identity.py > /tmp/old.txt
    cmp /tmp/old.txt /tmp/new.txt

(/tmp/old_pp/deskbridge a snapshot of the other commit, e.g. `git archive main | tar -x -C`.)

Per ticket of every set in tests/workflows/data/ but the blind ones (never run on them): the
`repr` of `classify_ticket`'s Classification as labelled (tags and later messages included),
without tags, with subject and description swapped, and with the description as a later
message; the risk rule's threat phrases found in each text. Then classify_speed.py's generated
tickets (seed 13, with and without caches cleared between them), the same tickets with
curly apostrophes and accents, and a few edge cases.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import classify_speed as cs

from deskbridge.workflows import classify, text

DATA = Path(__file__).resolve().parent.parent / "tests" / "workflows" / "data"
# Sets never tuned on: nobody tuning or changing the classifier runs it on them.
BLIND = frozenset(
    {
        "routing_heldout_19.yaml",
        "routing_heldout_20.yaml",
        "routing_heldout_21.yaml",
        "routing_heldout_22.yaml",
        "routing_heldout_23.yaml",
        "routing_heldout_24.yaml",
        "routing_heldout_25.yaml",
    }
)
GENERATED = 3000
EDGE_CASES = [
    ("", ""),
    ("Refund?", ""),
    ("", "not damaged, just late. I don't want a refund or a voucher"),
    ("Re: Your replacement is on its way", "thanks for refunding the mirror"),
    ("Commande", "Le colis n'est pas arrivé, je veux un remboursement, pas de bon d'achat."),
    ("Bestellung", "Eine Erstattung brauche ich nicht, das Paket ist nie angekommen."),
    ("Заказ", "Посылка не пришла, верните деньги"),
    ("Order 12345", "give me my £1,299 back!! it didnt even arrive; 45 pounds wasted"),
    ("if it is not here by friday", "if it is lost, send a replacement; otherwise fine"),
    (
        "wobbly",
        "Hi,\n> On Monday you wrote:\n> refund approved\nStill waiting.\n\nBest regards\nPriya",
    ),
    ("Order", "Bot: For refunds type 1\nCustomer: the stitching is coming apart\nAgent: sorry"),
    ("x" * 50, " ".join(["recieved damagd parcle"] * 40)),
]


def dump_ticket(out: list[str], rules, key: str, subject, description, tags, messages) -> None:
    routing = rules.routing
    variants = [
        ("as", subject, description, tags, messages),
        ("untagged", subject, description, (), messages),
        ("swapped", description, subject, (), ()),
        ("later", subject, "", (), [description, *messages]),
    ]
    for name, s, d, t, m in variants:
        result = classify.classify_ticket(
            routing, subject=s, description=d, tags=t, customer_messages=m
        )
        out.append(f"{key} {name} {result!r}")
    for part in (subject, description, *messages):
        tokens = text.tokenize(part or "")
        for signal_name, signal in sorted(rules.risk.signals.items()):
            if signal.phrases:
                found = text.phrase_index(tuple(signal.phrases)).find_threats(tokens)
                out.append(f"{key} threat {signal_name} {sorted(found.items())!r}")


def main() -> int:
    rules = cs.load_rules(cs.EXAMPLE_CONFIG)
    out: list[str] = []
    for path in sorted(DATA.glob("*.yaml")):
        if path.name in BLIND:
            continue
        for ticket in yaml.safe_load(path.read_text()):
            dump_ticket(
                out,
                rules,
                f"{path.stem}:{ticket['id']}",
                ticket.get("subject") or "",
                ticket.get("description") or "",
                tuple(ticket.get("tags") or ()),
                list(ticket.get("customer_messages") or ()),
            )
    rng = random.Random(13)
    generated = [cs.make_ticket(rng) for _ in range(GENERATED)]
    plan = classify._plan(rules.routing)
    for number, (subject, description) in enumerate(generated):
        if number % 10 == 0:  # some cold: what is worked out once per word, from scratch
            cs.clear_word_caches(plan)
        result = classify.classify_ticket(rules.routing, subject=subject, description=description)
        out.append(f"generated:{number} {result!r}")
    accents = str.maketrans({"'": "\u2019", "e": "\u00e9", "a": "\u00e0"})
    for number, (subject, description) in enumerate(generated[:300]):
        s, d = subject.translate(accents), description.translate(accents)
        result = classify.classify_ticket(rules.routing, subject=s, description=d)
        out.append(f"accented:{number} {result!r}")
    for number, (subject, description) in enumerate(EDGE_CASES):
        dump_ticket(out, rules, f"edge:{number}", subject, description, (), [])
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
