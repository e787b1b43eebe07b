"""The decider (DESIGN §3 steps 4 and 6): undecided events and due timers, in batches.

One batch is one transaction: take up to `batch` undecided events in arrival order (or due
timers in due order), fold each into its ticket's state, run the pure rules with the event's
own arrival time as `now`, and write outbox rows, timers, audit rows, replies, the tickets and
the events' decided mark with executemany. Events and timers are decided in one time order
whichever finds them first: a batch of events fires its tickets' timers due before each
event's arrival (the sweep behind), and the sweep decides its timers' tickets' events that
arrived before them (the decider behind), each as replay would. A timer caught up on long
after its time (an outage: decision_time) is fired on what is stored by then: its ticket's
events written before its due time are decided first, though they arrived after it. Ticket
states stay in memory between batches and are used again only while the stored row still has
the version we wrote; a row changed by someone else (another decider, a timer sweep in another
process) is read again.

Per-ticket order with several deciders on PostgreSQL: a batch first takes some of the ticket
partitions (transaction advisory locks, SKIP-LOCKED style: partitions another decider holds
are passed over), then only events of those partitions, oldest first. A rule that raises
marks that event (or timer) failed with the error (`deskbridge events --failed`, `deskbridge
timers --failed`; `deskbridge redecide` puts both back); the rest of the batch goes on.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING

from deskbridge.config.logging import OutageLog, describe_exception, log_event
from deskbridge.config.rules import RulesConfig
from deskbridge.store.interface import (
    FAILED,
    FIRED,
    RELATED_MOST,
    DueTimer,
    Store,
    StoredEvent,
    StoreSession,
    as_store,
    build_decision_rows,
    build_reply_row,
)
from deskbridge.workflows.actions import Action
from deskbridge.workflows.activity import Fact, build_action_facts, build_event_facts
from deskbridge.workflows.decision import (
    Context,
    Decision,
    RelatedTicket,
    Timer,
    decision_time,
)
from deskbridge.workflows.model import TicketEvent, TicketState, load_event_json
from deskbridge.workflows.rotation import Override
from deskbridge.workflows.rules import evaluate_rules_to_state, evaluate_timer_to_state
from deskbridge.workflows.state import apply_event, mark_fired, new_state

if TYPE_CHECKING:  # prometheus_client is imported only by the processes that serve metrics
    from sqlalchemy import Engine

    from deskbridge.workflows.metrics import Metrics

log = logging.getLogger("deskbridge.decider")

# Ticket states kept between batches (the least recently written go first). About 6 KB each
# (benchmarks/soak_memory.py): 12 MB, full within two minutes at 200 events/s, when a bound of
# 20,000 (120-170 MB) took 11 minutes to fill and RSS rose until then. The soak's events touch
# no ticket beyond these; one that is not kept is read from the store with the batch's others,
# 0.1-0.16 ms of CPU each (benchmarks/README, "Where the RSS goes").
CACHE_TICKETS = 2_000
# The longest the decider (and dispatcher) wait for a pause in acknowledgements between two
# items of work: under constant webhook load they still move on after 5 ms.
STEP_ASIDE_MAX = 0.005
# The decider works this long between two steps aside (as the dispatcher does): stepping
# aside after every event cost up to STEP_ASIDE_MAX each under constant webhook load, which
# capped deciding near 200 events/s whatever the rules cost.
STEP_EVERY = 0.01
# While webhooks are being acknowledged in this process and the decider is less than
# ACK_PRIORITY_LAG seconds behind, a batch of events claims at most ACK_BATCH_CLAIM and ends
# after ACK_BATCH_MAX of deciding (the rest stays undecided for the next batch): its write
# holds SQLite's one writer, which acknowledgements wait for, and batches of 500 held it
# 185 ms at the median and up to 1.1 s under load (benchmarks/README). Small batches cost
# the decider more per event; further behind it goes back to full ones, so a burst is
# acknowledged first and the lag stays bounded.
ACK_PRIORITY_LAG = 1.0
ACK_BATCH_MAX = 0.02
ACK_BATCH_CLAIM = 50
# The longest the dispatcher waits between two actions while due timers are being fired: a
# burst of 1,000 deadlines is fired first, and a long backlog of timers still lets actions
# through (one per 50 ms at worst).
TIMERS_ASIDE_MAX = 0.05
# Overrides that ended this long before a batch are not read for it.
OVERRIDE_SLACK = timedelta(days=1)
# Past the repeat-contact window's later edge: the store's `until` is exclusive, and a ticket
# opened exactly a window after another is in it, as one exactly a window before is.
WINDOW_EDGE = timedelta(microseconds=1)
# Related tickets in the order they were opened.
_created_at = attrgetter("created_at")


@dataclass
class Decided:
    """What one event or timer decided (or why it failed)."""

    cause: str  # the event's dedupe key, or timer:<id>
    ticket: str
    at: datetime  # the `now` the rules decided with
    actions: list[Action] = field(default_factory=list)
    error: str | None = None
    due_at: datetime | None = None  # a timer's due time

    @property
    def is_timer(self) -> bool:
        """A timer fired (or failed), not an event decided."""
        return self.due_at is not None


class _Conflict(Exception):
    """A ticket row changed under this batch: roll back and decide again from the store."""


class _RelatedConflict(_Conflict):
    """A ticket of one of the batch's requesters was written by another decider meanwhile
    (_check_related)."""


@dataclass
class _Batch:
    """Everything one transaction writes, gathered in memory first."""

    now: datetime
    states: dict[str, TicketState | None]
    versions: dict[str, int | None]
    dirty: set[str] = field(default_factory=set)
    actions: list[Action] = field(default_factory=list)
    audit: list[dict] = field(default_factory=list)
    # The last word on each timer id in this batch: a Timer to set, None to cancel.
    timers: dict[str, Timer | None] = field(default_factory=dict)
    replies: list[dict] = field(default_factory=list)
    # Countable facts for coaching and the leads' review (workflows/activity.py).
    facts: list[Fact] = field(default_factory=list)
    decided_events: list[int] = field(default_factory=list)
    failed_events: list[tuple[int, str]] = field(default_factory=list)
    fired_timers: list[DueTimer] = field(default_factory=list)
    failed_timers: list[tuple[DueTimer, str]] = field(default_factory=list)
    # `timer.fired` log lines, written after the commit (the timer, its `now`, its actions).
    fired_log: list[tuple[Timer, datetime, int]] = field(default_factory=list)
    # The decisions' warnings (Decision.warnings), logged after the commit.
    warnings: list[tuple[str, dict]] = field(default_factory=list)
    results: list[Decided] = field(default_factory=list)
    # On-call overrides made in Slack (paging reads them with the rotation).
    oncall_overrides: tuple[Override, ...] = ()
    # The shell's clock, when a live batch decides (`Context.decided_at`): timers fired at
    # their due times (the sweep behind) report how late they really went out, and paging
    # caught up long after an event's or a timer's time reads the hour and who is on call
    # then. None on replay's simulated clock, whose events and timers go out at their time.
    decided_at: datetime | None = None
    # Timers to fire in this batch, soonest first — (due_at, id, sequence, stored DueTimer
    # or set Timer): between the events (Decider.decide_pending live, and
    # Decider.decide_in_time_order on replay's simulated clock), or the claimed ones and
    # those firing them sets (Decider.fire_due_timers). The sequence is unique, so two
    # entries of one id and due time are never compared.
    due: list[tuple] | None = None
    # A timer set due later than this cannot fire in this batch, and is only stored (most
    # are due hours later): the last of the batch's events' arrivals, or the timers' `now`.
    due_until: datetime | None = None
    sequence: Iterator[int] = field(default_factory=itertools.count)
    # The batch's events, parsed once (or why they could not be), by stored event id.
    events: dict[int, TicketEvent | Exception] = field(default_factory=dict)
    # Stored tickets of the batch's requesters opened within `related_window` (read once).
    related: dict[str, list[RelatedTicket]] = field(default_factory=dict)
    related_window: tuple[datetime, datetime] | None = None
    # The tickets this batch changed, by (source, requester): repeat contacts look here.
    by_requester: dict[tuple, set[str]] = field(default_factory=dict)
    # Timers set and fired within this batch, by id: each with None when it fired, its
    # error when its rule raised (stored failed).
    done_here: dict[str, tuple[Timer, str | None]] = field(default_factory=dict)
    # A live batch's events not decided yet, by ticket, then stored id (arrival order): a
    # timer caught up on decides those written before its due time first (_decide_known_by).
    waiting: dict[str, dict[int, StoredEvent]] = field(default_factory=dict)
    # Events decided ahead of their turn for such a timer: passed over in their turn.
    ahead: set[int] = field(default_factory=set)
    # The tickets whose events stored after the batch's own (by its `now`) are in `waiting`
    # (_read_known), and how many past the batch's own such a read takes.
    read_ahead: set[str] = field(default_factory=set)
    read_most: int = 0
    # The requesters whose tickets `related` holds (read once, before any later read_ahead).
    related_requesters: set[str] = field(default_factory=set)
    # What the batch's repeat-contact lookups saw, checked again before it is written
    # (_check_related): the stored tickets' keys, and each lookup outside `related` as
    # (requester, key prefix, since, until); a requester whose lookup hit its limit is not
    # checked (it has enough tickets to be a repeat contact whatever else came).
    related_seen: set[str] = field(default_factory=set)
    related_reads: list[tuple[str, str, datetime, datetime]] = field(default_factory=list)
    related_full: set[str] = field(default_factory=set)


class _Acknowledging:
    """`Decider.acknowledging`: counts the webhook requests in progress. A plain context
    manager, one for the decider, not a generator's made for every request."""

    __slots__ = ("_decider",)

    def __init__(self, decider: Decider):
        self._decider = decider

    def __enter__(self) -> None:
        # One item a request in progress: list.append and list.pop are each one step under
        # the GIL, so no lock is taken around them (callgrind: 7.4k -> 3.7k instructions a
        # request).
        self._decider._acks.append(None)

    def __exit__(self, *exc_info: object) -> None:
        self._decider._acks.pop()


