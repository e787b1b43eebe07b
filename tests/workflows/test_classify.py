"""The classifier's mechanisms on the example rules: intent before topic, negation and
conditionals, lemmas, typos, asking when departments score close, and what `explain` shows."""

from __future__ import annotations

import pytest

from deskbridge.cli import format_explanation
from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.classify import Hit, classify_ticket
from deskbridge.workflows.text import (
    build_sign_offs,
    grouped_index,
    own_words,
    split_quoted,
    tokenize,
    without_signature,
)

RULES = load_rules(EXAMPLE_CONFIG)
NAMES = {k: d.name for k, d in RULES.departments.items()}


def classify(subject: str, description: str = "", config=None, **kwargs):
    return classify_ticket(
        config or RULES.routing,
        subject=subject,
        description=description,
        department_names=NAMES,
        **kwargs,
    )


def assert_routed(subject: str, description: str, expected: str | None) -> None:
    """`expected` is a department, "department/category", or None (nothing routed)."""
    result = classify(subject, description)
    got = result.department
    if expected and "/" in expected:
        got = f"{result.department}/{result.category}"
    assert got == expected, result.reason


def test_asking_for_a_remedy_decides_and_the_reason_names_the_problem():
    result = classify("Order 5521", "It is two weeks late now. Please refund me.")
    assert (result.department, result.category, result.problem) == (
        "post_sales",
        "refund",
        "delivery_delay",
    )
    assert result.reason == (
        'description mentions "refund me" (a remedy request; the problem: delivery delay,'
        ' "weeks late")'
        " → refund request → Post-Sales"
    )


@pytest.mark.parametrize(
    ("description", "department", "category"),
    [
        ("No refund needed, just tell me where it is.", "logistics", "delivery_delay"),
        ("I do not want a refund, I want to know where my parcel is", "logistics", None),
        ("If it does not arrive by Friday I want a refund.", "logistics", "delivery_delay"),
        (
            "The drawer runner snapped. I don't want a replacement, I want it repaired.",
            "quality",
            "product_defect",
        ),
        # A negated wish reaches further than four words.
        (
            "I don't want to cancel or get a refund, I want to know when the sofa is coming."
            " It is two weeks late.",
            "logistics",
            "delivery_delay",
        ),
        # "if you can't" is a condition, not a polite "if you could".
        (
            "If you can't find my parcel I'll need a refund. The tracking says delivered to a"
            " house I don't know.",
            "logistics",
            "lost_shipment",
        ),
    ],
)
def test_a_negated_or_conditional_remedy_decides_nothing(description, department, category):
    result = classify("Order 7710", description)
    assert result.department == department
    if category:
        assert result.category == category
    remedy_hits = [
        h
        for h in result.hits
        if RULES.routing.categories.get(h.category) and RULES.routing.categories[h.category].remedy
    ]
    assert remedy_hits and not any(h.counts for h in remedy_hits)


def test_negation_and_condition_are_shown():
    result = classify("Order 7710", "No refund needed. If it is lost, send a replacement.")
    skipped = {(h.phrase, h.negated_by, h.conditional) for h in result.hits if not h.counts}
    assert ("refund", "no", False) in skipped
    assert ("replacement", None, True) in skipped


def test_inflections_match_through_lemmas():
    # The phrase list says "arrived damaged"; the text says "arrives … damaged" and "boxes".
    result = classify("Chairs", "Both chairs arrive damaged every time, the boxes crushed.")
    assert (result.department, result.category) == ("logistics", "transit_damage")


def test_one_letter_typos_in_longer_words_are_read_as_phrase_words():
    result = classify("parcle", "My parcle was never recieved, tracking says delivred")
    assert result.department == "logistics"
    corrected = {c for h in result.hits for c in h.corrected}
    assert "recieved→receive" in corrected


def test_english_words_are_not_corrected():
    # "later" is an English word one letter from "late": it must not read as a delay.
    result = classify("Question", "Could you call me back later today please?")
    assert result.department is None
    assert not any(h.phrase == "late" for h in result.hits)


def test_close_scores_between_departments_ask_instead_of_guessing():
    result = classify("Table", "The table is wobbly and it arrived late.")
    assert (result.department, result.source) == (None, "ambiguous")
    assert result.asks
    assert "too close to choose" in result.reason
    assert result.runner_up is not None


def test_a_clear_winner_is_not_asked_and_names_the_runner_up():
    result = classify(
        "Delivery still not arrived",
        "Where is my order? It was due last week and tracking has not moved. The last sofa"
        " you sent was wobbly.",
    )
    assert (result.department, result.source) == ("logistics", "phrase")
    assert result.runner_up is not None
    assert RULES.routing.categories[result.runner_up].department == "quality"


def test_a_remedy_tag_beats_a_problem_tag():
    result = classify("Order 1", "", tags=["late_delivery", "refund_request"])
    assert (result.department, result.source, result.reason) == (
        "post_sales",
        "tag",
        'tag "refund_request" → refund request → Post-Sales',
    )


def test_the_category_field_is_read_by_its_id_too():
    config = RULES.routing.model_copy(update={"category_field_id": "360012345678"})
    result = classify("Hello", "", config=config, fields={"360012345678": "faulty"})
    assert (result.department, result.source, result.reason) == (
        "quality",
        "field",
        'field 360012345678 is "faulty" → product defect → Quality/Production',
    )


def test_hits_carry_points_for_explain():
    result = classify("Order 100482 — tracking hasn't moved in 6 days", "")
    assert Hit("delivery_delay", "tracking has not moved", "subject", 6.0) in result.hits
    assert result.scores["delivery_delay"] >= 6.0


@pytest.mark.parametrize(
    "description",
    [
        "I want a refund if it is not here by Friday, it is already a week late.",
        "Will I get a refund if it doesn't arrive by the weekend? It's already late.",
    ],
)
def test_a_condition_after_the_remedy_makes_it_hypothetical_too(description):
    result = classify("Order 7710", description)
    assert (result.department, result.category) == ("logistics", "delivery_delay")
    refund = [h for h in result.hits if h.category == "refund"]
    assert refund and all(h.conditional and not h.counts for h in refund)


def test_a_polite_condition_still_asks_for_the_remedy():
    result = classify("Broken lamp", "Could you refund me if that's ok? The base is cracked.")
    assert result.department == "post_sales"
    assert Hit("refund", "refund me", "description", 2.0) in result.hits


def test_follow_up_words_count_only_when_a_remedy_is_named():
    late = classify("Late", "You promised delivery by Friday and it's now Tuesday.")
    assert (late.department, late.category) == ("logistics", "delivery_delay")
    promised = [h for h in late.hits if h.phrase == "you promised"]
    assert promised == [Hit("request_follow_up", "you promised", "description", 0.0, unmet=True)]
    voucher = classify("Voucher", "You promised me a voucher for the late delivery last week.")
    assert (voucher.department, voucher.category) == ("post_sales", "request_follow_up")


def test_a_parcel_stuck_in_transit_is_not_a_drawer_that_sticks():
    parcel = classify("Parcel stuck", "My parcel has been stuck at the sorting centre for 6 days.")
    assert (parcel.department, parcel.category) == ("logistics", "delivery_delay")
    drawer = classify("Drawer", "The drawer sticks every time I open it, the runner is bent.")
    assert (drawer.department, drawer.category) == ("quality", "product_defect")


@pytest.mark.parametrize(
    ("description", "department"),
    [
        ("I've had to replace the bulb three times and the lamp still flickers.", "quality"),
        ("The labels on the boxes were swapped, I got the wrong bookcase.", "logistics"),
        ("Could you replace the cracked lamp base please?", "post_sales"),
    ],
)
def test_a_weak_remedy_counts_only_where_something_is_asked_for(description, department):
    result = classify("Order 5521", description)
    assert result.department == department
    weak = [h for h in result.hits if h.phrase in RULES.routing.weak_remedies]
    assert weak
    assert all(h.unasked and not h.counts for h in weak) == (department != "post_sales")


def test_a_weak_remedy_in_the_subject_or_alone_in_a_clause_is_asked_for():
    assert classify("Exchange", "The chair is too low for our table.").department == "post_sales"
    assert classify("Order 5521", "Chair too low. Exchange?").department == "post_sales"


def test_general_words_decide_only_when_no_phrase_does_and_with_two_of_them():
    # No phrase names a problem; "shipment", "tracking", "van" and "warehouse" are general
    # delivery words.
    result = classify(
        "Hello", "Any news about my shipment? The tracking shows the van at the warehouse."
    )
    assert (result.department, result.category, result.score) == (
        "logistics",
        "delivery_general",
        4.0,
    )
    # One general word is not enough.
    assert classify("Hello", "My shipment, please.").department is None
    # A phrase of a category wins, and general words are not even looked for (the damage
    # told after the driver is cued as damage in transit: thirteenth round).
    result = classify(
        "Hello", "The van driver has my shipment and the table leg is cracked and broken."
    )
    assert (result.department, result.category) == ("logistics", "transit_damage")
    assert not any(h.category.endswith("_general") for h in result.hits)


def test_a_remedy_object_counts_with_a_request_word_and_a_remedy_verb():
    asked = classify("Vase", "The vase arrived smashed. Could I have another one sent out?")
    assert (asked.department, asked.category, asked.problem) == (
        "post_sales",
        "replacement",
        "transit_damage",
    )
    assert asked.reason == (
        'description mentions "another one" (a remedy request; the problem: damage in transit,'
        ' "arrived smashed") → replacement request → Post-Sales'
    )
    # The same object told, not asked for: no request word, no remedy verb.
    told = classify("Vase", "Another one arrived smashed as well.")
    assert (told.department, told.category) == ("logistics", "transit_damage")
    assert [h for h in told.hits if h.phrase == "another one"] == [
        Hit("replacement", "another one", "description", 0.0, unasked=True)
    ]
    money = classify("Order 5521", "I want my money returned, all of it.")
    assert (money.department, money.category) == ("post_sales", "refund")
    declined = classify("Order 5521", "I don't want my money returned, the sofa is two weeks late.")
    assert (declined.department, declined.category) == ("logistics", "delivery_delay")
    cost = classify("Handyman", "I expect you to cover the cost, the legs were so wobbly.")
    assert (cost.department, cost.category) == ("post_sales", "compensation")


def test_one_bare_word_is_too_little_to_route():
    result = classify("Question", "Is the oak table solid wood or veneer?")
    assert (result.department, result.source) == (None, "ambiguous")
    assert result.reason == (
        'only "veneer" (1) names a problem, too little to choose Quality/Production'
    )
    # min_score 0 routes on any phrase; two words of a problem are enough at 1.5.
    anything = RULES.routing.model_copy(update={"min_score": 0.0})
    assert classify("Question", "Is the oak table solid wood or veneer?", anything).department == (
        "quality"
    )
    assert classify("Order 5521", "The veneer is peeling.").department == "quality"


@pytest.mark.parametrize(
    "description",
    [
        "Refund not needed, the chair is two weeks late.",
        "A replacement is not necessary: the chair is two weeks late.",
        "Compensation? No need. The chair is two weeks late.",
    ],
)
def test_a_remedy_declined_after_it_is_named_decides_nothing(description):
    result = classify("Order 5521", description)
    assert (result.department, result.category) == ("logistics", "delivery_delay")
    remedies = [h for h in result.hits if RULES.routing.categories[h.category].remedy]
    assert remedies and all(h.negated_by in ("not", "no") and not h.counts for h in remedies)


@pytest.mark.parametrize(
    "description",
    [
        "Mein Paket ist nicht angekommen. Eine Erstattung brauche ich nicht, ich möchte die Ware.",
        "Mein Paket ist nicht angekommen. Eine Erstattung ist nicht nötig.",
        "Mon colis n'est pas arrivé. Un remboursement n'est pas nécessaire.",
        "Mi paquete no ha llegado. Un reembolso no es necesario, solo quiero saber dónde está.",
    ],
)
def test_a_remedy_declined_after_it_is_named_in_other_languages_decides_nothing(description):
    # German, French and Spanish decline after the remedy too ("a refund I do not need").
    result = classify("Order 5521", description)
    assert result.department == "logistics"
    remedies = [h for h in result.hits if RULES.routing.categories[h.category].remedy]
    assert remedies and not any(h.counts for h in remedies)
    asked = classify("Order 5521", "Mein Paket ist nicht angekommen. Ich brauche eine Erstattung.")
    assert (asked.department, asked.problem) == ("post_sales", "lost_shipment")


