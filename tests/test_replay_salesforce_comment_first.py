"""A CaseComment delivered before its Case's first Outbound Message (Salesforce retries out of
queue order) decides what the clean order decides: the case is not asked about ("pick a
department") before its subject and description are known, but when they come. Before, the
comment alone asked, with no subject, and the case was decided before anything was known."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import CliRunner

from deskbridge.bot.blocks import build_alert
from deskbridge.bot.notifier import build_view
from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.connectors.salesforce.parse import parse_salesforce
from deskbridge.workflows.state import apply_event, new_state
from tests.test_replay_out_of_order import replay_all

ORG = "00D5j00000HqZtxEAF"
CASE = "5005j00000TqW8hAAF"
PRIYA = "0055j00000F3x9QAAR"
ASK = "unclassified: no field, tag or phrase names an order problem — pick a department"


def case(at: str) -> dict:
    fields = {
        "Id": CASE,
        "CaseNumber": "00001042",
        "Subject": "Question about my account",
        "Description": "Can you tell me which email my account uses?",
        "Status": "New",
        "Priority": "Medium",
        "OwnerId": PRIYA,
        "CreatedDate": "2026-03-09T10:00:00Z",
        "LastModifiedDate": "2026-03-09T10:00:00Z",
    }
    return flow(at, "n-case", "Case", fields)


def comment(at: str) -> dict:
    fields = {
        "Id": "00a5j000001AbCdAAK",
        "ParentId": CASE,
        "IsPublished": True,
        "CommentBody": "Checking on this for you.",
        "CreatedById": PRIYA,
        "CreatedDate": "2026-03-09T10:05:00Z",
    }
    return flow(at, "n-comment", "CaseComment", fields)


def flow(at: str, notification: str, sobject: str, fields: dict) -> dict:
    body = {
        "organizationId": ORG,
        "notifications": [{"id": notification, "type": sobject, "fields": fields}],
    }
    return {"at": at, "source": "salesforce", "body": body}


def routing(lines: list[dict]) -> list[tuple[str, str, str]]:
    return [
        (r["at"], r["action"], r["reason"])
        for r in replay_all(lines, "2026-03-09T11:00:00Z")
        if r["rule"] == "routing"
    ]


def test_a_comment_before_its_case_asks_only_once_the_case_is_known():
    in_order = routing([case("2026-03-09T10:01:00Z"), comment("2026-03-09T10:06:00Z")])
    # The case's own notification retried and delivered 24 minutes after the comment.
    comment_first = routing([comment("2026-03-09T10:06:00Z"), case("2026-03-09T10:30:00Z")])
    # The same again, duplicates and all.
    repeated = routing(
        [
            comment("2026-03-09T10:06:00Z"),
            comment("2026-03-09T10:07:00Z"),
            case("2026-03-09T10:30:00Z"),
            case("2026-03-09T10:31:00Z"),
        ]
    )

    assert in_order == [("2026-03-09T10:01:00Z", "notify", ASK)]
    assert comment_first == [("2026-03-09T10:30:00Z", "notify", ASK)]
    assert repeated == comment_first


def test_a_case_known_only_by_its_comments_says_so_rather_than_show_no_subject(rules):
    """If the case's own notifications never come (no Outbound Message on Case), what is shown
    of it says why there is no subject."""
    now = datetime(2026, 3, 9, 10, 10, tzinfo=UTC)
    (event,) = parse_salesforce(_body(comment("2026-03-09T10:06:00Z")), now)
    state, _ = apply_event(new_state(event), event)
    action = {"action": "sla_warning", "reason": "first reply due in 1 h"}

    alert = build_alert(action, build_view(state, rules, now))

    assert alert["text"] == (
        f"SLA warning: #{CASE} (its subject and description have not arrived, only its comments)"
    )


def _body(line: dict) -> bytes:
    return json.dumps(line["body"]).encode()


# A case known by its comments alone an hour after the first came (no Outbound Message or Flow
# on Case, or its notification lost): the lead channel is asked, as nobody owns it yet.
MISSING = (
    "unclassified: the case's own notification has not come within 1h of its first comment "
    "(is the Outbound Message or Flow on Case set up?) — pick a department"
)


def test_a_case_whose_own_notification_never_comes_is_asked_about_after_an_hour():
    lines = [comment("2026-03-09T10:06:00Z"), comment("2026-03-09T10:40:00Z")]

    asked, logged = replay_logged(lines, "2026-03-09T14:00:00Z")

    assert asked == [("2026-03-09T11:06:00Z", "notify", MISSING)]
    # Once, naming the case (no text of it), not once per comment.
    assert [line.split(" ", 4)[2:] for line in logged] == [
        [
            "WARNING",
            "deskbridge.decider",
            f"salesforce.case_notification_missing ticket=salesforce:{CASE} waited_s=3600",
        ]
    ]


def test_a_case_arriving_within_the_hour_is_asked_about_once_and_by_what_it_says():
    lines = [comment("2026-03-09T10:06:00Z"), case("2026-03-09T10:30:00Z")]

    asked, logged = replay_logged(lines, "2026-03-09T14:00:00Z")

    assert asked == [("2026-03-09T10:30:00Z", "notify", ASK)]
    assert logged == []


def test_a_case_arriving_after_the_ask_is_not_asked_about_again():
    lines = [comment("2026-03-09T10:06:00Z"), case("2026-03-09T11:30:00Z")]

    assert routing_until(lines, "2026-03-09T14:00:00Z") == [
        ("2026-03-09T11:06:00Z", "notify", MISSING)
    ]


def test_a_case_known_by_its_customers_email_alone_is_routed_on_it_after_an_hour():
    fields = {
        "Id": "02s5j00000SCEN1AAA",
        "ParentId": CASE,
        "Incoming": True,
        "MessageDate": "2026-03-09T10:05:00Z",
        "TextBody": "My parcel never arrived and the tracking has not moved for ten days.",
    }
    email = flow("2026-03-09T10:06:00Z", "n-email", "EmailMessage", fields)

    (route,) = [a for a in routing_until([email], "2026-03-09T14:00:00Z") if a[1] == "route"]

    assert route[0] == "2026-03-09T11:06:00Z"
    assert route[2].endswith(
        "(the case's own notification has not come within 1h of its first comment)"
    )


def routing_until(lines: list[dict], until: str) -> list[tuple[str, str, str]]:
    return replay_logged(lines, until)[0]


def replay_logged(lines: list[dict], until: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Routing's actions replaying `lines`, and the case_notification_missing log lines."""
    text = "".join(json.dumps(line) + "\n" for line in lines)
    command = ["replay", "-", "--until", until, "--config", str(EXAMPLE_CONFIG)]
    result = CliRunner().invoke(main, command, input=text)
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    asked = [(r["at"], r["action"], r["reason"]) for r in records if r["rule"] == "routing"]
    logged = [line for line in result.stderr.splitlines() if "case_notification_missing" in line]
    return asked, logged
