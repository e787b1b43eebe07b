"""A time or date given on the command line (`oncall --at`, `replay --until`, `digest --date`)
is one helpdesks can mean, 2000-2099, as in a webhook or a replayed line: year 1 or 9999 was
an OverflowError traceback from the rotation's or the review's date arithmetic, and
`replay --until 9999-12-31` ran scheduled jobs for eight thousand years without a word."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'deskbridge.db'}"
    env = {"DATABASE_URL": url, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}
    assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0
    return env


@pytest.mark.parametrize(
    "at", ["0001-01-01", "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "9999-12-31T23:59:59"]
)
@pytest.mark.parametrize("option", [["oncall", "--at"], ["replay", "-", "--until"]])
def test_a_time_out_of_range_is_refused_with_the_option_named(env, option, at):
    line = '{"at": "2026-03-02T09:00:00Z", "source": "zendesk", "body": {"ticket_id": 1}}\n'
    result = CliRunner().invoke(main, [*option, at], env=env, input=line)

    name = option[-1]
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.endswith(
        f"Error: Invalid value for '{name}': '{at}' is out of range (2000-2099)\n"
    )


def test_the_edges_of_the_range_are_times(env):
    for at in ("2000-01-01T00:00:00Z", "2099-12-31T23:59:59Z"):
        result = CliRunner().invoke(main, ["oncall", "--at", at, "--shifts", "0"], env=env)
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("day", "problem"),
    [
        ("0001-01-01", "'0001-01-01' is out of range (2000-2099)"),
        ("9999-12-31", "'9999-12-31' is out of range (2000-2099)"),
        ("2026-02-30", "'2026-02-30' is not a date: day is out of range for month"),
        ("yesterday", "'yesterday' is not a date like 2026-03-02 (YYYY-MM-DD)"),
        ("2026-03-02T10:00", "'2026-03-02T10:00' is not a date like 2026-03-02 (YYYY-MM-DD)"),
    ],
)
@pytest.mark.parametrize("week", [[], ["--week"]], ids=["day", "week"])
def test_a_digest_date_that_is_no_date_or_out_of_range(env, day, problem, week):
    result = CliRunner().invoke(main, ["digest", "--date", day, *week], env=env)

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.endswith(f"Error: Invalid value for '--date': {problem}\n")


def test_a_digest_of_the_first_and_last_days_in_range(env):
    for day in ("2000-01-01", "2099-12-31"):
        result = CliRunner().invoke(main, ["digest", "--date", day, "--week"], env=env)
        assert result.exit_code == 0, result.output
        assert "Weekly review — Resolution team" in result.stdout
