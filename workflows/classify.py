"""Which problem a ticket is about and which department can fix it, with the reason (pure).

Sources, in order: the explicit category field, tags, then phrases in the subject, the
description and the customer's later messages. The first source that names a category wins.

Among phrases, intent comes before topic: a customer who asks for a remedy (a category marked
`remedy`: refund, replacement, compensation…) goes where remedies are approved, whatever the
problem, and the reason names the problem too. Otherwise the problem's phrases decide, and when
a second department scores close to the best one the ticket is left for a person to pick
(`source` "ambiguous"): asking costs a click, a wrong hand-off costs a day.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import compress
from operator import itemgetter
from typing import Any, NamedTuple, Protocol

from deskbridge.config.rules import RoutingConfig
from deskbridge.workflows.frozen import quick_init
from deskbridge.workflows.memo import Memo
from deskbridge.workflows.text import (
    BREAK,
    NEGATORS,
    PhraseIndex,
    PhraseMatch,
    build_sign_offs,
    compile_phrase,
    grouped_index,
    lemma,
    own_words,
    tokenize,
    vary_phrase,
    without_signature,
)

DEPARTMENT_NAMES = {"logistics": "Logistics", "quality": "Quality", "post_sales": "Post-Sales"}
NOT_A_PROBLEM = "not_a_problem"  # the group of routing.not_a_problem phrases in the index
NEEDS = "needs:"  # + a category's name: the group of its `needs` phrases in the index
REQUEST = "request:"  # the group of routing.request_words in the index
VERB = "verb:"  # the group of routing.remedy_verbs in the index
CUED = "cued:"  # + a category's name: the group of its `cued` phrases in the index
INQUIRY = "inquiry:"  # the group of routing.inquiry_words in the index
THANKED = "thanked:"  # the group of routing.thanked_words in the index
COURTESY = "courtesy:"  # the group of routing.courtesy_words in the index
PAGE = "page:"  # the group of routing.page_words in the index
BEFORE = "before:"  # the group of routing.before_ordering in the index
DISMISSED = "dismissed:"  # the group of routing.dismissals in the index
DECLINED = "declined:"  # the group of routing.declines in the index


class Hit(NamedTuple):
    """One phrase found in the ticket, with what it is worth (0 when it does not count)."""

    category: str  # a category name, or NOT_A_PROBLEM
    phrase: str
    where: str  # subject | description | customer wrote
    points: float
    negated_by: str | None = None
    conditional: bool = False
    corrected: tuple[str, ...] = ()
    # The category counts only with one of its `needs` phrases, and the ticket names none.
    unmet: bool = False
    # One of routing.weak_remedies in a clause of the description that asks for nothing ("I
    # had to replace the bulb"), or one of a remedy's `objects` in a clause without both a
    # request word and a remedy verb ("another one came"): mentioned, not requested.
    unasked: bool = False
    # The word of the category's `not_after` that makes the phrase about something else ("the
    # tracking link is broken": "link").
    about: str | None = None
    # The word of routing.resolved_words that says the problem or remedy is over ("the
    # missing screws arrived": "arrive").
    resolved: str | None = None

    @property
    def counts(self) -> bool:
        return self.points > 0


@quick_init  # one made per ticket classified: its fields written at once, not one call each
@dataclass(frozen=True)
class Classification:
    category: str | None
    department: str | None
    reason: str
    source: str  # field | tag | phrase | ambiguous | none
    score: float = 0.0
    # For `routing explain`: every phrase found (counted or not), each category's score, and
    # the best category of another department than the winner's.
    hits: tuple[Hit, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    runner_up: str | None = None
    problem: str | None = None  # the problem behind a remedy request
    # The learned model's answer (label, probability) when it was asked (routing.model).
    model_answer: tuple[str, float] | None = None
    # The department the phrases chose, when the model's disagreement left it to a person
    # (source ambiguous) or the model overruled it (source model; "none", the model's own
    # label for it, when the phrases said the ticket is no order problem).
    disputed: str | None = None

    @property
    def asks(self) -> bool:
        """Nothing decided: a person should pick the department."""
        return self.source in ("none", "ambiguous")


class RoutingModel(Protocol):
    """A classifier learned from a team's labelled tickets (config/routing_model.py), loaded
    once with the rules: the most probable label (a department key or "none") for a ticket's
    text, and its probability."""

    def predict(self, text: str) -> tuple[str, float]: ...


def model_text(
    subject: str | None, description: str | None, customer_messages: Iterable[str] = ()
) -> str:
    """The text a learned model reads, the same in training and in use: the customer's own
    words, as the phrases read them."""
    parts = [subject or "", own_words(description or "")]
    parts += [own_words(message) for message in customer_messages if message]
    return "\n".join(part for part in parts if part)


def model_lemmas(text: str) -> str:
    """A second view of `model_text` for the learned model: the words as the phrases read them
    (folded, lemmatised, amounts read as "money", negative contractions spelt out), so a new
    author's "arrived", "arriving" and "arrives" are one feature. A module-level function, so
    a model file names it (config/routing_model.py trusts it by that name)."""
    return " ".join(word for word in tokenize(text) if word != BREAK)


def _label(config: RoutingConfig, category: str, department_name: str) -> str:
    return f"{config.categories[category].label} → {department_name}"


def classify_ticket(
    config: RoutingConfig,
    *,
    subject: str | None,
    description: str | None,
    tags: Iterable[str] = (),
    fields: dict[str, str] | None = None,
    customer_messages: Iterable[str] = (),
    department_names: dict[str, str] | None = None,
    model: RoutingModel | None = None,
) -> Classification:
    """The department for a ticket. With a learned `model` (routing.model), a ticket the
    field, tags and phrases leave for a person to pick is given to the model's department
    when it is at least routing.model_min_confidence sure of it, and a department the phrases
    chose is left to a person when the model is at least routing.ask_when_model_disagrees
    sure of another answer, and given to the model's department when it is at least
    routing.model_overrides_from sure of that."""
    names = department_names or DEPARTMENT_NAMES
    found = classify_by_field_or_tag(config, tags=tags, fields=fields, department_names=names)
    if found is not None:
        return found
    return classify_texts(
        config,
        subject=subject,
        description=description,
        customer_messages=customer_messages,
        department_names=names,
        model=model,
    )


def classify_by_field_or_tag(
    config: RoutingConfig,
    *,
    tags: Iterable[str] = (),
    fields: dict[str, str] | None = None,
    department_names: dict[str, str] | None = None,
) -> Classification | None:
    """`classify_ticket`'s answer when the category field or a category's tag decides it,
    else None (the texts decide: `classify_texts`)."""
    names = department_names or DEPARTMENT_NAMES
    fields = fields or {}
    for key in (config.category_field, config.category_field_id) if fields else ():
        if not key or not fields.get(key):
            continue
        value = fields[key].strip().lower()
        for name, category in config.categories.items():
            if value in (v.lower() for v in category.field_values):
                reason = f'field {key} is "{value}" → ' + _label(
                    config, name, names[category.department]
                )
                return Classification(name, category.department, reason, "field")

    tag_set = {t.lower() for t in tags} if tags else set()  # (no comprehension for no tags)
    tagged = (
        [(name, tag) for lowered, name, tag in _category_tags(config) if lowered in tag_set]
        if tag_set
        else []
    )
    if tagged:
        # Intent before topic here too: a remedy tag beats a problem tag.
        name, tag = min(tagged, key=lambda t: not config.categories[t[0]].remedy)
        category = config.categories[name]
        reason = f'tag "{tag}" → ' + _label(config, name, names[category.department])
        return Classification(name, category.department, reason, "tag")
    return None


def _category_tags(config: RoutingConfig) -> tuple[tuple[str, str, str], ...]:
    """(tag lower-cased, category, tag) of every category's tags, in the categories' order:
    read from the config once (the tags are checked whenever a ticket's tags or texts
    changed, and each read of a config model's field is pydantic's slow path on 3.11)."""
    found = _CATEGORY_TAGS.get(config, ())
    if found is None:
        found = _CATEGORY_TAGS.put(
            config,
            (),
            tuple(
                (tag.lower(), name, tag)
                for name, category in config.categories.items()
                for tag in category.tags
            ),
        )
    return found


_CATEGORY_TAGS = Memo(16)


def classify_texts(
    config: RoutingConfig,
    *,
    subject: str | None,
    description: str | None,
    customer_messages: Iterable[str] = (),
    department_names: dict[str, str] | None = None,
    model: RoutingModel | None = None,
) -> Classification:
    """`classify_ticket`'s answer when neither the category field nor a tag decides: by the
    phrases of the texts (and the learned `model`), which read neither tags nor fields."""
    names = department_names or DEPARTMENT_NAMES
    threshold = config.model_min_confidence
    plan = _plan(config)
    config, sign_offs = plan.config, plan.sign_offs
    # (Comprehensions only for a ticket with later messages: each is a call of its own.)
    customer_messages = (
        [message for message in customer_messages if message] if customer_messages else []
    )
    texts = [
        ("subject", subject or "", config.subject_weight),
        ("description", without_signature(own_words(description or ""), sign_offs), 1.0),
    ]
    if customer_messages:
        texts += [
            ("customer wrote", without_signature(own_words(message), sign_offs), 1.0)
            for message in customer_messages
        ]
    question = _only_yes_no_questions(texts)
    hits = _find_hits(plan, texts, question)
    result = _decide(plan, config, hits, names, question)
    if model is None:
        return result
    label, probability = model.predict(model_text(subject, description, customer_messages))
    answer = (label, probability)
    if not result.asks:
        # A second opinion on a department: the phrases' one misreading is a confident
        # misroute, and a model sure of another answer makes it a question instead.
        if label == result.department:
            return replace(result, model_answer=answer)
        overrule = config.model_overrides_from
        if overrule is not None and label in names and probability >= overrule:
            # Surer still, of a department: on blind phrases it is the model that is right
            # there, over another department and over "not an order problem" alike
            # (docs/routing-accuracy.md, "The model's thresholds" and model29's section).
            reason = (
                f"the learned model: {names[label]} ({probability:.0%} sure) over the phrases:"
                f" {result.reason}"
            )
            return replace(
                result,
                category=None,
                department=label,
                reason=reason,
                source="model",
                score=round(probability, 3),
                problem=None,
                model_answer=answer,
                disputed=result.department or "none",
            )
        if result.department is None:  # below that, "not an order problem" stands
            return replace(result, model_answer=answer)
        doubt = config.ask_when_model_disagrees
        if doubt is None or probability < doubt:
            return replace(result, model_answer=answer)
        other = names.get(label, "not an order problem")
        reason = (
            f"the phrases: {result.reason}; the learned model: {other} ({probability:.0%} sure):"
            " they disagree"
        )
        return replace(
            result,
            category=None,
            department=None,
            reason=reason,
            source="ambiguous",
            model_answer=answer,
            disputed=result.department,
        )
    if label not in names or probability < threshold:
        return replace(result, model_answer=answer)
    reason = (
        f"the learned model: {names[label]} ({probability:.0%} sure); the phrases: {result.reason}"
    )
    return replace(
        result,
        department=label,
        reason=reason,
        source="model",
        score=round(probability, 3),
        model_answer=answer,
    )


class _Plan(NamedTuple):
    """A config's phrases compiled once: the main index (categories and not-a-problem), the
    index of the words that only qualify others (`needs` phrases, request words: scanned only
    when a follow-up or a weak remedy is found), the index of fallback categories' general
    words (scanned only when nothing else counts), each group's checks (`groups`), the weak
    remedies and each gated category's `needs` phrases."""

    index: PhraseIndex  # type: ignore[assignment]  # shadows tuple.index, never called
    qualifiers: PhraseIndex
    fallback: PhraseIndex | None
    weak: frozenset[str]
    objects: frozenset[str]  # the remedies' `objects`: need a request word and a remedy verb
    topics: frozenset[str]  # routing.topic_words
    needs: dict[str, frozenset[str]]  # a category's `needs` phrases
    config: RoutingConfig  # with each phrase's synonym variants listed after it
    cued: dict[str, tuple[str, frozenset[str]]]  # a cued group → (its category, its cues)
    all_cues: frozenset[str]  # every category's cues
    all_not_after: frozenset[str]  # every category's not_after words
    cue_stops: frozenset[str]
    receipts: frozenset[str]  # routing.receipt_words, as lemmas
    sign_offs: frozenset[str]  # routing.sign_offs, as without_signature compares them
    resolved_words: frozenset[str]  # routing.resolved_words, as lemmas
    absent: frozenset[str]  # routing.absent_words, as lemmas
    things: frozenset[str]  # routing.things, as lemmas
    remedied_things: frozenset[str]  # things and routing.delivery_things, as lemmas
    open_objects: frozenset[str]  # objects that end in "…": a thing must follow
    remedy_nouns: frozenset[str]  # routing.remedy_nouns
    clause_end_dismissals: frozenset[str]  # routing.clause_end_dismissals
    # routing.particles: a verb's lemma → its particles; the phrases (as listed) that end in
    # one of those verbs, the only ones a particle can follow (one look-up a match).
    particles: dict[str, frozenset[str]]
    phrasal: frozenset[str]
    # A group → (weight, remedy, its category's not_after words or None, resolvable): what the
    # per-match checks ask of a group, in one look-up.
    groups: dict[str, tuple[float, bool, frozenset[str] | None, bool]]
    # A cued group → its `cues_after`, compiled, by their first word.
    cues_after: dict[str, dict[str, tuple[tuple[str, ...], ...]]]
    departments: dict[str, str]  # a category's or cued group's department
    # The words of topic_words after their first ("card" of "debit card"): only an object
    # followed by one of them can end inside a topic.
    topic_tails: frozenset[str]
    # Where each phrase is first listed, by category (its phrases, then its objects), and
    # routing.not_a_problem's under None: _strongest's tie-break, without a list search.
    listed: dict[str | None, tuple[dict[str, int], int]]
    remedies: frozenset[str]  # the remedy categories
    fallbacks: frozenset[str]  # the fallback categories
    # Every word _scan_texts asks whether a text has (cues, not_after words, resolved words,
    # comparatives, contrasts, "do"): a text's own set of them is all those tests need.
    asked_words: frozenset[str]
    # The phrases of open_objects, remedy_nouns, phrasal, weak and objects, in one set: the
    # per-match checks of those kinds are asked only of its phrases.
    specials: frozenset[str]
    # The phrases with a clause break of their own (before their "but": "delivered but not
    # received"), the break a match of theirs holds.
    broken: frozenset[str]
    # A text's weight → a group → the points of a phrase of n words (n the index), rounded as
    # _ROUNDED rounds them: a hit's points by two look-ups, not by multiplying two floats and
    # rounding the product (see _points_by_group). The subject's weight and 1.0 from the start.
    points: dict[float, dict[str, tuple[float, ...]]]


