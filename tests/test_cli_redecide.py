"""`redecide --id` with an id that is no failed event says so and exits 1, rather than reporting
"0 events put back" as a success."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG

NOTHING_PUT_BACK = (
    "0 events put back; 0 decided, 0 failed again\n0 timers put back; 0 fired, 0 failed again\n"
)


def _migrated(tmp_path: Path) -> dict[str, str]:
    """The environment of a store made by `deskbridge migrate` (redecide makes none)."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deskbridge.db'}",
        "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG),
    }
    assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0
    return env


def test_redecide_an_id_that_is_no_failed_event(tmp_path: Path):
    env = _migrated(tmp_path)
    result = CliRunner().invoke(main, ["redecide", "--id", "424242", "--id", "424242"], env=env)
    assert result.exit_code == 1, result.output
    assert result.stdout == NOTHING_PUT_BACK
    assert result.stderr == (
        "1 of the 1 id given is not a failed event (see deskbridge events --failed)\n"
    )


def test_redecide_without_ids_on_a_store_with_none_failed_is_not_an_error(tmp_path: Path):
    env = _migrated(tmp_path)
    result = CliRunner().invoke(main, ["redecide"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == NOTHING_PUT_BACK
    assert result.stderr == ""


def test_redecide_an_id_that_no_event_can_have(tmp_path: Path):
    """An id past the store's 64-bit integers was SQLite's OverflowError traceback ("Python int
    too large to convert to SQLite INTEGER"); ids start at 1."""
    env = _migrated(tmp_path)
    for given in ("99999999999999999999999", "0", "-5"):
        result = CliRunner().invoke(main, ["redecide", "--id", given], env=env)
        assert (result.exit_code, result.stdout) == (2, ""), result.output
        assert result.stderr.endswith(
            f"Error: Invalid value for '--id': {given} is not in the range "
            "1<=x<=9223372036854775807.\n"
        )


@pytest.mark.parametrize(
    "command", [["redecide"], ["outbox", "retry", "--all-dead"], ["purge"], ["purge", "--dry-run"]]
)
def test_changing_commands_make_no_tables_in_a_database_deskbridge_never_migrated(
    store_url, command
):
    """redecide, outbox retry and purge migrated whatever DATABASE_URL named: another
    application's database, or an empty one, got all of deskbridge's tables. They refuse it
    now, as the reading commands do (only serve, worker and migrate make a store)."""
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE someone_elses (id INTEGER)"))
    where = engine.url.render_as_string(hide_password=True)
    env = {"DATABASE_URL": store_url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}

    result = CliRunner().invoke(main, command, env=env)

    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
    engine.dispose()
    assert (result.exit_code, result.stdout, result.stderr, tables) == (
        1,
        "",
        f"Error: the store at {where} has no deskbridge tables: run `deskbridge migrate` first\n",
        ["someone_elses"],
    )


@pytest.mark.parametrize(
    "args",
    [["redecide", "--id", "x"], ["outbox", "retry", "--id", "x"], ["oncall", "--shifts", "x"]],
)
def test_a_word_for_a_number_is_said_to_be_no_integer(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    option = args[-2]
    assert result.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '{option}': 'x' is not a valid integer."
    )


@pytest.mark.parametrize("poisoned", [True, False])
def test_redecide_says_what_a_running_service_made_of_what_it_put_back(
    engine, store_url, rules, monkeypatch, poisoned
):
    """serve's decider polls every 0.5 s: it took the event put back before redecide's own
    decider did, and redecide said "0 decided, 0 failed again" and exited 0, also when the
    event failed again there."""
    from deskbridge.workflows import decider as decider_module
    from deskbridge.workflows import rules as rules_module
    from tests.workflows.test_decider import T0, reply, statuses, store

    def poison(state, event, ctx):
        raise ValueError("poison")

    monkeypatch.setitem(rules_module.RULES, "poison", poison)
    store(engine, reply(9, 1))
    Real = decider_module.Decider
    Real(engine, rules, lambda: T0).decide_pending()
    assert statuses(engine)["zendesk:event:9-1"] == ("failed", "ValueError: poison")
    if not poisoned:
        monkeypatch.delitem(rules_module.RULES, "poison")  # the fix

    def service_first(*args, **kwargs):
        Real(engine, rules, lambda: T0).decide_pending()  # the running serve, between the two
        return Real(*args, **kwargs)

    monkeypatch.setattr(decider_module, "Decider", service_first)
    result = CliRunner().invoke(main, ["redecide"], env={"DATABASE_URL": store_url})

    # Before it, on stderr: the service's own event.failed line when it failed again there.
    assert (result.exit_code, result.stdout, result.stderr.splitlines()[-1]) == (
        1 if poisoned else 0,
        # Decided there, its ticket's resolution clock's three stages, long overdue, fire here.
        "1 event put back; 0 decided, 0 failed again\n"
        f"0 timers put back; {0 if poisoned else 3} fired, 0 failed again\n",
        "1 event put back was taken by a running serve or worker, not here: "
        f"{0 if poisoned else 1} decided, {1 if poisoned else 0} failed again, 0 still to "
        "decide (deskbridge events --failed lists those that failed)",
    )
    assert statuses(engine)["zendesk:event:9-1"] == (
        ("failed", "ValueError: poison") if poisoned else ("decided", None)
    )
