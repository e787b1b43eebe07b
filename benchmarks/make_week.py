"""Write a generated working week of a 100-agent resolution team as replay input (JSONL).

Monday to Friday, 08:00 to 18:00 UTC: about 1,000 tickets a day are opened (`ticket.created`),
each worked by one agent in rounds of agent reply / customer answer (`ticket.comment_added`,
some internal notes), with a priority change now and then, and most are solved
(`ticket.status_changed`) the same or a later day. About 40,000 events for the week, in time
order, shaped like shared/fixtures/zendesk_*_event.json. Deterministic for a seed.

    python benchmarks/make_week.py > /tmp/week.jsonl
    deskbridge replay /tmp/week.jsonl --until 2026-03-07T00:00:00Z > /dev/null
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import sys
from datetime import UTC, datetime, timedelta

TOPICS = [
    ("Where is my sofa?", "My sofa was due last Tuesday and the tracking has not moved since."),
    ("Table arrived damaged", "The oak table arrived with a cracked leg and the box was crushed."),
    ("Missing screws", "The wardrobe came without the bag of screws, so I cannot build it."),
    ("Recliner stopped working", "The recliner mechanism stopped working after two weeks."),
    ("Refund not received", "I returned the chairs a month ago and still have no refund."),
    ("Wrong colour delivered", "I ordered the green velvet armchair and received a grey one."),
    ("Thank you", "Just wanted to say the bed arrived early and the driver was lovely."),
    ("Delivery slot", "Can I change my delivery slot to next week? I will be away."),
    ("Chargeback warning", "If this is not fixed I will file a chargeback with my bank."),
]
CUSTOMER = [
    "Any news on this? It has been three days.",
    "I have attached photos of the damage.",
    "The courier says it left the depot but nothing since.",
    "I took a day off work to wait for this delivery and nobody came.",
    "Please can someone call me back, I have asked twice now.",
    "Thanks, that works for me.",
    "I would like a replacement rather than a refund.",
    "The order number is on the original email.",
]
AGENT = [
    "Thanks for letting us know. I have asked the carrier for an update.",
    "Sorry about this. Could you send us a photo of the label on the box?",
    "I have arranged for the missing parts to be sent by courier.",
    "Your refund has been approved and should show within 3 to 5 working days.",
    "I have booked a technician visit; they will call the day before.",
]
TAGS = [[], ["web"], ["delivery"], ["sofa", "web"], ["returns"], ["vip"], ["phone_order"]]
PRIORITIES = ["URGENT", "HIGH", "NORMAL", "NORMAL", "NORMAL", "LOW"]


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(
    agents: int, tickets_per_day: int, days: int, start: datetime, seed: int
) -> list[dict]:
    rng = random.Random(seed)
    agent_ids = [f"90133{n:08d}" for n in range(agents)]
    heap: list[tuple[datetime, int, str, int]] = []  # (at, seq, step, ticket)
    profiles: dict[int, dict] = {}
    seq = 0

    def push(at: datetime, step: str, ticket: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (at, seq, step, ticket))

    for day in range(days):
        opens = start + timedelta(days=day, hours=8)
        for n in range(tickets_per_day):
            ticket = 200000 + day * tickets_per_day + n
            subject, description = rng.choice(TOPICS)
            profiles[ticket] = {
                "subject": subject,
                "description": description,
                "priority": rng.choice(PRIORITIES),
                "tags": rng.choice(TAGS),
                "requester": f"90144{rng.randrange(4 * tickets_per_day * days):08d}",
                "agent": rng.choice(agent_ids),
                "rounds": rng.choice([1, 2, 2, 3, 3, 4, 5]),
                "status": "NEW",
            }
            push(opens + timedelta(seconds=rng.randrange(10 * 3600)), "created", ticket)

    events = []
    comment = 41000000000
    end = start + timedelta(days=days)
    while heap:
        at, _, step, ticket = heapq.heappop(heap)
        if at >= end:
            continue
        p = profiles[ticket]
        if step == "created":
            p["created_at"] = at
            events.append(body(p, ticket, at, "created", {}, rng))
            push(at + timedelta(minutes=rng.randrange(5, 240)), "agent", ticket)
        elif step in ("agent", "customer"):
            comment += 1
            staff = step == "agent"
            internal = staff and rng.random() < 0.12
            text = rng.choice(AGENT) if staff else " ".join(rng.sample(CUSTOMER, rng.randint(1, 2)))
            author = {
                "id": p["agent"] if staff else p["requester"],
                "is_staff": staff,
                "name": "Agent" if staff else "Customer",
            }
            p["status"] = "PENDING" if staff and not internal else "OPEN"
            payload = {
                "comment": {
                    "author": author,
                    "body": text,
                    "id": str(comment),
                    "is_public": not internal,
                }
            }
            events.append(body(p, ticket, at, "comment_added", payload, rng))
            if staff and not internal:
                p["rounds"] -= 1
                if p["rounds"] <= 0:
                    push(at + timedelta(minutes=rng.randrange(10, 600)), "solved", ticket)
                    continue
            if staff and rng.random() < 0.05:
                push(at + timedelta(minutes=rng.randrange(1, 30)), "priority", ticket)
            follow = "agent" if internal or not staff else "customer"
            wait = rng.randrange(10, 300) if staff else rng.randrange(5, 180)
            push(at + timedelta(minutes=wait), follow, ticket)
        elif step == "priority":
            previous, p["priority"] = p["priority"], rng.choice(PRIORITIES)
            payload = {"current": p["priority"], "previous": previous}
            events.append(body(p, ticket, at, "priority_changed", payload, rng))
        elif step == "solved":
            previous, p["status"] = p["status"], "SOLVED"
            payload = {"current": "SOLVED", "previous": previous}
            events.append(body(p, ticket, at, "status_changed", payload, rng))
    return events


def body(p: dict, ticket: int, at: datetime, kind: str, event: dict, rng: random.Random) -> dict:
    return {
        "at": iso(at),
        "source": "zendesk",
        "body": {
            "account_id": 10234567,
            "detail": {
                "actor_id": p["agent"],
                "assignee_id": p["agent"],
                "created_at": iso(p["created_at"]),
                "description": p["description"],
                "group_id": "360009988771",
                "id": str(ticket),
                "priority": p["priority"],
                "requester_id": p["requester"],
                "status": p["status"],
                "subject": p["subject"],
                "tags": p["tags"],
                "type": "INCIDENT",
                "updated_at": iso(at),
                "via": {"channel": "web_service"},
            },
            "event": event,
            "id": f"week-{ticket}-{rng.getrandbits(48):012x}",
            "subject": f"zen:ticket:{ticket}",
            "time": iso(at),
            "type": f"zen:event-type:ticket.{kind}",
            "zendesk_event_version": "2022-11-06",
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--tickets-per-day", type=int, default=1100)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--start", default="2026-03-02", help="a Monday (UTC)")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    for line in generate(args.agents, args.tickets_per_day, args.days, start, args.seed):
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
