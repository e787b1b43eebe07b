"""PagerDuty Events API v2 (protocols.md §7): the optional pager for on-call pages.

`pager` actions become `trigger` / `acknowledge` / `resolve` events with `dedup_key` = the
ticket key, so one ticket is one incident however many pages it took. 202 is done; 400 is
dead-lettered with PagerDuty's message (retrying the same event cannot help); 5xx is retried by
the dispatcher with back-off, 429 (a rate limit) after its Retry-After without using up an
attempt. The routing key is never logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from deskbridge.connectors.outbound import describe_unreachable
from deskbridge.connectors.registry import find_source, name_number
from deskbridge.workflows.actions import Action
from deskbridge.workflows.ports import PermanentError, RetryableError

TIMEOUT_SECONDS = 10
SUMMARY_LIMIT = 1024
SEVERITY = "critical"


def build_pager_event(
    action: Action, routing_key: str, ticket_url: str | None = None
) -> dict[str, Any]:
    """The Events API v2 body for a `pager` action (pure)."""
    params = action.params
    event_action = params["event_action"]
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": event_action,
        "dedup_key": params["dedup_key"][:255],
    }
    if event_action != "trigger":
        return body
    source, _, ticket_id = action.ticket.partition(":")
    # A case by its CaseNumber ("Case 00001042"), as its Slack alerts name it; else `#<id>`.
    number = params.get("number") or ticket_id
    title = name_number(find_source(action.ticket), params.get("number")) or f"Ticket #{number}"
    body["payload"] = {
        "summary": f"{title} after hours: {action.reason}"[:SUMMARY_LIMIT],
        "source": "deskbridge",
        "severity": SEVERITY,
        "timestamp": params.get("paged_at"),
        "component": source,
        "group": "resolution",
        "class": params.get("trigger"),
        "custom_details": {
            "reason": action.reason,
            "step": params.get("step"),
            # deskbridge hears nothing back from PagerDuty (README): the person paged reads
            # here how to stop the chain's next pages.
            "acknowledge": f"in Slack: the page's Acknowledge button or `/deskbridge ack "
            f"{number}`; acknowledging in PagerDuty does not stop deskbridge's next pages",
        },
    }
    if body["payload"]["timestamp"] is None:
        del body["payload"]["timestamp"]
    if ticket_url:
        body["links"] = [{"href": ticket_url, "text": "Open ticket"}]
    return body


class PagerDutyPager:
    """Performs `pager` actions by posting Events API v2 events."""

    def __init__(
        self,
        routing_key: str,
        api_url: str,
        ticket_link: Callable[[str], str | None] | None = None,
        session: requests.Session | None = None,
    ):
        self._routing_key = routing_key
        self.api_url = api_url
        self.ticket_link = ticket_link
        self.session = session or requests.Session()

    def _ticket_url(self, action: Action) -> str | None:
        return self.ticket_link(action.ticket) if self.ticket_link else None

    def perform(self, action: Action) -> dict[str, Any]:
        body = build_pager_event(action, self._routing_key, self._ticket_url(action))
        try:
            response = self.session.post(self.api_url, json=body, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise RetryableError(describe_unreachable("PagerDuty", exc)) from None
        if response.status_code == 202 or response.ok:
            return {"pager": body["event_action"], "status": response.status_code}
        if response.status_code == 429:
            raise RetryableError(
                "PagerDuty throttled the event (429)", _retry_after(response), throttled=True
            )
        if response.status_code >= 500:
            raise RetryableError(f"PagerDuty answered {response.status_code}")
        # What PagerDuty says is wrong is for the dead letter, not the log: it may quote the event.
        raise PermanentError(
            f"PagerDuty refused the event ({response.status_code})", detail=_message(response)
        )


def _retry_after(response: requests.Response) -> float | None:
    """The Retry-After of a 429 in seconds, if it gives one (else the dispatcher's wait)."""
    try:
        return max(1.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text
    if not isinstance(data, dict):
        return response.text
    errors = data.get("errors")
    # Whatever the answer's shape (a list of texts as documented, objects, a bare string).
    parts = [data.get("message"), *(errors if isinstance(errors, list) else [errors])]
    return "; ".join(str(part) for part in parts if part)
