"""Salesforce write-back through simple-salesforce: owner (queue or user), priority, escalation
flag and internal notes (unpublished CaseComments) on Cases.

What simple-salesforce does and does not do for us (reliability.md §1.4, checked against the
installed 1.12.10 source):

- It logs in inside `Salesforce(...)`. We build it on the first `perform`, so constructing a
  writer never touches the network.
- It has no default timeout and `SFType.update/create` accept no `timeout`: the session we give
  it adds one to every request (`TimeoutSession`), and retries connection failures only.
- Built from username/password/token, it re-logs in on a 401 `INVALID_SESSION_ID` and repeats
  the call. In `SFType._call_salesforce` the retry counter is not passed down the recursion, so
  a 401 that survives a fresh login would loop (log in, 401, log in, …) until RecursionError.
  A response hook (`_guard_401`) lets exactly one such re-login happen per `perform`; the next
  401 becomes RetryableError and the writer forgets its session, so a later attempt logs in
  afresh. A second 401 right after a successful login is not proof that the credentials are
  bad (a bad password fails the login itself, as SalesforceAuthenticationFailed), so it is
  retried; the dispatcher's attempt limit still dead-letters it if it persists.
- A 401 whose body is not Salesforce's JSON error list would make the library crash on
  `result.json()[0]`; the same hook turns it into RetryableError first.
- Login failures of every kind raise SalesforceAuthenticationFailed, including a login server
  answering 5xx with an HTML page. Only Salesforce's own refusals (a SOAP fault with an
  exceptionCode such as INVALID_LOGIN) are permanent; the rest is retried.

Owner, priority and the escalation flag set the same value when repeated; a CaseComment is
inserted again. A retried note is therefore looked for on the case first (`find_note`,
called by connectors.writers.HelpdeskRouter on attempts that may follow one that reached
Salesforce).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)
from simple_salesforce.format import format_soql
from urllib3.util.retry import Retry

from deskbridge.config.settings import salesforce_login_domain
from deskbridge.connectors.notes import is_note_of
from deskbridge.connectors.outbound import describe_unreachable
from deskbridge.connectors.salesforce.connector import SKIPPED_ACTIONS, build_case_write
from deskbridge.workflows.actions import Action
from deskbridge.workflows.model import SALESFORCE_ID
from deskbridge.workflows.ports import PermanentError, RetryableError

TIMEOUT_SECONDS = 10
API_VERSION = "59.0"

# deskbridge priority → the Case Priority picklist value written back.
DEFAULT_PRIORITIES: dict[str, str] = {
    "urgent": "High",
    "high": "High",
    "normal": "Medium",
    "low": "Low",
}

# REQUEST_LIMIT_EXCEEDED is both the rolling 24-hour allocation (wait long) and the cap on
# concurrent long-running requests (clears in seconds to minutes).
DAILY_LIMIT_WAIT = 3600.0
CONCURRENCY_LIMIT_WAIT = 60.0

# Salesforce answers these with 400 although a later attempt usually succeeds.
TRANSIENT_400_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})
# Login faults that say "not now" rather than "not you".
TRANSIENT_LOGIN_CODES = frozenset(
    {"SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "UNKNOWN_EXCEPTION"}
)


# Internal comments read when looking for a note, newest first, every page of them
# (nextRecordsUrl): the window since the note's first attempt bounds how many. Each is matched
# by the reference to the action's key its CommentBody carries (connectors.notes).
_NOTE_QUERY = (
    "SELECT Id, CommentBody FROM CaseComment WHERE ParentId = {} AND IsPublished = false"
    " AND CreatedDate >= {} ORDER BY CreatedDate DESC"
)


class TimeoutSession(requests.Session):
    """A session whose requests time out after `timeout` unless the caller chose one."""

    def __init__(self, timeout: float | tuple[float, float] = TIMEOUT_SECONDS):
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


def build_session(timeout: float | tuple[float, float] = TIMEOUT_SECONDS) -> TimeoutSession:
    session = TimeoutSession(timeout)
    # Transport retries only where nothing reached Salesforce (connection refused, DNS, TLS
    # handshake); a read error on a POST might have created the comment, so it is not resent
    # here. Status codes are ours to map.
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
    return session


class _SessionRejected(Exception):
    """A 401 that the one re-login per perform did not cure (or that was not Salesforce's)."""


def _error_code(content: Any) -> str | None:
    """`errorCode` of Salesforce's REST error body: `[{"message": ..., "errorCode": ...}]`."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        code = content[0].get("errorCode")
        return code if isinstance(code, str) else None
    return None


def _error_message(content: Any) -> str:
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("message", ""))
    return ""


def _domain_from_instance_url(instance_url: str) -> str:
    """`https://acme.my.salesforce.com` → `acme.my`: simple-salesforce logs in at
    `https://{domain}.salesforce.com`, and with password login it takes the instance from the
    login answer, so a My Domain URL is only useful as the login domain."""
    domain = salesforce_login_domain(instance_url)
    if domain is None:
        raise ValueError(
            f"SALESFORCE_INSTANCE_URL must be a https://<name>.salesforce.com URL, "
            f"got {instance_url!r}"
        )
    return domain


def _case_id(action: Action) -> str:
    source, _, case_id = action.ticket.partition(":")
    if source != "salesforce" or not SALESFORCE_ID.fullmatch(case_id):
        raise PermanentError(f"not a Salesforce case id: {action.ticket!r}")
    return case_id


class SalesforceWriter:
    """Performs helpdesk actions on Salesforce Cases."""

    def __init__(
        self,
        username: str,
        password: str,
        security_token: str,
        *,
        instance_url: str | None = None,
        domain: str | None = None,
        priorities: Mapping[str, str] | None = None,
        version: str = API_VERSION,
        session: requests.Session | None = None,
    ):
        if domain is None and instance_url:
            domain = _domain_from_instance_url(instance_url)
        self.username = username
        self._password = password
        self._security_token = security_token
        self.domain = domain or "login"
        self.version = version
        self.priorities = {
            str(key): value for key, value in (priorities or DEFAULT_PRIORITIES).items()
        }
        self.session = session if session is not None else build_session()
        self.session.hooks["response"].append(self._guard_401)
        self._client: Salesforce | None = None
        self._login_lock = threading.Lock()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SalesforceWriter(username={self.username!r}, domain={self.domain!r})"

    # --- session ---------------------------------------------------------------------------

    def _salesforce(self) -> Salesforce:
        with self._login_lock:
            if self._client is None:
                # Logs in (SOAP) here; simple-salesforce keeps the credentials to re-login.
                self._client = Salesforce(
                    username=self.username,
                    password=self._password,
                    security_token=self._security_token,
                    domain=self.domain,
                    version=self.version,
                    session=self.session,
                )
            return self._client

    def _forget_session(self) -> None:
        with self._login_lock:
            self._client = None

    def _guard_401(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code != 401:
            return
        try:
            code = _error_code(response.json())
        except ValueError:
            code = None
        if code != "INVALID_SESSION_ID":
            raise _SessionRejected(f"Salesforce answered 401 ({code or 'no error code'})")
        seen = getattr(self._local, "expired_sessions", 0) + 1
        self._local.expired_sessions = seen
        if seen > 1:
            raise _SessionRejected("Salesforce rejected the session again after a fresh login")
        # First one in this perform: simple-salesforce logs in again and repeats the call.

    # --- actions ---------------------------------------------------------------------------

    def perform(self, action: Action) -> dict[str, Any]:
        skipped = SKIPPED_ACTIONS.get(action.kind)
        if skipped is not None:
            return {"skipped": skipped}
        case_id = _case_id(action)
        sobject, fields = self._write_for(action, case_id)
        with self._calling():
            if sobject == "Case":
                self._salesforce().Case.update(case_id, fields)
                return {"salesforce_case": case_id}
            created = self._salesforce().CaseComment.create(fields)
            return {"salesforce_case": case_id, "case_comment": created.get("id")}

    def find_note(self, action: Action, since: datetime) -> dict[str, Any] | None:
        """The internal CaseComment `action` adds, if the case has one created since `since`:
        newest first, page after page while none matches, matched by the reference to the
        action's key that the note carries (a CaseComment takes no custom field for it), not
        by its text: another action's note may say the same. Failing to read is
        RetryableError or PermanentError, as for the insert: a note is never added without
        knowing."""
        case_id = _case_id(action)
        sobject, _ = self._write_for(action, case_id)
        if sobject != "CaseComment":
            raise PermanentError(f"{action.kind.value} is not a note")
        soql = format_soql(_NOTE_QUERY, case_id, since)
        for records in self._pages(soql):
            for record in records:
                body = record.get("CommentBody") if isinstance(record, dict) else None
                if isinstance(body, str) and is_note_of(action, body):
                    return {"salesforce_case": case_id, "case_comment": record.get("Id")}
        return None

    def _pages(self, soql: str) -> Iterator[list[Any]]:
        """The records of `soql`, a page (a batch of Salesforce's, up to 2,000) at a time,
        read only as far as the caller goes. A page that cannot be read is RetryableError."""
        with self._calling():
            result = self._salesforce().query(soql)
        while True:
            try:
                records = list(result.get("records") or [])
                more = result.get("nextRecordsUrl") if result.get("done") is False else None
                if result.get("done") is False and not isinstance(more, str):
                    raise TypeError("more records, but no nextRecordsUrl")
            except (AttributeError, TypeError):
                raise RetryableError("Salesforce answered comments that cannot be read") from None
            yield records
            if more is None:
                return
            with self._calling():
                result = self._salesforce().query_more(more, identifier_is_url=True)

    @contextmanager
    def _calling(self) -> Iterator[None]:
        """Calls to Salesforce with one re-login at the most, their failures as the dispatcher
        takes them: RetryableError where a later attempt may succeed, PermanentError else."""
        self._local.expired_sessions = 0
        try:
            yield
        except _SessionRejected as exc:
            self._forget_session()
            raise RetryableError(str(exc)) from None
        except SalesforceAuthenticationFailed as exc:
            raise _login_failure(exc) from None
        except SalesforceError as exc:
            raise _api_failure(exc) from None
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            raise RetryableError(describe_unreachable("Salesforce", exc)) from None
        finally:
            self._local.expired_sessions = 0

    def _write_for(self, action: Action, case_id: str) -> tuple[str, dict[str, Any]]:
        """The SObject written and its fields: `Case` (updated) or `CaseComment` (created)."""
        sobject, fields = build_case_write(action, self.priorities)
        if sobject == "CaseComment":
            fields = {"ParentId": case_id, **fields}
        return sobject, fields


def _login_failure(exc: SalesforceAuthenticationFailed) -> Exception:
    code = exc.code
    if isinstance(code, int) or code is None or code in TRANSIENT_LOGIN_CODES:
        # No Salesforce fault code (an error page, a proxy) or Salesforce saying "not now".
        return RetryableError(f"Salesforce login failed ({code})")
    return PermanentError(f"Salesforce login refused ({code})")


def _api_failure(exc: SalesforceError) -> Exception:
    status = exc.status
    code = _error_code(exc.content)
    label = f"{status} {code}" if code else f"{status}"
    # Salesforce's message (a validation rule's may quote the field's value): the dead letter's.
    detail = _error_message(exc.content) or None
    if isinstance(exc, SalesforceRefusedRequest) and code == "REQUEST_LIMIT_EXCEEDED":
        if "concurrent" in _error_message(exc.content).lower():
            # A rate limit that clears in minutes (the org's other integrations count too):
            # waited out without using up attempts, as a Zendesk or Slack 429 is (the
            # dispatcher's THROTTLE_PATIENCE ends one that never clears in a dead letter).
            return RetryableError(
                f"Salesforce API limit reached ({label})",
                retry_after=CONCURRENCY_LIMIT_WAIT,
                throttled=True,
                detail=detail,
            )
        # The 24-hour allocation counts as an attempt (throttled=False): at an hour each, a
        # budget that does not come back ends in a dead letter and an alert after a working
        # day instead of a queue that grows for ever.
        return RetryableError(
            f"Salesforce API limit reached ({label})", retry_after=DAILY_LIMIT_WAIT, detail=detail
        )
    if code in TRANSIENT_400_CODES:
        return RetryableError(f"Salesforce answered {label}", detail=detail)
    if isinstance(exc, SalesforceGeneralError) and status == 429:
        return RetryableError(f"Salesforce answered {label}", throttled=True, detail=detail)
    if isinstance(exc, SalesforceGeneralError) and (status >= 500 or status == 408):
        return RetryableError(f"Salesforce answered {label}", detail=detail)
    return PermanentError(f"Salesforce refused the update ({label})", detail=detail)