class Decider:
    def __init__(
        self,
        store: Engine | Store,
        rules: RulesConfig,
        clock: Callable[[], datetime],
        metrics: Metrics | None = None,
        batch: int = 500,
        shards_per_batch: int = 16,
        cache_tickets: int = CACHE_TICKETS,
    ):
        self.store = as_store(store)
        self.rules = rules
        # What the hot loop reads of the rules on every event, read once (the rules never
        # change under a decider; each read of a config model's field is pydantic's slow
        # attribute path on 3.11): the repeat-contact window (None: risk is off), and the
        # settings the event's facts are counted by.
        risk = rules.risk
        self._related_window = (
            risk.repeat_contact_window if risk is not None and risk.enabled else None
        )
        self._csat_field = rules.coaching.csat_field
        self._call_logged_tag = rules.three_responses.call_logged_tag
        self.clock = clock
        self.metrics = metrics
        self.batch = batch
        self.shards_per_batch = shards_per_batch
        # The store's one writer (SQLite): the service's acknowledgements queue on it too.
        self.writer = self.store.writer
        # One batch at a time per process: the cache below is this decider's own.
        self._busy = threading.Lock()
        self._cache: OrderedDict[str, tuple[int, TicketState]] = OrderedDict()
        self.cache_tickets = cache_tickets
        self._wake = threading.Event()
        self._outage = OutageLog(log, "decider.store_unavailable", "decider.store_recovered")
        # Acknowledgements in progress in this process (serve): the decider gives them the
        # GIL between events, so a burst is acknowledged first and decided just after. One
        # item a request (see _Acknowledging).
        self._acks: list[None] = []
        self._acks_lock = threading.Lock()
        self._acknowledging = _Acknowledging(self)
        # The last batch ended early, or claimed less, for acknowledgements: more may be
        # waiting, decide again at once.
        self._cut_short = False
        # The last attempt rolled back for a requester's new ticket (_RelatedConflict): the
        # next holds its requesters from before it reads their tickets (_read_related).
        self._hold_requesters = False
        # How long before the batch's `now` the last event decided arrived (seconds).
        self._behind = 0.0
        # Set when a batch commits a timer: the timer loop (app.Runtime.run_timers) sleeps
        # until the soonest due time and must hear of a sooner one.
        self.timers_set = threading.Event()
        # Timer batches in progress in this process: the dispatcher steps aside for them, so
        # a burst of deadlines is fired before the actions it queued are performed.
        self._firing = 0

    def step_aside(self, for_timers: bool = False) -> None:
        """While webhooks are being acknowledged in this process, wait (up to STEP_ASIDE_MAX)
        for a pause: one process has one GIL, and acknowledging comes first. `for_timers`
        (the dispatcher): while a batch of due timers is being fired, wait for it too (up to
        TIMERS_ASIDE_MAX), so a burst of deadlines is fired before the actions it queued are
        performed. Background loops call this between items of work."""
        waited = 0.0
        while self._acks and waited < STEP_ASIDE_MAX:
            time.sleep(0.001)
            waited += 0.001
        waited = 0.0
        while for_timers and self._firing and waited < TIMERS_ASIDE_MAX:
            time.sleep(0.001)
            waited += 0.001

    def acknowledging(self) -> AbstractContextManager[None]:
        """Wrap a webhook request: while any is in progress the decider yields between
        events."""
        return self._acknowledging

    # -- the loop ------------------------------------------------------------------------

    def wake(self) -> None:
        """New events are stored: decide now rather than at the next poll."""
        # Already set: the decider has not yet cleared it, and clears it before it reads
        # the events (every acknowledgement calls this; set() takes a lock and notifies).
        if not self._wake.is_set():
            self._wake.set()

    def run(self, stop: threading.Event, poll: float = 0.5, linger: float = 0.002) -> None:
        """Decide until `stop` is set. Woken by `wake()`; polls every `poll` s as a fallback
        (events stored by another process). After a wake it lingers `linger` s so a burst is
        decided as one batch rather than one event at a time."""
        # serve and worker only: replay never runs this, nor pays for importing SQLAlchemy.
        from sqlalchemy.exc import DBAPIError

        from deskbridge.store.db import describe_store_error

        log_event(log, logging.INFO, "decider.started", poll_s=poll, batch=self.batch)
        while not stop.is_set():
            decided: list[Decided] = []
            try:
                decided = self.decide_pending()
            except DBAPIError as exc:
                self._outage.failed(**describe_store_error(exc))
            except Exception as exc:  # a bug must not stop deciding for good; the events wait
                log_event(
                    log, logging.ERROR, "decider.error", exc_info=True, **describe_exception(exc)
                )
            else:
                self._outage.succeeded()
            if len(decided) >= self.batch or self._cut_short:
                continue  # a backlog: go on at once
            if self._wake.wait(poll):
                self._wake.clear()
                stop.wait(linger)

    # -- events --------------------------------------------------------------------------

    def decide_pending(
        self, limit: int | None = None, now: datetime | None = None
    ) -> list[Decided]:
        """Decide one batch of undecided events (up to `limit`, default `batch`), in one
        transaction; returns what each event decided, in arrival order, and before each what
        the batch's tickets' timers due by its arrival decided (a sweep behind). `now`
        (default: the clock) stamps the rows written; the rules decide with each event's
        arrival time, and each timer's with its due time."""

        def fill(session: StoreSession) -> _Batch | None:
            self._cut_short = False
            shards = session.lock_shards(self.shards_per_batch)
            if shards == []:
                return None
            most = limit or self.batch
            short = bool(self._acks) and self._behind < ACK_PRIORITY_LAG
            if short:
                most = min(most, ACK_BATCH_CLAIM)
            rows = session.claim_undecided_events(most, shards)
            if not rows:
                self._behind = 0.0
                return None
            tickets = {r.ticket for r in rows}
            latest = max(r.received_at for r in rows)
            # The sweep behind (load, a restart, a long batch): these tickets' timers due
            # before an event's arrival fire before it, as replay fires them, or a reply at
            # 10:05 would stop the breach due at 10:00 and an acknowledgement cancel the page
            # step due before it. Mostly none: one indexed read that finds nothing. These
            # tickets' partitions are this batch's already: partitions before timer rows.
            stored = session.claim_due_timers(latest, most, tickets)
            # A full claim: events from its last timer's due time on wait for the next
            # batch, after the timers not claimed (as in decide_in_time_order).
            cutoff = stored[-1].timer.due_at if len(stored) == most else None
            batch = self._start(session, tickets, now)
            batch.decided_at = batch.now
            self._parse_events(batch, rows)
            batch.read_most = most
            self._read_known(session, batch, self._caught_up(batch, stored))
            self._read_related(session, batch)
            batch.due = [(d.timer.due_at, d.timer.id, next(batch.sequence), d) for d in stored]
            heapq.heapify(batch.due)
            batch.due_until = latest
            started = time.monotonic()
            aside_at = started + STEP_EVERY
            n = 0
            # Each timer fires with its due time as the rules' clock, not this batch's `now`:
            # the events around it decide with their arrival times, so the ticket is decided
            # as replay decides it (and as a sweep on time would have), not as one late.
            for n, _row in enumerate(self._in_time_order(session, batch, rows, cutoff), 1):
                at = time.monotonic()
                if short and n < len(rows) and at - started >= ACK_BATCH_MAX:
                    self._cut_short = True  # a short write; the rest in the next batch
                    break
                if at >= aside_at:
                    self.step_aside()
                    aside_at = time.monotonic() + STEP_EVERY
            else:
                if n < len(rows):  # stopped at a full claim's last timer: fire up to it
                    last = stored[-1].timer
                    self._fire_due_in_batch(session, batch, last.due_at, last.id)
                    self._cut_short = True
                else:  # a claim made small for acknowledgements, and full: more may wait
                    self._cut_short = len(rows) == most < (limit or self.batch)
            self._behind = (batch.now - rows[max(n, 1) - 1].received_at).total_seconds()
            return batch

        return self._run_batch(fill)

    def decide_in_time_order(self) -> list[Decided]:
        """Replay's simulated clock: one batch of undecided events in arrival order and,
        before each, every timer due by its arrival (stored ones and those this batch sets),
        each fired at its own due time — all in one transaction. What it decides equals
        firing the due timers (`fire_due_timers` at their due times) before deciding each
        event alone, in far fewer, larger transactions. Returns what each timer and event
        decided, in that order."""

        def fill(session: StoreSession) -> _Batch | None:
            shards = session.lock_shards(self.shards_per_batch)
            if shards == []:
                return None
            rows = session.claim_undecided_events(self.batch, shards)
            if not rows:
                return None
            latest = max(r.received_at for r in rows)
            stored = session.claim_due_timers(latest, self.batch)
            # More stored timers due than one claim takes: events from the last one's due
            # time on wait for the next batch, after the rest of those timers.
            cutoff = stored[-1].timer.due_at if len(stored) == self.batch else None
            batch = self._start(
                session, {r.ticket for r in rows} | {d.timer.ticket for d in stored}
            )
            self._parse_events(batch, rows)
            self._read_related(session, batch)
            batch.due = [(d.timer.due_at, d.timer.id, next(batch.sequence), d) for d in stored]
            heapq.heapify(batch.due)
            batch.due_until = latest
            for _row in self._in_time_order(session, batch, rows, cutoff):
                pass
            if cutoff is not None:
                self._fire_due_in_batch(session, batch, cutoff, stored[-1].timer.id)
            return batch

        return self._run_batch(fill)

    def _in_time_order(
        self,
        session: StoreSession,
        batch: _Batch,
        rows: list[StoredEvent],
        cutoff: datetime | None,
        now: datetime | None = None,
    ) -> Iterator[StoredEvent]:
        """Decide `rows` in arrival order, firing before each the batch's timers due by its
        arrival (each at its due time, or at `now` when given) — the one order of events and
        timers, for the live decider, replay's batches and the sweep alike. Yields each event
        once decided: the live decider may end its batch after any (what is left waits for
        the next). With a `cutoff` (a full claim of timers, the last due then), the events
        from that time on are left undecided for the next batch, after the rest of those
        timers."""
        ahead = batch.ahead
        for row in rows:
            if cutoff is not None and row.received_at >= cutoff:
                return
            self._fire_due_in_batch(session, batch, row.received_at, now=now)
            if not ahead or row.id not in ahead:  # else decided already, before a timer
                self._decide_event(session, batch, row)
            yield row

    def _fire_due_in_batch(
        self,
        session: StoreSession,
        batch: _Batch,
        until: datetime,
        last_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Fire, soonest first (by due time, then id, as timers are claimed), the batch's
        timers due by `until` — of those due at `until`, only ids up to `last_id` when given
        (a full claim's last timer: the next claim takes the ones after it) — each at its due
        time, or at `now` when given."""
        due = batch.due
        assert due is not None
        while due and due[0][0] <= until:
            if last_id is not None and due[0][0] == until and due[0][1] > last_id:
                break
            item = heapq.heappop(due)[3]
            timer = item.timer if isinstance(item, DueTimer) else item
            at = now or timer.due_at
            if batch.decided_at is not None:  # live: it may be caught up on
                self._decide_known_by(session, batch, timer, at)
            if isinstance(item, DueTimer):
                self._fire(batch, item, at)
            elif batch.timers.get(item.id) is item:  # still this batch's last word on it
                del batch.timers[item.id]
                self._fire(batch, None, at, set_here=item)

    def _decide_known_by(
        self, session: StoreSession, batch: _Batch, timer: Timer, now: datetime
    ) -> None:
        """A timer caught up on (decided more than CATCH_UP_AFTER after its due time:
        decision_time) is fired on what is stored by then: its ticket's events written before
        its due time are decided first, though they arrived after it (the webhook down too,
        the helpdesk retrying), as one stored before it would have been. Else the catch-up
        pages on call for a ticket whose reply is stored, and the reply withdraws the page in
        the same batch. One written at the due time or after stays after it, as one arriving
        then does (at one instant the timer goes first); on time (replay, a sweep a little
        late) nothing that arrived after a timer is decided before it. The first time one of
        a ticket's timers is caught up on, its events stored after the batch's are read, if
        not read already: a deadline set in this batch (a ticket created while the decider
        was down) may wait for a reply stored after the batch's last event."""
        due = timer.due_at
        if decision_time(due, now, batch.decided_at) == due:
            return
        if timer.ticket not in batch.read_ahead:
            self._read_known(session, batch, {timer.ticket})
        waiting = batch.waiting.get(timer.ticket)
        if not waiting:
            return
        for row in list(waiting.values()):
            event = batch.events.get(row.id)
            # One that cannot be read waits for its turn, and fails then.
            if isinstance(event, TicketEvent) and event.occurred_at < due:
                batch.ahead.add(row.id)
                self._decide_event(session, batch, row)

    def _parse_events(self, batch: _Batch, rows: list[StoredEvent]) -> None:
        """The batch's events, parsed once; one that cannot be is kept as its error, and
        fails in its turn (`_decide_event`). A live batch (`decided_at`) keeps them by ticket
        until decided (`waiting`)."""
        if batch.decided_at is not None:
            for row in rows:
                batch.waiting.setdefault(row.ticket, {})[row.id] = row
        for row in rows:
            try:
                event = row.event
                if event is None:
                    raise ValueError("stored before the decider existed: no normalised event")
                if not isinstance(event, TicketEvent):  # its JSON, as a database stores it
                    event = load_event_json(event)
                batch.events[row.id] = event
            except Exception as exc:
                batch.events[row.id] = exc

    @staticmethod
    def _caught_up(batch: _Batch, due: list[DueTimer]) -> set[str]:
        """The tickets of the claimed timers that this batch catches up on (decision_time)."""
        return {
            d.timer.ticket
            for d in due
            if decision_time(d.timer.due_at, d.timer.due_at, batch.decided_at) != d.timer.due_at
        }

    def _read_known(self, session: StoreSession, batch: _Batch, tickets: set[str]) -> None:
        """The events of `tickets` stored after the batch's own (up to `read_most` past them,
        by its `now`), for timers caught up on: one written before such a timer's due time
        is decided before it (_decide_known_by); the others wait for their turn, undecided.
        Read once a ticket: the claimed timers' tickets together, before deciding, and a
        ticket whose deadline this batch set when that deadline is caught up on. All are the
        batch's own tickets, so on PostgreSQL in its own partitions."""
        tickets = tickets - batch.read_ahead
        if tickets:  # the batch's own come first (arrival order): read past them
            batch.read_ahead |= tickets
            limit = batch.read_most + len(batch.events)
            rows = session.claim_ticket_events(tickets, batch.now, limit)
            self._parse_events(batch, [r for r in rows if r.id not in batch.events])

    def _read_related(self, session: StoreSession, batch: _Batch) -> None:
        """The stored tickets of the batch's requesters (repeat contacts), in one query over
        the window around every ticket the batch knows."""
        requesters, opened = set(), []
        for event in batch.events.values():
            if isinstance(event, Exception):
                continue
            state = batch.states.get(event.ticket_key)
            for requester, created_at in (
                (event.ticket.requester, event.ticket.created_at),
                (state and state.requester, state and state.created_at),
            ):
                if requester and created_at:
                    requesters.add(requester)
                    opened.append(created_at)
        window = self._related_window
        if requesters and window is not None:
            if self._hold_requesters:
                # Decided again after another decider wrote one of these requesters' tickets
                # (one opening many at once, an integration): wait for such a writer now,
                # rather than be rolled back by the next one at the write, time after time.
                session.lock_requesters(requesters)
            batch.related_requesters = requesters
            batch.related_window = (min(opened) - window, max(opened) + window + WINDOW_EDGE)
            batch.related = session.list_tickets_of_requesters(requesters, *batch.related_window)
            for found in batch.related.values():
                batch.related_seen.update(r.key for r in found)

    def _decide_event(self, session: StoreSession, batch: _Batch, row: StoredEvent) -> None:
        waiting = batch.waiting.get(row.ticket)
        if waiting:
            waiting.pop(row.id, None)
        try:
            event = batch.events[row.id]
            if isinstance(event, Exception):
                raise event
            key = event.ticket_key
            previous = batch.states.get(key)
            state, _stale = apply_event(previous or new_state(event), event)
            # Context(now, rules, previous, related, oncall_overrides, decided_at), by position:
            # one per event and timer, and keywords cost as much as making it.
            ctx = Context(
                row.received_at,
                self.rules,
                previous,
                self._related(session, batch, state),
                batch.oncall_overrides,
                batch.decided_at,
            )
            decision, after = evaluate_rules_to_state(state, event, ctx)
        except Exception as exc:  # a poison event must not stop the others
            # The failed row keeps the message (`deskbridge events --failed`); the log line says
            # only the type and where it was raised: the message may quote the ticket.
            error = f"{type(exc).__name__}: {exc}"
            batch.failed_events.append((row.id, error))
            batch.results.append(Decided(row.dedupe_key, row.ticket, row.received_at, error=error))
            log_event(
                log,
                logging.ERROR,
                "event.failed",
                ticket=row.ticket,
                event_id=row.id,
                **describe_exception(exc),
            )
            if self.metrics is not None:
                self.metrics.events_failed.inc()
            return
        actions = self._apply(batch, state, decision, event.dedupe_key, after)
        decided = batch.states[key]
        batch.facts += build_event_facts(
            previous,
            decided,
            event,
            self._csat_field,
            self._call_logged_tag,
        )
        batch.facts += build_action_facts(actions, event.occurred_at)
        comment = event.comment
        if comment is not None and comment.is_public_agent_reply:
            # A reply whose helpdesk does not say who wrote it (a Salesforce EmailMessage
            # without CreatedById, a trigger body without an author) is the owner's.
            author = comment.author_id or decided.assignee
            batch.replies.append(build_reply_row(comment.id, key, author, event.occurred_at))
        batch.decided_events.append(row.id)
        batch.results.append(Decided(event.dedupe_key, key, row.received_at, actions))

    def _related(
        self, session: StoreSession, batch: _Batch, state: TicketState
    ) -> tuple[RelatedTicket, ...]:
        """The requester's other tickets opened in the repeat-contact window around this one:
        stored rows, corrected by the states this batch has changed but not yet written."""
        window = self._related_window
        if not (state.requester and state.created_at and window is not None):
            return ()
        # The window on both sides of this ticket: the earlier ticket's events may come last,
        # and then the later ones are its repeat contacts (risk.later_contacts). Both edges
        # are in it (WINDOW_EDGE).
        since = state.created_at - window
        until = state.created_at + window + WINDOW_EDGE
        read = batch.related_window
        if (
            read is not None
            and read[0] <= since
            and until <= read[1]
            and state.requester in batch.related_requesters
        ):
            prefix = f"{state.source._value_}:"
            stored = [
                r
                for r in batch.related.get(state.requester, ())
                if r.key != state.key and r.key.startswith(prefix) and since <= r.created_at < until
            ][:RELATED_MOST]
        else:  # outside what the batch read (a requester or date the event changed, or an
            # event read after it: _read_known)
            source = state.source.value
            stored = session.list_requester_tickets(
                source, state.requester, state.key, since, until
            )
            batch.related_seen.update(r.key for r in stored)
            batch.related_reads.append((state.requester, f"{source}:", since, until))
            if len(stored) >= RELATED_MOST:
                batch.related_full.add(state.requester)
        found = {r.key: r for r in stored if r.key not in batch.dirty} if stored else {}
        for key in batch.by_requester.get((state.source, state.requester), ()):
            other = batch.states.get(key)
            if (
                other is not None
                and key != state.key
                and other.source is state.source
                and other.requester == state.requester
                and other.created_at is not None
                and since <= other.created_at < until
            ):
                found[key] = RelatedTicket(
                    key=key,
                    created_at=other.created_at,
                    escalation_signals=tuple(other.escalation_signals),
                )
        if not found:  # most requesters have no other ticket
            return ()
        return tuple(sorted(found.values(), key=_created_at))

    # -- timers --------------------------------------------------------------------------

    def fire_due_timers(
        self,
        now: datetime | None = None,
        limit: int = 500,
        at_due_time: bool = False,
        event_limit: int | None = None,
    ) -> list[Decided]:
        """Fire timers due by `now` (up to `limit`, soonest first) in one transaction; each
        with `now` as the rules' clock, or its own due time with `at_due_time` (replay's
        simulated clock). Safe from several loops at once: a timer fires once per generation
        (SKIP LOCKED), and a ticket another decider holds is waited for.

        The timers' tickets' undecided events that arrived by then (the decider behind, or
        a worker restarting while the web goes on storing) are decided in the same batch,
        in time order with the timers, as replay decides them: an acknowledgement stored at
        02:09 cancels the page due at 02:10 before it fires; a reply stored before the SLA
        breach time stops the breach. An event whose rule raises is marked failed in its
        turn, as the decider marks it, and the timers after it fire: a failed event never
        holds a ticket's timers back. At most `event_limit` events (default: the decider's
        `batch`) are decided in one sweep: after an outage those tickets may have tens of
        thousands waiting, and one transaction would hold the writer (SQLite) and the memory
        for all of them. The timers due after the first event left are left for the next
        sweep (or the decider's next batch), so the order stays replay's."""
        at = now or self.clock()
        most_events = event_limit or self.batch

        def fill(session: StoreSession) -> _Batch | None:
            due = session.claim_due_timers(at, limit)
            if not due:
                return None
            tickets = {d.timer.ticket for d in due}
            # A timer set while firing one (a chain's next step) and due by `at` fires in this
            # batch at its place in due order, as it would have had it been stored before the
            # claim. Past a full claim's last timer it waits for the next claim, with the
            # stored timers after that one (and the events from its due time on).
            last = due[-1].timer if len(due) == limit else None
            until = at if last is None else last.due_at
            # One more than are decided: the first event left behind, if any.
            rows = session.claim_ticket_events(tickets, until, most_events + 1)
            # After the events, the timers due by `until`; with events left behind, only
            # those due by the first one's arrival (a timer due then fires before it, as in
            # `_in_time_order`): replay decides that event before any due later. The rest
            # wait, with it, for the next sweep or decider batch.
            fire_until, last_id = until, last and last.id
            left_behind = len(rows) > most_events
            if left_behind:
                first_left = rows.pop().received_at
                if first_left < until:
                    fire_until, last_id = first_left, None
            batch = self._start(session, tickets, at)
            if not at_due_time:
                batch.decided_at = at
            self._parse_events(batch, rows)
            # A full claim reads events only up to its last timer's due time, and the event
            # limit may leave some behind: a reply written before a deadline the sweep
            # catches up on may have been stored after them. Else every event stored by `at`
            # is the batch's already.
            batch.read_most = most_events
            if left_behind or until < at:
                self._read_known(session, batch, self._caught_up(batch, due))
            else:
                batch.read_ahead |= tickets
            if batch.events:
                self._read_related(session, batch)
            batch.due = [(d.timer.due_at, d.timer.id, next(batch.sequence), d) for d in due]
            heapq.heapify(batch.due)
            batch.due_until = until
            fire_at = None if at_due_time else at
            for _row in self._in_time_order(session, batch, rows, last and until, fire_at):
                pass
            self._fire_due_in_batch(session, batch, fire_until, last_id, fire_at)
            return batch

        with self.firing():
            return self._run_batch(fill)

    @contextmanager
    def firing(self) -> Iterator[None]:
        """Wrap the firing of due timers (a batch, or a sweep of several): meanwhile the
        dispatcher steps aside (`step_aside(for_timers=True)`)."""
        with self._acks_lock:
            self._firing += 1
        try:
            yield
        finally:
            with self._acks_lock:
                self._firing -= 1

    def next_due_at(self) -> datetime | None:
        """The soonest due time of a pending timer (one indexed read; on SQLite a WAL snapshot
        that waits for no writer)."""
        with self.store.reading() as session:
            return session.next_due_at()

    def _fire(
        self, batch: _Batch, due: DueTimer | None, now: datetime, set_here: Timer | None = None
    ) -> None:
        """Fire a stored timer (`due`), or one this batch set (`set_here`, replay)."""
        timer = set_here or due.timer
        if due is not None and (timer.id in batch.timers or timer.id in batch.done_here):
            return  # set again, cancelled or fired since by an event or timer of this batch
        state = batch.states.get(timer.ticket)
        if state is None:
            batch.fired_timers.append(due)  # no ticket to act on; the timer is spent
            return
        try:
            decision, after = evaluate_timer_to_state(
                state,
                timer,
                # By position, as for an event: (now, rules, previous, related,
                # oncall_overrides, decided_at).
                Context(now, self.rules, state, (), batch.oncall_overrides, batch.decided_at),
            )
        except Exception as exc:
            # The failed row keeps the message (`deskbridge timers --failed`); the log line
            # says only the type and where it was raised: the message may quote the ticket.
            error = f"{type(exc).__name__}: {exc}"
            if due is None:
                batch.done_here[timer.id] = (timer, error)
            else:
                batch.failed_timers.append((due, error))
            batch.results.append(
                Decided(f"timer:{timer.id}", timer.ticket, now, error=error, due_at=timer.due_at)
            )
            log_event(
                log,
                logging.ERROR,
                "timer.failed",
                ticket=timer.ticket,
                timer=timer.id,
                **describe_exception(exc),
            )
            return
        if due is None:
            batch.done_here[timer.id] = (timer, None)
        else:
            batch.fired_timers.append(due)
        actions = self._apply(batch, state, decision, f"timer:{timer.id}", after)
        # Dated when the deadline passed, as an event's facts are dated by the event's time:
        # the review counts each day by the helpdesk's time, so a deadline long past when its
        # ticket arrives (a late delivery) is a breach of that day, with the ticket's other
        # facts, and `serve` dates it as replay does.
        batch.facts += build_action_facts(actions, timer.due_at)
        batch.results.append(
            Decided(f"timer:{timer.id}", timer.ticket, now, actions, due_at=timer.due_at)
        )
        batch.fired_log.append((timer, now, len(actions)))

    # -- shared ----------------------------------------------------------------------------

    def _run_batch(self, fill: Callable[[StoreSession], _Batch | None]) -> list[Decided]:
        """`fill` claims work and decides it into a batch, which is then written and
        committed. PostgreSQL (and the memory store): one transaction (its partition locks
        last until commit). SQLite: `fill` reads in a deferred transaction (a WAL snapshot,
        no writer lock) and only the writes take the one writer, so webhooks storing events
        never wait for the rules. A row changed in between (ticket version, event no longer
        undecided) rolls the write back; the batch is then decided again from the stored rows."""
        for attempt in range(1, 6):
            try:
                with self._busy:
                    if self.store.split_reads:
                        with self.store.reading() as session:
                            batch = fill(session)
                        if batch is None:
                            return []
                        with self.store.writing() as session:
                            self._write(session, batch)
                    else:
                        with self.store.writing() as session:
                            batch = fill(session)
                            if batch is None:
                                return []
                            self._write(session, batch)
                    self._finish(batch)
                self._hold_requesters = False
                return batch.results
            except (_Conflict, *self.store.conflicts) as exc:
                self._hold_requesters = isinstance(exc, _RelatedConflict)
                self._cache.clear()
                log_event(log, logging.INFO, "decider.conflict", attempt=attempt)
        raise RuntimeError("ticket rows kept changing under the decider")

    def _start(self, session: StoreSession, keys: set[str], now: datetime | None = None) -> _Batch:
        """The batch's tickets: cached states whose stored version is still ours, the rest
        read from the store."""
        versions: dict[str, int | None] = dict.fromkeys(keys)
        versions.update(session.load_ticket_versions(keys))
        states: dict[str, TicketState | None] = {}
        stale = []
        for key, version in versions.items():
            cached = self._cache.get(key)
            if version is None:
                states[key] = None
            elif cached is not None and cached[0] == version:
                states[key] = cached[1]
            else:
                stale.append(key)
        for key, (version, state) in session.load_ticket_states(stale).items():
            versions[key] = version
            states[key] = state
        now = now or self.clock()
        overrides = ()
        if self.rules.oncall is not None:  # only what can still apply (a day's slack)
            overrides = tuple(session.list_overrides(ending_after=now - OVERRIDE_SLACK))
        return _Batch(now=now, states=states, versions=versions, oncall_overrides=overrides)

    def _apply(
        self,
        batch: _Batch,
        before: TicketState,
        decision: Decision,
        cause: str,
        after: TicketState,
    ) -> list[Action]:
        """Fold a decision into the batch: the ticket's new state (`after`: `before` with the
        decision's updates, as the rules worked it out), its actions, timers."""
        actions = decision.actions
        if decision.warnings:
            batch.warnings += decision.warnings
        # `before`'s fired keys were compacted by the decision that made it.
        state = mark_fired(after, [a.key for a in actions], compacted=before)
        if decision.cancel:  # most decisions cancel nothing: no set of the ids set
            scheduled = {t.id for t in decision.timers}
            for timer_id in decision.cancel:
                if timer_id not in scheduled and timer_id not in batch.done_here:
                    batch.timers[timer_id] = None
        for timer in decision.timers:
            batch.timers[timer.id] = timer
            batch.done_here.pop(timer.id, None)
            # A timer on another ticket (a repeat contact's) fires here only if this batch
            # holds that ticket; else the sweep that claims it reads the ticket.
            if (
                batch.due is not None
                and timer.due_at <= batch.due_until
                and (timer.ticket == state.key or batch.states.get(timer.ticket) is not None)
            ):
                heapq.heappush(batch.due, (timer.due_at, timer.id, next(batch.sequence), timer))
        batch.states[state.key] = state
        batch.dirty.add(state.key)
        if state.requester:
            # Not setdefault: its new empty set was made for every decision.
            requester = (state.source, state.requester)
            tickets = batch.by_requester.get(requester)
            if tickets is None:
                batch.by_requester[requester] = {state.key}
            else:
                tickets.add(state.key)
        if actions:
            batch.actions += actions
            batch.audit += build_decision_rows(actions, cause, batch.now)
            if log.isEnabledFor(logging.INFO):
                for action in actions:
                    log_event(
                        log,
                        logging.INFO,
                        "decision.made",
                        ticket=action.ticket,
                        action=action.kind.value,
                        rule=action.rule,
                        key=action.key,
                    )
        return actions

    def _write(self, session: StoreSession, batch: _Batch) -> None:
        if self.store.shared and (batch.related_requesters or batch.related_reads):
            self._check_related(session, batch)
        saves = [(batch.states[k], batch.versions[k]) for k in batch.dirty]
        if not session.save_tickets(saves, batch.now):
            raise _Conflict()
        session.mark_timers_fired(batch.fired_timers)
        session.mark_timers_failed(batch.failed_timers)
        session.cancel_timers([i for i, t in batch.timers.items() if t is None])
        session.schedule_timers([t for t in batch.timers.values() if t is not None])
        # Set and fired (or failed) in this batch: stored as done outright.
        done = batch.done_here.values()
        session.schedule_timers([timer for timer, error in done if error is None], FIRED)
        failed = {timer.id: error for timer, error in done if error is not None}
        session.schedule_timers([t for t, error in done if error is not None], FAILED, failed)
        session.insert_actions(batch.actions, batch.now)
        session.insert_decision_rows(batch.audit)
        session.record_replies(batch.replies)
        session.record_facts(batch.facts)
        if not session.mark_events_decided(batch.decided_events, batch.now):
            raise _Conflict()  # decided meanwhile by another decider
        session.mark_events_failed(batch.failed_events, batch.now)

    @staticmethod
    def _check_related(session: StoreSession, batch: _Batch) -> None:
        """A ticket of one of the batch's requesters written by another decider since the
        batch read them (two of a customer's tickets decided at once, in two partitions on
        PostgreSQL): neither saw the other, and the later would never be found a repeat
        contact. The requesters are held until commit, so of two such batches the second
        sees the first's ticket here, and is decided again with it."""
        reads = batch.related_reads
        requesters = (batch.related_requesters | {r[0] for r in reads}) - batch.related_full
        if not requesters:
            return
        # The batch's one read (every source, one window) and its few lookups besides.
        windows = [w[2:] for w in reads]
        if batch.related_window is not None:
            windows.append(batch.related_window)
        since = min(w[0] for w in windows)
        until = max(w[1] for w in windows)
        session.lock_requesters(requesters)
        for requester, key, created_at in session.list_requester_ticket_keys(
            requesters, since, until
        ):
            if key in batch.related_seen or key in batch.states:
                continue
            read = batch.related_window
            if (
                read is not None
                and requester in batch.related_requesters
                and read[0] <= created_at < read[1]
            ) or any(
                r == requester and key.startswith(prefix) and start <= created_at < end
                for r, prefix, start, end in reads
            ):
                raise _RelatedConflict()

    def _finish(self, batch: _Batch) -> None:
        """After commit: remember the states written, count what was decided."""
        if self.cache_tickets:  # none kept for a store that keeps the states (replay's)
            for key in batch.dirty:
                version = batch.versions[key]
                self._cache[key] = ((version or 0) + 1, batch.states[key])
                self._cache.move_to_end(key)
            while len(self._cache) > self.cache_tickets:
                self._cache.popitem(last=False)
        if any(t is not None for t in batch.timers.values()):
            self.timers_set.set()
        for name, fields in batch.warnings:
            log_event(log, logging.WARNING, name, **fields)
        if batch.fired_log and log.isEnabledFor(logging.INFO):
            # After the commit: the line's own time is when the firing really took effect.
            # Live, how late is by the shell's clock: a timer a batch behind fires at its due
            # time (its `now`), hours after it.
            for timer, now, count in batch.fired_log:
                late = (batch.decided_at or now) - timer.due_at
                log_event(
                    log,
                    logging.INFO,
                    "timer.fired",
                    ticket=timer.ticket,
                    timer=timer.id,  # one ticket's timers of a kind told apart
                    kind=timer.kind,
                    # Seconds, as every duration in the log (`delay_s`, `down_s`); to the ms.
                    late_s=round(max(0.0, late.total_seconds()), 3),
                    actions=count,
                )
        if self.metrics is not None:
            self.metrics.events_decided.inc(len(batch.decided_events))
            for action in batch.actions:
                self.metrics.decisions.labels(action.kind.value, action.rule).inc()
