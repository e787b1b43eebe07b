"""The settings that are seconds (the signature window, the Slack pacing, the loops' intervals,
the dispatch lease) are finite and at most a day: `inf` passed "greater than 0" and was an
OverflowError traceback at start-up (timedelta, or the timer loop's wait), and a tolerance of
10**15 seconds made every Zendesk webhook a 500."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG, Settings
from tests.conftest import ENVIRONMENT_NOT_READ, check_config_ok

SECONDS = [
    "ZENDESK_SIGNATURE_TOLERANCE_SECONDS",
    "DESKBRIDGE_SLACK_MIN_INTERVAL",
    "DESKBRIDGE_DISPATCH_INTERVAL",
    "DESKBRIDGE_TIMER_INTERVAL",
    "DESKBRIDGE_DISPATCH_LEASE_SECONDS",
]


def _check_config(variable: str, value: str):
    env = {variable: value, "DESKBRIDGE_CONFIG": str(EXAMPLE_CONFIG)}
    return CliRunner().invoke(main, ["check-config"], env=env)


# check-config reads the rules file too, whatever the environment's mistakes.
OK = check_config_ok(environment=ENVIRONMENT_NOT_READ)


@pytest.mark.parametrize("variable", SECONDS)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        # With the number given: the limit alone left the user to find what they had set.
        ("86401", "Input should be less than or equal to 86400, got 86401"),
        ("1000000000000000", "Input should be less than or equal to 86400, got 1000000000000000"),
    ],
)
def test_more_than_a_day_is_refused(variable, value, message):
    result = _check_config(variable, value)

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        OK,
        f"environment: invalid settings\n  {variable}: {message}\n",
    )


@pytest.mark.parametrize("variable", SECONDS[1:])  # the tolerance is a whole number of seconds
@pytest.mark.parametrize("value", ["inf", "Infinity", "-inf", "nan"])
def test_infinity_and_nan_are_refused(variable, value):
    result = _check_config(variable, value)

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        OK,
        f"environment: invalid settings\n  {variable}: Input should be a finite number\n",
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        # Written as the rules file writes durations, or as sizes are said: pydantic's "Input
        # should be a valid integer, unable to parse string as an integer" did not say what
        # was wanted. The value is never repeated (it may be a secret in the wrong variable).
        (
            "ZENDESK_SIGNATURE_TOLERANCE_SECONDS",
            "5m",
            'expected a whole number of seconds, without a unit ("5m" is 300)',
        ),
        (
            "DESKBRIDGE_DISPATCH_INTERVAL",
            "500ms",
            'expected a number of seconds, without a unit ("5m" is 300)',
        ),
        (
            "DESKBRIDGE_MAX_BODY_BYTES",
            "1MB",
            'expected a whole number of bytes, without a unit ("1MB" is 1048576)',
        ),
        ("DESKBRIDGE_MAX_ATTEMPTS", "eight", "expected a whole number"),
        ("DESKBRIDGE_CONNECTION_LIMIT", "1.5", "expected a whole number"),
    ],
)
def test_a_number_written_with_a_unit_or_in_words_is_asked_for_with_its_unit(
    variable, value, message
):
    result = _check_config(variable, value)

    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        OK,
        f"environment: invalid settings\n  {variable}: {message}\n",
    )


def test_a_day_is_allowed(monkeypatch):
    for variable in SECONDS:
        monkeypatch.setenv(variable, "86400")
    settings = Settings()
    assert (
        settings.zendesk_signature_tolerance,
        settings.slack_min_interval,
        settings.dispatch_interval,
        settings.timer_interval,
        settings.dispatch_lease,
    ) == (86400, 86400.0, 86400.0, 86400.0, 86400.0)
