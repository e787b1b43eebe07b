"""Zendesk payloads → TicketEvent (pure).

Two shapes arrive on the same endpoint (protocols.md §1.4, §1.5):
- event-subscription bodies (`"type": "zen:event-type:ticket.*"`): string ids, UPPERCASE enums,
  nanosecond timestamps, the ticket snapshot in `detail`;
- trigger/automation bodies: the team's own template, every value a string, display labels,
  space-separated tags, minute-precision timestamps. README lists the fields we read.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from deskbridge.config.logging import RepeatingLog, describe_text
from deskbridge.connectors.errors import PayloadError, UnsupportedEvent
from deskbridge.connectors.parsing import (
    MAX_ID,
    MAX_LABEL,
    MAX_SUBJECT,
    MAX_TEXT,
    NO_TIMEZONE,
    NOT_A_TIME,
    check_id,
    check_label,
    check_not_future,
    check_text,
    fit_text,
    is_clean_label,
    parse_json_object,
    parse_time,
    unfilled_template_field,
)
from deskbridge.workflows.model import (
    ZENDESK_ID,
    Comment,
    EventKind,
    Priority,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
    build_checked,
    evolve,
)

EVENT_PREFIX = "zen:event-type:ticket."

# Event-subscription type suffix → what happened. Types not listed are answered `ignored`.
EVENT_KINDS: dict[str, EventKind] = {
    "created": EventKind.created,
    "comment_added": EventKind.comment_added,
    "status_changed": EventKind.status_changed,
    "custom_status_changed": EventKind.status_changed,
    "priority_changed": EventKind.priority_changed,
    "tags_changed": EventKind.tags_changed,
    "group_assignment_changed": EventKind.group_changed,
    "agent_assignment_changed": EventKind.assignee_changed,
    "type_changed": EventKind.type_changed,
    "subject_changed": EventKind.subject_changed,
    "description_changed": EventKind.description_changed,
    "custom_field_changed": EventKind.custom_field_changed,
}

# Members named once: on 3.11 naming one on its class (`EventKind.created`) goes through
# EnumType.__getattr__'s slow path, and calling the class (`Priority("low")`) through
# EnumType.__call__; these are asked of every event.
_PRIORITIES = {member.value: member for member in Priority}
_ZENDESK = Source.zendesk
_PRIORITY_CHANGED = EventKind.priority_changed
_CUSTOM_FIELD_CHANGED = EventKind.custom_field_changed
_COMMENT_ADDED = EventKind.comment_added
_STATUS_CHANGED_TYPE = f"{EVENT_PREFIX}status_changed"

# Event statuses beyond the REST ones all mean the ticket is finished.
_STATUSES = {
    "new": Status.new,
    "open": Status.open,
    "pending": Status.pending,
    "hold": Status.hold,
    "on-hold": Status.hold,
    "on hold": Status.hold,
    "solved": Status.solved,
    "closed": Status.closed,
    "deleted": Status.closed,
    "archived": Status.closed,
    "scrubbed": Status.closed,
}

# Channels whose comments are phone calls (VoiceComment); a call satisfies the 3-response rule.
# A voicemail is not one: the customer called and nobody answered, so nobody has talked to
# them yet (Talk marks it `via.source.rel` "voicemail", {{ticket.via}} "Voicemail").
VOICE_CHANNELS = frozenset(
    {
        "voice",
        "phone_call_inbound",
        "phone_call_outbound",
        "phone call",
        "phone call (incoming)",
        "phone call (outgoing)",
        "talk",
    }
)

log = logging.getLogger("deskbridge.webhooks")
# A trigger template's mistakes, said once an hour per trigger, not on every delivery.
GROUP_NAME_IGNORED = RepeatingLog(log, "webhook.group_name_ignored")
UNFILLED_PLACEHOLDER = RepeatingLog(log, "webhook.unfilled_placeholder")

_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}


def parse_zendesk(raw: bytes, received_at: datetime) -> list[TicketEvent]:
    """Parse one webhook body. Raises PayloadError (400) or UnsupportedEvent (200 ignored)."""
    return parse_zendesk_object(parse_json_object(raw), lambda: raw, received_at)


def parse_zendesk_object(
    data: dict[str, Any], raw: Callable[[], bytes], received_at: datetime
) -> list[TicketEvent]:
    """`parse_zendesk` for a body already decoded to a JSON object (replay reads its JSON
    lines whole): the same events and the same errors, every value checked here as for a
    webhook. `raw` gives the body's bytes, asked for only by a trigger body without an
    event_id (its dedupe key is their hash)."""
    try:
        if "type" in data or "detail" in data:
            return [parse_event_subscription(data, received_at)]
        if "ticket_id" in data:
            try:
                return [parse_trigger_body(data, raw, received_at)]
            except PayloadError as error:
                raise _with_time_placeholder(error) from None
    except PayloadError as error:
        raise _unfilled_placeholder(error, data) from None
    raise PayloadError(
        "not a Zendesk ticket event: expected an event-subscription body (type, detail) "
        "or a trigger body with ticket_id",
        "type",
    )


# -- helpers -----------------------------------------------------------------------------

# A Liquid placeholder as a trigger's JSON body writes it. Zendesk fills each in when it sends
# the body; one still there was not (a name misspelt, in the wrong case, or a "Test webhook"
# sending the body as written), and is what made the value unreadable.
_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")  # no braces inside: linear on any text
# What to do about one, said in the 400 of a value it made unreadable and in the warning of
# a text field it took the place of (_log_unfilled_text).
_CHECK_PLACEHOLDER = (
    "check its name in the trigger's JSON body (placeholders are case-sensitive; README, "
    "Connecting Zendesk)"
)


# The placeholders that write a trigger body's times as ISO 8601 (to the minute, with the zone:
# 2026-12-05T21:57Z, protocols.md §1.5), named in the 400 of a time in another form.
_TIME_PLACEHOLDERS = {
    "created_at": "{{ticket.created_at_with_timestamp}}",
    "updated_at": "{{ticket.updated_at_with_timestamp}}",
}
_EVENT_TIME_HINT = (
    "an ISO 8601 time with its zone, such as 2026-12-05T21:57:00Z, or leave event_time out: "
    "updated_at ({{ticket.updated_at_with_timestamp}}) is then the event's time"
)


def _with_time_placeholder(error: PayloadError) -> PayloadError:
    """A trigger body's time that is not ISO 8601 (or names no zone), said with the placeholder
    that writes one: the admin who wrote the body fixes it there. Still not the value."""
    if error.message not in (NOT_A_TIME, NO_TIMEZONE):
        return error
    placeholder = _TIME_PLACEHOLDERS.get(error.field or "")
    if placeholder is not None:
        hint = (
            f'send "{placeholder}" there, which Zendesk fills with an ISO 8601 time such as '
            "2026-12-05T21:57Z (README, Connecting Zendesk)"
        )
    elif error.field == "event_time":
        hint = _EVENT_TIME_HINT
    else:
        return error
    return PayloadError(f"{error.message}: {hint}", error.field)


def _unfilled_placeholder(error: PayloadError, data: dict[str, Any]) -> PayloadError:
    """`error` said as an unfilled placeholder when its field holds one."""
    return unfilled_template_field(
        error,
        _value_at(data, error.field) if error.field else None,
        _PLACEHOLDER,
        "the placeholder {{{{{}}}}}",
        f'Zendesk: {_CHECK_PLACEHOLDER}; Zendesk\'s "Test webhook" sends the body with its '
        "placeholders as written",
    )


def _value_at(data: dict[str, Any], path: str) -> Any:
    """The value an error's field path (`ticket_id`, `fields.category`, `tags[2]`) names, or
    None where the path does not lead to one."""
    value: Any = data
    for part in path.split("."):
        name, _, index = part.partition("[")
        value = value.get(name) if isinstance(value, dict) else None
        if index and isinstance(value, str):
            value = value.split()  # tags sent as one space-separated string
        if index and isinstance(value, list) and index[:-1].isdigit():
            position = int(index[:-1])
            value = value[position] if position < len(value) else None
    return value


# Dotted paths split once (the same few dozen paths for every event).
_PATHS: dict[str, tuple[str, ...]] = {}


def _get(data: dict[str, Any], path: str, required: bool = True) -> Any:
    parts = _PATHS.get(path)
    if parts is None:
        parts = _PATHS[path] = tuple(path.split("."))
    value: Any = data
    try:
        for part in parts:
            value = value.get(part)
            if value is None:
                break
    except AttributeError:  # not an object on the way (JSON's other values have no .get)
        _raise_not_object(data, parts)
    if value is None and required:
        raise PayloadError("required field is missing", path)
    return value


def _raise_not_object(data: dict[str, Any], parts: tuple[str, ...]) -> None:
    value: Any = data
    for depth, part in enumerate(parts):
        if not isinstance(value, dict):
            raise PayloadError("expected an object", ".".join(parts[:depth]))
        value = value[part]


def _string(
    data: dict[str, Any], path: str, required: bool = False, limit: int = MAX_LABEL
) -> str | None:
    """A short value (status, type, channel, an id, an email): bounded and printable."""
    return _label_of(_get(data, path, required), path, required, limit)


def _text(data: dict[str, Any], path: str, required: bool = False, limit: int = MAX_TEXT):
    """Free text (subject, description, comment body): kept as written, cut when too long."""
    return _text_of(_get(data, path, required), path, required, limit)


def _id(data: dict[str, Any], path: str, required: bool = False) -> str | None:
    return _id_of(_get(data, path, required), path, required)


def _optional_time(data: dict[str, Any], path: str) -> datetime | None:
    return _time_of(_get(data, path, required=False), path)


# The same checks on a value already looked up (`path` names it in errors): the event
# subscription's `detail` fields are read from `detail` itself, not walked to from the top.


def _label_of(value: Any, path: str, required: bool = False, limit: int = MAX_LABEL) -> str | None:
    if value.__class__ is str:  # the usual case, checked without the layers below
        text = value.strip()
        if text and is_clean_label(text, limit):
            return text
    # Checked, never cut: an id or a status cut would be another one.
    text = _text_of(value, path, required, limit, fit=check_text)
    return check_label(text, limit, path) if text else text


def _text_of(
    value: Any,
    path: str,
    required: bool = False,
    limit: int = MAX_TEXT,
    fit: Callable[[str, int, str], str] = fit_text,
) -> str | None:
    if value.__class__ is str:  # the usual case: ASCII text is storable as it is
        text = value.strip()
        if text and len(text) <= limit and text.isascii():
            return text
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError("expected a string or a number", path)
    text = fit(str(value).strip(), limit, path)
    if not text and required:
        raise PayloadError("required field is empty", path)
    return text or None


def _id_of(value: Any, path: str, required: bool = False) -> str | None:
    # What ZENDESK_ID.fullmatch passes (1 to 20 ASCII digits: short, printable, nothing to
    # strip), told by str's own tests: the regex engine cost twice as much, seven ids an event.
    if value.__class__ is str and value.isascii() and len(value) <= 20 and value.isdigit():
        return value
    value = _label_of(value, path, required, MAX_ID)
    return check_id(value, ZENDESK_ID, "a Zendesk id (digits)", path)


# Zendesk names its own business rules (triggers, automations) as user -1 where a change has no
# person behind it (the audits' author_id of a trigger's change). Refusing it with a 400 would
# lose the event (Zendesk does not retry a 400); it is no person, so no actor.
_SYSTEM_USER = ("-1", -1)


def _actor_of(value: Any, path: str) -> str | None:
    """Who made the change: a Zendesk user id, or None for nobody named or Zendesk itself."""
    return None if value in _SYSTEM_USER else _id_of(value, path)


def _created_at(value: Any, path: str, received_at: datetime) -> datetime | None:
    """A ticket's creation time, refused as an event's time is when it is after the event
    arrived: its SLA clocks would start then, and it would be the later of two contacts."""
    at = _time_of(value, path)
    return None if at is None else check_not_future(at, received_at, path)


def _time_of(value: Any, path: str) -> datetime | None:
    return None if value in (None, "") else parse_time(value, path)


# What `_status(_label_of(v))`, `_priority(_label_of(v))` and the type's lowered label give
# for the values Zendesk sends as they are (UPPERCASE in events, lower case in triggers): one
# look-up of the raw value instead of two checks that strip and lower it (every event has
# the three). Keys are clean labels, so the checks would pass them as they are; any other
# value takes the checks.
_STATUS_OF = {
    spelled: status
    for text, status in _STATUSES.items()
    for spelled in (text, text.upper())
    if spelled.strip() == spelled and spelled
}
_PRIORITY_OF = {
    spelled: member for member in Priority for spelled in (member.value, member.value.upper())
}
_TYPE_OF = {
    spelled: text
    for text in ("problem", "incident", "question", "task")
    for spelled in (text, text.upper())
}


def _status_of(value: Any, path: str) -> Status | None:
    status = _STATUS_OF.get(value) if value.__class__ is str else None
    return status if status is not None else _status(_label_of(value, path), path)


def _priority_of(value: Any, path: str) -> Priority | None:
    priority = _PRIORITY_OF.get(value) if value.__class__ is str else None
    return priority if priority is not None else _priority(_label_of(value, path), path)


def _type_of(value: Any, path: str) -> str | None:
    text = _TYPE_OF.get(value) if value.__class__ is str else None
    return text if text is not None else ((_label_of(value, path) or "").lower() or None)


# The 400 says what is understood (the value itself is not repeated): an admin whose trigger
# sends other labels, such as another language's, learns what to send.
_UNKNOWN_STATUS = f"unknown ticket status: expected one of {', '.join(_STATUSES)} (any case)"
_UNKNOWN_PRIORITY = (
    "unknown priority: expected one of "
    f"{', '.join(member.value for member in Priority)} (any case), or - or nothing for none"
)


def _status(value: str | None, path: str) -> Status | None:
    if value is None:
        return None
    status = _STATUSES.get(value.strip().lower())
    if status is None:
        raise PayloadError(_UNKNOWN_STATUS, path)  # not repeated: see check_id
    return status


def _priority(value: str | None, path: str) -> Priority | None:
    if value is None or value.strip() in ("", "-"):
        return None
    priority = _PRIORITIES.get(value.strip().lower())
    if priority is None:
        raise PayloadError(_UNKNOWN_PRIORITY, path)  # not repeated: see check_id
    return priority


def _boolean(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise PayloadError("expected true or false", path)


MAX_TAGS = 500


def _tags(value: Any, path: str) -> tuple[str, ...]:
    if value.__class__ is list and len(value) <= MAX_TAGS:
        # The usual list: its tags joined are printable ASCII within one tag's limit, so each
        # tag is too (a value that is not a string cannot be joined).
        try:
            joined = "".join(value)
        except TypeError:
            joined = None
        if (
            joined is not None
            and len(joined) <= MAX_LABEL
            and joined.isascii()
            and joined.isprintable()
        ):
            return tuple(value)
    if isinstance(value, str):
        tags = tuple(value.split())
    elif isinstance(value, list) and all(isinstance(t, str) for t in value):
        tags = tuple(value)
    else:
        raise PayloadError("expected a list of tags or a space-separated string", path)
    if len(tags) > MAX_TAGS:
        raise PayloadError(f"more than {MAX_TAGS} tags", path)
    if all(is_clean_label(tag, MAX_LABEL) for tag in tags):  # the usual case, no path built
        return tags
    for index, tag in enumerate(tags):
        check_label(tag, MAX_LABEL, f"{path}[{index}]")
    return tags


# -- event subscriptions -------------------------------------------------------------------


def _is_voice_comment(data: dict[str, Any]) -> bool:
    """A call recorded on the ticket: `event.comment.type` VoiceComment, or a voice channel in
    `event.comment.via.channel`, when the payload carries them (protocols.md §1.7)."""
    comment = data.get("event", {}).get("comment", {})
    if not isinstance(comment, dict):
        return False
    return _is_voice(comment)


def _is_voice(comment: dict[str, Any]) -> bool:
    via = comment.get("via")
    if not isinstance(via, dict):
        via = {}
    source = via.get("source")
    if isinstance(source, dict) and str(source.get("rel", "")).lower() == "voicemail":
        return False  # a message left, not a call anyone took (VOICE_CHANNELS)
    if str(comment.get("type", "")).lower() == "voicecomment":
        return True
    return str(via.get("channel", "")).lower() in VOICE_CHANNELS


def _changed_field(data: dict[str, Any]) -> dict[str, str]:
    """ticket.custom_field_changed: `event.custom_field` {id, title, type} and `event.current`
    {value} (Zendesk's webhook event types; `detail` carries no field values). Keyed by the
    field's id, as routing.category_field_id names it; a cleared field reads "" (a dropdown's
    value is its tag, a multi-select's its tags joined by spaces)."""
    field_id = _string(data, "event.custom_field.id", required=True)
    current = _get(data, "event.current", required=False)
    path = "event.current"
    if isinstance(current, dict):
        current, path = current.get("value"), "event.current.value"
    if current is None:
        value = ""
    elif isinstance(current, bool):
        value = "true" if current else "false"
    elif isinstance(current, str | int | float):
        value = str(current).strip()
    elif isinstance(current, list) and all(isinstance(v, str) for v in current):
        value = " ".join(current)
    else:
        raise PayloadError("expected a field value (text, number, true/false or a list)", path)
    # Bounded and storable, as a trigger body's `fields` are (a lone surrogate was a 500).
    return {field_id: check_text(value, MAX_SUBJECT, path)}


def _required(value: Any, path: str) -> Any:
    if value is None:
        raise PayloadError("required field is missing", path)
    return value


def _comment_of(found: Any) -> Comment | None:
    """`event.comment` read from the comment object itself (every comment_added event has
    one, with an author object): the fields and checks, in the order, of the lookups from
    the top in parse_event_subscription. None when either object is not there as an object:
    those lookups then say which."""
    if found.__class__ is not dict:
        return None
    author = found.get("author")
    if author.__class__ is not dict:
        return None
    comment_id = _label_of(
        _required(found.get("id"), "event.comment.id"), "event.comment.id", True, MAX_ID
    )
    # JSON's true and false as they are (the usual case); anything else through the checks.
    public = found.get("is_public")
    if public.__class__ is not bool:
        public = _boolean(_required(public, "event.comment.is_public"), "event.comment.is_public")
    author_id = _id_of(author.get("id"), "event.comment.author.id")
    staff = author.get("is_staff")
    if staff.__class__ is not bool:
        staff = _boolean(
            _required(staff, "event.comment.author.is_staff"), "event.comment.author.is_staff"
        )
    return build_checked(
        Comment,
        {
            "id": comment_id,
            "public": public,
            "author_id": author_id,
            "author_is_agent": staff,
            "is_voice": _is_voice(found),
            "body": _text_of(found.get("body"), "event.comment.body") or "",
        },
    )


def parse_event_subscription(data: dict[str, Any], received_at: datetime) -> TicketEvent:
    # Top-level fields and those of `detail` read from their objects, not by path (`_get`):
    # the same values and errors, a walk fewer each.
    event_type = _label_of(_required(data.get("type"), "type"), "type", True)
    if not event_type.startswith(EVENT_PREFIX):
        raise UnsupportedEvent(event_type)
    kind = EVENT_KINDS.get(event_type.removeprefix(EVENT_PREFIX))
    if kind is None:
        raise UnsupportedEvent(event_type)
    event_id = _label_of(_required(data.get("id"), "id"), "id", True, 200)
    occurred_at = check_not_future(
        parse_time(_required(data.get("time"), "time"), "time"), received_at, "time"
    )
    detail = _required(data.get("detail"), "detail")
    if not isinstance(detail, dict):
        raise PayloadError("expected an object", "detail")
    ticket_id = _id_of(_required(detail.get("id"), "detail.id"), "detail.id", True)
    body = data.get("event") or {}
    if not isinstance(body, dict):
        raise PayloadError("expected an object", "event")

    via = detail.get("via")
    if via.__class__ is dict:
        channel = _label_of(via.get("channel"), "detail.via.channel")
    else:  # none, or not an object (the lookup by path says so)
        channel = _string(data, "detail.via.channel")
    field = detail.get
    # Every value below is checked here to be what the models' validation gives back, so
    # the models are made without validating again (build_checked): 37,000 events and their
    # snapshots on a replayed week.
    snapshot = build_checked(
        TicketSnapshot,
        {
            "subject": _text_of(field("subject"), "detail.subject", limit=MAX_SUBJECT),
            "description": _text_of(field("description"), "detail.description"),
            "status": _status_of(field("status"), "detail.status"),
            "priority": _priority_of(field("priority"), "detail.priority"),
            "type": _type_of(field("type"), "detail.type"),
            "tags": _tags(detail["tags"], "detail.tags") if field("tags") is not None else None,
            "group": _id_of(field("group_id"), "detail.group_id"),
            "assignee": _id_of(field("assignee_id"), "detail.assignee_id"),
            "requester": _id_of(field("requester_id"), "detail.requester_id"),
            "organization": _id_of(field("organization_id"), "detail.organization_id"),
            "channel": channel,
            "created_at": _created_at(field("created_at"), "detail.created_at", received_at),
            "updated_at": _time_of(field("updated_at"), "detail.updated_at"),
        },
    )
    # ticket.custom_status_changed carries custom status *ids* in event.current; its status
    # category is already in detail.status.
    if event_type == _STATUS_CHANGED_TYPE and body.get("current"):
        current = _status(_string(data, "event.current"), "event.current")
        snapshot = evolve(snapshot, {"status": current})
    if kind is _PRIORITY_CHANGED and "current" in body:
        current_priority = _priority(_string(data, "event.current"), "event.current")
        snapshot = evolve(snapshot, {"priority": current_priority})
    if kind is _CUSTOM_FIELD_CHANGED:
        snapshot = evolve(snapshot, {"custom_fields": _changed_field(data)})

    comment = None
    if kind is _COMMENT_ADDED:
        comment = _comment_of(body.get("comment"))
    if kind is _COMMENT_ADDED and comment is None:
        # Not the usual shape (no comment object, or no author object): each field looked
        # up from the top, so an error names the first step that is not what it should be.
        comment = build_checked(
            Comment,
            {
                "id": _string(data, "event.comment.id", required=True, limit=MAX_ID),
                "public": _boolean(
                    _get(data, "event.comment.is_public"), "event.comment.is_public"
                ),
                "author_id": _id(data, "event.comment.author.id"),
                "author_is_agent": _boolean(
                    _get(data, "event.comment.author.is_staff"), "event.comment.author.is_staff"
                ),
                # detail.via.channel is how the *ticket* arrived, not this comment: a
                # phone-born ticket's written replies are not calls. Only a comment-level
                # marker counts.
                "is_voice": _is_voice_comment(data),
                "body": _text(data, "event.comment.body") or "",
            },
        )
    return build_checked(
        TicketEvent,
        {
            "source": _ZENDESK,
            "ticket_id": ticket_id,
            "dedupe_key": f"zendesk:event:{event_id}",
            "kind": kind,
            "occurred_at": occurred_at,  # aware: parse_time gives UTC
            "ticket": snapshot,
            "comment": comment,
            "actor_id": _actor_of(detail.get("actor_id"), "detail.actor_id"),
            "vendor_type": event_type,
        },
    )


# -- trigger / automation bodies -------------------------------------------------------------

# deskbridge's own kinds (clicks in Slack) cannot be claimed by a helpdesk body.
_OWN_KINDS = {
    EventKind.acknowledged,
    EventKind.snoozed,
    EventKind.call_logged,
    EventKind.department_picked,
    EventKind.escalation_requested,
}
# A trigger's `event` names what happened as deskbridge does (`group_changed`) or as the
# event subscriptions' types do (`group_assignment_changed`), which the README lists first.
_TRIGGER_KINDS = {kind.value: kind for kind in EventKind if kind not in _OWN_KINDS} | EVENT_KINDS
_TRIGGER_KIND_NAMES = ", ".join(sorted(_TRIGGER_KINDS))


def _fields(data: dict[str, Any]) -> dict[str, str]:
    """The template's `fields` object: custom field values by name, e.g.
    `"fields": {"problem_category": "{{ticket.ticket_field_360012345678}}"}`."""
    fields = data.get("fields")
    if fields is None:
        return {}
    if not isinstance(fields, dict):
        raise PayloadError("expected an object of field values", "fields")
    out = {}
    for name, value in fields.items():
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise PayloadError("expected a string or a number", f"fields.{name}")
        check_label(str(name), MAX_LABEL, "fields")
        out[str(name)] = check_text(str(value), MAX_SUBJECT, f"fields.{name}")
    return out


def _describe_trigger(trigger: str | None) -> dict[str, Any]:
    """A trigger body's `trigger` (the trigger's name) as its warnings log it: by length and
    hash (`trigger_length`, `trigger_sha256`), as an unlisted Salesforce Status is. An admin
    names a trigger as they like ("Escalate Dana Whitfield <dana@…>"), so the name is not
    logged; `trigger=unnamed` when the body has none."""
    return describe_text(trigger, "trigger") if trigger else {"trigger": "unnamed"}


def _group_id_or_none(group: str | None, ticket_id: str, trigger: str | None) -> str | None:
    """A trigger's `group` if it is a group id. A name ({{ticket.group.name}}) cannot be told
    apart from the ids deskbridge writes back (the rules file's groups): read as a group, its
    own move to a department's group came back as another group, a person's move, and the
    hand-off check and re-routing stopped. Not known, it changes nothing, and a person's move
    goes unseen: logged, so a team on the README's earlier template learns to send group_id."""
    if group is None or ZENDESK_ID.fullmatch(group):
        return group
    GROUP_NAME_IGNORED.warn(
        trigger,
        ticket=f"zendesk:{ticket_id}",
        **_describe_trigger(trigger),
        hint='send "group_id": "{{ticket.group.id}}" (README, Connecting Zendesk)',
    )
    return None


# A trigger body's text fields that are taken as they come: a placeholder left unfilled in
# one (a misspelt name) is read as the ticket's text, a type or an organization, and nothing is
# refused, so every ticket of that trigger is quietly read wrong (asked to pick a department,
# matched by no SLA policy for its organization). Ids, times and the role are refused instead.
_FREE_TEXT = (
    "subject",
    "description",
    "comment_body",
    "ticket_type",
    "organization",
    "assignee_email",
    "via",
    "comment_via",
)


def _log_unfilled_text(data: dict[str, Any], ticket_id: str) -> None:
    """Log the free-text fields that hold one whole unfilled placeholder, by name only (what
    they hold is not logged: a field's text is the customer's)."""
    unfilled = [
        name
        for name in _FREE_TEXT
        if (value := data.get(name)).__class__ is str
        and "{{" in value
        and _PLACEHOLDER.fullmatch(value.strip())
    ]
    if unfilled:
        trigger = _string(data, "trigger")
        UNFILLED_PLACEHOLDER.warn(
            (trigger, *unfilled),
            ticket=f"zendesk:{ticket_id}",
            **_describe_trigger(trigger),
            fields=",".join(unfilled),
            hint=f"a placeholder there was not filled in: {_CHECK_PLACEHOLDER}",
        )


def parse_trigger_body(
    data: dict[str, Any], raw: Callable[[], bytes], received_at: datetime
) -> TicketEvent:
    """A trigger body carries a snapshot and, optionally, the latest comment.

    Its dedupe key is the template's `event_id` if it has one, else a hash of the exact body
    (`raw` gives it): a redelivery repeats the bytes, a new ticket update changes `updated_at`
    or the comment.
    """
    ticket_id = _id(data, "ticket_id", required=True)
    updated_at = _optional_time(data, "updated_at")
    event_time = _optional_time(data, "event_time")
    if event_time is not None:
        occurred_at = check_not_future(event_time, received_at, "event_time")
    elif updated_at is not None:
        occurred_at = check_not_future(updated_at, received_at, "updated_at")
    else:
        occurred_at = received_at

    via = _string(data, "via")
    comment = None
    comment_id = _string(data, "comment_id", limit=MAX_ID)
    if comment_id:
        role = (_string(data, "comment_author_role") or "").lower()
        if "{{" in role:
            # Unfilled, every reply would count as the customer's (the 3-response rule and the
            # reply targets silently wrong): refused, so the trigger is mended (named as such
            # by parse_zendesk_object).
            raise PayloadError("expected the comment author's role", "comment_author_role")
        # `via` ({{ticket.via}}) is how the *ticket* arrived, as detail.via.channel is for
        # event subscriptions: a phone-born ticket's written replies are not calls.
        comment_via = (_string(data, "comment_via") or "").lower()
        comment = Comment(
            id=comment_id,
            public=_boolean(_get(data, "comment_public"), "comment_public"),
            author_id=_id(data, "comment_author_id"),
            author_is_agent=role in ("agent", "admin", "staff"),
            is_voice=comment_via in VOICE_CHANNELS,
            body=_text(data, "comment_body") or "",
        )
    declared = (_string(data, "event") or "").lower()
    if declared and declared not in _TRIGGER_KINDS:
        # Not repeated, as no refused value is (see check_id): a template may put a
        # placeholder here that renders the ticket's text.
        raise PayloadError(f"unknown event: expected one of {_TRIGGER_KIND_NAMES}", "event")
    kind = _TRIGGER_KINDS.get(declared) or (
        EventKind.comment_added if comment else EventKind.updated
    )

    tags = _get(data, "tags", required=False)
    snapshot = TicketSnapshot(
        subject=_text(data, "subject", limit=MAX_SUBJECT),
        description=_text(data, "description"),
        status=_status(_string(data, "status"), "status"),
        priority=_priority(_string(data, "priority"), "priority"),
        type=(_string(data, "ticket_type") or "").lower() or None,
        tags=_tags(tags, "tags") if tags is not None else None,
        group=_id(data, "group_id")
        or _group_id_or_none(_string(data, "group"), ticket_id, _string(data, "trigger")),
        assignee=_id(data, "assignee_id") or _string(data, "assignee_email"),
        requester=_id(data, "requester_id"),
        organization=_id(data, "organization_id") or _string(data, "organization"),
        channel=via,
        created_at=_created_at(_get(data, "created_at", required=False), "created_at", received_at),
        updated_at=updated_at,
        custom_fields=_fields(data),
    )
    _log_unfilled_text(data, ticket_id)
    event_id = _string(data, "event_id", limit=200) or hashlib.sha256(raw()).hexdigest()
    return TicketEvent(
        source=Source.zendesk,
        ticket_id=ticket_id,
        dedupe_key=f"zendesk:trigger:{event_id}",
        kind=kind,
        occurred_at=occurred_at,
        ticket=snapshot,
        comment=comment,
        actor_id=_actor_of(_get(data, "updated_by_id", False), "updated_by_id"),
        vendor_type=f"trigger:{_string(data, 'trigger') or 'unnamed'}",
    )