# The compiled phrases of the configs in use, by identity (a config is not hashable; the entry
# keeps it alive, so its id is not reused while the entry exists).
_PLANS: dict[int, tuple[RoutingConfig, _Plan]] = {}


def _plan(config: RoutingConfig) -> _Plan:
    entry = _PLANS.get(id(config))
    if entry is not None and entry[0] is config:
        return entry[1]
    if config.synonyms:
        varied = _with_synonyms(config)
        plan = _plan(varied)
        _PLANS[id(config)] = (config, plan)
        return plan
    categories = config.categories.items()
    index = grouped_index(
        (
            # Cued groups first: where a cued phrase and another category's phrase are the
            # same words, the cued one is met first (see _scan_texts, cued_spans).
            *((CUED + name, tuple(c.cued)) for name, c in categories if c.cued and c.cues),
            *((name, (*c.phrases, *c.objects)) for name, c in categories if not c.fallback),
            (NOT_A_PROBLEM, tuple(config.not_a_problem)),
            # Found in the same scan as the phrases: a remedy's clause is checked for them.
            (INQUIRY, tuple(config.inquiry_words)),
            (THANKED, tuple(config.thanked_words)),
            (COURTESY, tuple(config.courtesy_words)),
            (PAGE, tuple(config.page_words)),
            (BEFORE, tuple(config.before_ordering)),
            (DISMISSED, (*config.dismissals, *config.clause_end_dismissals)),
            (DECLINED, tuple(config.declines)),
        )
    )
    qualifiers = grouped_index(
        (
            *((NEEDS + name, tuple(c.needs)) for name, c in categories if c.needs),
            (REQUEST, tuple(config.request_words)),
            (VERB, tuple(config.remedy_verbs)),
        )
    )
    general = tuple((name, tuple(c.phrases)) for name, c in categories if c.fallback)
    fallback = grouped_index(general) if general else None
    weights = {name: (c.weight, c.remedy) for name, c in categories}
    weights[NOT_A_PROBLEM] = (1.0, False)
    cued = {
        CUED + name: (name, frozenset(lemma(w) for cue in c.cues for w in compile_phrase(cue)))
        for name, c in categories
        if c.cued and c.cues
    }
    weights |= {group: weights[name] for group, (name, _) in cued.items()}
    cues_after: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {}
    for name, c in categories:
        if c.cued and c.cues and c.cues_after:
            by_first: dict[str, list[tuple[str, ...]]] = {}
            for cue in dict.fromkeys(compile_phrase(p) for p in c.cues_after):
                if cue:
                    by_first.setdefault(cue[0], []).append(cue)
            cues_after[CUED + name] = {first: tuple(cues) for first, cues in by_first.items()}
    not_after = {
        name: frozenset(lemma(w) for word in c.not_after for w in compile_phrase(word))
        for name, c in categories
        if c.not_after
    }
    resolvable = frozenset(
        group for name, c in categories if c.resolvable for group in (name, CUED + name)
    )
    particles = {
        lemma(verb): frozenset(w for p in words for w in compile_phrase(p)[:1])
        for verb, words in config.particles.items()
    }
    all_cues = frozenset().union(
        *(cues for _, cues in cued.values()),
        # An after-cue's last word ("arrival", "delivery"): the quick test for any cue.
        *(
            frozenset(cue[-1] for cues in by_first.values() for cue in cues)
            for by_first in cues_after.values()
        ),
    )
    all_not_after = frozenset().union(*not_after.values())
    # Each entry's first word: "turned up" is "turn" ("up" alone says nothing).
    resolved_words = frozenset(
        compile_phrase(w)[0] for w in config.resolved_words if compile_phrase(w)
    )
    plan = _Plan(
        index,
        qualifiers,
        fallback,
        frozenset(config.weak_remedies),
        frozenset(o for c in config.categories.values() for o in c.objects),
        frozenset(config.topic_words),
        {name: frozenset(c.needs) for name, c in categories if c.needs},
        config,
        cued,
        all_cues,
        all_not_after,
        frozenset(lemma(w) for stop in config.cue_stops for w in compile_phrase(stop)),
        frozenset(lemma(w) for word in config.receipt_words for w in compile_phrase(word)),
        build_sign_offs(config.sign_offs),
        resolved_words,
        frozenset(lemma(w) for word in config.absent_words for w in compile_phrase(word)),
        frozenset(lemma(w) for word in config.things for w in compile_phrase(word)),
        frozenset(
            lemma(w)
            for word in (*config.things, *config.delivery_things)
            for w in compile_phrase(word)
        ),
        frozenset(
            o for c in config.categories.values() for o in c.objects if o.endswith(_OPEN_END)
        ),
        frozenset(config.remedy_nouns),
        frozenset(config.clause_end_dismissals),
        particles,
        frozenset(
            p
            for c in config.categories.values()
            for p in (*c.phrases, *c.objects, *c.cued)
            if compile_phrase(p)[-1:] and compile_phrase(p)[-1] in particles
        ),
        {
            group: (weight, remedy, not_after.get(group), group in resolvable)
            for group, (weight, remedy) in weights.items()
        },
        cues_after,
        {
            **{name: c.department for name, c in categories},
            **{group: config.categories[name].department for group, (name, _) in cued.items()},
        },
        frozenset(w for topic in config.topic_words for w in compile_phrase(topic)[1:]),
        {
            None: _places(config.not_a_problem),
            **{name: _places([*c.phrases, *c.objects]) for name, c in categories},
        },
        frozenset(name for name, c in categories if c.remedy),
        frozenset(name for name, c in categories if c.fallback),
        frozenset({"do"}).union(_COMPARATIVES, _CONTRASTS, all_cues, all_not_after, resolved_words),
        frozenset(),  # specials, below
        frozenset(
            phrase
            for found in (index, fallback)
            if found is not None
            for _, phrases in found.groups
            for phrase in phrases
            if BREAK in compile_phrase(phrase)
        ),
        {},
    )
    plan = plan._replace(
        specials=plan.open_objects.union(plan.remedy_nouns, plan.phrasal, plan.weak, plan.objects)
    )
    for weight in (config.subject_weight, 1.0):
        _points_by_group(plan, weight)
    if len(_PLANS) >= 64:
        _PLANS.clear()
    _PLANS[id(config)] = (config, plan)
    return plan


