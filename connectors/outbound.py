"""What the writers (Zendesk, Salesforce and PagerDuty through requests, Slack through
slack_sdk's urllib) say of a call that got no answer, for the outbox's log line and dead
letter."""

from __future__ import annotations

import requests
from urllib3.exceptions import ReadTimeoutError


def describe_unreachable(system: str, exc: BaseException) -> str:
    """'Zendesk did not answer within its timeout' for a request sent and never answered:
    requests' ReadTimeout, or the ConnectionError it reports instead with transport retries
    mounted (urllib3's retries, none allowed for reads, used up by a ReadTimeoutError), or
    urllib's bare TimeoutError from reading the response. 'Zendesk unreachable:
    ConnectionError' for a connection refused, lost or never made (a connect timeout
    included: requests' ConnectTimeout, urllib's URLError). A slow system and an unreachable
    one are different things to look into."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(exc, (requests.ReadTimeout, TimeoutError)) or isinstance(
        reason, ReadTimeoutError
    ):
        return f"{system} did not answer within its timeout ({type(exc).__name__})"
    return f"{system} unreachable: {type(exc).__name__}"
