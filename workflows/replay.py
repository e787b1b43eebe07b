"""The replay engine behind `deskbridge replay`: recorded events through the real parsers and
workflows on a store kept in memory (store/memory.py; `--store` writes a SQLite file instead)
and a simulated clock, offline.

The helpdesk parsers come in as the connector registry (the caller passes it), so this module
names no helpdesk.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from operator import itemgetter

from deskbridge.config.rules import RulesConfig
from deskbridge.connectors.connector import Connector
from deskbridge.connectors.errors import InboundError, PartlyMalformed, UnsupportedEvent
from deskbridge.connectors.parsing import (
    NO_TIMEZONE,
    NOT_A_TIME,
    describe_json_error,
    load_json_text,
    parse_time,
)
from deskbridge.store.interface import Store
from deskbridge.store.memory import MemoryStore
from deskbridge.workflows.decider import CACHE_TICKETS, Decider
from deskbridge.workflows.job_runner import JobRunner
from deskbridge.workflows.model import Source, TicketEvent
from deskbridge.workflows.rules import JOBS
from deskbridge.workflows.schedule import Job, list_occurrences
from deskbridge.workflows.wording import describe_not_utf8


@dataclass
class ReplayError:
    line: int
    message: str


class _LineMistakes(Exception):
    """Every mistake of a line's `at`, `source` and `body`, each an InboundError."""

    def __init__(self, errors: list[InboundError]) -> None:
        super().__init__(errors)
        self.errors = errors


def _is_labelled_ticket(item: dict) -> bool:
    return "department" in item and ("subject" in item or "description" in item)


def _read_envelope(item: dict) -> tuple[datetime, Source, object]:
    """A line's `at`, `source` and `body`, or _LineMistakes naming each one that is wrong: a
    line with a time without its zone and a misspelt source was told of its time alone, and
    of its source only once the time was fixed."""
    errors = []
    try:
        at = _read_at(item)
    except InboundError as exc:
        if _is_labelled_ticket(item):
            raise  # the other command's file: one sentence says so
        errors.append(exc)
    try:
        named = _read_field(item, "source")
        source = named.__class__ is str and _SOURCES.get(named)
        if not source:
            raise InboundError(_describe_source(named), "source")
    except InboundError as exc:
        errors.append(exc)
    try:
        body = _read_field(item, "body")
        if not isinstance(body, dict | str):
            raise InboundError("expected a JSON object or an XML string", "body")
    except InboundError as exc:
        errors.append(exc)
    if errors:
        raise _LineMistakes(errors)
    return at, source, body


def _read_field(item: dict, name: str) -> object:
    """A line's `at`, `source` or `body`; one it lacks is said as a webhook's missing field is,
    not as a value of the wrong kind."""
    if name not in item:
        if _is_labelled_ticket(item):
            # A labelled ticket (examples/team.jsonl): the other command's file, said so.
            raise InboundError(
                "required field is missing: this line is a labelled ticket, for `deskbridge "
                'routing evaluate`; replay reads events, {"at", "source", "body"} a line',
                name,
            )
        raise InboundError("required field is missing", name)
    return item[name]


def run_replay(
    lines: Iterable[str | bytes],
    rules: RulesConfig,
    connectors: Mapping[Source, Connector],
    until: datetime | None = None,
    store: Store | str | None = None,
    batch: int = 500,
    read_ahead: bool = False,
) -> Iterator[dict | ReplayError]:
    """Replay JSONL events on a store, each body read by its helpdesk's entry in `connectors`
    (the registry); yield each new action as a record (`at` + Action.to_record()) or a
    ReplayError for a line that could not be used. `store`: a database URL (migrated, then
    written as `serve` would), a Store, or None for one in memory. `batch`: the most events
    (and stored timers) one transaction takes. `lines` as bytes (a file read as such) are
    decoded one by one, so a line that is not UTF-8 is reported as any bad line is.
    `read_ahead`: read and parse the lines in a second process while this one decides
    (workflows/replay_reader.py), where `lines` is a file and one can start; the same
    records and errors, in the same order."""
    feed = ReplayFeed(rules, JOBS, batch=batch, store=store)
    read = read_lines(lines, rules, connectors, feed.store.keeps_bodies)
    if read_ahead:
        from deskbridge.workflows.replay_ahead import WorkedOut, work_out_ahead
        from deskbridge.workflows.replay_reader import read_in_second_process

        # The reader also works out what the rules will ask of the tickets' texts (pure):
        # WorkedOut items, kept in the rules' memos before the events after them.
        ahead = read_in_second_process(lines, work_out_ahead(read, rules))
        if ahead is not None:
            add = feed.add
            for item in ahead:
                kind = item.__class__
                if kind is tuple:
                    yield from add(*item)
                elif kind is WorkedOut:
                    item.keep(rules)
                else:
                    yield item
            yield from feed.finish(until)
            return
    add = feed.add
    for item in read:
        if item.__class__ is ReplayError:
            yield item
        else:
            yield from add(*item)
    yield from feed.finish(until)


