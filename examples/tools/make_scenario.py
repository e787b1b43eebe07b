"""Writes examples/scenario.jsonl: a morning of a resolution team's Zendesk events.

Run from the repository root: python examples/tools/make_scenario.py
"""

import json
from datetime import UTC, datetime

lines = []
AGENTS = {
    "olu": ("9013300113001", "Olu Adeyemi"),  # Logistics
    "priya": ("9013300112004", "Priya Raman"),
    "tom": ("9013300112019", "Tom Okafor"),
    "lena": ("9013300112027", "Lena Fischer"),
}
counter = [0]


def ts(h, m, s=0):
    return datetime(2026, 3, 2, h, m, s, tzinfo=UTC)


def iso(t, nanos=True):
    fraction = f".{t.microsecond * 1000 + 417:09d}Z" if nanos else "Z"
    return t.strftime("%Y-%m-%dT%H:%M:%S") + fraction


tickets = {}


def detail(tid, at, status="OPEN", priority="NORMAL", tags=(), via="web", actor=None):
    t = tickets[tid]
    return {
        "actor_id": actor or t["requester"],
        "assignee_id": t["assignee"],
        "brand_id": "360001234511",
        "created_at": iso(t["created"], False),
        "custom_status": "360007711202",
        "description": t["description"],
        "external_id": None,
        "form_id": "360000456701",
        "group_id": "360009988771",
        "id": tid,
        "is_public": True,
        "organization_id": t.get("org"),
        "priority": priority,
        "requester_id": t["requester"],
        "status": status,
        "subject": t["subject"],
        "submitter_id": t["requester"],
        "tags": list(tags or t["tags"]),
        "type": "INCIDENT",
        "updated_at": iso(at, False),
        "via": {"channel": via},
    }


def emit(at, body):
    lines.append({"at": iso(at, False), "source": "zendesk", "body": body})


def created(tid, at, subject, description, requester, assignee, tags, priority="NORMAL"):
    tickets[tid] = dict(
        created=at,
        subject=subject,
        description=description,
        requester=requester,
        assignee=assignee,
        tags=tags,
    )
    counter[0] += 1
    emit(
        at,
        {
            "account_id": 10234567,
            "detail": detail(tid, at, "NEW", priority),
            "event": {},
            "id": f"7c1e{counter[0]:04d}-0d2a-4e58-9b11-5f0a3c2e{int(tid):06d}"[:36],
            "subject": f"zen:ticket:{tid}",
            "time": iso(at),
            "type": "zen:event-type:ticket.created",
            "zendesk_event_version": "2022-11-06",
        },
    )


def comment(tid, at, who, text, public=True, status="OPEN", via="web", priority="NORMAL", tags=()):
    counter[0] += 1
    if who in AGENTS:
        author = {"id": AGENTS[who][0], "is_staff": True, "name": AGENTS[who][1]}
    else:
        author = {"id": tickets[tid]["requester"], "is_staff": False, "name": who}
    body = {
        "account_id": 10234567,
        "detail": detail(tid, at, status, priority, tags, via, author["id"]),
        "event": {
            "comment": {
                "author": author,
                "body": text,
                "id": f"3187765{counter[0]:04d}",
                "is_public": public,
            }
        },
        "id": f"a41d{counter[0]:04d}-8c2b-4f11-b3de-72f0c9{int(tid):06d}",
        "subject": f"zen:ticket:{tid}",
        "time": iso(at),
        "type": "zen:event-type:ticket.comment_added",
        "zendesk_event_version": "2022-11-06",
    }
    emit(at, body)
    return body


def status(tid, at, new, old, who):
    counter[0] += 1
    emit(
        at,
        {
            "account_id": 10234567,
            "detail": detail(tid, at, new, actor=AGENTS[who][0]),
            "event": {"current": new, "previous": old},
            "id": f"0b9e{counter[0]:04d}-57f2-4e0a-8d3b-c1a2f4{int(tid):06d}",
            "subject": f"zen:ticket:{tid}",
            "time": iso(at),
            "type": "zen:event-type:ticket.status_changed",
            "zendesk_event_version": "2022-11-06",
        },
    )


