"""Logging: stable dotted event names with details as key=value fields.

Callers pass ids, counts and kinds only; never emails, phone numbers, message bodies or secrets.
An exception is logged by its type and where it was raised (`describe_exception`), never by
its message: a rule raising on a value, a KeyError naming a text key or a validation error
echoing its input carries ticket text. A traceback is written as frames and exception types
only (`FieldFormatter.formatException`), so `exc_info` is safe whoever logs it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sysconfig
import threading
import time
import traceback
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from types import FrameType, TracebackType
from typing import Any

_FIELDS = "deskbridge_fields"


def log_event(
    logger: logging.Logger, level: int, name: str, exc_info: bool = False, **fields: Any
) -> None:
    """`exc_info`: with the traceback of the exception being handled (frames and types only)."""
    logger.log(level, name, exc_info=exc_info or None, extra={_FIELDS: fields})


def describe_unlisted(value: str, listed: Iterable[str]) -> dict[str, Any]:
    """The log fields of a value a rules-file list lacks (a Status or Priority picklist value)
    without the value: it may come from a Flow or a custom picklist and carry free text, a
    customer's name or words. `value_length` and `value_sha256` (the first 8 hex digits of the
    SHA-256 of its UTF-8) let an operator confirm a candidate (`printf %s 'Gelöst' | sha256sum`);
    `listed_as` names the listed value it matches but for case, spaces or Unicode form, when
    one does (the rules file's words, not the sender's)."""
    fields = describe_text(value)
    key = _loose(value)
    match = next((known for known in listed if _loose(known) == key), None)
    if match is not None:
        fields["listed_as"] = match
    return fields


def describe_text(value: str, field: str = "value") -> dict[str, Any]:
    """The log fields of a text that may hold anything (a value a sender writes freely, a name
    an admin gives a Zendesk trigger) without the text: `<field>_length` and `<field>_sha256`,
    the first 8 hex digits of the SHA-256 of its UTF-8, which tell such texts apart and let an
    operator confirm a candidate (`printf %s 'Gelöst' | sha256sum | cut -c1-8`)."""
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return {f"{field}_length": len(value), f"{field}_sha256": digest}


def _loose(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def describe_exception(exc: BaseException) -> dict[str, str]:
    """The log fields of an exception: `error`, its type, and `at`, the innermost frame it
    passed through (`module:function:line`, where it was raised). Never its message, which
    may quote the ticket, message or person it failed on. When it was raised inside a library
    (pydantic, SQLAlchemy, the standard library), `via` names the innermost frame of
    deskbridge's own code it passed through: the line an operator reports."""
    fields = {"error": type(exc).__name__}
    tb, own = exc.__traceback__, None
    while tb is not None:
        if _is_own(tb.tb_frame):
            own = tb
        if tb.tb_next is None:
            break
        tb = tb.tb_next
    if tb is not None:
        fields["at"] = _describe_frame(tb)
        if own is not None and own is not tb:  # raised in a library: own is an outer frame
            fields["via"] = _describe_frame(own)
    return fields


def _describe_frame(tb: TracebackType) -> str:
    module = tb.tb_frame.f_globals.get("__name__", "?")
    return f"{module}:{tb.tb_frame.f_code.co_name}:{tb.tb_lineno}"


# Where installed libraries and the standard library live; deskbridge itself may be installed
# there too, so its own modules are known by their name first.
_LIBRARY_PATHS = tuple(
    {
        os.path.join(os.path.realpath(path), "")
        for name in ("stdlib", "platstdlib", "purelib", "platlib")
        if (path := sysconfig.get_paths().get(name))
    }
)


def _is_own(frame: FrameType) -> bool:
    module = frame.f_globals.get("__name__", "")
    if module == "deskbridge" or module.startswith("deskbridge."):
        return True
    filename = frame.f_code.co_filename
    if filename.startswith("<"):  # frozen modules, <string>: the interpreter's
        return False
    return not os.path.realpath(filename).startswith(_LIBRARY_PATHS)


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
        log_event(self.logger, level, self.name, exc_info, **fields)

    def succeeded(self) -> None:
        with self._lock:
            if self._since is None:
                return
            fields = {"failures": self._failures, "down_s": round(self.clock() - self._since, 1)}
            self._since, self._failures, self._unlogged = None, 0, 0
        log_event(self.logger, logging.INFO, self.recovered_name, **fields)


