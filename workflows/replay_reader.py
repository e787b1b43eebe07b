"""Replay's second process: the lines read and parsed ahead while the first decides.

Reading a line into events (JSON, the envelope, the helpdesk's parser with its models) is
pure and 15% of the generated week's instructions; deciding is one ordered fold that cannot
be split (benchmarks/README.md, thirty-second session). With two CPUs, a child forked at
the start runs `read_lines` over the file and sends each item to the parent through a pipe,
in order; the parent decides as it would have, item by item. What the parent gets is equal,
item for item, to what it would have read itself: errors with their line numbers, the events
(unpickled, not validated again), and the log records the parsing made, handled in the parent
where the line's turn comes, so stderr reads as it did.

The items travel pickled, a message of ITEMS_PER_MESSAGE at a time. A format of their own
(models as their fields, enum members and times numbered once each) was tried and cost the
parent as much (52,000 instructions a line against pickle's 46,500, against 150,000 to read
the line) and the child twice as much (benchmarks/README.md, thirty-second session).

No second process (one process, as before) where `os.fork` is missing, the input is not a
file (a list, `CliRunner`'s stdin), the process has another thread (a fork would copy a lock
held by it), fewer than two CPUs are usable, or the fork or the pipe fails.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import struct
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)

# Items per message: large enough that a message costs little beside its items, small
# enough that the parent starts deciding at once.
ITEMS_PER_MESSAGE = 64
# Asked of the pipe (Linux: F_SETPIPE_SZ, up to /proc/sys/fs/pipe-max-size): the child
# runs ahead by this much before it waits.
PIPE_BYTES = 1 << 20

_LENGTH = struct.Struct("<I")
# Message kinds: items, then the end; or what went wrong in the child.
_ITEMS, _END, _RAISED = 0, 1, 2
# Entry kinds within a message: an item of `read_lines`, a log record, a warning.
_ITEM, _LOGGED, _WARNED = 0, 1, 2


class ReaderFailed(RuntimeError):
    """The second process ended before the end of the input."""


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
    done = False
    status = None  # the child's, once reaped
    try:
        while True:
            head = pipe.read(4)
            if len(head) < 4:
                break
            (size,) = _LENGTH.unpack(head)
            kind, payload = pickle.loads(pipe.read(size))
            if kind == _END:
                done = True
                return
            if kind == _RAISED:
                done = True
                raise payload
            for tag, value in payload:
                if tag == _ITEM:
                    yield value
                elif tag == _LOGGED:
                    logging.getLogger(value.name).handle(value)
                else:
                    warnings.showwarning(*value)
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


# The child.


def _run_child(fd: int, items: Iterator[Any]) -> None:
    status = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it quietly
        pipe = os.fdopen(fd, "wb", buffering=PIPE_BYTES)
        out: list = []
        _capture_logs(out)
        try:
            for item in items:
                out.append((_ITEM, item))
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
    data = pickle.dumps((kind, payload), pickle.HIGHEST_PROTOCOL)
    pipe.write(_LENGTH.pack(len(data)))
    pipe.write(data)
    pipe.flush()


def _pickled_exception(exc: BaseException) -> BaseException:
    """`exc`, or where it does not pickle, a RuntimeError that says it."""
    try:
        pickle.dumps(exc)
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


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
        out.append((_LOGGED, record))

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # type: ignore[no-untyped-def]
        out.append((_WARNED, (str(message), category, filename, lineno)))

    logging.Logger.handle = handle  # type: ignore[method-assign]
    warnings.showwarning = show
