"""Zendesk write-back through zenpy: add tags, internal note, set group, set priority.

zenpy would sleep out a 429 on the calling thread (reliability.md §1.2); a response hook on
its session turns the 429 into RetryableError instead, so the dispatcher reschedules the row
with the Retry-After and no thread blocks.

Tags, group and priority set the same value when repeated; a note is added again. Zendesk
has no idempotency key for ticket updates (its Idempotency-Key header is for creating
tickets), so a retried note is looked for on the ticket first (`find_note`, called by
connectors.writers.HelpdeskRouter on attempts that may follow one that reached Zendesk).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket
from zenpy.lib.exception import APIException, ZenpyException

from deskbridge.connectors.errors import PayloadError
from deskbridge.connectors.notes import is_note_of, written_note
from deskbridge.connectors.outbound import describe_unreachable
from deskbridge.connectors.parsing import parse_time
from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.ports import PermanentError, RetryableError

TIMEOUT_SECONDS = 10
# Comments read per page when looking for a note, newest first (Zendesk's most is 100); a
# note added on an earlier attempt is among the first few unless the ticket is very busy.
LOOKUP_PAGE = 100


class _Throttled(Exception):
    def __init__(self, retry_after: float | None):
        super().__init__("Zendesk asked us to wait (429/503 with Retry-After)")
        self.retry_after = retry_after


def _raise_on_429(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    # 503 with Retry-After is Zendesk's maintenance answer: the same wait applies.
    throttled = response.status_code == 429 or (
        response.status_code == 503 and "Retry-After" in response.headers
    )
    if throttled:
        header = response.headers.get("Retry-After")
        try:
            retry_after = float(header) if header is not None else None
        except ValueError:
            retry_after = None
        raise _Throttled(retry_after)


def build_session() -> requests.Session:
    session = requests.Session()
    # Transport-level retries only where nothing reached Zendesk (a connection never made);
    # a read error or another break after the request was sent might have added the note,
    # so it is not resent here (other=0 as well as read=0). Status handling is ours.
    # respect_retry_after_header=False: otherwise urllib3 treats a 429/503 carrying
    # Retry-After as a status retry, finds status=0 exhausted and raises RetryError before
    # the hook below ever sees the 429.
    retry = Retry(
        total=2,
        connect=2,
        read=0,
        status=0,
        other=0,
        backoff_factor=0.5,
        respect_retry_after_header=False,
    )
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.hooks["response"].append(_raise_on_429)
    return session


def _ticket_number(action: Action) -> int:
    return int(action.ticket.split(":", 1)[1])


class ZendeskWriter:
    """Performs helpdesk actions on Zendesk tickets."""

    def __init__(
        self, subdomain: str, email: str, token: str, *, session: requests.Session | None = None
    ):
        self.session = session or build_session()
        self.client = Zenpy(
            subdomain=subdomain,
            email=email,
            token=token,
            timeout=TIMEOUT_SECONDS,
            session=self.session,  # zenpy sets its authentication on it
        )
        self.api = f"https://{subdomain}.zendesk.com/api/v2"

    def perform(self, action: Action) -> dict[str, Any]:
        ticket_id = _ticket_number(action)
        params = action.params
        with _zendesk_errors("refused the update"):
            if action.kind is ActionKind.tag:
                self.client.tickets.add_tags(ticket_id, list(params["tags"]))
            elif action.kind is ActionKind.note:
                self.client.tickets.update(
                    Ticket(id=ticket_id, comment=Comment(body=written_note(action), public=False))
                )
            elif action.kind is ActionKind.assign:
                self.client.tickets.update(Ticket(id=ticket_id, group_id=_group_id(params)))
            elif action.kind is ActionKind.set_priority:
                self.client.tickets.update(Ticket(id=ticket_id, priority=params["priority"]))
            else:
                raise PermanentError(f"Zendesk cannot perform {action.kind.value}")
        return {"zendesk_ticket": ticket_id}

    def find_note(self, action: Action, since: datetime) -> dict[str, Any] | None:
        """The internal note `action` adds, if the ticket has one added since `since`: the
        ticket's comments newest first (List Comments with cursor pagination, sort
        -created_at), a page at a time while the pages reach no comment older than `since`
        (one page but on a very busy ticket). Failing to read is RetryableError or
        PermanentError, as for the update: a note is never added without knowing.

        Matched by the reference to the action's key that the note carries (`written_note`),
        not by its text: another action's note may say the same (a warning given again). The
        key travels in the text because Zendesk keeps an update's custom metadata only on the
        ticket's audits, which it documents no newest-first listing for (a comment's own
        `metadata` is system data and flags): finding it would mean reading every audit."""
        ticket_id = _ticket_number(action)
        url = f"{self.api}/tickets/{ticket_id}/comments.json"
        params: dict[str, Any] = {"page[size]": LOOKUP_PAGE, "sort": "-created_at"}
        with _zendesk_errors("refused to list the ticket's comments"):
            while True:
                response = self.session.get(url, params=params, timeout=TIMEOUT_SECONDS)
                response.raise_for_status()
                try:
                    page = response.json()
                    comments = [c for c in page.get("comments") or [] if isinstance(c, dict)]
                    meta = page.get("meta") or {}
                    after = meta.get("after_cursor") if meta.get("has_more") else None
                except (ValueError, AttributeError, TypeError):
                    raise RetryableError("Zendesk answered comments that cannot be read") from None
                reached_older = False
                for comment in comments:
                    created = _comment_time(comment)
                    if created is not None and created < since:
                        reached_older = True
                        continue
                    text = comment.get("body")
                    private = comment.get("public") is False
                    if private and isinstance(text, str) and is_note_of(action, text):
                        return {"zendesk_ticket": ticket_id, "comment": comment.get("id")}
                if reached_older or not after:
                    return None
                params = {**params, "page[after]": after}


def _group_id(params: dict[str, Any]) -> int:
    """The group to move a ticket to, as Zendesk's API takes it: a number. A name in the rules
    file (check-config warns of it) fails the same on every attempt, so it is dead-lettered at
    once, naming the value, not retried as a ValueError."""
    group = str(params["group"])
    if not group.isascii() or not group.isdigit():
        raise PermanentError(
            f"Zendesk group ids are digits, not {group!r} (the rules file's departments' "
            "group or risk.specialist_group)"
        )
    return int(group)


def _comment_time(comment: dict[str, Any]) -> datetime | None:
    try:
        return parse_time(comment.get("created_at"), "created_at")
    except PayloadError:
        return None


@contextmanager
def _zendesk_errors(refused: str) -> Iterator[None]:
    """Zendesk's failures as the dispatcher takes them: RetryableError where a later attempt
    may succeed (429, 5xx, 408, 409, no connection), PermanentError for the rest. The message
    (logged) says the status and Zendesk's error code; what else its answer says (a 422's
    details may quote the note being written) is the error's `detail`, for the dead letter."""
    try:
        yield
    except _Throttled as exc:
        # A rate limit (account-wide: other integrations use it up too) or maintenance: the
        # dispatcher waits as asked without using up an attempt, as for Slack's 429.
        raise RetryableError(str(exc), exc.retry_after, throttled=True) from None
    except (APIException, requests.HTTPError) as exc:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        code, detail = _error_of(response)
        label = f"{status} {code}" if code else f"{status}"
        if status is not None and (status >= 500 or status in (409, 408)):
            raise RetryableError(f"Zendesk answered {label}", detail=detail) from None
        raise PermanentError(f"Zendesk {refused} ({label})", detail=detail) from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise RetryableError(describe_unreachable("Zendesk", exc)) from None
    except ZenpyException as exc:
        # zenpy's own complaints; "Could not handle response" quotes the whole answer.
        raise PermanentError(f"zenpy: {type(exc).__name__}", detail=str(exc)) from None


# Zendesk's error codes (`RecordInvalid`, `RecordNotFound`, `Forbidden`); its 401 answers
# `"error": "Couldn't authenticate you"`, which is a sentence, not a code.
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z_]{0,63}")


def _error_of(response: requests.Response | None) -> tuple[str | None, str | None]:
    """Zendesk's error code from an error answer (`{"error": "RecordInvalid", "description":
    ..., "details": {...}}`), and the answer's text as the detail."""
    if response is None:
        return None, None
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    code = error if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else None
    return code, response.text or None
