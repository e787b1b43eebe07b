"""check-config reads the rules file's Salesforce mapping as Salesforce will: queue ids that a
case's OwnerId can take, and one meaning per Status value."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.rules import SalesforceConfig
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.model import Status

QUEUE_HELP = (
    "15 or 18 letters and digits starting 00G: the id in the queue's address, Setup → Queues"
)


def example_with(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = Path(EXAMPLE_CONFIG).read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_status_under_two_meanings_is_a_problem_named_with_its_path(tmp_path, monkeypatch):
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    path = example_with(
        tmp_path, ("solved_statuses: [Resolved]", "solved_statuses: [Resolved, New]")
    )

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}: 1 problem",
        "  salesforce.solved_statuses: New is also in salesforce.new_statuses (a Status value "
        "has one meaning)",
    ]


def test_a_queue_that_is_not_a_queue_id_is_a_warning_with_its_path(tmp_path, monkeypatch):
    # A warning, as for Zendesk's ids: a Zendesk-only team's placeholder (the example's
    # queues had 19 characters) must not stop serve after an upgrade.
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    path = example_with(
        tmp_path,
        ('salesforce_queue: "00G5j000004Log1EAC"', 'salesforce_queue: "00G5j000004Log1EA"'),
        ('specialist_queue: "00G5j000004Spc1EAC"', 'specialist_queue: "Specialists"'),
    )

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        'warning: departments.logistics.salesforce_queue: "00G5j000004Log1EA" (17 characters) '
        f"is not a Salesforce queue id ({QUEUE_HELP}): a case routed to Logistics is not given "
        "to the queue (Salesforce refuses the owner)",
        'warning: risk.specialist_queue: "Specialists" (11 characters) is not a Salesforce '
        f"queue id ({QUEUE_HELP}): a case escalated is not given to the queue (Salesforce "
        "refuses the owner)",
    ]


def test_the_examples_queue_ids_are_queue_ids(tmp_path, monkeypatch):
    # Its quality, post-sales and specialist queues were 19 characters: copied, every case
    # routed there or escalated was refused by Salesforce.
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["check-config", str(EXAMPLE_CONFIG)])
    assert (result.exit_code, result.stderr) == (0, "")


def test_a_15_character_queue_id_is_taken(tmp_path, monkeypatch):
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    path = example_with(
        tmp_path, ('salesforce_queue: "00G5j000004Log1EAC"', 'salesforce_queue: "00G5j000004Log1"')
    )
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 0, result.stderr


def test_a_priority_written_back_that_the_picklist_does_not_read_is_a_warning(
    tmp_path, monkeypatch
):
    # An org with its own Priority values: the team listed them under `priorities` and left
    # `write_priorities` at the default (High / Medium / Low): check-config said ok, and a
    # case deskbridge raised to urgent was written "High", which the org's picklist has not.
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    path = example_with(
        tmp_path,
        (
            "  priorities: {Critical: urgent, High: high, Medium: normal, Low: low}\n"
            "  write_priorities: {urgent: High, high: High, normal: Medium, low: Low}\n",
            "  priorities: {Kritisch: urgent, Hoch: high, Mittel: normal, Niedrig: low}\n",
        ),
    )

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0
    known = "salesforce.priorities (Kritisch, Hoch, Mittel, Niedrig)"
    after = "is read back with no priority, or refused by a restricted picklist"
    assert result.stderr.splitlines() == [
        f'warning: salesforce.write_priorities.{level}: "{value}" (the default) is not among '
        f"{known}: a case deskbridge sets to {level} {after}"
        for level, value in [
            ("urgent", "High"),
            ("high", "High"),
            ("normal", "Medium"),
            ("low", "Low"),
        ]
    ]

    # Written in the file, one value misspelt: that one, without "(the default)".
    path = example_with(
        tmp_path,
        ("write_priorities: {urgent: High,", "write_priorities: {urgent: Hihg,"),
    )
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        'warning: salesforce.write_priorities.urgent: "Hihg" is not among salesforce.priorities '
        f"(Critical, High, Medium, Low): a case deskbridge sets to urgent {after}"
    ]


def test_a_priority_mapping_with_a_mistake_is_not_also_warned_of(tmp_path, monkeypatch):
    # A mistake under `priorities` is the one thing said: the values it would be compared
    # with are not known yet.
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    path = example_with(
        tmp_path,
        ("priorities: {Critical: urgent,", "priorities: {Critical: Urgent, Kritisch: urgent,"),
        ("write_priorities: {urgent: High,", "write_priorities: {urgent: Kritisch,"),
    )

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}: 1 problem",
        "  salesforce.priorities.Critical: expected 'low', 'normal', 'high' or 'urgent', got "
        '"Urgent": write it in lowercase, urgent',
    ]


def test_a_file_listing_escalated_elsewhere_and_no_open_statuses_loads(tmp_path, monkeypatch):
    # open_statuses came with an upgrade, defaulting to Salesforce's Working and Escalated: a
    # file written before it, reading Escalated as on hold, was refused (a Status under two
    # meanings, though it named open_statuses nowhere) and serve did not start.
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    path = example_with(
        tmp_path,
        ("  open_statuses: [Working, Escalated]\n", ""),
        ("hold_statuses: [On Hold]", "hold_statuses: [On Hold, Escalated]"),
    )

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1] == (
        "salesforce statuses: new: New; open: Working; pending: Waiting on Customer; on hold: "
        "On Hold, Escalated; solved: Resolved; closed: Closed; any other: open, or solved when "
        "the case's IsClosed is true (logged as webhook.unmapped_status: list it under the one "
        "it means)"
    )


def test_open_statuses_written_out_are_checked_against_the_other_lists(tmp_path, monkeypatch):
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    path = example_with(tmp_path, ("hold_statuses: [On Hold]", "hold_statuses: [On Hold, Working]"))

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}: 1 problem",
        "  salesforce.hold_statuses: Working is also in salesforce.open_statuses (a Status value "
        "has one meaning)",
    ]


def test_a_status_is_read_by_the_one_list_that_has_it_not_by_the_lists_order():
    # Escalated listed as on hold, open_statuses left to its default (Working, Escalated):
    # read as on hold because the default yields, not because parse happened to look at the
    # open list last.
    mapping = SalesforceConfig(hold_statuses=["On Hold", "Escalated"])
    values = ["New", "Working", "Escalated", "Waiting on Customer", "On Hold", "Resolved", "Closed"]

    assert [mapping.read_status(value) for value in [*values, "Gelöst"]] == [
        Status.new,
        Status.open,
        Status.hold,
        Status.pending,
        Status.hold,
        Status.solved,
        Status.closed,
        None,
    ]
    assert SalesforceConfig().read_status("Escalated") is Status.open


def salesforce_alone(tmp_path: Path, monkeypatch, edit=None) -> Path:
    """The example as a team on Salesforce alone writes it: the Zendesk groups and user ids
    taken out, no Zendesk variable set."""
    for name in ("ZENDESK_WEBHOOK_SECRET", "ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ZENDESK_API_TOKEN", raising=False)
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    data = yaml.safe_load(Path(EXAMPLE_CONFIG).read_text(encoding="utf-8"))
    for department in data["departments"].values():
        del department["group"]
        department["members"] = ["0055j00000F3xLGAAZ"]
    del data["risk"]["specialist_group"]
    data["agents"] = [
        {k: v for k, v in agent.items() if k != "zendesk_id"}
        | {"salesforce_id": f"0055j0000{n}F3x9QAAR"}
        for n, agent in enumerate(data["agents"])
    ]
    if edit is not None:
        edit(data)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


ACCOUNT_HELP = (
    "the case's AccountId: 15 or 18 letters and digits starting 001, in the account's address"
)
ALONE = 'Salesforce alone is in use (check-config\'s "helpdesks in use" line)'


def test_salesforce_alone_is_warned_that_tags_never_pick_out_a_case(tmp_path, monkeypatch):
    # The example's VIPs are a tag: a team on Salesforce alone kept it, and its key accounts
    # got the default SLA and no escalation while check-config said ok.
    path = salesforce_alone(tmp_path, monkeypatch)

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0
    assert result.stdout.splitlines()[1] == "helpdesks in use: salesforce (named by the rules file)"
    assert result.stderr.splitlines() == [
        f"warning: risk.signals.vip.tags: a case has no tags and {ALONE}: no case is escalated "
        f"by them; list key accounts under risk.signals.vip.organizations ({ACCOUNT_HELP})",
        f'warning: sla.policies[0].tags: a case has no tags and {ALONE}: the "vip" policy '
        f"never applies to a case; list its accounts under organizations ({ACCOUNT_HELP})",
    ]


def test_salesforce_alone_is_warned_of_an_account_that_is_not_an_account_id(tmp_path, monkeypatch):
    def by_account(data):
        data["risk"]["signals"]["vip"] = {
            "weight": 3,
            "organizations": ["0015j00000LmN2rAAF", "Acme Ltd", "0035j00000HiJ7kAAF"],
        }
        data["sla"]["policies"][0] = {
            "name": "vip",
            "organization": "Acme Ltd",
            "first_reply": "30m",
        }
        data["sla"]["policies"].insert(
            1, {"name": "key", "organization": "0015j00000LmN2r", "first_reply": "1h"}
        )

    path = salesforce_alone(tmp_path, monkeypatch, by_account)

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f'warning: risk.signals.vip.organizations[1]: "Acme Ltd" is not a Salesforce account '
        f"id ({ACCOUNT_HELP}) and {ALONE}: no case matches it",
        f'warning: risk.signals.vip.organizations[2]: "0035j00000HiJ7kAAF" is not a '
        f"Salesforce account id ({ACCOUNT_HELP}) and {ALONE}: no case matches it",
        f'warning: sla.policies[0].organization: "Acme Ltd" is not a Salesforce account id '
        f'({ACCOUNT_HELP}) and {ALONE}: the "vip" policy never applies to a case',
    ]


def test_each_of_a_policys_organizations_is_warned_of_by_its_path(tmp_path, monkeypatch):
    # A team's key accounts under one policy: an entry that is no account id (a name, a
    # Contact's id) is named by its place in the list; the others still apply.
    def by_accounts(data):
        data["sla"]["policies"][0] = {
            "name": "key accounts",
            "organizations": ["0015j00000LmN2rAAF", "Acme Ltd", "0015j00000KeY9a"],
            "first_reply": "30m",
        }
        data["sla"]["policies"].insert(
            1, {"name": "partners", "organizations": ["Globex", "0035j00000HiJ7kAAF"]}
        )
        del data["risk"]["signals"]["vip"]["tags"]

    path = salesforce_alone(tmp_path, monkeypatch, by_accounts)

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f'warning: sla.policies[0].organizations[1]: "Acme Ltd" is not a Salesforce account id '
        f"({ACCOUNT_HELP}) and {ALONE}: no case matches it",
        f'warning: sla.policies[1].organizations[0]: "Globex" is not a Salesforce account id '
        f'({ACCOUNT_HELP}) and {ALONE}: the "partners" policy never applies to a case',
        f'warning: sla.policies[1].organizations[1]: "0035j00000HiJ7kAAF" is not a Salesforce '
        f'account id ({ACCOUNT_HELP}) and {ALONE}: the "partners" policy never applies to a '
        "case",
    ]


def test_a_policy_names_its_accounts_one_way(tmp_path, monkeypatch):
    # organization (one) and organizations (a list) both given: a problem at the list's path,
    # listed with the file's others; a policy whose accounts an earlier one's include never
    # applies.
    def both(data):
        data["sla"]["policies"][0] = {
            "name": "key accounts",
            "organization": "0015j00000LmN2rAAF",
            "organizations": ["0015j00000KeY9aAAB"],
            "first_reply": "30m",
        }
        data["sla"]["policies"][1:1] = [
            {"name": "gold", "organizations": ["0015j00000LmN2rAAF", "0015j00000KeY9aAAB"]},
            {"name": "gold-one", "organization": "0015j00000KeY9aAAB", "first_reply": "1h"},
        ]
        data["sla"]["policies"][3]["first_reply"] = "soon"
        data["sla"]["policies"].insert(4, {"name": "placeholder", "organizations": []})

    path = salesforce_alone(tmp_path, monkeypatch, both)

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")] == [
        'sla.policies: policy "gold-one" never applies: "gold" before it matches every ticket '
        "it would (the first match wins: list the narrower one first)",
        "sla.policies[0].organizations: give organization (one) or organizations (a list), "
        "not both: list every account under organizations",
        'sla.policies[3].first_reply: expected a duration like "4h" (whole numbers of days d, '
        'hours h, minutes m, seconds s: "1d 12h"), got "soon"',
        # Written empty, it applied to every ticket (a 15-minute target on all of them).
        "sla.policies[4].organizations: an empty list: the policy would apply to every "
        "ticket; list at least one account, or remove organizations",
    ]


USER_HELP = "15 or 18 letters and digits starting 005: Setup → Users, in the user's address"


def test_a_salesforce_id_of_another_record_than_a_user_is_a_warning(tmp_path, monkeypatch):
    # A Contact's id copied for an agent (both are people in Salesforce) was taken: no case's
    # owner nor comment's author is ever one, so the agent was never credited with a reply.
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    path = example_with(
        tmp_path,
        ('salesforce_id: "0055j00000F3x9QAAR"', 'salesforce_id: "0035j00000HiJ7kAAF"'),
        (
            'members: ["9013300115001"]',
            'members: ["00G5j000004Pst1EAC", "5005j00000TqW8h", "QualityTeamLead"]',
        ),
    )

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0
    acting = "a reply of theirs does not count as Post-Sales acting on a hand-off"
    assert result.stderr.splitlines() == [
        f"warning: departments.post_sales.members[0]: 00G5j000004Pst1EAC is a queue's id, not "
        f"a user's ({USER_HELP}): {acting}",
        "warning: departments.post_sales.members[1]: 5005j00000TqW8h is the id of a record of "
        f"another kind (500…), not a user's ({USER_HELP}): {acting}",
        # Fifteen letters are a name, not an id of another record: no id is without a digit.
        "warning: departments.post_sales.members[2]: QualityTeamLead is neither a Zendesk "
        "user id (digits) nor a Salesforce user id (15 or 18 letters and digits): "
        f"{acting}",
        "warning: agents[0].salesforce_id: 0035j00000HiJ7kAAF is a Contact's id, not a user's "
        f"({USER_HELP}): no reply or call of theirs is credited to them",
    ]