def test_a_remedy_compared_away_is_not_asked_for():
    kept = classify("Sofa", "I would rather keep the sofa than get a refund, the cushion is torn.")
    assert (kept.department, kept.category) == ("quality", "product_defect")
    refund = [h for h in kept.hits if h.phrase == "refund"]
    assert refund == [Hit("refund", "refund", "description", 0.0, negated_by="than")]
    swap = classify("Lamp", "I want a replacement instead of a refund, the switch is faulty.")
    assert (swap.department, swap.category) == ("post_sales", "replacement")
    assert [h.negated_by for h in swap.hits if h.phrase == "refund"] == ["instead of"]


def test_synonyms_vary_phrases_of_two_words_or_more():
    rules = RULES.routing.model_copy(update={"synonyms": {"parcel": ["consignment"]}})
    late = classify("Update", "Where is my consignment? It has been ten days.", config=rules)
    assert (late.department, late.category) == ("logistics", "delivery_delay")
    assert late.reason == (
        'description mentions "where is my consignment" → delivery delay → Logistics'
    )
    # One-word phrases are not varied: "late" is a phrase, "tardy" does not become one.
    tardy = RULES.routing.model_copy(update={"synonyms": {"late": ["tardy"]}})
    bare = classify("Sofa", "The sofa is tardy.", config=tardy)
    assert (bare.department, bare.source) == (None, "none")
    # The example's thesaurus: "should have arrived" also reads "should have turned up".
    example = classify("Sofa", "It should have turned up on Monday, nothing yet.")
    assert (example.department, example.category) == ("logistics", "delivery_delay")
    assert "should have turn up" in [h.phrase for h in example.hits]


def test_damage_after_a_delivery_word_is_damage_in_transit():
    arrived = classify("Chair", "The chair arrived yesterday and one leg is broken.")
    assert (arrived.department, arrived.category) == ("logistics", "transit_damage")
    assert Hit("transit_damage", "arrive … broken", "description", 2.0) in arrived.hits
    # The same word is damage in transit only, not a defect too (seventh round).
    assert Hit("product_defect", "broken", "description", 0.0, about="arrive") in arrived.hits
    assert arrived.scores == {"transit_damage": 2.0}
    # A stop word between: the damage came later.
    later = classify("Chair", "The chair arrived fine, after a month one leg is broken.")
    assert (later.department, later.category) == ("quality", "product_defect")
    assert [h.phrase for h in later.hits] == ["broken"]
    alone = classify("Chair", "One leg is broken.")
    assert (alone.department, alone.category) == ("quality", "product_defect")


def test_damage_told_with_when_it_happened_is_damage_in_transit():
    # The cue right after the damage word (cues_after): "chipped on arrival", "snapped off in
    # delivery", "scratches after delivery".
    chipped = classify("Sideboard chipped on arrival", "The top corner is chipped.")
    assert (chipped.department, chipped.category) == ("logistics", "transit_damage")
    assert Hit("transit_damage", "chipped on arrival", "subject", 3.0) in chipped.hits
    assert Hit("finish_issue", "chipped", "subject", 0.0, about="on arrival") in chipped.hits
    snapped = classify("Sofa leg snapped off in delivery", "Order 55120, photos attached.")
    assert (snapped.department, snapped.category) == ("logistics", "transit_damage")
    assert "snapped off in delivery" in [h.phrase for h in snapped.hits if h.counts]
    # Not a time after delivery: weeks of use between make it a defect.
    later = classify("Chair", "The leg snapped off two weeks after delivery.")
    assert (later.department, later.category) == ("quality", "product_defect")
    # The cues in the other languages customers write in.
    french = classify("Miroir", "Le carton est arrivé ouvert et le miroir a une fissure.")
    assert (french.department, french.category) == ("logistics", "transit_damage")


def test_explain_says_which_words_a_cued_phrase_took():
    from click.testing import CliRunner

    from deskbridge.cli import main

    def explain(subject: str, description: str) -> list[str]:
        args = ["routing", "explain", subject, description, "--config", str(EXAMPLE_CONFIG)]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        return result.output.splitlines()

    chipped = explain("Sideboard chipped on arrival", "Order 55120.")
    assert (
        '         finishing or workmanship issue: "chipped" in subject — told with "on arrival":'
        " the same words count for another category (its cue)"
    ) in chipped
    link = explain("Tracking", "The tracking link is not working.")
    assert (
        '         product defect: "is not working" in description — said of "link" (one of its'
        " not_after words)"
    ) in link


def test_a_word_of_another_language_is_no_english_typo():
    # "stoelen" (Dutch for chairs) is one letter from "stolen"; "Schrank" from "shrank".
    dutch = classify("Openingstijden", "Ik wil graag een paar stoelen komen bekijken.")
    assert (dutch.department, dutch.source) == (None, "none")
    assert not dutch.hits
    # An English word with a typo is still read as meant.
    typo = classify("Order 5512", "I never recieved the parcel.")
    assert (typo.department, typo.category) == ("logistics", "lost_shipment")


def test_a_word_of_another_language_is_no_typo_of_another_word_of_it():
    # "envoyer" (send) is a French word of its own, not "renvoyer" (send back, a reshipment);
    # "m'en envoyer un autre" asks for another one.
    parts = classify(
        "Pièces manquantes",
        "Il manque les deux charnières. Pouvez-vous me les envoyer ? Je n'ai pas besoin d'un"
        " remboursement.",
    )
    assert (parts.department, parts.category) == ("quality", "missing_parts")
    assert not [h for h in parts.hits if h.corrected]
    another = classify(
        "Miroir cassé", "Le miroir est arrivé brisé. Pouvez-vous m'en envoyer un autre ?"
    )
    assert (another.department, another.category) == ("post_sales", "replacement")


def test_a_remedy_in_the_shops_subject_replied_to_is_not_asked_for():
    # "Re: Your …" is the shop's mail replied to: its remedy is the shop's word, as in quoted
    # mail; a contact the customer closes is no order problem.
    closed = classify(
        "Re: Your replacement is on its way",
        "Lovely, thank you. The new cushion cover arrived today and it's perfect. No need to do"
        " anything else!",
    )
    assert (closed.department, closed.source) == (None, "phrase")
    assert [
        (h.phrase, h.counts, h.unasked) for h in closed.hits if h.category == "replacement"
    ] == [("replacement", False, True)]
    # The customer's own words still ask, in the description or in their own subject.
    asked = classify("Re: Your replacement", "Where is my replacement? It has been 3 weeks.")
    assert (asked.department, asked.category) == ("post_sales", "replacement")
    own = classify("Re: Replacement chair", "Any news?")
    assert (own.department, own.category) == ("post_sales", "replacement")


def test_a_question_in_the_subject_about_a_remedy_the_description_only_asks_about():
    # "Would a refund be faster?" reads "refund be" as a refund followed up; the description
    # only asks whether cancelling would be faster, so nothing asks for a remedy.
    result = classify(
        "Would a refund be faster?",
        "Order 35561 is a month late. Would cancelling for a refund get me my money any faster"
        " than waiting? Either way I need to know when they are expected.",
    )
    assert (result.department, result.category) == ("logistics", "delivery_delay")
    # A subject that asks for a remedy without a question mark still does.
    asked = classify(
        "Compensation for late delivery",
        "Do you offer refunds when a delivery is late? My sofa is 3 weeks late.",
    )
    assert (asked.department, asked.category) == ("post_sales", "compensation")


def test_a_delivery_moved_before_dispatch_is_no_order_problem():
    # The policy's change before shipping: its "not dispatched yet" is why it can be moved.
    moved = classify(
        "Move delivery date",
        "My wardrobe is booked for delivery on 9 December. It hasn't been dispatched yet. Could"
        " we move the delivery to the week of the 16th instead?",
    )
    assert (moved.department, moved.source) == (None, "phrase")
    pushed = classify(
        "Order 7781", "Can you push the delivery back a week? The floor is being done."
    )
    assert (pushed.department, pushed.source) == (None, "phrase")
    late = classify("Late sofa", "The sofa was due last week and has not come.")
    assert (late.department, late.category) == ("logistics", "delivery_delay")


def test_praise_for_a_problem_sorted_is_no_order_problem():
    # Reviews' praise ("customer for life", "highly recommend"), not service adjectives,
    # which are sarcasm too ("brilliant service, still no chairs").
    praise = classify(
        "",
        "Shoutout to @shop - had an issue with a wobbly chair last month, they sorted it with"
        " zero fuss. Customer for life!",
    )
    assert (praise.department, praise.source) == (None, "phrase")
    sarcasm = classify(
        "", "3 weeks past your guaranteed date and still no chairs. Brilliant service."
    )
    assert (sarcasm.department, sarcasm.category) == ("logistics", "delivery_delay")


def test_even_after_a_negator_only_intensifies():
    # "it has not even shipped" is "it has not shipped"; "the legs are not even" is uneven.
    shipped = classify("Wedding gift", "It has not even shipped and the wedding is Saturday.")
    assert (shipped.department, shipped.category) == ("logistics", "delivery_delay")
    assert "not even" not in [h.phrase for h in shipped.hits]
    level = classify("Table", "The legs are not even.")
    assert (level.department, level.category) == ("quality", "finish_issue")


def test_did_not_come_is_past_not_present():
    # "did" is no longer "do": "hope it does not come to that" is not a delivery that did
    # not come, "it did not come" still is.
    late = classify("Order 7781", "The sofa did not come on Friday.")
    assert (late.department, late.category) == ("logistics", "delivery_delay")
    hope = classify("Order 7781", "Let's hope it does not come to that.")
    assert "did not come" not in [h.phrase for h in hope.hits]


def test_a_yes_or_no_question_needs_a_problem_word_to_be_routed():
    # General words and topic words alone route nothing in a ticket that only asks a
    # yes-or-no question (a question before buying).
    assembly = classify("Assembly", "Do I need two people to assemble the wardrobe?")
    assert (assembly.department, assembly.source) == (None, "none")
    klarna = classify("Payment methods", "Do you accept Klarna or PayPal?")
    assert (klarna.department, klarna.source) == (None, "ambiguous")
    # A problem phrase still decides, and a request ("Can you…?") is no such question.
    late = classify("Order 4410", "Is my parcel stuck in transit?")
    assert (late.department, late.category) == ("logistics", "delivery_delay")
    request = classify("Klarna", "Can you check my Klarna payment?")
    assert (request.department, request.category) == ("post_sales", "billing")


def test_a_remedy_the_subject_asks_about_and_the_description_declines_is_not_asked():
    declined = classify("Refund?", "My order is two weeks late. I don't want a refund.")
    assert (declined.department, declined.category) == ("logistics", "delivery_delay")
    assert Hit("refund", "refund", "subject", 0.0, negated_by="not") in declined.hits
    # Without the question mark the subject still asks ("Refund" over a refund declined can
    # be a customer's own heading: the labelled sets keep it a request).
    heading = classify("Refund", "My order is two weeks late. I don't want a refund.")
    assert (heading.department, heading.category) == ("post_sales", "refund")


def test_i_returned_from_somewhere_is_no_return():
    away = classify(
        "Order 3321", "I returned from holiday and the parcel is not here, tracking says delivered."
    )
    assert (away.department, away.category) == ("logistics", "lost_shipment")
    returned = classify("Order 3321", "I returned the lamp three weeks ago, where is my refund?")
    assert returned.department == "post_sales"


def test_a_forward_of_the_writers_own_words_is_read():
    # Nothing of the writer's own but the forward's header: they pass on their own words.
    forwarded = classify(
        "Fwd: photos",
        "---------- Forwarded message ---------\nFrom: Tom Barker\nSubject: photos\n\n"
        "The chest of drawers came off the van with the box soaked through.",
    )
    assert (forwarded.department, forwarded.category) == ("logistics", "transit_damage")


