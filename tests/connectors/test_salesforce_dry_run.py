"""Without Salesforce credentials the writer is a dry run that says what the live writer would
do: a tag is skipped there (cases have no tags), so the dry run says so too."""

from __future__ import annotations

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG, Settings
from deskbridge.connectors.salesforce.connector import build_writer
from deskbridge.workflows.actions import Action, ActionKind
from deskbridge.workflows.ports import DryRunPerformer


def action(kind: ActionKind, **params) -> Action:
    return Action(
        action=kind,
        ticket="salesforce:500Hn00001XyZaBIAV",
        rule="three_responses",
        reason="3 written replies and not solved",
        key=f"k-{kind.value}",
        params=params,
    )


def test_the_dry_run_skips_tags_as_the_live_writer_does(monkeypatch, tmp_path):
    for name in ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    writer = build_writer(settings, load_rules(EXAMPLE_CONFIG))
    assert isinstance(writer, DryRunPerformer)

    assert writer.perform(action(ActionKind.tag, tags=["call_required"])) == {
        "dry_run": True,
        "channel": "salesforce",
        "skipped": "salesforce cases have no tags",
    }
    assert writer.perform(action(ActionKind.note, body="Call the customer")) == {
        "dry_run": True,
        "channel": "salesforce",
    }
