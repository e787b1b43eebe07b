"""A team on one helpdesk names only that helpdesk's owners: a Salesforce-only team gives each
department its queue and the specialist tier theirs, with no Zendesk group (check-config
required one, so such a team wrote a placeholder). A Zendesk ticket routed or escalated where
the rules give no group is not moved (no assign action); a case still goes to the queue."""

from __future__ import annotations

import json

import pytest
import yaml

from deskbridge.config.rules import ConfigError, load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.workflows.replay import ReplayError, run_replay
from tests.conftest import FIXTURES


def rules_without(tmp_path, *, groups: bool = True, queues: bool = False):
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    for department in data["departments"].values():
        if groups:
            del department["group"]
        if queues:
            department.pop("salesforce_queue", None)
    if groups:
        del data["risk"]["specialist_group"]
    if queues:
        del data["risk"]["specialist_queue"]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_rules(path)


def replay(rules, *lines: dict) -> list[dict]:
    results = list(run_replay([json.dumps(line) for line in lines], rules, CONNECTORS))
    assert [r for r in results if isinstance(r, ReplayError)] == []
    return results


def test_a_department_and_the_specialists_need_a_group_or_a_queue(tmp_path):
    with pytest.raises(ConfigError) as caught:
        rules_without(tmp_path, queues=True)

    assert caught.value.problems == [
        f"departments.{key}.salesforce_queue: missing, and so is group: a department needs its "
        "Zendesk group (group), its Salesforce queue, or both; a team on one helpdesk gives "
        "that one's"
        for key in ("logistics", "quality", "post_sales")
    ] + [
        "risk.specialist_queue: missing, and so is specialist_group: the specialist tier needs "
        "its Zendesk group (specialist_group), its Salesforce queue, or both; a team on one "
        "helpdesk gives that one's"
    ]


def test_a_missing_group_and_queue_is_listed_with_the_entry_s_other_problems(tmp_path):
    """Checked as a setting, not after the whole entry validated: one run lists it beside a
    mistake elsewhere in the same department or risk section (a model check was skipped)."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    logistics = data["departments"]["logistics"]
    del logistics["group"], logistics["salesforce_queue"]
    logistics["handoff_within"] = "soon"
    del data["risk"]["specialist_group"], data["risk"]["specialist_queue"]
    data["risk"]["threshold"] = 0
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_rules(path)

    where = [problem.split(":")[0] for problem in caught.value.problems]
    assert where == [
        "departments.logistics.salesforce_queue",
        "departments.logistics.handoff_within",
        "risk.specialist_queue",  # missing: placed where its section starts
        "risk.threshold",
    ]


def test_a_zendesk_ticket_is_routed_and_escalated_without_a_group_to_move_it_to(tmp_path):
    rules = rules_without(tmp_path)
    created = json.loads((FIXTURES / "ticket_created.json").read_text())
    created["detail"]["subject"] = "The tracking has not moved for a week"

    actions = replay(rules, {"at": "2025-03-04T09:16:00Z", "source": "zendesk", "body": created})

    decided = {(a["rule"], a["action"]) for a in actions}
    assert {("routing", "route"), ("routing", "tag"), ("routing", "note")} <= decided
    assert {("risk", "escalate"), ("risk", "set_priority"), ("risk", "note")} <= decided
    assert not [a for a in actions if a["action"] == "assign"]


def test_a_case_goes_to_the_queues_without_a_zendesk_group(tmp_path):
    rules = rules_without(tmp_path)
    message = (FIXTURES / "outbound_message__two_cases.xml").read_text()

    actions = replay(rules, {"at": "2025-03-04T10:22:00Z", "source": "salesforce", "body": message})

    assigned = [(a["rule"], a["group"]) for a in actions if a["action"] == "assign"]
    assert assigned == [("risk", "00G5j000004Spc1EAC")]