def read_lines(
    lines: Iterable[str | bytes],
    rules: RulesConfig,
    connectors: Mapping[Source, Connector],
    keeps_bodies: bool,
) -> Iterator[ReplayError | tuple[list[TicketEvent], str, datetime]]:
    """Each line's errors (ReplayError) and its events with the body's text (for a store that
    keeps bodies, else "") and its time, in the order of the lines: what `run_replay` feeds
    the decider, apart from deciding (pure: the same lines give the same items)."""
    for number, line in enumerate(lines, start=1):
        if number == 1:
            # A file saved with a byte order mark (Windows editors, Excel's "UTF-8 CSV"):
            # the mark is not the line's first character.
            line = line.removeprefix(b"\xef\xbb\xbf" if line.__class__ is bytes else "\ufeff")
        line_bytes = None
        if line.__class__ is bytes:
            line_bytes = line
            try:
                line = line.decode()
            except UnicodeDecodeError as exc:
                yield ReplayError(number, describe_not_utf8(exc))
                continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        refused = None
        try:
            item = _decode_line(line, line_bytes)
            if not isinstance(item, dict):
                raise InboundError("expected a JSON object per line")
            at, source, body = _read_envelope(item)
            raw = _Encoded(body) if isinstance(body, dict) else body.encode
            if source not in connectors:
                raise InboundError(f"source {source.value} is not supported yet", "source")
            connector = connectors[source]
            try:
                if isinstance(body, dict) and connector.parse_object is not None:
                    # Decoded with the line: not encoded and decoded again for the parser.
                    events = connector.parse_object(body, raw, at, rules)
                else:
                    events = connector.parse(raw(), at, rules)
            except PartlyMalformed as exc:
                # As `serve` does: the well-formed events are taken, the malformed one said.
                events, refused = exc.events, exc.error
            # The memory store keeps no bodies: a JSON body is not written out for it.
            text = raw().decode() if keeps_bodies else ""
        except InboundError as exc:
            yield ReplayError(number, _describe(exc))
            continue
        except _LineMistakes as mistakes:
            for exc in mistakes.errors:
                yield ReplayError(number, _describe(exc))
            continue
        except UnsupportedEvent as exc:
            yield ReplayError(number, f"ignored event type {exc.event_type}")
            continue
        if refused is not None:
            yield ReplayError(number, _describe(refused))
        yield events, text, at


def _read_at(item: dict) -> datetime:
    """A line's `at`. A person writes it (a webhook's times come from the helpdesk): one
    without its zone ("2026-03-02T09:55:00", was "time has no timezone") or in another form
    is told the form to write."""
    try:
        return parse_time(_read_field(item, "at"), "at")
    except InboundError as exc:
        if exc.message not in (NO_TIMEZONE, NOT_A_TIME):
            raise
        raise InboundError(
            f'{exc.message}: write it like "2026-03-02T09:55:00Z" (UTC), or with its offset '
            '("2026-03-02T10:55:00+01:00")',
            "at",
        ) from None


def _describe_source(named: object) -> str:
    message = f"{named!r} is not one of {', '.join(_SOURCES)}"
    if named.__class__ is str and named.lower() in _SOURCES:
        message += f": write it in lowercase, {named.lower()}"
    return message


def _describe(exc: InboundError) -> str:
    return (f"{exc.field}: " if exc.field else "") + exc.message


def _decode_line(line: str, raw: bytes | None = None) -> object:
    """A line's JSON (`raw`: its bytes, if read as such), or InboundError saying why not: a
    bad line is reported, not the end of the replay (json.loads also raises RecursionError,
    and ValueError for an integer longer than Python converts)."""
    try:
        return load_json_text(line, raw)
    except (ValueError, RecursionError) as exc:
        raise InboundError(f"invalid JSON: {describe_json_error(exc)}") from None