def test_a_matching_piece_asked_about_is_no_problem_a_matching_dent_is():
    question = classify("Footstool", "Do you have a matching footstool for the Oslo armchair?")
    assert (question.department, question.source) == (None, "phrase")
    dent = classify("Wardrobe door dented", "The box has a matching dent in the same spot.")
    assert dent.department == "logistics"


def test_a_phrase_with_a_contrast_word_matches_across_it():
    result = classify("Wardrobe", "You sent me a white wardrobe but I ordered oak.")
    assert (result.department, result.category) == ("logistics", "wrong_item")
    assert Hit("wrong_item", "but I ordered", "description", 3.0) in result.hits
    # "but" still ends a negation's reach.
    late = classify("Sofa", "Not damaged but late.")
    assert (late.department, late.category) == ("logistics", "delivery_delay")


def test_a_remedy_not_received_is_a_follow_up_not_a_refusal():
    missing = classify("Order 4411", "I never got my refund for the returned lamp.")
    assert (missing.department, missing.category) == ("post_sales", "refund")
    refused = classify("Order 4411", "I don't want to get a refund, the parcel is just late.")
    assert (refused.department, refused.category) == ("logistics", "delivery_delay")
    assert [h.negated_by for h in refused.hits if h.phrase == "refund"] == ["not"]


def test_the_driver_took_it_back_is_no_request_to_take_it_back():
    took = classify(
        "Delivery", "The driver could not get the sofa through the door and took it back."
    )
    assert (took.department, took.category) == ("logistics", "delivery_delay")
    take = classify("Sofa", "Please take it back, it is uncomfortable.")
    assert (take.department, take.category) == ("post_sales", "refund")


def test_forwarded_email_is_not_the_customer_asking():
    description = (
        "Forwarding this for my mum. One of her new kitchen chairs has cracked across the seat."
        "\n\n---------- Forwarded message ---------\nYour order confirmation\n"
        "Returns: unwanted items can be returned within 28 days for a refund."
    )
    result = classify("Fwd: chair", description)
    assert (result.department, result.category) == ("quality", "product_defect")
    assert [h.phrase for h in result.hits] == ["crack"]
    quoted = classify(
        "Re: sofa", "Still nothing.\n\nOn Monday, Shop wrote:\n> Your refund is on its way"
    )
    assert all(h.phrase != "refund" for h in quoted.hits)


def test_reference_numbers_are_not_words():
    result = classify("status", "order 88213 status pls")
    assert (result.department, result.category) == ("logistics", "delivery_delay")
    assert [h.phrase for h in result.hits] == ["order status"]


def test_a_remedy_object_needs_a_verb_of_its_own():
    result = classify("Pilling sofa", "The fabric is pilling. For what we paid I expected better.")
    assert (result.department, result.category) == ("quality", "quality_complaint")
    assert [h.unasked for h in result.hits if h.phrase == "what we paid"] == [True]


def test_not_a_problem_must_outweigh_every_problem_found():
    result = classify(
        "Refund went to gift card", "My refund was put on a gift card, I want it on my bank card."
    )
    assert (result.department, result.category) == ("post_sales", "request_follow_up")
    thanks = classify(
        "Thanks", "Thanks, the replacement arrived and it is perfect. You can close this."
    )
    assert (thanks.department, thanks.source) == (None, "phrase")


def test_a_question_about_a_remedy_asks_for_none():
    asked_about = classify(
        "Late delivery - compensation?",
        "Do you offer any compensation when a delivery is this late? Only asking. Mainly I"
        " need to know when the sofa is coming, it is 3 weeks overdue.",
    )
    assert (asked_about.department, asked_about.category) == ("logistics", "delivery_delay")
    assert [(h.phrase, h.where, h.points) for h in asked_about.hits if not h.counts] == [
        ("compensation", "subject", 0.0),
        ("do you offer", "description", 0.0),
        ("compensation", "description", 0.0),
    ]
    # Asked after the remedy, the question takes it as due.
    due = classify(
        "Compensation for delay", "My order was 5 weeks late. What compensation do you offer?"
    )
    assert (due.department, due.category) == ("post_sales", "compensation")


def test_a_fault_of_the_shops_website_or_payment_is_no_product_defect():
    website = classify("Website", "Your website is not working on my phone.")
    assert (website.department, website.source) == (None, "none")
    assert [(h.phrase, h.about) for h in website.hits] == [("is not working", "website")]
    payment = classify("Payment", "My card payment is not working on your website.")
    assert (payment.department, payment.category) == ("post_sales", "money_general")
    product = classify("Lamp", "The lamp is not working.")
    assert (product.department, product.category) == ("quality", "product_defect")


# Fifth round (issue 13): mechanisms found on tuning set 8's misroutes.


def test_a_signature_is_not_the_request():
    text = (
        "Could you let me know where my delivery is?\n\nBest regards\n\nDaniel Okafor\n"
        "Claims Handler | Refunds & Compensation Team\nNorthgate Insurance Ltd."
    )
    result = classify("Delivery status", text)
    assert (result.department, result.category) == ("logistics", "delivery_delay")
    assert [h.phrase for h in result.hits] == ["delivery status", "where my delivery is"]
    # Without sign-offs in the rules the job title is read, and asks for a refund.
    unsigned = RULES.routing.model_copy(update={"sign_offs": []})
    assert classify("Delivery status", text, unsigned).department == "post_sales"


def test_a_short_closing_opens_the_signature():
    text = (
        "The wardrobe door hinge keeps coming loose.\n\nBest,\nSam Ortiz\n"
        "Senior Refunds Officer\nHarbour Credit Union"
    )
    result = classify("Loose hinge", text)
    assert result.department == "quality"
    assert "refund" not in [h.phrase for h in result.hits]


def test_without_signature_cuts_at_the_last_sign_off_line():
    sign_offs = build_sign_offs(["best regards", "thanks", "viele grüße"])
    assert without_signature("Where is it?\nThanks, Priya", sign_offs) == "Where is it?"
    assert without_signature("Kaputt.\n\nViele Grüße\nMarkus Heller", sign_offs) == "Kaputt.\n"
    assert without_signature("Where is it?\n--\nACME Refunds", sign_offs) == "Where is it?"
    # A line that says more than a sign-off and a name is the customer's own.
    kept = "Where is it?\nThanks for nothing, I want a refund."
    assert without_signature(kept, sign_offs) == kept
    # One line, or nothing before the sign-off: all of it.
    assert without_signature("Thanks, refund received.", sign_offs) == "Thanks, refund received."
    assert without_signature("Best regards\nAnna", sign_offs) == "Best regards\nAnna"


def test_a_remedy_received_or_a_missing_thing_arrived_is_over():
    arrived = classify("Screws", "Follow-up: the missing screws arrived yesterday, all built now.")
    assert (arrived.department, arrived.source) == (None, "none")
    assert arrived.hits == (
        Hit("missing_parts", "missing screws", "description", 0.0, resolved="arrive"),
    )
    found = classify("Screws", "Found the missing screws taped under the drawer, sorry!")
    assert (found.department, found.source) == (None, "none")
    assert found.hits == (
        Hit("missing_parts", "missing screws", "description", 0.0, resolved="find"),
    )
    received = classify("Re: Refund 5519934", "Refund received, thanks for sorting it so quickly.")
    assert (received.department, received.reason) == (
        None,
        'description mentions "thanks" → not an order problem',
    )
    assert [h for h in received.hits if h.category == "refund"] == [
        Hit("refund", "refund", "subject", 0.0, resolved="receive"),
        Hit("refund", "refund", "description", 0.0, resolved="receive"),
    ]
    other = classify(
        "Re: Refund request",
        "I received my refund last week. Separate question: my second order still shows"
        " preparing after 12 days, is it coming?",
    )
    assert (other.department, other.category) == ("logistics", "delivery_delay")


@pytest.mark.parametrize(
    ("subject", "description", "department", "category"),
    [
        # A question, a wish, a negation or a modal keeps it open.
        (
            "Screws",
            "When will the missing screws arrive? I can't build it.",
            "quality",
            "missing_parts",
        ),
        ("Refund", "Has the refund come through? It has been ten days.", "post_sales", "refund"),
        ("Refund", "I want to receive my refund this week.", "post_sales", "refund"),
        ("Refund", "The refund has not come through.", "post_sales", "request_follow_up"),
        ("Refund", "I cannot find my refund on my statement.", "post_sales", "refund"),
        # A problem that arrives is not over: only what was absent can arrive.
        (
            "Screws",
            "The wrong screws arrived, they are far too short.",
            "quality",
            "product_defect",
        ),
    ],
)
def test_what_is_still_open_is_not_over(subject, description, department, category):
    result = classify(subject, description)
    assert (result.department, result.category) == (department, category)
    assert not any(h.resolved for h in result.hits)


def test_a_remedy_naming_a_thing_is_asked_for_only_where_the_clause_asks():
    door = classify(
        "Warped replacement door",
        "The replacement door arrived yesterday and it doesn't close properly either.",
    )
    assert (door.department, door.category) == ("quality", "product_defect")
    assert [h for h in door.hits if h.category == "replacement"] == [
        Hit("replacement", "replacement", "subject", 0.0, unasked=True),
        Hit("replacement", "replacement", "description", 0.0, unasked=True),
    ]
    covers = classify("Spare covers", "Do you sell replacement covers for the sofa? Mine is fine.")
    assert (covers.department, covers.reason) == (
        None,
        'description mentions "do you sell" → not an order problem',
    )
    # "sell" before it says so too (replacement not_after).
    assert (
        Hit("replacement", "replacement", "description", 0.0, unasked=True, about="sell")
        in covers.hits
    )
    asked = classify("Door", "Please send a replacement door, the hinge side is split.")
    assert (asked.department, asked.category, asked.problem) == (
        "post_sales",
        "replacement",
        "product_defect",
    )


def test_an_object_right_after_a_wish_is_asked_for():
    wished = classify("Chairs", "Chair 1 arrived scratched. I'd like a new chair please.")
    assert (wished.department, wished.category, wished.problem) == (
        "post_sales",
        "replacement",
        "transit_damage",
    )
    told = classify("Chairs", "A new chair arrived scratched.")
    assert (told.department, told.category) == ("logistics", "transit_damage")
    box = classify(
        "Box 2 of 3", "Box 2 never came, the courier lost it. Please dispatch a new box."
    )
    assert (box.department, box.category, box.problem) == (
        "post_sales",
        "reshipment",
        "lost_shipment",
    )


def test_a_question_about_a_remedy_names_none_for_a_follow_up():
    result = classify(
        "Late delivery - question",
        "Out of curiosity, do you have any compensation policy for late deliveries? Mainly I"
        " need a realistic delivery date so I can arrange for the old sofa to be collected.",
    )
    assert (result.department, result.category) == ("logistics", "delivery_delay")
    assert [h for h in result.hits if h.category in ("compensation", "request_follow_up")] == [
        Hit("request_follow_up", "was collected", "description", 0.0, unmet=True),
        Hit("compensation", "compensation", "description", 0.0, unasked=True),
    ]


def test_a_delivery_said_to_be_fine_is_no_damage_in_transit():
    result = classify(
        "Crack", "The table was perfect when it was delivered. A week later a crack appeared."
    )
    assert (result.department, result.category) == ("quality", "product_defect")
    # "when it was delivered" is no damage phrase since the seventh round (a cue after a
    # damage word: "cracked when it was delivered"); "perfect" still keeps the cue away.
    assert not [h for h in result.hits if h.category == "transit_damage"]
    cracked = classify("Table", "The top was cracked when it was delivered.")
    assert (cracked.department, cracked.category) == ("logistics", "transit_damage")


