"""Which helpdesks a rules file names (01b3a0b: the start-up warns only of those in use), each
way a file names one: a department's owner, the specialist tier's, the roster's user ids."""

from __future__ import annotations

import pytest
import yaml

from deskbridge.config.rules import parse_rules
from deskbridge.config.settings import EXAMPLE_CONFIG


def named_by(*, departments: str | None, risk: str | None, roster: str | None) -> frozenset:
    """The example with each part naming only the helpdesk given (None: left out)."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    owners = {"zendesk": "group", "salesforce": "salesforce_queue"}
    ids = {"zendesk": "zendesk_id", "salesforce": "salesforce_id"}
    for department in data["departments"].values():
        for helpdesk, key in owners.items():
            if helpdesk != departments:
                department.pop(key, None)
    for helpdesk, key in (("zendesk", "specialist_group"), ("salesforce", "specialist_queue")):
        if helpdesk != risk:
            data["risk"].pop(key, None)
    for agent in data["agents"]:
        for helpdesk, key in ids.items():
            if helpdesk != roster:
                agent.pop(key, None)
    if departments is None:
        del data["departments"]
        data["routing"]["enabled"] = False
    if risk is None:
        del data["risk"]
    return parse_rules(data).find_helpdesks_named()


@pytest.mark.parametrize(
    ("departments", "risk", "roster", "named"),
    [
        (None, None, None, set()),
        ("salesforce", None, None, {"salesforce"}),
        (None, "zendesk", None, {"zendesk"}),
        (None, "salesforce", None, {"salesforce"}),
        (None, None, "zendesk", {"zendesk"}),
        (None, None, "salesforce", {"salesforce"}),
        ("salesforce", None, "zendesk", {"salesforce", "zendesk"}),
    ],
)
def test_each_part_of_the_rules_names_its_helpdesk(departments, risk, roster, named):
    assert named_by(departments=departments, risk=risk, roster=roster) == named