def _points_by_group(plan: _Plan, weight: float) -> dict[str, tuple[float, ...]]:
    """plan.points[weight], worked out the first time: for each group, the points of a phrase of
    n words (n from 0 to the longest phrase's words + 1, for a cue's word) in a text of that
    weight, `(n * weight) * factor` rounded as _scan_texts rounded it for each hit."""
    found = plan.points.get(weight)
    if found is None:
        longest = max(
            (
                len(compile_phrase(phrase))
                for index in (plan.index, plan.fallback)
                if index is not None
                for _, phrases in index.groups
                for phrase in phrases
            ),
            default=0,
        )
        found = plan.points[weight] = {
            group: tuple(_ROUNDED[n * weight * factor] for n in range(longest + 2))
            for group, (factor, _, _, _) in plan.groups.items()
        }
    return found


def _places(phrases: list[str]) -> tuple[dict[str, int], int]:
    """Where each phrase is first in the list, and the list's length."""
    places: dict[str, int] = {}
    for at, phrase in enumerate(phrases):
        places.setdefault(phrase, at)
    return places, len(phrases)


def _with_synonyms(config: RoutingConfig) -> RoutingConfig:
    """The config with every phrase list varied by routing.synonyms (see `vary_phrase`); a
    variant that is already a phrase of any list is left to that list."""
    synonyms = {lemma(word): tuple(alternatives) for word, alternatives in config.synonyms.items()}
    categories = config.categories.values()
    written = {
        compile_phrase(p)
        for lists in (
            *((c.phrases, c.objects, c.needs) for c in categories),
            (config.not_a_problem, config.weak_remedies, config.topic_words),
        )
        for phrases in lists
        for p in phrases
    }

    def vary(phrases: list[str]) -> list[str]:
        out: list[str] = []
        for phrase in phrases:
            out.append(phrase)
            for variant in vary_phrase(phrase, synonyms)[1:]:
                tokens = compile_phrase(variant)
                if tokens not in written:
                    out.append(variant)
        return list(dict.fromkeys(out))

    return config.model_copy(
        update={
            "synonyms": {},
            "categories": {
                name: c.model_copy(
                    update={
                        "phrases": vary(c.phrases),
                        "objects": vary(c.objects),
                        "needs": vary(c.needs),
                        "cued": vary(c.cued),
                    }
                )
                for name, c in config.categories.items()
            },
            "not_a_problem": vary(config.not_a_problem),
            "weak_remedies": vary(config.weak_remedies),
            "topic_words": vary(config.topic_words),
        }
    )


class _Rounded(dict):
    """points → round(points, 2), worked out once per value: round to digits costs about
    0.5 µs, a dict look-up a tenth of that, and a config's points take few values (bounded
    all the same)."""

    def __missing__(self, points: float) -> float:
        value = round(points, 2)
        if len(self) < 65536:
            self[points] = value
        return value


_ROUNDED = _Rounded()

# A Hit from a tuple of all its fields without the Python-level __new__ of a NamedTuple:
# _new_hit(fields), or _TUPLE_NEW(Hit, fields) in the hot loop (no partial's call between).
_new_hit = partial(tuple.__new__, Hit)
_TUPLE_NEW = tuple.__new__
_SIZE = itemgetter(2)  # PhraseMatch.tokens
_POINTS = itemgetter(3)  # Hit.points
_PHRASE = itemgetter(1)  # Hit.phrase


def _find_hits(
    plan: _Plan, texts: list[tuple[str, str, float]], question: bool = False
) -> list[Hit]:
    """Every phrase occurrence with its points: its number of words, times where it is (the
    subject weighs more), times the category's weight. A phrase inside a longer one found at
    the same place adds nothing ("arrived cracked" is not also "cracked"), nor does a phrase
    overlapping another of its own category; each phrase counts once. A category with `needs`
    counts only when one of them is found; the general words of fallback categories are looked
    for only when no other phrase counts."""
    qualifiers = _Qualifiers(plan.qualifiers)
    hits = _scan_texts(plan, plan.index, texts, qualifiers)
    needs = plan.needs
    gated: set[str] = set()  # (a loop, not a comprehension: most tickets add nothing)
    for h in hits:
        if h[0] in needs and h[3] > 0:  # category, points
            gated.add(h[0])
    # Most follow-ups name the remedy with a phrase of a remedy category too ("refund"): then
    # the qualifying words need no scan of their own.
    # A remedy only asked about or mentioned ("do you have any compensation policy?") names
    # none: "the old sofa to be collected" beside it is no follow-up.
    unmet = gated and {
        name
        for name in gated
        if not any(
            h.negated_by is None and not h.unasked and h.about is None
            for h in _hits_of(hits, needs[name])
        )
        and not qualifiers.named(texts).get(NEEDS + name, set())
        - {h.phrase for h in hits if h.unasked or h.about is not None}
    }
    # A follow-up that names the remedy itself ("where is my refund") needs no other word
    # for it: a refund only asked about elsewhere ("your website says refunds take 5 days")
    # does not take its own away.
    unmet = unmet and {
        name
        for name in unmet
        if not any(h.unasked for h in _hits_of(hits, needs[name]))
        or not any(
            h.category == name and h.counts and _names_one_of(h.phrase, needs[name]) for h in hits
        )
    }
    if unmet:
        hits = [
            h._replace(points=0.0, unmet=True) if h.category in unmet and h.counts else h
            for h in hits
        ]
    # A problem or remedy said to be over is no call for general words either, nor is a
    # yes-or-no question ("Does the wardrobe need two people to assemble?"), nor a problem
    # only asked about ("do the legs come off?").
    if plan.fallback is not None and not question:
        for h in hits:  # (a loop, not a generator: most tickets stop at their first hit)
            if h.points > 0 or h.resolved or (h.unasked and not plan.groups[h.category][1]):
                break
        else:
            hits += _scan_texts(plan, plan.fallback, texts, qualifiers)
    return hits


# A clause opening with "do" or "does" (after "or", "and") asks whether something is so ("do
# the legs come off?"), unless a person follows ("do you", "do I": a request, a worry).
_WHETHER_SKIPPED = frozenset({"or", "and", "so"})
_NOT_WHETHER = NEGATORS | frozenset({"you", "u", "i", "we"})


def _whether_clauses(tokens: tuple[str, ...]) -> dict[int, int]:
    """The clauses (by number) that open with "do"/"does" (lemma "do") and a thing, with
    where the thing starts: a phrase after it is asked about. Only
    the few "do"s are looked at."""
    found: dict[int, int] = {}
    at = -1
    last = len(tokens) - 1
    for _ in range(tokens.count("do")):
        at = tokens.index("do", at + 1)
        if at == last or tokens[at + 1] in _NOT_WHETHER or tokens[at + 1] == BREAK:
            continue
        begin = at
        while begin and tokens[begin - 1] in _WHETHER_SKIPPED:
            begin -= 1
        if begin == 0 or tokens[begin - 1] == BREAK:
            found.setdefault(tokens[:at].count(BREAK), at + 1)
    return found


def _hits_of(hits: list[Hit], phrases: frozenset[str]) -> Iterable[Hit]:
    """The hits of one of `phrases`, picked out by C-level passes (most hits are of none)."""
    return compress(hits, map(phrases.__contains__, map(_PHRASE, hits)))


def _ends_inside_topic(matches: list[tuple], start: int, end: int, topics: frozenset[str]) -> bool:
    """Whether one of routing.topic_words found in the text starts inside tokens[start:end]
    and goes on after it ("my debit" in "my debit card")."""
    return any(
        start < m[4] < end < m[4] + m[2] and m[0] in topics
        for m in matches  # PhraseMatch fields: phrase, group, tokens, clause, start…
    )


def _names_one_of(phrase: str, words: frozenset[str]) -> bool:
    """Whether one of `words` (phrases) is in `phrase`, word for word (as lemmas)."""
    tokens = compile_phrase(phrase)
    for word in words:
        part = compile_phrase(word)
        if part and any(
            tokens[at : at + len(part)] == part for at in range(len(tokens) - len(part) + 1)
        ):
            return True
    return False


# Words that open a yes-or-no question ("Does it…?", "Will the driver…?", "Do you accept
# Klarna?"); a modal before "you" makes a request ("Can you stop the return?").
_YES_NO_OPENERS = frozenset(
    {"do", "does", "is", "are", "will", "would", "should", "can", "could", "have", "has"}
)
_REQUEST_OPENERS = frozenset({"will", "would", "can", "could"})
_GREETINGS = frozenset({"hi", "hello", "hey", "dear", "morning", "afternoon", "evening"})


def _only_yes_no_questions(texts: list[tuple[str, str, float]]) -> bool:
    """Whether the description is nothing but questions, the first opening with an
    auxiliary (after a greeting), and no later text says more."""
    description = texts[1][1] if len(texts) > 1 else ""
    if (  # substring tests, most descriptions stop here (a line break only inside counts)
        len(texts) > 2
        or "?" not in description
        or "." in description
        or "!" in description
        or "\n" in description.strip()
    ):
        return False
    words = [w for w in description.lower().replace(",", " ").split() if w not in _GREETINGS]
    return (
        len(words) > 1
        and words[0] in _YES_NO_OPENERS
        and not (words[0] in _REQUEST_OPENERS and words[1] in ("you", "u"))
    )


# A clause of at most this many words with a request word ("yes please", "please") asks
# for what the next clause names.
_SHORT_REQUEST = 2


def _clause_sizes(tokens: tuple[str, ...]) -> list[int]:
    """The number of words of each clause, by number."""
    sizes = [0]
    for token in tokens:
        if token == BREAK:
            sizes.append(0)
        else:
            sizes[-1] += 1
    return sizes


# The request words that are the shop's offer (routing.request_words has them: "I'll accept
# the replacement you offered" asks).
_OFFER_WORDS = frozenset({"offer", "offered"})