@pytest.mark.parametrize(
    ("subject", "description", "department", "category"),
    [
        (
            "Falscher Artikel",
            "Falscher Artikel geliefert. Bitte umtauschen.",
            "post_sales",
            "replacement",
        ),
        (
            "Pata rota",
            "Una pata llegó rota. Necesito que me envíen una pata nueva.",
            "post_sales",
            "replacement",
        ),
        (
            "Colis perdu",
            "Le colis a été perdu. Merci de me le renvoyer.",
            "post_sales",
            "reshipment",
        ),
        (
            "Doppelt abgebucht",
            "Sie haben mir den Betrag zweimal abgebucht.",
            "post_sales",
            "billing",
        ),
        (
            "Lieferadresse ändern",
            "Bitte die Lieferadresse ändern, sie ist noch nicht versandt.",
            None,
            None,
        ),
        ("Lámpara", "La lámpara llegó rota.", "logistics", "transit_damage"),
        # A parcel missing is a partial delivery, not a part missing from the box.
        ("Paket 2 fehlt", "Nur Paket 1 ist angekommen.", "logistics", "lost_shipment"),
    ],
)
def test_requests_and_problems_in_other_languages(subject, description, department, category):
    result = classify(subject, description)
    assert (result.department, result.category) == (department, category)


def test_explain_says_what_is_over():
    from click.testing import CliRunner

    from deskbridge.cli import main

    out = CliRunner().invoke(
        main,
        ["routing", "explain", "Re: Refund 5519934", "Refund received, thanks for that."],
    )
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == [
        "department: none — not an order problem",
        'reason: description mentions "thanks" → not an order problem',
        "matched (points = words x 1.5 in the subject x category weight):",
        '      1  not an order problem: "thanks" in description',
        "not counted:",
        '         refund request: "refund" in subject — over: "receive" (routing.resolved_words)',
        '         refund request: "refund" in description — over: "receive"'
        " (routing.resolved_words)",
    ]


def test_lines_quoted_with_a_marker_are_not_the_customers_words():
    text = (
        "It stopped again this morning. The footrest won't move at all.\n\n"
        "> Thank you for your message. If the problem returns, please let us know and we\n"
        "> will discuss a replacement or a refund."
    )
    assert split_quoted(text) == (
        "It stopped again this morning. The footrest won't move at all.\n",
        "> Thank you for your message. If the problem returns, please let us know and we\n"
        "> will discuss a replacement or a refund.",
    )
    assert own_words("> all of it quoted\n> nothing else") == "> all of it quoted\n> nothing else"
    result = classify("Re: Order 4471290 - motor", text)
    assert (result.department, result.category) == ("quality", "product_defect")
    assert [h.phrase for h in result.hits] == ["motor"]


def test_an_object_ending_open_counts_only_before_a_thing():
    top = classify(
        "Order", "The glass top has a crack. I would like a new glass top sent out, please."
    )
    assert (top.department, top.category, top.problem) == (
        "post_sales",
        "replacement",
        "product_defect",
    )
    assert Hit("replacement", "a new …", "description", 2.0) in top.hits
    # A new date is no thing: nothing asked for, the delay decides.
    date = classify("Order", "The sofa is two weeks late. Could you send me a new date please?")
    assert (date.department, date.category) == ("logistics", "delivery_delay")
    assert not [h for h in date.hits if h.category == "replacement"]
    # A parcel or a courier is named by a remedy word, never asked for as an object.
    courier = classify("Order", "It is two weeks late, could you send it with a new courier?")
    assert (courier.department, courier.category) == ("logistics", "delivery_delay")


def test_a_request_word_alone_in_its_clause_asks_for_the_next_one():
    result = classify("Re: Recliner motor 5510283", "Yes please, send a new motor unit.")
    assert (result.department, result.category, result.problem) == (
        "post_sales",
        "replacement",
        "product_defect",
    )
    # Only the next clause: two clauses on, the remedy is told, not asked for.
    told = classify(
        "Recliner motor",
        "Yes please. The engineer came on Monday. He had to send a new motor unit.",
    )
    assert (told.department, told.category) == ("quality", "product_defect")


@pytest.mark.parametrize(
    ("subject", "description", "department", "category"),
    [
        (
            "Bestelling",
            "Waar blijft mijn bestelling? Ik heb nog niets ontvangen.",
            "logistics",
            "delivery_delay",
        ),
        ("Kast", "De kast is beschadigd aangekomen.", "logistics", "transit_damage"),
        ("Stoel", "Er zit een scheur in de zitting.", "quality", "product_defect"),
        (
            "Kleur",
            "Ik heb de verkeerde kleur ontvangen. Graag omruilen.",
            "post_sales",
            "replacement",
        ),
        ("Betaling", "Ik heb dubbel betaald voor bestelling 5512.", "post_sales", "billing"),
        ("Bedankt", "Alles goed ontvangen, hartelijk dank!", None, None),
        ("Lieferung", "Wo bleibt meine Lieferung?", "logistics", "delivery_delay"),
        ("Tisch", "Nach zwei Wochen hat die Tischplatte einen Riss.", "quality", "product_defect"),
        (
            "Pedido",
            "Mi pedido aparece como entregado pero no lo he recibido.",
            "logistics",
            "lost_shipment",
        ),
        (
            "Table",
            "Je voudrais être remboursé, la table est arrivée fissurée.",
            "post_sales",
            "refund",
        ),
    ],
)
def test_more_of_the_languages_customers_write_in(subject, description, department, category):
    result = classify(subject, description)
    assert (result.department, result.category) == (department, category)


def test_cannot_is_can_not():
    assert tokenize("I cannot assemble it") == ("i", "can", "not", "assemble", "it")
    result = classify("Wardrobe", "I cannot assemble the wardrobe.")
    assert (result.department, result.category) == ("quality", "product_defect")
    assert result.hits == (Hit("product_defect", "cannot assemble", "description", 3.0),)


@pytest.mark.parametrize(
    ("description", "department", "category"),
    [
        # A box that lacks parts is Quality's; a box missing from the delivery Logistics'.
        (
            "The bed frame box was missing the slats, the rest was there.",
            "quality",
            "missing_parts",
        ),
        ("The box was missing 2 screws.", "quality", "missing_parts"),
        ("One box is missing from my delivery.", "logistics", "lost_shipment"),
        (
            "Two of my four chairs came today. When do the others come?",
            "logistics",
            "lost_shipment",
        ),
        ("I ordered 4 chairs and only received 3.", "logistics", "lost_shipment"),
    ],
)
def test_a_box_lacking_parts_against_a_box_missing(description, department, category):
    result = classify("Order 7712", description)
    assert (result.department, result.category) == (department, category)


def test_a_box_named_before_missing_is_not_a_part_missing():
    result = classify("Order 7712", "Box 2 of 2 arrived but box 1 is missing.")
    # Not sent to Quality ("box 1 is missing" is no part missing); a box's count ("box 2 of",
    # twelfth round) tells a parcel of the delivery missing.
    assert (result.department, result.category) == ("logistics", "lost_shipment")
    assert Hit("missing_parts", "is missing", "description", 0.0, about="box") in result.hits


@pytest.mark.parametrize(
    ("subject", "description", "category"),
    [
        # A remedy word that is a verb too asks before a thing: "Refund sofa", "Exchange chair".
        ("Refund sofa 5512", "The sofa arrived with a ripped seat.", "refund"),
        ("Exchange chair", "It arrived in the wrong colour.", "replacement"),
        # A subject that opens with the noun asks, after a reply's prefix too.
        ("Replacement chair", "It arrived broken.", "replacement"),
        ("Re: Replacement door", "It arrived cracked.", "replacement"),
    ],
)
def test_a_remedy_before_a_thing_still_asks_where_it_can(subject, description, category):
    result = classify(subject, description)
    assert (result.department, result.category, result.problem) == (
        "post_sales",
        category,
        "transit_damage"
        if category != "replacement" or "colour" not in description
        else "wrong_item",
    )


def test_like_wishes_only_as_would_like():
    wished = classify("Chairs", "Chair 1 arrived scratched. We would like another chair.")
    assert (wished.department, wished.category) == ("post_sales", "replacement")
    looks = classify("Legs", "It looks like another leg is loose now, the chair wobbles.")
    assert (looks.department, looks.category) == ("quality", "product_defect")
    assert Hit("replacement", "another …", "description", 0.0, unasked=True) in looks.hits


@pytest.mark.parametrize(
    ("description", "department", "category"),
    [
        ("Does the oak table come assembled or do I need to build it?", None, None),
        ("What's the best way to clean a stain off the linen sofa?", None, None),
        ("Will the wardrobe fit through a 75cm door? What are the dimensions?", None, None),
        # A warranty question beside a fault is the fault's.
        (
            "The recliner mechanism is stuck halfway. How long is the warranty?",
            "quality",
            "product_defect",
        ),
    ],
)
def test_questions_about_a_product_are_no_order_problem(description, department, category):
    result = classify("Question", description)
    assert (result.department, result.category) == (department, category)


def test_bare_negatives_twice_in_a_row_are_both_expanded():
    assert tokenize("cannot cannot, hasnt") == ("can", "not", "can", "not", ".", "have", "not")


@pytest.mark.parametrize(
    ("description", "department", "category", "negator"),
    [
        # A remedy declined in another language decides nothing; the problem does.
        (
            "Keine Rückerstattung nötig, ich möchte nur wissen wann der Stuhl kommt."
            " Er ist zwei Wochen verspätet.",
            "logistics",
            "delivery_delay",
            "keine",
        ),
        (
            "Ik wil geen terugbetaling, de tafel is alleen te laat.",
            "logistics",
            "delivery_delay",
            "geen",
        ),
        # Not received is still a follow-up (routing.receipt_words in those languages).
        (
            "Je n'ai pas reçu mon remboursement pour la table retournée.",
            "post_sales",
            "request_follow_up",
            None,
        ),
    ],
)
def test_negation_in_other_languages(description, department, category, negator):
    result = classify("Order 5512", description)
    assert (result.department, result.category) == (department, category)
    remedies = [h for h in result.hits if h.category in ("refund", "request_follow_up")]
    assert [h.negated_by for h in remedies if not h.counts] == ([negator] if negator else [])


def test_a_negator_is_never_read_as_a_typo():
    # "keine" is one letter from "meine" (a phrase word: "wo ist meine Bestellung"), and no
    # English word; read as "meine" it would negate nothing.
    index = grouped_index((("", ("wo ist meine Bestellung",)),))
    assert index.read_as("keine") == "keine"
    assert index.read_as("meene") == "meine"


def test_contracted_auxiliaries_are_expanded():
    # "'ll", "'ve", "'re", "I'm" say one word each; "'s" and "'d" are left (is/has, would/had).
    assert tokenize("I'm sure it'll come, we've waited, they're late, it's here, I'd like") == (
        *("i", "am", "sure", "it", "will", "come", ".", "we", "have", "wait", "."),
        *("they", "be", "late", ".", "it", "s", "here", ".", "i", "d", "like"),
    )
    result = classify("Order 88412", "Mostly I just need to know when it'll arrive.")
    assert (result.department, result.category) == ("logistics", "delivery_delay")
    assert Hit("delivery_delay", "when it will arrive", "description", 4.0) in result.hits


def test_an_amount_of_money_reads_as_money():
    assert tokenize("give me my £1,299.00 back, or € 35") == (
        *("give", "me", "my", "money", "back", ".", "or", "money"),
    )
    result = classify("", "Come and get the sofa out of my house and give me my £1,299 back.")
    assert (result.department, result.category) == ("post_sales", "refund")
    assert Hit("refund", "my money back", "description", 3.0) in result.hits
    # The currency's word after the number too; a word that only starts like one is left.
    assert tokenize("I paid 229 Euro, 45 pounds and 60 quid in Europe") == (
        *("i", "pay", "money", ".", "money", "and", "money", "in", "europe"),
    )


