"""Where a soak's memory goes, in one process: the sustained-rate soak's events
(benchmarks/sustained_rate.py, `make_events`) through the webhook's own path (Flask's test
client: signature check, parsing, storing, the metrics), then the decider, the timer sweep and
the dry-run dispatcher, on a SQLite file, with a simulated clock that moves `1 / rate` s per
event, so timers fall due as they would at that rate. No threads, no HTTP.

Every `--every` events it prints the process's RSS, the decider's cached tickets and the
states it read from the store (misses), `py_blocks` (memory blocks Python's allocator has handed
out: live Python objects and their buffers), `sqlite_mb` (what SQLite allocated itself: page
caches, statements; tracemalloc never sees it) and, with `--trace`, what tracemalloc says grew
since the previous report (grouped by traceback, the largest first). RSS that grows while
py_blocks and sqlite_mb stay flat is neither. `--cache N` sets the decider's cache bound, so
what grows after the cache is full shows within a short run. `--trim` calls glibc's
malloc_trim(0) after each RSS reading and reads RSS again (`trimmed`): RSS that falls back
with it was free memory malloc kept (fragmentation), not live objects. `--fields`: at the end,
the bytes of the cached states by field.

    nice .venv/bin/python benchmarks/soak_memory.py --events 40000 --every 5000
    nice .venv/bin/python benchmarks/soak_memory.py --events 30000 --cache 500 --trace \
        --trace-from 10000
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhook_throughput import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_PATH,
    base_env,
    build_signature,
    make_events,
)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_parts_mb() -> tuple[float, float, float, float]:
    """RSS by kind of mapping (/proc/self/smaps): glibc's main heap ([heap]), its per-thread
    heaps (anonymous mappings starting on a 64 MiB boundary, as glibc aligns them), other
    anonymous memory (Python's object arenas, large blocks), and files (libraries, SQLite's
    -shm)."""
    heap = threads = anonymous = files = 0
    low = 0
    name = ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        first = line.split(maxsplit=5)
        if "-" in first[0] and len(first) >= 5:  # a mapping's header line
            low = int(first[0].split("-")[0], 16)
            name = first[5] if len(first) > 5 else ""
        elif first[0] == "Rss:":
            kb = int(first[1])
            if name == "[heap]":
                heap += kb
            elif name.startswith("/"):
                files += kb
            elif not name and low % 2**26 == 0:
                threads += kb
            else:
                anonymous += kb
    return heap / 1024, threads / 1024, anonymous / 1024, files / 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def malloc_mb() -> tuple[float, float]:
    """glibc malloc's bytes in use (every arena, and blocks of their own mapping) and bytes
    free inside its heaps (mallinfo2): what Python hands to malloc (objects over 512 bytes,
    buffers) and SQLite's memory, live or kept."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20