class _Qualifiers:
    """The qualifying words of a ticket's texts, scanned once and only when asked for."""

    def __init__(self, index: PhraseIndex):
        self._index = index
        self._found: dict[str, list[PhraseMatch]] = {}

    def matches(self, text: str) -> list[PhraseMatch]:
        found = self._found.get(text)
        if found is None:
            found = self._found[text] = self._index.scan(tokenize(text))
        return found

    def asking(self, text: str) -> set[int]:
        """The clauses of the text with a request word, and the clause after one that is
        little more than a request word ("Yes please, send a new motor unit")."""
        asking = {m.clause for m in self.matches(text) if m.group == REQUEST}
        if asking:
            sizes = _clause_sizes(tokenize(text))
            asking |= {c + 1 for c in asking if sizes[c] <= _SHORT_REQUEST}
        return asking

    def offered_only(self, text: str) -> set[int]:
        """The clauses of the text whose only request words are an offer's ("we can offer a
        voucher", "you offered a refund"): the shop's words, not the customer's request."""
        words: dict[int, set[str]] = {}
        for m in self.matches(text):
            if m.group == REQUEST:
                words.setdefault(m.clause, set()).add(m.phrase)
        return {clause for clause, said in words.items() if said <= _OFFER_WORDS}

    def gives(self, tokens: tuple[str, ...], start: int, size: int, subject: bool = False) -> bool:
        """Whether the clause around the object at tokens[start:start + size] has a request
        word and a remedy verb (not negated) outside the object ("for what we paid I expected
        better" gives nothing: its "paid" is the object's); in a subject (`subject`), a remedy
        verb right before the object is enough ("Wrong lamp - send the right one": a subject
        is a request by itself). Only that clause is scanned: objects ("the price", "another
        one") are common, a scan of the whole text per ticket is not cheap."""
        begin, end = _clause_around(tokens, start, start)
        found = self._index.scan(tokens[begin:end])
        inside = range(start - begin, start - begin + size)
        verbs = [
            m for m in found if m.group == VERB and m.negated_by is None and m.start not in inside
        ]
        if not verbs:
            return False
        if any(m.group == REQUEST for m in found):
            return True
        if subject and any(m.start + m.tokens == start - begin for m in verbs):
            return True
        # "Yes please, send a new motor unit": the request word alone in the clause before.
        if not begin:
            return False
        before = begin - 1
        opening = _clause_around(tokens, before, before)[0]
        return 0 < before - opening <= _SHORT_REQUEST and any(
            m.group == REQUEST for m in self._index.scan(tokens[opening:before])
        )

    def named(self, texts: list[tuple[str, str, float]]) -> dict[str, set[str]]:
        """The `needs` groups with a phrase found, not negated, in any of the texts: their
        phrases found."""
        found: dict[str, set[str]] = {}
        for _, text, _ in texts:
            if text.strip():
                for m in self.matches(text):
                    if m.group.startswith(NEEDS) and m.negated_by is None:
                        found.setdefault(m.group, set()).add(m.phrase)
        return found


