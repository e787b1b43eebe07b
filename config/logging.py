"""Logging: stable dotted event names with details as key=value fields.

Callers pass ids, counts and kinds only; never emails, phone numbers, message bodies or secrets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

_FIELDS = "deskbridge_fields"


def log_event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    logger.log(level, name, extra={_FIELDS: fields})


class OutageLog:
    """A failure that repeats while it lasts (the store down, retried every half second by
    each loop) logged as an outage, not a line per attempt: its first occurrence, then at most
    one line every `every` seconds (`repeated`: how many since the last line), and one line
    when it ends (the `recovered` event, with the failures counted and how long it lasted)."""

    def __init__(
        self,
        logger: logging.Logger,
        name: str,
        recovered: str,
        every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.logger, self.name, self.recovered_name = logger, name, recovered
        self.every, self.clock = every, clock
        self._lock = threading.Lock()
        self._since: float | None = None  # when the outage started
        self._last = 0.0  # when a line was last written
        self._failures = 0  # in the whole outage
        self._unlogged = 0  # since the last line

    def failed(self, level: int = logging.ERROR, exc_info: bool = False, **fields: Any) -> None:
        """Count a failure; log it if it starts the outage or a minute has passed since the
        last line (`exc_info`: with the exception being handled, as logging takes it)."""
        with self._lock:
            now = self.clock()
            self._failures += 1
            if self._since is None:
                self._since = self._last = now
            elif now - self._last >= self.every:
                fields["repeated"] = self._unlogged + 1
                self._last, self._unlogged = now, 0
            else:
                self._unlogged += 1
                return
        self.logger.log(level, self.name, exc_info=exc_info, extra={_FIELDS: fields})

    def succeeded(self) -> None:
        with self._lock:
            if self._since is None:
                return
            fields = {"failures": self._failures, "down_s": round(self.clock() - self._since, 1)}
            self._since, self._failures, self._unlogged = None, 0, 0
        log_event(self.logger, logging.INFO, self.recovered_name, **fields)


class FieldFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields = getattr(record, _FIELDS, None)
        if not fields:
            return base
        rendered = " ".join(f"{k}={_render(v)}" for k, v in fields.items())
        return f"{base} {rendered}"


def _render(value: Any) -> str:
    text = str(value)
    # One event, one line: no raw CR/LF from values.
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if '"' in text:  # a quote inside a value would end it early for a logfmt reader
        return '"' + text.replace('"', '\\"') + '"'
    return f'"{text}"' if (" " in text or not text) else text


# Libraries speak only when something is wrong, unless DESKBRIDGE_LOG_LEVEL=DEBUG: APScheduler
# logs two INFO lines per sweep (every half second), bolt logs forged requests' bodies at INFO,
# alembic names its plugins and its SQLite impl at every start and each migration it runs
# (deskbridge says from and to which revision it migrated, as one event).
LIBRARY_LOGGERS = (
    "apscheduler",
    "slack_bolt",
    "deskbridge.slack.bolt",
    "urllib3",
    "slack_sdk",
    "alembic",
)
# slack_sdk logs whole request and response bodies (message text) at DEBUG: never below INFO.
SLACK_SDK_LOGGER = "deskbridge.slack.sdk"
# waitress warns "Task queue depth is N" for every request that arrives while its threads are
# busy: under load a line for every other request (10,000 in a 10-second benchmark run),
# formatted and written by its one I/O thread, under the lock its threads take requests with.
# Shown at DEBUG only; the queueing shows in the helpdesk's delivery times, not in ours.
WAITRESS_QUEUE_LOGGER = "waitress.queue"


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(FieldFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    debug = root.level <= logging.DEBUG
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger(SLACK_SDK_LOGGER).setLevel(logging.INFO if debug else logging.WARNING)
    logging.getLogger(WAITRESS_QUEUE_LOGGER).setLevel(logging.DEBUG if debug else logging.ERROR)
