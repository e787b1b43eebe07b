"""The leads' review as text: a terminal table (rich) and a Slack message (Block Kit)."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

from deskbridge.bot.blocks import escape
from deskbridge.connectors.registry import find_source
from deskbridge.workflows.digest import describe_period

SLA_LABELS = {"first_reply": "first reply", "next_reply": "next reply", "resolution": "resolution"}


def _minutes(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def is_behind(agent: dict[str, Any]) -> bool:
    """Below target; while their shift still runs, below the count due by now (the straight
    line over their hours the pace checks use): hours still to work are not behind."""
    due = agent.get("expected_by_now")
    return agent["responses"] < (agent["target"] if due is None else due)


def shift_note(agent: dict[str, Any]) -> str | None:
    """What the lead needs besides the count: a shift judged so far ("on shift to 20:00,
    22 due by now", said only while the target is not reached), or judged on another day's
    shift ("Fri's shift")."""
    notes = []
    if agent.get("shift_of"):
        notes.append(f"{date.fromisoformat(agent['shift_of']):%a}'s shift")
    ends = agent.get("shift_ends")
    if ends and agent["responses"] < agent["target"]:
        notes.append(
            f"on shift to {datetime.fromisoformat(ends):%H:%M}, "
            f"{agent['expected_by_now']} due by now"
        )
    return ", ".join(notes) or None


def render_table(
    digest: dict[str, Any], team: str, csat: dict[str, int] | None = None, width: int = 110
) -> str:
    """The review as a readable terminal table."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=width, record=True, file=io.StringIO())
    what = "Weekly" if digest["period"] == "week" else "Daily"
    table = Table(title=f"{what} review — {team}, {describe_period(digest['period'], digest)}")
    for name, justify in (
        ("Agent", "left"),
        ("Responses", "right"),
        ("Target", "right"),
        ("Tenure", "right"),
        ("1st reply min\nmedian/p90", "right"),
        ("Unneeded", "right"),
        ("Calls\nasked/made", "right"),
        ("Solved", "right"),
    ):
        table.add_column(name, justify=justify)
    for agent in digest["agents"]:
        behind = is_behind(agent)
        note = shift_note(agent)
        table.add_row(
            agent["name"] + (f"\n({note})" if note else ""),
            f"[yellow]{agent['responses']}[/]" if behind else f"[green]{agent['responses']}[/]",
            str(agent["target"]),
            "—" if agent["tenure_months"] is None else f"{agent['tenure_months']} mo",
            f"{_minutes(agent['first_reply_median_minutes'])} / "
            f"{_minutes(agent['first_reply_p90_minutes'])}",
            str(agent["unnecessary_responses"]),
            f"{agent['calls_requested']} / {agent['calls_logged']}",
            str(agent["solved"]),
        )
    console.print(table)
    for line in summary_lines(digest, csat):
        # Whole lines, as in Slack: the table's width broke a list mid-item ("(0 / overdue)").
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    return console.export_text()


def _describe_escalations(digest: dict[str, Any]) -> str:
    """ "3 (2 tickets)" where a ticket was raised twice (to the specialists, then the leads): a
    lead read "Escalations: 3" as three tickets. A review decided before the count was kept
    has no ticket count."""
    escalations, tickets = digest["escalations"], digest.get("escalated_tickets")
    if tickets is None or tickets == escalations:
        return str(escalations)
    return f"{escalations} ({tickets} ticket{'' if tickets == 1 else 's'})"


def summary_lines(digest: dict[str, Any], csat: dict[str, int] | None = None) -> list[str]:
    sla = ", ".join(
        f"{SLA_LABELS[m]} {v['met']} met / {v['breached']} breached"
        for m, v in digest["sla"].items()
    )
    # A review decided before departments carried their name shows the config key.
    departments = ", ".join(
        f"{v.get('name', key)} {v['routed']} routed ({v['overdue_handoffs']} overdue)"
        for key, v in digest["departments"].items()
    )
    lines = [
        f"SLA: {sla}",
        f"Departments: {departments or 'none'}",
        f"Escalations: {_describe_escalations(digest)}   "
        f"Repeat contacts: {digest['repeat_contacts']}",
    ]
    if csat is not None:
        lines.append(f"CSAT: {csat['good']} good / {csat['bad']} bad")
    if digest["categories"]:
        lines.append(
            "Top problems: "
            + ", ".join(
                f"{c['name'].replace('_', ' ')} {c['count']}"
                + (f" (SPIKE, usually {c['trailing_average']:g})" if c["spike"] else "")
                for c in digest["categories"]
            )
        )
    if digest["unmapped_authors"]:
        lines.append(
            "Not on the roster: "
            + ", ".join(f"{u['id']} ({u['responses']})" for u in digest["unmapped_authors"])
        )
    return lines


def agent_lines(digest: dict[str, Any]) -> list[str]:
    """One mrkdwn line per agent: responses against target (⏳ behind, `is_behind`) and the
    rest of their figures."""
    rows = []
    for agent in digest["agents"]:
        mark = "⏳" if is_behind(agent) else "✅"
        first = agent["first_reply_median_minutes"]
        unneeded = agent["unnecessary_responses"]
        note = shift_note(agent)
        rows.append(
            f"{mark} *{agent['name']}* {agent['responses']}/{agent['target']}"
            + (f" · {note}" if note else "")
            + (f" · first reply {first:g} min" if first is not None else "")
            + (f" · {unneeded} unneeded" if unneeded else "")
            + f" · calls asked/made {agent['calls_requested']}/{agent['calls_logged']}"
            + f" · solved {agent['solved']}"
        )
    return rows


# Slack's limits: 50 blocks a message, 3,000 characters a section's text.
MAX_BLOCKS, SECTION_CHARS = 50, 2800


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _sections(lines: list[str]) -> list[dict[str, Any]]:
    """`lines` in as few sections as fit, none cut mid-line but one longer than a section
    (a long list: cut at an item, saying how many are left out)."""
    sections, chunk = [], []
    for line in (_fit(line) for line in lines):
        if chunk and sum(len(r) + 1 for r in chunk) + len(line) > SECTION_CHARS:
            sections.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        sections.append(_section("\n".join(chunk)))
    return sections


def _fit(line: str) -> str:
    # The review's lists ("Not on the roster: 9013 (4), 9014 (2), …") separate items by ", ".
    if len(line) <= SECTION_CHARS:
        return line
    kept = line[: SECTION_CHARS - 80]
    kept = kept[: kept.rfind(", ")] if ", " in kept else kept
    left = line[len(kept) :].count(", ")
    return f"{kept}, … and {left} more (`deskbridge digest` lists them all)"


def build_digest_message(
    digest: dict[str, Any], team: str, csat: dict[str, int] | None = None
) -> dict[str, Any]:
    """chat.postMessage arguments (text + blocks) for the lead channel."""
    what = "Weekly" if digest["period"] == "week" else "Daily"
    title = f"{what} review — {team}, {describe_period(digest['period'], digest)}"
    rows = agent_lines(digest)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
    ]
    # Names come from the rules file and the helpdesk: shown as written, never a link.
    blocks += _sections([escape(r) for r in rows])
    blocks += _sections([escape(line) for line in summary_lines(digest, csat)])
    if len(blocks) > MAX_BLOCKS:
        cut = "… the rest does not fit in one Slack message: `deskbridge digest` shows it all"
        blocks = [*blocks[: MAX_BLOCKS - 1], _section(cut)]
    return {"text": title, "blocks": blocks}


COACH_TITLES = {
    "pace": "Pace check",
    "target_reached": "Target reached 🎉",
    "missed_call": "A call might help",
    "slow_first_reply": "First reply",
    "unnecessary_replies": "Replies that could be one",
}


def build_coach_message(
    record: dict[str, Any], ticket_url: str | None, name: str | None = None
) -> dict[str, Any]:
    """A short, friendly DM: what, and the one thing that helps. `name`: the ticket as its
    helpdesk names it to people ("Case 00001042"), when it is not `ticket <id>`."""
    title = COACH_TITLES.get(record.get("kind", ""), "Coaching")
    number = record["ticket"].partition(":")[2]
    if find_source(record["ticket"]) is not None:  # a nudge about one ticket names it
        title += f" ({escape(name) if name else f'ticket {number}'})"
    text = f"*{title}* — {record['reason']}"
    blocks: list[dict[str, Any]] = [_section(text)]
    if ticket_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open ticket"},
                        "url": ticket_url,
                        "action_id": "open_ticket",
                    }
                ],
            }
        )
    return {"text": f"{title} — {record['reason']}", "blocks": blocks}