@pytest.mark.parametrize(
    ("subject", "description", "department", "category"),
    [
        # "out of the box" and "the corner of the box" are no box of a delivery.
        (
            "Lampshade",
            "The shade is glued crooked, brand new out of the box.",
            "quality",
            "finish_issue",
        ),
        (
            "Order 5120",
            "Two of the boxes came, the third is nowhere.",
            "logistics",
            "lost_shipment",
        ),
        # Carrier exception statuses and status questions.
        (
            "Marked as 'not at home'",
            "The courier marked my delivery as 'recipient absent'. When will they try again?",
            "logistics",
            "delivery_delay",
        ),
        (
            "Question",
            "Has my order 11490 been handed to the courier?",
            "logistics",
            "delivery_delay",
        ),
        ("Order 44371", "no mail no nothing. is it send?", "logistics", "delivery_delay"),
        # A partial delivery told by the one thing that came.
        (
            "Order 6630",
            "Only the table came, the chairs are not here.",
            "logistics",
            "lost_shipment",
        ),
        # An invoice that does not show something is about the invoice.
        (
            "VAT",
            "The invoice doesn't show VAT. Please send a corrected invoice.",
            "post_sales",
            "billing",
        ),
        # Labels mixed up describe a wrong delivery; "swapped" asks for nothing.
        ("Is this mine?", "I think the labels got swapped?", "logistics", "wrong_item"),
        # Glue joints giving way, fillings clumping, a mattress sagging in Dutch.
        ("Stool came unglued", "One leg came out of its glue joint.", "quality", "product_defect"),
        (
            "Pillows",
            "The pillows have clumped into lumps after one wash.",
            "quality",
            "product_defect",
        ),
        ("Matras zakt in", "Er is een duidelijke kuil ontstaan.", "quality", "quality_complaint"),
        # An order changed before it ships, and a question before ordering, are no problem.
        ("Cushions", "Could I add two cushions to my order before it goes out?", None, None),
        ("Phone note", "Asked whether the wardrobe fits under a sloped ceiling.", None, None),
        # Furniture tipping or opening by itself; a discount not given is about money.
        (
            "Bookcase",
            "The bookcase tips over when I open the top drawer.",
            "quality",
            "product_defect",
        ),
        ("Cabinet", "The cabinet door pops open all the time.", "quality", "product_defect"),
        ("Order 5512", "The discount never showed up on my order.", "post_sales", "billing"),
        # A remedy asked for in other words.
        ("Delivery", "What will you do to make this right?", "post_sales", "compensation"),
        (
            "Wrong item",
            "What happens now, do I have to send them back first?",
            "logistics",
            "wrong_item",
        ),
    ],
)
def test_everyday_wordings_of_the_sixth_round(subject, description, department, category):
    result = classify(subject, description)
    assert (result.department, result.category) == (department, category), result.reason


def test_a_negator_before_an_aside_still_negates():
    # "I am not, at this stage, asking for a refund": the negator ends its clause after an
    # auxiliary, a short aside between commas follows, and the negation goes on past it.
    aside = classify(
        "Order 5521",
        "The sofa is two weeks late. I am not, at this stage, asking for a refund - I just"
        " want a date.",
    )
    assert (aside.department, aside.category) == ("logistics", "delivery_delay")
    assert Hit("refund", "refund", "description", 0.0, negated_by="not") in aside.hits
    wish = classify("Order 5521", "The sofa is late. We do not, for now, want a replacement.")
    assert (wish.department, wish.category) == ("logistics", "delivery_delay")
    # An aside longer than four words is a clause of its own: the request after it counts.
    long = classify(
        "Order 5521",
        "The sofa is late. I am not, as you will understand after three missed slots, willing"
        " to wait: refund me.",
    )
    assert (long.department, long.category) == ("post_sales", "refund")
    # "Absolutely not, I want a refund": no auxiliary before the negator, no aside.
    refusal = classify("Order 5521", "Absolutely not, I want a refund now.")
    assert (refusal.department, refusal.category) == ("post_sales", "refund")


def test_thanks_for_a_remedy_given_asks_for_none():
    given = classify(
        "Console table still not shipped",
        "Thanks for refunding the mirror last week, that's sorted. The console table still"
        " hasn't shipped.",
    )
    assert (given.department, given.category) == ("logistics", "delivery_delay")
    assert Hit("refund", "refund", "description", 0.0, resolved="thanks for") in given.hits
    # The remedy in the subject was given too.
    subject = classify("Re: Refund", "Thank you for the quick refund!")
    assert (subject.department, subject.source) == (None, "phrase")
    assert [h.resolved for h in subject.hits if h.category == "refund"] == [
        "thank you for",
        "thank you for",
    ]


def test_explain_says_a_remedy_thanked_for_was_given():
    from click.testing import CliRunner

    from deskbridge.cli import main

    out = CliRunner().invoke(main, ["routing", "explain", "Mirror", "Thanks for the refund."])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-2:] == [
        "not counted:",
        '         refund request: "refund" in description — given: "thanks for"'
        " (routing.thanked_words)",
    ]


@pytest.mark.parametrize(
    ("subject", "description", "category"),
    [
        # An offer accepted asks for it.
        ("Replacement", "Thanks for offering a replacement, yes please send it.", "replacement"),
        # The next clause says the remedy has not come.
        ("Refund", "Thanks for the refund, but it has not shown up in my account yet.", "refund"),
        ("Refund", "Thanks for the refund. However, it is £20 short.", "refund"),
    ],
)
def test_thanks_for_a_remedy_not_given_still_asks(subject, description, category):
    result = classify(subject, description)
    assert (result.department, result.category) == ("post_sales", category), result.reason


def test_thanks_for_the_conversation_before_a_request_say_nothing_is_well():
    # Issue 13: the courtesy "thanks" tied with the one-word "refund" and won.
    refund = classify("Order 100482", "Thanks for the reply, I still want a refund")
    assert (refund.department, refund.category) == ("post_sales", "refund")
    assert refund.hits == (
        Hit("not_a_problem", "thanks", "description", 0.0, about="reply"),
        Hit("refund", "refund", "description", 1.0),
    )
    # Another wording, before a stated problem.
    damage = classify(
        "Re: order 5512", "Thank you so much for getting back to me. The chair is still broken."
    )
    assert (damage.department, damage.category) == ("quality", "product_defect")
    assert (
        Hit("not_a_problem", "thank you", "description", 0.0, about="getting back") in damage.hits
    )


@pytest.mark.parametrize(
    ("subject", "description"),
    [
        # Thanks, it arrived, close it: the thanks are for the fix.
        ("Re: Missing parcel", "Thanks, it arrived this morning. You can close the ticket."),
        # Thanks for the conversation, and nothing open after them.
        ("Re: Missing parcel", "Thanks for getting back to me, the parcel turned up today."),
        # Thanks for the conversation after the problem, not before it.
        ("Re: order 5512", "The refund came through. Thanks for your help!"),
    ],
)
def test_thanks_with_nothing_open_after_them_stay_no_order_problem(subject, description):
    result = classify(subject, description)
    assert (result.department, result.source) == (None, "phrase"), result.reason


def test_explain_says_thanks_for_the_conversation_do_not_count():
    from click.testing import CliRunner

    from deskbridge.cli import main

    out = CliRunner().invoke(
        main, ["routing", "explain", "Order 100482", "Thanks for the reply, I still want a refund"]
    )
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[:6] == [
        "department: Post-Sales  (refund request, phrase, score 1)",
        'reason: description mentions "refund" (a remedy request) → refund request → Post-Sales',
        "matched (points = words x 1.5 in the subject x category weight):",
        '      1  refund request: "refund" in description',
        "not counted:",
        '         not an order problem: "thanks" in description — thanks for "reply" before a'
        " problem (routing.courtesy_words)",
    ]


def test_flattened_is_damage_in_transit_only_with_a_word_of_delivery():
    worn = classify("Seat cushions flattened", "They have gone down to half their height.")
    assert (worn.department, worn.category) == ("quality", "quality_complaint")
    arrived = classify("Cushions", "The cushions arrived flattened.")
    assert (arrived.department, arrived.category) == ("logistics", "transit_damage")


def test_a_throw_is_a_blanket_not_a_parcel_thrown():
    throw = classify("Throw pilling after one wash", "The knit throw is pilling badly.")
    assert (throw.department, throw.category) == ("quality", "quality_complaint")
    assert "thrown" not in [h.phrase for h in throw.hits]
    thrown = classify("Parcel", "The parcel was thrown over the fence by the driver.")
    assert (thrown.department, thrown.category) == ("logistics", "transit_damage")


def test_packaging_missing_is_no_part_missing_and_unpacking_cues_damage():
    result = classify(
        "Glass top shattered on unpacking",
        "The glass top shattered when they lifted it out. The corner protector was missing.",
    )
    assert (result.department, result.category) == ("logistics", "transit_damage")
    assert "shattered on unpack" in [h.phrase for h in result.hits if h.counts]
    # "the corner protector was missing" is the packaging's; "lifted it out" is no veneer
    # lifting.
    assert [h.about for h in result.hits if h.category == "missing_parts"] == ["protector"]
    assert "finish_issue" not in {h.category for h in result.hits}
    veneer = classify("Sideboard", "The veneer is lifting along the front edge.")
    assert (veneer.department, veneer.category) == ("quality", "finish_issue")
    assert "lifting" in [h.phrase for h in veneer.hits if h.counts]


def test_a_remedy_a_shop_page_names_is_asked_about():
    faq = classify(
        "Missed slot - new date please",
        "Your driver didn't show up on Saturday. Your FAQ mentions compensation for missed"
        " slots - does that apply to two-man deliveries too? Mainly I need a new date.",
    )
    assert (faq.department, faq.category) == ("logistics", "delivery_delay")
    assert Hit("compensation", "compensation", "description", 0.0, unasked=True) in faq.hits
    # A clause that asks for it still asks.
    entitled = classify("Refund", "Your terms say I am entitled to a refund, so please refund me.")
    assert (entitled.department, entitled.category) == ("post_sales", "refund")
    # A follow-up that names the remedy itself needs no other word for it.
    follow_up = classify(
        "Refund",
        "Your website says refunds take 5 days. It has been 3 weeks, where is my refund?",
    )
    assert (follow_up.department, follow_up.category) == ("post_sales", "request_follow_up")


def test_a_remedy_object_that_starts_a_things_name_is_the_thing():
    # "my debit" (a refund's object, "my payment" varied) in "my debit card" names the card.
    card = classify(
        "Gift card plus card?", "Can I pay with a gift card and the rest on my debit card?"
    )
    assert (card.department, card.source) == (None, "phrase")
    assert Hit("refund", "my debit", "description", 0.0, unasked=True) in card.hits
    refund = classify("Refund", "Please refund the money to my debit card.")
    assert (refund.department, refund.category) == ("post_sales", "refund")


def test_a_problem_asked_whether_is_not_told():
    # "do the legs come off?" asks about the sofa; general words are not looked for then.
    fit = classify(
        "Will the 3-seater fit through my door?",
        "My door is 70 cm wide. Will the Ashby 3-seater fit, or do the legs come off?",
    )
    assert (fit.department, fit.source) == (None, "none")
    assert Hit("product_defect", "leg came off", "description", 0.0, unasked=True) in fit.hits
    # "Do you", "do I" are no such question, nor "did"; a problem told after it still counts.
    told = classify("Table", "Do you know why the leg came off? It did.")
    assert (told.department, told.category) == ("quality", "product_defect")
    wobble = classify("Desk", "Does this desk wobble? Mine wobbles a lot.")
    assert (wobble.department, wobble.category) == ("quality", "product_defect")


def test_a_question_before_ordering_gets_no_department():
    price = classify(
        "Price drop after Black Friday?",
        "If I buy the bed in the sale and the price goes down, do you refund the difference?"
        " Thinking about ordering tonight.",
    )
    assert (price.department, price.reason) == (
        None,
        'description mentions "if I buy" → not an order problem',
    )
    spanish = classify(
        "¿Hacéis montaje en Valencia?", "Todavía no he hecho el pedido, ¿ofrecéis montaje?"
    )
    assert (spanish.department, spanish.source) == (None, "phrase")
    assert not any(h.counts for h in spanish.hits if h.category != "not_a_problem")
    # Without a question it only weighs as a not-a-problem phrase: a problem told still counts.
    told = classify(
        "Sofa",
        "I'm thinking about ordering another sofa, but the first one arrived with a broken leg.",
    )
    assert (told.department, told.category) == ("logistics", "transit_damage")


