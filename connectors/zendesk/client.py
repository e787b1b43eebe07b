"""Zendesk write-back through zenpy: add tags, internal note, set group, set priority.

zenpy would sleep out a 429 on the calling thread (reliability.md §1.2); a response hook on
its session turns the 429 into RetryableError instead, so the dispatcher reschedules the row
with the Retry-After and no thread blocks.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket
from zenpy.lib.exception import APIException, ZenpyException

from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.ports import PermanentError, RetryableError

TIMEOUT_SECONDS = 10


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
    # Transport-level retries only for connection failures; status handling is ours.
    # respect_retry_after_header=False: otherwise urllib3 treats a 429/503 carrying
    # Retry-After as a status retry, finds status=0 exhausted and raises RetryError before
    # the hook below ever sees the 429.
    retry = Retry(
        total=2,
        connect=2,
        read=0,
        status=0,
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
        self.client = Zenpy(
            subdomain=subdomain,
            email=email,
            token=token,
            timeout=TIMEOUT_SECONDS,
            session=session or build_session(),
        )

    def perform(self, action: Action) -> dict[str, Any]:
        ticket_id = _ticket_number(action)
        params = action.params
        try:
            if action.kind is ActionKind.tag:
                self.client.tickets.add_tags(ticket_id, list(params["tags"]))
            elif action.kind is ActionKind.note:
                self.client.tickets.update(
                    Ticket(id=ticket_id, comment=Comment(body=params["body"], public=False))
                )
            elif action.kind is ActionKind.assign:
                self.client.tickets.update(Ticket(id=ticket_id, group_id=int(params["group"])))
            elif action.kind is ActionKind.set_priority:
                self.client.tickets.update(Ticket(id=ticket_id, priority=params["priority"]))
            else:
                raise PermanentError(f"Zendesk cannot perform {action.kind.value}")
        except _Throttled as exc:
            raise RetryableError(str(exc), exc.retry_after) from None
        except APIException as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status is not None and (status >= 500 or status in (409, 408)):
                raise RetryableError(f"Zendesk answered {status}") from None
            raise PermanentError(f"Zendesk refused the update ({status})") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(f"Zendesk unreachable: {type(exc).__name__}") from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status is not None and status >= 500:
                raise RetryableError(f"Zendesk answered {status}") from None
            raise PermanentError(f"Zendesk refused the update ({status})") from None
        except ZenpyException as exc:
            raise PermanentError(f"zenpy: {exc}") from None
        return {"zendesk_ticket": ticket_id}
