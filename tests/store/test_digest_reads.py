"""The review's store read counts in SQL (store/activity.py); here the same figures are
computed in plain Python from the generated rows themselves, the way the digest computed them
before it counted in SQL, and both must agree on each backend, ties and boundaries included."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from deskbridge.store.activity import COUNTED, read_period, record_facts
from deskbridge.store.replies import build_reply_row, record_replies
from deskbridge.store.tickets import lock_ticket, save_ticket
from deskbridge.workflows import activity as kinds
from deskbridge.workflows.activity import Fact
from deskbridge.workflows.digest import (
    FirstReply,
    PeriodData,
    RepeatedReply,
    build_digest,
    build_period,
    repeat_window,
)
from deskbridge.workflows.model import Source, Status, TicketState

DAY = date(2026, 3, 11)  # a Wednesday: the week of Monday 9 March
# The example roster's agents (one on both helpdesks) and lead, someone not on it, nobody.
AUTHORS = [
    "9013300112004",
    "0055j00000F3x9QAAR",
    "9013300112019",
    "9013300112027",
    "9013300112090",
    "9199",
    None,
]
REQUESTERS = [f"77{n}" for n in range(25)]  # few, so requesters come back within the window


def generate(rng: random.Random, start: datetime, end: datetime):
    """Tickets on both helpdesks from three weeks before the period to a day after it, with
    times on whole minutes so replies, messages and tickets share instants."""
    tickets, replies, facts = [], [], []
    span = int((end - start).total_seconds() // 60) + 22 * 24 * 60
    first = start - timedelta(days=21)
    for n in range(260):
        source = rng.choice([Source.zendesk, Source.salesforce])
        key = f"{source.value}:{n:04d}"
        created = first + timedelta(minutes=rng.randrange(span))
        requester = rng.choice([*REQUESTERS, None])
        tickets.append((key, source, requester, None if n % 29 == 0 else created))
        at = created
        for c in range(rng.randrange(0, 7)):
            at += timedelta(minutes=rng.choice([0, 0, 3, 8, 10, 11, 25, 90, 600]))
            if rng.random() < 0.35:
                facts.append(
                    Fact(f"{key}:customer:{c}", at, kinds.CUSTOMER_MESSAGE, key)
                )  # at the reply's instant (counts as between) or before it
            author = rng.choice(AUTHORS)
            replies.append((f"c{c:03d}", key, author, at))
            if rng.random() < 0.3:
                m = at + timedelta(minutes=rng.choice([0, 5, 10]))
                facts.append(Fact(f"{key}:customer:after:{c}", m, kinds.CUSTOMER_MESSAGE, key))
        for k, kind in enumerate((*COUNTED, kinds.CATEGORY)):
            if rng.random() < 0.4:
                detail = rng.choice(["first_reply", "next_reply", "logistics", "refund"])
                if kind != kinds.CATEGORY and rng.random() < 0.2:
                    detail = None  # escalations, solves and calls have none
                person = rng.choice(AUTHORS)
                at = created + timedelta(minutes=rng.randrange(0, 3000))
                facts.append(Fact(f"{key}:{kind}:{k}", at, kind, key, person, detail))
                if kind == kinds.ESCALATE and rng.random() < 0.4:  # raised again, to the leads
                    later = at + timedelta(minutes=rng.randrange(1, 600))
                    facts.append(Fact(f"{key}:{kind}:{k}:again", later, kind, key, person, detail))
    return tickets, replies, facts


def store(engine, tickets, replies, facts, now) -> None:
    with engine.begin() as connection:
        for key, source, requester, created in tickets:
            lock_ticket(connection, key, now)
            state = TicketState(
                key=key,
                source=source,
                ticket_id=key.split(":")[1],
                status=Status.open,
                requester=requester,
                created_at=created,
            )
            save_ticket(connection, state, now)
        record_replies(connection, [build_reply_row(*r) for r in replies])
        record_facts(connection, facts)


def expected_data(tickets, replies, facts, start, end, trailing_start, window) -> PeriodData:
    """The figures from the generated rows, one Python pass each (no SQL)."""

    def source(ticket: str) -> str:
        return ticket.split(":", 1)[0]

    created = {key: at for key, _, _, at in tickets if at is not None}
    # Order within a ticket: time, then comment id (the store's order for equal instants).
    ordered = sorted(
        (r for r in replies if r[3] < end),
        key=lambda r: (r[1], r[3], build_reply_row(*r)["comment_id"]),
    )
    responses = Counter((source(t), a) for _, t, a, at in ordered if start <= at < end)
    firsts, seen = [], set()
    for _, ticket, author, at in ordered:
        if ticket in seen:
            continue
        seen.add(ticket)
        if start <= at < end and ticket in created:
            firsts.append(FirstReply(ticket, author, created[ticket], at))
    messages = defaultdict(list)
    for f in facts:
        if f.kind == kinds.CUSTOMER_MESSAGE:
            messages[f.ticket].append(f.at)
    repeated, last = [], {}
    for _, ticket, author, at in ordered:
        previous = last.get((ticket, author))
        last[(ticket, author)] = at
        if previous is None or author is None or not start <= at < end:
            continue
        if not any(previous < m <= at for m in messages[ticket]):
            repeated.append(RepeatedReply(ticket, author, previous, at))
    counted = Counter(
        (f.kind, f.detail, source(f.ticket), f.person)
        for f in facts
        if f.kind in COUNTED and start <= f.at < end
    )
    opened = defaultdict(list)
    for key, _, requester, at in tickets:
        if requester is not None and at is not None:
            opened[(source(key), requester)].append(at)
    repeats = sum(
        1
        for key, _, requester, at in tickets
        if requester is not None
        and at is not None
        and start <= at < end
        and any(at - window <= other < at for other in opened[(source(key), requester)])
    )

    def categories(since, until):
        return Counter(
            f.detail for f in facts if f.kind == kinds.CATEGORY and since <= f.at < until
        )

    return PeriodData(
        responses=dict(responses),
        first_replies=firsts,
        repeated_replies=repeated,
        facts=dict(counted),
        repeat_contacts=repeats,
        escalated_tickets=len(
            {f.ticket for f in facts if f.kind == kinds.ESCALATE and start <= f.at < end}
        ),
        categories=dict(categories(start, end)),
        trailing_categories=dict(categories(trailing_start, start)),
        categories_since=min((f.at for f in facts if f.kind == kinds.CATEGORY), default=None),
    )


def normalised(data: PeriodData) -> PeriodData:
    def key(row):
        return (row.ticket, row.at, row.author or "")

    return PeriodData(
        responses=data.responses,
        first_replies=sorted(data.first_replies, key=key),
        repeated_replies=sorted(data.repeated_replies, key=key),
        facts=data.facts,
        repeat_contacts=data.repeat_contacts,
        escalated_tickets=data.escalated_tickets,
        categories=data.categories,
        trailing_categories=data.trailing_categories,
        categories_since=data.categories_since,
    )


@pytest.mark.parametrize("week", [True, False])
def test_the_figures_counted_in_sql_equal_the_ones_counted_in_python(engine, rules, week):
    period = build_period(rules, DAY, week=week)
    rng = random.Random(10)
    tickets, replies, facts = generate(rng, period.start, period.end)
    store(engine, tickets, replies, facts, datetime(2026, 3, 20, tzinfo=UTC))
    window = repeat_window(rules)
    expected = expected_data(
        tickets, replies, facts, period.start, period.end, period.trailing_start, window
    )
    with engine.connect() as connection:
        read = read_period(connection, period, window)
    assert normalised(read) == normalised(expected)
    assert build_digest(rules, period, read) == build_digest(rules, period, expected)
    if not week:
        return
    # The generated week reaches every figure (a vacuous comparison would prove nothing).
    unnecessary = [
        r
        for r in expected.repeated_replies
        if r.at - r.previous <= rules.coaching.unnecessary_window
    ]
    assert unnecessary and len(unnecessary) < len(expected.repeated_replies)
    assert expected.first_replies and expected.repeat_contacts
    escalations = sum(n for (k, *_), n in expected.facts.items() if k == kinds.ESCALATE)
    assert 0 < expected.escalated_tickets < escalations  # some ticket raised twice
    assert {a for _, a in expected.responses} == set(AUTHORS)
    assert {s for _, _, s, _ in expected.facts} == {"zendesk", "salesforce"}
    assert expected.categories and expected.trailing_categories