class _Encoded:
    """A replayed JSON body's bytes, as a webhook would carry them, made when first asked."""

    __slots__ = ("body", "raw")

    def __init__(self, body: dict) -> None:
        self.body = body
        self.raw: bytes | None = None

    def __call__(self) -> bytes:
        if self.raw is None:
            self.raw = json.dumps(self.body, ensure_ascii=False).encode()
        return self.raw


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _records(decided) -> Iterator[dict]:
    for d in decided:
        if d.actions:  # most events and timers decide nothing: no time to write
            at = _iso(d.at)
            for action in d.actions:
                yield action.to_record(at)


class ReplayFeed:
    """Replayed events through the serve decider, in batches, on a simulated clock.

    Events are stored and decided in batches (one transaction each); before each event, the
    batch fires every timer due by its arrival, each with its due time as `now`
    (`Decider.decide_in_time_order`). A scheduled job's occurrence ends a batch: the job runs
    at its own time between the events around it, on what was decided before it, as it would
    have live.
    """

    # How far ahead to look for the next scheduled job occurrence (a weekly job at most).
    LOOKAHEAD_DAYS = 8

    def __init__(
        self, rules: RulesConfig, jobs, batch: int = 500, store: Store | str | None = None
    ):
        self.store = open_replay_store(store)
        self.rules = rules
        # Bumped before anything that may write what jobs read (deciding events, firing
        # timers): jobs reuse their reads while it stands (JobRunner.data_version).
        self.writes = 0
        self.jobs = JobRunner(self.store, rules, jobs, data_version=lambda: self.writes)
        self._due: tuple[int, datetime | None] = (-1, None)
        # The latest time replayed so far; timers and jobs have run up to `done`.
        self.latest: datetime | None = None
        self.done: datetime | None = None
        # The memory store hands back the very states it was given: the decider's cache of
        # them (for a database's rows) would only cost its upkeep.
        cache = 0 if isinstance(self.store, MemoryStore) else CACHE_TICKETS
        self.decider = Decider(
            self.store, rules, lambda: self.latest or _EPOCH, batch=batch, cache_tickets=cache
        )
        self.pending: list[tuple[TicketEvent, str, datetime]] = []
        # Job occurrences per UTC day (the day's start → its occurrences), listed once.
        self._occurrences: dict[datetime, list[tuple[datetime, Job]]] = {}
        # Before this time no job occurs.
        self.horizon: datetime | None = None

    def add(self, events, body: str, at: datetime) -> Iterator[dict]:
        if self.horizon is not None and at >= self.horizon:
            yield from self._flush()
            yield from self._advance(at)
        if self.done is None:  # the simulated clock starts at the first event
            self.done = at
            self._update_horizon()
        self.latest = at if self.latest is None else max(self.latest, at)
        self.pending += [(e, body, at) for e in events]
        if len(self.pending) >= self.decider.batch:
            yield from self._flush()

    def finish(self, until: datetime | None) -> Iterator[dict]:
        yield from self._flush()
        if until is not None:
            yield from self._advance(until)

    def _flush(self) -> Iterator[dict]:
        """Store and decide the pending events; before each of them, fire what fell due."""

        if self.pending:
            with self.store.writing() as session:
                session.insert_ticket_events(self.pending)
            self.pending = []
        while decided := self._decide(self.decider.decide_in_time_order):
            yield from _records(decided)
        if self.latest is not None:  # up to the last line (a duplicate decides nothing)
            yield from self._advance(self.latest)

    def _advance(self, until: datetime) -> Iterator[dict]:
        """Fire timers and run job occurrences up to `until`, in time order; a job runs
        before a timer due at its instant."""

        occurrences = []
        if self.done is not None and until > self.done:
            occurrences = self._list_occurrences(self.done, until)
        next_due = self._next_due()
        for at, job in [*occurrences, (None, None)]:
            # Timers due before the occurrence (or up to `until` after the last one); most
            # occurrences (a check every few minutes) have none, and skip the claim.
            limit = until if at is None else at - timedelta(microseconds=1)
            if next_due is not None and next_due <= limit:
                while decided := self._decide(
                    self.decider.fire_due_timers, limit, at_due_time=True
                ):
                    yield from _records(decided)
                next_due = self._next_due()
            if job is not None:
                outcome = self.jobs.run_occurrence(job, at, at)
                for action in outcome.actions if outcome else ():
                    yield action.to_record(_iso(at))
        self.done = until if self.done is None else max(self.done, until)
        self._update_horizon()

    def _decide(self, step, *args, **kwargs) -> list:
        self.writes += 1  # deciding may write what jobs read
        return step(*args, **kwargs)

    def _list_occurrences(self, start: datetime, end: datetime) -> list[tuple[datetime, Job]]:
        """Every job's occurrences in (start, end], in time order; each UTC day's are listed
        once (the clock moves in small steps, many of them within one day)."""
        found = []
        day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            if day not in self._occurrences:
                self._occurrences[day] = list_occurrences(
                    self.jobs.jobs, self.rules, day, day + timedelta(days=1)
                )
            listed = self._occurrences[day]  # in time order: the span's part by bisection
            first = bisect_right(listed, start, key=_time_of)
            found += listed[first : bisect_right(listed, end, lo=first, key=_time_of)]
            day += timedelta(days=1)
        return found

    def _next_occurrence(self) -> datetime:
        assert self.done is not None
        for days in range(1, self.LOOKAHEAD_DAYS + 1):
            upcoming = self._list_occurrences(self.done, self.done + timedelta(days=days))
            if upcoming:
                return upcoming[0][0]
        return self.done + timedelta(days=self.LOOKAHEAD_DAYS)

    def _next_due(self) -> datetime | None:
        """The soonest pending timer; read again only after something was decided (nothing
        else sets or fires timers here)."""
        if self._due[0] != self.writes:
            with self.store.reading() as session:
                self._due = (self.writes, session.next_due_at())
        return self._due[1]

    def _update_horizon(self) -> None:
        # Timers fire inside the batches; only a job occurrence makes the events wait.
        self.horizon = None
        if self.done is not None and self.jobs.jobs:
            self.horizon = self._next_occurrence()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Each line's source by its text, without EnumType.__call__ (a slow path on 3.11); an unknown
