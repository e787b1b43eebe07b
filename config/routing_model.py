"""The optional learned routing model: trained from a team's labelled tickets (`deskbridge
routing train`), saved, and loaded with the rules file (`routing.model`). Only this module
imports scikit-learn and skops, and only when a team uses the setting (the `model` extra:
`pip install '/path/to/deskbridge[model]'`); the classifier (pure) is handed the loaded model.

The file is written with skops, not pickle/joblib: loading a pickle runs whatever code the
file names, so a model file would have to be trusted like code. skops loads only the types
listed as trusted; here, the ones the trainer's pipeline is made of, and a file naming any
other type is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from deskbridge.workflows.classify import model_lemmas, model_text

# What the trainer's pipeline is made of (besides numpy and scipy arrays, which skops trusts
# by default): a file that names anything else did not come from `deskbridge routing train`.
TRUSTED_TYPES = frozenset(
    {
        "sklearn.pipeline.Pipeline",
        "sklearn.pipeline.FeatureUnion",
        "sklearn.feature_extraction.text.TfidfVectorizer",
        "sklearn.feature_extraction.text.TfidfTransformer",
        "sklearn.linear_model._logistic.LogisticRegression",
        "builtins.str",
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.slice",
        "numpy.float64",
        "numpy.int64",
        "numpy.dtype",
        "numpy.ndarray",
        # The lemma view's reader (build_pipeline): the classifier's own pure function, by name.
        "deskbridge.workflows.classify.model_lemmas",
    }
)


# How to get scikit-learn and skops: deskbridge installs from its checkout (or a wheel built
# from it), so the extra is named on the path; `pip install 'deskbridge[model]'` would ask PyPI
# for whatever project has that name there, not this checkout.
MODEL_EXTRA = "install deskbridge's model extra: pip install '/path/to/deskbridge[model]'"


# How deskbridge reads a text's words for the model's lemma view (`model_lemmas`: the phrases'
# folding, lemmas and spellings). A model weighs the lemma features it was trained on: trained
# while deskbridge read words otherwise (an upgrade's lexicon or tokenizer), it meets features
# it never learned and misses some it did, silently less sure. Saved with the model and
# compared when it is loaded (check-config warns); bumped when the reading changes
# (tests/test_routing_model.py pins the labelled sets' reading for each number).
LEMMA_VIEW = 1
# The reading of a file saved before the number was (the pipeline alone): the lemma view was
# added reading the labelled sets as reading 1 does, and read them so until the number came.
UNRECORDED_LEMMA_VIEW = 1


class ModelFileError(ValueError):
    """A model file that cannot be used, and why."""


class LearnedModel:
    """A fitted pipeline (text → department key or "none") with the `RoutingModel` interface
    of workflows.classify: the most probable label and its probability."""

    def __init__(self, pipeline: Any, lemma_view: int | None = LEMMA_VIEW):
        self.pipeline = pipeline
        self.labels: tuple[str, ...] = tuple(str(c) for c in pipeline.classes_)
        # The reading of words it was trained with (LEMMA_VIEW then; UNRECORDED_LEMMA_VIEW
        # for a file written before the number was saved with it; None: unreadable).
        self.lemma_view = lemma_view

    def describe_stale_reading(self) -> str | None:
        """Why the model should be trained again, when its lemma view was read otherwise
        than deskbridge reads it now; None when it is the same, or it has no lemma view."""
        features = self.pipeline.named_steps.get("features")
        views = [name for name, _ in getattr(features, "transformer_list", ())]
        if "lemmas" not in views or self.lemma_view == LEMMA_VIEW:
            return None
        trained = "an unknown one" if self.lemma_view is None else f"reading {self.lemma_view}"
        return (
            f"trained when deskbridge read words differently ({trained}; now reading "
            f"{LEMMA_VIEW}): some of the word forms it learned no longer reach it; train it "
            "again with deskbridge routing train"
        )

    def predict(self, text: str) -> tuple[str, float]:
        probabilities = self.pipeline.predict_proba([text])[0]
        best = int(probabilities.argmax())
        return self.labels[best], float(probabilities[best])


# An n-gram is learned from when at least this many training tickets have it.
MIN_TICKETS = 2


def build_pipeline() -> Any:
    """Word 1-2 grams and character 2-5 grams (they carry typos and word forms the phrases
    miss) of the text, and word 1-2 grams of its lemmas as the phrases read them
    (`model_lemmas`: a new author's word forms meet the ones trained on), tf-idf weighted,
    into a multinomial logistic regression: the field's standard small text classifier, whose
    probabilities serve as the thresholds' scale. C=30 and balanced class weights: the few
    "none" tickets weigh as much as a department's (chosen by leaving one labelled set out,
    benchmarks/README.md). Each view keeps only the n-grams of at least MIN_TICKETS tickets:
    one ticket's names, order numbers and typos teach nothing about the next author's, and
    were most of the file and the training (the thirtieth session, benchmarks/README.md)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    return Pipeline(
        [
            (
                "features",
                FeatureUnion(
                    [
                        (
                            "words",
                            TfidfVectorizer(
                                ngram_range=(1, 2), sublinear_tf=True, min_df=MIN_TICKETS
                            ),
                        ),
                        (
                            "chars",
                            TfidfVectorizer(
                                analyzer="char_wb",
                                ngram_range=(2, 5),
                                sublinear_tf=True,
                                min_df=MIN_TICKETS,
                            ),
                        ),
                        (
                            "lemmas",
                            TfidfVectorizer(
                                preprocessor=model_lemmas,
                                ngram_range=(1, 2),
                                sublinear_tf=True,
                                min_df=MIN_TICKETS,
                            ),
                        ),
                    ]
                ),
            ),
            (
                "classifier",
                LogisticRegression(C=30.0, class_weight="balanced", max_iter=2000),
            ),
        ]
    )


