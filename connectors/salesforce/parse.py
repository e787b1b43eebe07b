"""Salesforce payloads → TicketEvent (pure): SOAP Outbound Messages (protocols.md §2.1) and the
JSON bodies of Flow HTTP callouts (README).

Objects: `Case` (the ticket), `CaseComment` (IsPublished) and `EmailMessage` (Incoming, ParentId),
so replies count for the 3-response rule and reply SLAs. XML is parsed with defusedxml: no DTD,
no entities, no external references; the body size is capped before parsing (Flask).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from deskbridge.config.logging import RepeatingLog, describe_unlisted
from deskbridge.config.rules import SalesforceConfig
from deskbridge.connectors.errors import PartlyMalformed, PayloadError, UnsupportedEvent
from deskbridge.connectors.parsing import (
    MAX_LABEL,
    MAX_SUBJECT,
    MAX_TEXT,
    NO_TIMEZONE,
    NOT_A_TIME,
    check_id,
    check_label,
    check_not_empty,
    check_not_future,
    fit_text,
    parse_json_object,
    parse_time,
    unfilled_template_field,
)
from deskbridge.workflows.model import (
    SALESFORCE_ID,
    Comment,
    EventKind,
    Source,
    Status,
    TicketEvent,
    TicketSnapshot,
    salesforce_id_18,
    salesforce_id_key,
)
from deskbridge.workflows.wording import describe_not_utf8

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
DEFAULT_MAPPING = SalesforceConfig()

USER_PREFIX, QUEUE_PREFIX = "005", "00G"

# A Priority value the rules file's salesforce.priorities does not list is read as no priority:
# said once an hour per value, not on every notification, so the team adds it there. Neither
# this nor an unlisted Status is logged as written: a Flow or a custom picklist may fill it
# with free text (describe_unlisted: its length, a short hash, a listed value it resembles).
UNMAPPED_PRIORITY = RepeatingLog(
    logging.getLogger("deskbridge.webhooks"), "webhook.unmapped_priority"
)
# A Status value the rules file's salesforce section does not list is read as open (solved when
# the case's IsClosed is true): said once an hour per value, naming where to list it, so an org
# whose "Gelöst" is not listed hears why its cases never solve.
UNMAPPED_STATUS = RepeatingLog(logging.getLogger("deskbridge.webhooks"), "webhook.unmapped_status")
UNMAPPED_STATUS_HINT = (
    "not in the rules file's salesforce.new_statuses, open_statuses, pending_statuses, "
    "hold_statuses, solved_statuses or closed_statuses: {reading} until it is added to the "
    "one it means"
)
# EmailMessage.Status picklist values: 0 New, 1 Read, 2 Replied, 3 Sent, 4 Forwarded, 5 Draft.
EMAIL_DRAFT = "5"


@dataclass(frozen=True)
class Notification:
    id: str
    sobject: str
    fields: dict[str, str]


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    notifications: list[Notification]
    # Which wire format it came in: a 400 names the field as the sender wrote it.
    paths: NotificationPaths


@dataclass(frozen=True)
class NotificationPaths:
    """Where a notification's parts sit in the body, as templates over its index."""

    item: str
    id: str
    type: str
    fields: str

    def at(self, index: int) -> tuple[str, str, str, str]:
        item = self.item.format(index=index)
        return item, item + self.id, item + self.type, item + self.fields


SOAP_PATHS = NotificationPaths(
    "notifications.Notification[{index}]", ".Id", ".sObject.type", ".sObject"
)
FLOW_PATHS = NotificationPaths("notifications[{index}]", ".id", ".type", ".fields")


def is_json_callout(raw: bytes) -> bool:
    """The one place the wire format is decided, from the body itself: a Flow callout is JSON,
    anything else is read as an Outbound Message (SOAP). Verifying, parsing and answering all
    follow this decision, so a request cannot be checked as one format and read as the other."""
    return raw.lstrip()[:1] in (b"{", b"[")


def same_org(a: str, b: str) -> bool:
    """Org ids compare on their 15-character form (the 18-character one adds a checksum)."""
    forms = (15, 18)
    return len(a) in forms and len(b) in forms and salesforce_id_key(a) == salesforce_id_key(b)


