"""Salesforce's registry entry: Outbound Messages (SOAP, answered with the Ack) and Flow
callouts (JSON, bearer token), both from this deskbridge's own org; simple-salesforce write-back.

Which of the two a request is, is decided once, by `is_json_callout` on the body.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from deskbridge.config.rules import RulesConfig
from deskbridge.config.settings import Settings
from deskbridge.connectors.connector import Answer, Connector, Outcome, build_json_answer
from deskbridge.connectors.errors import ForbiddenError, SignatureError
from deskbridge.connectors.notes import written_note
from deskbridge.connectors.salesforce.ack import CONTENT_TYPE as ACK_CONTENT_TYPE
from deskbridge.connectors.salesforce.ack import build_ack
from deskbridge.connectors.salesforce.parse import (
    OutboundMessage,
    build_events,
    is_json_callout,
    read_message,
    same_org,
)
from deskbridge.workflows.actions import UNCARRIED, Action, ActionKind
from deskbridge.workflows.model import Source, TicketEvent
from deskbridge.workflows.ports import DryRunPerformer, Performer, PermanentError

# The body last read on this thread: verify reads it for the org id, and parse, called next
# with the same bytes, reuses it instead of parsing the XML again.
_last_read = threading.local()


def _read_once(raw: bytes) -> OutboundMessage:
    """`read_message`, once per request body (the same bytes object, held until the next)."""
    last = getattr(_last_read, "message", None)
    if last is not None and last[0] is raw:
        return last[1]
    message = read_message(raw)
    _last_read.message = (raw, message)
    return message


def verify(headers: Mapping[str, str], raw: bytes, now: datetime, settings: Settings) -> None:
    """Flow callouts carry a bearer token; Outbound Messages carry no signature, so the org id
    in the message is the in-band check for both."""
    callout = is_json_callout(raw)
    if callout:
        _verify_bearer(headers.get("Authorization", ""), settings)
    message = _read_once(raw)
    if not settings.salesforce_org_id:
        raise ForbiddenError("SALESFORCE_ORG_ID is not set; outbound messages are refused")
    if not same_org(message.organization_id, settings.salesforce_org_id):
        # The path as the body spells it, like the 400s for the same value: a Flow author
        # looks for `organizationId` in their JSON, not the SOAP element's name.
        field = "organizationId" if callout else "notifications.OrganizationId"
        raise ForbiddenError("organization id is not this deskbridge's Salesforce org", field)


# What to check, as Zendesk's 401 says (never the token given or expected).
_NOT_MATCHED = (
    "bearer token does not match: check that SALESFORCE_WEBHOOK_TOKEN is the token the Named "
    'Credential sends (its External Credential\'s custom header Authorization, value "Bearer " '
    "and the token, nothing else around it), and that nothing on the way replaces the "
    "Authorization header"
)


def _verify_bearer(authorization: str, settings: Settings) -> None:
    expected = settings.salesforce_webhook_token
    if expected is None:
        raise SignatureError(
            "SALESFORCE_WEBHOOK_TOKEN is not set: this deskbridge has no token for the salesforce "
            "connector, so no JSON callout can be verified and every one is refused, with a "
            "bearer token or not"
        )
    # The scheme is case-insensitive (RFC 9110 §11.1): "bearer …" is a bearer token too.
    scheme, _, given = authorization.strip().partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        # Told apart from a wrong token: the Flow's HTTP callout sends no header yet.
        raise SignatureError(
            "missing bearer token: a Flow callout must send Authorization: Bearer "
            "<SALESFORCE_WEBHOOK_TOKEN>",
            "Authorization",
        )
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise SignatureError(_NOT_MATCHED, "Authorization")


def parse(raw: bytes, now: datetime, rules: RulesConfig) -> list[TicketEvent]:
    """Picklist values are read with the org's own meanings (rules.salesforce)."""
    return build_events(_read_once(raw), now, rules.salesforce)


def respond(outcome: Outcome) -> Answer:
    """An Outbound Message is retried for 24 hours until it gets the SOAP Ack."""
    if is_json_callout(outcome.raw):
        return build_json_answer(outcome.summary)
    return Answer(build_ack(), ACK_CONTENT_TYPE)


# What the writer skips, and why: the same in a dry run (its log says so) as live. The rules
# no longer decide these for a case (UNCARRIED): only rows queued by an earlier version.
SKIPPED_ACTIONS: Mapping[ActionKind, str] = UNCARRIED[Source.salesforce]