def _scan_texts(
    plan: _Plan,
    index: PhraseIndex,
    texts: list[tuple[str, str, float]],
    qualifiers: _Qualifiers,
) -> list[Hit]:
    groups, weak, objects, cued = plan.groups, plan.weak, plan.objects, plan.cued
    open_objects, remedy_nouns = plan.open_objects, plan.remedy_nouns
    specials, broken, absent = plan.specials, plan.broken, plan.absent
    particles, phrasal = plan.particles, plan.phrasal
    cue_window = plan.config.cue_window
    hits: list[Hit] = []
    counted: set[tuple[str, str]] = set()
    # Remedies asked about, not for ("do you offer compensation when a delivery is late?"):
    # their categories, and where the question is (its not-a-problem words are about them).
    inquired: set[str] = set()
    inquiry_clauses: set[tuple[str, int]] = set()
    calm: list[tuple[int, str, int]] = []  # not-a-problem hits: (index in hits, where, clause)
    # Problems and remedies said to be over ("refund received"): their categories.
    resolved_categories: dict[str, str] = {}  # category → the word that says so
    # The first phrase that says there is no order yet: (where, phrase, its words).
    before_ordering: tuple[str, str, int] | None = None
    # Damage words told with a cue after the subject ("came this morning and there is a long
    # scratch"): their words → (the cued category, the cue).
    told_with: dict[tuple[str, ...], tuple[str, str]] = {}
    subject_hits: int | None = None  # how many hits the subject has (the first ones)
    absent_in_subject: list[int] = []  # the subject's hits of something absent, counted
    # A remedy phrase said of something else outside the subject ("ordered the replacement").
    remedy_said_of_else = False
    let_go: dict[str, str] = {}  # problems let go outside the subject → the dismissal
    for where, text, weight in texts:
        points = _points_by_group(plan, weight)  # a hit's points by group and words
        if where != "subject" and subject_hits is None:
            subject_hits = len(hits)
        if not text.strip():
            continue
        # Remedies that count here: (index in hits, category, clause).
        remedies_here: list[tuple[int, str, int]] = []
        remedy_starts: list[tuple[int, int]] = []  # (index in hits, start) of those
        # Remedy categories this text refuses or says of something else (not_after).
        refused_here: set[str] = set()
        # Clauses with an inquiry word, and where the first one starts.
        inquiring: dict[int, int] = {}
        taken: dict[int, list[tuple]] = {}  # PhraseMatch fields by clause
        skipped: dict[int, list[tuple]] = {}
        tokens = tokenize(text)
        matches = list(index.scan_fields(tokens))  # PhraseMatch's fields, by position
        if not matches:
            continue  # what follows only reads the matches ("Order 88213 - oak sideboard")
        # The text's words that the whole-text tests below ask for, as a set: each test then
        # reads a few, and the set is cheaper to make than one of all the text's words.
        present = plan.asked_words.intersection(tokens)
        # The matches of the groups read apart from the rest (inquiry words and the scope
        # groups below): a few, picked out at once.
        apart = [m for m in matches if m[1] in _APART_GROUPS]
        if apart:
            matches = [m for m in matches if m[1] not in _APART_GROUPS]
        for m in apart:
            if (
                m[1] == INQUIRY
                and m[4] < inquiring.get(m[3], len(tokens))
                and not _polite_request(tokens, m[4] + m[2])
                # "How do I get my money back?": the way to one's own remedy, asked.
                and not (m[4] and tokens[m[4] - 1] == "how")
            ):
                inquiring[m[3]] = m[4]
                # "Just out of interest, if something arrives damaged…": inquiry words
                # that are a whole clause ask about the next one.
                if _alone(tokens, m[4], m[4] + m[2]):
                    after = m[4] + m[2]
                    while after < len(tokens) and tokens[after] == BREAK:
                        after += 1
                    inquiring.setdefault(tokens[:after].count(BREAK), after)
        # Where thanks for something end ("thanks for | refunding the mirror"), and where
        # the first quote of a shop page starts ("your FAQ mentions"), by clause.
        thanked: dict[int, list[tuple[int, str]]] = {}
        quoting: dict[int, int] = {}
        # Thanks for the conversation ("thanks for the reply"): (start, end, what for).
        courteous: list[tuple[int, int, str]] = []
        courtesies: list[tuple] = []
        # Problems let go ("never mind that"): (start, the dismissal's words).
        dismissals: list[tuple[int, str]] = []
        # Remedies declined ("she declined"): (start, end, the words).
        declines: list[tuple[int, int, str]] = []
        for m in apart:
            if m[1] == THANKED and m[5] is None:
                thanked.setdefault(m[3], []).append((m[4] + m[2], m[0]))
            elif m[1] == COURTESY:
                courtesies.append(m)
            elif m[1] == PAGE and m[4] < quoting.get(m[3], len(tokens)):
                quoting[m[3]] = m[4]
            elif m[1] == DISMISSED and m[5] is None:
                end = m[4] + m[2]
                if (
                    m[0] not in plan.clause_end_dismissals
                    or end == len(tokens)
                    or tokens[end] == BREAK
                ):
                    dismissals.append((m[4], m[0]))
            elif m[1] == DECLINED and (
                # Negated only by a word before it: "she declined, doesn't want to…"
                # declines all the same.
                m[5] is None
                or NEGATORS.isdisjoint(tokens[_clause_around(tokens, m[4], m[4])[0] : m[4]])
            ):
                declines.append((m[4], m[4] + m[2], m[0]))
            elif m[1] == BEFORE and m[5] is None and before_ordering is None:
                # Its own "if" makes it conditional: "if I buy" says so all the same.
                before_ordering = (where, m[0], m[2])
        if courtesies and thanked:
            courteous = _courtesy_spans(thanked, courtesies)
        # Not-a-problem words inside thanks for the conversation: (index in hits, start, what
        # for); and where the last problem or remedy that counts starts.
        courtesy_calm: list[tuple[int, int, str]] = []
        last_told = -1
        # Problems that count, when the text lets one go: (index in hits, or -1 for one the
        # subject told already, clause, start, category).
        problems_told: list[tuple[int, int, int, str]] = []
        # Not-a-problem words of this text: (index in hits, start).
        calm_here: list[tuple[int, int]] = []
        # Whether the text has any word the per-match checks look for, tested once per text
        # and only when a match needs it (None: not tested yet); most texts have none.
        cue_words = about_words = compared = resolvers = None
        # Clauses that ask whether ("or do the legs come off?"): where their question's
        # thing starts, by clause (most texts: none, one test a match).
        whether = _whether_clauses(tokens) if "do" in present else None
        in_subject = where == "subject"
        # "Re: Your replacement is on its way": the shop's subject, replied to; a remedy in it
        # is the shop's word, as in quoted mail, not the customer's request.
        shops = in_subject and _shop_subject(tokens)
        # Longest first, then in reading order: the scan's order (see PhraseIndex.scan) with
        # the longest first, by a stable sort.
        matches.sort(key=_SIZE, reverse=True)
        # Clauses that ask for something (worked out when a weak remedy needs it): a weak
        # remedy elsewhere is only mentioned. The subject is a request by itself ("Exchange").
        asking: set[int] | None = None
        # Where a cued phrase was found with its cue ("arrived … chipped", "chipped on
        # arrival"): those words are its category's, not another department's problem.
        cued_spans: dict[tuple[int, int], tuple[str, str]] = {}
        for match in matches:
            phrase, group, size, clause, start, negated_by, conditional, corrected = match
            extra = 0
            if group in cued:
                if cue_words is None:
                    cue_words = not plan.all_cues.isdisjoint(present)
                if not cue_words:
                    continue
                cued_group = group
                group, cues = cued[group]
                # Most cued words have no cue before them: tested before the scan's calls.
                lo = start - cue_window if start > cue_window else 0
                at = (
                    None
                    if cues.isdisjoint(tokens[lo:start])
                    else _position_before(tokens, start, cues, plan.cue_stops, cue_window)
                )
                # "Since the delivery the top has cracked": a time after it, not damage on
                # arrival.
                cue = None if at is None or _SINCE in tokens[max(0, at - 3) : at] else tokens[at]
                if cue is not None:
                    phrase = f"{cue} … {phrase}"
                else:
                    # Most cued words have no cue right after them either: one look-up.
                    after = plan.cues_after.get(cued_group)
                    if after is None or start + size >= len(tokens):
                        continue
                    if tokens[start + size] not in after:
                        continue
                    cue = _cue_after(tokens, start + size, after)
                    if cue is None:
                        continue
                    phrase = f"{phrase} {cue}"
                extra = 1
                if negated_by is None:
                    cued_spans[start, size] = (plan.departments[group], cue)
                    if where != "subject":
                        told_with.setdefault(tokens[start : start + size], (group, cue))
            elif cued_spans and (start, size) in cued_spans:
                department, cue = cued_spans[start, size]
                if plan.departments.get(group, department) != department:
                    # "arrived with the top chipped": damage in transit, not a finish flaw.
                    told = (group, phrase, where, 0.0, negated_by, False, corrected)
                    hits.append(_new_hit((*told, False, False, cue, None)))
                    continue
            if size > 2 and match[0] in broken:  # (the phrase as listed: a cue's is not)
                extra -= 1  # the clause break before a phrase's own "but" is no word
            _, remedy, not_after, resolvable = groups[group]
            # A hypothetical remedy is not asked for; a hypothetical problem is still the topic,
            # unless the clause only asks about it ("just out of interest, if something
            # arrives damaged, should I refuse it?").
            hypothetical = conditional
            conditional = remedy and conditional
            end = start + size
            unasked = False
            # Phrases of a kind the checks below ask about (open objects, remedy nouns, weak
            # remedies, objects, phrasal verbs): most matches are of none, one look-up.
            special = phrase in specials
            if special:
                if phrase in open_objects and not _thing_follows(tokens, end, plan.things):
                    continue  # "a new …" of no thing: "a new date", "another week"
                if (
                    phrase in remedy_nouns
                    and end < len(tokens)
                    and tokens[end] in plan.remedied_things
                    and not (where == "subject" and _opens_subject(tokens, start))
                ):
                    # A remedy naming a thing ("the replacement door arrived", "do you sell
                    # replacement covers?") is asked for only in a clause that asks, as a weak
                    # remedy is, in the subject too ("Warped replacement door"); a subject that
                    # opens with it asks ("Replacement chair").
                    if asking is None:
                        asking = qualifiers.asking(text)
                    # The thing told as bought right after it ("the replacement slats kit I
                    # ordered is still processing"): a product's name, asked for or not.
                    unasked = clause not in asking or (
                        not_after is not None
                        and _position_after(tokens, end, not_after, _BOUGHT_WITHIN) is not None
                    )
                elif remedy and phrase in weak and where != "subject":
                    if asking is None:
                        asking = qualifiers.asking(text)
                    # "Exchange?" alone in its clause is a request too.
                    unasked = clause not in asking and not _alone(tokens, start, end)
                elif remedy and phrase in objects:
                    # "I'd like a new chair", "I need another one": wished for, no verb needed.
                    # An object whose last word starts a thing's name ("my debit | card") names
                    # the thing.
                    unasked = (
                        (
                            end < len(tokens)
                            and tokens[end] in plan.topic_tails
                            and _ends_inside_topic(matches, start, end, plan.topics)
                        )
                        or (
                            # "Could you send someone to repair the arm": a bare word after "to" is
                            # a verb, the work asked for, not what it costs.
                            size == 1 and start and tokens[start - 1] == "to"
                        )
                        or (
                            not _wished(tokens, start)
                            and not _please_after(tokens, start, end, plan.things)
                            and not qualifiers.gives(
                                tokens, start, size, subject=where == "subject"
                            )
                        )
                    )
            if shops and remedy:
                unasked = True
            # The question comes first: "do you offer any compensation?" asks about one,
            # "what compensation do you offer?" takes it as due.
            if (
                remedy
                and not unasked
                and inquiring
                and where != "subject"
                and inquiring.get(clause, start) < start
            ):
                unasked = True
                inquired.add(group)
                inquiry_clauses.add((where, clause))
            # "Your FAQ mentions compensation for missed slots": the page's remedy, unless
            # the clause asks for it too.
            if quoting and remedy and not unasked and quoting.get(clause, start) < start:
                if asking is None:
                    asking = qualifiers.asking(text)
                if clause not in asking:
                    unasked = True
                    inquired.add(group)
            if (
                hypothetical
                and not remedy
                and inquiring
                and group != NOT_A_PROBLEM
                and inquiring.get(clause, start) < start
            ):
                unasked = True
            if (
                whether
                and not remedy
                and group != NOT_A_PROBLEM
                and whether.get(clause, start) < start
            ):
                # "Will it fit, or do the legs come off?": asked about, not told.
                unasked = True
            about = None
            if (
                special
                and phrase in phrasal
                and end < len(tokens)
                and tokens[end] in particles.get(tokens[end - 1], ())
            ):
                # "The money has not come back", "still coming up in handfuls": a phrasal
                # verb, not the phrase's verb (before a not_after word: "the 80 euro has not
                # come back" is a verb of money).
                about = f"{tokens[end - 1]} {tokens[end]}"
            elif not_after is not None:
                if about_words is None:
                    about_words = not plan.all_not_after.isdisjoint(present)
                if about_words and not not_after.isdisjoint(
                    tokens[start - _ABOUT_WITHIN if start > _ABOUT_WITHIN else 0 : start]
                ):
                    about = _word_before(tokens, start, not_after)
                if (
                    about is None
                    and about_words
                    and special
                    and phrase in remedy_nouns
                    and not _BOUGHT.isdisjoint(not_after)
                ):
                    # "I ordered a set of the replacement covers": bought by someone, with
                    # a quantity and a determiner between.
                    about = _bought_before(tokens, start, not_after)
                if remedy and about is not None and not in_subject:
                    remedy_said_of_else = True
            if remedy and negated_by is None:
                if compared is None:
                    compared = not _COMPARATIVES.isdisjoint(present)
                negated_by = _compared_away(tokens, start) if compared else None
            elif remedy and _not_received(tokens, start, negated_by, plan.receipts):
                negated_by = None
            counts = negated_by is None and not conditional and not unasked and about is None
            resolved = None
            if thanked and counts and remedy and clause in thanked:
                # "Thanks for refunding the mirror": a remedy given, not asked for.
                resolved = _thanked_for(tokens, start, end, thanked[clause])
                if resolved is not None:
                    counts = False
                    resolved_categories[weights_category(plan, group)] = resolved
            # A remedy is over when received ("I received my refund", "refund received"), a
            # problem when what was absent arrives or is found ("the missing screws arrived",
            # "found the missing screws"; "the wrong screws arrived" is a problem arriving).
            if counts and resolvable and (remedy or tokens[start] in absent):
                if resolvers is None:
                    resolvers = not plan.resolved_words.isdisjoint(present)
                if resolvers:
                    resolved = _resolved_by(tokens, start, end, plan.resolved_words)
                    if resolved is not None:
                        counts = False
                        resolved_categories[weights_category(plan, group)] = resolved
            if counts and (said := (group, phrase)) in counted:
                if dismissals and not remedy and group != NOT_A_PROBLEM and not in_subject:
                    # Told again ("Late delivery" over "it was late, already sorted"): what
                    # a dismissal lets go here is the subject's too.
                    problems_told.append((-1, clause, start, group))
                continue
            # Matches that do not count are kept apart, only to be shown by explain.
            same_place = (taken if counts else skipped).setdefault(clause, [])
            for other in same_place:
                if (
                    other[4] < end
                    and start < other[4] + other[2]
                    and (other[1] == group or other[2] > size)
                ):
                    break
            else:
                same_place.append(match)
                if counts:
                    counted.add(said)
                if group == NOT_A_PROBLEM and counts:
                    calm.append((len(hits), where, clause))
                    calm_here.append((len(hits), start))
                    for span_start, span_end, what in courteous:
                        if span_start <= start and end <= span_end:
                            courtesy_calm.append((len(hits), start, what))
                            break
                elif (
                    in_subject
                    and counts
                    and resolvable
                    and size > 1
                    and tokens[start] in plan.absent
                ):
                    absent_in_subject.append(len(hits))  # "Missing parcel"
                if counts and group != NOT_A_PROBLEM and start > last_told:
                    last_told = start
                if dismissals and counts and not remedy and group != NOT_A_PROBLEM:
                    problems_told.append((len(hits), clause, start, group))
                if remedy and not in_subject:
                    if counts:
                        remedies_here.append((len(hits), group, clause))
                        remedy_starts.append((len(hits), start))
                    elif (
                        (negated_by is not None or about is not None)
                        and not unasked
                        and group not in plan.needs  # "still haven't seen the money"
                    ):
                        refused_here.add(group)
                hits.append(
                    _TUPLE_NEW(
                        Hit,
                        (
                            group,
                            phrase,
                            where,
                            points[group][size + extra] if counts else 0.0,
                            negated_by,
                            conditional,
                            corrected,
                            False,
                            unasked,
                            about,
                            resolved,
                        ),
                    )
                )
        # "A voucher? I don't want a voucher, I want my bed", "My employer reimburses
        # chairs… they only reimburse certified ones": a remedy the text refuses or says of
        # someone else is only echoed where it is named without a request word.
        if refused_here and any(category in refused_here for _, category, _ in remedies_here):
            if asking is None:
                asking = qualifiers.asking(text)
            # "You replied 'we can offer a goodwill gesture' but I don't want a gesture": a
            # clause that asks only by the shop's offer is refused with it.
            offered = qualifiers.offered_only(text) if asking else set()
            for at, category, clause in remedies_here:
                if category in refused_here and (clause not in asking or clause in offered):
                    hits[at] = hits[at]._replace(points=0.0, unasked=True)
        # "Thanks for the reply, I still want a refund": thanks for the conversation before a
        # problem or a request are no sign that all is well.
        for at, start, what in courtesy_calm:
            if start < last_told:
                hits[at] = hits[at]._replace(points=0.0, about=what)
        # "The table came on time, thank you, but there's a split in one leg": what is well
        # before a contrast that opens a problem or a request is courtesy, not the ticket.
        if calm_here and last_told > calm_here[0][1] and not _CONTRASTS.isdisjoint(present):
            for at, start in calm_here:
                contrast = _contrast_after(tokens, start, last_told, present)
                if contrast is not None:
                    hits[at] = hits[at]._replace(points=0.0, about=contrast)
        # "The delivery was late, but it's here now so never mind that. The problem: the
        # chairs wobble": a problem the customer lets go is not what the ticket is about. A
        # dismissal is said of the last problem told before it: the problems of that clause.
        for dismissed_at, words in dismissals:
            before = [told for told in problems_told if told[2] < dismissed_at]
            if not before:
                continue
            last = max(before, key=itemgetter(2))
            if _clauses_between(tokens, last[2], dismissed_at) > _DISMISSED_CLAUSES:
                continue
            for at, clause, _, category in before:
                if clause == last[1]:
                    if at >= 0:
                        hits[at] = hits[at]._replace(points=0.0, about=words)
                    if not in_subject:
                        let_go[category] = words
        # "I offered a replacement front; she declined", "offering a refund doesn't get my
        # sofa here. Why would I want that?": a remedy offered and declined in its clause or
        # the next is not asked for.
        for declined_at, declined_end, words in declines:
            # "I want a refund, I declined the replacement": a remedy right after the words is
            # their object, the one declined, not the one told before them.
            declined = [
                at
                for at, start in remedy_starts
                if declined_end <= start <= declined_end + _DECLINED_OBJECT_WITHIN
                and BREAK not in tokens[declined_end:start]
            ] or [
                at
                for at, start in remedy_starts
                if start < declined_at and _clauses_between(tokens, start, declined_at) <= 1
            ]
            for at in declined:
                hits[at] = hits[at]._replace(points=0.0, about=words)
    if let_go:
        # "Charged twice - fixed" over "I was charged twice, you fixed that already. Now the
        # chair…": a problem the rest lets go, and nowhere tells as open, is let go in the
        # subject too.
        hits = _subject_as_the_rest(hits, let_go, "about")
    if resolved_categories:
        # "Re: Refund 5519934" over "Refund received, thanks": the subject names what is over.
        hits = [
            h._replace(points=0.0, resolved=resolved_categories[h.category])
            if h.points > 0 and h.where == "subject" and h.category in resolved_categories
            else h
            for h in hits
        ]
    if inquired:
        # The subject names what the description asks about ("Late delivery - compensation?"),
        # and the question's own not-a-problem words are about the remedy, not the ticket;
        # when the rest asks for no remedy at all, neither does a question in the subject
        # that words a remedy otherwise ("Would a refund be faster?", read as a refund
        # followed up).
        asked_elsewhere = "?" not in texts[0][1] or any(
            h.points > 0 and h.where != "subject" and groups[h.category][1] for h in hits
        )
        hits = [
            h._replace(points=0.0, unasked=True)
            if h.points > 0
            and h.where == "subject"
            and (h.category in inquired or (not asked_elsewhere and groups[h.category][1]))
            else h
            for h in hits
        ]
        for at, where, clause in calm:
            if (where, clause) in inquiry_clauses:
                hits[at] = hits[at]._replace(points=0.0, unasked=True)
    if told_with and subject_hits:
        hits = _told_with_a_cue(plan, hits, subject_hits, told_with)
    if absent_in_subject and _resolvers_in_texts(plan, texts):
        hits = _subject_thing_come(plan, hits, absent_in_subject, texts)
    # A subject that asks ("Refund?") or replies to the shop's mail ("Re: Sorry for the delay
    # - voucher") names the topic; the customer's answer is in the rest.
    if "?" in texts[0][1] or texts[0][1].lstrip()[:3].lower() in _REPLY_OPENINGS:
        hits = _declined_in_subject(hits, groups)
    if remedy_said_of_else:
        hits = _described_in_subject(hits, groups)
    # A subject that asks ("Approved?") is the customer's question, not the description's
    # condition.
    if subject_hits and "?" not in texts[0][1]:
        # "Maybe a replacement later" over "I might want a replacement if it gets worse": the
        # subject's is the same hypothetical one.
        hypothetical = {h.category: True for h in hits if h.conditional and h.where != "subject"}
        if hypothetical:
            hits = _subject_as_the_rest(hits, hypothetical, "conditional")
    if before_ordering is not None:
        # No order yet, and a question: what the ticket names is asked about, not what
        # happened to an order. Without a question it weighs as a not-a-problem phrase ("I'm
        # thinking about ordering another one, but the first arrived broken").
        where, phrase, size = before_ordering
        if any("?" in text for _, text, _ in texts):
            hits = [h._replace(points=0.0, unasked=True) if h.points > 0 else h for h in hits]
        hits.append(Hit(NOT_A_PROBLEM, phrase, where, float(size)))
    return hits


