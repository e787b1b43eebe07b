"""The leads' review as one Slack message: everything in it, within Slack's limits (50 blocks,
3,000 characters a section), and what does not fit said so, never cut mid-word."""

from __future__ import annotations

from deskbridge.bot.digest import build_digest_message


def review(agents: int, unmapped: int) -> dict:
    return {
        "period": "week",
        "date": "2026-03-02",
        "agents": [
            {
                "name": f"Agent {n:03}",
                "responses": 40,
                "target": 32,
                "first_reply_median_minutes": None,
                "unnecessary_responses": 0,
                "calls_requested": 0,
                "calls_logged": 0,
                "solved": 3,
            }
            for n in range(agents)
        ],
        "sla": {"first_reply": {"met": 5, "breached": 1}},
        "departments": {"logistics": {"routed": 2, "overdue_handoffs": 0}},
        "escalations": 1,
        "repeat_contacts": 0,
        "categories": [],
        "unmapped_authors": [{"id": f"90133{n:05}", "responses": 3} for n in range(unmapped)],
    }


def texts(message: dict) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"][1:]]


def test_a_roster_list_longer_than_a_section_is_cut_at_an_item_saying_how_many_are_left():
    """A week whose 200 helpdesk authors are not on the roster: the section was cut at 2,900
    characters mid-id ("… 9013300141 (3), 90133001"), with nothing saying the rest was gone."""
    message = build_digest_message(review(2, 200), "Resolution team")

    agents, summary, roster = texts(message)
    assert agents == (
        "✅ *Agent 000* 40/32 · calls asked/made 0/0 · solved 3\n"
        "✅ *Agent 001* 40/32 · calls asked/made 0/0 · solved 3"
    )
    assert summary.splitlines() == [
        "SLA: first reply 5 met / 1 breached",
        "Departments: logistics 2 routed (0 overdue)",
        "Escalations: 1   Repeat contacts: 0",
    ]
    listed = [f"90133{n:05} (3)" for n in range(200)]
    shown = roster.removeprefix("Not on the roster: ").split(", ")
    kept = shown[:-1]
    assert kept == listed[: len(kept)] and 100 < len(kept) < 200
    assert shown[-1] == f"… and {200 - len(kept)} more (`deskbridge digest` lists them all)"
    assert len(roster) <= 3000


def test_a_team_too_big_for_one_message_says_where_to_read_the_rest():
    """4,000 agents: their rows fill Slack's 50 blocks; the last says the review goes on."""
    message = build_digest_message(review(4000, 0), "Resolution team")

    blocks = message["blocks"]
    assert len(blocks) == 50
    assert blocks[0]["text"]["text"] == "Weekly review — Resolution team, week of Mon 02 Mar 2026"
    assert all(len(t) <= 3000 for t in texts(message))
    assert texts(message)[-1] == (
        "… the rest does not fit in one Slack message: `deskbridge digest` shows it all"
    )
    rows = [row for t in texts(message)[:-1] for row in t.splitlines()]
    expected = "✅ *Agent {:03}* 40/32 · calls asked/made 0/0 · solved 3"
    assert rows == [expected.format(n) for n in range(len(rows))]


def test_names_from_the_rules_file_and_the_helpdesk_are_shown_as_written():
    """A department named "R&D <Returns>" or an agent "Sam <lead>" went into Slack's mrkdwn
    as it was: `<Returns>` read as a link and vanished, `&` began an entity."""
    digest = review(1, 0)
    digest["agents"][0]["name"] = "Sam <lead>"
    digest["departments"] = {
        "returns": {"name": "R&D <Returns>", "routed": 2, "overdue_handoffs": 0}
    }

    agents, summary = texts(build_digest_message(digest, "Resolution team"))

    assert agents == "✅ *Sam &lt;lead&gt;* 40/32 · calls asked/made 0/0 · solved 3"
    assert summary.splitlines()[1] == "Departments: R&amp;D &lt;Returns&gt; 2 routed (0 overdue)"


def test_escalations_say_how_many_tickets_when_a_ticket_was_raised_twice():
    """A lead read "Escalations: 3" as three tickets where one was raised twice (to the
    specialists, then the leads). A review decided before the count was kept has none."""
    from deskbridge.bot.digest import summary_lines

    def line(escalations: int, tickets: int | None) -> str:
        digest = {**review(0, 0), "escalations": escalations}
        if tickets is not None:
            digest["escalated_tickets"] = tickets
        return summary_lines(digest)[2]

    assert [line(3, 2), line(2, 1), line(2, 2), line(1, None), line(0, 0)] == [
        "Escalations: 3 (2 tickets)   Repeat contacts: 0",
        "Escalations: 2 (1 ticket)   Repeat contacts: 0",
        "Escalations: 2   Repeat contacts: 0",
        "Escalations: 1   Repeat contacts: 0",
        "Escalations: 0   Repeat contacts: 0",
    ]