def build_case_write(action: Action, priorities: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """What an action writes: `("Case", fields)` updated on the case, or `("CaseComment",
    fields)` created on it (the writer adds its ParentId). `priorities`: deskbridge priority →
    the Priority picklist value. PermanentError for what a case cannot take."""
    params = action.params
    try:
        if action.kind is ActionKind.assign:
            fields: dict[str, Any] = {"OwnerId": str(params["group"])}
            if params.get("escalated"):
                fields["IsEscalated"] = True
            return "Case", fields
        if action.kind is ActionKind.set_priority:
            priority = str(params["priority"])
            if priority not in priorities:
                raise PermanentError(f"no Salesforce Priority for {priority!r}")
            return "Case", {"Priority": priorities[priority]}
        if action.kind is ActionKind.note:
            return "CaseComment", {"CommentBody": written_note(action), "IsPublished": False}
    except KeyError as exc:
        raise PermanentError(f"{action.kind.value} without {exc.args[0]!r}") from None
    raise PermanentError(f"Salesforce cannot perform {action.kind.value}")


def _case_fields_written(priorities: Mapping[str, str]) -> Callable[[Action], dict[str, Any]]:
    """For the dry run: the Case fields the live writer would set (`Priority` as the picklist
    value, `OwnerId`, `IsEscalated`); nothing of a note, whose text may quote the customer."""

    def written(action: Action) -> dict[str, Any]:
        sobject, fields = build_case_write(action, priorities)
        return fields if sobject == "Case" else {}

    return written


def build_writer(settings: Settings, rules: RulesConfig) -> Performer:
    priorities = {p.value: v for p, v in rules.salesforce.write_priorities.items()}
    if not settings.salesforce_write_enabled:
        return DryRunPerformer("salesforce", SKIPPED_ACTIONS, _case_fields_written(priorities))
    # simple-salesforce loads only when used
    from deskbridge.connectors.salesforce.client import SalesforceWriter

    return SalesforceWriter(
        settings.salesforce_username,
        settings.salesforce_password.get_secret_value(),
        settings.salesforce_security_token.get_secret_value(),
        instance_url=settings.salesforce_instance_url,
        priorities=priorities,
    )


def find_missing_webhook_settings(settings: Settings) -> str | None:
    """Said when the org id is missing, as `verify` checks it in every request (a token alone
    lets nothing in); the org id without a token is a choice: outbound messages only."""
    if settings.salesforce_org_id:
        return None
    if settings.salesforce_webhook_token:
        return (
            "set SALESFORCE_ORG_ID; until then every request is refused with 403, Flow callouts "
            "too (their organization id is checked after the token)"
        )
    return (
        "set SALESFORCE_ORG_ID, and SALESFORCE_WEBHOOK_TOKEN for Flow callouts; until then "
        "outbound messages are refused with 403 and Flow callouts with 401"
    )


# Where people sign in, not where records are: a case has no page on these hosts.
_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})


def build_ticket_url(ticket_id: str, settings: Settings) -> str | None:
    """The case's Lightning page on the org's own domain (a My Domain,
    `https://acme.my.salesforce.com`); None without SALESFORCE_INSTANCE_URL, or when it is
    the generic login host, which names no org."""
    if not settings.salesforce_instance_url:
        return None
    url = urlparse(settings.salesforce_instance_url)
    if (url.hostname or "").lower() in _LOGIN_HOSTS:
        return None
    return f"https://{url.hostname}/lightning/r/Case/{ticket_id}/view"


def name_case(number: str) -> str:
    """A case as Salesforce shows it to agents: by its CaseNumber."""
    return f"Case {number}"


# An Outbound Message's SessionId (its element's text, whatever the namespace prefix): a live
# API session when the message's "Send Session ID" is on. reliability.md §4.1: never logged;
# nor kept in the inbox's copy of the body, where it would outlive the request by the events'
# retention (90 days by default). Nothing reads it: write-back logs in with its own user.
_SESSION_ID = re.compile(rb"(<(?:[\w.-]+:)?SessionId\b[^>]*>)[^<]*(</(?:[\w.-]+:)?SessionId\s*>)")


def stored_body(raw: bytes) -> str:
    """The body as the inbox keeps it: as it came, but a SessionId's text left out (the
    element kept, empty)."""
    if b"SessionId" in raw:
        raw = _SESSION_ID.sub(rb"\1\2", raw)
    return raw.decode("utf-8")


CONNECTOR = Connector(
    source=Source.salesforce,
    verify=verify,
    parse=parse,
    respond=respond,
    build_writer=build_writer,
    find_missing_webhook_settings=find_missing_webhook_settings,
    build_ticket_url=build_ticket_url,
    name_number=name_case,
    stored_body=stored_body,
)
