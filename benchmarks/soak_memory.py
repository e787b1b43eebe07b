"""Where a soak's memory goes, in one process: the sustained-rate soak's events
(benchmarks/sustained_rate.py, `make_events`) through the webhook's own path (Flask's test
client: signature check, parsing, storing, the metrics), then the decider, the timer sweep and
the dry-run dispatcher, on a SQLite file, with a simulated clock that moves `1 / rate` s per
event, so timers fall due as they would at that rate. No threads, no HTTP.

Every `--every` events it prints the process's RSS, the decider's cached tickets and, with
`--trace`, what tracemalloc says grew since the previous report (grouped by traceback, the
largest first). `--cache N` sets the decider's cache bound for the run, so what grows after
the cache is full shows within a short run; `--trim` calls glibc's malloc_trim(0) before each
RSS reading, which returns free heap pages to the system: RSS that falls back with it was
fragmentation, not live objects.

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
            else:
                stack += gc.get_referents(item)
        return total

    entries = list(cache.values())
    for key, (version, state) in cache.items():
        by_field["(cache entry, key, version)"] = by_field.get("(cache entry, key, version)", 0) + (
            size(key) + size(version) + sys.getsizeof((version, state)) + 100  # OrderedDict node
        )
        own = sys.getsizeof(state) + sys.getsizeof(state.__dict__)
        own += size(state.__pydantic_fields_set__)
        seen.update((id(state), id(state.__dict__)))
        by_field["(model object, __dict__, fields_set)"] = (
            by_field.get("(model object, __dict__, fields_set)", 0) + own
        )
        for name, value in state.__dict__.items():
            by_field[name] = by_field.get(name, 0) + size(value)
    count = max(len(entries), 1)
    total = sum(by_field.values())
    print(f"cached states: {len(entries)}, {total / 1e6:.1f} MB, {total / count:.0f} bytes each")
    for name, value in sorted(by_field.items(), key=lambda item: -item[1]):
        if value / count >= 1:
            print(f"  {name:40s} {value / count:8.0f} bytes per ticket")


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
    runtime = create_runtime(Settings(), clock=clock)
    migrate_store(runtime.engine)
    client = create_app(runtime=runtime).test_client()
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
        runtime.read_backlog()

    snapshot = None
    print(
        f"events {args.events}, simulated {args.rate:g}/s, cache bound "
        f"{decider.cache_tickets}; store {workdir / 'deskbridge.db'}"
    )
    print(
        "  events  sim_min  cached  misses  rss_mb  sqlite_mb  connections  cpu_s  decide_cpu_s"
        "  traced_mb"
    )
    started = cpu_s()
    for n, body in enumerate(bodies, 1):
        stamp = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
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
            raise SystemExit(f"event {n}: {response.status_code} {response.data[:200]!r}")
        clock.now += step
        if n % per_second == 0:
            settle()
        if n % args.every == 0 or n == len(bodies):
            settle()
            gc.collect()
            if libc is not None:
                libc.malloc_trim(0)
            tracing = tracemalloc.is_tracing()
            traced = tracemalloc.get_traced_memory()[0] / 1e6 if tracing else float("nan")
            print(
                f"  {n:6d}  {n / args.rate / 60:7.2f}  {len(decider._cache):6d}  {misses[0]:6d}  "
                f"{rss_mb():6.1f}  {sqlite_mb():9.1f}  {runtime.engine.pool.checkedin():11d}  "
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
    if args.fields:
        measure_cache(decider._cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
