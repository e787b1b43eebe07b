"""benchmarks/routing_crossval.py: the lead's blind sets are never read, folds hold whole sets,
and its model-and-phrases combination is classify_ticket's."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.routing_crossval import (
    BLIND_AT,
    BLIND_SETS,
    DATA,
    BlindSetError,
    LabelledSet,
    Policy,
    Prediction,
    close_curve,
    combine,
    folds_of,
    labelled_sets,
    load_or_cross_validate,
    load_sets,
    main,
    margin_curve,
    phrases_then,
    threshold_grid,
)
from deskbridge.workflows.accuracy import LabelledTicket

DEPARTMENTS = ("logistics", "quality", "post_sales")


@pytest.mark.parametrize("name", sorted(BLIND_SETS))
def test_a_blind_set_is_refused_by_name_before_it_is_opened(tmp_path, name, capsys):
    # The file does not exist: refusing it must not need to read it.
    given = [DATA / "routing_labelled.yaml", tmp_path / name]
    with pytest.raises(BlindSetError):
        labelled_sets(given)
    assert main(["--sets", *map(str, given)]) == 2
    assert name in capsys.readouterr().err


def test_a_link_to_a_blind_set_is_refused_too(tmp_path):
    link = tmp_path / "innocent.yaml"
    link.symlink_to(tmp_path / "routing_heldout_19.yaml")
    with pytest.raises(BlindSetError):
        labelled_sets([link])


def test_the_default_sets_leave_the_blind_ones_out():
    names = {path.name for path in labelled_sets()}
    assert "routing_labelled.yaml" in names
    assert not names & BLIND_SETS
    # The set never tuned on since the fifteenth round: left out by name, never opened; the
    # sets that round retired to tuning are read.
    assert "routing_heldout_19.yaml" not in names
    # Held-out 20 is being written blind: named before it lands, so no glob ever reads it.
    assert "routing_heldout_20.yaml" in BLIND_SETS
    assert "routing_heldout_20.yaml" not in names
    # So is held-out 21 (the twenty-ninth session).
    assert "routing_heldout_21.yaml" in BLIND_SETS
    assert "routing_heldout_21.yaml" not in names
    # And held-out 22 (the thirtieth session).
    assert "routing_heldout_22.yaml" in BLIND_SETS
    assert "routing_heldout_22.yaml" not in names
    # And held-out 23 (the thirty-first session).
    assert "routing_heldout_23.yaml" in BLIND_SETS
    assert "routing_heldout_23.yaml" not in names
    # And held-out 24 (the thirty-second session).
    assert "routing_heldout_24.yaml" in BLIND_SETS
    assert "routing_heldout_24.yaml" not in names
    # And held-out 25 (the thirty-fifth session).
    assert "routing_heldout_25.yaml" in BLIND_SETS
    assert "routing_heldout_25.yaml" not in names
    assert {"routing_heldout_17.yaml", "routing_heldout_18.yaml"} <= names
    assert not {f"routing_{name}.yaml" for name in BLIND_AT} & BLIND_SETS


def test_folds_hold_whole_sets_of_about_equal_size():
    sets = [LabelledSet(f"s{i}", [None] * size) for i, size in enumerate([200, 120, 120, 60, 60])]
    assert folds_of(sets, 0) == [[0], [1], [2], [3], [4]]
    groups = folds_of(sets, 2)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3, 4]
    sizes = sorted(sum(len(sets[i].tickets) for i in g) for g in groups)
    assert sizes == [260, 300]


@pytest.mark.parametrize(
    ("phrases", "answer", "expected"),
    [
        # left to a person: filled from the threshold on, never with none
        ((None, "none"), ("quality", 0.75), "quality"),
        ((None, "ambiguous"), ("quality", 0.65), "none"),
        ((None, "none"), ("none", 0.95), "none"),
        # chosen by phrases: overruled by a surer other department, questioned by a less sure
        # other answer
        (("logistics", "phrase"), ("quality", 0.95), "quality"),
        (("logistics", "phrase"), ("none", 0.95), "none"),
        (("logistics", "phrase"), ("quality", 0.85), "none"),
        (("logistics", "phrase"), ("quality", 0.75), "logistics"),
        (("logistics", "phrase"), ("logistics", 0.99), "logistics"),
        # not an order problem: overruled by a department from the same threshold, never
        # questioned below it
        ((None, "phrase"), ("quality", 0.99), "quality"),
        ((None, "phrase"), ("quality", 0.85), "none"),
        ((None, "phrase"), ("none", 0.99), "none"),
        # a field or a tag: never questioned
        (("logistics", "tag"), ("quality", 0.99), "logistics"),
        (("logistics", "field"), ("quality", 0.99), "logistics"),
    ],
)
def test_the_combination_is_classify_tickets(phrases, answer, expected):
    assert combine(phrases, answer, DEPARTMENTS, Policy(0.7, 0.8, 0.9)) == expected


def test_without_a_second_opinion_a_phrase_department_stands():
    policy = Policy(0.7)
    assert combine(("logistics", "phrase"), ("quality", 0.99), DEPARTMENTS, policy) == "logistics"
    asking = Policy(0.7, 0.8)
    assert combine(("logistics", "phrase"), ("quality", 0.99), DEPARTMENTS, asking) == "none"


def test_the_sets_blind_at_a_commit_exist():
    assert all((DATA / f"routing_{name}.yaml").is_file() for name in BLIND_AT)
    assert Path(DATA).name == "data"


def test_then_reads_a_set_given_by_a_relative_path(monkeypatch, tmp_path):
    # The snapshot's phrases run in a temporary folder: a relative --sets path, its answers
    # not cached, was looked for there (FileNotFoundError, the subprocess failed).
    monkeypatch.chdir(DATA.parent.parent.parent)
    path = Path("tests/workflows/data/routing_check_3.yaml")
    sets = load_sets([path], DEPARTMENTS)

    answers = phrases_then(sets, {"check_3": path}, tmp_path / "cache")

    assert len(answers["check_3"]) == len(sets[0].tickets)
    assert {source for _, source in answers["check_3"]} <= {
        "field",
        "tag",
        "phrase",
        "none",
        "ambiguous",
    }


def test_the_threshold_grid_ranks_precision_first():
    tickets = [
        LabelledTicket(id="A", subject="a", department="logistics"),
        LabelledTicket(id="B", subject="b", department="quality"),
    ]
    sets = [LabelledSet("s", tickets)]
    predictions = {
        "s": [
            Prediction({"logistics": 0.95, "quality": 0.05}),
            Prediction({"quality": 0.62, "logistics": 0.38}),
        ]
    }
    # The phrases, blind: A misrouted to Quality, B left to a person.
    then = {"s": [("quality", "phrase"), (None, "none")]}
    lines = threshold_grid(sets, predictions, DEPARTMENTS, then, 400)
    assert lines[1] == (
        "THRESHOLDS ON THE BLIND PHRASES (1 sets), best 400 of 330 by correct - 3 x misrouted:"
        " fill / ask / overrule"
    )
    rows = lines[2:-1]
    assert len(rows) == 330
    # Overruled from 0.95 or lower (A right) and filled from 0.62 or lower (B right) first;
    # last, the misroute kept and B left to a person: 0 right, 1 misrouted.
    assert rows[0] == "  0.5 / 0.3 / 0.8              2   100.0 / 0.0 / 0.0  (2 / 0 / 0 of 2)"
    assert rows[-1] == "  0.8 / None / None           -3   0.0 / 50.0 / 50.0  (0 / 1 / 1 of 2)"
    # Never overruling below filling or asking (the rules file refuses it).
    for row in rows:
        fill, _, doubt, _, overrule = row.split()[:5]
        if overrule != "None":
            assert float(overrule) >= max(float(fill), float(doubt) if doubt != "None" else 0)


def test_the_thresholds_chosen_on_the_other_sets_are_measured_on_each_in_turn():
    one = [
        LabelledTicket(id="A", subject="a", department="logistics"),
        LabelledTicket(id="B", subject="b", department="quality"),
    ]
    other = [LabelledTicket(id="C", subject="c", department="logistics")]
    sets = [LabelledSet("s", one), LabelledSet("t", other)]
    predictions = {
        "s": [
            Prediction({"logistics": 0.95, "quality": 0.05}),
            Prediction({"quality": 0.62, "logistics": 0.38}),
        ],
        "t": [Prediction({"quality": 0.85, "logistics": 0.15})],
    }
    # s wants overruling (A) and filling (B); t's phrases are right and the model, 85% sure of
    # Quality, wrong: only never asking and overruling from 0.9 keeps C right.
    then = {"s": [("quality", "phrase"), (None, "none")], "t": [("logistics", "phrase")]}
    lines = threshold_grid(sets, predictions, DEPARTMENTS, then, 1)
    # s left out: t's best cell (the first, 0.5 / None / 0.9) gets A and B right; t left
    # out: s's best (0.5 / 0.3 / 0.8) overrules C to Quality, a misroute.
    assert lines[-1] == (
        "  chosen on the other sets, each set in turn:    -1   66.7 / 33.3 / 0.0  (2 / 1 / 0 of 3);"
        " chosen: 0.5 / None / 0.9 x 1, 0.5 / 0.3 / 0.8 x 1"
    )


@pytest.mark.parametrize(
    ("phrases", "answer", "margin", "expected"),
    [
        # left to a person: filled only when the answer leads its second by the margin
        ((None, "none"), ("quality", 0.75), 0.55, "quality"),
        ((None, "none"), ("quality", 0.75), 0.5, "quality"),
        ((None, "none"), ("quality", 0.75), 0.45, "none"),
        # overruling the phrases likewise; below the margin, the disagreement asks
        (("logistics", "phrase"), ("quality", 0.95), 0.9, "quality"),
        (("logistics", "phrase"), ("quality", 0.95), 0.4, "none"),
        ((None, "phrase"), ("quality", 0.95), 0.4, "none"),
        # agreeing with the phrases is no routing of the model's: the margin does not apply
        (("logistics", "phrase"), ("logistics", 0.4), 0.05, "logistics"),
    ],
)
def test_the_model_routes_only_with_its_margin(phrases, answer, margin, expected):
    policy = Policy(0.7, 0.8, 0.9, margin=0.5)
    assert combine(phrases, answer, DEPARTMENTS, policy, margin) == expected
    # Without the setting, any lead will do.
    assert combine(phrases, answer, DEPARTMENTS, policy._replace(margin=None), margin) == (
        "logistics" if phrases[0] == "logistics" and answer[1] < 0.9 else answer[0]
    )


def test_a_predictions_margin_is_its_lead_over_the_second():
    assert Prediction({"logistics": 0.6, "quality": 0.3, "none": 0.1}).margin == pytest.approx(0.3)


def test_the_margin_curve_and_the_margin_chosen_on_the_other_sets():
    one = [
        LabelledTicket(id="A", subject="a", department="logistics"),
        LabelledTicket(id="B", subject="b", department="none"),
    ]
    other = [LabelledTicket(id="C", subject="c", department="quality")]
    sets = [LabelledSet("s", one), LabelledSet("t", other)]
    predictions = {
        # A: 0.8 sure, a lead of 0.6 (right); B: 0.75 sure, a lead of 0.5 (wrong, a non-problem)
        "s": [
            Prediction({"logistics": 0.8, "quality": 0.2}),
            Prediction({"quality": 0.75, "none": 0.25}),
        ],
        # C: 0.72 sure, a lead of 0.44 (right)
        "t": [Prediction({"quality": 0.72, "logistics": 0.28})],
    }
    then = {"s": [(None, "none"), (None, "none")], "t": [(None, "none")]}
    lines = margin_curve(
        sets, predictions, DEPARTMENTS, then, Policy(0.7, 0.4, 0.9), [0.4, 0.55, 0.7]
    )
    assert lines[1:] == [
        "THE MODEL'S MARGIN ON THE BLIND PHRASES (2 sets), at 0.7 / 0.4 / 0.9: it fills or"
        " overrules only when its answer leads its second by at least",
        "  None                        -1   66.7 / 33.3 / 0.0  (2 / 1 / 0 of 3)",
        "  0.4                         -1   66.7 / 33.3 / 0.0  (2 / 1 / 0 of 3)",
        # B, a non-problem, is right when asked
        "  0.55                         2   66.7 / 0.0 / 33.3  (2 / 0 / 1 of 3)",
        "  0.7                          1   33.3 / 0.0 / 66.7  (1 / 0 / 2 of 3)",
        # s left out: t's best is the first of None and 0.4 (C right), which misroutes B; t
        # left out: s's best is 0.55 (A right, B asked: both right), which asks for C.
        "  chosen on the other sets, each set in turn:    -2  33.3 / 33.3 / 33.3  (1 / 1 / 1 of"
        " 3); chosen: None x 1, 0.55 x 1",
    ]


def test_the_folds_predictions_are_kept_for_the_same_sets_and_trainer(tmp_path):
    tickets = [
        LabelledTicket(id="A", subject="parcel late", department="logistics"),
        LabelledTicket(id="B", subject="chair broken", department="quality"),
    ]
    sets = [LabelledSet("s", tickets[:1]), LabelledSet("t", tickets[1:])]
    trained = []

    class Fixed:
        labels = ("logistics", "quality")

        def probabilities(self, texts):
            return [[0.25, 0.75] for _ in texts]

    def trainer(train):
        trained.append([t.id for t in train])
        return Fixed()

    saved = tmp_path / "predictions.json"
    first, _ = load_or_cross_validate(sets, trainer, 0, 1, saved, "fixed")
    assert trained == [["B"], ["A"]]
    again, cpu = load_or_cross_validate(sets, trainer, 0, 1, saved, "fixed")
    assert trained == [["B"], ["A"]] and cpu is None
    assert (
        again
        == first
        == {
            "s": [Prediction({"logistics": 0.25, "quality": 0.75})],
            "t": [Prediction({"logistics": 0.25, "quality": 0.75})],
        }
    )
    # Another trainer's name, or other tickets, train again.
    load_or_cross_validate(sets, trainer, 0, 1, saved, "another")
    assert len(trained) == 4
    load_or_cross_validate(sets[:1], trainer, 0, 1, saved, "another")
    assert len(trained) == 5


def test_the_phrases_ask_when_close_curve_alone_and_with_the_model():
    tickets = [
        LabelledTicket(id="A", subject="a", department="logistics"),
        LabelledTicket(id="B", subject="b", department="quality"),
    ]
    sets = [LabelledSet("s", tickets[:1]), LabelledSet("t", tickets[1:])]
    predictions = {
        "s": [Prediction({"logistics": 0.8, "quality": 0.2})],
        "t": [Prediction({"quality": 0.6, "logistics": 0.4})],
    }
    # At 0.5 both runners-up are close enough to ask; at 0.9 neither is: A is right, B
    # misrouted to Logistics.
    then_at = {
        0.5: {"s": [(None, "ambiguous")], "t": [(None, "ambiguous")]},
        0.9: {"s": [("logistics", "phrase")], "t": [("logistics", "phrase")]},
    }
    lines = close_curve(sets, predictions, DEPARTMENTS, then_at, Policy(0.7, 0.4, 0.9))
    assert lines[1:] == [
        "THE BLIND PHRASES (2 sets) AT EACH routing.ask_when_close (a person is asked when"
        " another department scores at least that share of the best)",
        " alone:",
        "  0.5                          0   0.0 / 0.0 / 100.0  (0 / 0 / 2 of 2)",
        "  0.9                         -2   50.0 / 50.0 / 0.0  (1 / 1 / 0 of 2)",
        # s left out: t's best is 0.5 (asking: 0 against -3), which asks for A; t left out:
        # s's best is 0.9 (A right), which misroutes B.
        "  chosen on the other sets, each set in turn:    -3   0.0 / 50.0 / 50.0  (0 / 1 / 1 of"
        " 2); chosen: 0.5 x 1, 0.9 x 1",
        " with the model at 0.7 / 0.4 / 0.9:",
        # The model fills A (80% sure) when asked and leaves B (60%) to a person; at 0.9 it
        # is 60% sure of Quality against the phrases' Logistics: asked.
        "  0.5                          1   50.0 / 0.0 / 50.0  (1 / 0 / 1 of 2)",
        "  0.9                          1   50.0 / 0.0 / 50.0  (1 / 0 / 1 of 2)",
        # Ties go to the first value in order: 0.5 each time.
        "  chosen on the other sets, each set in turn:     1   50.0 / 0.0 / 50.0  (1 / 0 / 1 of"
        " 2); chosen: 0.5 x 2",
    ]
