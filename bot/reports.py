"""What `/deskbridge me | team | ticket` and the App Home show, read from the store."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from deskbridge.bot.blocks import describe_signals, escape
from deskbridge.bot.digest import agent_lines, summary_lines
from deskbridge.bot.notifier import describe_assignee, describe_subject
from deskbridge.config.rules import AgentConfig, RulesConfig
from deskbridge.connectors.registry import name_ticket
from deskbridge.store.activity import read_period, read_period_replies
from deskbridge.store.audit import list_decisions
from deskbridge.store.tickets import find_tickets_by_number, list_open_tickets, load_ticket
from deskbridge.workflows.digest import (
    build_agent_figures,
    build_digest,
    build_period,
    count_csat,
    repeat_window,
)
from deskbridge.workflows.model import (
    SALESFORCE_ID,
    Source,
    TicketState,
    salesforce_id_18,
    ticket_key,
)
from deskbridge.workflows.rules.sla import describe_local_time, describe_sla, sla_due_times
from deskbridge.workflows.rules.three_responses import call_logged, call_requested

AT_RISK_WITHIN = timedelta(hours=1)

# A ticket as people type it: as its alerts show it ("#48213", "#5005j00000AbCdEAAV"), as
# Zendesk's emails write it ("ZD-48213"), or by its key ("zendesk:48213", "salesforce:500…").
_ZENDESK_TICKET = re.compile(r"(?i:#|zd-|zendesk:)?([0-9]{1,20})")
_SALESFORCE_CASE = re.compile(rf"(?i:#|salesforce:)?({SALESFORCE_ID.pattern})")


# A number people know a ticket by, where it is not its id (a Salesforce CaseNumber,
# "00001042", or an org's own display format, "CS-1042"); "#" as a list shows it.
_NUMBER = re.compile(r"#?([A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]*)")


def ask_ticket(text: str) -> str | None:
    """The ticket `text` names, as a title names it when there is no such ticket ("48213",
    "00001042"), or None when `text` names no ticket at all (the command's usage then)."""
    key = parse_ticket_key(text)
    if key is not None:
        return key.partition(":")[2]
    number = _NUMBER.fullmatch(text)
    return number.group(1) if number else None


def find_ticket(connection: Connection, text: str) -> TicketState | None:
    """The ticket `text` names: by its id or key (parse_ticket_key), else by the number its
    helpdesk shows people (a Salesforce case's CaseNumber, `00001042`, which as digits reads
    as a Zendesk id first). `ticket`, `ack` and `/escalate` find it alike."""
    key = parse_ticket_key(text)
    state = load_ticket(connection, key) if key is not None else None
    if state is not None:
        return state
    number = _NUMBER.fullmatch(text)
    found = find_tickets_by_number(connection, number.group(1)) if number else []
    return load_ticket(connection, found[0]) if found else None


def name_for_title(state: TicketState) -> str:
    """A command's answer titled by its ticket: "Case 00001042", "Ticket 48213"."""
    return name_ticket(state) or f"Ticket {state.ticket_id}"


def describe_ticket(state: TicketState) -> str:
    """A ticket in a list, as its alerts show it: "Case 00001042", "#48213"."""
    return name_ticket(state) or f"#{state.ticket_id}"


def parse_ticket_key(text: str) -> str | None:
    """The key of the ticket `text` names (digits are a Zendesk ticket, a 15- or 18-character
    record id a Salesforce case, keyed by its 18), or None: `ticket`, `ack` and `/escalate`
    read it alike."""
    zendesk = _ZENDESK_TICKET.fullmatch(text)
    if zendesk is not None:
        return ticket_key(Source.zendesk, zendesk.group(1))
    case = _SALESFORCE_CASE.fullmatch(text)
    # A 15-character id (a report export, a Classic URL) names the case the API sent as 18.
    return None if case is None else ticket_key(Source.salesforce, salesforce_id_18(case.group(1)))


def _line(
    state: TicketState, rules: RulesConfig, now: datetime, owner: bool = False, why: str = ""
) -> str:
    """A ticket as a list shows it, with its nearest SLA due time or `why` it is listed;
    `owner`: with whom it is too (the team's lists: a lead sees whom to talk to)."""
    sla = describe_sla(state, rules, now)
    extra = f" — {why or sla[0]}" if why or sla else ""
    assignee = describe_assignee(state, rules) if owner else None
    who = f" ({escape(assignee)})" if assignee else ""
    subject = escape(describe_subject(state) or "(no subject)")
    return f"• {escape(describe_ticket(state))} {subject}{who}{extra}"


def _at_risk(state: TicketState, rules: RulesConfig, now: datetime) -> bool:
    return any(due - now <= AT_RISK_WITHIN for _, due, _ in sla_due_times(state, rules))


def build_me_lines(
    connection: Connection, rules: RulesConfig, agent: AgentConfig, now: datetime
) -> list[str]:
    # Tickets and replies are the agent's as the roster looks them up (a Salesforce user id
    # in either form), and the replies are the review's figure so far today.
    roster = rules.agent_by_helpdesk_id
    mine = [s for s in list_open_tickets(connection) if roster(s.source, s.assignee) is agent]
    period = build_period(rules, now.astimezone(ZoneInfo(rules.team.timezone)).date(), now=now)
    figures, _ = build_agent_figures(rules, period, read_period_replies(connection, period))
    replies = next((f.responses for f in figures if f.agent.slack_id == agent.slack_id), 0)
    risky = [s for s in mine if _at_risk(s, rules, now)]
    lines = [f"*Replies today:* {replies}", f"*Open tickets:* {len(mine)}"]
    if risky:
        lines.append("*SLA at risk:*")
        lines += [_line(s, rules, now) for s in risky]
    others = [s for s in mine if s not in risky]
    if others and risky:  # "Other" than the ones at risk; none at risk, they follow the count
        lines.append("*Other open tickets:*")
    lines += [_line(s, rules, now) for s in others[:20]]
    return lines


# The marks explained where they are shown: after the shift every agent under target is ⏳.
TODAY_HEADING = "*Today so far (responses/target; ⏳ behind the pace due by now, ✅ on it):*"


def build_team_lines(connection: Connection, rules: RulesConfig, now: datetime) -> list[str]:
    open_tickets = list_open_tickets(connection)
    risky = [s for s in open_tickets if _at_risk(s, rules, now)]
    escalated = [s for s in open_tickets if s.escalation_signals]
    calls_due = [s for s in open_tickets if call_requested(s) and not call_logged(s, rules)]

    def listed(state: TicketState, why: str = "") -> str:
        return _line(state, rules, now, owner=True, why=why)  # a lead sees whose each is

    lines = [f"*Tickets at risk ({len(risky)}):*", *map(listed, risky)]
    # Open tickets escalated on any day: the review's "Escalations" below counts today's only
    # (newuser35: "Open escalations (3)" beside "Escalations: 1" read as a contradiction).
    lines += [f"*Open escalated tickets, any day ({len(escalated)}):*"]
    lines += [listed(s, describe_signals(s.escalation_signals)) for s in escalated]
    lines += [f"*Calls due ({len(calls_due)}):*", *map(listed, calls_due)]
    # Today's review so far: the figures of the daily digest, live.
    period = build_period(rules, now.astimezone(ZoneInfo(rules.team.timezone)).date(), now=now)
    data = read_period(connection, period, repeat_window(rules))
    digest = build_digest(rules, period, data)
    lines.append(TODAY_HEADING)
    lines += [escape(line) for line in agent_lines(digest)]
    lines += [escape(line) for line in summary_lines(digest, count_csat(data))]
    return lines


def build_ticket_lines(
    connection: Connection, rules: RulesConfig, state: TicketState, now: datetime
) -> list[str]:
    """`/deskbridge ticket`'s view of a ticket found (find_ticket): its state and decisions."""
    department = rules.departments.get(state.department) if state.department else None
    lines = [
        # The answer's title names the ticket (name_for_title): this line is its subject.
        escape(describe_subject(state) or "(no subject)"),
        f"Status {state.status.value}, priority {state.priority.value if state.priority else '-'}"
        f", department {department.name if department else '-'}, "
        f"{state.public_agent_replies} public replies",
    ]
    lines += [f"• {line}" for line in describe_sla(state, rules, now)]
    lines.append("*Decisions:*")
    zone = ZoneInfo(rules.team.timezone)
    # One line per decision: the actions decided together for one reason (an escalation's
    # escalate, set_priority, assign and note) share it, rather than repeat it four times.
    grouped: list[tuple[str, list[str], str]] = []
    for row in list_decisions(connection, state.key):
        # With its date, as the SLA lines above: a ticket's decisions span days and weeks.
        when = describe_local_time(row["at"].astimezone(zone), now)
        if grouped and grouped[-1][0] == when and grouped[-1][2] == row["reason"]:
            grouped[-1][1].append(row["action"])
        else:
            grouped.append((when, [row["action"]], row["reason"]))
    for when, actions, reason in grouped[-15:]:
        lines.append(f"• {when} {', '.join(actions)} — {escape(reason)}")
    if not grouped:
        lines.append("• none yet")
    return lines