# one is refused naming these.
_SOURCES = {member.value: member for member in Source}
_time_of = itemgetter(0)  # of a job occurrence (time, job)


def open_replay_store(store: Store | str | None) -> Store:
    """The store a replay writes: in memory (None), a database at a URL (migrated first),
    or the store given."""
    if store is None:
        return MemoryStore()
    if isinstance(store, str):
        # SQLAlchemy only for a database: replay in memory does not pay for importing it.
        from deskbridge.store.db import create_store_engine, migrate_store
        from deskbridge.store.session import SqlStore

        engine = create_store_engine(store)
        migrate_store(engine)
        return SqlStore(engine)
    return store


def _describe_action(record: dict) -> str:
    text = record["action"]
    if text == "coach":  # a DM: its `target` is the day's response target, not an audience
        return f"coach {record['kind']} → {record['person']}"
    if text == "page_oncall":  # who is paged, and in which channels (no one: the channels)
        channels = ", ".join(record.get("channels") or [])
        people = ", ".join(record.get("people") or [])
        return f"{text} → {people} ({channels})" if people else f"{text} → {channels}"
    if text == "pager":  # the pager's side of the chain: trigger, acknowledge or resolve
        return f"{text} {record['event_action']}"
    if record.get("target"):
        text += f" → {record['target']}"
        if record.get("channel"):
            text += f" ({record['channel']})"
    elif record.get("channel"):  # posted to a channel, to no one in particular (a hand-off)
        text += f" → {record['channel']}"
    if record.get("tags"):
        text += " " + " ".join(record["tags"])
    return text


def format_timeline(records: Iterable[dict], zone: tzinfo = UTC) -> Iterator[str]:
    """The actions in time order under a header per day, those decided together (same time,
    ticket and reason) as one readable entry; days and times on the clock of `zone` (the
    team's: the reasons' due times and the jobs' 11:00 are the team's local times).

    Sorted by time (stably: actions at one instant stay in the order decided): records come
    in the order decided, and an action that fell due before it was decided (an SLA warning
    of a ticket whose priority was raised after the warning's time) came after later ones,
    its day's header again below the next day's. JSON lines keep the order decided."""
    day = None
    group: list[dict] = []
    clock = ""

    def flush() -> Iterator[str]:
        if group:
            first = group[0]
            actions = ", ".join(_describe_action(r) for r in group)
            yield f"{clock}  {first['ticket']:<16} {actions}"
            yield f"{'':7}why: {first['reason']}"

    for record in sorted(records, key=_instant_of):
        same = group and all(record[k] == group[0][k] for k in ("at", "ticket", "reason"))
        if not same:
            yield from flush()
            group = []
            local = _instant_of(record).astimezone(zone)
            clock = local.strftime("%H:%M")
            if local.date().isoformat() != day:
                day = local.date().isoformat()
                yield f"── {day} ──"
        group.append(record)
    yield from flush()


def _instant_of(record: dict) -> datetime:
    # Not the text: "…08:00:27.5Z" sorts before "…08:00:27Z".
    return datetime.fromisoformat(record["at"])