P, T, L = AGENTS["priya"][0], AGENTS["tom"][0], AGENTS["lena"][0]
# 48213: parcel stuck; three replies, no fix → call; a 4th written reply without a call → lead.
created(
    "48213",
    ts(8, 2),
    "Order 100482 — tracking hasn't moved in 6 days",
    "My parcel has been stuck at the depot since Tuesday. Where is it?",
    "9014456723011",
    P,
    ["web_order"],
)
comment("48213", ts(8, 31), "priya", "Sorry for the wait — I've asked the carrier for an update.")
comment("48213", ts(9, 5), "Dana Whitfield", "Still nothing on the tracking page.")
comment("48213", ts(9, 12), "priya", "The carrier says it will move today; I'll keep an eye on it.")
comment("48213", ts(9, 48), "Dana Whitfield", "It hasn't moved. This is the third time I'm asking.")
c3 = comment(
    "48213", ts(9, 55), "priya", "I've opened a trace with the carrier; they answer within 24h."
)
emit(ts(9, 55, 9), c3)  # Zendesk delivered it twice
comment("48213", ts(10, 40), "priya", "Quick update: the trace is in progress.")
# 48214: wrong colour sofa; two replies then solved → nothing.
created(
    "48214",
    ts(8, 20),
    "Wrong colour sofa delivered",
    "I ordered the sofa in sage green and received a grey one.",
    "9014456723077",
    T,
    ["web_order"],
)
comment("48214", ts(8, 44), "tom", "Sorry about that! We'll collect it and send the green one.")
comment(
    "48214", ts(9, 30), "tom", "Collection booked for Thursday, replacement ships the same day."
)
status("48214", ts(9, 31), "SOLVED", "OPEN", "tom")
# 48215: cracked table leg; three replies → call; Lena calls (voice comment) → no lead alert after.
created(
    "48215",
    ts(8, 40),
    "Table leg arrived cracked",
    "One of the oak legs is split along the grain.",
    "9014456723102",
    L,
    ["web_order"],
)
comment("48215", ts(8, 58), "lena", "Thanks for the photos, I've passed them to quality.")
comment("48215", ts(9, 20), "lena", "Quality confirmed it's a defect; a new leg is on its way.")
comment("48215", ts(10, 2), "lena", "Tracking for the new leg will follow by email.")
comment(
    "48215",
    ts(10, 15),
    "lena",
    "Called the customer: happy with the replacement plan.",
    public=False,
)
counter[0] += 1
tickets["48215"]["tags"] = ["web_order", "call_required", "call_logged"]
emit(
    ts(10, 16),
    {
        "account_id": 10234567,
        "detail": detail(
            "48215", ts(10, 16), tags=["web_order", "call_required", "call_logged"], actor=L
        ),
        "event": {
            "current": ["web_order", "call_required", "call_logged"],
            "previous": ["web_order", "call_required"],
        },
        "id": f"5d2c{counter[0]:04d}-1a3b-4c5d-8e9f-0a1b2c{48215:06d}",
        "subject": "zen:ticket:48215",
        "time": iso(ts(10, 16)),
        "type": "zen:event-type:ticket.tags_changed",
        "zendesk_event_version": "2022-11-06",
    },
)
comment("48215", ts(10, 50), "lena", "Here is the tracking number for the new leg.")
# 48216: a trigger-based Zendesk account sends its own template: same rule, same result.
for n, (h, m, role, public) in enumerate(
    [
        (9, 10, "end-user", "true"),
        (9, 25, "agent", "true"),
        (9, 40, "agent", "true"),
        (10, 5, "agent", "true"),
    ],
    start=1,
):
    emit(
        ts(h, m),
        {
            "source": "zendesk_trigger",
            "trigger": "deskbridge-ticket-updated",
            "ticket_id": "48216",
            "subject": "Mattress delivered without the protective cover",
            "status": "Open",
            "priority": "Normal",
            "ticket_type": "Incident",
            "tags": "web_order",
            "group": "Resolution",
            "assignee_id": T,
            "requester_id": "9014456723150",
            "via": "Web Form",
            "created_at": "2026-03-02T09:08Z",
            "updated_at": f"2026-03-02T{h:02d}:{m:02d}Z",
            "comment_id": f"4410{n:03d}",
            "comment_public": public,
            "comment_author_role": role,
            "updated_by_id": T if role == "agent" else "9014456723150",
        },
    )

# Logistics acts on 48213 before its hand-off deadline: no lead alert for it.
comment("48213", ts(10, 20), "olu", "Trace opened with the carrier, ref TR-55120.", public=False)
# 48217: a defect and a regulator threat → Quality, and escalation to the specialist tier.
created(
    "48217",
    ts(9, 3),
    "Recliner mechanism broke after two weeks",
    "The recliner mechanism snapped and the footrest won't close. If this isn't sorted I'm "
    "going to the ombudsman.",
    "9014456723201",
    P,
    ["web_order"],
)
# 48218 / 48219: the same customer twice in a week; the second contact is escalated.
created(
    "48218",
    ts(8, 5),
    "Missing screws for the bookcase",
    "The hardware bag was missing from the box.",
    "9014456723300",
    T,
    ["web_order"],
)
created(
    "48219",
    ts(11, 12),
    "Still no screws",
    "I wrote on Monday about the bookcase screws and nobody has sent them.",
    "9014456723300",
    T,
    ["web_order"],
)
# 48220: wrong item, nobody in Logistics picks it up → the lead hears at the hand-off deadline.
created(
    "48220",
    ts(11, 40),
    "Wrong rug delivered",
    "I ordered the 160x230 wool rug in rust and got a grey runner instead.",
    "9014456723404",
    L,
    ["web_order"],
)

lines.sort(key=lambda line: line["at"])
with open("examples/scenario.jsonl", "w") as f:
    for line in lines:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
print(len(lines))