def test_a_subject_damage_word_the_description_tells_with_a_cue_is_the_cued_ones():
    # "Scratch on the TV bench" over "came this morning and there is a long scratch": the
    # subject's scratch is the description's, damage in transit, not also a finish flaw.
    result = classify(
        "Scratch on the TV bench",
        "The TV bench came this morning and there is a long scratch across the top.",
    )
    assert (result.department, result.category) == ("logistics", "transit_damage")
    assert Hit("finish_issue", "scratched", "subject", 0.0, about="come") in result.hits
    # Without a cue in the description the subject's word counts as it is.
    alone = classify("Scratch on the TV bench", "There is a long scratch across the top.")
    assert (alone.department, alone.category) == ("quality", "finish_issue")


def test_a_damaged_carton_cues_damage_an_intact_one_does_not():
    ripped = classify(
        "Coffee table", "The outer carton was ripped open and two of the legs are bent."
    )
    assert (ripped.department, ripped.category) == ("logistics", "transit_damage")
    intact = classify("Chair", "The carton was intact. After two weeks the leg is bent.")
    assert (intact.department, intact.category) == ("quality", "product_defect")


@pytest.mark.parametrize(
    ("subject", "description", "department", "category"),
    [
        # Appliances and smart devices (manufacturers' troubleshooting pages).
        ("Dishwasher", "It shows an error code and leaves water in the bottom.", "quality", None),
        ("Smart lamp", "The lamp will not pair with the app.", "quality", "product_defect"),
        ("Toaster", "The left element stays cold.", "quality", "product_defect"),
        ("Schreibtischlampe", "Die Lampe wird heiß am Schalter.", "quality", "product_defect"),
        # Parts too thick, loose; a colour faded; dye lots.
        ("Schroeven", "De schroeven zijn te dik voor de gaten.", "quality", "product_defect"),
        ("Cajón", "La guía del cajón se ha soltado.", "quality", "product_defect"),
        ("Divano", "Il velluto è sbiadito sul bracciolo.", "quality", "quality_complaint"),
        ("Chairs", "The new chairs are noticeably lighter, a different batch?", "quality", None),
        # The assembly instructions' parts list quoted.
        ("Handles", "The contents list shows 8 handles, the bag has 6.", "quality", None),
        # Carrier statuses, silence since the confirmation, a firm date.
        (
            "Colis",
            "Le suivi indique « en cours d'acheminement » depuis 10 jours.",
            "logistics",
            None,
        ),
        ("Order 6001", "No email since the order confirmation 9 days ago.", "logistics", None),
        ("Fridge", "The tracking says awaiting carrier collection.", "logistics", None),
        ("Sofa", "Nobody has been in touch. I would like a firm delivery date.", "logistics", None),
        # A wrong handing; a service charged that was not booked, a payment taken early.
        ("Chaise", "The one delivered is left-hand facing.", "logistics", "wrong_item"),
        ("Invoice", "I did not book assembly but it is on the invoice.", "post_sales", "billing"),
        ("Charged", "You have taken the full payment already.", "post_sales", "billing"),
        # Moving a delivery that has not shipped is no problem.
        ("Move my delivery - not shipped yet", "Could it be scheduled a week later?", None, None),
    ],
)
def test_everyday_wordings_of_the_eighth_round(subject, description, department, category):
    result = classify(subject, description)
    assert result.department == department, result.reason
    if category:
        assert result.category == category, result.reason


def test_a_remedy_object_after_a_remedy_verb_in_the_subject_is_asked_for():
    # A subject is a request by itself: "send the right one" needs no "please".
    sent = classify("Wrong lamp - send the right one", "You sent the brass one, I ordered black.")
    assert (sent.department, sent.category, sent.problem) == (
        "post_sales",
        "replacement",
        "wrong_item",
    )
    # In the description the clause still needs a request word.
    told = classify("Wrong lamp", "You sent the brass one. I will send the right one back.")
    assert (told.department, told.category) == ("logistics", "wrong_item")


def test_a_subjects_missing_thing_that_came_is_over():
    came = classify(
        "Re: Missing parcel",
        "Update: the parcel turned up at a neighbour's after all, sorry for the fuss. You can"
        " close the ticket.",
    )
    assert (came.department, came.source) == (None, "phrase")
    assert Hit("lost_shipment", "missing parcel", "subject", 0.0, resolved="turn") in came.hits
    # Still open: a negation or a question in the clause.
    still = classify("Re: Missing parcel", "The parcel still has not turned up, where is it?")
    assert (still.department, still.category) == ("logistics", "delivery_delay")
    assert not any(h.resolved for h in still.hits)


@pytest.mark.parametrize(
    ("subject", "description", "department", "category"),
    [
        # A negated wish reaches every item of its list, and "not after", "not looking for"
        # are refusals as "do not want" is.
        ("Drawer sticks", "I'm not after a replacement or a refund, just a tip.", "quality", None),
        (
            "Mirror",
            "The mirror has a crack. I do not want to send the whole thing back or get money"
            " off, only a new glass.",
            "quality",
            None,
        ),
        ("Rocking chair", "It squeaks. Not looking for a refund, any advice?", "quality", None),
        # "or" after a refusal still lists: the second remedy is refused too; a remedy in its
        # own clause after "and" is not.
        (
            "Late wardrobe",
            "It is a week late. I don't want a voucher or a refund, I want the wardrobe.",
            "logistics",
            "delivery_delay",
        ),
        (
            "Late wardrobe",
            "It is a week late and I do not want to wait, so please refund me.",
            "post_sales",
            "refund",
        ),
    ],
)
def test_a_refusal_reaches_every_remedy_of_its_list(subject, description, department, category):
    result = classify(subject, description)
    assert result.department == department, result.reason
    if category:
        assert result.category == category, result.reason


@pytest.mark.parametrize(
    ("subject", "description", "department"),
    [
        # Questions about what the shop usually does or how long remedies take in general.
        ("Refund question", "How long do refunds take once you get the parcel back?", None),
        ("Cracked top", "The top arrived cracked. Would you normally send a new top?", "logistics"),
        # A remedy refused before it is offered.
        (
            "Sofa still not here",
            "Before you offer me a voucher: I don't need one, I need the sofa. It is 3 weeks late.",
            "logistics",
        ),
        # A voucher given as a present is no compensation.
        ("Gift voucher", "Can I use a gift voucher online?", None),
        # Questions before buying, as gerunds.
        ("Question before ordering", "Can I return it if the colour is wrong?", None),
        # A polite request put as a question asks.
        (
            "Three months late",
            "The bed came three months late. Is there any chance of a goodwill gesture?",
            "post_sales",
        ),
    ],
)
def test_questions_about_remedies_ask_for_none(subject, description, department):
    assert classify(subject, description).department == department


@pytest.mark.parametrize(
    ("subject", "description"),
    [
        ("Postcode", "It has not shipped yet. Could you change it to LS6 2AB please?"),
        ("Address", "Can the delivery address be changed to 4 Elm Road? Not dispatched yet."),
        ("Add a cushion", "Is it possible to add a cushion to order 55120? Not shipped yet."),
        ("Liefertermin verschieben", "Die Bestellung ist noch nicht versendet."),
    ],
)
def test_a_change_before_shipping_is_no_problem(subject, description):
    result = classify(subject, description)
    assert (result.department, result.source) == (None, "phrase"), result.reason


@pytest.mark.parametrize(
    ("subject", "description", "department", "category"),
    [
        # A problem let go is not what the ticket is about; the last one told before the
        # dismissal is let go, not one told after it nor an earlier one of another clause.
        (
            "Shelf",
            "The parcel came a day late, fine, not bothered about that. But the shelf has a"
            " chip on the front edge.",
            "quality",
            None,
        ),
        ("Lamp flickers (it was late too, but whatever)", "", "quality", "product_defect"),
        ("Sofa", "Never mind that, the sofa is still not here after 3 weeks.", "logistics", None),
    ],
)
def test_a_problem_let_go_does_not_count(subject, description, department, category):
    result = classify(subject, description)
    assert result.department == department, result.reason
    if category:
        assert result.category == category, result.reason


def test_explain_says_a_problem_was_let_go():
    result = classify("Wobbly chair", "It came two weeks late, never mind that. One leg wobbles.")
    late = next(h for h in result.hits if h.phrase == "weeks late")
    assert (late.points, late.about) == (0.0, "never mind that")
    lines = list(format_explanation(result, RULES, NAMES))
    assert (
        '         delivery delay: "weeks late" in description — let go: "never mind that"'
        " (routing.dismissals)"
    ) in lines


@pytest.mark.parametrize("between", [", ", ". "])
def test_a_remedy_declined_by_name_is_the_one_declined_not_the_one_asked_before(between):
    # "I declined the replacement": its object is what is declined; the refund told before
    # it is what the customer asks for.
    result = classify(
        "Sofa",
        f"The sofa arrived with a torn cushion. I want a refund{between}"
        "I declined the replacement they offered.",
    )
    assert (result.department, result.category) == ("post_sales", "refund")
    remedies = [(h.phrase, h.points, h.about) for h in result.hits]
    assert ("refund", 1.0, None) in remedies
    assert ("replacement", 0.0, "I declined") in remedies


def test_explain_says_a_remedy_was_declined():
    result = classify("Call note", "Offered her a refund; she declined. The lamp flickers.")
    refund = next(h for h in result.hits if h.phrase == "refund")
    assert (refund.points, refund.about) == (0.0, "she declined")
    assert (result.department, result.category) == ("quality", "product_defect")
    lines = list(format_explanation(result, RULES, NAMES))
    assert (
        '         refund request: "refund" in description — declined: "she declined"'
        " (routing.declines)"
    ) in lines


@pytest.mark.parametrize(
    ("subject", "description", "department", "category"),
    [
        # A colour name is no fault; the fault words still are.
        ("Back in stock?", "When is the armchair in rust velvet back?", None, None),
        ("Cushion covers", "I ordered sand linen covers, can I add two more?", None, None),
        ("Bench", "There are rust spots on the bench after a month.", "quality", None),
        # Money put back, a deposit paid back, an exchange for a new one in Spanish.
        ("Cancelled order", "Please put the money back on my card.", "post_sales", "refund"),
        ("Deposit", "I cancelled in time. I want my deposit back.", "post_sales", "refund"),
        ("Silla", "Quiero cambiarla por una nueva.", "post_sales", "replacement"),
        # Damage on delivery: the crew's, a Dutch participle after the damage word.
        (
            "Sofa",
            "The delivery men ripped the arm on the door frame.",
            "logistics",
            "transit_damage",
        ),
        ("Salontafel kapot bezorgd", "", "logistics", "transit_damage"),
        # A torn seam is a stitching fault whenever it is found; damage placed at the factory.
        ("Sofa", "It was delivered on Monday but it has a torn seam.", "quality", None),
        (
            "Cabinet",
            "We unpacked it and found scratches under the protective film, so a manufacturing"
            " fault.",
            "quality",
            None,
        ),
        # Whole units of one hand are items sent wrong; a count short is parts missing.
        ("Two left-hand corner units", "Order 5521.", "logistics", "wrong_item"),
        ("Desk", "The desk came with 3 legs instead of 4.", "quality", "missing_parts"),
        # Instructions for another model are no wrong item.
        ("Manual is for another model", "", None, None),
    ],
)
def test_everyday_wordings_of_the_tenth_round(subject, description, department, category):
    result = classify(subject, description)
    assert result.department == department, result.reason
    if category:
        assert result.category == category, result.reason


@pytest.mark.parametrize(
    ("subject", "description", "department", "source"),
    [
        # A product bought as a replacement part is no remedy asked for, in the subject either.
        (
            "Replacement filter cartridges",
            "I ordered the replacement filter cartridges two weeks ago and they still have not"
            " been dispatched.",
            None,
            "none",
        ),
        # A reply's subject names the shop's topic; the customer declines it below.
        (
            "Re: Sorry for the delay - voucher",
            "Thanks for the offer of a voucher, but a voucher is no use to me. I want the"
            " wardrobe, when will it come?",
            "logistics",
            "phrase",
        ),
        # Inquiry words that are a whole clause ask about the next one.
        (
            "Question",
            "Just out of interest, if something arrives damaged, should I refuse it?",
            None,
            "none",
        ),
        # An order placed minutes ago is not late yet.
        (
            "Postcode",
            "I have just placed order 5521. It has not been dispatched yet, please change it to"
            " my work address.",
            None,
            "phrase",
        ),
    ],
)
def test_remedies_and_problems_only_named_ask_for_nothing(subject, description, department, source):
    result = classify(subject, description)
    assert (result.department, result.source) == (department, source), result.reason


