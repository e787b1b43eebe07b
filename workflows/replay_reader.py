"""Replay's second process: the lines read and parsed ahead while the first decides.

Reading a line into events (JSON, the envelope, the helpdesk's parser with its models) is
pure and 15% of the generated week's instructions; deciding is one ordered fold that cannot
be split (benchmarks/README.md, thirty-second session). With two CPUs, a child forked at
the start runs `read_lines` over the file and sends each item to the parent through a pipe,
in order; the parent decides as it would have, item by item. What the parent gets is equal,
item for item, to what it would have read itself: errors with their line numbers, the events
(rebuilt as `evolve` copies a model: its fields, not validated again), and the log records
the parsing made, handled in the parent where the line's turn comes, so stderr reads as it
did.

The events travel as plain values (`marshal`), rebuilt from their fields as `evolve` copies
a model: about 52,000 instructions a line in the parent against 150,000 to read it. A value
the plain form does not cover goes pickled.

No second process (one process, as before) where `os.fork` is missing, the input is not a
file (a list, `CliRunner`'s stdin), the process has another thread (a fork would copy a lock
held by it), fewer than two CPUs are usable, or the fork or the pipe fails.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import pickle
import signal
import struct
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any

from deskbridge.workflows.model import _FROZEN_MODELS
from deskbridge.workflows.replay import ReplayError

log = logging.getLogger(__name__)

# Items per message: large enough that a message costs little beside its items, small
# enough that the parent starts deciding at once.
ITEMS_PER_MESSAGE = 64
# Asked of the pipe (Linux: F_SETPIPE_SZ, up to /proc/sys/fs/pipe-max-size): the child
# runs ahead by this much before it waits.
PIPE_BYTES = 1 << 20

_LENGTH = struct.Struct("<I")
# Message kinds: items (marshalled), then the end; or what went wrong in the child.
_ITEMS, _END, _RAISED = 0, 1, 2
# Item kinds within a message.
_EVENTS, _DEFINED, _ERROR, _PICKLED, _LOGGED, _WARNED = 0, 1, 2, 3, 4, 5
# What a number in the table stands for.
_ENUM, _TIME = 0, 1

_PLAIN = frozenset({str, int, float, bool, type(None)})


class ReaderFailed(RuntimeError):
    """The second process ended before the end of the input."""


class _NotPlain(Exception):
    pass


def read_in_second_process(
    lines: Iterable[str | bytes], items: Iterator[Any]
) -> Iterator[Any] | None:
    """`items` (a generator over `lines`, not started) run in a forked child, or None where no
    second process can start (then the caller runs `items` itself)."""
    if not _can_fork(lines):
        return None
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    _widen(write_end)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # nothing buffered is written twice
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _run_child(write_end, items)
    os.close(write_end)
    return _receive(pid, read_end)


def _can_fork(lines: Iterable[str | bytes]) -> bool:
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    try:
        lines.fileno()  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        return False  # in memory (a list, CliRunner's stdin): no file for a child to read
    return usable_cpus() >= 2


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _widen(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # not a POSIX system (os.fork is missing there anyway)
        return
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setpipe is not None:
        # Refused: the default (64 KiB), and the child waits sooner; nothing else.
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, setpipe, PIPE_BYTES)


# The parent.


def _receive(pid: int, fd: int) -> Iterator[Any]:
    pipe = os.fdopen(fd, "rb", buffering=PIPE_BYTES)
    # The enum members and times this child has sent, by their number: each is sent once,
    # then named by its number (a ticket's times and the few members come in each event).
    table: list[Any] = []
    done = False
    status = None  # the child's, once reaped
    try:
        while True:
            head = pipe.read(4)
            if len(head) < 4:
                break
            (size,) = _LENGTH.unpack(head)
            kind, payload = marshal.loads(pipe.read(size))
            if kind == _END:
                done = True
                return
            if kind == _RAISED:
                done = True
                raise pickle.loads(payload)
            for item in payload:
                tag = item[0]
                if tag == _EVENTS:
                    yield [_unpack(e, table) for e in item[1]], item[2], table[item[3]]
                elif tag == _DEFINED:
                    table.append(_define(item[1]))
                elif tag == _ERROR:
                    yield ReplayError(item[1], item[2])
                elif tag == _PICKLED:
                    yield pickle.loads(item[1])
                elif tag == _LOGGED:
                    record = pickle.loads(item[1])
                    logging.getLogger(record.name).handle(record)
                else:
                    warnings.showwarning(*pickle.loads(item[1]))
        # The pipe's end without the end's message: the child closed it by ending.
        status = os.waitpid(pid, 0)[1]
        raise ReaderFailed(
            f"the process reading the events ended before the end of the file ({_how(status)})"
        )
    finally:
        pipe.close()  # a child still writing gets EPIPE and ends
        if status is None:
            if not done:
                _stop(pid)
            os.waitpid(pid, 0)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


_new_object = object.__new__
_set_attribute = object.__setattr__
_ZONES: dict[int, timezone] = {}


def _unpack(packed: list, table: list[Any]) -> Any:
    """A model from its class's number, its fields (a dict, as its `__dict__`) and, for the
    fields that are not plain values, each one's number in `table` or its own packed model."""
    values = packed[1]
    for name, ref in packed[2]:
        values[name] = table[ref] if ref.__class__ is int else _unpack(ref, table)
    made = _new_object(_MODELS[packed[0]][0])
    _set_attribute(made, "__dict__", values)
    return made


def _define(definition: tuple) -> Any:
    """An enum member or a time from its definition (`_key`)."""
    if definition[0] == _ENUM:
        return _MEMBERS[definition[1]][definition[2]]
    *parts, offset = definition[1]
    return datetime(*parts, tzinfo=UTC if offset is None else _zone(offset))


