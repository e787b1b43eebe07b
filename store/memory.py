"""The store in Python structures, for replay: the same operations as the SQL store
(store/session.py), answered from dicts, sorted lists and a heap instead of tables.

Replay is one thread and the store's only user, so a transaction is just a journal of undo
steps (a job that raises leaves no trace, as a rolled-back SQL transaction does). Whatever a
SQL store hands back as it read it from a row (UTC datetimes, Override's empty `by`) is handed
back the same way here, so the decider decides exactly as it would on SQLite — replay's
output is compared byte for byte between the two (tests/test_replay_stores.py).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from deskbridge.store.interface import (
    AUDIT_SUBJECT,
    CANCELLED,
    COUNTED,
    FAILED,
    FIRED,
    PENDING,
    RELATED_MOST,
    DueTimer,
    StoredEvent,
    clip_error,
)
from deskbridge.workflows.actions import Action
from deskbridge.workflows.activity import CATEGORY, CUSTOMER_MESSAGE, ESCALATE, Fact
from deskbridge.workflows.decision import RelatedTicket, Timer
from deskbridge.workflows.digest import FirstReply, Period, PeriodData, RepeatedReply
from deskbridge.workflows.model import TicketEvent, TicketState, ticket_key
from deskbridge.workflows.rotation import Override

_COUNTED = frozenset(COUNTED)


def _utc(at: datetime) -> datetime:
    """As a UTCDateTime column gives it back."""
    return at if at.tzinfo is UTC else at.astimezone(UTC)


def _source(key: str) -> str:
    """The helpdesk part of a ticket key, as store.sql.ticket_source reads it in SQL."""
    head, colon, _ = key.partition(":")
    return head if colon else ""


@dataclass
class _TimerRow:
    timer: Timer  # due_at in UTC, the first ticket it was set for
    generation: int
    status: str
    error: str | None = None  # a failed timer's, as the SQL row's column


@dataclass
class _Reply:
    comment_id: str
    ticket: str
    author: str | None
    at: datetime


class MemoryStore:
    """A Store whose one session is itself (replay decides in one thread)."""

    writer = nullcontext()
    split_reads = False
    keeps_bodies = False
    shared = False
    conflicts: tuple[type[Exception], ...] = ()

    def __init__(self) -> None:
        # Undo steps of the transaction in progress (None: none is).
        self._journal: list[Callable[[], object]] | None = None
        # events
        self._event_ids = itertools.count(1)
        self._dedupe_keys: set[str] = set()
        self._undecided: dict[int, StoredEvent] = {}  # in arrival (id) order
        self.failed_events: dict[int, str] = {}
        self.decided_events = 0
        # tickets: key → (version, state); keys by requester for repeat contacts
        self._tickets: dict[str, tuple[int, TicketState]] = {}
        self._by_requester: dict[str, set[str]] = defaultdict(set)
        self._created: dict[str, datetime] = {}  # the tickets' created_at column, in UTC
        # timers, and a heap of (due_at, id, generation) over the pending ones; an entry whose
        # row moved on (another generation, no longer pending) is dropped when reached
        self._timers: dict[str, _TimerRow] = {}
        self._due: list[tuple[datetime, str, int]] = []
        # what was decided
        self.outbox: dict[str, tuple[Action, datetime]] = {}  # by idempotency key, in order
        self.audit: list[dict[str, Any]] = []
        self._audit_by_action: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # replies: by comment id; (at, comment id) sorted; the times of each (helpdesk,
        # author)'s, sorted; each ticket's in (at, comment id) order; the replies that follow
        # their author's previous one with no customer message between (kept up to date per
        # ticket as replies and customer messages arrive), and their (at, comment id) sorted
        self._replies: dict[str, _Reply] = {}
        self._reply_order: list[tuple[datetime, str]] = []
        self._reply_times: dict[tuple[str, str | None], list[datetime]] = defaultdict(list)
        # Those groups in the order a response count lists them (_null_first), kept as new
        # ones come: the coaching checks count responses every few minutes.
        self._reply_groups: list[tuple[tuple, tuple[str, str | None]]] = []
        self._ticket_replies: dict[str, list[_Reply]] = defaultdict(list)
        self._repeated: dict[str, RepeatedReply] = {}
        self._repeated_order: list[tuple[datetime, str]] = []
        # facts: by key; the facts a period read looks at (the rest, most of them, only count
        # for coaching checks through other indexes) in time order, each with what the read
        # counts it by: (at, key, (kind, detail, helpdesk, person)) of the COUNTED kinds and
        # (at, key, category) of the categories, so the review's reads are a slice of each;
        # customer messages' times per ticket, sorted
        self._facts: dict[str, Fact] = {}
        self._counted_order: list[tuple[datetime, str, tuple]] = []
        self._category_order: list[tuple[datetime, str, str | None]] = []
        self._customer_messages: dict[str, list[datetime]] = defaultdict(list)
        # The latest reply, fact or ticket creation ever stored (read_latest_dated).
        self._latest_dated: datetime | None = None
        # scheduled jobs and on-call overrides
        self._job_runs: dict[tuple[str, datetime], list] = {}  # → [run_at, actions]
        self._overrides: list[Override] = []

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[MemoryStore]:
        yield self

    @contextmanager
    def writing(self) -> Iterator[MemoryStore]:
        if self._journal is not None:
            raise RuntimeError("the memory store has one transaction at a time")
        self._journal = []
        try:
            yield self
        except BaseException:
            for undo in reversed(self._journal):
                undo()
            raise
        finally:
            self._journal = None

    def _undo(self, step: Callable[[], object]) -> None:
        if self._journal is not None:
            self._journal.append(step)

    def _dated(self, at: datetime) -> None:
        # Not undone: a later date than any stored only makes job reads reused less often.
        if self._latest_dated is None or at > self._latest_dated:
            self._latest_dated = at

    # -- events ------------------------------------------------------------------------

    def insert_ticket_events(self, received: Sequence[tuple[TicketEvent, str, datetime]]) -> int:
        """Store (event, body, received at) as undecided, keeping the event as it is (a
        database stores its JSON, read back by the decider); the body is not kept."""
        added: list[StoredEvent] = []
        for event, _body, received_at in received:
            key = event.dedupe_key
            if key in self._dedupe_keys:
                continue
            self._dedupe_keys.add(key)
            stored = StoredEvent(
                next(self._event_ids),
                key,
                # `event.ticket_key` without its property (from here a call into Python).
                ticket_key(event.source, event.ticket_id),
                _utc(received_at),
                event,
            )
            self._undecided[stored.id] = stored
            added.append(stored)

        def undo() -> None:
            for stored in added:
                self._dedupe_keys.discard(stored.dedupe_key)
                self._undecided.pop(stored.id, None)

        self._undo(undo)
        return len(added)

    def lock_shards(self, most: int) -> list[int] | None:
        return None  # one decider: nothing to share

    def claim_undecided_events(
        self, limit: int, shards: list[int] | None = None
    ) -> list[StoredEvent]:
        return list(itertools.islice(self._undecided.values(), limit))

    def claim_ticket_events(
        self, tickets: Collection[str], until: datetime, limit: int | None = None
    ) -> list[StoredEvent]:
        """As on SQL: each ticket's undecided events up to its first one arrived after
        `until`, in arrival order; the first `limit` of them when given."""
        taken: list[StoredEvent] = []
        stopped = set()
        for stored in self._undecided.values():
            if limit is not None and len(taken) >= limit:
                break
            if stored.ticket not in tickets or stored.ticket in stopped:
                continue
            if stored.received_at > until:
                stopped.add(stored.ticket)
            else:
                taken.append(stored)
        return taken

    def _take_undecided(self, ids: Sequence[int]) -> list[StoredEvent] | None:
        if not all(i in self._undecided for i in ids):
            return None
        taken = [self._undecided.pop(i) for i in ids]

        def undo() -> None:  # back in arrival order
            merged = sorted([*self._undecided.values(), *taken], key=lambda e: e.id)
            self._undecided = {e.id: e for e in merged}

        self._undo(undo)
        return taken

    def mark_events_decided(self, ids: Sequence[int], at: datetime) -> bool:
        if self._take_undecided(ids) is None:
            return False
        self.decided_events += len(ids)
        self._undo(lambda: setattr(self, "decided_events", self.decided_events - len(ids)))
        return True

    def mark_events_failed(self, failures: Sequence[tuple[int, str]], at: datetime) -> None:
        ids = [i for i, _ in failures if i in self._undecided]
        self._take_undecided(ids)
        known = set(ids)
        errors = {i: clip_error(error) for i, error in failures if i in known}
        self.failed_events.update(errors)  # type: ignore[arg-type]  # a str for a str

        def undo() -> None:
            for i in errors:
                del self.failed_events[i]

        self._undo(undo)

    # -- tickets -----------------------------------------------------------------------

    def load_ticket_versions(self, keys: Collection[str]) -> dict[str, int]:
        tickets = self._tickets
        return {key: tickets[key][0] for key in keys if key in tickets}

    def load_ticket_states(
        self, keys: Collection[str]
    ) -> dict[str, tuple[int, TicketState | None]]:
        tickets = self._tickets
        return {key: tickets[key] for key in keys if key in tickets}

    def save_tickets(self, saves: Sequence[tuple[TicketState, int | None]], now: datetime) -> bool:
        tickets = self._tickets
        for state, expected in saves:
            stored = tickets.get(state.key)
            if (stored[0] if stored is not None else None) != expected:
                return False  # changed (or created) by someone else: never, with one decider
        before = {state.key: tickets.get(state.key) for state, _ in saves}
        for state, expected in saves:
            self._put_ticket(state, (expected or 0) + 1)

        def undo() -> None:
            for key, stored in before.items():
                current = tickets.pop(key, None)
                self._created.pop(key, None)
                if current is not None and current[1].requester:
                    self._by_requester[current[1].requester].discard(key)
                if stored is not None:
                    self._put_ticket(stored[1], stored[0])

        self._undo(undo)
        return True

    def _put_ticket(self, state: TicketState, version: int) -> None:
        key = state.key
        old = self._tickets.get(key)
        if old is not None and old[1].requester and old[1].requester != state.requester:
            self._by_requester[old[1].requester].discard(key)
        created = state.created_at
        if created is not None:
            created = self._created[key] = _utc(created)
            self._dated(created)
        else:
            self._created.pop(key, None)
        self._tickets[key] = (version, state)
        if state.requester:
            self._by_requester[state.requester].add(key)

    def _opened(self, key: str, since: datetime, until: datetime) -> tuple | None:
        """(created_at in UTC, key, escalation signals) of a ticket opened in [since, until)."""
        created = self._created.get(key)
        if created is None or not since <= created < until:
            return None
        return (created, key, tuple(self._tickets[key][1].escalation_signals))

    def list_tickets_of_requesters(
        self, requesters: Collection[str], since: datetime, until: datetime
    ) -> dict[str, list[RelatedTicket]]:
        found: dict[str, list[RelatedTicket]] = {}
        for requester in sorted(requesters):
            opened = [
                item
                for key in self._by_requester.get(requester, ())
                if (item := self._opened(key, since, until)) is not None
            ]
            if opened:
                opened.sort(key=lambda item: (item[0], item[1]))
                found[requester] = [RelatedTicket(k, at, signals) for at, k, signals in opened]
        return found

    def lock_requesters(self, requesters: Collection[str]) -> None:
        return None  # one decider: nothing to share

    def list_requester_ticket_keys(
        self, requesters: Collection[str], since: datetime, until: datetime
    ) -> list[tuple[str, str, datetime]]:
        return [
            (requester, key, item[0])
            for requester in sorted(requesters)
            for key in self._by_requester.get(requester, ())
            if (item := self._opened(key, since, until)) is not None
        ]

    def list_requester_tickets(
        self,
        source: str,
        requester: str,
        exclude: str,
        since: datetime,
        until: datetime,
        limit: int = RELATED_MOST,
    ) -> list[RelatedTicket]:
        prefix = f"{source}:"
        opened = [
            item
            for key in self._by_requester.get(requester, ())
            if key != exclude
            and key.startswith(prefix)
            and (item := self._opened(key, since, until)) is not None
        ]
        opened.sort(key=lambda item: (item[0], item[1]))
        return [RelatedTicket(k, at, signals) for at, k, signals in opened[:limit]]

    # -- timers ------------------------------------------------------------------------

    def _live(self, entry: tuple[datetime, str, int]) -> bool:
        row = self._timers.get(entry[1])
        return row is not None and row.status == PENDING and row.generation == entry[2]

    def claim_due_timers(
        self, now: datetime, limit: int, tickets: Collection[str] | None = None
    ) -> list[DueTimer]:
        """Pending timers due by `now`, soonest first (by due time, then id), only `tickets`'
        when given. They stay pending until marked fired, as a claimed row does."""
        taken: list[tuple[datetime, str, int]] = []
        others: list[tuple[datetime, str, int]] = []  # live, of other tickets: kept
        seen: set[str] = set()
        due = self._due
        while due and len(taken) < limit and due[0][0] <= now:
            entry = heapq.heappop(due)
            if entry[1] not in seen and self._live(entry):
                seen.add(entry[1])
                if tickets is None or self._timers[entry[1]].timer.ticket in tickets:
                    taken.append(entry)
                else:
                    others.append(entry)
        for entry in taken + others:
            heapq.heappush(due, entry)
        return [DueTimer(self._timers[i].timer, generation) for _, i, generation in taken]

    def next_due_at(self) -> datetime | None:
        due = self._due
        while due and not self._live(due[0]):
            heapq.heappop(due)
        return due[0][0] if due else None

    def _put_timer(self, timer_id: str, row: _TimerRow | None) -> None:
        if row is None:
            self._timers.pop(timer_id, None)
            return
        self._timers[timer_id] = row
        if row.status == PENDING:
            heapq.heappush(self._due, (row.timer.due_at, timer_id, row.generation))

    def _change_timers(self, changes: dict[str, _TimerRow]) -> None:
        before = {i: self._timers.get(i) for i in changes}
        for timer_id, row in changes.items():
            self._put_timer(timer_id, row)

        def undo() -> None:
            # The very rows, not copies: cancel_timers changes a row in place and its undo,
            # run after this one when the cancel came first, changes that same row back.
            for timer_id, row in before.items():
                self._put_timer(timer_id, row)

        self._undo(undo)

    def schedule_timers(
        self, new: list[Timer], status: str = PENDING, errors: Mapping[str, str] | None = None
    ) -> None:
        # A timer set again changes its row in place (as a cancel does), and the undo puts
        # back what the row held: 88,000 timers set on the generated week, 36,000 of them again.
        added: list[str] = []
        changed: list[tuple[_TimerRow, Timer, int, str, str | None]] = []
        timers, due = self._timers, self._due
        errors = errors or {}
        for timer in {t.id: t for t in new}.values():  # the last word on each id
            due_at = _utc(timer.due_at)
            row = timers.get(timer.id)
            ticket = row.timer.ticket if row is not None else timer.ticket
            if due_at is not timer.due_at or ticket != timer.ticket:
                timer = replace(timer, ticket=ticket, due_at=due_at)
            error = clip_error(errors.get(timer.id))
            if row is None:
                row = timers[timer.id] = _TimerRow(timer, 0, status, error)
                added.append(timer.id)
            else:
                changed.append((row, row.timer, row.generation, row.status, row.error))
                row.timer, row.generation, row.status = timer, row.generation + 1, status
                row.error = error
            if status == PENDING:
                heapq.heappush(due, (due_at, timer.id, row.generation))

        def undo() -> None:
            for timer_id in added:
                timers.pop(timer_id, None)
            for row, timer, generation, was, error in reversed(changed):
                row.timer, row.generation, row.status, row.error = timer, generation, was, error
                if was == PENDING:
                    heapq.heappush(due, (timer.due_at, timer.id, generation))

        if added or changed:
            self._undo(undo)

    def cancel_timers(self, ids: list[str]) -> None:
        # The rows are changed in place (no new row, no copy of the old one to undo with):
        # the SLA rule cancels three stage timers per clock it stops, 71,000 on the week.
        cancelled = []
        for timer_id in ids:
            row = self._timers.get(timer_id)
            if row is not None and row.status == PENDING:
                row.generation += 1
                row.status = CANCELLED
                cancelled.append(row)

        def undo() -> None:
            for row in reversed(cancelled):
                row.generation -= 1
                row.status = PENDING
                heapq.heappush(self._due, (row.timer.due_at, row.timer.id, row.generation))

        if cancelled:
            self._undo(undo)

    def _mark_timers(self, done: list[tuple[DueTimer, str, str | None]]) -> None:
        changes = {}
        for item, status, error in done:
            row = self._timers.get(item.timer.id)
            if row is not None and row.generation == item.generation:
                changes[item.timer.id] = _TimerRow(row.timer, row.generation, status, error)
        self._change_timers(changes)

    def mark_timers_fired(self, due: list[DueTimer]) -> None:
        self._mark_timers([(d, FIRED, None) for d in due])

    def mark_timers_failed(self, failures: Sequence[tuple[DueTimer, str]]) -> None:
        self._mark_timers([(d, FAILED, clip_error(error)) for d, error in failures])

    def list_timers(self) -> list[dict[str, Any]]:
        """Every timer, by id (what store.timers.list_timers gives, for tests)."""
        return [
            {
                "id": timer_id,
                "ticket": row.timer.ticket,
                "kind": row.timer.kind,
                "due_at": row.timer.due_at,
                "generation": row.generation,
                "payload": row.timer.payload,
                "status": row.status,
                "error": row.error,
            }
            for timer_id, row in sorted(self._timers.items())
        ]

    # -- what was decided ----------------------------------------------------------------

    def insert_actions(self, actions: list[Action], now: datetime) -> list[Action]:
        new = []
        for action in actions:
            if action.key not in self.outbox:
                self.outbox[action.key] = (action, now)
                new.append(action)

        def undo() -> None:
            for action in new:
                del self.outbox[action.key]

        self._undo(undo)
        return new

    def insert_decision_rows(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self.audit += rows
        for row in rows:
            self._audit_by_action[row["action"]].append(row)

        def undo() -> None:
            del self.audit[-len(rows) :]
            for row in rows[::-1]:  # not reversed(): mypyc 2.4 fails on it in a closure
                self._audit_by_action[row["action"]].pop()

        self._undo(undo)

    def record_replies(self, rows: list[dict]) -> None:
        added = []
        for row in rows:
            if row["comment_id"] in self._replies:
                continue
            reply = _Reply(row["comment_id"], row["ticket"], row["author"], _utc(row["at"]))
            self._replies[reply.comment_id] = reply
            _insort(self._reply_order, (reply.at, reply.comment_id))
            # Responses are counted per (helpdesk, author): each group's times, sorted.
            group = (_source(reply.ticket), reply.author)
            times = self._reply_times.get(group)
            if times is None:
                times = self._reply_times[group] = []
                bisect.insort(self._reply_groups, (_null_first(group), group))
            _insort(times, reply.at)
            bisect.insort(self._ticket_replies[reply.ticket], reply, key=_reply_order)
            self._find_repeated(reply.ticket)
            self._dated(reply.at)
            added.append(reply)

        def undo() -> None:
            for reply in reversed(added):
                del self._replies[reply.comment_id]
                _remove_sorted(self._reply_order, (reply.at, reply.comment_id))
                group = self._reply_times[(_source(reply.ticket), reply.author)]
                _remove_sorted(group, reply.at)
                self._ticket_replies[reply.ticket].remove(reply)
                self._find_repeated(reply.ticket)

        self._undo(undo)

    def record_facts(self, new: list[Fact]) -> None:
        added = []
        for fact in new:
            if fact.key in self._facts:
                continue
            at = _utc(fact.at)
            if at is not fact.at:
                fact = replace(fact, at=at)
            self._facts[fact.key] = fact
            if fact.kind in _COUNTED:
                tally = (fact.kind, fact.detail, _source(fact.ticket), fact.person)
                _insort(self._counted_order, (at, fact.key, tally))
            if fact.kind == CATEGORY:
                _insort(self._category_order, (at, fact.key, fact.detail))
            if fact.kind == CUSTOMER_MESSAGE:
                _insort(self._customer_messages[fact.ticket], at)
                self._find_repeated(fact.ticket)
            self._dated(at)
            added.append(fact)

        def undo() -> None:
            for fact in reversed(added):
                del self._facts[fact.key]
                if fact.kind in _COUNTED:
                    _remove_sorted(self._counted_order, (fact.at, fact.key))
                if fact.kind == CATEGORY:
                    _remove_sorted(self._category_order, (fact.at, fact.key))
                if fact.kind == CUSTOMER_MESSAGE:
                    self._customer_messages[fact.ticket].remove(fact.at)
                    self._find_repeated(fact.ticket)

        self._undo(undo)

    def _find_repeated(self, ticket: str) -> None:
        """Which of the ticket's replies follow their author's previous reply on it with no
        customer message in between (store/activity.py's _list_repeated_replies, per
        ticket): kept current as replies and customer messages arrive."""
        messages = self._customer_messages.get(ticket, ())
        previous: dict[str, datetime] = {}
        for reply in self._ticket_replies.get(ticket, ()):
            if reply.author is None:
                continue
            before = previous.get(reply.author)
            previous[reply.author] = reply.at
            # A customer message in (before, at]?
            between = before is not None and bisect.bisect_right(
                messages, reply.at
            ) > bisect.bisect_right(messages, before)
            known = reply.comment_id in self._repeated
            if before is not None and not between:
                if not known:
                    _insort(self._repeated_order, (reply.at, reply.comment_id))
                self._repeated[reply.comment_id] = RepeatedReply(
                    reply.ticket, reply.author, before, reply.at
                )
            elif known:
                del self._repeated[reply.comment_id]
                _remove_sorted(self._repeated_order, (reply.at, reply.comment_id))

    # -- on call -----------------------------------------------------------------------

    def insert_override(self, override: Override, now: datetime) -> int:
        stored = Override(
            person=override.person,
            starts=_utc(override.starts),
            ends=_utc(override.ends),
            by=override.by or "",
        )
        self._overrides.append(stored)
        row_id = len(self._overrides)
        self._undo(self._overrides.pop)
        self.insert_decision_rows(
            [
                {
                    "at": _utc(now),
                    "ticket": AUDIT_SUBJECT,
                    "event_key": f"slack:override:{row_id}",
                    "rule": "oncall",
                    "action": "override",
                    "idempotency_key": f"{AUDIT_SUBJECT}:override:{row_id}",
                    "reason": (
                        f"override by {override.by}: {override.person} on call "
                        f"{override.starts.isoformat()} to {override.ends.isoformat()}"
                    ),
                }
            ]
        )
        return row_id

    def list_overrides(self, ending_after: datetime | None = None) -> list[Override]:
        return [o for o in self._overrides if ending_after is None or o.ends > ending_after]

    def list_oncall_overrides(self, ending_after: datetime) -> list[Override]:
        return self.list_overrides(ending_after)

    def list_paged_tickets(self, since: datetime, until: datetime) -> list[TicketState]:
        paged = {
            row["ticket"]
            for row in self._audit_by_action.get("page_oncall", ())
            if since <= _utc(row["at"]) < until
        }
        return [self._tickets[key][1] for key in sorted(paged) if key in self._tickets]

    # -- scheduled jobs ------------------------------------------------------------------

    def claim_job_run(self, job: str, occurrence_at: datetime, now: datetime) -> bool:
        key = (job, _utc(occurrence_at))
        if key in self._job_runs:
            return False
        self._job_runs[key] = [_utc(now), 0]
        self._undo(lambda: self._job_runs.pop(key))
        return True

    def record_job_actions(self, job: str, occurrence_at: datetime, actions: int) -> None:
        row = self._job_runs.get((job, _utc(occurrence_at)))
        if row is not None:
            before = row[1]
            row[1] = actions
            self._undo(lambda: row.__setitem__(1, before))

    def read_job_run_span(self) -> tuple[datetime, datetime] | None:
        runs = [run_at for run_at, _ in self._job_runs.values()]
        return (min(runs), max(runs)) if runs else None

    def list_job_runs(self) -> list[dict[str, Any]]:
        """Every job occurrence run (store.jobs.list_job_runs, for tests)."""
        return [
            {"job": job, "occurrence_at": at, "run_at": run_at, "actions": actions}
            for (job, at), (run_at, actions) in sorted(
                self._job_runs.items(), key=lambda item: (item[0][1], item[0][0])
            )
        ]

    # -- period reads (store/activity.py's, the same answers) ------------------------------

    def _replies_in(self, start: datetime, end: datetime) -> list[tuple]:
        """(at, comment id) of the replies dated in [start, end)."""
        return _slice(self._reply_order, start, end)

    def _count_responses(self, start: datetime, end: datetime) -> dict[tuple[str, str | None], int]:
        counts = {}
        reply_times = self._reply_times
        for _, group in self._reply_groups:  # in _null_first order
            times = reply_times[group]
            count = bisect.bisect_left(times, end) - bisect.bisect_left(times, start)
            if count:
                counts[group] = count
        return counts

    def _list_repeated(self, start: datetime, end: datetime) -> list[RepeatedReply]:
        repeated = self._repeated
        found = [repeated[cid] for _, cid in _slice(self._repeated_order, start, end)]
        found.sort(key=lambda r: (r.ticket, r.at))
        return found

    def read_period_replies(self, period: Period) -> PeriodData:
        return PeriodData(
            responses=self._count_responses(period.start, period.end),
            own_responses=period.read_windows(self._count_responses),
            repeated_replies=self._list_repeated(period.start, period.end),
        )

    def read_period(self, period: Period, repeat_window: timedelta) -> PeriodData:
        start, end = period.start, period.end
        replies = self._replies_in(start, end)
        counted = _slice(self._counted_order, start, end)
        facts = Counter(map(_tally, counted))
        escalated = {self._facts[key].ticket for _, key, tally in counted if tally[0] == ESCALATE}
        return PeriodData(
            responses=self._count_responses(start, end),
            own_responses=period.read_windows(self._count_responses),
            first_replies=self._list_first_replies(replies),
            repeated_replies=self._list_repeated(start, end),
            facts=dict(sorted(facts.items(), key=lambda item: _null_first(item[0]))),
            repeat_contacts=self._count_repeat_contacts(start, end, repeat_window),
            escalated_tickets=len(escalated),
            categories=self._count_categories(start, end),
            trailing_categories=self._count_categories(period.trailing_start, start),
            categories_since=self._category_order[0][0] if self._category_order else None,
        )

    def _list_first_replies(self, replies: list[tuple]) -> list[FirstReply]:
        found = []
        for _, comment_id in replies:
            reply = self._replies[comment_id]
            if self._ticket_replies[reply.ticket][0] is not reply:
                continue  # an earlier reply on the ticket
            stored = self._tickets.get(reply.ticket)
            created = stored[1].created_at if stored is not None else None
            if created is not None:
                found.append(FirstReply(reply.ticket, reply.author, _utc(created), reply.at))
        return found

    def _count_categories(self, start: datetime, end: datetime) -> dict[str, int]:
        counts = Counter(map(_tally, _slice(self._category_order, start, end)))
        return dict(sorted(counts.items(), key=lambda item: _null_first(item[0])))

    def _count_repeat_contacts(self, start: datetime, end: datetime, window: timedelta) -> int:
        """Tickets opened in the period whose requester opened another on the same helpdesk
        at most `window` before (store/activity.py's _count_repeat_contacts)."""
        opened: dict[tuple[str, str], list[datetime]] = defaultdict(list)
        for key, (_, state) in self._tickets.items():
            if state.requester is not None and state.created_at is not None:
                opened[(state.requester, _source(key))].append(_utc(state.created_at))
        count = 0
        for times in opened.values():
            times.sort()
            for at in times:
                if not start <= at < end:
                    continue
                earlier = bisect.bisect_left(times, at)  # the latest strictly before
                if earlier and at - times[earlier - 1] <= window:
                    count += 1
        return count

    def read_latest_dated(self) -> datetime | None:
        return self._latest_dated


def _slice(order: list[tuple], start: datetime, end: datetime) -> list[tuple]:
    """The entries of a list sorted by time (first item) dated in [start, end)."""
    return order[bisect.bisect_left(order, (start,)) : bisect.bisect_left(order, (end,))]


# What a period read counts an entry of _counted_order or _category_order by.
_tally = itemgetter(2)


def _insort(order: list, entry: Any) -> None:
    """bisect.insort: replies and facts mostly come in time order, so most go at the end,
    after one comparison instead of a bisection of the whole list."""
    if not order or not entry < order[-1]:
        order.append(entry)
    else:
        bisect.insort(order, entry)


def _remove_sorted(order: list[Any], entry: object) -> None:
    del order[bisect.bisect_left(order, entry)]


def _reply_order(reply: _Reply) -> tuple[datetime, str]:
    return (reply.at, reply.comment_id)


def _null_first(key: Any) -> tuple:
    """A sort key putting None first, as SQLite's GROUP BY orders NULLs."""
    if isinstance(key, tuple):
        return tuple((value is not None, value or "") for value in key)
    return (key is not None, key or "")
