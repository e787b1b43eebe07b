"""The classifier against labelled sets of realistic tickets (tests/workflows/data/).

routing_labelled.yaml (120 tickets) was written apart from the vocabularies and then used to
tune them; routing_heldout.yaml (60 tickets) and routing_heldout_2.yaml (120 tickets, written
for issue 13 before any tuning) were written by people who never saw the vocabularies and are
never tuned on, so they measure how well the rules generalise; their misses are not printed.
Confusion tables are printed (pytest -s, or on failure) and kept in docs/routing-accuracy.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.accuracy import AccuracyReport, evaluate_accuracy, parse_labelled
from deskbridge.workflows.classify import classify_ticket

DATA = Path(__file__).with_name("data") / "routing_labelled.yaml"
HELD_OUT = Path(__file__).with_name("data") / "routing_heldout.yaml"
HELD_OUT_2 = Path(__file__).with_name("data") / "routing_heldout_2.yaml"


def evaluate(path: Path) -> AccuracyReport:
    rules = load_rules(EXAMPLE_CONFIG)
    tickets = parse_labelled(path.read_text(encoding="utf-8"), False, rules.departments)
    return evaluate_accuracy(rules.routing, tickets, rules.departments)


def test_labelled_set_is_large_and_varied():
    report = evaluate(DATA)
    assert report.total >= 80
    assert {o.ticket.department for o in report.outcomes} == set(report.labels)


def test_routes_at_least_95_percent_correctly_with_reasons():
    report = evaluate(DATA)
    text = report.summary() + "\n" + report.confusion_table() + "\n" + "\n".join(report.misses())
    print("\n" + text)
    assert all(o.result.reason for o in report.outcomes)
    assert report.share("correct") >= 0.95, text
    assert report.share("misrouted") <= 0.03, text


def test_held_out_set_does_not_regress():
    """Not a target: a floor under the measured figures (docs/routing-accuracy.md), so a
    vocabulary change that generalises worse is noticed. Misses are not printed: the set is
    not for tuning."""
    report = evaluate(HELD_OUT)
    print("\nheld-out: " + report.summary() + "\n" + report.confusion_table())
    assert report.total >= 60
    assert report.share("correct") >= 0.75, report.summary()
    assert report.share("misrouted") <= 0.10, report.summary()


def test_second_held_out_set_does_not_regress():
    """Written for issue 13 before any tuning and never read by whoever tuned the rules. The
    issue's target (90% correct, at most 3% misrouted) is NOT reached (docs/routing-accuracy.md):
    these are floors under the measured 76.7% and 12.5%, not the target."""
    report = evaluate(HELD_OUT_2)
    print("\nheld-out 2: " + report.summary() + "\n" + report.confusion_table())
    assert report.total >= 100
    assert report.share("correct") >= 0.75, report.summary()
    assert report.share("misrouted") <= 0.13, report.summary()


@pytest.mark.parametrize(
    ("subject", "description", "department", "reason"),
    [
        (
            "Order 100482 — tracking hasn't moved in 6 days",
            "",
            "logistics",
            'subject mentions "tracking has not moved" → delivery delay → Logistics',
        ),
        (
            "Order 100233",
            "The box was not damaged at all, it's just two weeks late.",
            "logistics",
            'description mentions "late" → delivery delay → Logistics',
        ),
        (
            "Missing screws",
            "No refund needed, I just want the missing screws.",
            "quality",
            'subject mentions "missing screws" → missing parts → Quality/Production',
        ),
    ],
)
def test_reasons_quote_what_decided(subject, description, department, reason):
    rules = load_rules(EXAMPLE_CONFIG)
    result = classify_ticket(
        rules.routing,
        subject=subject,
        description=description,
        department_names={k: d.name for k, d in rules.departments.items()},
    )
    assert (result.department, result.reason) == (department, reason)
