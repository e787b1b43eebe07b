"""Helpdesk actions go to the writer of the ticket's own helpdesk."""

from __future__ import annotations

from deskbridge.connectors.writers import HelpdeskRouter
from deskbridge.workflows.actions import Action, ActionKind


class Recorder:
    def __init__(self, name: str):
        self.name = name
        self.seen: list[str] = []

    def perform(self, action: Action) -> dict:
        self.seen.append(action.ticket)
        return {"by": self.name}


def test_actions_reach_the_writer_of_their_ticket():
    zendesk, salesforce = Recorder("zendesk"), Recorder("salesforce")
    router = HelpdeskRouter({"zendesk": zendesk, "salesforce": salesforce})
    for ticket in ("zendesk:48213", "salesforce:5005j00000TqW8hAAF", "zendesk:1"):
        router.perform(
            Action(
                kind=ActionKind.note,
                ticket=ticket,
                rule="r",
                reason="why",
                key=f"{ticket}:k",
                params={"body": "x"},
            )
        )
    assert zendesk.seen == ["zendesk:48213", "zendesk:1"]
    assert salesforce.seen == ["salesforce:5005j00000TqW8hAAF"]
