"""/metrics' stored-backlog gauges that count what waits for an operator say which command
lists it: the failed events' gauge said only "marked failed and not yet re-decided", where its
siblings name `deskbridge timers --failed` and `deskbridge outbox --dead`."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from deskbridge.workflows.metrics import Metrics


def test_the_gauges_of_what_waits_for_an_operator_name_the_command_that_lists_it():
    families = {
        family.name: family.documentation
        for family in text_string_to_metric_families(generate_latest(Metrics().registry).decode())
    }

    assert {
        name: families[name].rsplit("(", 1)[-1]
        for name in (
            "deskbridge_events_failed_stored",
            "deskbridge_timers_failed_stored",
            "deskbridge_outbox_dead",
        )
    } == {
        "deskbridge_events_failed_stored": "deskbridge events --failed lists them)",
        "deskbridge_timers_failed_stored": "deskbridge timers --failed lists them)",
        "deskbridge_outbox_dead": "deskbridge outbox --dead lists them)",
    }
