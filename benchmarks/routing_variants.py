"""Other pipelines for routing's learned model, to compare with `deskbridge routing train`'s in
benchmarks/routing_crossval.py (`--trainer benchmarks.routing_variants:NAME`).

Each is a trainer: labelled tickets → an object with `labels` and `probabilities(texts)`. The
ones measured in the model16 session (benchmarks/README.md has their figures):

- `previous`: the pipeline `routing train` fitted before it (words 1-2 + char_wb 2-5 tf-idf,
  LogisticRegression C=10);
- `lemmas`: that, plus word 1-2 grams of `model_lemmas` (the phrases' reading of the text);
- `balanced`: `previous` with C=30 and balanced class weights;
- `accents`: `previous` with accents stripped from both views;
- `svm`: `previous` averaged with a calibrated linear SVM on the same features;
- `nb`: `previous` averaged with complement naive Bayes;
- `lemmas_svm`, `lemmas_balanced_svm`: the lemma view in both members of the `svm` average.

`routing train`'s own (`lemmas` and `balanced` together) is routing_crossval's default. The
ones measured in the model29 session (2026-12-07), each on `routing train`'s three views:

- `calibrated`: its logistic regression calibrated by CalibratedClassifierCV (sigmoid, 5
  inner folds);
- `per_view`: one logistic regression per view (words, characters, lemmas), averaged;
- `balanced_lr_svm`: its logistic regression averaged with a calibrated linear SVM, both with
  balanced class weights.

The ones measured in the thirty-fifth session (2026-12-07), cheaper to score without
scikit-learn (benchmarks/pure_model_cost.py): `no_chars`, `routing train`'s pipeline without
its character view; `words_only`, its word view alone.

The ones measured in the thirty-sixth session (2026-12-08), a lemma model scored on the phrase
scan's tokens (benchmarks/lemma_model.py): `lemma_pairs`, words and pairs of neighbouring
words; `lemma_words`, words alone.
"""

from __future__ import annotations

from typing import Any

from deskbridge.workflows.accuracy import LabelledTicket
from deskbridge.workflows.classify import model_lemmas, model_text


class Average:
    """Fitted pipelines whose probabilities are averaged (their labels are in one order:
    scikit-learn sorts them)."""

    def __init__(self, *pipelines: Any):
        self.pipelines = pipelines
        self.labels = tuple(str(c) for c in pipelines[0].classes_)

    def probabilities(self, texts: list[str]) -> Any:
        return sum(p.predict_proba(texts) for p in self.pipelines) / len(self.pipelines)


def _features(lemmas: bool = False, strip_accents: str | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    views = [
        (
            "words",
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents=strip_accents),
        ),
        (
            "chars",
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(2, 5),
                sublinear_tf=True,
                strip_accents=strip_accents,
            ),
        ),
    ]
    if lemmas:
        views.append(
            (
                "lemmas",
                TfidfVectorizer(preprocessor=model_lemmas, ngram_range=(1, 2), sublinear_tf=True),
            )
        )
    return FeatureUnion(views)


def _logistic(c: float = 10.0, class_weight: str | None = None) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight=class_weight, max_iter=2000)


def _svm(class_weight: str | None = None) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    return CalibratedClassifierCV(
        LinearSVC(C=0.3, class_weight=class_weight), method="sigmoid", cv=5
    )


def _complement_nb() -> Any:
    from sklearn.naive_bayes import ComplementNB

    return ComplementNB(alpha=0.3)


def _fit(features: Any, classifier: Any, tickets: list[LabelledTicket]) -> Any:
    from sklearn.pipeline import Pipeline

    pipeline = Pipeline([("features", features), ("classifier", classifier)])
    texts = [model_text(t.subject, t.description, t.customer_messages) for t in tickets]
    return pipeline.fit(texts, [t.department for t in tickets])


def previous(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_features(), _logistic(), tickets))


def lemmas(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_features(lemmas=True), _logistic(), tickets))


def balanced(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_features(), _logistic(30.0, "balanced"), tickets))


def accents(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_features(strip_accents="unicode"), _logistic(), tickets))


def svm(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_features(), _logistic(), tickets), _fit(_features(), _svm(), tickets))


def nb(tickets: list[LabelledTicket]) -> Average:
    return Average(
        _fit(_features(), _logistic(), tickets), _fit(_features(), _complement_nb(), tickets)
    )


