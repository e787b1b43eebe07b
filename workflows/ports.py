"""What the dispatcher needs from the outside world: performers of actions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from deskbridge.workflows.actions import Action, ActionKind

# Characters of a vendor's answer kept with a failure (ActionFailure.detail).
DETAIL_LIMIT = 500


class ActionFailure(Exception):
    """A performer's failure. Its message is logged (outbox.retry, outbox.dead_letter), so it
    says what failed in our words: the status and the vendor's error code, never what the
    vendor echoed of the request (a Zendesk 422 may quote the note being written). `detail`,
    the vendor's own words, is kept only in the outbox row, for whoever reads the dead letter
    (`deskbridge outbox --dead`)."""

    # Where the action had still to go when it failed (Slack channels, user ids for DMs), as
    # its performer names them; kept with a dead letter (`deskbridge outbox --dead`, retry).
    unreached: tuple[str, ...] = ()

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        # The vendor's words, cut to DETAIL_LIMIT: an answer may be a whole HTML error page.
        self.detail = detail[:DETAIL_LIMIT] if detail else None

    @property
    def stored(self) -> str:
        """The error as the outbox row keeps it: the message and the vendor's words."""
        return f"{self}: {self.detail}" if self.detail else str(self)


class RetryableError(ActionFailure):
    """The action may succeed later (rate limit, 5xx, timeout). `retry_after` in seconds."""

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        throttled: bool = False,
        detail: str | None = None,
    ):
        super().__init__(message, detail)
        self.retry_after = retry_after
        # Rate limited or paced: not a failure, so it does not use up an attempt.
        self.throttled = throttled


class Paced(RetryableError):
    """Held back by our own per-channel pacing: the normal rhythm of sending, neither a
    failure nor a retry (no attempt used, no warning, its own metric)."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message, retry_after, throttled=True)


class PermanentError(ActionFailure):
    """Retrying cannot help (bad credentials, unknown ticket, refused): dead-letter at once."""


class Performer(Protocol):
    """Performs one action at a time. A performer may also have `prepare(actions)`: the
    dispatcher calls it with a claimed batch's actions before performing them one by one, so
    what they all need can be read at once (an optimisation: `perform` must not depend on
    it); and `record(connection)`: called in each transaction that writes outcomes, before
    them, to write what the performer kept to record with them (what prepared actions did)."""

    def perform(self, action: Action) -> dict[str, Any]:
        """Carry out the action; return a small JSON-able result. Raise RetryableError or
        PermanentError on failure."""
        ...


# What a helpdesk action would set, shown by a dry run (its record and its log line): values of
# the rules file, never a note's text, which may quote the customer.
_WRITTEN = {ActionKind.tag: "tags", ActionKind.assign: "group", ActionKind.set_priority: "priority"}


class DryRunPerformer:
    """Records and logs what would have been sent, for deployments without credentials.
    `skipped`: the actions this channel's real performer skips, and why (Salesforce cases have
    no tags), so a dry run says what the live one would do. `written`: what an action would
    set, in the helpdesk's own terms (Salesforce's Case fields), where they differ from the
    action's values."""

    def __init__(
        self,
        channel: str,
        skipped: Mapping[ActionKind, str] | None = None,
        written: Callable[[Action], dict[str, Any]] | None = None,
    ):
        self.channel = channel
        self.skipped = dict(skipped or {})
        self.written = written

    def perform(self, action: Action) -> dict[str, Any]:
        reason = self.skipped.get(action.kind)
        if reason is not None:
            return {"dry_run": True, "channel": self.channel, "skipped": reason}
        if self.written is not None:
            return {"dry_run": True, "channel": self.channel, **self.written(action)}
        field = _WRITTEN.get(action.kind)
        if field is None or field not in action.params:
            return {"dry_run": True, "channel": self.channel}
        return {"dry_run": True, "channel": self.channel, field: action.params[field]}
