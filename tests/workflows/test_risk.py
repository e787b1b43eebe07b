"""Risk escalation to the specialist tier, decided by the pure rule with an explicit Context
(config/example.yaml: threshold 3; legal, social media, VIP and repeat contact weigh 3,
reopened 2, anger 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.actions import dump_action
from deskbridge.workflows.decision import Context, Decision, RelatedTicket, Timer
from deskbridge.workflows.model import (
    EventKind,
    Priority,
    Source,
    Status,
    TicketEvent,
    TicketState,
    evolve,
)
from deskbridge.workflows.rules.risk import (
    Signal,
    collect_signals,
    evaluate_risk,
    fire_repeat_contact,
)

RULES = load_rules(EXAMPLE_CONFIG)
RISK = RULES.risk
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TICKET = "zendesk:800"
SPECIALISTS = "360010000009"
EVENT = TicketEvent(
    source=Source.zendesk,
    ticket_id="800",
    dedupe_key="e1",
    kind=EventKind.updated,
    occurred_at=T0,
)


def state(**fields) -> TicketState:
    values = {
        "key": TICKET,
        "source": Source.zendesk,
        "ticket_id": "800",
        "status": Status.open,
        "priority": Priority.normal,
        "subject": "Order 5512",
        "description": "Hello, about my order.",
        "requester": "81",
        "channel": "web",
        "created_at": T0,
        **fields,
    }
    return TicketState(**values)


def context(related: tuple[RelatedTicket, ...] = (), rules=RULES) -> Context:
    return Context(now=T0, rules=rules, previous=None, related=related)


def signals(ticket: TicketState, related: tuple[RelatedTicket, ...] = ()) -> list[Signal]:
    return collect_signals(ticket, context(related), RISK)


def dumps(decision: Decision) -> list[dict]:
    return [dump_action(a) for a in decision.actions]


# -- each signal alone ---------------------------------------------------------------------


def test_legal_phrase():
    ticket = state(description="If this is not fixed I will take it to the ombudsman.")
    assert signals(ticket) == [Signal("legal", 3, 'mentions "ombudsman"')]


def test_legal_phrase_in_a_later_customer_message():
    ticket = state(customer_messages=["My solicitor will be in touch."])
    assert signals(ticket) == [Signal("legal", 3, 'mentions "solicitor"')]


def test_legal_vocabulary_does_not_fire_on_addresses_or_names():
    """ "Court" in an address and "Sue" as a name are not legal threats: alone they weigh the
    full threshold, so they would escalate ordinary delivery tickets."""
    for text in (
        "Please deliver to Flat 3, Rose Court, Leeds LS1 4AB.",
        "Hi Sue, thanks for your help yesterday.",
        "The parcel was left at the food court.",
    ):
        assert signals(state(description=text)) == [], text
    for text, phrase in (
        ("I will take you to court over this.", "take you to court"),
        ("I am going to sue you.", "sue you"),
        ("I will sue.", "will sue"),
        ("I am suing the company.", "suing"),
        ("I have filed in the small claims court.", "small claims"),
    ):
        assert signals(state(description=text)) == [Signal("legal", 3, f'mentions "{phrase}"')], (
            text
        )


def test_a_threat_written_with_a_negator_that_does_not_refuse_it_escalates():
    """A negator counts only when it refuses the threat itself: "not hesitate" affirms, what
    follows "until" is what the customer will do, and a negator in a condition ("if you do
    not respond") does not reach its consequent, nor refuse the threat the condition is. In
    the languages of the risk phrases (English, French, German, Spanish)."""
    for text, signal, phrase in (
        ("I will not hesitate to take legal action", "legal", "legal action"),
        ("I shall not hesitate to involve trading standards", "legal", "trading standards"),
        ("If you do not respond I will sue", "legal", "will sue"),
        ("If you don't refund me I will sue", "legal", "will sue"),
        ("I will not stop until the ombudsman hears about this", "legal", "ombudsman"),
        ("If it is not fixed my solicitor will be in touch.", "legal", "solicitor"),
        ("I have no doubt the ombudsman will agree with me.", "legal", "ombudsman"),
        ("If you don't want a bad review, refund me.", "social_media", "bad review"),
        ("Je n'hésiterai pas à contacter un avocat.", "legal", "avocat"),
        ("Si vous ne me remboursez pas je contacte un avocat.", "legal", "avocat"),
        ("Ich werde nicht zögern einen Anwalt einzuschalten.", "legal", "Anwalt"),
        ("No dudaré en contactar a un abogado.", "legal", "abogado"),
    ):
        assert signals(state(description=text)) == [Signal(signal, 3, f'mentions "{phrase}"')], text


def test_a_threat_the_customer_refuses_is_not_escalated():
    """ "won't post about this on social media": the rest of a refused threat ("post about
    this" refused, "social media" where) is refused with it; "leave a bad review" carries its
    verb, so "I'm not going to leave a bad review" refuses it, and "bad review" with it."""
    for text in (
        "I won't post about this on social media.",
        "I'm not going to leave a bad review",
        "I won't post on social media.",
        "I'm not going to sue.",
        "No need for a lawyer.",
        "I don't need a lawyer.",
        "A lawyer is not needed.",
        "I am not, at this stage, considering legal action.",
        "I won't go to the press or twitter.",
        "Je n'ai pas besoin d'un avocat.",
        "Ich brauche keinen Anwalt.",
        "No necesito un abogado.",
    ):
        assert signals(state(description=text)) == [], text
    # Said without a negator, the same threats escalate.
    for text, phrase in (
        ("I'm going to leave a bad review", "bad review"),
        ("I will post about this on social media.", "post about this"),
    ):
        assert signals(state(description=text)) == [
            Signal("social_media", 3, f'mentions "{phrase}"')
        ], text


def test_social_media_by_channel():
    assert signals(state(channel="twitter")) == [
        Signal("social_media", 3, "came in through twitter")
    ]
    assert signals(state(channel="Facebook")) == [
        Signal("social_media", 3, "came in through Facebook")
    ]


def test_social_media_by_phrase():
    ticket = state(description="I will post about this on Trustpilot.")
    assert signals(ticket) == [Signal("social_media", 3, 'mentions "trustpilot"')]


def test_vip_tag():
    assert signals(state(tags=["delivery", "vip"])) == [Signal("vip", 3, 'tagged "vip"')]


def test_vip_organization():
    rules = RULES.model_copy(
        update={
            "risk": RISK.model_copy(
                update={
                    "signals": {
                        **RISK.signals,
                        "vip": RISK.signals["vip"].model_copy(update={"organizations": ["4242"]}),
                    }
                }
            )
        }
    )
    ticket = state(organization="4242")
    assert collect_signals(ticket, context(rules=rules), rules.risk) == [
        Signal("vip", 3, "organization 4242 is a key account")
    ]
    assert collect_signals(state(organization="17"), context(rules=rules), rules.risk) == []


def test_vip_account_of_a_case_in_either_id_form():
    """A key account copied from a report export or a Classic URL (15 characters) is the
    AccountId Salesforce sends (18): the two forms are one account, as for the roster's user
    ids. A 15-character id differing in a letter's case is another record."""

    def vip(organizations: list[str], organization: str) -> list[Signal]:
        signal = RISK.signals["vip"].model_copy(update={"organizations": organizations})
        rules = RULES.model_copy(
            update={"risk": RISK.model_copy(update={"signals": {**RISK.signals, "vip": signal}})}
        )
        case = state(
            key="salesforce:5005j00000TqW8hAAF",
            source=Source.salesforce,
            ticket_id="5005j00000TqW8hAAF",
            organization=organization,
        )
        return collect_signals(case, context(rules=rules), rules.risk)

    sent = "0015j00000LmN2rAAF"
    key_account = [Signal("vip", 3, f"organization {sent} is a key account")]
    assert vip(["0015j00000LmN2r"], sent) == key_account
    assert vip(["0015j00000LmN2rAAF"], sent) == key_account
    # An 18-character id is one record whatever its case (a spreadsheet's upper or lower):
    # its suffix spells the letters' case; 15 characters in another case are another record.
    assert vip(["0015J00000LMN2RAAF"], sent) == key_account
    assert vip(["0015j00000lmn2raaf"], sent) == key_account
    assert vip(["0015J00000LMN2R"], sent) == []
    assert vip(["0015j00000LmN2s"], sent) == []
    # A Zendesk organization's id is a number: its first 15 digits are another organization.
    zendesk = RISK.signals["vip"].model_copy(update={"organizations": ["360012345678901"]})
    rules = RULES.model_copy(
        update={"risk": RISK.model_copy(update={"signals": {**RISK.signals, "vip": zendesk}})}
    )
    ticket = state(organization="360012345678901234")
    assert collect_signals(ticket, context(rules=rules), rules.risk) == []


def test_reopened():
    assert signals(state(reopened=True)) == [Signal("reopened", 2, "reopened after it was solved")]


def test_repeat_contact_within_the_window():
    related = (
        RelatedTicket("zendesk:640", T0 - timedelta(days=10)),
        RelatedTicket("zendesk:650", T0 - timedelta(days=3)),
    )
    assert signals(state(), related) == [
        Signal("repeat_contact", 3, "the requester opened zendesk:650 too, within 14 days")
    ]


def test_repeat_contact_window_edges():
    exactly = (RelatedTicket("zendesk:650", T0 - timedelta(days=14)),)
    assert signals(state(), exactly) == [
        Signal("repeat_contact", 3, "the requester opened zendesk:650 too, within 14 days")
    ]
    outside = (RelatedTicket("zendesk:650", T0 - timedelta(days=14, seconds=1)),)
    assert signals(state(), outside) == []
    # A ticket opened after this one never makes this one a repeat, whichever came first:
    # the later contact is the repeat (later_contacts has it decided again).
    later = (RelatedTicket("zendesk:900", T0 + timedelta(days=1)),)
    assert signals(state(), later) == []
    # Without a creation time there is no window to measure.
    near = (RelatedTicket("zendesk:650", T0 - timedelta(days=1)),)
    assert signals(state(created_at=None), near) == []


def test_an_earlier_ticket_escalated_as_a_repeat_is_still_an_earlier_contact():
    """A, then B (escalated as A's repeat), then this ticket 11 days after B: B is this
    ticket's earlier contact though it carries "repeat_contact" itself (a third contact is a
    repeat too), at its first event and after."""
    b = (RelatedTicket("zendesk:650", T0 - timedelta(days=11), ("repeat_contact",)),)
    expected = [Signal("repeat_contact", 3, "the requester opened zendesk:650 too, within 14 days")]
    assert signals(state(), b) == expected
    later_event = Context(now=T0, rules=RULES, previous=state(), related=b)
    assert collect_signals(state(), later_event, RISK) == expected


def test_an_earlier_tickets_events_coming_last_have_its_later_contacts_decided_again():
    """This ticket (opened at T0) is first known after tickets the requester opened later
    (their events came first): each later one in the window not yet escalated as a repeat
    gets a timer, due when it was opened, that decides it again with this one known. None
    for a ticket escalated as a repeat already, one opened before or beyond the window, nor
    at this ticket's later events."""
    arrived = T0 + timedelta(days=20)
    related = (
        RelatedTicket("zendesk:640", T0 - timedelta(days=1)),  # earlier: this is its repeat
        RelatedTicket("zendesk:901", T0 + timedelta(hours=2)),
        RelatedTicket("zendesk:902", T0 + timedelta(days=3), ("repeat_contact",)),
        RelatedTicket("zendesk:903", T0 + timedelta(days=14)),  # the window's edge
        RelatedTicket("zendesk:904", T0 + timedelta(days=14, seconds=1)),
    )
    first = Context(now=arrived, rules=RULES, previous=None, related=related)
    decision = evaluate_risk(state(), EVENT, first)

    def timer(key: str, due: datetime) -> Timer:
        payload = {
            "earlier": TICKET,
            "earlier_created_at": "2026-03-02T09:00:00+00:00",
            "known_at": "2026-03-22T09:00:00+00:00",
        }
        return Timer(
            f"{key}:risk.repeat_contact:{TICKET}", key, "risk.repeat_contact", due, payload
        )

    assert decision.timers == [
        timer("zendesk:901", T0 + timedelta(hours=2)),
        timer("zendesk:903", T0 + timedelta(days=14)),
    ]
    # This ticket is the repeat of zendesk:640 (the earlier one), and escalated as such.
    assert [a.kind.value for a in decision.actions] == [
        "escalate",
        "set_priority",
        "assign",
        "note",
    ]
    # Its later events set none again; nor does a ticket solved before its events came
    # escalate, though its later contacts are still found.
    later = Context(now=arrived, rules=RULES, previous=state(), related=related)
    assert evaluate_risk(state(), EVENT, later).timers == []
    solved = evaluate_risk(state(status=Status.solved), EVENT, first)
    assert (solved.actions, len(solved.timers)) == ([], 2)
    # Its event came after the later ticket was opened: due at the event, known then.
    event = evolve(EVENT, {"occurred_at": T0 + timedelta(hours=3)})
    late = Context(now=T0 + timedelta(hours=3), rules=RULES, previous=None, related=related[1:2])
    assert evaluate_risk(state(), event, late).timers == [
        Timer(
            f"zendesk:901:risk.repeat_contact:{TICKET}",
            "zendesk:901",
            "risk.repeat_contact",
            T0 + timedelta(hours=3),
            {"earlier": TICKET, "earlier_created_at": "2026-03-02T09:00:00+00:00"},
        )
    ]


def test_a_later_contact_decided_again_is_escalated_as_the_repeat_naming_the_earlier():
    later = state(key="zendesk:901", ticket_id="901", created_at=T0 + timedelta(hours=2))
    fired = Timer(
        f"zendesk:901:risk.repeat_contact:{TICKET}",
        "zendesk:901",
        "risk.repeat_contact",
        T0 + timedelta(hours=2),
        {"earlier": TICKET, "earlier_created_at": "2026-03-02T09:00:00+00:00"},
    )
    ctx = Context(now=T0 + timedelta(hours=2), rules=RULES, previous=later)
    decision = fire_repeat_contact(later, fired, ctx)
    reason = f"risk 3 ≥ 3: the requester opened {TICKET} too, within 14 days (repeat contact, 3)"
    assert [(a.kind.value, a.key, a.reason) for a in decision.actions] == [
        ("escalate", "zendesk:901:risk:repeat_contact:escalate", reason),
        ("set_priority", "zendesk:901:risk:repeat_contact:priority", reason),
        ("assign", "zendesk:901:risk:repeat_contact:assign", reason),
        ("note", "zendesk:901:risk:repeat_contact:note", reason),
    ]
    # Escalated already for it (or solved meanwhile): nothing again.
    escalated = evolve(later, decision.updates)
    assert fire_repeat_contact(escalated, fired, ctx) == Decision()
    assert fire_repeat_contact(evolve(later, {"status": Status.solved}), fired, ctx) == Decision()


def test_anger_phrase():
    assert signals(state(description="This is unacceptable.")) == [
        Signal("anger", 1, 'strong words ("unacceptable")')
    ]


def test_shouting_in_capitals_or_exclamation_marks():
    shouting = [Signal("anger", 1, "shouting (capitals or !!!)")]
    assert signals(state(subject="WHERE IS MY SOFA")) == shouting
    assert signals(state(description="Where is my sofa!!!")) == shouting
    assert signals(state(subject="Where is my sofa")) == []
    assert signals(state(subject="DPD")) == []


def test_a_plain_ticket_has_no_signal():
    assert signals(state()) == []


# -- escalation at the threshold -----------------------------------------------------------


def escalation(names: list[str], score: float, reason: str, priority: bool = True) -> list[dict]:
    key = f"{TICKET}:risk:{'+'.join(names)}"
    actions = [
        {
            "kind": "escalate",
            "ticket": TICKET,
            "rule": "risk",
            "reason": reason,
            "key": f"{key}:escalate",
            "params": {
                "target": "specialists",
                "channel": "#resolution-specialists",
                "lead_channel": "#resolution-leads",
                "signals": names,
                "score": score,
            },
        },
        {
            "kind": "set_priority",
            "ticket": TICKET,
            "rule": "risk",
            "reason": reason,
            "key": f"{key}:priority",
            "params": {"priority": "urgent"},
        },
        {
            "kind": "assign",
            "ticket": TICKET,
            "rule": "risk",
            "reason": reason,
            "key": f"{key}:assign",
            "params": {"group": SPECIALISTS, "escalated": True},
        },
        {
            "kind": "note",
            "ticket": TICKET,
            "rule": "risk",
            "reason": reason,
            "key": f"{key}:note",
            "params": {
                "body": f"deskbridge escalated this ticket to the specialist tier: {reason}."
            },
        },
    ]
    return actions if priority else [a for a in actions if a["kind"] != "set_priority"]


OMBUDSMAN = "If this is not fixed I will take it to the ombudsman."
OMBUDSMAN_REASON = 'risk 3 ≥ 3: mentions "ombudsman" (legal, 3)'


def test_one_signal_at_the_threshold_escalates():
    decision = evaluate_risk(state(description=OMBUDSMAN), EVENT, context())
    assert dumps(decision) == escalation(["legal"], 3, OMBUDSMAN_REASON)
    assert decision.timers == []
    assert decision.cancel == []
    assert decision.updates == {
        "escalation_signals": ["legal"],
        "escalation_score": 3,
        "assigned_groups": [SPECIALISTS],
    }


def test_below_the_threshold_nothing_and_at_it_an_escalation():
    assert evaluate_risk(state(reopened=True), EVENT, context()) == Decision()
    assert evaluate_risk(state(description="Unacceptable."), EVENT, context()) == Decision()

    both = state(reopened=True, description="Unacceptable.")
    reason = (
        'risk 3 ≥ 3: reopened after it was solved (reopened, 2); strong words ("unacceptable") '
        "(anger, 1)"
    )
    assert dumps(evaluate_risk(both, EVENT, context())) == escalation(
        ["anger", "reopened"], 3, reason
    )


def test_the_reason_lists_every_signal():
    ticket = state(
        description=f"{OMBUDSMAN} Unacceptable.",
        channel="twitter",
        tags=["vip"],
        reopened=True,
        assigned_groups=["360010000001"],
    )
    related = (RelatedTicket("zendesk:650", T0 - timedelta(days=2)),)
    decision = evaluate_risk(ticket, EVENT, context(related))
    reason = (
        'risk 15 ≥ 3: mentions "ombudsman" (legal, 3); came in through twitter '
        '(social media, 3); tagged "vip" (vip, 3); reopened after it was solved (reopened, 2); '
        "the requester opened zendesk:650 too, within 14 days (repeat contact, 3); "
        'strong words ("unacceptable") (anger, 1)'
    )
    names = ["anger", "legal", "reopened", "repeat_contact", "social_media", "vip"]
    assert dumps(decision) == escalation(names, 15, reason)
    assert decision.updates == {
        "escalation_signals": names,
        "escalation_score": 15,
        "assigned_groups": ["360010000001", SPECIALISTS],
    }


def test_priority_is_not_touched_when_already_urgent():
    ticket = state(description=OMBUDSMAN, priority=Priority.urgent)
    assert dumps(evaluate_risk(ticket, EVENT, context())) == escalation(
        ["legal"], 3, OMBUDSMAN_REASON, priority=False
    )


def test_priority_is_raised_from_high_and_from_none():
    for priority in (Priority.high, None):
        ticket = state(description=OMBUDSMAN, priority=priority)
        assert dumps(evaluate_risk(ticket, EVENT, context())) == escalation(
            ["legal"], 3, OMBUDSMAN_REASON
        )


# -- once per ticket, unless a new, stronger signal appears ---------------------------------


def escalated(ticket: TicketState, decision: Decision) -> TicketState:
    return evolve(ticket, decision.updates)


def test_the_same_signal_again_gives_nothing():
    first = state(description=OMBUDSMAN)
    after = escalated(first, evaluate_risk(first, EVENT, context()))
    again = evolve(
        after, {"customer_messages": ["I have now written to the ombudsman and my lawyer."]}
    )
    assert evaluate_risk(again, EVENT, context()) == Decision()


def test_a_new_stronger_signal_escalates_once_more():
    first = state(description=OMBUDSMAN)
    after = escalated(first, evaluate_risk(first, EVENT, context()))
    vip = evolve(after, {"tags": ["vip"]})
    decision = evaluate_risk(vip, EVENT, context())
    reason = 'risk 6 ≥ 3: mentions "ombudsman" (legal, 3); tagged "vip" (vip, 3)'
    assert dumps(decision) == escalation(["legal", "vip"], 6, reason)
    assert decision.updates == {
        "escalation_signals": ["legal", "vip"],
        "escalation_score": 6,
        "assigned_groups": [SPECIALISTS, SPECIALISTS],
    }
    # …and only once.
    assert evaluate_risk(escalated(vip, decision), EVENT, context()) == Decision()


def test_a_new_weaker_signal_does_not_escalate_again_within_the_level():
    """Escalated at 3 (legal); anger (1) makes 4, still below the next level (6)."""
    first = state(description=OMBUDSMAN)
    after = escalated(first, evaluate_risk(first, EVENT, context()))
    angry = evolve(after, {"customer_messages": ["This is unacceptable."]})
    assert evaluate_risk(angry, EVENT, context()) == Decision()
    # A repeat contact on top (3 more: 7) reaches level 2 and escalates once more.
    related = (RelatedTicket("zendesk:650", T0 - timedelta(days=1)),)
    decision = evaluate_risk(angry, EVENT, context(related))
    assert decision.updates["escalation_signals"] == ["anger", "legal", "repeat_contact"]
    assert decision.updates["escalation_score"] == 7
    assert [a.kind.value for a in decision.actions] == [
        "escalate",
        "set_priority",
        "assign",
        "note",
    ]
    assert evaluate_risk(escalated(angry, decision), EVENT, context(related)) == Decision()


def test_a_weaker_or_equal_set_gives_nothing():
    ticket = state(description=OMBUDSMAN, tags=["vip"])
    after = escalated(ticket, evaluate_risk(ticket, EVENT, context()))
    assert (after.escalation_signals, after.escalation_score) == (["legal", "vip"], 6)

    # A subset of what was escalated.
    assert evaluate_risk(evolve(after, {"tags": []}), EVENT, context()) == Decision()
    # A new signal, but a lower score than the escalation (vip gone, reopened came).
    weaker = evolve(after, {"tags": [], "reopened": True})
    assert evaluate_risk(weaker, EVENT, context()) == Decision()
    # A different set with the same score (vip gone, a repeat contact came).
    related = (RelatedTicket("zendesk:650", T0 - timedelta(days=1)),)
    same = evolve(after, {"tags": []})
    assert evaluate_risk(same, EVENT, context(related)) == Decision()


def test_disabled_or_missing_risk_config_and_finished_tickets_give_nothing():
    ticket = state(description=OMBUDSMAN, tags=["vip"], channel="twitter")
    disabled = RULES.model_copy(update={"risk": RISK.model_copy(update={"enabled": False})})
    assert evaluate_risk(ticket, EVENT, context(rules=disabled)) == Decision()
    missing = RULES.model_copy(update={"risk": None})
    assert evaluate_risk(ticket, EVENT, context(rules=missing)) == Decision()
    for status in (Status.solved, Status.closed):
        finished = evolve(ticket, {"status": status})
        assert evaluate_risk(finished, EVENT, context()) == Decision()


def test_what_the_texts_say_is_read_again_when_a_text_or_the_phrases_change():
    """The phrase signals are kept by the ticket's texts (most events change none of them):
    each text changed, and other phrases configured, give their own signals."""
    calm = state()
    assert signals(calm) == []
    assert signals(state(subject="My lawyer will call")) == [
        Signal("legal", 3, 'mentions "lawyer"')
    ]
    assert signals(state(description="I will post about this on reddit")) == [
        Signal("social_media", 3, 'mentions "post about this"')
    ]
    assert signals(state(customer_messages=["This is ridiculous"])) == [
        Signal("anger", 1, 'strong words ("ridiculous")')
    ]
    assert signals(state(subject="WHERE IS MY ORDER")) == [
        Signal("anger", 1, "shouting (capitals or !!!)")
    ]
    assert signals(state(customer_messages=["Still waiting!!!"])) == [
        Signal("anger", 1, "shouting (capitals or !!!)")
    ]
    assert signals(calm) == []
    legal = RISK.signals["legal"]
    edited = RISK.model_copy(
        update={
            "signals": {
                **RISK.signals,
                "legal": legal.model_copy(update={"phrases": [*legal.phrases, "about my order"]}),
            }
        }
    )
    assert collect_signals(calm, context(), edited) == [
        Signal("legal", 3, 'mentions "about my order"')
    ]
    assert signals(calm) == []
