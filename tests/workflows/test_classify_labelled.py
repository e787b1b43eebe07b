"""The classifier against labelled sets of realistic tickets (tests/workflows/data/).

routing_labelled.yaml (120 tickets) was written apart from the vocabularies and then used to
tune them, as was routing_tuning_2.yaml (213 tickets written for tuning in issue 13);
routing_heldout.yaml (60 tickets) was written by someone who never saw the vocabularies (its
weaknesses, foreign languages above all, were then used in issue 13); routing_heldout_2.yaml
(120 tickets, written for issue 13 before any tuning), routing_heldout_3.yaml to
routing_heldout_10.yaml (120 tickets each, written blind before the third to ninth rounds)
and routing_check_3.yaml and routing_check_7.yaml (60 tickets each) were never tuned on until
issue 13's tenth round, which retired them to tuning: their misses were read and used, and
their floors run in every suite now. routing_tuning_4.yaml and routing_check_5.yaml were
written in issue 13's third round and tuned on, as were routing_tuning_6, 8, 9, 10, 11 and 12
(written blind for the fourth to ninth rounds). routing_heldout_11.yaml (120 tickets, written
blind before the tenth round and evaluated by the lead only, aggregate, after it) was retired to
tuning in the eleventh round, routing_heldout_12.yaml (written blind before the eleventh
round, evaluated by the lead only, aggregate, after it) in the twelfth, and
routing_heldout_13.yaml (written blind before the twelfth round, evaluated by the lead only,
aggregate, after it) in the thirteenth: their misses were read and used, and their floors run in
every suite now. Confusion tables are printed (pytest -s, or on failure) and kept in
docs/routing-accuracy.md.
routing_heldout_14.yaml, routing_heldout_15.yaml and routing_heldout_16.yaml (120 tickets each,
written blind on 2026-12-03) were retired to tuning in the fourteenth round the same way.
routing_heldout_17.yaml and routing_heldout_18.yaml (120 tickets each, written blind on
2026-12-05 and measured by the lead, aggregate only) were retired to tuning in the fifteenth
round the same way. The set never tuned on is the one written blind after them: every suite only
loads and counts it; evaluating it is the lead's, in aggregate, with DESKBRIDGE_BLIND_SETS=1 (the
engineer tuning does not run that), and its floor is to hold the lead's figures.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.accuracy import AccuracyReport, evaluate_accuracy, parse_labelled
from deskbridge.workflows.classify import classify_ticket

DATA = Path(__file__).with_name("data") / "routing_labelled.yaml"
HELD_OUT = Path(__file__).with_name("data") / "routing_heldout.yaml"
HELD_OUT_2 = Path(__file__).with_name("data") / "routing_heldout_2.yaml"
HELD_OUT_3 = Path(__file__).with_name("data") / "routing_heldout_3.yaml"
HELD_OUT_4 = Path(__file__).with_name("data") / "routing_heldout_4.yaml"
HELD_OUT_5 = Path(__file__).with_name("data") / "routing_heldout_5.yaml"
HELD_OUT_6 = Path(__file__).with_name("data") / "routing_heldout_6.yaml"
HELD_OUT_7 = Path(__file__).with_name("data") / "routing_heldout_7.yaml"
HELD_OUT_8 = Path(__file__).with_name("data") / "routing_heldout_8.yaml"
HELD_OUT_9 = Path(__file__).with_name("data") / "routing_heldout_9.yaml"
HELD_OUT_10 = Path(__file__).with_name("data") / "routing_heldout_10.yaml"
HELD_OUT_11 = Path(__file__).with_name("data") / "routing_heldout_11.yaml"
HELD_OUT_12 = Path(__file__).with_name("data") / "routing_heldout_12.yaml"
HELD_OUT_13 = Path(__file__).with_name("data") / "routing_heldout_13.yaml"
HELD_OUT_14 = Path(__file__).with_name("data") / "routing_heldout_14.yaml"
HELD_OUT_15 = Path(__file__).with_name("data") / "routing_heldout_15.yaml"
HELD_OUT_16 = Path(__file__).with_name("data") / "routing_heldout_16.yaml"
HELD_OUT_17 = Path(__file__).with_name("data") / "routing_heldout_17.yaml"
HELD_OUT_18 = Path(__file__).with_name("data") / "routing_heldout_18.yaml"
HELD_OUT_19 = Path(__file__).with_name("data") / "routing_heldout_19.yaml"
HELD_OUT_20 = Path(__file__).with_name("data") / "routing_heldout_20.yaml"
HELD_OUT_21 = Path(__file__).with_name("data") / "routing_heldout_21.yaml"
HELD_OUT_22 = Path(__file__).with_name("data") / "routing_heldout_22.yaml"
HELD_OUT_23 = Path(__file__).with_name("data") / "routing_heldout_23.yaml"
HELD_OUT_24 = Path(__file__).with_name("data") / "routing_heldout_24.yaml"
HELD_OUT_25 = Path(__file__).with_name("data") / "routing_heldout_25.yaml"
TUNING_2 = Path(__file__).with_name("data") / "routing_tuning_2.yaml"
CHECK_3 = Path(__file__).with_name("data") / "routing_check_3.yaml"
TUNING_4 = Path(__file__).with_name("data") / "routing_tuning_4.yaml"
CHECK_5 = Path(__file__).with_name("data") / "routing_check_5.yaml"
TUNING_6 = Path(__file__).with_name("data") / "routing_tuning_6.yaml"
CHECK_7 = Path(__file__).with_name("data") / "routing_check_7.yaml"
TUNING_8 = Path(__file__).with_name("data") / "routing_tuning_8.yaml"
TUNING_9 = Path(__file__).with_name("data") / "routing_tuning_9.yaml"
TUNING_10 = Path(__file__).with_name("data") / "routing_tuning_10.yaml"
TUNING_11 = Path(__file__).with_name("data") / "routing_tuning_11.yaml"
TUNING_12 = Path(__file__).with_name("data") / "routing_tuning_12.yaml"
# The sets never tuned on are evaluated by whoever did not tune the rules, at the end of a
# round (issue 13, third round: the engineer tuning must not run the router on them, and a
# suite run would): DESKBRIDGE_BLIND_SETS=1 pytest tests/workflows/test_classify_labelled.py
blind_sets = pytest.mark.skipif(
    os.environ.get("DESKBRIDGE_BLIND_SETS") != "1",
    reason="a set never tuned on: evaluated at the end of a round (DESKBRIDGE_BLIND_SETS=1)",
)


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


# Sets tuned on, each with a floor under its measured figures (docs/routing-accuracy.md):
# tuning 2 (issue 13, second round) 97.2% and 0.5%; tuning 4 (third round, two batches, each
# written before the changes it led to) 92.0% and 2.7%; check 5 (third round, written after its
# tuning and evaluated once as written, 86.7% and 5.0%, then its misses used) 96.7% and 0%;
# tuning 6 (fourth round, written blind by another engineer; 80.6% and 7.2% as written on the
# third round's rules) 97.2% and 0%. The older sets' figures are the fourth round's now
# (tuning 2 97.7% / 0.5%, tuning 4 93.1% / 2.1%, check 5 98.3% / 0%). Tuning 8 (fifth round,
# written blind by another engineer; 76.0% and 11.5% as written on the fourth round's rules,
# one label then brought to the house convention): the figures the fifth round reached.
# Tuning 9 (sixth round, written blind by another engineer; 81.5% and 4.5% as written on the
# fifth round's rules): the figures the sixth round reached. Tuning 10 (seventh round, written
# blind by another engineer; 85.5% and 2.5% as written on the sixth round's rules) and every
# other set: floors just under the figures the seventh round reached. Tuning 11 (eighth round,
# written blind by another engineer; 83.0% and 6.5% as written on the seventh round's rules):
# the figures the eighth round reached (99.5% and 0.5%). Tuning 12 (ninth round, written blind
# by another engineer; 83.0% and 4.0% as written on the eighth round's rules): the figures the
# ninth round reached. Tenth round: the sets that were blind until then (held-out 2 to 10, check
# 3 and 7; their figures before it were the lead's, aggregate only) were retired to tuning, their
# misses read and used; every floor is the figure the tenth round reached
# (docs/routing-accuracy.md, "Tenth round"). Eleventh round: held-out 11 (81.7% and 5.0% after the
# tenth round, the lead's aggregate evaluation) was retired to tuning the same way; every floor
# is the figure the eleventh round reached (docs/routing-accuracy.md, "Eleventh round"). Twelfth
# round: held-out 12 (83.3% and 5.8% after the eleventh round, the lead's aggregate evaluation)
# was retired to tuning the same way; the floors of the sets the round lifted are the figures
# it reached (docs/routing-accuracy.md, "Twelfth round"); none was lowered. Thirteenth round:
# held-out 13 (84.2% and 3.3% after the twelfth round, the lead's aggregate evaluation) was
# retired to tuning the same way; the floors of the sets the round lifted are the figures it
# reached (docs/routing-accuracy.md, "Thirteenth round"); none was lowered. Fourteenth round:
# held-out 14, 15 and 16 (the lead's 84.2 / 6.7, 86.7 / 4.2 and 83.3 / 5.0 on the thirteenth
# round's rules) were retired to tuning the same way; their floors, and held-out 13's, are
# just under the figures the round reached (docs/routing-accuracy.md, "Fourteenth round").
# Fifteenth round: held-out 17 and 18 (the lead's 81.7 / 6.7 and 82.5 / 5.8 on the fourteenth
# round's rules) were retired to tuning the same way; their floors, and held-out 13's, are just
# under the figures the round reached (docs/routing-accuracy.md, "Fifteenth round").
@pytest.mark.parametrize(
    ("path", "tickets", "correct", "misrouted"),
    [
        (TUNING_2, 150, 0.98, 0.005),
        (TUNING_4, 120, 0.967, 0.006),
        (CHECK_5, 60, 0.98, 0.01),
        (TUNING_6, 180, 0.98, 0.006),
        (TUNING_8, 200, 0.969, 0.0),
        (TUNING_9, 200, 0.974, 0.0),
        (TUNING_10, 200, 0.98, 0.005),
        (TUNING_11, 200, 0.999, 0.0),
        (TUNING_12, 200, 0.984, 0.0),
        (HELD_OUT_2, 120, 0.974, 0.017),
        (HELD_OUT_3, 123, 0.958, 0.009),
        (HELD_OUT_4, 120, 0.982, 0.009),
        (HELD_OUT_5, 120, 0.941, 0.0),
        (HELD_OUT_6, 120, 0.966, 0.0),
        (HELD_OUT_7, 120, 0.966, 0.009),
        (HELD_OUT_8, 120, 0.949, 0.009),
        (HELD_OUT_9, 120, 0.941, 0.0),
        (HELD_OUT_10, 120, 0.974, 0.0),
        (HELD_OUT_11, 120, 0.941, 0.0),
        (HELD_OUT_12, 120, 0.966, 0.009),
        (HELD_OUT_13, 120, 0.874, 0.017),
        (HELD_OUT_14, 120, 0.941, 0.009),
        (HELD_OUT_15, 120, 0.941, 0.017),
        (HELD_OUT_16, 120, 0.958, 0.009),
        (HELD_OUT_17, 120, 0.957, 0.009),
        (HELD_OUT_18, 120, 0.974, 0.0),
        (CHECK_3, 60, 0.899, 0.0),
        (CHECK_7, 60, 0.999, 0.0),
    ],
    ids=[
        "tuning 2",
        "tuning 4",
        "check 5",
        "tuning 6",
        "tuning 8",
        "tuning 9",
        "tuning 10",
        "tuning 11",
        "tuning 12",
        "held-out 2",
        "held-out 3",
        "held-out 4",
        "held-out 5",
        "held-out 6",
        "held-out 7",
        "held-out 8",
        "held-out 9",
        "held-out 10",
        "held-out 11",
        "held-out 12",
        "held-out 13",
        "held-out 14",
        "held-out 15",
        "held-out 16",
        "held-out 17",
        "held-out 18",
        "check 3",
        "check 7",
    ],
)
def test_tuned_sets_stay_routed(path: Path, tickets: int, correct: float, misrouted: float):
    report = evaluate(path)
    text = report.summary() + "\n" + report.confusion_table() + "\n" + "\n".join(report.misses())
    print(f"\n{path.name}: " + text)
    assert report.total >= tickets
    assert report.share("correct") >= correct, text
    assert report.share("misrouted") <= misrouted, text


# The sets written blind for the eighth and ninth rounds load in order with their labels.
# Parsing classifies nothing, so held-out 10 and held-out 11 (written blind before the tenth
# round), held-out 12 (before the eleventh) and held-out 13 (before the twelfth) are checked in
# every suite without evaluating them, as are held-out 14 (before the thirteenth), held-out 15
# (written blind in the sixteenth session, before any change to routing in it), held-out 16
# (written blind on 2026-12-03 after held-out 15 was evaluated; never evaluated by its author)
# held-out 17 (written blind on 2026-12-05, before any routing tuning in its session),
# held-out 18 (written blind on 2026-12-05, to land before any routing change of its session),
# held-out 19 (written blind on 2026-12-06, the same way),
# held-out 20 (written blind on 2026-12-06 by another helper, the same way)
# held-out 21 (written blind on 2026-12-07 by another helper, the same way)
# held-out 22 (written blind on 2026-12-07 by another helper, the same way)
# held-out 23 (written blind on 2026-12-07 by another helper, the same way)
# held-out 24 (written blind on 2026-12-07 by another helper, the same way)
# and held-out 25 (written blind on 2026-12-07 by another helper, in a queue's uneven mix).
def _even(per_department: int, none: int) -> dict[str, int]:
    """A set written with as many tickets for each department."""
    return {
        "logistics": per_department,
        "quality": per_department,
        "post_sales": per_department,
        "none": none,
    }


@pytest.mark.parametrize(
    ("path", "prefix", "departments"),
    [
        (TUNING_11, "T11", _even(60, 20)),
        (TUNING_12, "T12", _even(60, 20)),
        (HELD_OUT_10, "H10", _even(36, 12)),
        (HELD_OUT_11, "H11", _even(36, 12)),
        (HELD_OUT_12, "H12", _even(36, 12)),
        (HELD_OUT_13, "H13", _even(36, 12)),
        (HELD_OUT_14, "H14", _even(36, 12)),
        (HELD_OUT_15, "H15", _even(36, 12)),
        (HELD_OUT_16, "H16", _even(36, 12)),
        (HELD_OUT_17, "H17", _even(36, 12)),
        (HELD_OUT_18, "H18", _even(36, 12)),
        (HELD_OUT_19, "H19", _even(36, 12)),
        (HELD_OUT_20, "H20", _even(36, 12)),
        (HELD_OUT_21, "H21", _even(36, 12)),
        (HELD_OUT_22, "H22", _even(36, 12)),
        (HELD_OUT_23, "H23", _even(36, 12)),
        (HELD_OUT_24, "H24", _even(36, 12)),
        (
            HELD_OUT_25,
            "H25",
            {"logistics": 36, "quality": 32, "post_sales": 34, "none": 18},
        ),
    ],
    ids=[
        "tuning_11",
        "tuning_12",
        "heldout_10",
        "heldout_11",
        "heldout_12",
        "heldout_13",
        "heldout_14",
        "heldout_15",
        "heldout_16",
        "heldout_17",
        "heldout_18",
        "heldout_19",
        "heldout_20",
        "heldout_21",
        "heldout_22",
        "heldout_23",
        "heldout_24",
        "heldout_25",
    ],
)
def test_blind_written_set_loads_with_its_labels(
    path: Path, prefix: str, departments: dict[str, int]
):
    rules = load_rules(EXAMPLE_CONFIG)
    tickets = parse_labelled(path.read_text(encoding="utf-8"), False, rules.departments)
    total = sum(departments.values())
    assert [t.id for t in tickets] == [f"{prefix}-{i:03d}" for i in range(1, total + 1)]
    assert Counter(t.department for t in tickets) == departments


def test_held_out_set_does_not_regress():
    """Not a target: a floor under the measured figures (docs/routing-accuracy.md, 100% and
    0%), so a vocabulary change that generalises worse is noticed."""
    report = evaluate(HELD_OUT)
    print("\nheld-out: " + report.summary() + "\n" + report.confusion_table())
    assert report.total >= 60
    assert report.share("correct") >= 0.98, report.summary()
    assert report.share("misrouted") <= 0.017, report.summary()


# The sets never tuned on, with floors under the lead's aggregate evaluation. Held-out 17 and 18
# were retired to tuning in the fifteenth round (their floors are with the tuned sets above; the
# lead's figures on the fourteenth round's rules were 81.7 / 6.7 and 82.5 / 5.8). Held-out 19
# (written blind on 2026-12-06 before the fifteenth round's changes landed, never opened by the
# engineer tuning) is the set never tuned on, with floors under the lead's figures after the
# round (75.0 / 12.5; the same before it). Held-out 20 (written blind on 2026-12-06 after the
# fifteenth round) is the second, with floors under the lead's figures (81.7 / 6.7). Held-out 21
# (written blind on 2026-12-07, never evaluated by its author) is the third, with floors under
# the lead's figures on main 1d3bfb1 (86.7 / 5.8). Held-out 22 and 23 (written blind on
# 2026-12-07) have floors under the lead's figures on b028397 (87.5 / 2.5) and 989731b (93.3 / 1.7);
# held-out 24 (written blind on 2026-12-07) under the lead's on e282413 (88.3 / 4.2), and
# held-out 25 (written blind on 2026-12-07, thirty-fifth session) under the lead's on 7a16113
# (90.0 / 2.5).
NEVER_TUNED_ON: list[tuple[Path, int, float, float]] = [
    (HELD_OUT_19, 120, 0.749, 0.126),
    (HELD_OUT_20, 120, 0.816, 0.067),
    (HELD_OUT_21, 120, 0.866, 0.059),
    (HELD_OUT_22, 120, 0.874, 0.026),
    (HELD_OUT_23, 120, 0.932, 0.017),
    (HELD_OUT_24, 120, 0.882, 0.042),
    (HELD_OUT_25, 120, 0.899, 0.025),
]


@blind_sets
@pytest.mark.parametrize(("path", "tickets", "correct", "misrouted"), NEVER_TUNED_ON)
def test_sets_never_tuned_on_do_not_regress(
    path: Path, tickets: int, correct: float, misrouted: float
):
    report = evaluate(path)  # aggregate figures only: nobody tunes on these misses
    print(f"\n{path.name}: " + report.summary() + "\n" + report.confusion_table())
    assert report.total >= tickets
    assert report.share("correct") >= correct, report.summary()
    assert report.share("misrouted") <= misrouted, report.summary()


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
            'description mentions "weeks late" → delivery delay → Logistics',
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


def test_the_summary_counts_one_ticket_in_the_singular():
    rules = load_rules(EXAMPLE_CONFIG)
    line = (
        '{"id": "T1", "subject": "Wrong item delivered", "description": "",'
        ' "department": "logistics"}'
    )
    tickets = parse_labelled(line, True, rules.departments)
    report = evaluate_accuracy(rules.routing, tickets, rules.departments)
    assert report.summary() == (
        "1 ticket: 1 correct (100.0%), 0 misrouted (0.0%), 0 unclassified (0.0%)"
    )