def train_routing_model(tickets: Iterable[Any]) -> LearnedModel:
    """Fit the pipeline on labelled tickets (workflows.accuracy.LabelledTicket)."""
    tickets = list(tickets)
    labels = [t.department for t in tickets]
    if len(set(labels)) < 2:
        raise ModelFileError("the labelled tickets name fewer than two departments (or none)")
    pipeline = build_pipeline()
    try:
        pipeline.fit(
            [model_text(t.subject, t.description, t.customer_messages) for t in tickets], labels
        )
    except ValueError as exc:  # a view with no n-gram in two tickets: too few to learn from
        if "no terms remain" not in str(exc) and "empty vocabulary" not in str(exc):
            raise
        raise ModelFileError(
            f"the {len(tickets)} labelled tickets share too few words to learn from"
            " (label a few hundred)"
        ) from None
    return LearnedModel(pipeline)


def save_routing_model(model: LearnedModel, path: Path) -> None:
    import zipfile

    import skops.io

    # Deflated: skops writes the vocabularies as JSON, most of the file, which compresses about
    # twentyfold (70 MB to 3.5 MB for 3,984 tickets); loading takes no longer.
    skops.io.dump(
        {"pipeline": model.pipeline, "lemma_view": LEMMA_VIEW},
        path,
        compression=zipfile.ZIP_DEFLATED,
    )


def load_routing_model(path: Path, labels: Sequence[str] | None) -> LearnedModel:
    """Load a model file; its labels must all be among `labels` (the departments and none),
    unless that is None (the departments have mistakes of their own)."""
    try:
        import skops.io
    except ImportError:
        raise ModelFileError(f"needs scikit-learn and skops: {MODEL_EXTRA}") from None
    try:
        untrusted = set(skops.io.get_untrusted_types(file=path))
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # a zip that is not a skops file, or no zip at all
        raise ModelFileError(f"{path} is not a model file ({type(exc).__name__})") from None
    unexpected = sorted(untrusted - TRUSTED_TYPES)
    if unexpected:
        raise ModelFileError(
            f"{path} holds types `deskbridge routing train` does not write: "
            + ", ".join(unexpected[:5])
        )
    try:
        saved = skops.io.load(path, trusted=sorted(untrusted))
        # A file written before the reading was saved with the model holds the pipeline alone.
        if isinstance(saved, dict):
            view = saved.get("lemma_view")
            model = LearnedModel(saved["pipeline"], view if isinstance(view, int) else None)
        else:
            model = LearnedModel(saved, UNRECORDED_LEMMA_VIEW)
    except Exception as exc:
        raise ModelFileError(f"{path} is not a model file ({type(exc).__name__})") from None
    unknown = [label for label in model.labels if labels is not None and label not in labels]
    if unknown:
        raise ModelFileError(
            f"{path} was trained on labels that are not departments here: {', '.join(unknown)}"
            f" (expected some of {', '.join(labels)})"
        )
    return model
