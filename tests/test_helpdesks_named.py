"""Which helpdesks a rules file names (01b3a0b: the start-up warns only of those in use), each
way a file names one: a department's owner, the specialist tier's, the roster's user ids."""

from __future__ import annotations

import pytest
import yaml

from deskbridge.app import create_app, create_runtime
from deskbridge.config.rules import HELPDESKS, RulesConfig, parse_rules
from deskbridge.config.settings import EXAMPLE_CONFIG, Settings
from deskbridge.connectors.registry import CONNECTORS


def named_by(*, departments: str | None, risk: str | None, roster: str | None) -> frozenset:
    return rules_naming(departments=departments, risk=risk, roster=roster).find_helpdesks_named()


def rules_naming(*, departments: str | None, risk: str | None, roster: str | None) -> RulesConfig:
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
    return parse_rules(data)


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


def test_the_helpdesks_judged_in_use_are_the_connectors_in_their_order():
    assert tuple(source.value for source in CONNECTORS) == HELPDESKS


@pytest.mark.parametrize(
    ("helpdesk", "env", "dry_run"),
    [
        # A team on Salesforce alone saw "zendesk": true, which a monitor reads as Zendesk's
        # write-back not sending.
        (
            "salesforce",
            {"SALESFORCE_ORG_ID": "00D5j00000HqZtxEAF"},
            {"salesforce": True, "slack": True, "pager": True},
        ),
        (
            "zendesk",
            {"ZENDESK_WEBHOOK_SECRET": "secret"},
            {"zendesk": True, "slack": True, "pager": True},
        ),
        # Its environment names Zendesk too: in use, as start-up and check-config judge.
        (
            "salesforce",
            {"ZENDESK_WEBHOOK_SECRET": "secret"},
            {"zendesk": True, "salesforce": True, "slack": True, "pager": True},
        ),
    ],
)
def test_readyz_says_which_helpdesks_in_use_are_in_dry_run(
    helpdesk, env, dry_run, sqlite_engine, monkeypatch
):
    for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    rules = rules_naming(departments=helpdesk, risk=helpdesk, roster=helpdesk)
    runtime = create_runtime(Settings(**env), rules, engine=sqlite_engine)

    answer = create_app(runtime=runtime).test_client().get("/readyz")

    assert (answer.status_code, answer.json["dry_run"]) == (200, dry_run)


def test_a_variable_set_empty_names_no_helpdesk(monkeypatch):
    # `ZENDESK_EMAIL=` and `SALESFORCE_PASSWORD=` left in an env file: unset, as sending reads
    # them, but Zendesk and Salesforce were judged in use (warned of at start-up, in /readyz).
    for name in ("ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "SALESFORCE_PASSWORD", "ZENDESK_SUBDOMAIN"):
        monkeypatch.setenv(name, "")
    assert Settings().find_helpdesks_named() == frozenset()
    monkeypatch.setenv("SALESFORCE_PASSWORD", "hunter2")
    assert Settings().find_helpdesks_named() == {"salesforce"}