@pytest.mark.parametrize(
    ("subject", "description", "department", "category"),
    [
        # What came instead, told in French; someone else's without its apostrophe; two of
        # one hand.
        (
            "Erreur",
            "J'ai reçu la commande mais au lieu de la table en chêne, c'est une table en noyer.",
            "logistics",
            "wrong_item",
        ),
        ("Chat", "got someone elses parcel, i ordered a desk", "logistics", None),
        ("Bedside tables", "Both arrived but they are the same hand.", "logistics", "wrong_item"),
        # Where and when asked indirectly; a delivery rebooked by the carrier.
        ("Sofa order", "I just need to know where the sofa is.", "logistics", None),
        ("Wardrobe", "I'd like a straight answer on when it is coming.", "logistics", None),
        ("Delivery rebooked again", "", "logistics", "delivery_delay"),
        # A part that will not stay on; marks in French.
        ("Drawer", "The drawer keeps dropping off its runner.", "quality", None),
        ("Table", "Il y a des taches blanches sur le plateau.", "quality", None),
        # A new one asked for in French; a payment to reverse; a gift card not taken off.
        ("Lampe", "Pourriez-vous m'envoyer une lampe neuve ?", "post_sales", "replacement"),
        ("Finance", "I need the card payment reversed.", "post_sales", "refund"),
        (
            "Gift card not taken off",
            "The gift card was not deducted and I was charged the full price.",
            "post_sales",
            "billing",
        ),
    ],
)
def test_more_everyday_wordings_of_the_tenth_round(subject, description, department, category):
    result = classify(subject, description)
    assert result.department == department, result.reason
    if category:
        assert result.category == category, result.reason


@pytest.mark.parametrize(
    ("subject", "description", "department", "category"),
    [
        # What is well, before a contrast that opens a problem, is courtesy.
        (
            "Kitchen table",
            "It came on time, thank you, but after a week there is a split in one leg.",
            "quality",
            None,
        ),
        ("Lamp", "Thank you, all sorted now.", None, None),
        # A filler adverb says nothing.
        ("Wardrobe", "When is it actually coming?", "logistics", None),
        # An intact outer box places the fault before packing.
        ("Hinges", "The bag had 2 of 6 hinges. The outer box was perfect.", "quality", None),
        # A promised date passed, a charge twice, seams opening, in other languages.
        ("Consegna", "Il tavolo doveva arrivare il 20 novembre.", "logistics", None),
        ("Cobro duplicado", "", "post_sales", "billing"),
        ("Divano", "Le cuciture si stanno aprendo.", "quality", None),
    ],
)
def test_courtesy_before_a_problem_and_more_languages(subject, description, department, category):
    result = classify(subject, description)
    assert result.department == department, result.reason
    if category:
        assert result.category == category, result.reason


def test_explain_says_courtesy_before_a_contrast_does_not_count():
    result = classify(
        "Lamp", "Really happy with the shade. However the switch has stopped working."
    )
    assert (result.department, result.category) == ("quality", "product_defect")
    lines = list(format_explanation(result, RULES, NAMES))
    assert (
        '         not an order problem: "really happy" in description — said before "however"'
        " and a problem or a request"
    ) in lines


@pytest.mark.parametrize(
    ("subject", "description", "expected"),
    # expected: the department, or "department/category", or None (a person is asked).
    [
        # A phrasal verb is another verb than the phrase's last word: money that has not
        # come back is a refund, fluff still coming up is shedding, "never got back to me"
        # is a reply.
        ("Cancelled order", "I cancelled last week and the money has not come back.", None),
        ("Rug", "The new rug is still coming up in clumps after every hoover.", "quality"),
        ("Order 4410", "The sofa is not coming until March.", "logistics"),
        ("Order 4410", "Your team never got back to me about the invoice.", None),
        # A remedy the shop's people suggested, questioned by the customer, is not asked for;
        # one they promised is followed up.
        ("Runner", "It snaps. Your colleague suggested a replacement, would it help?", "quality"),
        ("Sofa", "The agent said I could have a refund. No, it's 3 weeks late.", "logistics"),
        ("Voucher", "Your colleague promised me a voucher for the late delivery.", "post_sales"),
        # The thing to be sent again named: asked for in a clause that asks, not when told.
        ("Lost", "Tracking died a week ago. Please send the table out again.", "post_sales"),
        ("Order 6620", "It never came. Could you send the order again?", "post_sales"),
        ("Wrong colour", "They sent the chairs again, still the wrong colour.", "logistics"),
        ("Missed delivery", "The driver did not come. Please deliver again Saturday.", "logistics"),
        # Remedy verbs of the five languages in more forms (a bilingual dictionary).
        ("Kast", "De kast heeft een deuk. Graag de schade vergoeden.", "post_sales/compensation"),
        ("Tisch", "Der Tisch hat einen Kratzer, bitte eine Gutschrift.", "post_sales/compensation"),
        ("Mesa", "La mesa llegó rayada, quiero que me la reembolsen.", "post_sales/refund"),
        ("Lampada", "La lampada non funziona, vorrei essere rimborsato.", "post_sales/refund"),
        # Contact details changed are no order problem, whatever the old ones did.
        ("Order 7710", "Please update my phone number, the old one no longer works.", None),
        ("Number", "Update my phone number. The driver can't reach me, 2 weeks late.", "logistics"),
        # What a wish asks the shop to pay for is compensation; what was paid is not.
        ("Floor", "Your men scratched our floor. I want it paid for.", "post_sales/compensation"),
        ("Order 3321", "I had it paid for by my employer, and now the leg is broken.", "quality"),
        # A short dismissal at its clause's end lets the problem before it go; before more
        # words it is said of something else.
        (
            "Lamp",
            "It came 2 days late, honestly not bothered. The switch stopped working.",
            "quality",
        ),
        (
            "Lamp",
            "The lamp stopped working. Not bothered about a refund, please fix it.",
            "quality",
        ),
        # The subject's remedy that the rest names only as a condition is that condition; a
        # subject that asks is the customer's question.
        (
            "Maybe a refund",
            "It is 3 weeks late. I want a refund if it is not here Friday.",
            "logistics",
        ),
        ("Refund?", "The sofa is 3 weeks late. Please refund me.", "post_sales/refund"),
        # A problem the rest says is over is let go in the subject too, told again or not.
        (
            "Charged twice - fixed",
            "Charged twice, you fixed that already. Now a leg is cracked.",
            "quality",
        ),
        (
            "Late delivery",
            "It was late but that has been sorted. The chair arm is loose.",
            "quality",
        ),
        ("Late delivery", "It was late. The chair arm is loose too.", None),
        # "Other one" without its article, wished for, asks for another one; "the other
        # one" is the thing told of.
        ("Chair", "The chair leg is broken, I need other one please.", "post_sales/replacement"),
        ("Lamp", "The other one works fine, this one flickers.", "quality"),
    ],
)
def test_the_eleventh_rounds_mechanisms(subject, description, expected):
    assert_routed(subject, description, expected)


def test_explain_says_a_phrasal_verb_is_another_verb():
    result = classify("Refund", "I cancelled the order and the 80 euro still has not come back.")
    said = (
        '         delivery delay: "has not come" in description — a phrasal verb: "come back"'
        " (routing.particles)"
    )
    late = next(h for h in result.hits if h.phrase == "has not come")
    explained = said in format_explanation(result, RULES, NAMES)
    assert (late.points, late.about, explained) == (0.0, "come back", True)


def test_a_not_after_word_four_words_before_makes_the_phrase_about_it():
    result = classify("Wardrobe", "The assembly leaflet is for a different model, I'm stuck.")
    wrong = next(h for h in result.hits if h.phrase == "different model")
    assert (wrong.points, wrong.about) == (0.0, "leaflet")
    assert (result.department, result.source) == (None, "none"), result.reason


@pytest.mark.parametrize(
    ("subject", "description", "expected"),
    [
        # A remedy the text refuses is only echoed where no request word asks for it.
        (
            "Late order",
            "Compensation? I don't need compensation, I need the table. Where is it?",
            "logistics",
        ),
        ("Late order", "I don't want a voucher. I want a refund please.", "post_sales/refund"),
        # "How do I get…": the way to one's own remedy, asked; "do I get…" alone asks in
        # general.
        (
            "Returning the rug",
            "The colour is not for us. How do I get my money back?",
            "post_sales/request_follow_up",
        ),
        ("Question", "Do I get my money back if I return it?", None),
        # A signature without a sign-off: a name, then a job title and a company.
        (
            "Desk",
            "The drawer runner snapped on day two. Could you help?\n\nJane Okonkwo\n"
            "Head of Refunds & Compensation\nOkonkwo Design Ltd",
            "quality",
        ),
        ("Broken lamp", "The lamp arrived smashed.\nRefund Please", "post_sales/refund"),
        # "get" with a participle is a passive, not a parcel not got.
        (
            "Stool",
            "The stool leg snapped when my dad sat on it, luckily he didn't get hurt.",
            "quality",
        ),
        # Vocabulary from sources other than the sets: carriers' statuses in German, banks'
        # unrecognised payments, invoices not received, a thesaurus of "not told", a bilingual
        # dictionary's shipping unit and "different from the one ordered", assembly guides'
        # fittings bags, shade variation between pieces, an address changed before dispatch,
        # a third party's reimbursement, the cost with another determiner.
        ("Status", "Der Status sagt seit Montag: Adresse nicht gefunden.", "logistics"),
        (
            "Payment",
            "What is this payment of £30 on my bank statement? I have not bought anything.",
            "post_sales/billing",
        ),
        (
            "Invoice",
            "I have not received an invoice for order 5521, please send one.",
            "post_sales/billing",
        ),
        ("Sofa", "Nobody has told me anything about my sofa since I paid.", "logistics"),
        ("Consegna", "Sono arrivati due pacchi ma manca un collo.", "logistics/lost_shipment"),
        ("Ordine", "Mi è arrivato un tavolo diverso da quello ordinato.", "logistics/wrong_item"),
        (
            "Wardrobe",
            "I started to build it and there is no bag of screws for the doors.",
            "quality/missing_parts",
        ),
        (
            "Lamps",
            "The two lamps came from the same order but one shade is darker than the other.",
            "quality/finish_issue",
        ),
        (
            "Address",
            "It has not shipped yet, please deliver it to my office instead of the address on"
            " the order.",
            None,
        ),
        (
            "Employer reimbursement",
            "Can you send a receipt with the VAT shown? My employer reimburses the desk.",
            "post_sales/billing",
        ),
        (
            "Repair bill",
            "Your driver dented the radiator. I paid a plumber £90 and I'd like you to cover"
            " that cost.",
            "post_sales/compensation",
        ),
        # A remedy said of someone else ("my company reimburses") is only echoed where no
        # request word asks for it; with one it is asked for.
        (
            "Desk chair",
            "My company reimburses chairs for home working. Do you know if they reimburse this"
            " model?",
            None,
        ),
        (
            "Desk chair",
            "My company reimburses chairs for home working, but the seat is torn, please"
            " reimburse me.",
            "post_sales/refund",
        ),
        # "receive" is a remedy verb, in the five languages too.
        (
            "Stoel",
            "De poot is gebroken. Ik wil graag een nieuwe stoel ontvangen.",
            "post_sales/replacement",
        ),
        # "lose" with what is lost that is no parcel.
        ("Throw", "The throw started to lose colour after one wash.", "quality"),
        ("Parcel", "Has my parcel been lost? Nothing since Monday.", "logistics/lost_shipment"),
        # Everyday wording of each department's problems (carriers' statuses, retail
        # support sets' delivery-period intent, banks' pending transactions, assembly
        # guides, a textile guide's shade variation, a bilingual dictionary).
        ("Cot", "The tracking page says 'no shipment found' for my cot.", "logistics"),
        ("Order 7712", "The crew brought the bed, the mattress was not on the van.", "logistics"),
        ("Tracking", "Tracking shows my parcel went to the wrong depot in Leeds.", "logistics"),
        (
            "Cancelled",
            "I cancelled the order but £300 is still pending on my card.",
            "post_sales/billing",
        ),
        ("Invoice", "The VAT on my invoice is added twice.", "post_sales/billing"),
        (
            "Stools",
            "The four stools came in one order, but two are much darker than the others.",
            "quality/finish_issue",
        ),
        ("Kommode", "Die Griffe an der Kommode lösen sich nach zwei Wochen.", "quality"),
        ("Cupboard", "The soft-close doors on the cupboard slam shut.", "quality"),
        ("Desk", "There is no manual in the box, how do I build it?", "quality/missing_parts"),
        ("Wardrobe", "The delivery crew were rude and left the cardboard in my hall.", "logistics"),
        ("Thank you", "The delivery men were brilliant, carried it up three floors.", None),
        ("Cushions", "The two covers came with no inners, the listing says included.", "quality"),
        ("Shelf", "The shelf has its holes drilled in the wrong place.", "quality"),
    ],
)
def test_the_twelfth_rounds_mechanisms(subject, description, expected):
    assert_routed(subject, description, expected)


