"""Routing classifier speed on 1 KB tickets (issue 13: at most 0.2 ms per ticket).

Usage: python benchmarks/classify_speed.py [--tickets 5000] [--repeat 5] [--previous COMMIT]
                                          [--model FILE]

Every ticket is a distinct ~1,000-byte text (subject + description) assembled from retail
sentences with random order numbers, names, dates and a few one-letter typos, so the
classifier's per-text cache never hits: each call tokenizes, lemmatises (per-word caches warm
after the first pass, as in a running service) and matches every phrase of config/example.yaml.

Reported in the same run, per ticket, as wall-clock time and as this process's CPU time (on
a shared machine the wall clock also counts the time other processes held the core):
- baseline: fold the text (lower-case, accents, contractions) and split it into words with the
  same regex: the floor of reading the text at all;
- classify (warm words): `classify_ticket` once the word caches have seen the vocabulary;
- classify (cold words): every lemma and typo cache cleared before each ticket, the worst case
  of a service that has never seen any of the ticket's words;
- with --previous COMMIT: that commit's workflows/text.py and classify.py (read with git show),
  run on the same tickets and config, e.g. 11ee2c1 for the phrase matcher before issue 13;
- with --model FILE (a `deskbridge routing train` file): `classify_ticket` with that learned
  model, asked about the tickets the phrases leave to a person and, as a second opinion
  (routing.ask_when_model_disagrees), those they route; and the model alone on every ticket
  (the cost of each ticket it is asked about).
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows import classify, text

SENTENCES = [
    "I ordered the {item} on {date} and it still has not arrived.",
    "The tracking for order {order} has not moved since {date}.",
    "The courier left a card but nobody knocked, so I have no idea where it is.",
    "When the {item} was finally delivered the box was crushed and one corner was dented.",
    "After two weeks the {item} has started to wobble and one leg feels loose.",
    "The paint on the {item} is chipped in three places and the finish is patchy.",
    "The bag of screws for step four was not in the box, so I cannot finish building it.",
    "Could you please tell me when my refund for order {order} will reach my card?",
    "I would like a replacement as soon as possible, my {name} needs it for school.",
    "Your colleague {name} promised me a voucher for the trouble last month.",
    "Honestly the quality is disappointing for the price, the fabric already looks worn.",
    "Thanks for sorting this out so quickly, {name} was really helpful on the phone.",
    "The drawer will not close properly and the runner seems to be bent.",
    "It came in the wrong colour, I ordered grey and got beige instead.",
    "I was charged twice for order {order}, please check my statement.",
    "Can you let me know if the delivery slot on {date} is still booked?",
    "The {item} smells strongly of chemicals even after airing it for a week.",
    "My neighbour says the driver threw the parcel over the fence yesterday.",
]
ITEMS = ["oak sideboard", "corner sofa", "bed frame", "office chair", "bookcase", "floor lamp"]
NAMES = ["Priya", "Tom", "Lena", "Sam", "Olu", "Marta", "Jonas", "Aisha"]


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 6 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swap two neighbours


def make_ticket(rng: random.Random) -> tuple[str, str]:
    order = str(rng.randrange(100000, 999999))
    subject = f"Order {order} — {rng.choice(ITEMS)}"
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) + len(subject) < 1000:
        sentence = rng.choice(SENTENCES).format(
            item=rng.choice(ITEMS),
            date=f"{rng.randrange(1, 28)}/{rng.randrange(1, 12)}",
            order=order,
            name=rng.choice(NAMES),
        )
        words = [_typo(w, rng) if rng.random() < 0.03 else w for w in sentence.split()]
        parts.append(" ".join(words))
    return subject, " ".join(parts)[: 1000 - len(subject)]


def clear_word_caches(plan) -> None:
    """Forget every word seen (the compiled phrases stay: they are built once per config)."""
    text._LEMMAS.clear()
    text._TEXT_LEMMAS.clear()
    text.is_known_word.cache_clear()
    text.is_foreign_word.cache_clear()
    text.tokenize.cache_clear()
    for index in (plan.index, plan.qualifiers, plan.fallback):
        if index is not None:
            index.forget_words()


def per_ticket_ms(fn, tickets, before=None) -> tuple[float, float]:
    """Wall-clock and CPU (this process) milliseconds per ticket: on a shared machine the
    wall clock also counts the time other processes held the core."""
    wall = cpu = 0.0
    if before is None:
        wall, cpu = time.perf_counter(), time.process_time()
        for subject, description in tickets:
            fn(subject, description)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    else:
        for subject, description in tickets:
            before()
            w0, c0 = time.perf_counter(), time.process_time()
            fn(subject, description)
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
    return wall / len(tickets) * 1000, cpu / len(tickets) * 1000


def load_previous(commit: str):
    """That commit's classifier, its text module imported under another name."""
    folder = Path(tempfile.mkdtemp())
    for name in ("text", "classify"):
        source = subprocess.run(
            ["git", "show", f"{commit}:workflows/{name}.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        source = source.replace(
            "from deskbridge.workflows.text import", "from previous_text import"
        )
        (folder / f"previous_{name}.py").write_text(source)
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(
        "previous_classify", folder / "previous_classify.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["previous_classify"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--previous", help="also time this commit's classifier")
    parser.add_argument("--model", type=Path, help="also time with this learned model")
    args = parser.parse_args()
    previous = load_previous(args.previous) if args.previous else None
    rules = load_rules(EXAMPLE_CONFIG)
    rng = random.Random(13)
    sizes = []

    def baseline(subject: str, description: str) -> None:
        for part in (subject, description):
            text._words(text.fold(part))

    def classify_one(subject: str, description: str) -> None:
        classify.classify_ticket(rules.routing, subject=subject, description=description)

    warmup = [make_ticket(rng) for _ in range(500)]
    for subject, description in warmup:
        classify_one(subject, description)
    results: dict[str, list[float]] = {"baseline": [], "warm": [], "cold": []}
    model = None
    if args.model is not None:
        from deskbridge.config.routing_model import load_routing_model

        model = load_routing_model(args.model, [*rules.departments, "none"])
        asked = [0, 0]  # tickets classified with the model, tickets it was asked about

        def classify_with_model(subject: str, description: str) -> None:
            result = classify.classify_ticket(
                rules.routing, subject=subject, description=description, model=model
            )
            asked[0] += 1
            asked[1] += result.model_answer is not None

        def model_alone(subject: str, description: str) -> None:
            model.predict(classify.model_text(subject, description))

        for subject, description in warmup[:50]:
            classify_with_model(subject, description)
        results["model"] = []
        results["alone"] = []
    if previous is not None:

        def classify_previous(subject: str, description: str) -> None:
            previous.classify_ticket(rules.routing, subject=subject, description=description)

        for subject, description in warmup:
            classify_previous(subject, description)
        results["previous"] = []
    for _ in range(args.repeat):
        batch = [make_ticket(rng) for _ in range(args.tickets)]
        sizes += [len((s + d).encode()) for s, d in batch]
        results["baseline"].append(per_ticket_ms(baseline, batch))
        results["warm"].append(per_ticket_ms(classify_one, batch))
        if previous is not None:
            results["previous"].append(per_ticket_ms(classify_previous, batch))
        if model is not None:
            # Fresh tickets: the same batch again would find its words' caches warm.
            fresh = [make_ticket(rng) for _ in range(args.tickets)]
            results["model"].append(per_ticket_ms(classify_with_model, fresh))
            results["alone"].append(
                per_ticket_ms(model_alone, batch[: max(50, args.tickets // 10)])
            )
        cold = batch[: max(50, args.tickets // 20)]
        results["cold"].append(
            per_ticket_ms(
                classify_one,
                cold,
                before=lambda: clear_word_caches(classify._plan(rules.routing)),
            )
        )
        for subject, description in batch[:200]:  # re-warm after the cold pass
            classify_one(subject, description)
    print(
        f"{args.tickets} distinct tickets x {args.repeat} runs,"
        f" {statistics.mean(sizes):.0f} bytes each on average (min {min(sizes)}, max {max(sizes)})"
    )
    labels = {
        "baseline": "baseline (fold + split)",
        "warm": "classify (warm words)",
        "cold": "classify (cold words)",
        "previous": f"previous ({args.previous})",
        "model": "classify + learned model",
        "alone": "learned model alone",
    }
    for name, values in results.items():
        wall = [w for w, _ in values]
        cpu = [c for _, c in values]
        print(
            f"{labels[name]:<26} median {statistics.median(wall):.3f} ms/ticket"
            f"  (min {min(wall):.3f}, max {max(wall):.3f});"
            f" CPU median {statistics.median(cpu):.3f} (min {min(cpu):.3f})"
        )
    if model is not None:
        print(f"the model was asked about {asked[1]} of {asked[0]} tickets classified with it")


if __name__ == "__main__":
    main()