def _zone(seconds: int) -> timezone:
    zone = _ZONES.get(seconds)
    if zone is None:
        zone = _ZONES[seconds] = timezone(timedelta(seconds=seconds))
    return zone


# The child.


def _run_child(fd: int, items: Iterator[Any]) -> None:
    status = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it quietly
        pipe = os.fdopen(fd, "wb", buffering=PIPE_BYTES)
        out: list = []
        _capture_logs(out)
        packer = _Packer(out)
        try:
            for item in items:
                out.append(packer.item(item))
                if len(out) >= ITEMS_PER_MESSAGE:
                    _send(pipe, _ITEMS, out)
                    out.clear()
            _send(pipe, _ITEMS, out)
            _send(pipe, _END, None)
        except BrokenPipeError:
            raise
        except Exception as exc:  # said in the parent, where the line's turn comes
            _send(pipe, _ITEMS, out)
            _send(pipe, _RAISED, _pickled_exception(exc))
        pipe.flush()
    except BrokenPipeError:
        pass  # the parent stopped reading (an error of its own, Ctrl-C): nothing to say
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _send(pipe: Any, kind: int, payload: Any) -> None:
    """One message, at once: the parent decides from it while the next is read."""
    data = marshal.dumps((kind, payload))
    pipe.write(_LENGTH.pack(len(data)))
    pipe.write(data)
    pipe.flush()


def _pickled_exception(exc: BaseException) -> bytes:
    try:
        return pickle.dumps(exc)
    except Exception:
        return pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))


def _capture_logs(out: list) -> None:
    """Log records and warnings made while a line is read go to the parent, before that line's
    items, to be handled there (its handlers, its order on stderr)."""

    def handle(self: logging.Logger, record: logging.LogRecord) -> None:
        if self.disabled:
            return
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        out.append((_LOGGED, pickle.dumps(record)))

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # type: ignore[no-untyped-def]
        out.append((_WARNED, pickle.dumps((str(message), category, filename, lineno))))

    logging.Logger.handle = handle  # type: ignore[method-assign]
    warnings.showwarning = show


class _Packer:
    """The child's side of _unpack: models as lists, and enum members and times by their
    number in the parent's table, defined (an item of their own) before their first use."""

    def __init__(self, out: list) -> None:
        self.out = out
        self.numbers: dict[tuple, int] = {}

    def item(self, item: Any) -> tuple:
        cls = item.__class__
        if cls is tuple:
            events, text, at = item
            try:
                return _EVENTS, [self.model(e) for e in events], text, self.number(at)
            except _NotPlain:
                pass
        elif cls is ReplayError:
            return _ERROR, item.line, item.message
        return _PICKLED, pickle.dumps(item)

    def model(self, value: Any) -> list:
        index = _MODEL_INDEX.get(value.__class__)
        if index is None:
            raise _NotPlain
        names = _MODELS[index][1]
        values = value.__dict__
        if tuple(values) != names:
            raise _NotPlain
        special = []
        for name, v in values.items():
            if v.__class__ not in _PLAIN and not _is_plain(v):
                if v.__class__ in _MODEL_INDEX:
                    special.append((name, self.model(v)))
                else:
                    special.append((name, self.number(v)))
        packed = dict(values)
        for name, _ in special:
            packed[name] = None  # made again in the parent
        return [index, packed, tuple(special)]

    def number(self, value: Any) -> int:
        """`value`'s number in the table, defined first if new."""
        key = _key(value)
        found = self.numbers.get(key)
        if found is None:
            found = self.numbers[key] = len(self.numbers)
            self.out.append((_DEFINED, key))
        return found


def _is_plain(value: Any) -> bool:
    cls = value.__class__
    if cls is tuple:
        return all(v.__class__ in _PLAIN for v in value)
    if cls is dict:
        return all(k.__class__ is str and v.__class__ in _PLAIN for k, v in value.items())
    return False


def _key(value: Any) -> tuple:
    """What the parent makes `value` again from: an enum member by its class and value, a
    time by its fields and offset (two times at one instant in two zones are equal, and
    hash alike, but do not print alike)."""
    cls = value.__class__
    index = _ENUM_INDEX.get(cls)
    if index is not None:
        return _ENUM, index, value.value
    if cls is not datetime:
        raise _NotPlain
    zone = value.tzinfo
    offset = None
    if zone is not UTC:
        # A fixed offset of whole seconds, unnamed (as ISO times are read); else pickled.
        if zone.__class__ is not timezone:
            raise _NotPlain
        offset = zone.utcoffset(None) // timedelta(seconds=1)
        if _zone(offset).__reduce__() != zone.__reduce__():
            raise _NotPlain
    fields = (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        offset,
    )
    return _TIME, fields


def _models() -> list[tuple[type, tuple[str, ...]]]:
    # In a fixed order (by name), the same in both processes: the child is a fork.
    return [
        (cls, tuple(cls.__dataclass_fields__))
        for cls in sorted(_FROZEN_MODELS, key=lambda c: (c.__module__, c.__qualname__))
    ]


def _enums() -> list[tuple[type[Enum], dict[Any, Enum]]]:
    from deskbridge.workflows import model

    found = [v for v in vars(model).values() if isinstance(v, type) and issubclass(v, Enum)]
    found.sort(key=lambda c: c.__qualname__)
    return [(cls, {m.value: m for m in cls}) for cls in found if cls.__module__ == model.__name__]


_MODELS = _models()
_MODEL_INDEX = {cls: i for i, (cls, _) in enumerate(_MODELS)}
_ENUM_LIST = _enums()
_ENUM_INDEX = {cls: i for i, (cls, _) in enumerate(_ENUM_LIST)}
_MEMBERS = [members for _, members in _ENUM_LIST]
