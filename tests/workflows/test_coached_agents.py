"""Who the leads' review coaches: resolution agents, not department members."""

from __future__ import annotations

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.workflows.digest import coached_agents


def test_a_department_member_listed_by_either_salesforce_id_form_is_not_coached():
    # Priya's roster id is the 18-character form; a department lists her by the 15 a report
    # export shows. The same user: a member, so no response target in the review.
    rules = load_rules(EXAMPLE_CONFIG)
    assert "U02PRIYA01" in {a.slack_id for a in coached_agents(rules)}
    logistics = rules.departments["logistics"]
    for member in ("0055j00000F3x9Q", "0055j00000F3x9QAAR"):
        listed = logistics.model_copy(update={"members": [*logistics.members, member]})
        changed = rules.model_copy(
            update={"departments": {**rules.departments, "logistics": listed}}
        )
        assert [a.slack_id for a in coached_agents(changed)] == [
            a.slack_id for a in coached_agents(rules) if a.slack_id != "U02PRIYA01"
        ]