# "Is there any chance of a goodwill gesture?", "is there any way you could…": a request put
# politely as a question, not a question about what the shop offers.
_POLITE_REQUESTS = frozenset({"chance", "way", "possibility", "hope"})


def _polite_request(tokens: tuple[str, ...], end: int) -> bool:
    """Whether the inquiry words ending at tokens[end] open a polite request."""
    return end < len(tokens) and tokens[end] in _POLITE_REQUESTS


def _contrast_after(tokens: tuple[str, ...], start: int, end: int, present: Set[str]) -> str | None:
    """The contrast word ("but", "however", "though") that opens a clause after tokens[start]
    and before tokens[end], if any. Only the text's own contrast words (`present`, the text's
    words _Plan.asked_words asks for) are searched for, and only between the two: a count of
    a word in the whole text compared every token with it (some 25,000 instructions)."""
    for word in _CONTRASTS:
        if word not in present:
            continue
        at = start
        while True:
            try:
                at = tokens.index(word, at + 1, end)
            except ValueError:
                break
            if tokens[at - 1] == BREAK:
                return word
    return None


def _clauses_between(tokens: tuple[str, ...], start: int, end: int) -> int:
    """How many clauses tokens[start:end] crosses into: its clause breaks, two in a row
    (", but") counted once."""
    return sum(
        1
        for at in range(start, end)
        if tokens[at] == BREAK and (at + 1 >= len(tokens) or tokens[at + 1] != BREAK)
    )


def _resolvers_in_texts(plan: _Plan, texts: list[tuple[str, str, float]]) -> bool:
    """Whether a text after the subject has one of routing.resolved_words (one C-level test
    a text: most have none)."""
    return any(
        not plan.resolved_words.isdisjoint(tokenize(text)) for _, text, _ in texts[1:] if text
    )


def _subject_thing_come(
    plan: _Plan, hits: list[Hit], absent: list[int], texts: list[tuple[str, str, float]]
) -> list[Hit]:
    """A subject's problem of something absent ("Re: Missing parcel", the hits at `absent`)
    is over when a later text says that thing came ("the parcel turned up at a neighbour's
    after all"), as the same words in one clause are ("the missing parcel turned up")."""
    hits = list(hits)
    for at in absent:
        if not hits[at].points:
            continue
        came = _thing_came(compile_phrase(hits[at].phrase)[-1], plan.resolved_words, texts[1:])
        if came is not None:
            hits[at] = hits[at]._replace(points=0.0, resolved=came)
    return hits


def _thing_came(
    thing: str, resolved_words: frozenset[str], texts: list[tuple[str, str, float]]
) -> str | None:
    """The resolved word said of `thing` in one of the texts (see _resolved_by)."""
    for _, text, _ in texts:
        tokens = tokenize(text)
        at = -1
        for _ in range(tokens.count(thing)):
            at = tokens.index(thing, at + 1)
            came = _resolved_by(tokens, at, at + 1, resolved_words)
            if came is not None:
                return came
    return None


def _told_with_a_cue(
    plan: _Plan,
    hits: list[Hit],
    subject_hits: int,
    told_with: dict[tuple[str, ...], tuple[str, str]],
) -> list[Hit]:
    """The subject's damage word ("Scratch on the TV bench"; the first `subject_hits` hits)
    that the description tells with a cue ("came this morning and there is a long scratch")
    counts for the cued category only, as the same words in the description do."""
    hits = list(hits)
    for at in range(subject_hits):
        h = hits[at]
        if h.points > 0 and h.category in plan.departments:
            told = told_with.get(compile_phrase(h.phrase))
            if told is not None and plan.departments[told[0]] != plan.departments[h.category]:
                hits[at] = h._replace(points=0.0, about=told[1])
    return hits


def _declined_in_subject(
    hits: list[Hit], groups: dict[str, tuple[float, bool, frozenset[str] | None, bool]]
) -> list[Hit]:
    """A remedy a subject asks about ("Refund?") that the rest declines ("I don't want a
    refund, I want the table") and nothing asks for: not asked for in the subject either."""
    declined = {
        h.category: h.negated_by
        for h in hits
        if h.negated_by and not h.unasked and h.where != "subject" and groups[h.category][1]
    }
    return _subject_as_the_rest(hits, declined, "negated_by")


def _subject_as_the_rest(hits: list[Hit], said: dict[str, Any], field: str) -> list[Hit]:
    """The subject's hits of the categories the rest says `said` of (declined, let go, only
    a condition) and nowhere counts: said of in the subject too, in the Hit's `field`."""
    for h in hits:
        if h.points > 0 and h.where != "subject":
            said.pop(h.category, None)
    if not said:
        return hits
    return [
        h._replace(points=0.0, **{field: said[h.category]})
        if h.points > 0 and h.where == "subject" and h.category in said
        else h
        for h in hits
    ]


def _described_in_subject(
    hits: list[Hit], groups: dict[str, tuple[float, bool, frozenset[str] | None, bool]]
) -> list[Hit]:
    """A remedy word of the subject ("Replacement inserts") that the rest says only of
    something else ("I ordered the replacement inserts": a product bought) and nowhere asks
    for: the subject's is the same thing."""
    about = {
        (h.category, h.phrase): h.about
        for h in hits
        if h.about and h.where != "subject" and groups[h.category][1]
    }
    for h in hits:
        if h.points > 0 and h.where != "subject":
            for key in [key for key in about if key[0] == h.category]:
                del about[key]
    if not about:
        return hits
    return [
        h._replace(points=0.0, about=about[h.category, h.phrase])
        if h.points > 0 and h.where == "subject" and (h.category, h.phrase) in about
        else h
        for h in hits
    ]


