"""The on-call shift hand-off, a scheduled job: at each hand-off a post in the on-call channel
names who is now on call and until when, who takes over from them then (overrides applied to
both), and what is still open from the last shift (tickets paged in it and not solved, with
their state)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from deskbridge.config.rules import RulesConfig
from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.model import TicketState
from deskbridge.workflows.rotation import Override, Rotation, build_rotation, format_local
from deskbridge.workflows.schedule import Job, build_job_action

JOB = "oncall_handoff"
RULE = "oncall"


class HandoffReader(Protocol):
    def list_oncall_overrides(self, ending_after: datetime) -> list[Override]: ...

    def list_paged_tickets(self, since: datetime, until: datetime) -> list[TicketState]:
        """Tickets paged in [since, until), as they are now."""
        ...


def list_handoffs(rules: RulesConfig, start: datetime, end: datetime) -> Iterable[datetime]:
    """The rotation's hand-off instants in (start, end]."""
    rotation = build_rotation(rules)
    if rotation is None:
        return []
    index = rotation.shift_index(start)
    index = 0 if index is None else index
    out = []
    while (at := rotation.handoff_at(index)) <= end:
        if at > start:
            out.append(at)
        index += 1
    return out


def describe_open(state: TicketState, rotation: Rotation) -> dict[str, Any]:
    chain = state.oncall
    return {
        "ticket": state.key,
        # A case by the number its agents know (CaseNumber), not its record id.
        "number": state.number or state.ticket_id,
        "subject": state.subject or "",
        "status": state.status.value,
        "priority": state.priority.value if state.priority else None,
        "paged_at": format_local(chain.started_at, rotation.zone) if chain else None,
        "acknowledged_by": chain.acknowledged_by if chain else None,
        "withdrawn": chain is not None and chain.withdrawn_at is not None,
    }


def build_handoff(at: datetime, rules: RulesConfig, reader: HandoffReader) -> list[Action]:
    rotation = build_rotation(rules, reader.list_oncall_overrides(at))
    index = rotation.shift_index(at)
    previous = rotation.handoff_at(index - 1) if index else at
    on_call = rotation.who_is_on_call(at)
    # Who really takes over from them, and when: an override may end their time before the
    # next hand-off (someone covers the first morning) or carry it past it (they cover for
    # the one whose week it would be), and the person at the next hand-off may be away.
    takeover = rotation.hands_over(at)
    if takeover is None:  # nobody else is ever on call
        until, following = rotation.handoff_at(index + 1), on_call
    else:
        until, following = takeover.starts, takeover.person
    still_open = [
        describe_open(state, rotation)
        for state in reader.list_paged_tickets(previous, at)
        if not state.status.is_done
    ]
    names = {a.slack_id: a.name for a in rules.agents}
    lines = [
        f"On-call hand-off, {format_local(at, rotation.zone)}",
        f"Now on call: {names.get(on_call, on_call)} until {format_local(until, rotation.zone)}; "
        f"next: {names.get(following, following)}",
    ]
    if still_open:
        lines.append(f"Still open from the last shift ({len(still_open)}):")
        for item in still_open:
            who = item["acknowledged_by"]
            if who:
                state_of_page = f"acknowledged by {who}"
            elif item["withdrawn"]:  # a false alarm: nothing for the new shift to pick up
                state_of_page = "page withdrawn, answered before it"
            else:
                state_of_page = "not acknowledged"
            lines.append(
                f"#{item['number']} {item['subject']}: {item['status']}, paged {item['paged_at']}, "
                + state_of_page
            )
    else:
        lines.append("Nothing paged in the last shift is still open.")
    return [
        build_job_action(
            JOB,
            at,
            RULE,
            ActionKind.notify,
            reason="on-call shift hand-off",
            channel=rules.oncall.channel,
            handoff=True,
            person=on_call,
            next=following,
            until=until.isoformat(),
            open=still_open,
            text="\n".join(lines),
        )
    ]


HANDOFF_JOB = Job(JOB, list_handoffs, build_handoff)