# -- reading the wire formats ----------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_outbound_message(raw: bytes) -> OutboundMessage:
    try:
        # Salesforce sends UTF-8, and the body is stored as UTF-8 text: an XML declaration of
        # another encoding (ISO-8859-1, UTF-16) parsed, then failed to store (a 500).
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(describe_not_utf8(exc), "body") from None
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise PayloadError(
            f"refused XML: {type(exc).__name__} (DTDs and entities are not accepted)", "body"
        ) from None
    except ParseError as exc:
        raise PayloadError(f"invalid XML: {exc}", "body") from None
    except (ValueError, RecursionError):
        raise PayloadError("invalid XML", "body") from None
    body = root.find(f"{{{SOAP}}}Body")
    notifications = body.find(f"{{{OUTBOUND}}}notifications") if body is not None else None
    if notifications is None:
        raise PayloadError(
            "not an outbound message: no soapenv:Body/notifications", "Envelope.Body.notifications"
        )
    org = (notifications.findtext(f"{{{OUTBOUND}}}OrganizationId") or "").strip()
    _check_org(org, "notifications.OrganizationId")
    items = notifications.findall(f"{{{OUTBOUND}}}Notification")
    if not items:
        raise PayloadError("no Notification in the message", "notifications.Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise PayloadError(
            f"more than {MAX_NOTIFICATIONS} notifications", "notifications.Notification"
        )
    notes = [_notification(item, i) for i, item in enumerate(items)]
    return OutboundMessage(org, notes, SOAP_PATHS)


def _notification(item: Element, index: int) -> Notification:
    path = f"notifications.Notification[{index}]"
    notification_id = (item.findtext(f"{{{OUTBOUND}}}Id") or "").strip()
    if not notification_id:
        raise PayloadError("required field is missing", f"{path}.Id")
    sobject = item.find(f"{{{OUTBOUND}}}sObject")
    if sobject is None:
        raise PayloadError("required field is missing", f"{path}.sObject")
    declared = sobject.get(f"{{{XSI}}}type", "")
    fields = {
        _local(child.tag): (child.text or "").strip()
        for child in sobject
        if child.get(f"{{{XSI}}}nil") != "true"
    }
    return Notification(notification_id, declared.split(":")[-1], fields)


def read_json_callout(raw: bytes) -> OutboundMessage:
    """`{"organizationId": "00D…", "notifications": [{"id": "…", "type": "Case",
    "fields": {"Id": "500…", …}}]}` from a Flow HTTP callout."""
    data = parse_json_object(raw)
    org = data.get("organizationId")
    try:
        _check_org(org, "organizationId")
    except PayloadError as exc:
        raise _unfilled_merge_field(exc, org) from None
    items = data.get("notifications")
    if not isinstance(items, list) or not items:
        raise PayloadError("expected a non-empty list", "notifications")
    if len(items) > MAX_NOTIFICATIONS:
        raise PayloadError(f"more than {MAX_NOTIFICATIONS} notifications", "notifications")
    out = []
    for i, item in enumerate(items):
        path = f"notifications[{i}]"
        if not isinstance(item, dict):
            raise PayloadError("expected an object", path)
        fields = item.get("fields")
        _check_string(item.get("id"), f"{path}.id")
        _check_string(item.get("type"), f"{path}.type")
        if not isinstance(fields, dict):
            raise PayloadError("expected an object", f"{path}.fields")
        clean = {
            str(k): _text(v, f"{path}.fields.{k}"[:200]) for k, v in fields.items() if v is not None
        }
        out.append(Notification(item["id"], item["type"], clean))
    return OutboundMessage(org, out, FLOW_PATHS)