# An object ending so ("a new …", "another …") counts only before one of routing.things, up to
# _THING_WITHIN words on in its clause ("a new glass top", "another chair").
_OPEN_END = ("…", "...")
_THING_WITHIN = 3


# How a reply's subject opens, as its first three characters.
_REPLY_OPENINGS = frozenset({"re:", "aw:", "sv:"})
# Words that open a reply's or a forward's subject ("Re: Replacement chair").
_REPLY_PREFIXES = frozenset({"re", "aw", "fw", "fwd", "tr", "sv", "wg"})


# "Your" in the languages customers write in: a reply's subject that opens with it is the
# shop's ("Re: Your order has shipped", "AW: Ihre Bestellung").
_YOUR = frozenset({"your", "votre", "vos", "ihre", "ihr", "uw"})


def _shop_subject(tokens: tuple[str, ...]) -> bool:
    """Whether the subject is a reply to, or a forward of, the shop's mail to the customer:
    a reply prefix, then "your"."""
    at = 0
    while at < len(tokens) and (tokens[at] == BREAK or tokens[at] in _REPLY_PREFIXES):
        at += 1
    return 0 < at < len(tokens) and tokens[at] in _YOUR


def _opens_subject(tokens: tuple[str, ...], start: int) -> bool:
    """Whether tokens[start] opens the subject, after any reply prefixes and breaks."""
    return all(t == BREAK or t in _REPLY_PREFIXES for t in tokens[:start])


# How far after a remedy noun naming a thing its category's `not_after` word (ordered,
# bought) is looked for: "replacement | seat cushion covers we | bought".
_BOUGHT_WITHIN = 5
# Verbs of buying (lemmas) and who buys: "I ordered a pack of the replacement glides" names a
# product bought, up to _BOUGHT_WITHIN words before the remedy noun in its clause.
_BOUGHT = frozenset({"order", "buy", "purchase"})
_BUYERS = frozenset({"i", "we", "she", "he", "they", "customer"})


def _bought_before(tokens: tuple[str, ...], start: int, not_after: frozenset[str]) -> str | None:
    """The verb of buying (one of `not_after`) after a person or opening its clause, up to
    _BOUGHT_WITHIN words before tokens[start], in its clause."""
    at = _position_before(tokens, start, _BOUGHT & not_after, _CLAUSE_END, _BOUGHT_WITHIN)
    # "I ordered …", or a clause that opens with the verb ("ordered a set of the …").
    if at is None or (at and tokens[at - 1] not in _BUYERS and tokens[at - 1] != BREAK):
        return None
    return tokens[at]


def _thing_follows(tokens: tuple[str, ...], end: int, things: frozenset[str]) -> bool:
    return _position_after(tokens, end, things, _THING_WITHIN) is not None


def weights_category(plan: _Plan, group: str) -> str:
    """The category a group of the index counts for (a cued group counts for its category)."""
    return plan.cued[group][0] if group in plan.cued else group


# How far from a phrase a word of routing.resolved_words is looked for (either side).
_RESOLVED_WITHIN = 3
# Words that leave a problem or remedy open in their clause, whatever else it says: a wish, a
# modal, a question, a negation ("when will the missing screws arrive", "I want to receive my
# refund", "the refund has not come through", "still not arrived").
_OPEN = NEGATORS | frozenset(
    lemma(w)
    for w in (
        *("will", "would", "should", "could", "can", "may", "might", "shall", "when", "if"),
        *("yet", "want", "need", "like", "wish", "expect", "hope", "please", "still"),
        *("whether", "where", "how", "soon", "supposed", "meant", "due", "waiting"),
    )
)
# A clause that opens with an auxiliary is a question ("Has the refund come through?").
_QUESTION_OPENERS = frozenset({"have", "be", "do", "did", "does", "is", "was", "are", "were"})


def _resolved_by(
    tokens: tuple[str, ...], start: int, end: int, words: frozenset[str]
) -> str | None:
    """The word of `words` up to three words after or before tokens[start:end] in its clause
    ("the missing screws arrived", "I received my refund"), when nothing in the clause keeps
    it open (_OPEN, a question)."""
    # Most matches have none of the words near them: one test of the words around first.
    if words.isdisjoint(
        tokens[start - _RESOLVED_WITHIN if start > _RESOLVED_WITHIN else 0 : end + _RESOLVED_WITHIN]
    ):
        return None
    found = _position_after(tokens, end, words, _RESOLVED_WITHIN)
    if found is None:
        found = _position_before(tokens, start, words, _CLAUSE_END, _RESOLVED_WITHIN)
    if found is None:
        return None
    begin, stop = _clause_around(tokens, start, end)
    clause = tokens[begin:stop]
    if (
        not _OPEN.isdisjoint(clause)
        or clause[0] in _QUESTION_OPENERS
        or (found and tokens[found - 1] == "to")
    ):
        return None
    return tokens[found]


# Groups of the index that only qualify the phrases of their clause or text.
_SCOPE_GROUPS = frozenset({THANKED, COURTESY, PAGE, BEFORE, DISMISSED, DECLINED})
# The groups whose matches _scan_texts reads apart from the rest.
_APART_GROUPS = _SCOPE_GROUPS | {INQUIRY}
# A dismissal ("never mind that") reaches the last problem told, in its clause or up to this
# many clauses before it: "The delivery was a day late, fine, not bothered about that".
_DISMISSED_CLAUSES = 2
# A remedy this many words after a decline at most ("declined the replacement") is its object.
_DECLINED_OBJECT_WITHIN = 2


# How many words may come between thanks and the remedy thanked for ("thanks for the quick
# refund"), and words that make it an offer or a promise, not a remedy given ("thanks for
# offering a refund": accepting an offer asks for it).
_THANKED_WITHIN = 2
_NOT_GIVEN = frozenset(lemma(w) for w in ("offer", "offering", "promise", "promising", "suggest"))


def _thanked_for(
    tokens: tuple[str, ...], start: int, end: int, thanks: list[tuple[int, str]]
) -> str | None:
    """The words of thanks (routing.thanked_words) that end up to _THANKED_WITHIN words
    before tokens[start:end], with no offer between and nothing in the clause that keeps the
    remedy open (_OPEN, a question): "thanks for refunding the mirror", not "thanks for
    offering a refund" nor "thank you for the refund, when will it arrive?"."""
    for thanks_end, words in thanks:
        if not 0 <= start - thanks_end <= _THANKED_WITHIN:
            continue
        if not _NOT_GIVEN.isdisjoint(tokens[thanks_end:start]):
            continue
        begin, stop = _clause_around(tokens, start, end)
        if not _OPEN.isdisjoint(tokens[begin:stop]) or tokens[begin] in _QUESTION_OPENERS:
            continue
        # "Thanks for the refund, but it has not shown up": the next clause says it is not.
        after = [t for t in tokens[stop : stop + 5] if t != BREAK][:2]
        if len(after) == 2 and after[0] in _CONTRASTS and after[1] in _BACK_REFERENCES:
            continue
        return words
    return None


def _courtesy_spans(
    thanked: dict[int, list[tuple[int, str]]], courtesies: list[tuple]
) -> list[tuple[int, int, str]]:
    """Thanks (routing.thanked_words) for the conversation: one of routing.courtesy_words up
    to _THANKED_WITHIN words after them in their clause ("thanks for your quick reply"). Each
    as (where the thanks start, where the courtesy word ends, the courtesy word)."""
    spans = []
    for m in courtesies:  # PhraseMatch fields
        for thanks_end, words in thanked.get(m[3], ()):
            if 0 <= m[4] - thanks_end <= _THANKED_WITHIN:
                thanks_start = thanks_end - len(compile_phrase(words))
                spans.append((thanks_start, m[4] + m[2], m[0]))
    return spans


_CONTRASTS = frozenset({"but", "however", "although", "though", "yet"})
# What a not-a-problem phrase said before a contrast and a problem is about (Hit.about): one
# of these words (`routing explain` says so).
CONTRASTS = _CONTRASTS
# Words that open a clause about what the clause before named ("but it has not arrived").
_BACK_REFERENCES = frozenset({"it", "this", "that", "they", "nothing", "money", "i"})


# How far before a phrase a category's `not_after` word is looked for.
_ABOUT_WITHIN = 4


_CLAUSE_END = frozenset({BREAK})


_SINCE = "since"


def _cue_after(
    tokens: tuple[str, ...], end: int, cues: dict[str, tuple[tuple[str, ...], ...]]
) -> str | None:
    """The one of `cues` (compiled phrases by their first word) that starts at tokens[end];
    the caller has checked that tokens[end] is one of those first words."""
    for cue in cues[tokens[end]]:
        if tokens[end : end + len(cue)] == cue:
            return " ".join(cue)
    return None


def _word_before(tokens: tuple[str, ...], start: int, words: frozenset[str]) -> str | None:
    """One of `words` up to four words before tokens[start], in its clause (the nearest)."""
    return _cue_before(tokens, start, words, _CLAUSE_END, _ABOUT_WITHIN)


def _cue_before(
    tokens: tuple[str, ...], start: int, cues: frozenset[str], stops: frozenset[str], window: int
) -> str | None:
    """The cue word up to `window` words before tokens[start], unless a stop word comes
    first (going back)."""
    at = _position_before(tokens, start, cues, stops, window)
    return None if at is None else tokens[at]


def _position_before(
    tokens: tuple[str, ...], start: int, words: frozenset[str], stops: frozenset[str], window: int
) -> int | None:
    """Where the nearest of `words` is, up to `window` words before tokens[start], unless a
    stop word comes first (going back)."""
    lo = start - window if start > window else 0
    if words.isdisjoint(tokens[lo:start]):  # most damage words have no cue before them
        return None
    for at in range(start - 1, lo - 1, -1):
        token = tokens[at]
        if token in stops:
            return None
        if token in words:
            return at
    return None


def _position_after(
    tokens: tuple[str, ...], end: int, words: frozenset[str], window: int
) -> int | None:
    """Where the nearest of `words` is, up to `window` words from tokens[end] on in its
    clause."""
    for at in range(end, min(end + window, len(tokens))):
        if tokens[at] == BREAK:
            return None
        if tokens[at] in words:
            return at
    return None


def _clause_around(tokens: tuple[str, ...], start: int, end: int) -> tuple[int, int]:
    """The bounds of the clause that holds tokens[start:end] (no break inside it)."""
    begin = start
    while begin and tokens[begin - 1] != BREAK:
        begin -= 1
    stop = end
    while stop < len(tokens) and tokens[stop] != BREAK:
        stop += 1
    return begin, stop


