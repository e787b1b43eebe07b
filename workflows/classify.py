"""Which problem a ticket is about and which department can fix it, with the reason (pure).

Sources, in order: the explicit category field, tags, then phrases in the subject, the
description and the customer's later messages. The first source that names a category wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from deskbridge.config.rules import RoutingConfig
from deskbridge.workflows.text import phrase_index, tokenize

DEPARTMENT_NAMES = {"logistics": "Logistics", "quality": "Quality", "post_sales": "Post-Sales"}


@dataclass(frozen=True)
class Classification:
    category: str | None
    department: str | None
    reason: str
    source: str  # field | tag | phrase | none
    score: float = 0.0


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
) -> Classification:
    names = department_names or DEPARTMENT_NAMES
    fields = fields or {}
    if config.category_field and fields.get(config.category_field):
        value = fields[config.category_field].strip().lower()
        for name, category in config.categories.items():
            if value in (v.lower() for v in category.field_values):
                reason = f'field {config.category_field} is "{value}" → ' + _label(
                    config, name, names[category.department]
                )
                return Classification(name, category.department, reason, "field")

    tag_set = {t.lower() for t in tags}
    for name, category in config.categories.items():
        for tag in category.tags:
            if tag.lower() in tag_set:
                reason = f'tag "{tag}" → ' + _label(config, name, names[category.department])
                return Classification(name, category.department, reason, "tag")

    texts = [
        ("subject", subject or "", config.subject_weight),
        ("description", description or "", 1.0),
    ]
    texts += [("customer wrote", message, 1.0) for message in customer_messages if message]
    tokenized = [(where, tokenize(text), weight) for where, text, weight in texts if text.strip()]
    best: tuple[float, str, str, str] | None = None  # score, category, where, phrase
    for name, category in config.categories.items():
        scored = _score_phrases(category.phrases, tokenized, category.weight)
        if scored and (best is None or scored[0] > best[0]):
            best = (scored[0], name, scored[1], scored[2])
    calm = _score_phrases(config.not_a_problem, tokenized, 1.0)
    if calm is not None and (best is None or calm[0] >= best[0]):
        _, where, phrase = calm
        return Classification(
            None, None, f"{_quote(where, phrase)} → not an order problem", "phrase"
        )
    if best is None:
        return Classification(None, None, "no field, tag or phrase names an order problem", "none")
    score, name, where, phrase = best
    category = config.categories[name]
    reason = f"{_quote(where, phrase)} → " + _label(config, name, names[category.department])
    return Classification(name, category.department, reason, "phrase", round(score, 2))


def _quote(where: str, phrase: str) -> str:
    if where == "customer wrote":
        return f'the customer wrote "{phrase}"'
    return f'{where} mentions "{phrase}"'


def _score_phrases(
    phrases: list[str], tokenized: list[tuple[str, tuple, float]], factor: float
) -> tuple[float, str, str] | None:
    """Sum of matched phrases (longer phrases weigh more, the subject more than the body),
    with the strongest single match for the reason; None when nothing matched."""
    index = phrase_index(tuple(phrases))
    score = 0.0
    strongest: tuple[float, str, str] | None = None
    for where, clauses, weight in tokenized:
        found = index.find_all(clauses)
        if not found:
            continue
        taken: list = []
        # Longest phrases first; a shorter phrase inside the same words adds nothing.
        for phrase in sorted(found, key=lambda p: (-found[p].tokens, phrases.index(p))):
            match = found[phrase]
            if any(match.overlaps(t) for t in taken):
                continue
            taken.append(match)
            points = match.tokens * weight * factor
            score += points
            if strongest is None or points > strongest[0]:
                strongest = (points, where, phrase)
    if strongest is None:
        return None
    return score, strongest[1], strongest[2]
