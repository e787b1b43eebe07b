"""Actions: what the workflows decide, performed later by the one executor (the dispatcher)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, Field, TypeAdapter

from deskbridge.workflows.model import Source, frozen_model, new_dict


class ActionKind(StrEnum):
    """The public action vocabulary (DESIGN §4)."""

    call_customer = "call_customer"
    route = "route"
    escalate = "escalate"
    sla_warning = "sla_warning"
    sla_breach = "sla_breach"
    page_oncall = "page_oncall"
    # An Events API v2 event for the optional pager (PagerDuty): `event_action` trigger,
    # acknowledge or resolve.
    pager = "pager"
    notify = "notify"
    tag = "tag"
    note = "note"
    assign = "assign"
    set_priority = "set_priority"
    coach = "coach"


# Actions that change the ticket in its helpdesk; the rest are messages to people (Slack).
HELPDESK_ACTIONS = frozenset(
    {ActionKind.tag, ActionKind.note, ActionKind.assign, ActionKind.set_priority}
)

# The lanes (outbox ordering keys) of a ticket's on-call pages and of its other messages to
# people, each followed by the ticket's key.
PAGE_LANE = "page:"
PEOPLE_LANE = "people:"

# What a helpdesk's tickets cannot carry, and why: such an action is never decided for them
# (the rules' decisions leave it out, workflows/rules/combine.py), so none is stored, logged or
# listed as a decision; the helpdesk's writer skips any queued before (connectors/). A case
# has an owner, a priority, the escalated flag and comments, no tags.
UNCARRIED: dict[Source, dict[ActionKind, str]] = {
    Source.salesforce: {ActionKind.tag: "salesforce cases have no tags"},
}


def _default_factory(factory: Any) -> Any:
    """`Field(default_factory=factory)` as a value of no particular type. mypy types the
    Field as what its factory makes (a dict), and this module compiled by mypyc checked the
    FieldInfo it got against that at import and refused it; a field's default given as this
    call's value is not checked."""
    return Field(default_factory=factory)


@frozen_model
class Action:
    """One side effect to perform, exactly once, identified by `key`.

    `params` holds the action's fields: `tags`, `body`, `department`, `target`, `group`,
    `priority`, `metric`, `text` … depending on the kind.
    """

    # Rows queued before the field was renamed carry it as "action".
    kind: ActionKind = Field(validation_alias=AliasChoices("kind", "action"))
    ticket: str
    rule: str
    reason: str
    key: str
    params: dict[str, Any] = _default_factory(new_dict)

    @property
    def is_helpdesk(self) -> bool:
        return self.kind in HELPDESK_ACTIONS

    @property
    def lane(self) -> str | None:
        """Messages to people about one ticket are sent in the order decided (their Slack
        thread reads in order); helpdesk writes need no order. Coaching DMs are ordered per
        person: a pace check's nudges to 200 agents do not queue behind each other. A ticket's
        on-call pages are ordered among themselves (first page, then each later step) but not
        behind its other messages: a page must not wait out a failing channel post's retries
        (8 attempts, about 5 minutes) to wake someone. The claim still never performs a page
        together with a due message of its ticket (they may open the same channel's thread:
        `claim_due_actions`)."""
        if self.kind is ActionKind.pager:  # trigger → acknowledge → resolve, in order
            return f"pager:{self.ticket}"
        if self.kind is ActionKind.page_oncall:
            return f"{PAGE_LANE}{self.ticket}"
        if self.is_helpdesk:
            return None
        if self.kind is ActionKind.coach:
            return f"coach:{self.params.get('person')}"
        return f"{PEOPLE_LANE}{self.ticket}"

    def to_record(self, at: str | None = None) -> dict[str, Any]:
        """The flat JSON shape used by `replay` output and the audit trail; `at` first when
        given (replay's lines: one dict made per line, not two)."""
        record: dict[str, Any] = {} if at is None else {"at": at}
        record["ticket"] = self.ticket
        record["action"] = self.kind._value_  # `.value` is a Python-level property call on 3.11
        record["rule"] = self.rule
        record["reason"] = self.reason
        record.update(self.params)
        record["key"] = self.key
        return record


def build_key(ticket: str, rule: str, *discriminator: str) -> str:
    """An action's idempotency key (DESIGN rule 6): `{ticket}:{rule}:{discriminator…}`.

    The discriminator names what makes this action once-only within its rule: a stage
    (`call_required:tag`), a clock instance and stage, a department, a date."""
    return ":".join((ticket, rule, *discriminator))


def build_action(
    for_ticket: str,
    by_rule: str,
    of_kind: ActionKind | str,
    /,
    *discriminator: str,
    reason: str | None,
    **params: Any,
) -> Action:
    """The one way to make an action: its key comes from (ticket, rule, discriminator).
    The first three are positional-only, so an action field may be called `kind` too (the
    `coach` action's kind of nudge). Their names are none a field takes: compiled by mypyc,
    a keyword of the same name as a positional-only parameter is refused as given twice.
    A kind given by its value, or a reason that is not a string, goes to the model's
    validation (a member, or refused): compiled code checks each argument against its
    type before the body runs, so the types let those through."""
    ticket, rule, kind = for_ticket, by_rule, of_kind
    key = build_key(ticket, rule, *discriminator)
    values: dict[str, Any] = {"kind": kind, "ticket": ticket, "rule": rule, "reason": reason}
    values["key"] = key
    values["params"] = params
    if kind.__class__ is not ActionKind or not (
        ticket.__class__ is rule.__class__ is reason.__class__ is str
    ):  # anything unusual is validated (and refused) as the model does
        return Action(**values)
    # The values are what validation would give back (`params` is this call's own dict), so
    # the model is made without validating them again: the rules make 58,000 actions on a
    # replayed week, and validating was two thirds of making one.
    action = _new_object(Action)
    _set_attribute(action, "__dict__", values)
    return action


_new_object = object.__new__
_set_attribute = object.__setattr__
_ACTION_ADAPTER = TypeAdapter(Action)


def load_action(data: Any) -> Action:
    """An action from its stored JSON value (the outbox's payload), validated."""
    return _ACTION_ADAPTER.validate_python(data)


def dump_action(action: Action) -> dict[str, Any]:
    """An action as a JSON value to store."""
    return _ACTION_ADAPTER.dump_python(action, mode="json")
