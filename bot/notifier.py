"""Sending to Slack: the performer of every people-facing action.

- slack_sdk's WebClient with retry handlers for connection errors, rate limits and 5xx,
  sending over kept-alive connections (KeepAliveWebClient); a post is sent again at once only
  when it never reached Slack (RepeatSafeConnectionRetry), else retried by the dispatcher;
- at most one message per second per channel, across processes (store.slack pacing), queued
  in the outbox, never dropped: a paced or rate-limited message waits without using an attempt;
- the first message about a ticket in a channel starts a thread, later ones reply in it, and a
  state change (acknowledged, call logged, solved) edits the first message;
- an outbox row is done only after Slack said ok; errors that retrying cannot fix
  (channel_not_found, not_in_channel, invalid_auth …) are dead-lettered at once.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from http.client import HTTPMessage, RemoteDisconnected
from io import BytesIO
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

import urllib3
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from sqlalchemy import Connection, Engine

from deskbridge.bot.blocks import (
    MESSAGE_TEXT,
    TicketView,
    build_alert,
    build_job_message,
    build_thread_reply,
    clip,
)
from deskbridge.bot.digest import build_coach_message, build_digest_message
from deskbridge.config.logging import SLACK_SDK_LOGGER, log_event
from deskbridge.config.rules import RulesConfig
from deskbridge.connectors.outbound import describe_unreachable
from deskbridge.connectors.registry import find_source, name_ticket
from deskbridge.store.db import connect_for_reading
from deskbridge.store.outbox import (
    LOOKUP_MARGIN,
    Attempts,
    find_attempts,
    find_attempts_of,
    retried_since,
)
from deskbridge.store.slack import (
    PostedMessage,
    book_send_slot,
    find_channel_id,
    find_posted,
    find_thread_root,
    hold_channel,
    list_batch_messages,
    list_thread_roots,
    record_posted,
    record_posted_messages,
)
from deskbridge.store.tickets import load_ticket, load_ticket_states
from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.digest import describe_period
from deskbridge.workflows.model import TicketState
from deskbridge.workflows.ports import Paced, PermanentError, RetryableError
from deskbridge.workflows.rules.sla import describe_sla

log = logging.getLogger("deskbridge.slack")

SLACK_API = "https://slack.com/api/"
# The `ticket` of a scheduled job's actions (workflows.schedule.subject).
JOB_SUBJECT = "job:"
# Errors that the same request will always get: dead-letter, do not retry.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "channel_is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "user_not_found",
        "cannot_dm_bot",
        "restricted_action",
        "invalid_blocks",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "ekm_access_denied",
    }
)


# Every message carries its action's key (Slack message metadata), so a retry can find it.
METADATA_EVENT = "deskbridge_action"
LOOKUP_PAGE = 200
LIST_PAGE = 1000
# How long tickets read for a dispatcher's batch (`prepare`) stand for a fresh read: a batch of
# real Slack calls takes seconds, and a view must not show a ticket older than about this.
PREPARED_FOR = 1.0
# A channel's next send slot this close is booked and waited for in the performing thread
# (other channels' actions go on in the others); further off, the action is Paced and claimed
# again when its slot comes, which costs a claim, reads and two writes.
BOOK_WITHIN = timedelta(seconds=0.1)
# Thread updates whose edits so far are kept while they go on (SlackNotifier._edited).
MAX_EDITS_KEPT = 1000
# Actions held back with a turn of their own (SlackNotifier._given) kept before those whose
# turn has passed are forgotten (performed by another process, dead-lettered).
MAX_TURNS_KEPT = 50_000
CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


# A Slack call that never got an answer: retried later, sends and lookups alike.
UNREACHABLE = (URLError, TimeoutError, ConnectionError, OSError)


class LookupRefused(Exception):
    """Slack will not let us read a channel (scopes, membership): the check is skipped."""


def build_metadata(key: str) -> dict[str, Any]:
    return {"event_type": METADATA_EVENT, "event_payload": {"key": key}}


def parse_metadata_key(message: dict[str, Any]) -> str | None:
    """The action key a message was posted with, if it is one of ours."""
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return None
    return (metadata.get("event_payload") or {}).get("key")


# Slack refused the message's layout (too long, malformed): worth one try as plain text.
BLOCKS_REFUSED = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long"})


# Connections kept open to Slack, at most: one per thread that calls at once (the dispatcher's
# lanes, DESKBRIDGE_DISPATCH_CONCURRENCY; the web server's threads answering Slack's buttons).
# Only connections some call needed are opened; a call beyond the bound would open one of its
# own and close it after (and urllib3 warn "pool is full").
POOL_SIZE = 32


class KeepAliveWebClient(WebClient):
    """slack_sdk's WebClient sending over connections kept open between calls (urllib3's
    pool) instead of urllib's new connection for every call: a TLS handshake per message
    cost the dispatcher about as much CPU as everything else it does for the message.

    Only the step that sends a built request (`_perform_urllib_http_request_internal`) is
    replaced; slack_sdk still builds the request, parses the answer and runs the retry
    handlers, and this step answers as urllib's does: HTTPError for a status outside 2xx,
    URLError for a failure to connect (with urllib3's NewConnectionError or ConnectTimeoutError
    as its reason: the request never left) and for other breaks of the connection, the failure
    itself (RemoteDisconnected, ConnectionResetError, TimeoutError) while reading the answer. A
    connection Slack has closed while idle is noticed by the pool before it is used again and
    replaced (a close crossing a post on it fails the post: POSTING_METHODS). With a proxy
    (HTTPS_PROXY), urllib's own path is used."""

    def __init__(self, *args: Any, pool_size: int = POOL_SIZE, **kwargs: Any):
        super().__init__(*args, **kwargs)
        options: dict[str, Any] = {"ssl_context": self.ssl} if self.ssl is not None else {}
        self._pool = urllib3.PoolManager(maxsize=pool_size, retries=False, **options)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith(("http://", "https://")):
            return super()._perform_urllib_http_request_internal(url, req)
        try:
            response = self._pool.urlopen(
                req.get_method(),
                url,
                body=req.data,
                headers=dict(req.header_items()),
                timeout=self.timeout,
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.ProtocolError as exc:
            cause = exc.args[1] if len(exc.args) > 1 else exc
            if isinstance(cause, RemoteDisconnected | ConnectionResetError):
                raise cause from None
            raise URLError(cause) from None
        except urllib3.exceptions.ReadTimeoutError:
            raise TimeoutError("Slack did not answer in time") from None
        except urllib3.exceptions.HTTPError as exc:  # connecting, TLS
            raise URLError(exc) from None
        headers = HTTPMessage()
        for name, value in response.headers.items():
            headers[name] = value
        if not 200 <= response.status < 300:
            raise HTTPError(
                url, response.status, response.reason or "", headers, BytesIO(response.data)
            )
        if headers.get_content_type() == "application/gzip":
            return {"status": response.status, "headers": headers, "body": response.data}
        charset = headers.get_content_charset() or "utf-8"
        return {
            "status": response.status,
            "headers": headers,
            "body": response.data.decode(charset),
        }


# Calls the dispatcher makes that post each time Slack carries them out. When one fails after
# it may have reached Slack (the connection dropped while its answer was read, a 5xx), Slack may
# have posted it: slack_sdk's handlers would send it again at once, and it would be posted
# twice. Such a failure goes back to the dispatcher instead, whose next attempt looks for the
# message by its action key first (SlackNotifier._post_once). chat.update, conversations.open
# and the reads change nothing when repeated and are retried as slack_sdk does; so is the
# ephemeral note a click gets (chat.postEphemeral), which nothing else would send again.
POSTING_METHODS = frozenset({"chat.postMessage", "files.completeUploadExternal"})
# The reasons of a URLError raised before a connection was made (refused, name not resolved,
# connect timeout): urllib3's (NewConnectionError, NameResolutionError are ConnectTimeoutErrors;
# urllib3 counts only these as connect errors, its others may come after the request was sent),
# and urllib's on the proxy path.
NOT_CONNECTED = (urllib3.exceptions.ConnectTimeoutError, ConnectionRefusedError, socket.gaierror)


def posts(request: HttpRequest) -> bool:
    """Whether the request is a call that posts (POSTING_METHODS): the last part of its path."""
    return urlsplit(request.url).path.rsplit("/", 1)[-1] in POSTING_METHODS


def never_reached_slack(error: Exception | None) -> bool:
    """Whether a failed call certainly never reached Slack: no connection was made."""
    return isinstance(error, URLError) and isinstance(error.reason, NOT_CONNECTED)


class _PostsOnce(RetryHandler):
    """A slack_sdk retry handler that sends a post (POSTING_METHODS) again at once only when
    it never reached Slack; any other failure of a post is raised to the caller."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if posts(request) and not never_reached_slack(error):
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


class RepeatSafeConnectionRetry(_PostsOnce, ConnectionErrorRetryHandler):
    """slack_sdk's retry of a call whose connection failed; a post only if it never left."""


class RepeatSafeServerErrorRetry(_PostsOnce, ServerErrorRetryHandler):
    """slack_sdk's retry of a call Slack answered 500 or 503; never a post (Slack may answer
    5xx after it has posted the message)."""


class RateLimitRetryNotForPosts(_PostsOnce, RateLimitErrorRetryHandler):
    """slack_sdk's wait out a 429's Retry-After and call again, in the calling thread; never
    for a post. The dispatcher sends posts: a 429 goes back to it at once, which holds the
    channel for the Retry-After (no action of any lane starts on it meanwhile) and tries again
    then, the lane free for other channels' messages. Slept here, the wait (30 s is common)
    held the lane, and the other lanes went on asking the channel Slack had just refused."""


# What slack_sdk's client logs at ERROR for each try of a call that failed to get an answer.
SEND_FAILED = "Failed to send a request to Slack API server"


class ReportedFailures(logging.Filter):
    """slack_sdk's ERROR line for every failed try of a call (SEND_FAILED: three for one post
    while Slack refuses connections, with the host and port). Every caller of the client says
    once, in its own event, that the call failed after slack_sdk's tries (outbox.retry,
    outbox.dead_letter, slack.tell_failed, slack.home_failed, slack.listener_error), so these
    lines are shown only under DESKBRIDGE_LOG_LEVEL=DEBUG, as DEBUG; slack_sdk's other
    warnings and errors stand."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(SEND_FAILED):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def build_web_client(token: str | None, base_url: str | None = None) -> WebClient:
    base = base_url or SLACK_API
    # slack_sdk formats whole message bodies into DEBUG records whenever its logger's own level
    # is DEBUG or unset: give it a logger that never goes below INFO.
    sdk_log = logging.getLogger(SLACK_SDK_LOGGER)
    sdk_log.setLevel(max(sdk_log.level, logging.INFO))
    if not any(isinstance(f, ReportedFailures) for f in sdk_log.filters):
        sdk_log.addFilter(ReportedFailures())
    return KeepAliveWebClient(
        token=token,
        base_url=base if base.endswith("/") else base + "/",
        timeout=10,
        logger=sdk_log,
        retry_handlers=[
            RepeatSafeConnectionRetry(max_retry_count=2),
            RateLimitRetryNotForPosts(max_retry_count=1),
            RepeatSafeServerErrorRetry(max_retry_count=1),
        ],
    )


def describe_assignee(state: TicketState, rules: RulesConfig) -> str | None:
    """Whom the ticket is with: their roster name, else the helpdesk's user id; None when
    nobody is assigned. A lead sees whom to talk to without opening the ticket."""
    agent = rules.agent_by_helpdesk_id(state.source.value, state.assignee)
    return agent.name if agent else (f"user {state.assignee}" if state.assignee else None)


# A ticket known only by its comments so far (one delivered before its case's first
# notification, or a case whose own notifications never come): said, not an empty subject.
NOT_DESCRIBED = "(its subject and description have not arrived, only its comments)"


def describe_subject(state: TicketState) -> str:
    """The subject as messages show it; "" for a ticket the helpdesk sent without one."""
    if state.subject is None and state.snapshot_at is None:  # only comments on it so far
        return NOT_DESCRIBED
    return state.subject or ""


def build_view(
    state: TicketState, rules: RulesConfig, now: datetime, url: str | None = None
) -> TicketView:
    """What an alert shows of the ticket; `url` its page in the helpdesk, if known."""
    department = rules.departments.get(state.department) if state.department else None
    return TicketView(
        key=state.key,
        number=state.number or state.ticket_id,
        name=name_ticket(state),
        url=url,
        subject=describe_subject(state),
        customer=f"requester {state.requester}" if state.requester else None,
        assignee=describe_assignee(state, rules),
        priority=state.priority.value if state.priority else None,
        department=department.name if department else None,
        sla=tuple(describe_sla(state, rules, now)),
        status=state.status.value,
        acknowledged_by=state.acknowledged_by,
        page_acknowledged_by=state.oncall.acknowledged_by if state.oncall else None,
        page_withdrawn=state.oncall is not None and state.oncall.withdrawn_at is not None,
        page_chain=state.oncall.id if state.oncall else None,
        call_logged_by=state.call_logged_by,
        departments=tuple((key, d.name) for key, d in rules.departments.items()),
        escalated=tuple(state.escalation_signals),
        routed_by_hand=state.routed_by_hand,
    )


def resolve_channels(action: Action, state: TicketState | None, rules: RulesConfig) -> list[str]:
    """Where a people-facing action goes: channels by name or id, or a user id for a DM."""
    params = action.params
    target = params.get("target")
    if action.kind is ActionKind.route:
        return [params["channel"]]
    if action.kind is ActionKind.page_oncall:
        # A DM to each person paged, and the on-call (and, for leads, the lead) channel.
        return [*params.get("people", []), *params.get("channels", [])]
    if action.kind is ActionKind.escalate:
        return [c for c in (params.get("channel"), params.get("lead_channel")) if c]
    if target == "assignee":
        source = state.source.value if state else action.ticket.split(":", 1)[0]
        agent = rules.agent_by_helpdesk_id(
            source, params.get("assignee") or (state.assignee if state else None)
        )
        # Nobody on the roster to DM: the lead channel hears instead of nobody.
        return [agent.slack_id] if agent else [rules.team.lead_channel]
    return [params.get("channel") or rules.team.lead_channel]


@contextmanager
def naming_unreached(channels: list[str]) -> Iterator[None]:
    """A failure while posting to the first of `channels` names them as where the action has
    still to go (it goes to them in turn): a dead letter keeps them, so `deskbridge outbox
    --dead` shows the channel that refused it, not the action's `channel` setting or role,
    and `outbox retry` checks them for later messages."""
    try:
        yield
    except (RetryableError, PermanentError) as exc:
        exc.unreached = tuple(channels)
        raise


@dataclass
class _Prepared:
    """What `prepare` read for one action of a batch; its `perform` uses it once."""

    state: TicketState | None
    # The ticket's thread roots, oldest first (find_thread_root, list_thread_roots).
    roots: list[PostedMessage]
    # The action's messages recorded so far, by channel (find_posted), and its attempts.
    posted: dict[str, PostedMessage]
    attempts: Attempts | None

    def root(self, channel: str) -> PostedMessage | None:
        return next((r for r in self.roots if r.channel == channel), None)


class SlackNotifier:
    """Performs people-facing actions. Without a client it is a dry run that logs what it
    would send (channels and message title, never ticket text)."""

    def __init__(
        self,
        engine: Engine,
        rules: RulesConfig,
        clock: Callable[[], datetime],
        client: WebClient | None,
        min_interval: float = 1.0,
        ticket_link: Callable[[str], str | None] | None = None,
        writer: AbstractContextManager | None = None,
    ):
        self.engine = engine
        self.rules = rules
        self.clock = clock
        self.client = client
        self.interval = timedelta(seconds=min_interval)
        # A ticket key → its page in the helpdesk (connectors.registry.build_ticket_links).
        self.ticket_link = ticket_link
        # SQLite's one writer, shared with the decider and the dispatcher (see Dispatcher).
        self.writer = writer or nullcontext()
        # What was read for the dispatcher's current batch (`prepare`), by action key, and when.
        self._prepared: dict[str, _Prepared] = {}
        self._prepared_at = 0.0
        # Messages sent for prepared actions, recorded with their outcomes (`record`).
        self._unrecorded: list[tuple[PostedMessage, datetime]] = []
        self._unrecorded_lock = threading.Lock()
        # The thread roots (ts) a thread update has edited so far, by action key, while it is
        # performed over several attempts: one paced at a channel's turn (Paced, no attempt
        # used) continues where it stopped, and does not edit every earlier root again (an
        # acknowledgement said in five threads made eleven edits, each in its channel's turn).
        self._edited: dict[str, set[str]] = {}
        # When Slack answered this process's last call to each channel (lane): its next turn
        # is no sooner than a pace after it. A call that went out late (the process busy
        # between booking the slot and sending) would otherwise reach Slack less than a pace
        # before the next one, booked from the slot, and meet a 429 of our own making.
        self._answered: dict[str, datetime] = {}
        # How far apart Slack's answers on a busy channel come (a pace, plus the way there and
        # back): the spacing of the turns given to actions held back there.
        self._spacing: dict[str, timedelta] = {}
        # The last turn given to an action held back (Paced) on each channel: the next one held
        # back comes a spacing after it, so the actions waiting for a busy channel come back
        # one a turn. Given the channel's next turn all at once, every one of them was claimed
        # and held back again at each turn: work in proportion to the backlog, every second.
        self._turns: dict[str, datetime] = {}
        # The turn given to each action held back (by key) until it takes a slot: one back at
        # its turn that finds the slot taken keeps its place (the channel's next free slot),
        # rather than going behind every action held back since.
        self._given: dict[str, datetime] = {}
        self._turns_lock = threading.Lock()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with connect_for_reading(self.engine) as connection:
            yield connection

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self.writer, self.engine.begin() as connection:
            yield connection

    def prepare(self, actions: list[Action]) -> None:
        """Read what a dispatcher's batch of ticket actions needs at once, in three queries
        instead of four or five per action: the tickets, their thread roots and the messages
        already recorded for the actions, and (sending for real) the actions' attempts.
        `perform` uses each action's once (the ticket only for PREPARED_FOR seconds, then it
        reads it again). Called after the claim:
        no other dispatcher performs these actions meanwhile, nor (one row per lane, the
        ticket's) another message about their tickets."""
        actions = [
            a
            for a in actions
            if not a.ticket.startswith(JOB_SUBJECT)
            and a.kind is not ActionKind.coach
            and "digest" not in a.params
        ]
        tickets = {a.ticket for a in actions}
        keys = {a.key for a in actions}
        with self._reading() as connection:
            states = load_ticket_states(connection, tickets)
            messages = list_batch_messages(connection, tickets, keys)
            attempts = find_attempts_of(connection, keys) if self.client is not None else {}
        roots: dict[str, list[PostedMessage]] = {}
        posted: dict[str, dict[str, PostedMessage]] = {}
        for message in messages:
            if message.action_key in keys:
                posted.setdefault(message.action_key, {}).setdefault(message.channel, message)
            if message.begins_thread and message.ticket in tickets:
                roots.setdefault(message.ticket, []).append(message)
        self._prepared = {
            a.key: _Prepared(
                states[a.ticket][1] if a.ticket in states else None,
                list(roots.get(a.ticket, ())),
                dict(posted.get(a.key, {})),
                attempts.get(a.key),
            )
            for a in actions
        }
        self._prepared_at = time.monotonic()

    def record(self, connection: Connection) -> None:
        """Record the messages sent for prepared actions since the last call, in the
        dispatcher's transaction of their outcomes (one executemany, not a transaction per
        message). A process that dies before it leaves the actions to be performed again after
        the lease, and that attempt finds each message in Slack by its key (see _post_once)."""
        with self._unrecorded_lock:
            messages, self._unrecorded = self._unrecorded, []
        if messages:
            record_posted_messages(connection, messages)

    def _take_prepared(self, action: Action) -> _Prepared | None:
        # pop: the dispatcher may perform a batch's actions from several threads.
        prepared = self._prepared.pop(action.key, None)
        if prepared is not None and time.monotonic() - self._prepared_at >= PREPARED_FOR:
            # The view shows the ticket as it is now: read it again. The rest stays true (this
            # action's lane is the ticket's: nothing else posts about it meanwhile).
            prepared.state = self._load_ticket(action.ticket)
        return prepared

    def _load_ticket(self, key: str) -> TicketState | None:
        with self._reading() as connection:
            return load_ticket(connection, key)

    def perform(self, action: Action) -> dict[str, Any]:
        if action.kind is ActionKind.coach or "digest" in action.params:
            return self._send_plain(action)
        if action.ticket.startswith(JOB_SUBJECT):
            return self._post_job(action)
        known = self._take_prepared(action)
        state = known.state if known is not None else self._load_ticket(action.ticket)
        if state is None:
            raise PermanentError(f"unknown ticket {action.ticket}")
        if self.client is None:  # a dry run logs where it would go: no view to build
            if action.params.get("target") == "thread":
                return self._update_threads(action, None, known)
            return self._dry_run(action, resolve_channels(action, state, self.rules))
        view = build_view(state, self.rules, self.clock(), self._link(state.key))
        if action.params.get("target") == "thread":
            return self._update_threads(action, view, known)
        channels = resolve_channels(action, state, self.rules)
        for at, channel in enumerate(channels):
            with naming_unreached(channels[at:]):
                self._post(action, view, channel, known)
        return {"channels": channels}

    def _dry_run(self, action: Action, channels: list[str]) -> dict[str, Any]:
        log_event(
            log,
            logging.INFO,
            "slack.dry_run",
            ticket=action.ticket,
            action=action.kind.value,
            channels=",".join(channels),
        )
        return {"dry_run": True, "channels": channels}

    # -- coaching DMs and the leads' digest (about a person or a team, not one ticket) ----

    def _send_plain(self, action: Action) -> dict[str, Any]:
        if action.kind is ActionKind.coach:
            channel = action.params["person"]  # a DM, never a channel
            # A nudge about one ticket names it as its alerts do (a case by its CaseNumber).
            about_ticket = find_source(action.ticket) is not None
            state = self._load_ticket(action.ticket) if about_ticket else None
            name = name_ticket(state) if state is not None else None
            message = build_coach_message(action.to_record(), self._link(action.ticket), name)
        else:
            channel = action.params.get("channel") or self.rules.team.lead_channel
            message = build_digest_message(
                action.params["digest"], self.rules.team.name, action.params.get("csat")
            )
        if self.client is None:
            return self._dry_run(action, [channel])
        with naming_unreached([channel]):
            posted = self._post_once(action, channel, message)
            result: dict[str, Any] = {"channels": [channel], "ts": posted.ts}
            if "digest" in action.params:
                result["chart"] = self._upload_chart(action, posted)
        return result

    def _upload_chart(self, action: Action, message: PostedMessage) -> str:
        """The chart right under the digest (files_upload_v2: upload URL, upload, complete),
        once: a retried action finds it recorded."""
        from deskbridge.bot.chart import build_chart

        marker = f"{message.channel}#chart"
        with self._reading() as connection:
            done = find_posted(connection, action.key, marker)
            since = retried_since(find_attempts(connection, action.key))
        if done is not None:
            return done.ts
        digest = action.params["digest"]
        title = f"Responses against target, {describe_period(digest['period'], digest)}"
        filename = f"responses-{digest['date']}.png"
        file_id = None
        if since is not None:
            # A file share carries no metadata: an earlier attempt's chart is known by its
            # file name and title among the channel's messages since the first attempt.
            def charts(m: dict[str, Any] | None) -> list[dict[str, Any]]:
                return [
                    f
                    for f in (m or {}).get("files") or []
                    if f.get("name") == filename and f.get("title") == title
                ]

            shared = self._search(
                message.channel, message.channel_id, since, lambda m: bool(charts(m))
            )
            file_id = next((f["id"] for f in charts(shared)), None)
        found = file_id is not None
        if file_id is None:
            response = self._call(
                message.channel,
                "files_upload_v2",
                action_key=action.key,
                channel=message.channel_id,
                file=build_chart(digest, title),
                filename=filename,
                title=title,
                alt_txt="Bar chart of written responses per agent against their daily target",
            )
            file_id = (response.get("file") or {}).get("id", "")
        with self._writing() as connection:
            record_posted(
                connection,
                PostedMessage(action.ticket, marker, file_id, message.ts, action.key, {}),
                self.clock(),
            )
        log_event(
            log,
            logging.WARNING if found else logging.INFO,
            "slack.found_uploaded" if found else "slack.uploaded",
            ticket=action.ticket,
            file=file_id,
        )
        return file_id

    def _link(self, ticket: str) -> str | None:
        return self.ticket_link(ticket) if self.ticket_link else None

    # -- sending ----------------------------------------------------------------------

    def _post(
        self,
        action: Action,
        view: TicketView | None,
        channel: str,
        known: _Prepared | None = None,
    ) -> None:
        """Post one action to one channel; `view` None for a scheduled job's post, which is
        about no one ticket and so never threads. `known`: what `prepare` read for it."""
        root = None
        if view is not None and known is not None:
            root = known.root(channel)
        elif view is not None:
            with self._reading() as connection:
                root = find_thread_root(connection, action.ticket, channel)
        # Reached this channel on an earlier attempt: _post_once finds it recorded.
        record = action.to_record()
        if root is None:
            message = build_alert(record, view) if view else build_job_message(record)
            posted = self._post_once(action, channel, message, keep={"action": record}, known=known)
            if known is not None and view is not None:
                known.roots.append(posted)
        else:
            self._post_once(action, channel, build_thread_reply(record, view), root, known=known)

    def _post_once(
        self,
        action: Action,
        channel: str,
        message: dict[str, Any],
        root: PostedMessage | None = None,
        keep: dict[str, Any] | None = None,
        known: _Prepared | None = None,
    ) -> PostedMessage:
        """The one way a message is posted and recorded: once per action and channel (in
        `root`'s thread when given). The message carries the action's key as metadata, so a
        retry after an attempt that may have reached Slack (the process died, or the call
        failed, between Slack's answer and our record of it) first looks for it there and
        records what it finds instead of posting again. `keep`: more to record with it;
        `known`: what `prepare` read for the action (kept up to date with this post)."""
        if known is not None:
            posted, since = known.posted.get(channel), retried_since(known.attempts)
        else:
            with self._reading() as connection:
                posted = find_posted(connection, action.key, channel)
                since = retried_since(find_attempts(connection, action.key))
        if posted is not None:
            return posted
        reserved = False
        if since is not None:
            # The channel's turn first: a paced retry does not read the history again and again.
            reserved = self._reserve(channel, action.key)
            posted = self._find_sent(action, channel, root, since)
        found = posted is not None
        if posted is None:
            where = {"channel": root.channel_id, "thread_ts": root.ts} if root else {}
            response = self._call(
                channel,
                "chat_postMessage",
                reserved=reserved,
                action_key=action.key,
                **{"channel": channel, **where},
                metadata=build_metadata(action.key),
                **message,
            )
            posted = PostedMessage(
                action.ticket,
                channel,
                response["ts"],
                root.ts if root else None,
                action.key,
                {"channel_id": response.get("channel") or where.get("channel") or channel},
            )
        if keep:
            posted = replace(posted, payload={**posted.payload, **keep})
        if known is not None:  # a dispatcher's batch: recorded with the action's outcome
            known.posted[channel] = posted
            with self._unrecorded_lock:
                self._unrecorded.append((posted, self.clock()))
        else:
            with self._writing() as connection:
                record_posted(connection, posted, self.clock())
        # Found: an earlier attempt reached Slack and died or failed before recording it.
        log_event(
            log,
            logging.WARNING if found else logging.INFO,
            "slack.found_posted" if found else "slack.posted",
            ticket=action.ticket,
            action=action.kind.value,
            channel=channel,
            threaded=posted.thread_ts is not None,
        )
        return posted

    def _find_sent(
        self, action: Action, channel: str, root: PostedMessage | None, since: datetime
    ) -> PostedMessage | None:
        """The message an earlier attempt posted, if Slack has it: the channel's history (a
        thread's replies for a reply) since the first attempt, searched for the action's
        key in the messages' metadata."""
        try:
            conversation = root.channel_id if root else self._conversation_id(channel)
        except LookupRefused as exc:
            log_event(log, logging.WARNING, "slack.lookup_refused", channel=channel, error=str(exc))
            return None
        if conversation is None:
            return None
        message = self._search(
            channel, conversation, since, lambda m: parse_metadata_key(m) == action.key, root
        )
        if message is None:
            return None
        return PostedMessage(
            action.ticket,
            channel,
            message["ts"],
            root.ts if root else None,
            action.key,
            {"channel_id": conversation},
        )

    def _search(
        self,
        channel: str,
        conversation: str,
        since: datetime,
        match: Callable[[dict[str, Any]], bool],
        root: PostedMessage | None = None,
    ) -> dict[str, Any] | None:
        """The first message since `since` (less the clock margin) that `match`es, in the
        conversation's history or `root`'s thread; None when Slack has none. A lookup Slack
        refuses (scopes not granted, bot not in the channel) is logged and None: the caller
        sends, as it would without the check."""
        method, extra = (
            ("conversations_replies", {"ts": root.ts}) if root else ("conversations_history", {})
        )
        oldest = f"{(since - LOOKUP_MARGIN).timestamp():.6f}"
        cursor = None
        try:
            while True:
                page = self._read(
                    method,
                    channel=conversation,
                    oldest=oldest,
                    include_all_metadata=True,
                    limit=LOOKUP_PAGE,
                    cursor=cursor,
                    **extra,
                )
                found = next((m for m in page.get("messages") or [] if match(m)), None)
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if found is not None or not cursor:
                    return found
        except LookupRefused as exc:
            log_event(log, logging.WARNING, "slack.lookup_refused", channel=channel, error=str(exc))
            return None

    def _conversation_id(self, channel: str) -> str | None:
        """The id Slack reads a channel's history by: as recorded with an earlier message, the
        configured value when it is an id, the DM's id for a user, else found by name."""
        with self._reading() as connection:
            known = find_channel_id(connection, channel)
        if known is not None:
            return known
        if CONVERSATION_ID.match(channel):
            return channel
        if USER_ID.match(channel):
            return self._read("conversations_open", users=channel)["channel"]["id"]
        name = channel.removeprefix("#")
        cursor = None
        while True:
            page = self._read(
                "conversations_list",
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=LIST_PAGE,
                cursor=cursor,
            )
            for conversation in page.get("channels") or []:
                if conversation.get("name") == name:
                    return conversation["id"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def _read(self, method: str, **kwargs: Any) -> Any:
        """A lookup call: not paced (a read has its own rate limit, not the channel's one
        message a second); a rate limit or an outage is retried later, a refusal is
        LookupRefused."""
        try:
            return getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            error = _slack_error(exc)
            if _is_rate_limit(exc):
                raise RetryableError(
                    f"Slack rate limit on {method}", _retry_after(exc.response), throttled=True
                ) from None
            if error in PERMANENT_ERRORS:
                raise LookupRefused(f"{method}: {error}") from None
            raise RetryableError(f"Slack {method} failed: {_describe_failure(exc)}") from None
        except UNREACHABLE as exc:
            raise RetryableError(describe_unreachable("Slack", exc)) from None

    def _post_job(self, action: Action) -> dict[str, Any]:
        """A scheduled job's post (a hand-off, a digest): about no one ticket, so no thread."""
        channels = resolve_channels(action, None, self.rules)
        if self.client is None:
            log_event(
                log, logging.INFO, "slack.dry_run", job=action.ticket, channels=",".join(channels)
            )
            return {"dry_run": True, "channels": channels}
        for at, channel in enumerate(channels):
            with naming_unreached(channels[at:]):
                self._post(action, None, channel)
        return {"channels": channels}

    def _update_threads(
        self, action: Action, view: TicketView | None, known: _Prepared | None = None
    ) -> dict[str, Any]:
        """Reply in every thread about the ticket (`reply_in` "channels": only in channels'
        threads, and the DMs of the people in `reply_dm`; none in the channels of
        `reply_not_in`) and edit each thread's first message
        (a dry run, `view` None, counts the threads)."""
        if known is not None:
            roots = list(known.roots)
        else:
            with self._reading() as connection:
                roots = list_thread_roots(connection, action.ticket)
        if self.client is None:
            log_event(
                log,
                logging.INFO,
                "slack.dry_run",
                ticket=action.ticket,
                action="thread_update",
                threads=len(roots),
            )
            return {"dry_run": True, "threads": len(roots)}
        channels_only = action.params.get("reply_in") == "channels"
        dms = action.params.get("reply_dm") or ()
        # Threads whose first message says it already (a pick's department): edited only.
        skipped = action.params.get("reply_not_in") or ()
        if len(self._edited) > MAX_EDITS_KEPT:  # those of actions that never finished
            self._edited.clear()
        edited = self._edited.setdefault(action.key, set())
        for at, root in enumerate(roots):
            with naming_unreached([r.channel for r in roots[at:]]):
                dm_skipped = channels_only and root.in_dm and root.channel not in dms
                if not dm_skipped and root.channel not in skipped:
                    self._post(action, view, root.channel, known)
                if action.params.get("refresh") and root.ts not in edited:
                    message = build_alert(root.payload.get("action", {}), view)
                    self._call(
                        root.channel,
                        "chat_update",
                        action_key=action.key,
                        channel=root.channel_id,
                        ts=root.ts,
                        **message,
                    )
                    edited.add(root.ts)
        self._edited.pop(action.key, None)
        return {"threads": len(roots)}

    def _reserve(self, lane: str, action_key: str | None = None) -> bool:
        """Take the channel's next send slot (`lane`, the channel as configured), waiting for
        it when it is within BOOK_WITHIN, or raise Paced with how long until the action's turn
        (`_give_turn`)."""
        answered = self._answered.get(lane)
        not_before = answered + self.interval if answered is not None else None
        with self._writing() as connection:
            wait, booked = book_send_slot(
                connection, lane, self.clock(), self.interval, BOOK_WITHIN, not_before
            )
        if not booked:
            raise Paced(f"pacing {lane}", self._give_turn(lane, wait, action_key))
        if action_key is not None:
            with self._turns_lock:
                self._given.pop(action_key, None)
        if wait > timedelta(0):  # the slot is ours, a moment away: wait for it here
            time.sleep(wait.total_seconds())
        return True

    def _give_turn(self, lane: str, free_in: timedelta, action_key: str | None) -> float:
        """Seconds until the turn of an action held back on `lane`, whose next slot is free in
        `free_in`: that slot, or the channel's spacing after the turn given to the last one
        held back there, whichever is later. An action back at the turn it was given, whose
        slot was taken (answers a little late push the slots), has the next free slot."""
        now = self.clock()
        turn = now + free_in
        with self._turns_lock:
            last = self._turns.get(lane)
            if action_key not in self._given and last is not None:
                spacing = max(self.interval, self._spacing.get(lane, self.interval))
                turn = max(turn, last + spacing)
            self._turns[lane] = max(turn, last or turn)
            if action_key is not None:
                if len(self._given) >= MAX_TURNS_KEPT:
                    self._given = {k: t for k, t in self._given.items() if t > now}
                self._given[action_key] = turn
        return (turn - now).total_seconds()

    def _note_answer(self, lane: str) -> None:
        """Slack answered a call on `lane` now: the channel's next turn is a pace after it, and
        while it is busy its answers' spacing is followed."""
        now = self.clock()
        with self._turns_lock:
            last = self._answered.get(lane)
            self._answered[lane] = now
            if last is not None and now - last < 2 * self.interval:
                spacing = self._spacing.get(lane, self.interval)
                self._spacing[lane] = spacing * 0.8 + (now - last) * 0.2

    def _call(
        self,
        lane: str,
        method: str,
        reserved: bool = False,
        action_key: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """One Slack call, paced per channel (`lane`; `reserved` when its slot is already
        taken, for the action `action_key`); Slack's answer mapped to retry or dead letter."""
        channel = lane
        if not reserved:
            self._reserve(lane, action_key)
        try:
            response = self._send_or_plain(lane, method, kwargs)
        except SlackApiError as exc:
            self._note_answer(lane)
            error = _slack_error(exc)
            if _is_rate_limit(exc):
                retry_after = _retry_after(exc.response)
                with self._writing() as connection:
                    hold_channel(connection, channel, self.clock() + timedelta(seconds=retry_after))
                raise RetryableError(
                    f"Slack rate limit on {channel}", retry_after, throttled=True
                ) from None
            if error in PERMANENT_ERRORS:
                log_event(
                    log, logging.ERROR, "slack.refused", channel=channel, error=error, method=method
                )
                raise PermanentError(f"Slack refused {method} to {channel}: {error}") from None
            raise RetryableError(f"Slack {method} failed: {_describe_failure(exc)}") from None
        except UNREACHABLE as exc:
            raise RetryableError(describe_unreachable("Slack", exc)) from None
        self._note_answer(lane)
        return response

    def _send_or_plain(self, lane: str, method: str, kwargs: dict[str, Any]) -> Any:
        """Send; if Slack refuses the blocks, send once more as plain text (the message's
        `text`, which carries the ticket link) rather than lose the alert."""
        try:
            return getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            error = _slack_error(exc)
            if error not in BLOCKS_REFUSED or not kwargs.get("blocks"):
                raise
            log_event(
                log,
                logging.WARNING,
                "slack.blocks_refused",
                channel=lane,
                error=error,
                method=method,
            )
        # chat.update keeps a message's old blocks unless given new ones: an empty list.
        plain = {**kwargs, "text": clip(kwargs.get("text") or "", MESSAGE_TEXT)}
        if method == "chat_update":
            plain["blocks"] = []
        else:
            plain.pop("blocks")
        return getattr(self.client, method)(**plain)


def _slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "")) if exc.response is not None else ""


def _is_rate_limit(exc: SlackApiError) -> bool:
    return getattr(exc.response, "status_code", None) == 429 or _slack_error(exc) == "ratelimited"


def _describe_failure(exc: SlackApiError) -> str:
    """Slack's error code, else the HTTP status (a 5xx answers with no JSON)."""
    return _slack_error(exc) or str(getattr(exc.response, "status_code", None))


def _retry_after(response: Any) -> float:
    headers = getattr(response, "headers", {}) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(1.0, float(value if not isinstance(value, list) else value[0]))
            except ValueError:
                break
    return 30.0