class RepeatingLog:
    """A warning about a sender's set-up that every delivery repeats (a trigger template's
    mistake): logged the first time for each key, then at most once every `every` seconds
    for it (`repeated`: how many since its last line), not a line per webhook. Keys are kept
    for at most `keys` of them (then forgotten and said again)."""

    def __init__(
        self,
        logger: logging.Logger,
        name: str,
        every: float = 3600.0,
        keys: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.logger, self.name, self.every, self.keys, self.clock = logger, name, every, keys, clock
        self._lock = threading.Lock()
        self._seen: dict[Any, tuple[float, int]] = {}  # key: (last line, unlogged since)

    def warn(self, key: Any, **fields: Any) -> None:
        with self._lock:
            now = self.clock()
            seen = self._seen.get(key)
            if seen is not None:
                last, unlogged = seen
                if now - last < self.every:
                    self._seen[key] = (last, unlogged + 1)
                    return
                fields["repeated"] = unlogged + 1
            elif len(self._seen) >= self.keys:
                self._seen.clear()
            self._seen[key] = (now, 0)
        log_event(self.logger, logging.WARNING, self.name, **fields)

    def forget(self) -> None:
        """Say every key again from its next occurrence (tests)."""
        with self._lock:
            self._seen.clear()


class FieldFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # Another handler (pytest's, a tracker's) may have cached its own traceback text, with
        # the messages, on the record: this one is always formatted here, then put back.
        cached, record.exc_text = record.exc_text, None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The line with its fields; a traceback follows it, on the lines after."""
        base = super().formatMessage(record)
        fields = getattr(record, _FIELDS, None)
        if not fields:
            return base
        rendered = " ".join(f"{k}={_render(v)}" for k, v in fields.items())
        return f"{base} {rendered}"

    def formatException(self, ei: Any) -> str:
        """Python's traceback without the exceptions' messages: the frames (file, line,
        function, source line) and each chained exception's type."""
        if ei[1] is None:  # exc_info=True outside an except block
            return "NoneType: None"
        te = traceback.TracebackException(type(ei[1]), ei[1], ei[2])
        return "".join(_frames_and_types(te)).rstrip("\n")


def _frames_and_types(te: traceback.TracebackException) -> Iterator[str]:
    """traceback.TracebackException.format with each exception's line cut to its type (the
    chain is acyclic: TracebackException cuts cycles as it is built)."""
    if te.__cause__ is not None:
        yield from _frames_and_types(te.__cause__)
        yield "\nThe above exception was the direct cause of the following exception:\n\n"
    elif te.__context__ is not None and not te.__suppress_context__:
        yield from _frames_and_types(te.__context__)
        yield "\nDuring handling of the above exception, another exception occurred:\n\n"
    if te.stack:
        yield "Traceback (most recent call last):\n"
        yield from te.stack.format()
    yield f"{_type_name(te)}\n"


def _type_name(te: traceback.TracebackException) -> str:
    """The exception's qualified type name, as Python's traceback prints it before the
    message (`exc_type_str` from Python 3.13, where `exc_type` is deprecated)."""
    name = getattr(te, "exc_type_str", None)
    if name is not None:
        return name
    kind = te.exc_type
    if kind is None:
        return "None"
    module = kind.__module__
    return (
        kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"
    )


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
# Libraries that log whole request and response bodies (message text, a note's body, the
# ticket Zendesk answers with) at DEBUG: never below INFO, even under DESKBRIDGE_LOG_LEVEL=DEBUG.
SLACK_SDK_LOGGER = "deskbridge.slack.sdk"
ZENPY_LOGGER = "zenpy"
BODY_LOGGERS = (SLACK_SDK_LOGGER, ZENPY_LOGGER)
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
    for name in BODY_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if debug else logging.WARNING)
    logging.getLogger(WAITRESS_QUEUE_LOGGER).setLevel(logging.DEBUG if debug else logging.ERROR)