def lemmas_svm(tickets: list[LabelledTicket]) -> Average:
    return Average(
        _fit(_features(lemmas=True), _logistic(), tickets),
        _fit(_features(lemmas=True), _svm(), tickets),
    )


def lemmas_balanced_svm(tickets: list[LabelledTicket]) -> Average:
    return Average(
        _fit(_features(lemmas=True), _logistic(30.0, "balanced"), tickets),
        _fit(_features(lemmas=True), _svm(), tickets),
    )


def calibrated(tickets: list[LabelledTicket]) -> Average:
    from sklearn.calibration import CalibratedClassifierCV

    classifier = CalibratedClassifierCV(_logistic(30.0, "balanced"), method="sigmoid", cv=5)
    return Average(_fit(_features(lemmas=True), classifier, tickets))


def per_view(tickets: list[LabelledTicket]) -> Average:
    from sklearn.pipeline import FeatureUnion

    views = _features(lemmas=True).transformer_list
    return Average(
        *(_fit(FeatureUnion([view]), _logistic(30.0, "balanced"), tickets) for view in views)
    )


def balanced_lr_svm(tickets: list[LabelledTicket]) -> Average:
    return Average(
        _fit(_features(lemmas=True), _logistic(30.0, "balanced"), tickets),
        _fit(_features(lemmas=True), _svm("balanced"), tickets),
    )


# The thirtieth session's (2026-12-07): `routing train`'s three views and balanced logistic
# regression, with the vocabulary pruned or the regularisation changed.
def _views(
    min_df: int = 1, chars: tuple[int, int] = (2, 5), words: tuple[int, int] = (1, 2)
) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=words, sublinear_tf=True, min_df=min_df)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=chars, sublinear_tf=True, min_df=min_df
                ),
            ),
            (
                "lemmas",
                TfidfVectorizer(
                    preprocessor=model_lemmas, ngram_range=words, sublinear_tf=True, min_df=min_df
                ),
            ),
        ]
    )


def min_df2(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_views(min_df=2), _logistic(30.0, "balanced"), tickets))


def min_df3(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_views(min_df=3), _logistic(30.0, "balanced"), tickets))


def c10(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_views(), _logistic(10.0, "balanced"), tickets))


def c100(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_views(), _logistic(100.0, "balanced"), tickets))


def chars_1_4(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_views(chars=(1, 4)), _logistic(30.0, "balanced"), tickets))


def chars_3_6(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_views(chars=(3, 6)), _logistic(30.0, "balanced"), tickets))


def words_1_3(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_views(words=(1, 3)), _logistic(30.0, "balanced"), tickets))


def unpruned(tickets: list[LabelledTicket]) -> Average:
    """`routing train`'s pipeline before the thirtieth session: every n-gram kept."""
    return Average(_fit(_views(), _logistic(30.0, "balanced"), tickets))


# The thirty-fifth session's (2026-12-07): cheaper views for a model scored without
# scikit-learn (a starter model in the default install): `routing train`'s pipeline without
# the character view (its 2-5 grams are most of the scoring's cost), and words alone.
def _word_views(lemmas: bool = True) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    views = [("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2))]
    if lemmas:
        views.append(
            (
                "lemmas",
                TfidfVectorizer(
                    preprocessor=model_lemmas, ngram_range=(1, 2), sublinear_tf=True, min_df=2
                ),
            )
        )
    return FeatureUnion(views)


def no_chars(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_word_views(), _logistic(30.0, "balanced"), tickets))


def words_only(tickets: list[LabelledTicket]) -> Average:
    return Average(_fit(_word_views(lemmas=False), _logistic(30.0, "balanced"), tickets))


# The thirty-sixth session's (2026-12-08): a lemma model (benchmarks/lemma_model.py), a linear
# model over the lemmas the phrases read, asked about the tickets as the scan reads them
# (`ticket_probabilities`): words and pairs of neighbouring words, and words alone.
def _lemma_model(tickets: list[LabelledTicket], pairs: bool) -> Any:
    from benchmarks.lemma_model import LemmaModel
    from deskbridge.config.rules import load_rules
    from deskbridge.config.settings import EXAMPLE_CONFIG

    return LemmaModel(tickets, load_rules(EXAMPLE_CONFIG).routing, pairs)


def lemma_pairs(tickets: list[LabelledTicket]) -> Any:
    return _lemma_model(tickets, True)


def lemma_words(tickets: list[LabelledTicket]) -> Any:
    return _lemma_model(tickets, False)