def pymalloc_mb() -> tuple[float, float]:
    """Python's small-object allocator: bytes in blocks handed out, and its arenas' size
    (sys._debugmallocstats, which writes to the C stderr)."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode()
    figures = {}
    for line in text.splitlines():
        if "=" in line:
            name, _, value = line.rpartition("=")
            figures[name.strip()] = value.strip().replace(",", "")
    allocated = int(figures["# bytes in allocated blocks"])
    arenas = int(figures["# arenas allocated current"]) * 2**20
    return allocated / 2**20, arenas / 2**20


def sqlite_mb() -> float:
    """Memory SQLite holds (page caches of every connection, statements), from the library the
    sqlite3 module uses: malloc'd by SQLite itself, so tracemalloc never sees it."""
    library = ctypes.CDLL("libsqlite3.so.0")
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return library.sqlite3_memory_used() / 2**20


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Clock:
    """Simulated time: moved on by the driver, read by the webhook, decider and dispatcher."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def print_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int) -> None:
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "traceback")
    total = sum(s.size_diff for s in stats)
    print(f"    tracemalloc: {total / 1e6:+.2f} MB traced since the last report; largest:")
    for stat in stats[:top]:
        frames = [
            f"{Path(f.filename).name}:{f.lineno}"
            for f in stat.traceback
            if "/deskbridge/" in f.filename or "site-packages" not in f.filename
        ][-4:]
        where = " < ".join(reversed(frames))
        print(f"      {stat.size_diff / 1e3:+9.1f} kB {stat.count_diff:+7d} blocks  {where}")


def measure_cache(cache) -> None:
    """Bytes the decider's cached states hold, by field: every object reachable from a field,
    counted once over the whole cache (an object shared by many tickets, an enum member or an
    interned string, counts once, under the first field that reaches it)."""
    from dataclasses import is_dataclass

    from pydantic import BaseModel

    seen: set[int] = set()
    by_field: dict[str, int] = {}

    def size(obj) -> int:
        total, stack = 0, [obj]
        while stack:
            item = stack.pop()
            if id(item) in seen or isinstance(item, type):
                continue
            seen.add(id(item))
            total += sys.getsizeof(item)
            if isinstance(item, BaseModel):
                stack += [item.__dict__, item.__pydantic_fields_set__]
            elif is_dataclass(item):  # a state model (workflows/model.py): no fields set
                stack.append(item.__dict__)
            else:
                stack += gc.get_referents(item)
        return total

    entries = list(cache.values())
    for key, (version, state) in cache.items():
        by_field["(cache entry, key, version)"] = by_field.get("(cache entry, key, version)", 0) + (
            size(key) + size(version) + sys.getsizeof((version, state)) + 100  # OrderedDict node
        )
        own = sys.getsizeof(state) + sys.getsizeof(state.__dict__)
        seen.update((id(state), id(state.__dict__)))
        by_field["(model object, __dict__)"] = by_field.get("(model object, __dict__)", 0) + own
        for name, value in state.__dict__.items():
            by_field[name] = by_field.get(name, 0) + size(value)
    count = max(len(entries), 1)
    total = sum(by_field.values())
    print(f"cached states: {len(entries)}, {total / 1e6:.1f} MB, {total / count:.0f} bytes each")
    for name, value in sorted(by_field.items(), key=lambda item: -item[1]):
        if value / count >= 1:
            print(f"  {name:40s} {value / count:8.0f} bytes per ticket")


def datetime_now() -> datetime:
    return datetime.now(UTC)


def run_threaded(args, runtime, app, bodies: list[bytes], post, report) -> None:
    """serve's threads without its HTTP server: the decider, dispatcher, timer and job
    threads (`start_background`, on the real clock) and `--threads` request threads, each
    with a test client, posting at `--rate` in real time (open loop, as sustained_rate.py)."""
    lock = threading.Lock()
    sent = [0]
    start = time.monotonic() + 0.2

    def send() -> None:
        client = app.test_client()
        while True:
            with lock:
                index = sent[0]
                sent[0] += 1
            if index >= len(bodies):
                return
            delay = start + index / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            post(client, bodies[index], datetime_now())

    runtime.start_background()
    threads = [threading.Thread(target=send, daemon=True) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    due = args.every
    while any(t.is_alive() for t in threads):
        time.sleep(0.2)
        if min(sent[0], len(bodies)) >= due:
            report(due)
            due += args.every
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        backlog = runtime.read_backlog()
        if backlog["decide_lag_seconds"] == 0 and backlog["outbox_pending"] == 0:
            break
        time.sleep(0.5)
    report(len(bodies))
    runtime.stop_background()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--rate", type=float, default=200, help="simulated events per second")
    parser.add_argument("--every", type=int, default=5_000, help="events between reports")
    parser.add_argument("--cache", type=int, default=0, help="decider cache bound (0: default)")
    parser.add_argument("--trace", action="store_true", help="tracemalloc growth per report")
    parser.add_argument(
        "--trace-from", type=int, default=0, help="start tracing after this many events"
    )
    parser.add_argument("--frames", type=int, default=12, help="tracemalloc frames kept")
    parser.add_argument("--top", type=int, default=12, help="tracemalloc lines per report")
    parser.add_argument("--fields", action="store_true", help="cache bytes by field at the end")
    parser.add_argument(
        "--threads", type=int, default=0, help="request threads in real time (0: one thread)"
    )
    parser.add_argument("--trim", action="store_true", help="malloc_trim(0) before each RSS")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="deskbridge-soak-memory-"))
    os.environ.update(base_env(workdir / "deskbridge.db", "WARNING"))
    from deskbridge.app import create_app, create_runtime
    from deskbridge.config.settings import Settings
    from deskbridge.store.db import migrate_store
    from deskbridge.store.session import SqlSession

    bodies = make_events(args.events)
    clock = Clock(datetime.now(UTC))
    # Threads: the real clock, as serve; one thread: the simulated one.
    runtime = create_runtime(Settings(), clock=datetime_now if args.threads else clock)
    migrate_store(runtime.engine)
    app = create_app(runtime=runtime)
    decider = runtime.service.decider
    if args.cache:
        decider.cache_tickets = args.cache
    libc = ctypes.CDLL("libc.so.6") if args.trim else None
    step = timedelta(seconds=1 / args.rate)
    per_second = max(1, round(args.rate))

    # States the decider read from the store (cache misses) and its CPU, for what a miss costs.
    misses = [0]
    load_states = SqlSession.load_ticket_states

    def counting_load(session, keys):
        misses[0] += len(keys)
        return load_states(session, keys)

    SqlSession.load_ticket_states = counting_load
    deciding = [0.0]

    def settle() -> None:
        started = time.process_time()
        while decider.decide_pending():
            pass
        runtime.sweep_timers()
        deciding[0] += time.process_time() - started
        runtime.dispatcher.dispatch_due()
        runtime.run_jobs()  # serve runs the scheduled jobs' due occurrences every second
        runtime.read_backlog()

    snapshot = None
    mode = f"{args.threads} request threads at" if args.threads else "simulated"
    print(
        f"events {args.events}, {mode} {args.rate:g}/s, cache bound "
        f"{decider.cache_tickets}; store {workdir / 'deskbridge.db'}"
    )
    print(
        "  events  minutes  cached  misses  rss_mb  trimmed  (heap  thread_heaps  other_anon"
        "  files)  py_blocks  (pymalloc_used  arenas)  (malloc_used  free)  sqlite_mb"
        "  connections  cpu_s  decide_cpu_s  traced_mb"
    )
    started = cpu_s()

    def report(n: int) -> None:
        nonlocal snapshot
        gc.collect()
        rss = rss_mb()
        if libc is not None:
            libc.malloc_trim(0)
        tracing = tracemalloc.is_tracing()
        traced = tracemalloc.get_traced_memory()[0] / 1e6 if tracing else float("nan")
        parts = "  ".join(f"{mb:.1f}" for mb in rss_parts_mb())
        pymalloc, malloc = pymalloc_mb(), malloc_mb()
        print(
            f"  {n:6d}  {n / args.rate / 60:7.2f}  {len(decider._cache):6d}  {misses[0]:6d}  "
            f"{rss:6.1f}  {rss_mb():7.1f}  ({parts})  {sys.getallocatedblocks():9d}  "
            f"({pymalloc[0]:.1f}  {pymalloc[1]:.1f})  ({malloc[0]:.1f}  {malloc[1]:.1f})  "
            f"{sqlite_mb():9.1f}  "
            f"{runtime.engine.pool.checkedin():11d}  "
            f"{cpu_s() - started:5.1f}  {deciding[0]:12.1f}  {traced:9.1f}",
            flush=True,
        )
        if tracing:
            now = tracemalloc.take_snapshot()
            print_growth(snapshot, now, args.top)
            snapshot = now
        elif args.trace and n >= args.trace_from:
            # Only what is allocated from here on is traced (and slowed down, 10 times).
            tracemalloc.start(args.frames)
            snapshot = tracemalloc.take_snapshot()

    def post(client, body: bytes, at: datetime) -> None:
        stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        response = client.post(
            WEBHOOK_PATH,
            data=body,
            headers={
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: build_signature(stamp, body),
            },
        )
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code} {response.data[:200]!r}")

    if args.threads:
        run_threaded(args, runtime, app, bodies, post, report)
    else:
        client = app.test_client()
        for n, body in enumerate(bodies, 1):
            post(client, body, clock.now)
            clock.now += step
            if n % per_second == 0:
                settle()
            if n % args.every == 0 or n == len(bodies):
                settle()
                report(n)
    if args.fields:
        measure_cache(decider._cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
