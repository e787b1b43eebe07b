"""A routing model scored without scikit-learn: is it exact, and what does it cost? (the
thirty-fifth session's question: a starter model in the default install.)

Usage: python benchmarks/pure_model_cost.py [--model FILE] [--tickets 2000] [--repeat 3]
                                            [--compiled]

The model (a `deskbridge routing train` file, or without --model one trained here on every
labelled set but the blind ones, about 15 s of CPU) is exported to plain tables
(`export_pipeline`) and scored by benchmarks/pure_scorer.py. Printed:
- exactness: on the labelled sets (routing_crossval.labelled_sets: the blind ones are never
  read), the largest difference between the pure scorer's probabilities and predict_proba's,
  and the tickets whose most probable label differs;
- the tables' size as a deflated JSON file;
- cost per ~1 KB ticket (classify_speed.py's generated tickets), CPU milliseconds, medians of
  --repeat batches, in the same run: the phrases alone (`classify_ticket`), the phrases with
  the pure model (asked about every ticket: the second opinion), the pure model alone, and
  scikit-learn's predict alone; and each view alone (its share of the pure model's cost).
--compiled: the scorer compiled with mypyc first (in a scratch folder; needs a C compiler).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.classify_speed import make_ticket
from benchmarks.routing_crossval import labelled_sets
from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.accuracy import parse_labelled
from deskbridge.workflows.classify import classify_ticket, model_lemmas, model_text

SCORER = Path(__file__).with_name("pure_scorer.py")


def load_scorer(compiled: bool, source: Path = SCORER) -> ModuleType:
    """benchmarks/pure_scorer.py (or another scorer, `source`) as it is, or built by mypyc in
    a scratch folder."""
    if not compiled:
        return importlib.import_module(f"benchmarks.{source.stem}")
    folder = Path(tempfile.mkdtemp(prefix=source.stem))
    shutil.copy(source, folder / source.name)
    subprocess.run(
        [sys.executable, "-m", "mypyc", source.name], cwd=folder, check=True, capture_output=True
    )
    built = next(folder.glob(f"{source.stem}.*.so"))
    spec = importlib.util.spec_from_file_location(source.stem, built)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def export_pipeline(pipeline: Any, scorer: ModuleType) -> tuple[list[Any], list[float]]:
    """The fitted pipeline's views (scorer.View) and intercepts; refused where a vectorizer is
    set otherwise than the scorer reads it."""
    union = pipeline.named_steps["features"]
    classifier = pipeline.named_steps["classifier"]
    coef = classifier.coef_
    k = coef.shape[0]
    if k != len(classifier.classes_):
        raise ValueError("a binary model (one row of coefficients) is not handled")
    views = []
    offset = 0
    for name, vectorizer in union.transformer_list:
        settings = vectorizer.get_params()
        expected = {
            "sublinear_tf": True,
            "use_idf": True,
            "norm": "l2",
            "binary": False,
            "strip_accents": None,
            "lowercase": True,
            "token_pattern": r"(?u)\b\w\w+\b",
            "tokenizer": None,
            "stop_words": None,
        }
        odd = [key for key, value in expected.items() if settings[key] != value]
        if odd or vectorizer.analyzer not in ("word", "char_wb"):
            raise ValueError(f"view {name}: {odd or vectorizer.analyzer} not handled")
        columns = {gram: int(i) for gram, i in vectorizer.vocabulary_.items()}
        width = len(columns)
        idf = [float(x) for x in vectorizer.idf_]
        weights = [float(x) for x in coef[:, offset : offset + width].T.ravel()]
        offset += width
        low, high = vectorizer.ngram_range
        lemmas = vectorizer.preprocessor is not None
        views.append(scorer.View(vectorizer.analyzer, low, high, lemmas, columns, idf, weights, k))
    return views, [float(b) for b in classifier.intercept_]


class PureModel:
    """The exported model with the RoutingModel interface of workflows.classify."""

    def __init__(
        self, scorer: ModuleType, views: list[Any], intercepts: list[float], labels: Sequence[str]
    ):
        self.score = scorer.score_probabilities
        self.views, self.intercepts, self.labels = views, intercepts, tuple(labels)
        self.lemmas = any(view.lemmas for view in views)

    def probabilities(self, text: str) -> list[float]:
        return self.score(
            self.views, self.intercepts, text, model_lemmas(text) if self.lemmas else ""
        )

    def predict(self, text: str) -> tuple[str, float]:
        found = self.probabilities(text)
        best = max(range(len(found)), key=found.__getitem__)
        return self.labels[best], found[best]


def tables_json_size(views: Sequence[Any], intercepts: list[float], labels: Sequence[str]) -> int:
    """The bytes of the tables as one deflated JSON file (a weights file's likely size)."""
    document = {
        "labels": list(labels),
        "intercepts": intercepts,
        "views": [
            {
                "analyzer": v.analyzer,
                "ngram_range": [v.low, v.high],
                "lemmas": v.lemmas,
                "ngrams": sorted(v.columns, key=v.columns.__getitem__),
                "idf": v.idf,
                "coef": v.coef,
            }
            for v in views
        ],
    }
    return len(zlib.compress(json.dumps(document).encode(), 9))


def cpu_ms(fn: Callable[[str, str], object], tickets: Sequence[tuple[str, str]]) -> float:
    started = time.process_time()
    for subject, description in tickets:
        fn(subject, description)
    return (time.process_time() - started) / len(tickets) * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a `deskbridge routing train` file")
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compiled", action="store_true", help="the scorer built by mypyc")
    args = parser.parse_args(argv)
    rules = load_rules(EXAMPLE_CONFIG)
    labels = [*rules.departments, "none"]
    tickets = [
        ticket
        for path in labelled_sets()
        for ticket in parse_labelled(path.read_text(encoding="utf-8"), False, rules.departments)
    ]
    from deskbridge.config.routing_model import load_routing_model, train_routing_model

    learned = load_routing_model(args.model, labels) if args.model else train_routing_model(tickets)
    scorer = load_scorer(args.compiled)
    started = time.process_time()
    views, intercepts = export_pipeline(learned.pipeline, scorer)
    pure = PureModel(scorer, views, intercepts, learned.labels)
    print(
        f"scorer: {scorer.__file__}; exported in {time.process_time() - started:.2f} s of CPU;"
        f" n-grams per view: {', '.join(str(len(v.columns)) for v in views)};"
        " the tables as deflated JSON:"
        f" {tables_json_size(views, intercepts, pure.labels) / 1e6:.2f} MB"
    )
    texts = [model_text(t.subject, t.description, t.customer_messages) for t in tickets]
    expected = learned.pipeline.predict_proba(texts)
    worst, differ = 0.0, 0
    for row, text in zip(expected, texts, strict=True):
        found = pure.probabilities(text)
        worst = max(worst, *(abs(a - float(b)) for a, b in zip(found, row, strict=True)))
        differ += max(range(len(found)), key=found.__getitem__) != int(row.argmax())
    print(
        f"exactness on {len(texts)} labelled tickets (no blind set): largest difference from"
        f" predict_proba {worst:.1e}; most probable label differs on {differ}"
    )

    def phrases(subject: str, description: str) -> None:
        classify_ticket(rules.routing, subject=subject, description=description)

    def with_model(subject: str, description: str) -> None:
        classify_ticket(rules.routing, subject=subject, description=description, model=pure)

    def alone(subject: str, description: str) -> None:
        pure.predict(model_text(subject, description))

    def sklearn_alone(subject: str, description: str) -> None:
        learned.predict(model_text(subject, description))

    rng = random.Random(13)
    for subject, description in [make_ticket(rng) for _ in range(500)]:
        with_model(subject, description)  # warm words, for the phrases and the scorer alike
    runs: dict[str, list[float]] = {"phrases": [], "model": [], "alone": [], "sklearn": []}
    # Each view alone (its share of the cost; the probabilities are not the model's).
    parts = {
        f"view {i + 1} ({v.analyzer}{', lemmas' if v.lemmas else ''} {v.low}-{v.high})": PureModel(
            scorer, [v], intercepts, pure.labels
        )
        for i, v in enumerate(views)
    }
    names = {
        "phrases": "classify, phrases alone",
        "model": "classify + pure model",
        "alone": "pure model alone",
        "sklearn": "scikit-learn's predict alone",
        **{name: name for name in parts},
    }
    for _ in range(args.repeat):
        # Fresh tickets for each: classify_ticket keeps its answers by text.
        runs["phrases"].append(cpu_ms(phrases, [make_ticket(rng) for _ in range(args.tickets)]))
        runs["model"].append(cpu_ms(with_model, [make_ticket(rng) for _ in range(args.tickets)]))
        batch = [make_ticket(rng) for _ in range(max(50, args.tickets // 10))]
        runs["alone"].append(cpu_ms(alone, batch))
        runs["sklearn"].append(cpu_ms(sklearn_alone, batch))
        for name, part in parts.items():
            runs.setdefault(name, []).append(
                cpu_ms(lambda s, d, part=part: part.predict(model_text(s, d)), batch)
            )
    for key, values in runs.items():
        print(
            f"{names[key]:<34} CPU median {statistics.median(values):.3f} ms/ticket"
            f" (min {min(values):.3f}, max {max(values):.3f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
