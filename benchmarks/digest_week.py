"""`deskbridge digest --week` on a month of a 200-agent team's stored activity (SQLite).

Aim (issue 10): under 2 s. Baseline in the same run: the same store's plainest read for the
week, replies counted per author (`store.replies.count_replies_by_author`, one indexed GROUP
BY), and `deskbridge --help` (the interpreter and the CLI's imports).

    python benchmarks/digest_week.py [--agents 200] [--days 30] [--runs 5] [--keep PATH]
        [--previous-cli OTHER_CHECKOUT/.venv/bin/deskbridge]

The store is filled through the store's own functions (what the decider writes): one ticket
row, its replies, customer messages and facts per ticket, dated across working hours of the
month's weekdays.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.store.activity import record_facts
from deskbridge.store.db import create_store_engine, migrate_store
from deskbridge.store.replies import count_replies_by_author, record_reply
from deskbridge.store.tickets import lock_ticket, save_ticket
from deskbridge.workflows import activity as kinds
from deskbridge.workflows.activity import Fact
from deskbridge.workflows.model import Source, Status, TicketState

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("deskbridge")
CATEGORIES = [
    ("delivery_delay", "logistics"),
    ("product_defect", "quality"),
    ("refund", "post_sales"),
    ("wrong_item", "logistics"),
    ("missing_parts", "quality"),
]


def write_config(path: Path, agents: int) -> None:
    """The example rules with a roster of `agents` agents of mixed tenure."""
    import yaml

    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data.pop("oncall", None)
    data["agents"] = [
        {
            "name": f"Agent {i:03d}",
            "slack_id": f"U0BENCH{i:03d}",
            "zendesk_id": f"91{i:011d}",
            "started_on": (date(2025, 1, 6) + timedelta(days=7 * (i % 70))).isoformat(),
        }
        for i in range(agents)
    ]
    path.write_text(yaml.safe_dump(data))


def fill(url: str, agents: int, days: int, last: date) -> dict[str, int]:
    rng = random.Random(1)
    engine = create_store_engine(url)
    migrate_store(engine)
    counts = {"tickets": 0, "replies": 0, "facts": 0}
    day = last - timedelta(days=days - 1)
    while day <= last:
        if day.weekday() < 5:
            with engine.begin() as connection:
                for i in range(agents):
                    me = f"91{i:011d}"
                    for j in range(12):  # 12 tickets, about 32 replies a day per agent
                        fill_ticket(connection, rng, day, i, j, me, counts)
        day += timedelta(days=1)
    engine.dispose()
    return counts


def fill_ticket(connection, rng, day, i, j, me, counts) -> None:
    number = f"{day:%m%d}{i:03d}{j:02d}"
    key = f"zendesk:{number}"
    created = datetime(day.year, day.month, day.day, 9, tzinfo=UTC) + timedelta(
        minutes=rng.randrange(0, 480)
    )
    state = TicketState(
        key=key,
        source=Source.zendesk,
        ticket_id=number,
        status=Status.open,
        assignee=me,
        requester=f"77{rng.randrange(0, 400000)}",
        created_at=created,
    )
    lock_ticket(connection, key, created)
    save_ticket(connection, state, created)
    counts["tickets"] += 1
    at = created + timedelta(minutes=rng.randrange(5, 90))
    facts = []
    category, department = CATEGORIES[(i + j) % len(CATEGORIES)]
    facts += [
        Fact(f"{key}:route", created, kinds.ROUTE, key, detail=department),
        Fact(f"{key}:route:category", created, kinds.CATEGORY, key, detail=category),
        Fact(f"{key}:sla_met:first", at, kinds.SLA_MET, key, me, "first_reply"),
    ]
    for n in range(2 + (j % 3 == 0)):
        record_reply(connection, f"c{n}", key, me, at)
        counts["replies"] += 1
        if n == 0:
            customer = at + timedelta(minutes=rng.randrange(3, 40))
            facts.append(Fact(f"{key}:customer:{n}", customer, kinds.CUSTOMER_MESSAGE, key))
            at = customer + timedelta(minutes=rng.randrange(2, 30))
        else:
            at += timedelta(minutes=rng.randrange(2, 30))
    if j % 3 == 0:
        facts.append(Fact(f"{key}:call", at, kinds.CALL_REQUESTED, key, me))
    if j % 2 == 0:
        facts.append(Fact(f"{key}:solved", at, kinds.SOLVED, key, me))
    record_facts(connection, facts)
    counts["facts"] += len(facts)


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def output(command: list[str], env: dict[str, str]) -> bytes:
    return subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT).stdout


def summary(times: list[float]) -> str:
    return (
        f"median {statistics.median(times):.2f} s  min {min(times):.2f}  max {max(times):.2f}  "
        f"(runs {len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the store here (reused if it exists)")
    parser.add_argument(
        "--previous-cli",
        type=Path,
        help="another checkout's deskbridge (its own venv): timed on the same store, its runs "
        "interleaved with this checkout's, its JSON compared",
    )
    args = parser.parse_args()
    last = date(2026, 3, 27)  # a Friday: the weekly review's day
    folder = Path(tempfile.mkdtemp())
    db = args.keep or folder / "bench.db"
    config = folder / "rules.yaml"
    write_config(config, args.agents)
    url = f"sqlite:///{db}"
    started = time.perf_counter()
    if db.exists():
        engine = create_store_engine(url)
        migrate_store(engine)
        engine.dispose()
        print(f"store: {db} reused ({db.stat().st_size / 1e6:.0f} MB)")
    else:
        counts = fill(url, args.agents, args.days, last)
        print(
            f"store: {counts['tickets']:,} tickets, {counts['replies']:,} replies, "
            f"{counts['facts']:,} facts over {args.days} days, {args.agents} agents "
            f"({db.stat().st_size / 1e6:.0f} MB, filled in {time.perf_counter() - started:.0f} s)"
        )
    env = {**os.environ, "DATABASE_URL": url, "DESKBRIDGE_CONFIG": str(config)}
    day = last.isoformat()
    commands = {
        "deskbridge --help (startup)": ["--help"],
        "digest --week --format json": ["digest", "--week", "--date", day, "--format", "json"],
        "digest --week (text)": ["digest", "--week", "--date", day],
        "digest --date (one day, json)": ["digest", "--date", day, "--format", "json"],
    }
    clis = {"": CLI}
    if args.previous_cli:
        clis["previous: "] = args.previous_cli
        for label in ("digest --week --format json", "digest --date (one day, json)"):
            mine, theirs = (output([str(c), *commands[label]], env) for c in clis.values())
            print(f"{label}: output {'identical' if mine == theirs else 'DIFFERS'} to previous")
    timed([str(CLI), *commands["digest --week (text)"]], env)  # warm the page cache
    for label, command in commands.items():
        times: dict[str, list[float]] = {name: [] for name in clis}
        for _ in range(args.runs):
            for name, cli in clis.items():  # alternate, so load changes hit both alike
                times[name].append(timed([str(cli), *command], env))
        for name in clis:
            print(f"{name + label:42} {summary(times[name])}")
    engine = create_store_engine(url)
    monday = datetime(2026, 3, 23, tzinfo=UTC)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        with engine.connect() as connection:
            count_replies_by_author(connection, monday, monday + timedelta(days=7))
        times.append(time.perf_counter() - start)
    print(f"{'baseline: replies per author (SQL)':32} median {statistics.median(times):.3f} s")
    from deskbridge.store.activity import read_period
    from deskbridge.workflows.digest import build_digest, build_period, repeat_window

    rules = load_rules(config)
    period = build_period(rules, last, week=True)
    start = time.perf_counter()
    with engine.connect() as connection:
        data = read_period(connection, period, repeat_window(rules))
    read = time.perf_counter() - start
    start = time.perf_counter()
    build_digest(rules, period, data)
    built = time.perf_counter() - start
    print(
        f"in process: read_period {read:.2f} s ({len(data.first_replies):,} first replies, "
        f"{len(data.repeated_replies):,} repeated, {len(data.facts):,} fact groups), "
        f"build_digest {built:.2f} s"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
