"""A department's Salesforce queue may be written with its 15-character id (a report export,
a Classic URL): Salesforce echoes the owner change with the 18-character id, and that echo is
deskbridge's own move, not a person's."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.model import salesforce_id_18

QUEUE_18 = "00G5j000004Log1EAC"
QUEUE_15 = QUEUE_18[:15]
CASE = "5005j00000SCEN1AAA"


def case_line(n: int, at: str, owner: str) -> dict:
    fields = {
        "Id": CASE,
        "Subject": "Parcel delayed - tracking has not moved",
        "Status": "New" if n == 0 else "Open",
        "Priority": "Medium",
        "OwnerId": owner,
        "ContactId": "0035j00000HiJ7kAAF",
        "CreatedDate": "2026-03-09T09:00:00.000Z",
        "LastModifiedDate": at,
    }
    notification = {"id": f"flow-{n}", "type": "Case", "fields": fields}
    body = {"organizationId": "00D5j00000HqZtxEAF", "notifications": [notification]}
    return {"at": at, "source": "salesforce", "body": body}


def replay(rules: Path, lines: list[dict]) -> list[dict]:
    """The actions `deskbridge replay` decides for `lines` up to 14:00."""
    result = CliRunner().invoke(
        main,
        ["replay", "-", "--config", str(rules), "--until", "2026-03-09T14:00:00Z"],
        input="".join(json.dumps(line) + "\n" for line in lines),
    )
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_echo_of_a_15_character_queue_is_deskbridges_own_move(tmp_path):
    assert salesforce_id_18(QUEUE_15) == QUEUE_18
    rules = tmp_path / "rules.yaml"
    text = Path(EXAMPLE_CONFIG).read_text(encoding="utf-8")
    rules.write_text(text.replace(f'"{QUEUE_18}"', f'"{QUEUE_15}"'), encoding="utf-8")
    lines = [
        # A new case in the org's general queue (Email-to-Case, Web-to-Case).
        case_line(0, "2026-03-09T09:00:00.000Z", "00G5j000003Ab1cEAC"),
        # The owner change deskbridge wrote, as Salesforce sends the case back.
        case_line(1, "2026-03-09T09:01:00.000Z", QUEUE_18),
    ]
    out = replay(rules, lines)
    assert [(o["action"], o.get("group")) for o in out if o["rule"] == "routing"][:2] == [
        ("route", None),
        ("assign", QUEUE_18),
    ]
    # Logistics did not act: at 13:00 (4h after the hand-off) the lead hears.
    assert [
        (o["at"], o["reason"]) for o in out if o["action"] == "notify" and o["rule"] == "routing"
    ] == [
        (
            "2026-03-09T13:00:00Z",
            "Logistics has not acted within 4h of the hand-off (business hours)",
        )
    ]


MEMBER_18 = "0055j00000Lg5tQAAR"


def comment_line(at: str, author: str) -> dict:
    fields = {
        "Id": "00a5j00000Cm001AAF",
        "ParentId": CASE,
        "IsPublished": "false",
        "CommentBody": "Courier contacted, new delivery slot tomorrow",
        "CreatedById": author,
        "CreatedDate": at,
    }
    notification = {"id": "flow-comment", "type": "CaseComment", "fields": fields}
    body = {"organizationId": "00D5j00000HqZtxEAF", "notifications": [notification]}
    return {"at": at, "source": "salesforce", "body": body}


def test_a_department_member_listed_by_15_characters_acts_on_a_case(tmp_path):
    # departments.*.members may hold a Salesforce user's 15-character id (as agents may);
    # a CaseComment carries the 18. Unmatched, the member's note went unseen as the
    # department acting, and the lead was told Logistics had not acted.
    rules = tmp_path / "rules.yaml"
    text = Path(EXAMPLE_CONFIG).read_text(encoding="utf-8")
    members = 'members: ["9013300113001", "9013300113002"]'
    assert text.count(members) == 1
    rules.write_text(
        text.replace(members, f'members: ["9013300113001", "{MEMBER_18[:15]}"]'),
        encoding="utf-8",
    )
    lines = [
        case_line(0, "2026-03-09T09:00:00.000Z", "00G5j000003Ab1cEAC"),
        comment_line("2026-03-09T10:00:00.000Z", MEMBER_18),
    ]
    out = replay(rules, lines)
    assert [o["action"] for o in out if o["rule"] == "routing"] == [
        "route",
        "assign",
        "note",  # no tag: a case has none
    ]