# Issue 13, thirteenth round (docs/routing-accuracy.md): mechanisms behind misroutes of
# logistics tickets, each with new sentences (none taken from a labelled set).
@pytest.mark.parametrize(
    ("subject", "description", "expected"),
    [
        # A parcel the carrier sent back is a failed delivery, not the customer's return
        # (refund, request_follow_up and compensation's not_after: courier, driver…).
        (
            "Lamp",
            "The courier sent it back to your warehouse saying nobody was home, but I was in"
            " all day. When will it come?",
            "logistics/delivery_delay",
        ),
        (
            "Sideboard",
            "The driver returned the sideboard to the depot and nobody rang me. Can we book a"
            " new delivery day?",
            None,
        ),
        (
            "Refund",
            "I sent it back to you two weeks ago and there is still no refund.",
            "post_sales/request_follow_up",
        ),
        # Damage found unpacking, told with more words between (routing.cue_window 18), and
        # still a defect after weeks of use (routing.cue_stops).
        (
            "Dresser",
            "The two men unwrapped the dresser on the landing and we saw at once that the top"
            " was split.",
            "logistics/transit_damage",
        ),
        (
            "Chair",
            "It was delivered in March and we love it, but after a few weeks of use the seat"
            " split.",
            "quality/product_defect",
        ),
        # A parcel is the carrier's: a cue of damage in transit; more damage words of a
        # carrier's damage-claim form.
        ("Shade", "Opened the parcel this morning: the glass shade is cracked.", "logistics"),
        ("Rack", "The shoe rack arrived yesterday and its metal frame is buckled.", "logistics"),
        # "fit" with the customer's own bed, room or door is no defect (routing.particles);
        # parts that do not fit together still are.
        (
            "Cover",
            "You sent a small cover, I need the large. It does not fit my sofa.",
            None,
        ),
        ("Drawer", "The drawer does not fit the frame, it sticks halfway.", "quality"),
        # Damage noted on hand-over (transit_damage's cues_after).
        ("Mirror", "The frame was chipped when the driver handed it over.", "logistics"),
        # The carrier is a cue of the damage told after it, and the carrier's handling told as
        # it happened cues the damage before it; a driver who installs is told of use.
        (
            "Table",
            "Ordered a glass table, the courier left the box on its side and the glass is now"
            " in pieces.",
            "logistics/transit_damage",
        ),
        (
            "Leg",
            "One of the sofa legs broke as the delivery man carried it in.",
            "logistics/transit_damage",
        ),
        (
            "Lamp",
            "The driver installed the lamp for us and it flickers and the switch is broken.",
            "quality/product_defect",
        ),
        # A return label that does not scan is no product defect; a voucher used to pay is
        # no remedy asked for.
        (
            "Return",
            "The return label you sent does not work at the post office, they say the barcode"
            " is invalid.",
            None,
        ),
        (
            "Shelf",
            "I used the voucher you sent me for the shelf and it has not been dispatched after"
            " ten days.",
            None,
        ),
        # A remedy noun naming a thing told as bought right after it is a product's name.
        (
            "Slats",
            "The replacement slats kit we bought on Monday still says processing. When will"
            " it ship?",
            "logistics/delivery_delay",
        ),
        (
            "Slats",
            "Two slats snapped, please send me replacement slats.",
            "post_sales/replacement",
        ),
        # Someone who means to buy asks before ordering (routing.before_ordering).
        (
            "Bed",
            "My sister wants to buy this bed as a gift. If it is the wrong size, could she"
            " exchange it?",
            None,
        ),
    ],
)
def test_the_thirteenth_rounds_mechanisms(subject, description, expected):
    assert_routed(subject, description, expected)


# Issue 13, fourteenth round: each cause found in the misses of the three retired blind sets
# (docs/routing-accuracy.md, "Fourteenth round"), in sentences written for it.
@pytest.mark.parametrize(
    ("subject", "description", "expected"),
    [
        # "Rough" with an estimate is approximate, not a surface (routing.particles); a rough
        # edge is still a finish flaw.
        ("Wardrobe", "Can you give me a rough idea of the day the wardrobe comes?", None),
        ("Shelf", "The edges of the shelf are rough and splintered.", "quality"),
        # Status words said of money are no late parcel (delivery_delay's not_after), and an
        # overpayment is a billing problem.
        ("Rug", "I cancelled the rug and the payment is still pending after two weeks.", None),
        (
            "Overpayment on invoice 2231",
            "Our accounts team overpaid the invoice by £40.",
            "post_sales/billing",
        ),
        # Praise of a crew, and a new phone number for the driver, are no order problems.
        (
            "Great crew",
            "Thank you to the crew: they carried the wardrobe up four floors and even took the"
            " packaging away. A credit to your company.",
            None,
        ),
        (
            "Friday",
            "Please give the driver my new number for Friday's delivery: 07700 900456.",
            None,
        ),
        # Choosing between shops is before ordering (routing.before_ordering).
        (
            "Beds",
            "We're deciding between your oak bed and a cheaper one elsewhere. If a slat broke,"
            " would you replace it?",
            None,
        ),
        # A remedy questioned as unwanted (inquiry_words) or declined (routing.declines).
        (
            "Sofa",
            "Why would I want a voucher? The sofa is a month late, just tell me when it comes.",
            "logistics",
        ),
        (
            "Call note",
            "Called the customer: offered a replacement leg; he declined, prefers to glue it"
            " himself. The leg is cracked at the joint.",
            "quality",
        ),
        ("Refund", "The shop declined my refund, I still want my money back.", "post_sales"),
        # A remedy noun after a verb of buying, a quantity between, is a product's name, and
        # the subject's is the same.
        (
            "Replacement handles not delivered",
            "Ordered a pair of the replacement handles ten days ago, still nothing.",
            "logistics",
        ),
        (
            "Glides",
            "I bought a bag of the replacement glides and the parcel never came.",
            "logistics",
        ),
        # A chat bot's menu is the shop's words, not the customer's.
        (
            "Chat",
            "Bot: For refunds or exchanges, type 1.\nCustomer: 2\nCustomer: the sofa leg cracked"
            " after a week",
            "quality",
        ),
        # "A new hinge please": a short clause that opens with the object and says please.
        ("Door", "The door hinge snapped. A new hinge please.", "post_sales/replacement"),
        # "To repair" is the work asked for, not its cost (a repair is no remedy).
        ("Leg", "Could you send a technician to repair the wobbly leg?", "quality"),
        # A van hired is no job advert.
        (
            "Van",
            "Your driver would not take the old bed, so I had to hire a van. Please reimburse me.",
            "post_sales/refund",
        ),
        # Polish, Czech, Danish, Swedish and Portuguese (a bilingual dictionary).
        ("Zamówienie", "Kiedy dotrze moje zamówienie? Minęły trzy tygodnie.", "logistics"),
        ("Bord", "Bordet har en spricka i skivan.", "quality"),
        ("Stol", "Der mangler skruer i kassen.", "quality"),
        ("Skříň", "V balení chybí šrouby.", "quality"),
        ("Candeeiro", "Quero o dinheiro de volta.", "post_sales"),
        # Everyday English the lists lacked (order status, carriers' complaint forms, invoice
        # corrections, desilvering, instructions missing).
        ("Chairs", "Are my chairs on their way yet?", "logistics"),
        ("Card", "The card says you tried, but nobody knocked. I was home all day.", "logistics"),
        ("Lamp", "Your courier threw my parcel over the fence.", "logistics"),
        (
            "Invoice details",
            "The invoice was made out to me personally; could you reissue it to our company?",
            "post_sales/billing",
        ),
        ("Mirror", "Black spots are creeping in from the edge of the mirror.", "quality"),
        ("Wardrobe", "Instructions missing from the wardrobe box.", "quality"),
    ],
)
def test_the_fourteenth_rounds_causes(subject, description, expected):
    assert_routed(subject, description, expected)


# Issue 13, fifteenth round: each cause found in the misses of held-out 17 and 18, retired to
# tuning (docs/routing-accuracy.md, "Fifteenth round"), in sentences written for it.
@pytest.mark.parametrize(
    ("subject", "description", "expected"),
    [
        # A text in a language no dictionary knows has no typos of English, Dutch or
        # Portuguese words: Slovak "troch" (three) is not "troca" (exchange).
        ("Objednávka", "Dobrý deň, stôl prišiel pred troch dňami, všetko je v poriadku.", None),
        # A remedy refused with a German or Dutch verb of wanting after it.
        ("Sofa", "Wo bleibt mein Sofa? Eine Rückerstattung möchte ich nicht.", "logistics"),
        ("Bank", "Waar blijft mijn bank? Een terugbetaling wil ik niet.", "logistics"),
        # Greek and Cyrillic read in Latin letters, so their phrases match.
        ("Замовлення 4411", "Диван досі не надійшло, коли буде доставка?", "logistics"),
        ("Τραπέζι", "Το τραπέζι είναι ραγισμένο στη μέση.", "quality"),  # noqa: RUF001
        # Languages the rules had no words for.
        ("Comanda 5521", "Bună ziua, comanda nu a ajuns nici azi.", "logistics"),
        ("Tuoli", "Tuolin selkänoja on rikki.", "quality"),
        ("Masa", "Masa çatlak geldi, para iadesi istiyorum.", "post_sales/refund"),
        # A flaw in a box still sealed was packed so: the maker's, not the carrier's.
        ("Desk", "There is a dent in the desktop and the box was still sealed.", "quality"),
        # A job application, thanks for the crew, an item added: no order problem.
        (
            "Driver role",
            "Hi, I'd like to apply for the delivery driver role. I can send my CV today.",
            None,
        ),
        (
            "Our delivery",
            "Please thank the two drivers who brought the wardrobe up the stairs so carefully.",
            None,
        ),
        ("Order 5512", "The order has not been sent yet. I want to add another cushion.", None),
        # The crew's damage to the home is the delivery's, not a finish flaw.
        ("Delivery", "The delivery men scraped our wall carrying the sofa upstairs.", "logistics"),
        # A remedy the shop offered and the customer refused, in a clause of its own.
        (
            "Table",
            "Your agent said you could offer a voucher, but I don't want a voucher. The top is"
            " warped, please send a technician.",
            "quality",
        ),
        # A sum with no currency asked back, and another textile asked to be sent.
        (
            "Assembly",
            "The driver dropped the boxes at the door and left. Give me my 40 back.",
            "post_sales",
        ),
        ("Towels", "A bath towel has a hole in it, I just want another towel sent.", "post_sales"),
        # Someone else's parcel handed over, and another one offered and questioned.
        ("Rug", "A rug turned up but it is not even mine.", "logistics"),
        (
            "Chair",
            "Your colleague offered to reship the chair, but why would we send another? The first"
            " one is still in transit.",
            "logistics",
        ),
    ],
)
def test_the_fifteenth_rounds_causes(subject, description, expected):
    assert_routed(subject, description, expected)
