"""The on-call side of `/deskbridge`: `oncall` (who is on call and the next shifts),
`oncall override @person <from> <to>` (leads only; stored and audited) and `ack <ticket>`
(stops the ticket's on-call chain, like the Acknowledge button)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from deskbridge.bot.blocks import build_list, escape
from deskbridge.bot.listeners.actions import build_slack_event, describe_stopped_chain, may_act
from deskbridge.bot.reports import ask_ticket, find_ticket, name_for_title
from deskbridge.store.oncall import insert_override, list_overrides
from deskbridge.workflows.model import EventKind
from deskbridge.workflows.rotation import (
    Override,
    build_rotation,
    describe_schedule,
    format_local,
    localize,
)

OVERRIDE_USAGE = (
    "Usage: `/deskbridge oncall override @person <from> <to>`, times as "
    "`2026-03-07T18:00` in the team's timezone"
)
UNESCAPED_MENTION = (
    '{name} came as a name, not a Slack user id: tick "Escape channels, users, and links" '
    "for /deskbridge in the Slack app's Slash Commands (README, Connecting Slack), or write "
    "the person's member id, like @U02LENAF01"
)
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^@?([UW][A-Z0-9]{2,})$")


def answer_oncall(runtime, user_id: str, words: list[str]) -> dict[str, Any]:
    rules = runtime.rules
    if rules.oncall is None:
        return build_list("On call", ["No rotation is configured (oncall in the rules)."], "")
    if words and words[0].lower() == "override":
        return add_override(runtime, user_id, words[1:])
    now = runtime.clock()
    with runtime.engine.connect() as connection:
        stored = list_overrides(connection, ending_after=now)
    rotation = build_rotation(rules, stored)
    names = {a.slack_id: a.name for a in rules.agents}
    lines = describe_schedule(rotation, now, 3, names)
    if stored:
        lines.append("Overrides made in Slack:")
        lines += [
            f"  {names.get(o.person, o.person)}: {format_local(o.starts, rotation.zone)} → "
            f"{format_local(o.ends, rotation.zone)} (by {names.get(o.by or '', o.by)})"
            for o in stored
        ]
    return build_list("On call", lines, "")


def _parse_time(text: str, zone) -> datetime | None:
    try:
        return localize(datetime.fromisoformat(text), zone)
    except ValueError:
        return None


def add_override(runtime, user_id: str, words: list[str]) -> dict[str, Any]:
    rules = runtime.rules
    agent = rules.agent_by_slack_id(user_id)
    if agent is None or agent.role != "lead":
        return build_list("On call", ["Only team leads can set an on-call override."], "")
    match = _MENTION.match(words[0]) if len(words) == 3 else None
    if match is None and len(words) == 3 and words[0].startswith("@"):
        # A mention comes as a name, not <@U…>, when the command is not set to escape them.
        return build_list("On call", [UNESCAPED_MENTION.format(name=escape(words[0]))], "")
    if match is None:
        return build_list("On call", [OVERRIDE_USAGE], "")
    person = match.group(1) or match.group(2)
    if rules.agent_by_slack_id(person) is None:
        return build_list("On call", [f"<@{person}> is not on deskbridge's roster."], "")
    rotation = build_rotation(rules)
    starts, ends = (_parse_time(w, rotation.zone) for w in words[1:])
    if starts is None or ends is None:
        return build_list("On call", [OVERRIDE_USAGE], "")
    if ends <= starts:
        return build_list("On call", ["The override must end after it starts."], "")
    now = runtime.clock()
    if ends <= now:
        return build_list("On call", ["That override would already be over."], "")
    override = Override(person, starts, ends, by=user_id)
    with runtime.engine.begin() as connection:
        insert_override(connection, override, now)
    name = rules.agent_by_slack_id(person).name
    return build_list(
        "On call",
        [
            f"Override saved: {name} is on call {format_local(starts, rotation.zone)} → "
            f"{format_local(ends, rotation.zone)}."
        ],
        "",
    )


def acknowledge_by_command(runtime, user_id: str, words: list[str], body: dict) -> dict[str, Any]:
    ticket = ask_ticket(words[0]) if len(words) == 1 else None
    if ticket is None:
        return build_list("Acknowledge", ["Usage: `/deskbridge ack <ticket id>`"], "")
    with runtime.engine.connect() as connection:
        state = find_ticket(connection, words[0])
    if state is None:
        return build_list(f"Ticket {ticket}", [], "deskbridge has no such ticket.")
    key = state.key
    allowed, agent = may_act(runtime, user_id, state)
    if not allowed:
        return build_list(
            "Acknowledge",
            ["Only the ticket's assignee, a team lead or the person paged can acknowledge it."],
            "",
        )
    title = name_for_title(state)
    chain = state.oncall
    if chain is not None and not chain.running:
        # Nothing left to stop: say so (and who stopped it), rather than "Acknowledged." as if
        # this had stopped it, and store nothing.
        return build_list(title, [describe_stopped_chain(runtime.rules, chain)], "")
    now = runtime.clock()
    event = build_slack_event(
        state,
        EventKind.acknowledged,
        user_id,
        f"slack:/deskbridge ack:{key}:{body.get('trigger_id', now.isoformat())}",
        "slack:/deskbridge ack",
        {"by": agent.name},
        now,
    )
    runtime.service.accept_event(event, json.dumps(body), now)
    if chain is None:
        message = "Acknowledged."
    elif chain.pending:
        message = "Acknowledged: the on-call chain is stopped, no more pages for it."
    else:  # running, every step paged: the pager is still told
        message = (
            "Acknowledged: every step of the on-call chain had already paged, so no more "
            "pages were due; the page is marked acknowledged."
        )
    return build_list(title, [message], "")