# Words that ask for a remedy's object right before it ("I'd like a new chair", "we need
# another one", "I want my money").
_WISHED = frozenset({"want", "like", "need", "prefer", "expect", "demand"})
# "like" wishes only after these ("I'd like", "we would like"; "looks like another one" not).
_LIKE_AFTER = frozenset({"would", "d", "should"})


def _wished(tokens: tuple[str, ...], start: int) -> bool:
    """Whether a wish word comes right before tokens[start]."""
    if not start or tokens[start - 1] not in _WISHED:
        return False
    return tokens[start - 1] != "like" or (start > 1 and tokens[start - 2] in _LIKE_AFTER)


# "A new lid please", "another one, please": a short clause that opens with the object and
# says please asks for it, with no verb. Up to this many words.
_PLEASE_CLAUSE = 6
_PLEASE = frozenset({"please", "pls", "plz"})


def _please_after(tokens: tuple[str, ...], start: int, end: int, things: frozenset[str]) -> bool:
    """Whether the object at tokens[start:end] opens a short clause and please follows it,
    with only the thing it names between ("a new bedside table please"; not "money for the
    order please", which names no remedy)."""
    if start and tokens[start - 1] != BREAK:
        return False
    stop = _clause_around(tokens, start, end)[1]
    if stop - start > _PLEASE_CLAUSE:
        return False
    for token in tokens[end:stop]:
        if token in _PLEASE:
            return True
        if token not in things:
            return False
    return False


# Words that make a negation a refusal, not a remedy still missing ("I don't want to get a
# refund", "no need to send a replacement").
_REFUSALS = frozenset({"want", "need", "wish", "ask", "expect", "like", "require"})


def _not_received(
    tokens: tuple[str, ...], start: int, negator: str | None, receipts: frozenset[str]
) -> bool:
    """Whether the negation before tokens[start] says the remedy has not come ("never got
    my refund"): a receipt word between the negator and it, and no wish."""
    if negator is None or not receipts:
        return False
    found = False
    for at in range(start - 1, start - 10 if start > 9 else -1, -1):
        token = tokens[at]
        if token in (negator, BREAK):
            break
        if token in _REFUSALS:
            return False
        found = found or token in receipts
    return found


# A remedy named as what the customer does not choose: "I would rather keep it than get a
# refund", "a replacement instead of a refund" (the refund is declined; the replacement counts).
_COMPARED_WITHIN = 3
_COMPARISONS = frozenset({"than", "of"})
_COMPARATIVES = frozenset({"than", "instead"})


def _compared_away(tokens: tuple[str, ...], start: int) -> str | None:
    """Whether "than" or "instead of" comes up to three words before tokens[start], in its
    clause (which of them)."""
    lo = start - _COMPARED_WITHIN if start > _COMPARED_WITHIN else 0
    if _COMPARISONS.isdisjoint(tokens[lo:start]):
        return None
    for at in range(start - 1, lo - 1, -1):
        token = tokens[at]
        if token == BREAK:
            return None
        if token == "than":
            return "than"
        if token == "of" and at and tokens[at - 1] == "instead":
            return "instead of"
    return None


def _alone(tokens: tuple[str, ...], start: int, end: int) -> bool:
    """Whether tokens[start:end] is a whole clause."""
    return (start == 0 or tokens[start - 1] == BREAK) and (
        end == len(tokens) or tokens[end] == BREAK
    )


def decide(
    config: RoutingConfig, hits: list[Hit], names: dict[str, str], *, question: bool = False
) -> Classification:
    """The department from the phrases found (see the module's docstring for the order). In
    a ticket that only asks a yes-or-no question (`question`), topic words never decide
    alone: "Do you accept Klarna?" names a topic, not a problem."""
    return _decide(_plan(config), config, hits, names, question)


def _decide(
    plan: _Plan, config: RoutingConfig, hits: list[Hit], names: dict[str, str], question: bool
) -> Classification:
    """`decide` with the config's plan (looked up once: the helpers below are given it)."""
    # A category's remedy, fallback and department are the config's (its synonyms vary only
    # phrases): looked up in the plan's sets, not in the category's model.
    remedy = plan.remedies
    scores: dict[str, float] = {}
    # Each category's hits that count, in order: what _strongest picks from (it read them all).
    kept: dict[str, list[Hit]] = {}
    for hit in hits:
        points = hit[3]  # Hit.points, without a property call or an unpacking per hit
        if points > 0:
            named = hit[0]
            if named in scores:
                scores[named] += points
                kept[named].append(hit)
            else:
                scores[named] = points
                kept[named] = [hit]
    calm = scores.pop(NOT_A_PROBLEM, 0.0)
    # General words count only when no phrase of a category names the problem and nothing
    # says it is no order problem, and then only with enough of them.
    # (Most tickets: no fallback category scores, one C-level test.)
    if not plan.fallbacks.isdisjoint(scores):
        general = [n for n in scores if n in plan.fallbacks]
        specific = calm > 0 or len(general) < len(scores)
        for name in general:
            if specific or scores[name] < config.fallback_min_score:
                del scores[name]
    scores = {name: _ROUNDED[score] for name, score in scores.items()}
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)  # stable: ties keep their order
    remedies: list[str] = []
    problems: list[str] = []
    for name in ranked:
        (remedies if name in remedy else problems).append(name)
    common: dict[str, Any] = {"hits": tuple(hits), "scores": scores}

    best = ranked[0] if ranked else None
    # Not an order problem only when that outweighs every problem and remedy found together:
    # "my refund was put on a gift card" names a refund, a follow-up and the bank as well.
    if best is None or calm >= sum(scores.values()):
        if calm > 0:
            hit = _strongest(plan, config, kept, NOT_A_PROBLEM)
            reason = f"{_quote(hit)} → not an order problem"
            return Classification(None, None, reason, "phrase", **common)
        return Classification(
            None, None, "no field, tag or phrase names an order problem", "none", **common
        )

    if remedies:
        name = remedies[0]
        problem = problems[0] if problems else None
        category = config.categories[name]
        reason = f"{_quote(_strongest(plan, config, kept, name))} (a remedy request"
        if problem is not None:
            reason += (
                f"; the problem: {config.categories[problem].label},"
                f" {_quote(_strongest(plan, config, kept, problem), short=True)}"
            )
        reason += ") → " + _label(config, name, names[category.department])
        return Classification(
            name,
            category.department,
            reason,
            "phrase",
            scores[name],
            runner_up=_runner_up(plan, ranked, name),
            problem=problem,
            **common,
        )

    name = problems[0]
    category = config.categories[name]
    runner_up = _runner_up(plan, ranked, name)
    if runner_up is not None and scores[runner_up] >= config.ask_when_close * scores[name]:
        other = config.categories[runner_up]
        mine = _quote(_strongest(plan, config, kept, name), short=True)
        theirs = _quote(_strongest(plan, config, kept, runner_up), short=True)
        reason = (
            f"{names[category.department]} ({mine}, {scores[name]:g}) and"
            f" {names[other.department]} ({theirs}, {scores[runner_up]:g}) score too close to"
            " choose"
        )
        return Classification(
            None, None, reason, "ambiguous", scores[name], runner_up=runner_up, **common
        )
    if config.min_score and _only_topics(
        plan, config, hits, scores, problems, category.department, question
    ):
        # One bare word of the description names the topic, not a problem someone must fix
        # ("veneer" alone; "the veneer is peeling" names a fault, "cracked" alone does too).
        reason = (
            f"only {_quote(_strongest(plan, config, kept, name), short=True)} ({scores[name]:g})"
            f" names a problem, too little to choose {names[category.department]}"
        )
        return Classification(
            None, None, reason, "ambiguous", scores[name], runner_up=runner_up, **common
        )
    reason = f"{_quote(_strongest(plan, config, kept, name))} → " + _label(
        config, name, names[category.department]
    )
    return Classification(
        name, category.department, reason, "phrase", scores[name], runner_up=runner_up, **common
    )


def _only_topics(
    plan: _Plan,
    config: RoutingConfig,
    hits: list[Hit],
    scores: dict[str, float],
    problems: list[str],
    department: str,
    question: bool = False,
) -> bool:
    """Whether every phrase behind the department's problems is one of routing.topic_words (a
    thing or a topic, not a fault) and they weigh less than routing.min_score, each topic
    counted once whatever its length ("lead time" is one topic, as "veneer" is); in a
    yes-or-no question (`question`) whatever they weigh. routing.min_score 0 routes on any
    phrase."""
    mine = {n for n in problems if config.categories[n].department == department}
    counted = [h for h in hits if h.points > 0 and h.category in mine]
    topics = plan.topics
    if not all(h.phrase in topics for h in counted):
        return False
    if question:
        return True
    weight = sum(config.subject_weight if h.where == "subject" else 1.0 for h in counted)
    return weight < config.min_score


def _runner_up(plan: _Plan, ranked: list[str], winner: str) -> str | None:
    """The best category of another department (remedies compete only with problems)."""
    departments, remedies = plan.departments, plan.remedies
    department = departments[winner]
    for name in ranked:  # a loop, not a generator: one made per ticket cost more than this
        if departments[name] != department and name not in remedies:
            return name
    return None


def _strongest(
    plan: _Plan, config: RoutingConfig, kept: dict[str, list[Hit]], category: str
) -> Hit:
    """The category's hit worth most (among equals, the phrase listed first), of the hits
    that count by category (`kept`)."""
    # Hit's fields by position (category, phrase, where, points…): no property call per hit.
    mine = kept[category]
    if len(mine) == 1:  # most categories: one hit
        return mine[0]
    top = max(map(_POINTS, mine))
    best = [h for h in mine if h[3] == top]
    if len(best) == 1:
        return best[0]
    key = category if category in config.categories else None
    if plan.config is config:  # the config the phrases were found with (classify_ticket's)
        places, size = plan.listed[key]
    else:
        places, size = _places(
            [*config.categories[key].phrases, *config.categories[key].objects]
            if key is not None
            else config.not_a_problem
        )
    # A cued hit ("arrive … broken") is not listed as written: after the listed ones.
    return min(best, key=lambda h: places.get(h.phrase, size))


def _quote(hit: Hit, short: bool = False) -> str:
    if short:
        return f'"{hit.phrase}"'
    if hit.where == "customer wrote":
        return f'the customer wrote "{hit.phrase}"'
    return f'{hit.where} mentions "{hit.phrase}"'
