"""What the writers (Zendesk, Salesforce, PagerDuty, through requests) say of a call that got
no answer, for the outbox's log line and dead letter."""

from __future__ import annotations

import requests
from urllib3.exceptions import ReadTimeoutError


def describe_unreachable(system: str, exc: requests.RequestException) -> str:
    """'Zendesk did not answer within its timeout' for a request sent and never answered,
    whatever requests calls it (with transport retries mounted, a read timeout surfaces as a
    ConnectionError: urllib3's retries, none allowed for reads, are used up); 'Zendesk
    unreachable: ConnectionError' for a connection refused, lost or never made (a connect
    timeout included). A slow helpdesk and an unreachable one are different things to look
    into."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(exc, requests.ReadTimeout) or isinstance(reason, ReadTimeoutError):
        return f"{system} did not answer within its timeout ({type(exc).__name__})"
    return f"{system} unreachable: {type(exc).__name__}"
