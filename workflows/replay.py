"""The replay engine behind `deskbridge replay`: recorded events through the real parsers and
workflows on an in-memory store and a simulated clock, offline.

The helpdesk parsers come in as the connector registry (the caller passes it), so this module
names no helpdesk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from deskbridge.config.rules import RulesConfig
from deskbridge.connectors.connector import Connector
from deskbridge.connectors.errors import InboundError, UnsupportedEvent
from deskbridge.connectors.parsing import parse_time
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.timers import next_due_at
from deskbridge.workflows.job_runner import JobRunner
from deskbridge.workflows.model import Source
from deskbridge.workflows.rules import JOBS
from deskbridge.workflows.schedule import list_occurrences
from deskbridge.workflows.service import WorkflowService


@dataclass
class ReplayError:
    line: int
    message: str


def run_replay(
    lines: Iterable[str],
    rules: RulesConfig,
    connectors: Mapping[Source, Connector],
    until: datetime | None = None,
) -> Iterator[dict | ReplayError]:
    """Replay JSONL events on an in-memory store, each body read by its helpdesk's entry in
    `connectors` (the registry); yield each new action as a record (`at` +
    Action.to_record()) or a ReplayError for a line that could not be used."""
    engine = create_store_engine("sqlite://")
    migrate_store(engine)
    service = WorkflowService(engine, rules)
    jobs = JobRunner(engine, rules, JOBS)
    # Scheduled jobs run from the first event's time on: the simulated clock starts there.
    clock: datetime | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise InboundError("expected a JSON object per line")
            at = parse_time(item.get("at"), "at")
            source = Source(item.get("source"))
            body = item.get("body")
            if isinstance(body, dict):
                raw = json.dumps(body, ensure_ascii=False).encode()
            elif isinstance(body, str):
                raw = body.encode()
            else:
                raise InboundError("expected a JSON object or an XML string", "body")
            if source not in connectors:
                raise InboundError(f"source {source.value} is not supported yet", "source")
            events = connectors[source].parse(raw, at, rules)
        except json.JSONDecodeError as exc:
            yield ReplayError(number, f"invalid JSON: {exc.msg}")
            continue
        except ValueError as exc:
            yield ReplayError(number, f"source: {exc}")
            continue
        except InboundError as exc:
            where = f"{exc.field}: " if exc.field else ""
            yield ReplayError(number, where + exc.message)
            continue
        except UnsupportedEvent as exc:
            yield ReplayError(number, f"ignored event type {exc.event_type}")
            continue
        yield from fire_timers_until(service, at, jobs, clock)
        clock = at if clock is None else max(clock, at)
        for event in events:
            outcome = service.accept_event(event, raw.decode(), at)
            for action in outcome.actions:
                yield {"at": _iso(at), **action.to_record()}
    if until is not None:
        yield from fire_timers_until(service, until, jobs, clock)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fire_timers_until(
    service: WorkflowService,
    until: datetime,
    jobs: JobRunner | None = None,
    since: datetime | None = None,
) -> Iterator[dict]:
    """Fire due timers and run scheduled jobs' occurrences in (since, until] in time order,
    each at its own time (the simulated clock); a job runs before a timer due at its instant."""
    occurrences = []
    if jobs is not None and since is not None and until > since:
        occurrences = list_occurrences(jobs.jobs, jobs.rules, since, until)
    occurrences.reverse()  # popped soonest first
    while True:
        with service.engine.connect() as connection:
            due = next_due_at(connection)
        if due is not None and due > until:
            due = None
        if occurrences and (due is None or occurrences[-1][0] <= due):
            at, job = occurrences.pop()
            outcome = jobs.run_occurrence(job, at, at)
            for action in outcome.actions if outcome else ():
                yield {"at": _iso(at), **action.to_record()}
            continue
        if due is None:
            return
        for outcome in service.fire_due_timers(due):
            for action in outcome.actions:
                yield {"at": _iso(due), **action.to_record()}


def _describe_action(record: dict) -> str:
    text = record["action"]
    if record.get("target"):
        text += f" → {record['target']}"
        if record.get("channel"):
            text += f" ({record['channel']})"
    if record.get("tags"):
        text += " " + " ".join(record["tags"])
    return text


def format_timeline(records: Iterable[dict]) -> Iterator[str]:
    """Group actions decided together (same time, ticket and reason) into one readable entry."""
    day = None
    group: list[dict] = []

    def flush() -> Iterator[str]:
        if group:
            first = group[0]
            actions = ", ".join(_describe_action(r) for r in group)
            yield f"{first['at'][11:16]}  {first['ticket']:<16} {actions}"
            yield f"{'':7}why: {first['reason']}"

    for record in records:
        same = group and all(record[k] == group[0][k] for k in ("at", "ticket", "reason"))
        if not same:
            yield from flush()
            group = []
        if record["at"][:10] != day:
            day = record["at"][:10]
            yield f"── {day} ──"
        group.append(record)
    yield from flush()
