"""A category is a spike only against four weeks of history: in a team's first weeks the
review flagged every busy category (the walkthrough's week 3: "delivery delay 9 (SPIKE,
usually 4)" on a team that routes 8 a week), dividing its one or two weeks by four."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from deskbridge.bot.digest import summary_lines
from deskbridge.store.memory import MemoryStore
from deskbridge.store.retention import purge
from deskbridge.store.session import SqlStore
from deskbridge.workflows.activity import CATEGORY, Fact
from deskbridge.workflows.digest import build_digest, build_period, repeat_window
from deskbridge.workflows.retention import build_cutoffs

GO_LIVE = datetime(2026, 3, 2, 8, 2, tzinfo=UTC)  # Monday 08:02 in London: the first route


@pytest.fixture(params=["memory", "sql"])
def store(request):
    return (
        MemoryStore()
        if request.param == "memory"
        else SqlStore(request.getfixturevalue("sqlite_engine"))
    )


def routed(store, first: datetime, weeks: int, per_week: dict[str, int]) -> None:
    """`per_week` tickets of each category a week for `weeks` weeks from `first`, one a day
    in turn from Monday to Friday at `first`'s time."""
    facts = []
    for week in range(weeks):
        for category, count in per_week.items():
            for n in range(count):
                at = first + timedelta(weeks=week, days=n % 5, minutes=n)
                facts.append(
                    Fact(
                        f"{first:%d}:{category}:{week}:{n}",
                        at,
                        CATEGORY,
                        f"zendesk:{n}",
                        None,
                        category,
                    )
                )
    with store.writing() as session:
        session.record_facts(facts)


def review(store, rules, day: date, week: bool = True) -> dict:
    period = build_period(rules, day, week=week)
    with store.reading() as session:
        return build_digest(rules, period, session.read_period(period, repeat_window(rules)))


def test_a_teams_third_week_flags_no_spike_without_four_weeks_before_it(store, rules):
    # Two weeks of 8 delays and 3 wrong items, then a usual third week (9 and 4).
    routed(store, GO_LIVE, 2, {"delivery_delay": 8, "wrong_item": 3})
    routed(store, GO_LIVE + timedelta(weeks=2), 1, {"delivery_delay": 9, "wrong_item": 4})

    digest = review(store, rules, date(2026, 3, 16))

    assert digest["categories"] == [
        {"name": "delivery_delay", "count": 9, "trailing_average": None, "spike": False},
        {"name": "wrong_item", "count": 4, "trailing_average": None, "spike": False},
    ]
    assert summary_lines(digest)[-1] == "Top problems: delivery delay 9, wrong item 4"


def test_from_the_fifth_week_a_category_at_twice_its_average_is_a_spike(store, rules):
    # Four whole weeks before the week of 30 March, from its first day (a Monday begun at
    # 08:02 is a whole working day), then wrong items treble.
    routed(store, GO_LIVE, 4, {"delivery_delay": 8, "wrong_item": 2})
    routed(store, GO_LIVE + timedelta(weeks=4), 1, {"delivery_delay": 9, "wrong_item": 6})

    digest = review(store, rules, date(2026, 3, 30))

    assert digest["categories"] == [
        {"name": "delivery_delay", "count": 9, "trailing_average": 8.0, "spike": False},
        {"name": "wrong_item", "count": 6, "trailing_average": 2.0, "spike": True},
    ]
    assert summary_lines(digest)[-1] == (
        "Top problems: delivery delay 9, wrong item 6 (SPIKE, usually 2)"
    )


def test_a_week_short_of_a_day_has_no_baseline(store, rules):
    # History from Tuesday 3 March: the week of 30 March's four weeks begin the day before.
    routed(store, GO_LIVE + timedelta(days=1), 4, {"wrong_item": 2})
    routed(store, GO_LIVE + timedelta(weeks=4), 1, {"wrong_item": 6})

    assert review(store, rules, date(2026, 3, 30))["categories"] == [
        {"name": "wrong_item", "count": 6, "trailing_average": None, "spike": False}
    ]


def test_a_days_review_needs_the_28_days_before_it(store, rules):
    # Two wrong items a week from Tuesday 3 March (8 by the 25th), then 3 on each of
    # Monday 30 and Tuesday 31 March.
    routed(store, GO_LIVE + timedelta(days=1), 4, {"wrong_item": 2})
    for day in (30, 31):
        at = datetime(2026, 3, day, 10, 0, tzinfo=UTC)
        with store.writing() as session:
            session.record_facts(
                [
                    Fact(f"{day}:{n}", at, CATEGORY, f"zendesk:{day}{n}", None, "wrong_item")
                    for n in range(3)
                ]
            )

    # Monday's 28 days begin on 2 March, before the first category.
    assert review(store, rules, date(2026, 3, 30), week=False)["categories"] == [
        {"name": "wrong_item", "count": 3, "trailing_average": None, "spike": False}
    ]
    # Tuesday's begin on 3 March: 11 over 28 days, and 3 is more than twice that.
    assert review(store, rules, date(2026, 3, 31), week=False)["categories"] == [
        {"name": "wrong_item", "count": 3, "trailing_average": 0.39, "spike": True}
    ]


@pytest.mark.parametrize(("days", "baseline"), [(42, True), (41, False)])
def test_the_shortest_activity_retention_keeps_last_weeks_baseline_all_week(
    sqlite_engine, rules, days, baseline
):
    """retention.activity's minimum is 42 days: the review of last week, run as late as this
    Sunday night after the hourly purge, still has the four weeks before last week. At 35 days
    (the minimum before) a review run from Tuesday on flagged no spike, and said nothing."""
    store = SqlStore(sqlite_engine)
    routed(store, GO_LIVE, 5, {"wrong_item": 2})  # Monday and Tuesday, from 2 March
    routed(store, GO_LIVE + timedelta(weeks=5), 1, {"wrong_item": 6})  # the week of 6 April
    keep = rules.retention.model_copy(update={"activity": timedelta(days=days)})
    sunday_night = datetime(2026, 4, 19, 22, 59, tzinfo=UTC)  # 23:59 in London

    purge(sqlite_engine, build_cutoffs(rules.model_copy(update={"retention": keep}), sunday_night))

    assert review(store, rules, date(2026, 4, 6))["categories"] == [
        {
            "name": "wrong_item",
            "count": 6,
            "trailing_average": 2.0 if baseline else None,
            "spike": baseline,
        }
    ]
