"""`/deskbridge me | team | ticket <id> | help`: answered in the acknowledgement itself, well
inside Slack's 3 seconds. Unknown input gets the help text, saying which word was not
understood, not an error."""

from __future__ import annotations

import json

from slack_bolt import App

from deskbridge.bot.blocks import build_help, build_list
from deskbridge.bot.listeners.actions import build_slack_event, may_act
from deskbridge.bot.oncall import acknowledge_by_command, answer_oncall
from deskbridge.bot.reports import (
    ask_ticket,
    build_me_lines,
    build_team_lines,
    build_ticket_lines,
    find_ticket,
    name_for_title,
)
from deskbridge.workflows.model import EventKind


def may_view(rules, agent, state) -> bool:
    """Leads see every ticket; an agent sees the tickets assigned to them or to someone on
    their team."""
    if agent.role == "lead":
        return True
    assignee = rules.agent_by_helpdesk_id(state.source.value, state.assignee)
    if assignee is None:
        return False
    return assignee.slack_id == agent.slack_id or (
        agent.team is not None and assignee.team == agent.team
    )


def answer_command(runtime, user_id: str, text: str, body: dict | None = None) -> dict:
    words = text.strip().split()
    verb = words[0].lower() if words else "help"
    if verb == "oncall":
        return answer_oncall(runtime, user_id, words[1:])
    if verb == "ack":
        return acknowledge_by_command(runtime, user_id, words[1:], body or {})
    rules = runtime.rules
    agent = rules.agent_by_slack_id(user_id)
    now = runtime.clock()
    with runtime.engine.connect() as connection:
        if verb == "me":
            if agent is None:
                return build_list(
                    "Not on the roster",
                    ["Ask your lead to add your Slack id to deskbridge's config."],
                    "",
                )
            return build_list(
                f"{agent.name}: your day", build_me_lines(connection, rules, agent, now), ""
            )
        if verb == "team":
            if agent is None or agent.role != "lead":
                return build_list("Team view", ["`/deskbridge team` is for team leads."], "")
            return build_list(
                f"{rules.team.name} right now", build_team_lines(connection, rules, now), ""
            )
        if verb == "ticket":
            ticket = ask_ticket(words[1]) if len(words) == 2 else None
            if ticket is None:
                return build_list("Ticket", [TICKET_USAGE], "")
            if agent is None:  # before any lookup: strangers learn nothing, not even existence
                return build_list(f"Ticket {ticket}", ["Ticket views are for the team roster."], "")
            state = find_ticket(connection, words[1])
            if state is None:
                return build_list(f"Ticket {ticket}", [], "deskbridge has no such ticket.")
            title = name_for_title(state)
            if not may_view(rules, agent, state):
                return build_list(title, ["You can see your own tickets and your team's."], "")
            return build_list(title, build_ticket_lines(connection, rules, state, now), "")
    return build_help(None if verb == "help" else words[0])


TICKET_USAGE = (
    "Usage: `/deskbridge ticket <ticket id>`, the id as its alerts show it (`#48213`, a "
    "Salesforce case's number `00001042`) or its key (`zendesk:48213`, "
    "`salesforce:5005j00000AbCdEAAV`)"
)


def escalate_by_hand(runtime, user_id: str, text: str, body: dict) -> dict:
    """`/escalate <ticket> <why>`: the assignee, a lead or the person paged sends a ticket to
    the specialist tier; it goes through the same risk rule, listed as escalated by hand."""
    words = text.strip().split(maxsplit=1)
    ticket = ask_ticket(words[0]) if words else None
    if ticket is None:
        return build_list("Escalate", ["Usage: `/escalate <ticket id> <why>`"], "")
    if len(words) < 2:
        # The reason is what the specialists and the person paged read ("escalated in Slack
        # by Sam" alone tells them nothing); asked for before anything is looked up or decided.
        return build_list(
            "Escalate",
            [
                f"Say why: `/escalate {words[0]} <why>`; the specialists and the person paged "
                "read it."
            ],
            "",
        )
    with runtime.engine.connect() as connection:
        state = find_ticket(connection, words[0])
    if state is None:
        return build_list(f"Ticket {ticket}", [], "deskbridge has no such ticket.")
    key = state.key
    allowed, agent = may_act(runtime, user_id, state)
    if not allowed:
        # The people paged for it may too (may_act), as they may press its buttons.
        return build_list(
            "Escalate",
            ["Only the ticket's assignee, a team lead or the person paged can escalate it."],
            "",
        )
    now = runtime.clock()
    note = words[1]
    event = build_slack_event(
        state,
        EventKind.escalation_requested,
        user_id,
        f"slack:/escalate:{key}:{body.get('trigger_id', now.isoformat())}",
        "slack:/escalate",
        {"by": agent.name, "note": note[:300]},
        now,
    )
    outcome = runtime.service.accept_event(event, json.dumps(body), now)
    done = "escalate" in [a.kind.value for a in outcome.actions]
    message = (
        "Escalated to the specialist tier."
        if done
        else "Already escalated for these reasons; nothing new to do."
    )
    return build_list(name_for_title(state), [message], "")


def register_commands(app: App, runtime) -> None:
    @app.command("/deskbridge")
    def on_command(ack, command):
        ack(**answer_command(runtime, command["user_id"], command.get("text") or "", command))

    @app.command("/escalate")
    def on_escalate(ack, command, body):
        ack(**escalate_by_hand(runtime, command["user_id"], command.get("text") or "", body))
