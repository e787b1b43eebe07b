"""DESIGN rule 4: registries are plain dicts, checked by tests.

Every helpdesk (Source) has one connector entry, every parser has a fixture that parses, every
mapped event type is a real EventKind, every webhook-body fixture is used by some test, and the
helpdesk folders do not import each other.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG
from deskbridge.connectors.connector import Connector
from deskbridge.connectors.errors import PayloadError, UnsupportedEvent
from deskbridge.connectors.registry import CONNECTORS
from deskbridge.connectors.zendesk import parse as zendesk_parse
from deskbridge.connectors.zendesk.parse import EVENT_KINDS, EVENT_PREFIX
from deskbridge.workflows.model import EventKind, Source, TicketEvent
from tests.conftest import FIXTURES, fixture_bytes

RECEIVED = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)  # after every fixture's events
TESTS = Path(__file__).resolve().parents[1]
CONNECTORS_DIR = Path(__file__).resolve().parents[2] / "connectors"
RULES = load_rules(EXAMPLE_CONFIG)

# Which fixture files (in tests/fixtures, named after the real event) are webhook bodies for
# each source. A source added to CONNECTORS without an entry here fails
# `test_every_parser_has_a_fixture_that_parses`.
WEBHOOK_BODIES: dict[Source, list[str]] = {
    Source.zendesk: ["ticket_*.json", "trigger_*.json"],
    Source.salesforce: ["case_*.xml", "outbound_*.xml"],
}


def webhook_fixtures(source: Source) -> list[Path]:
    found = [p for pattern in WEBHOOK_BODIES.get(source, []) for p in FIXTURES.glob(pattern)]
    return sorted(set(found))


def test_the_fixtures_are_in_the_repository_where_conftest_says():
    assert FIXTURES == TESTS / "fixtures"
    assert (FIXTURES / "trigger_ticket_updated.json").is_file()


def test_every_source_has_one_connector_entry_in_a_plain_dict():
    assert type(CONNECTORS) is dict
    assert set(CONNECTORS) == set(Source)
    for source, connector in CONNECTORS.items():
        assert type(connector) is Connector
        assert connector.source is source
        for step in (connector.verify, connector.parse, connector.respond, connector.build_writer):
            assert callable(step), f"{source}: {step}"


@pytest.mark.parametrize("source", list(CONNECTORS), ids=str)
def test_every_parser_has_a_fixture_that_parses(source):
    assert source in WEBHOOK_BODIES, f"say which fixtures are {source} webhook bodies"
    fixtures = webhook_fixtures(source)
    assert fixtures, f"no fixture for the {source} parser"
    parsed = 0
    for path in fixtures:
        try:
            events = CONNECTORS[source].parse(path.read_bytes(), RECEIVED, RULES)
        except UnsupportedEvent:
            continue
        assert events, path.name
        for event in events:
            assert isinstance(event, TicketEvent), path.name
            assert event.source is source, path.name
            assert event.dedupe_key, path.name
        parsed += 1
    assert parsed >= 1, f"no {source} fixture parses"


@pytest.mark.parametrize("source", list(CONNECTORS), ids=str)
@pytest.mark.parametrize("raw", [b"", b"\xff\xfe\x00", b"not a payload", b"[" * 10_000])
def test_every_parser_refuses_garbage_with_a_payload_error(source, raw):
    """Malformed input is a 400 with a reason, never an unhandled exception (DESIGN rule 5)."""
    with pytest.raises(PayloadError):
        CONNECTORS[source].parse(raw, RECEIVED, RULES)


# -- EVENT_KINDS -----------------------------------------------------------------------------


def test_event_kinds_is_a_plain_dict_of_real_event_kinds():
    assert type(EVENT_KINDS) is dict
    for suffix, kind in EVENT_KINDS.items():
        assert isinstance(kind, EventKind), suffix
        assert re.fullmatch(r"[a-z_]+", suffix), suffix


def test_every_event_kind_is_reachable_from_zendesk():
    """`updated` is the trigger-body snapshot and four kinds are deskbridge's own (clicks in
    Slack); every other kind has a Zendesk event type."""
    own = {
        EventKind.acknowledged,
        EventKind.snoozed,
        EventKind.call_logged,
        EventKind.department_picked,
        EventKind.escalation_requested,
    }
    assert set(EVENT_KINDS.values()) | {EventKind.updated} | own == set(EventKind)


def _body_for(suffix: str) -> bytes:
    """A realistic body of `zen:event-type:ticket.<suffix>` built from the event fixtures."""
    if EVENT_KINDS[suffix] is EventKind.comment_added:
        raw = fixture_bytes("ticket_comment_added__public_agent.json")
    elif EVENT_KINDS[suffix] is EventKind.custom_field_changed:
        raw = fixture_bytes("ticket_custom_field_changed__problem_category.json")
    else:
        raw = fixture_bytes("ticket_created.json")
    old = b'"type": "zen:event-type:ticket.'
    head, rest = raw.split(old, 1)
    _, tail = rest.split(b'"', 1)
    return head + old + suffix.encode() + b'"' + tail


@pytest.mark.parametrize("suffix", sorted(EVENT_KINDS))
def test_every_mapped_event_type_parses_to_its_kind(suffix):
    event_type = f"{EVENT_PREFIX}{suffix}"
    (event,) = zendesk_parse.parse_zendesk(_body_for(suffix), RECEIVED)
    assert event.kind is EVENT_KINDS[suffix]
    assert event.vendor_type == event_type


# -- every fixture is used -------------------------------------------------------------------


def _test_sources() -> dict[Path, str]:
    me = Path(__file__).resolve()
    return {p: p.read_text(encoding="utf-8") for p in TESTS.rglob("*.py") if p.resolve() != me}


def _all_webhook_fixtures() -> list[Path]:
    """Webhook bodies of every source that has a parser (a source without one yet, such as
    Salesforce before its connector lands, is not held to the rule)."""
    found: set[Path] = set()
    for source in CONNECTORS:
        found.update(webhook_fixtures(source))
    return sorted(found)


def test_every_zendesk_webhook_body_fixture_is_known():
    names = {p.name for p in webhook_fixtures(Source.zendesk)}
    # Event-subscription bodies (ticket_*) and trigger bodies (trigger_*); the signature
    # vectors, Slack payloads and SOAP ack beside them are not Zendesk webhook bodies.
    assert names == {
        "ticket_created.json",
        "ticket_comment_added__private_note.json",
        "ticket_comment_added__public_agent.json",
        "ticket_comment_added__public_end_user.json",
        "ticket_custom_field_changed__problem_category.json",
        "ticket_custom_status_changed__awaiting_customer.json",
        "ticket_priority_changed.json",
        "ticket_status_changed__solved.json",
        "trigger_comment_added__public_agent.json",
        "trigger_comment_added__voice_call.json",
        "trigger_ticket_updated.json",
    }


@pytest.mark.parametrize("path", _all_webhook_fixtures(), ids=lambda p: p.name)
def test_every_webhook_body_fixture_is_used_by_some_test(path):
    users = [p.name for p, text in _test_sources().items() if path.name in text]
    assert users, f"{path.name} is not used by any test besides this one"


@pytest.mark.parametrize(
    "path",
    sorted(p for p in FIXTURES.glob("*") if p.is_file()),
    ids=lambda p: p.name,
)
def test_every_fixture_is_used_and_well_formed(path):
    if path.suffix == ".json":
        data = path.read_bytes()
        assert data.endswith(b"\n") and not data.endswith(b"\n\n"), "end with one newline"
    users = [p.name for p, text in _test_sources().items() if path.name in text]
    assert users, f"{path.name} is not used by any test besides this one"


# -- one folder per helpdesk ---------------------------------------------------------------

HELPDESKS = sorted(p.name for p in CONNECTORS_DIR.iterdir() if (p / "__init__.py").is_file())


def _imported_modules(folder: Path) -> set[str]:
    """Every module a folder's code imports, at the top or inside a function."""
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
    return found


def test_every_registered_helpdesk_has_its_folder():
    assert sorted(source.value for source in CONNECTORS) == HELPDESKS


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_no_helpdesk_folder_imports_another(helpdesk):
    others = [f"deskbridge.connectors.{other}" for other in HELPDESKS if other != helpdesk]
    imported = _imported_modules(CONNECTORS_DIR / helpdesk)
    crossing = sorted(m for m in imported for o in others if m == o or m.startswith(o + "."))
    assert crossing == [], f"{helpdesk} imports {crossing}"


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_loading_one_helpdesk_loads_no_other(helpdesk):
    """Not even through a shared module (connectors/parsing.py, errors.py, connector.py)."""
    code = (
        "import sys\n"
        f"import deskbridge.connectors.{helpdesk}.connector\n"
        "print(sorted(m for m in sys.modules if m.startswith('deskbridge.connectors.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.split(".")[2] for name in ast.literal_eval(result.stdout)}
    assert loaded & set(HELPDESKS) == {helpdesk}