def _text(value: Any, path: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise PayloadError("expected a text, number or boolean value", path)
    return str(value)


def _check_string(value: Any, path: str) -> None:
    """A callout's id, type or org id: missing, or there as another JSON type (a number, a
    Flow's unquoted merge field), which was told 'required field is missing' too."""
    if value is None or value == "":
        raise PayloadError("required field is missing", path)
    if not isinstance(value, str):
        raise PayloadError(f"expected a string, got {_json_type(value)}", path)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "an array" if isinstance(value, list) else "an object"


def _check_org(org: Any, path: str) -> None:
    """An org id as Salesforce makes them: compared on its first 15 characters, so anything
    after them (a NUL, 100,000 characters) must not ride along."""
    _check_string(org, path)
    check_id(org, SALESFORCE_ID, "a 15- or 18-character Salesforce id", path)


# -- into TicketEvents -----------------------------------------------------------------------


def _required(fields: dict[str, str], name: str, path: str) -> str:
    value = fields.get(name)
    if not value:
        raise PayloadError("required field is missing", f"{path}.{name}")
    return value


# A Date/Time a Flow formula turns into text (TEXT(), a text formula resource) reads
# "2026-12-05 21:57:00Z", in GMT: the ISO 8601 time with a space for the T, read as it.
_TEXT_OF_DATETIME = re.compile(r"\d{4}-\d\d-\d\d \d")
# A Date/Time as a user's locale shows it (a merge field in a text template, "12/5/2026
# 9:57 PM", "05.12.2026 21:57"): the user's time zone, which it does not name.
_LOCALE_DATE = re.compile(r"\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b")
EXPECTED_TIME = (
    "expected a time as 2026-12-05T21:57:00Z (ISO 8601, as Outbound Messages send it) or "
    "2026-12-05 21:57:00Z (as TEXT() writes a Date/Time in a Flow formula)"
)


def _time(fields: dict[str, str], name: str, path: str) -> datetime | None:
    value = fields.get(name)
    if not value:
        return None
    if _TEXT_OF_DATETIME.match(value):
        value = value[:10] + "T" + value[11:]
    try:
        return parse_time(value, f"{path}.{name}")
    except PayloadError as exc:
        # Said with the format expected: a Flow's author cannot see which they sent wrong.
        # A Flow callout's is also said with the formula that writes it: the author fixes
        # the body there (an Outbound Message's times are Salesforce's own).
        formula = _flow_formula(name) if path.endswith(FLOW_PATHS.fields) else ""
        if exc.message == NOT_A_TIME and _LOCALE_DATE.match(value.strip()):
            raise PayloadError(
                EXPECTED_TIME + ", not as a user's locale shows it (12/5/2026 9:57 PM), "
                "which names no time zone" + formula,
                exc.field,
            ) from None
        if exc.message == NOT_A_TIME:
            raise PayloadError(EXPECTED_TIME + formula, exc.field) from None
        if exc.message == NO_TIMEZONE:
            raise PayloadError(f"{NO_TIMEZONE}: {EXPECTED_TIME}{formula}", exc.field) from None
        raise


def _flow_formula(name: str) -> str:
    """How a Flow writes the record's Date/Time `name` as this takes it: a Text formula
    resource (README, Connecting Salesforce Service Cloud); a merge field in a text template
    writes it as the running user's locale shows it."""
    return f"; in the Flow, set it to a formula resource of type Text, TEXT({{!$Record.{name}}})"


def _bool(fields: dict[str, str], name: str, path: str) -> bool | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise PayloadError("expected true or false", f"{path}.{name}")


def _status(
    fields: dict[str, str], mapping: SalesforceConfig, path: str, case: str
) -> Status | None:
    value = fields.get("Status")
    # Read first: a malformed IsClosed is refused whatever the Status says.
    closed = _bool(fields, "IsClosed", path)
    status = mapping.read_status(value) if value is not None else None
    if status is not None:
        return status
    if value:
        # Open is the safe reading of a value not listed (its clocks and rules keep running;
        # a case wrongly read as solved would go silent), but it may mean solved or waiting.
        reading = (
            "read as solved, as the case's IsClosed is true,"
            if closed
            else "read as open (its clocks and rules run; it never solves unless IsClosed is "
            "sent true)"
        )
        UNMAPPED_STATUS.warn(
            (value, bool(closed)),
            ticket=f"salesforce:{case}",
            field="Status",
            **describe_unlisted(value, mapping.listed_statuses()),
            hint=UNMAPPED_STATUS_HINT.format(reading=reading),
        )
    if closed:
        return Status.solved
    return Status.open if value else None


def _case_event(n: Notification, mapping: SalesforceConfig, path: str) -> TicketEvent:
    fields = n.fields
    # Keyed by the 18-character form the API sends: a Flow may send the 15 ({!$Record.Id}
    # through a text formula), and the same case must be one ticket either way.
    case_id = salesforce_id_18(_required(fields, "Id", path))
    modified = _time(fields, "SystemModstamp", path) or _time(fields, "LastModifiedDate", path)
    if modified is None:
        raise PayloadError("required field is missing", f"{path}.LastModifiedDate")
    created = _time(fields, "CreatedDate", path)
    # The 18-character form, as the queue deskbridge assigns is (owner_for): a Flow may send
    # the 15 through a text formula.
    owner = salesforce_id_18(fields["OwnerId"]) if fields.get("OwnerId") else None
    priority = fields.get("Priority")
    level = mapping.priorities.get(priority) if priority else None
    if priority and level is None:
        UNMAPPED_PRIORITY.warn(
            priority,
            ticket=f"salesforce:{case_id}",
            field="Priority",
            **describe_unlisted(priority, mapping.priorities),
            hint="not in the rules file's salesforce.priorities: read as no priority (SLA "
            "policies and on-call pages by priority miss the case) until it is added there",
        )
    origin = fields.get("Origin")
    custom = {k: fields[k] for k in ("CaseNumber", "Type", "Reason") if fields.get(k)}
    snapshot = TicketSnapshot(
        subject=fields.get("Subject"),
        description=fields.get("Description"),
        status=_status(fields, mapping, path, case_id),
        priority=level,
        type=(fields.get("Type") or "").lower() or None,
        group=owner if owner and owner.startswith(QUEUE_PREFIX) else None,
        assignee=owner if owner and owner.startswith(USER_PREFIX) else None,
        requester=fields.get("ContactId"),
        organization=fields.get("AccountId"),
        channel=mapping.origins.get(origin, origin.lower()) if origin else None,
        created_at=created,
        updated_at=modified,
        custom_fields=custom,
        number=fields.get("CaseNumber") or None,
    )
    kind = EventKind.created if created is not None and created == modified else EventKind.updated
    return TicketEvent(
        source=Source.salesforce,
        ticket_id=case_id,
        dedupe_key=f"salesforce:notification:{n.id}",
        kind=kind,
        occurred_at=modified,
        ticket=snapshot,
        vendor_type="Case",
    )


def _reply_event(n: Notification, path: str) -> TicketEvent:
    fields = n.fields
    parent = salesforce_id_18(_required(fields, "ParentId", path))
    record_id = _required(fields, "Id", path)
    at = (
        _time(fields, "MessageDate", path)
        or _time(fields, "CreatedDate", path)
        or _time(fields, "SystemModstamp", path)
    )
    if at is None:
        raise PayloadError("required field is missing", f"{path}.CreatedDate")
    if n.sobject == "CaseComment":
        public = bool(_bool(fields, "IsPublished", path))
        comment = Comment(
            id=record_id,
            public=public,
            author_id=fields.get("CreatedById"),
            author_is_agent=_by_internal_user(fields),
            body=fields.get("CommentBody", ""),
        )
    else:  # EmailMessage: an outgoing email is an agent's written reply
        incoming = _bool(fields, "Incoming", path)
        if incoming is None:
            raise PayloadError("required field is missing", f"{path}.Incoming")
        comment = Comment(
            id=record_id,
            public=True,
            author_id=fields.get("CreatedById"),
            author_is_agent=not incoming,
            body=fields.get("TextBody", ""),
        )
    return TicketEvent(
        source=Source.salesforce,
        ticket_id=parent,
        dedupe_key=f"salesforce:notification:{n.id}",
        kind=EventKind.comment_added,
        occurred_at=at,
        comment=comment,
        vendor_type=n.sobject,
    )


# User.UserType of an internal user with a Salesforce licence; portal and Experience Cloud
# users (PowerCustomerSuccess, CustomerSuccess, CspLitePortal, PowerPartner, Guest, …) are
# the customer's side.
INTERNAL_USER_TYPE = "Standard"
AUTHOR_TYPE_FIELD = "CreatedBy.UserType"


def _by_internal_user(fields: dict[str, str]) -> bool:
    """Whether a CaseComment was written by an agent. A CaseComment has no field saying who
    wrote it beyond CreatedById, and a portal user's id is a User id (005…) like an agent's;
    the author's User.UserType comes only where the sender can follow CreatedBy (a Flow
    callout: `"CreatedBy.UserType": "{!$Record.CreatedBy.UserType}"`). Without it (an
    Outbound Message carries the object's own fields only) the comment is an agent's, as a
    comment added in the console is."""
    user_type = fields.get(AUTHOR_TYPE_FIELD)
    return not user_type or user_type == INTERNAL_USER_TYPE


# Fields that hold record ids (SALESFORCE_ID).
_ID_FIELDS = ("Id", "ParentId", "OwnerId", "ContactId", "AccountId", "CreatedById")
# The free text deskbridge reads and stores, by how long it may be (a longer one is cut:
# fit_text); and the picklist values and numbers, short labels.
_TEXT_LIMITS = {
    "Subject": MAX_SUBJECT,
    "Description": MAX_TEXT,
    "CommentBody": MAX_TEXT,
    "TextBody": MAX_TEXT,
}
_LABELS = ("Status", "Priority", "Origin", "Type", "Reason", "CaseNumber", AUTHOR_TYPE_FIELD)


def _check_notification(n: Notification, id_path: str, type_path: str, fields: str) -> Notification:
    """Ids as Salesforce makes them and bounded lengths, each failure naming its field; the
    notification id (our dedupe key) and picklist values are labels, free of control
    characters. Free text longer than its limit is cut (an email's TextBody may be longer
    than ours): the notification as it is read on."""
    check_label(n.id, 200, id_path)
    check_label(n.sobject, MAX_LABEL, type_path)
    for name in _ID_FIELDS:
        if n.fields.get(name):
            what = "a 15- or 18-character Salesforce id"
            check_id(n.fields[name], SALESFORCE_ID, what, f"{fields}.{name}")
    cut = {}
    for name, limit in _TEXT_LIMITS.items():
        value = n.fields.get(name)
        if value:
            fitted = fit_text(value, limit, f"{fields}.{name}")
            if fitted is not value:
                cut[name] = fitted
    for name in _LABELS:
        if n.fields.get(name):
            check_label(n.fields[name], MAX_LABEL, f"{fields}.{name}")
    return dataclasses.replace(n, fields={**n.fields, **cut}) if cut else n


def build_events(
    message: OutboundMessage, received_at: datetime, mapping: SalesforceConfig = DEFAULT_MAPPING
) -> list[TicketEvent]:
    """One event per notification deskbridge uses; other objects are skipped. All skipped →
    UnsupportedEvent (answered 200 `ignored`).

    A notification that cannot be read (a bad id, a bad or future time, its id repeated with
    other data) does not refuse the others: they are returned to be stored (PartlyMalformed),
    and the message is answered 400 naming the bad one's field (the first). Salesforce
    redelivers the whole message for 24 hours: the stored notifications come back as
    duplicates (keyed by their ids), and the bad one is refused again, in sight in Salesforce's
    failed deliveries (Setup → Outbound Messages) and taken once a fixed deskbridge reads it.
    The two other answers lose more: a 400 storing nothing loses every notification after 24
    hours, and Ack=true after storing the others loses the bad one at once, unseen. A body of
    the wrong shape (read_message: a notification without an id or fields) is still refused
    whole: every notification in it is the same template's."""
    events = []
    skipped = []
    error: PayloadError | None = None
    seen: dict[str, tuple[int, Notification]] = {}
    for index, n in enumerate(message.notifications):
        try:
            event = _notification_event(n, index, seen, message.paths, mapping, received_at)
        except PayloadError as exc:
            error = error or _unfilled_merge_field(exc, _value_at(n, exc.field, message, index))
            continue
        if isinstance(event, str):
            skipped.append(event)
        elif event is not None:
            events.append(event)
    # Salesforce retries out of queue order: within one message, decide in time order.
    events.sort(key=lambda e: e.occurred_at)
    if error is not None:
        if events:
            raise PartlyMalformed(events, error)
        raise error
    if not events:
        raise UnsupportedEvent("salesforce:" + ",".join(sorted(set(skipped))))
    return events


# A Flow merge field as the README's callout body writes it ({!$Record.Id}). Salesforce fills
# each in where the body is built (a Text Template); one still there was not (a misspelt name,
# a body typed as plain text, or the README's body sent by hand), and made the value unreadable.
_MERGE_FIELD = re.compile(r"\{!([^{}]*)\}")  # no braces inside: linear on any text


def _unfilled_merge_field(error: PayloadError, value: Any) -> PayloadError:
    """`error` said as an unfilled merge field when the refused value holds one."""
    return unfilled_template_field(
        error,
        value,
        _MERGE_FIELD,
        "the merge field {{!{}}}",
        "Salesforce: check its name and that the Flow builds the callout's body where merge "
        "fields are filled in, such as a Text Template (README, Connecting Salesforce Service "
        "Cloud)",
    )


def _value_at(n: Notification, field: str, message: OutboundMessage, index: int) -> Any:
    """The value of notification `n` that an error's field path names, or None."""
    _, id_path, type_path, fields = message.paths.at(index)
    if field == id_path:
        return n.id
    if field == type_path:
        return n.sobject
    return n.fields.get(field.removeprefix(fields + ".")) if field.startswith(fields) else None


def _notification_event(
    n: Notification,
    index: int,
    seen: dict[str, tuple[int, Notification]],
    paths: NotificationPaths,
    mapping: SalesforceConfig,
    received_at: datetime,
) -> TicketEvent | str | None:
    """The notification's event; the name of what is skipped (another object, a deleted
    Case); or None for a repeat of an earlier notification in the same body (the same id
    and data: one event). Its id repeated with other data is refused, naming it: one id is
    one change (the dedupe key), and keeping either would silently drop the other."""
    _, id_path, type_path, path = paths.at(index)
    first = seen.setdefault(n.id, (index, n))
    if first[0] != index:
        if first[1] == n:
            return None
        raise PayloadError(f"repeats the id of {paths.at(first[0])[0]}, with other data", id_path)
    n = _check_notification(n, id_path, type_path, path)
    if n.sobject == "Case":
        if set(n.fields) <= {"Id"}:
            return "deleted Case"  # deleted records arrive without data
        event = _case_event(n, mapping, path)
        # The time read is SystemModstamp, or LastModifiedDate without it.
        field = "SystemModstamp" if n.fields.get("SystemModstamp") else "LastModifiedDate"
    elif n.sobject in ("CaseComment", "EmailMessage"):
        if n.sobject == "EmailMessage" and n.fields.get("Status") == EMAIL_DRAFT:
            # Not sent yet: no reply. Sent, the same record is notified again (another
            # Status), and counts then, once by its Id.
            return "EmailMessage draft"
        event = _reply_event(n, path)
        field = next(f for f in ("MessageDate", "CreatedDate", "SystemModstamp") if n.fields.get(f))
    else:
        return n.sobject or "unknown"
    check_not_future(event.occurred_at, received_at, f"{path}.{field}")
    if event.ticket.created_at is not None:  # a case opened in the future starts its clocks then
        check_not_future(event.ticket.created_at, received_at, f"{path}.CreatedDate")
    return event


def parse_salesforce(
    raw: bytes, received_at: datetime, *, mapping: SalesforceConfig = DEFAULT_MAPPING
) -> list[TicketEvent]:
    """One webhook body, an Outbound Message (XML) or a Flow callout (JSON), into events."""
    return build_events(read_message(raw), received_at, mapping)


def read_message(raw: bytes) -> OutboundMessage:
    """An Outbound Message (XML) or a Flow callout (JSON) body, as `is_json_callout` decides."""
    check_not_empty(raw)
    return read_json_callout(raw) if is_json_callout(raw) else read_outbound_message(raw)
