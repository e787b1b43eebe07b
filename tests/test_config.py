"""The rules file: `deskbridge check-config` and the duration syntax (DESIGN §4)."""

from __future__ import annotations

import json
from datetime import time, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.rules import ConfigError, load_rules, parse_duration, sort_as_written
from deskbridge.config.settings import EXAMPLE_CONFIG
from tests.conftest import SALESFORCE_STATUSES, name_key_accounts

# What a Slack user id that is a name or a handle is told: where the id is found.
MEMBER_ID = " (a member ID: in Slack, the person's profile → ⋮ → Copy member ID)"

# One file, five mistakes: every one must be reported, each with its path.
BROKEN = """\
version: 1
team:
  name: Resolution team
  timezone: Mars/Base
three_responses:
  threshold: 0
three_respones:
  enabled: true
sla:
  policies:
    - name: urgent
      priority: urgent
      first_reply: 1h
    - name: high
      priority: high
      first_reply: 4h
    - name: default
      first_reply: 4 hours
"""

# A duration's problem says what is taken and what was given (then the value).
DURATION = (
    'expected a duration like "4h" (whole numbers of days d, hours h, minutes m, seconds s: '
    '"1d 12h"), got'
)

BROKEN_PROBLEMS = {
    'team.timezone: unknown timezone "Mars/Base" (use an IANA name like "Europe/London")',
    "team.lead_channel: required setting is missing",
    "three_responses.threshold: Input should be greater than or equal to 1, got 0",
    "three_respones: unknown setting (did you mean three_responses?)",
    f'sla.policies[2].first_reply: {DURATION} "4 hours"',
}


# check-config's warnings for a file that leaves out routing and sla (enabled by default).
EMPTY_SECTIONS_WARNINGS = (
    "warning: routing: enabled, no categories: no ticket is routed by its words\n"
    "warning: sla: enabled, no policies: no SLA clock will run\n"
)


@pytest.fixture
def runner(monkeypatch) -> CliRunner:
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    return CliRunner()


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    """The problems load_rules lists for a rules file of `text` (none: it loads)."""
    try:
        load_rules(write(tmp_path, text))
    except ConfigError as error:
        return error.problems
    return []


def problem_lines(stderr: str) -> list[str]:
    """The indented problem lines under the '<path>: N problems' header."""
    return [line.strip() for line in stderr.splitlines() if line.startswith("  ")]


def warnings_of(runner: CliRunner, tmp_path: Path, rules: dict) -> list[str]:
    """check-config's lines on stderr for `rules`, a valid file (exit 0)."""
    path = write(tmp_path, yaml.safe_dump(rules, allow_unicode=True))
    result = runner.invoke(main, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    return result.stderr.splitlines()


# --- check-config -----------------------------------------------------------------------


def test_example_config_is_valid_with_a_one_line_summary(runner):
    result = runner.invoke(main, ["check-config", str(EXAMPLE_CONFIG)])

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f'{EXAMPLE_CONFIG}: ok — team "Resolution team" (Europe/London); '
        "5 SLA policies; workflows: 3-response rule, routing (3 departments, 17 categories), "
        "risk escalation (6 signals), SLA (business hours Europe/London), "
        "on-call (3 members, weekly, 4 steps)\n"
        "helpdesks in use: zendesk, salesforce (named by the rules file)\n"
        f"{SALESFORCE_STATUSES}\n"
    )
    assert result.stderr == ""


def test_enabled_sections_left_empty_are_warned_of_not_refused(runner, tmp_path):
    """`sla.enabled: true` without policies, routing without categories: valid (perhaps meant),
    but the summary left them out without a word."""
    path = write(
        tmp_path,
        "team:\n  name: X\n  lead_channel: '#leads'\n"
        "sla:\n  enabled: true\nrouting:\n  enabled: true\n",
    )

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f'{path}: ok — team "X" (UTC); 0 SLA policies; workflows: 3-response rule\n'
        "helpdesks in use: zendesk, salesforce (neither the rules file (a department's group "
        "or queue, the specialist tier's, a roster id) nor the environment (a ZENDESK_… or "
        "SALESFORCE_… variable) names one, so each is checked)\n"
        f"{SALESFORCE_STATUSES}\n"
    )
    # In the file's order: sla is written first here.
    assert result.stderr.splitlines() == EMPTY_SECTIONS_WARNINGS.splitlines()[::-1]


def test_disabled_empty_sections_are_not_warned_of(runner, tmp_path):
    path = write(
        tmp_path,
        "team:\n  name: X\n  lead_channel: '#leads'\n"
        "sla:\n  enabled: false\nrouting:\n  enabled: false\n",
    )

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_without_a_path_the_example_config_is_checked(runner):
    result = runner.invoke(main, ["check-config"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{EXAMPLE_CONFIG}: ok — ")


def test_without_a_path_deskbridge_config_is_checked(runner, tmp_path, monkeypatch):
    path = write(tmp_path, BROKEN)
    monkeypatch.setenv("DESKBRIDGE_CONFIG", str(path))

    result = runner.invoke(main, ["check-config"])

    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}: 5 problems\n")


def test_every_problem_is_reported_with_its_path(runner, tmp_path):
    path = write(tmp_path, BROKEN)

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"{path}: 5 problems"
    problems = problem_lines(result.stderr)
    assert len(problems) == len(lines) - 2 == 5
    assert set(problems) == BROKEN_PROBLEMS
    # Its warnings in the same run: routing, left out, runs without categories; the SLA
    # policies, which have a mistake, are not "no policies".
    assert lines[-1] == "warning: routing: enabled, no categories: no ticket is routed by its words"


def test_load_rules_raises_config_error_listing_every_problem(tmp_path):
    path = write(tmp_path, BROKEN)

    with pytest.raises(ConfigError) as info:
        load_rules(path)

    assert info.value.path == str(path)
    assert set(info.value.problems) == BROKEN_PROBLEMS


def test_an_unknown_business_hours_timezone_is_reported_with_its_path(tmp_path):
    text = (
        "team:\n  lead_channel: '#leads'\nbusiness_hours:\n  timezone: Europe/Londres\n"
        "  week:\n    mon: ['09:00-17:00']\n"
    )

    assert problems_of(tmp_path, text) == [
        'business_hours.timezone: unknown timezone "Europe/Londres" '
        '(use an IANA name like "Europe/London")'
    ]


@pytest.mark.parametrize(
    ("holidays", "timezone", "problem"),
    [
        (
            {"country": "GB"},
            "europe/london",
            'team.timezone: unknown timezone "europe/london" (did you mean "Europe/London"?)',
        ),
        (
            {"country": "GB"},
            "America/New York",
            'team.timezone: unknown timezone "America/New York" (did you mean "America/New_York"?)',
        ),
        # An offset is not spelt like a region: "GMT+0" is not what "GMT+1" meant.
        (
            {"country": "GB"},
            "GMT+1",
            'team.timezone: unknown timezone "GMT+1" (use an IANA name like "Europe/London")',
        ),
        (
            {"country": "gb"},
            "Europe/London",
            'business_hours.holidays.country: unknown holiday country "gb" (did you mean "GB"?)',
        ),
        (
            {"country": "GB", "subdivision": "eng"},
            "Europe/London",
            'business_hours.holidays.subdivision: "GB" has no holiday subdivision "eng" '
            '(did you mean "ENG"?)',
        ),
        (
            {"country": "GB", "subdivision": "Englnd"},
            "Europe/London",
            'business_hours.holidays.subdivision: "GB" has no holiday subdivision "Englnd" '
            '(did you mean "England"?)',
        ),
    ],
)
def test_a_timezone_or_holiday_name_in_other_letters_is_told_the_name_meant(
    tmp_path, holidays, timezone, problem
):
    text = yaml.safe_dump(
        {
            "team": {"lead_channel": "#leads", "timezone": timezone},
            "business_hours": {"week": {"mon": ["09:00-17:00"]}, "holidays": holidays},
        }
    )

    assert problems_of(tmp_path, text) == [problem]


@pytest.mark.parametrize("zone", ["Europe", "America/", "Europe/" + "x" * 300])
def test_a_timezone_that_names_a_folder_or_no_file_is_unknown(tmp_path, zone):
    """Were tracebacks from zoneinfo reading the tz database's files: IsADirectoryError for a
    region without its city, "File name too long" for a long value."""
    text = f"team:\n  lead_channel: '#leads'\n  timezone: '{zone}'\n"

    assert problems_of(tmp_path, text) == [
        f'team.timezone: unknown timezone "{zone}" (use an IANA name like "Europe/London")'
    ]


def test_duplicate_policy_names_are_reported_with_the_other_problems(runner, tmp_path):
    path = write(
        tmp_path,
        "team:\n  name: X\nsla:\n  policies:\n    - name: a\n    - name: a\n",
    )

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert set(problem_lines(result.stderr)) == {
        "team.lead_channel: required setting is missing",
        'sla.policies: policy name "a" is used twice',
    }


def test_a_policy_name_used_twice_is_found_among_the_policies_that_validate(tmp_path):
    text = (
        "team:\n  lead_channel: '#leads'\nsla:\n  policies:\n    - name: a\n"
        "    - name: b\n      first_reply: soon\n    - name: a\n"
    )

    assert problems_of(tmp_path, text) == [
        'sla.policies: policy name "a" is used twice',
        f'sla.policies[1].first_reply: {DURATION} "soon"',
    ]


@pytest.mark.parametrize(
    ("holidays", "problems"),
    [
        ({"country": "GB", "subdivision": "ENG"}, []),
        (
            {"country": "GB", "subdivision": "Narnia", "regoin": "x"},
            [
                # In the file's order (safe_dump writes the keys sorted).
                "business_hours.holidays.regoin: unknown setting: business_hours.holidays has "
                "country, subdivision",
                'business_hours.holidays.subdivision: "GB" has no holiday subdivision "Narnia"',
            ],
        ),
        # The subdivision cannot be looked up in a country that is not known.
        (
            {"country": "Narnia", "subdivision": "ENG"},
            ['business_hours.holidays.country: unknown holiday country "Narnia"'],
        ),
    ],
)
def test_holiday_country_and_subdivision_are_checked_each_with_its_path(
    tmp_path, holidays, problems
):
    text = yaml.safe_dump(
        {
            "team": {"lead_channel": "#leads"},
            "business_hours": {"week": {"mon": ["09:00-17:00"]}, "holidays": holidays},
        }
    )

    assert problems_of(tmp_path, text) == problems


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("4", f"sla.policies[0].first_reply: {DURATION} 4"),
        ('"0h"', f'sla.policies[0].first_reply: {DURATION} "0h"'),
        ('""', f"sla.policies[0].first_reply: {DURATION} nothing"),
    ],
)
def test_a_duration_without_units_or_length_is_refused(runner, tmp_path, value, problem):
    path = write(
        tmp_path,
        f'team:\n  lead_channel: "#leads"\nsla:\n  policies:\n'
        f"    - name: a\n      first_reply: {value}\n",
    )

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert problem_lines(result.stderr) == [problem]


def test_invalid_yaml_reports_line_and_column(runner, tmp_path):
    # Line 3, column 25 is the second colon, after the quoted "#leads".
    path = write(
        tmp_path,
        'team:\n  name: X\n  lead_channel: "#leads": oops\n',
    )

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{path}: 1 problem"
    assert problem_lines(result.stderr) == [
        "line 3, column 25: not valid YAML: mapping values are not allowed here"
    ]


def test_a_tab_in_the_indentation_is_named_as_such(runner, tmp_path):
    # Was PyYAML's "found character '\\t' that cannot start any token".
    path = write(tmp_path, "team:\n  name: X\n\tlead_channel: '#leads'\n")

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert problem_lines(result.stderr) == [
        "line 3, column 1: not valid YAML: a tab, where YAML takes spaces only (indent with spaces)"
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        # Paired with the next value's opening quote: PyYAML stops lines below, at "Logistics".
        (
            'team:\n  name: X\n  lead_channel: "#leads\ndepartments:\n  logistics:\n'
            '    name: "Logistics"\n',
            "line 6, column 12: not valid YAML: expected <block end>, but found '<scalar>' (a "
            "quoted value runs from line 3, column 17 to here: is its closing quote missing on "
            "line 3?)",
        ),
        # Never closed: PyYAML said "line 4, column 1: … found unexpected end of stream".
        (
            "team:\n  name: 'X\n  lead_channel: x\n",
            "line 2, column 9: not valid YAML: a quoted value begins here and is never closed "
            "(its closing quote is missing)",
        ),
    ],
)
def test_a_quote_left_open_is_named_where_it_was_opened(runner, tmp_path, text, says):
    path = write(tmp_path, text)

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert problem_lines(result.stderr) == [says]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("!!int abc", '"abc" is not a whole number, as its tag !!int says'),
        ("!!int 0b2", '"0b2" is not a whole number, as its tag !!int says'),
        ("!!float x", '"x" is not a number, as its tag !!float says'),
        ("!!bool maybe", '"maybe" is not true or false, as its tag !!bool says'),
        ("!!timestamp soon", '"soon" is not a date or time, as its tag !!timestamp says'),
    ],
)
def test_a_value_its_explicit_tag_cannot_read_is_a_yaml_problem_at_its_line(
    runner, tmp_path, value, says
):
    """PyYAML's constructors raised ValueError, KeyError or AttributeError on these: a
    traceback from check-config. A key so tagged is read the same way."""
    for text, column in ((f"team:\n  name: {value}\n", 9), (f"team:\n  {value}: X\n", 3)):
        result = runner.invoke(main, ["check-config", str(write(tmp_path, text))])

        assert result.exit_code == 1, result.output
        assert problem_lines(result.stderr) == [f"line 2, column {column}: not valid YAML: {says}"]


def test_a_missing_file_is_reported(runner, tmp_path):
    path = tmp_path / "nowhere.yaml"

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert result.stderr == (
        f"{path}: 1 problem\n  (file): cannot read: No such file or directory\n"
    )


@pytest.mark.parametrize(
    ("text", "got"),
    [
        ("", "nothing (the file is empty)"),
        ("# only comments\n\n", "nothing (the file is empty)"),
        ("- just\n- a list\n", "a list"),
        ("hello\n", "a string"),
    ],
)
def test_a_file_that_is_not_a_mapping_is_reported(runner, tmp_path, text, got):
    path = write(tmp_path, text)

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert problem_lines(result.stderr) == [
        f"(top level): expected a mapping of settings, got {got}"
    ]


@pytest.mark.parametrize(
    ("entry", "got"),
    [("urgent", "a string"), ("4", "a number"), ("[a, b]", "a list"), ("", "nothing")],
)
def test_a_list_entry_that_is_not_a_mapping_says_what_it_is(runner, tmp_path, entry, got):
    path = write(
        tmp_path, f"team:\n  name: X\n  lead_channel: '#l'\nsla:\n  policies:\n    - {entry}\n"
    )

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert problem_lines(result.stderr) == [
        f"sla.policies[0]: expected a mapping of settings, got {got}"
    ]


# --- parse_duration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4h", timedelta(hours=4)),
        ("30m", timedelta(minutes=30)),
        ("1d 2h", timedelta(days=1, hours=2)),
        ("90s", timedelta(seconds=90)),
        ("1d2h30m", timedelta(days=1, hours=2, minutes=30)),
        (" 2h ", timedelta(hours=2)),
    ],
)
def test_parse_duration_accepts_durations_with_units(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "value", ["4", "", "   ", "0h", "0d 0m", "4 hours", "h", "-4h", "2h 1d", 4, 4.0, None]
)
def test_parse_duration_refuses_anything_else(value):
    with pytest.raises(ValueError, match='expected a duration like "4h"'):
        parse_duration(value)


def test_parse_duration_passes_a_timedelta_through():
    assert parse_duration(timedelta(minutes=5)) == timedelta(minutes=5)


# --- any file, however broken: a listed problem, never a traceback -------------------------


def _binary(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\xfd")
    return path


def _deep_list(tmp_path: Path) -> Path:
    return write(tmp_path, "[" * 20_000 + "]" * 20_000 + "\n")


def _deep_mapping(tmp_path: Path) -> Path:
    return write(tmp_path, "team: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n")


def _deep_block(tmp_path: Path) -> Path:
    # Block style, one more space of indent per level: past the recursion limit within 1 MiB.
    return write(
        tmp_path, "".join(" " * level + "a:\n" for level in range(1_200)) + " " * 1_200 + "1\n"
    )


def _huge(tmp_path: Path) -> Path:
    return write(tmp_path, "# padding\n" * 200_000)


def _nul(tmp_path: Path) -> Path:
    return write(tmp_path, 'team:\n  lead_channel: "#l"\n  name: "a\0b"\n')


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_binary, "(file): not UTF-8 text (byte 0); is this the rules file?"),
        (_deep_list, "line 1, column 101: not valid YAML: nested deeper than 100 levels"),
        (_deep_mapping, "line 1, column 407: not valid YAML: nested deeper than 100 levels"),
        (_deep_block, "(file): nested too deeply to be a rules file"),
        (_huge, "(file): larger than 1024 KiB; is this the rules file?"),
        (
            _nul,
            "(file): not valid YAML: unacceptable character #x0000: special characters are "
            'not allowed in "<unicode string>", position 37',
        ),
    ],
    ids=[
        "binary",
        "20000-level list",
        "20000-level mapping",
        "1200-level block",
        "2 MB",
        "NUL byte",
    ],
)
def test_any_file_gives_a_listed_problem_not_a_traceback(runner, tmp_path, make, problem):
    path = make(tmp_path)

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"{path}: 1 problem\n  {problem}\n"


def test_a_directory_is_reported(runner, tmp_path):
    result = runner.invoke(main, ["check-config", str(tmp_path)])

    assert result.exit_code == 1
    assert result.stderr == f"{tmp_path}: 1 problem\n  (file): cannot read: Is a directory\n"


def test_aliases_that_expand_a_billion_times_are_checked_without_expanding(runner, tmp_path):
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = write(tmp_path, "\n".join([*levels, 'team: {lead_channel: "#x", name: *a8}']) + "\n")

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert set(problem_lines(result.stderr)) == {
        "team.name: expected text, got a list",
        *(f"a{i}: unknown setting (check the spelling)" for i in range(9)),
    }


def test_activity_retention_shorter_than_the_weekly_review_reads_is_refused(tmp_path):
    path = write(tmp_path, "team:\n  lead_channel: '#leads'\nretention:\n  activity: 41d\n")
    enough = write(
        tmp_path, "team:\n  lead_channel: '#leads'\nretention:\n  activity: 42d\n", "ok.yaml"
    )

    assert load_rules(enough).retention.activity == timedelta(days=42)
    with pytest.raises(ConfigError) as info:
        load_rules(path)

    assert info.value.problems == [
        'retention.activity: at least 42d, got "41d": the weekly review, run on any day of the '
        "week after, compares its week with the four weeks before it"
    ]


def test_retention_problems_say_the_value_given_and_what_is_taken(runner, tmp_path):
    """`retention.events: -3` and `soon` were "expected a duration like "4h"" (for a setting
    that keeps 7 days at least), and `retention.replies` (which `purge` counts) "unknown
    setting (check the spelling)": each now says what was given and what is taken, and the
    settings that exist, all in one run."""
    path = write(
        tmp_path,
        "team:\n  lead_channel: '#leads'\n"
        "retention:\n  events: -3\n  outbox_done: soon\n  audit: 90\n  activity: 10d\n"
        "  replies: 30d\n",
    )

    result = runner.invoke(main, ["check-config", str(path)])

    assert (result.exit_code, result.stdout, problem_lines(result.stderr)) == (
        1,
        "",
        [
            'retention.events: expected a duration of at least 7d, like "90d" (whole numbers of '
            'days d, hours h, minutes m, seconds s: "1d 12h"), got -3',
            'retention.outbox_done: expected a duration like "30d" (whole numbers of days d, '
            'hours h, minutes m, seconds s: "1d 12h"), got "soon"',
            'retention.audit: expected a duration like "365d" (whole numbers of days d, hours h, '
            'minutes m, seconds s: "1d 12h"), got 90',
            'retention.activity: at least 42d, got "10d": the weekly review, run on any day of '
            "the week after, compares its week with the four weeks before it",
            "retention.replies: unknown setting: retention has events, outbox_done, audit, "
            "activity (the replies the review counts are kept for `activity`)",
        ],
    )


@pytest.mark.parametrize(("events", "refused"), [("6d", True), ("1h", True), ("7d", False)])
def test_event_retention_covers_a_helpdesks_redelivery(tmp_path, events, refused):
    """A purged event's dedupe key is gone, and a redelivery of it would be decided again."""
    text = f"team:\n  lead_channel: '#leads'\nretention:\n  events: {events}\n"

    assert problems_of(tmp_path, text) == (
        [
            f"retention.events: at least 7d, got {json.dumps(events)}: a helpdesk's redelivery "
            "must still find the event it repeats (Salesforce retries for 24 h; a backlog may be "
            "re-sent after an outage)"
        ]
        if refused
        else []
    )


def _broken_example(tmp_path: Path, **changes) -> Path:
    """The example with field mistakes (three_responses, sla, a typo) and mistakes across
    sections (agents, oncall, routing vs departments); `changes` replace whole sections."""
    import yaml

    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["three_responses"]["threshold"] = 0
    data["sla"]["policies"][1]["first_reply"] = "soon"
    data["three_respones"] = {"enabled": True}
    del data["departments"]["post_sales"]
    data["oncall"]["rotation"]["members"][1] = "U02NOBODY1"
    data["oncall"]["overrides"][0]["person"] = "U02GHOST01"
    data["agents"][4]["slack_id"] = "U02PRIYA01"
    data.update(changes)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_field_and_cross_section_problems_are_reported_in_one_run(tmp_path, monkeypatch):
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    path = _broken_example(tmp_path)
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 1
    departed = (
        "billing",
        "request_follow_up",
        "refund",
        "replacement",
        "reshipment",
        "compensation",
        "money_general",
    )
    assert result.stderr.splitlines() == [
        f"{path}: 13 problems",
        # In the file's order, whatever found them (a setting's check or one across sections).
        "  three_responses.threshold: Input should be greater than or equal to 1, got 0",
        *(
            f'  routing.categories.{name}.department: "post_sales" is not defined under departments'
            for name in departed
        ),
        f'  sla.policies[1].first_reply: {DURATION} "soon"',
        "  agents[4].slack_id: U02PRIYA01 is also agents[0]'s",
        "  oncall.rotation.members[1]: U02NOBODY1 is not in agents",
        "  oncall.overrides[0].person: U02GHOST01 is not in agents",
        "  three_respones: unknown setting (did you mean three_responses?)",
    ]


def test_checks_reading_a_broken_section_are_left_out(tmp_path):
    """A roster with a mistake of its own is not used to judge on-call people (it would call
    every one of them missing), while its valid entries are still compared with each other (an
    id on two of them); routing is still checked against the valid departments."""
    import yaml

    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    agents = data["agents"]
    agents[1]["slack_id"] = "tom"
    agents[4]["slack_id"] = "U02PRIYA01"
    path = _broken_example(tmp_path, agents=agents)
    with pytest.raises(ConfigError) as raised:
        load_rules(path)
    problems = raised.value.problems
    assert [p for p in problems if ".department: " not in p] == [
        "three_responses.threshold: Input should be greater than or equal to 1, got 0",
        f'sla.policies[1].first_reply: {DURATION} "soon"',
        f'agents[1].slack_id: expected a Slack user id like "U012AB3CD", got "tom"{MEMBER_ID}',
        "agents[4].slack_id: U02PRIYA01 is also agents[0]'s",
        "three_respones: unknown setting (did you mean three_responses?)",
    ]
    # The routing section comes after three_responses and before sla in the file.
    assert len(problems) == 5 + 7
    assert all(".department: " in p for p in problems[1:8])


def test_checks_within_entries_and_the_model_file_are_listed_with_every_other_problem(
    tmp_path, monkeypatch
):
    """A bad field hides neither the other checks of its entry ("to" after "from") or list
    (policy names) nor the routing.model file, read even though routing has a mistake."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["sla"]["policies"][1]["first_reply"] = "soon"
    data["sla"]["policies"][2]["name"] = "vip"
    data["business_hours"]["holidays"] = {"country": "GB", "subdivision": "Narnia"}
    data["business_hours"]["closures"] = ["2026-12-32"]
    data["oncall"]["overrides"][0].update(person="tom", to="2026-03-01T09:00")
    data["agents"][4]["slack_id"] = "U02PRIYA01"
    data["routing"]["cue_window"] = 0
    data["routing"]["model"] = "team-model.skops"
    path = write(tmp_path, yaml.safe_dump(data, sort_keys=False))
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}: 9 problems",
        "  routing.cue_window: Input should be greater than or equal to 1, got 0",
        f"  routing.model: cannot read {tmp_path / 'team-model.skops'}: No such file or directory",
        '  business_hours.holidays.subdivision: "GB" has no holiday subdivision "Narnia"',
        '  business_hours.closures[0]: expected a date like "2026-03-02" (year-month-day): day '
        "value is outside expected range",
        '  sla.policies: policy name "vip" is used twice',
        f'  sla.policies[1].first_reply: {DURATION} "soon"',
        "  agents[4].slack_id: U02PRIYA01 is also agents[0]'s",
        '  oncall.overrides[0].person: expected a Slack user id like "U012AB3CD", got "tom"'
        f"{MEMBER_ID}",
        '  oncall.overrides[0].to: must be after "from"',
    ]


def test_a_misspelt_setting_is_told_the_setting_it_most_likely_means(tmp_path, runner):
    """In a section, a list's entry, a department, an optional section and an alias (an
    override's `to`); a key like no setting keeps the plain "check the spelling"."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["team"]["timezon"] = data["team"].pop("timezone")
    data["sla"]["policies"][0]["firstreply"] = data["sla"]["policies"][0].pop("first_reply")
    data["departments"]["logistics"]["grup"] = data["departments"]["logistics"].pop("group")
    data["oncall"]["overrides"][0]["too"] = data["oncall"]["overrides"][0].pop("to")
    data["agents"][0]["zendeskid"] = data["agents"][0].pop("zendesk_id")
    data["business_hours"]["colour"] = "blue"
    path = write(tmp_path, yaml.safe_dump(data, sort_keys=False))

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert sorted(problem_lines(result.stderr)) == [
        "agents[0].zendeskid: unknown setting (did you mean zendesk_id?)",
        "business_hours.colour: unknown setting: business_hours has timezone, week, holidays, "
        "closures",
        "departments.logistics.grup: unknown setting (did you mean group?)",
        "oncall.overrides[0].to: required setting is missing",
        "oncall.overrides[0].too: unknown setting (did you mean to?)",
        "sla.policies[0].firstreply: unknown setting (did you mean first_reply?)",
        "team.timezon: unknown setting (did you mean timezone?)",
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_rules_file_saved_as_utf16_with_its_mark_is_read(runner, tmp_path, encoding):
    """Windows PowerShell's `>` (Get-Content example.yaml > my-team.yaml) and Notepad's
    "Unicode" save UTF-16 with a byte order mark: was "not UTF-8 text (byte 0)"."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    raw = text.encode(encoding)
    if encoding != "utf-16":  # the plain codec writes its mark; these two do not
        raw = "\ufeff".encode(encoding) + raw
    path = tmp_path / "my-team.yaml"
    path.write_bytes(raw)

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f'{path}: ok — team "Resolution team"')


@pytest.mark.parametrize(
    ("slack_id", "told"),
    [
        ("u02priya01", ": write it as U02PRIYA01"),
        ("<@U02PRIYA01>", ": write it as U02PRIYA01"),
        ("@priya", MEMBER_ID),
        ("wendy", MEMBER_ID),  # not "write it as WENDY": a name, though it fits once capital
        ("@ursula", MEMBER_ID),
    ],
)
def test_a_slack_user_id_in_small_letters_or_given_as_a_name_says_what_to_write(
    tmp_path, slack_id, told
):
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["agents"][0]["slack_id"] = slack_id
    path = write(tmp_path, yaml.safe_dump(data, sort_keys=False))

    with pytest.raises(ConfigError) as raised:
        load_rules(path)

    assert raised.value.problems == [
        f'agents[0].slack_id: expected a Slack user id like "U012AB3CD", got "{slack_id}"{told}'
    ]


def test_a_department_named_blank_or_as_another_is_warned_of_and_still_loads(tmp_path, runner):
    """Two departments of one name (case and spaces aside) would be one entry in the Pick
    department menu and the review, and a blank name shows nothing: warned of, not refused
    (such a file loaded before the check, and serve must still start with it after an
    upgrade); the names of the valid departments are compared beside the others' mistakes."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["departments"]["post_sales"]["name"] = " logistics "
    data["departments"]["quality"]["name"] = "  "
    path = write(tmp_path, yaml.safe_dump(data, sort_keys=False))

    load_rules(path)  # as serve and worker load it
    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: departments.quality.name: blank: its alerts, reasons and the Pick department "
        "menu show no name for it",
        'warning: departments.post_sales.name: " logistics " is also departments.logistics\'s '
        "name: the Pick department menu and the review would show the two as one",
    ]

    data["sla"]["enabled"] = "sometimes"
    result = runner.invoke(main, ["check-config", str(write(tmp_path, yaml.safe_dump(data)))])

    assert result.exit_code == 1
    assert "warning: departments.post_sales.name" in result.stderr


def test_a_section_with_a_mistake_is_still_read_for_its_valid_settings(tmp_path):
    """A bad SLA warning hides neither the policies' need of business hours nor a bad
    escalation step the on-call people's need to be on the roster. Without its rotation
    (required), the on-call section cannot be read at all: its people wait for it."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    del data["business_hours"]
    data["sla"]["policies"] = [{"name": "default", "first_reply": "4h"}]
    data["sla"]["warnings"][0]["notify"] = "boss"
    data["oncall"]["escalation"][1]["after"] = "soon"
    data["oncall"]["overrides"][0]["person"] = "U02GHOST01"

    assert problems_of(tmp_path, yaml.safe_dump(data)) == [
        f'oncall.escalation[1].after: {DURATION} "soon"',
        "oncall.overrides[0].person: U02GHOST01 is not in agents",
        "sla.policies[0].first_reply: a business-time target needs a business_hours section "
        "(or list it under calendar_time)",
        "sla.warnings[0].notify: expected 'assignee' or 'lead', got \"boss\"",
    ]
    data["oncall"]["rotation"]["shift"] = "fortnightly"
    assert problems_of(tmp_path, yaml.safe_dump(data)) == [
        f'oncall.escalation[1].after: {DURATION} "soon"',
        "oncall.rotation.shift: expected 'weekly' or 'daily', got \"fortnightly\"",
        "sla.policies[0].first_reply: a business-time target needs a business_hours section "
        "(or list it under calendar_time)",
        "sla.warnings[0].notify: expected 'assignee' or 'lead', got \"boss\"",
    ]


def test_sla_targets_are_due_within_a_year(tmp_path):
    """A target of 1000 business days (ten years of 45-hour weeks) made every event's SLA
    planning walk ten years of days; a target is at most a year: of calendar time, or of the
    business hours' opening hours (366 days of 45-hour weeks: 2352 h)."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    default = data["sla"]["policies"][-1]
    default.update(first_reply="2352h", next_reply="2353h", resolution="1000d")
    data["sla"]["policies"][3].update(first_reply="366d", next_reply="367d")  # calendar time
    assert problems_of(tmp_path, yaml.safe_dump(data)) == [
        "sla.policies[3].next_reply: a target is at most a year (366d)",
        "sla.policies[4].next_reply: a business-time target is at most a year of "
        "business_hours (2352h)",
        "sla.policies[4].resolution: a business-time target is at most a year of "
        "business_hours (2352h)",
    ]


def test_a_rules_file_of_another_version_is_refused(tmp_path):
    """`version: 2` was read as version 1, silently."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace("\nversion: 1\n", "\nversion: 2\n")

    assert problems_of(tmp_path, text) == [
        "version: this deskbridge reads rules files of version 1, not 2"
    ]


def test_the_error_reads_as_check_config_prints_it_one_problem_or_more(tmp_path):
    """Its own message said "1 problem(s)", its problems not indented: what a traceback shows
    where the rules are loaded outside the command (gunicorn's create_app)."""
    one = write(tmp_path, "team:\n  lead_channel: '#leads'\nretention:\n  activity: 28d\n")
    with pytest.raises(ConfigError) as info:
        load_rules(one)
    assert str(info.value) == (
        f"{one}: 1 problem\n"
        '  retention.activity: at least 42d, got "28d": the weekly review, run on any day of the '
        "week after, compares its week with the four weeks before it"
    )
    two = write(tmp_path, "team:\n  lead_channel: '#leads'\nretention:\n  activity: 28d\nfoo: 1\n")
    with pytest.raises(ConfigError) as info:
        load_rules(two)
    assert str(info.value) == (
        f"{two}: 2 problems\n"
        '  retention.activity: at least 42d, got "28d": the weekly review, run on any day of the '
        "week after, compares its week with the four weeks before it\n"
        "  foo: unknown setting (check the spelling)"
    )
    result = CliRunner().invoke(main, ["check-config", str(two)])
    assert result.exit_code == 1
    assert result.stderr == str(info.value) + "\n" + EMPTY_SECTIONS_WARNINGS


def test_agents_are_found_by_each_id_as_a_scan_of_the_roster_finds_them(rules):
    def scan(field: str, value: str | None) -> object:
        return next((a for a in rules.agents if getattr(a, field) == value), None)

    ids = 0
    for agent in rules.agents:
        assert rules.agent_by_slack_id(agent.slack_id) is agent is scan("slack_id", agent.slack_id)
        for source, field in (("zendesk", "zendesk_id"), ("salesforce", "salesforce_id")):
            found = rules.agent_by_helpdesk_id(source, getattr(agent, field))
            if getattr(agent, field):
                ids += 1
                assert found is agent is scan(field, getattr(agent, field))
            else:
                assert found is None
    assert ids == 6  # the example roster: 5 Zendesk ids, 1 Salesforce id
    zendesk_id = rules.agents[0].zendesk_id
    assert rules.agent_by_slack_id("U0NOBODY") is None
    assert rules.agent_by_helpdesk_id("salesforce", zendesk_id) is None
    assert rules.agent_by_helpdesk_id("zendesk", "") is None
    # A copy with another roster finds its own agents.
    fewer = rules.model_copy(update={"agents": rules.agents[1:]})
    assert fewer.agent_by_helpdesk_id("zendesk", zendesk_id) is None
    assert fewer.agent_by_slack_id(rules.agents[1].slack_id) is rules.agents[1]
    assert rules.agent_by_helpdesk_id("zendesk", zendesk_id) is rules.agents[0]


def test_a_setting_of_the_wrong_kind_says_what_it_takes_without_repeating_the_value(tmp_path):
    """Was pydantic's "Input should be a valid integer, unable to parse string as an integer"."""
    text = (
        "team:\n  lead_channel: '#leads'\n"
        "coaching:\n  targets:\n"
        "    - {from_months: 0, responses: twenty-eight}\n"
        "    - {from_months: 3.5, responses: 32}\n"
        "three_responses:\n  enabled: maybe\n"
    )

    assert problems_of(tmp_path, text) == [
        "coaching.targets[0].responses: expected a whole number, got a string",
        "coaching.targets[1].from_months: expected a whole number, got a fraction",
        "three_responses.enabled: expected true or false, got a string",
    ]


def test_one_salesforce_user_listed_twice_in_its_two_forms_is_reported(tmp_path):
    # The roster finds a Salesforce user by the id's 15-character form: its 18-character form
    # on another agent is the same user, and the second agent would never be credited.
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data.pop("oncall")
    data["agents"] = [
        {"name": "Sofia Sf", "slack_id": "U02SOFIA01", "salesforce_id": "0055j00000F3x9ZAAR"},
        {"name": "Sam Sf", "slack_id": "U02SAMSF01", "salesforce_id": "0055j00000F3x9Z"},
        {"name": "Sue Sf", "slack_id": "U02SUESF01", "salesforce_id": "0055j00000F3x9z"},
    ]
    assert problems_of(tmp_path, yaml.safe_dump(data)) == [
        "agents[1].salesforce_id: 0055j00000F3x9Z is also agents[0]'s"
    ]


# 14 characters (one dropped); an email pasted as the id that is 15 characters long, which
# passed when the check was of the length alone.
@pytest.mark.parametrize("user", ["0055j00000F3x9", "ana@example.com"])
def test_a_salesforce_roster_id_that_is_not_one_is_warned_of(runner, tmp_path, user):
    path = write(
        tmp_path,
        "team:\n  name: X\n  lead_channel: '#leads'\n"
        "sla:\n  enabled: false\nrouting:\n  enabled: false\nagents:\n"
        "  - {name: A, slack_id: U01, salesforce_id: 0055j00000F3x9ZAAR}\n"
        f"  - {{name: B, slack_id: U02, salesforce_id: {user}}}\n",
    )

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"warning: agents[1].salesforce_id: {user} is not a Salesforce id (15 or 18 "
        "letters and digits): no reply or call of theirs is credited to them\n"
    )


def test_zendesk_ids_that_are_not_numbers_are_warned_of(runner, tmp_path):
    # A group's name, a field's title or an agent's email where Zendesk's API and events use
    # numbers: check-config said ok, and every routed or escalated ticket's assign action
    # was dead-lettered once live (the dry run showed nothing wrong).
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["departments"]["logistics"]["group"] = "Logistics"
    rules["routing"]["category_field_id"] = "problem_category"
    rules["risk"]["specialist_group"] = "Specialists"
    rules["agents"][0]["zendesk_id"] = "priya@acme.example"
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True))

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0, result.output
    group_help = "digits: the number ending the group's address in Admin Center → People → Groups"
    assert result.stderr.splitlines() == [
        "warning: agents[0].zendesk_id: priya@acme.example is not a Zendesk user id (digits, "
        "as in the user's profile address): no reply or call of theirs is credited to them",
        f"warning: departments.logistics.group: Logistics is not a Zendesk group id ({group_help}"
        "): a Zendesk ticket routed to Logistics is not moved to the group (its assign action "
        "is dead-lettered)",
        f"warning: risk.specialist_group: Specialists is not a Zendesk group id ({group_help}): "
        "an escalated Zendesk ticket is not moved to the group (its assign action is "
        "dead-lettered)",
        "warning: routing.category_field_id: problem_category is not a Zendesk ticket field id "
        "(digits: the field's ID in Admin Center → Objects and rules → Tickets → Fields): no "
        "ticket.custom_field_changed event names it",
    ]


def test_the_examples_zendesk_ids_are_numbers(runner):
    result = runner.invoke(main, ["check-config", str(EXAMPLE_CONFIG)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_a_department_renamed_to_an_unknown_name_is_named_as_such(tmp_path):
    # pydantic's "departments.returns.[key]: Input should be …" read as about a value under it.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["departments"]["returns"] = rules["departments"].pop("post_sales")

    assert problems_of(tmp_path, yaml.safe_dump(rules)) == [
        "departments.returns: unknown name: expected 'logistics', 'quality' or 'post_sales'"
    ]


def test_a_date_or_time_that_cannot_be_read_says_how_to_write_it(tmp_path):
    """Was pydantic's "Input should be a valid date or datetime, invalid character in year"
    for a date written day first."""
    text = (
        "team:\n  lead_channel: '#leads'\n"
        "business_hours:\n  week: {mon: ['09:00-17:00']}\n"
        "  closures: ['24.12.2026', '2026-12-32', 20261231]\n"
        "agents:\n  - {name: Mia, slack_id: U03MIASC01, started_on: next monday}\n"
        "oncall:\n  channel: '#oncall'\n"
        "  rotation: {members: [U03MIASC01], handoff: 'monday 08:00', start: 2026-01-05}\n"
        "  overrides:\n"
        "    - {person: U03MIASC01, from: '06.03.2026 22:00', to: '2026-03-09T08:00'}\n"
    )

    date = 'expected a date like "2026-03-02" (year-month-day)'
    assert problems_of(tmp_path, text) == [
        f"business_hours.closures[0]: {date}",
        f"business_hours.closures[1]: {date}: day value is outside expected range",
        f"business_hours.closures[2]: {date}",
        f"agents[0].started_on: {date}",
        'oncall.overrides[0].from: expected a local date and time like "2026-03-07T18:00"',
    ]


def test_a_date_that_does_not_exist_written_without_quotes_is_a_problem_not_a_traceback(
    runner, tmp_path
):
    # YAML reads 2026-02-30 unquoted as a date, and PyYAML raised a ValueError building it.
    path = write(
        tmp_path,
        "team:\n  lead_channel: '#leads'\n"
        "agents:\n  - {name: Noah, slack_id: U03NOAHF01, started_on: 2026-02-30}\n"
        "business_hours:\n  week: {mon: ['09:00-17:00']}\n  closures: [2026-12-24, 2026-13-01]\n"
        "three_respones: {enabled: true}\n",
    )

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    date = 'expected a date like "2026-03-02" (year-month-day)'
    assert problem_lines(result.stderr) == [
        f"agents[0].started_on: {date}: day value is outside expected range",
        f"business_hours.closures[1]: {date}: month value is outside expected range of 1-12",
        "three_respones: unknown setting (did you mean three_responses?)",
    ]


def test_times_and_ids_yaml_reads_as_numbers_are_asked_in_quotes(tmp_path):
    """Unquoted, YAML reads 10:00 as the number 600 (08:00 is text), a group id as a number
    and the country NO (Norway) as false: check-config said to write "a local time like
    "11:00"" to a lead who had, and "expected text, got a number" of an id that is one."""
    text = (
        "team:\n  lead_channel: '#leads'\n"
        "departments:\n  logistics: {name: Logistik, group: 360020000001, slack_channel: '#l'}\n"
        "business_hours:\n  week: {mon: ['09:00-17:00']}\n  holidays: {country: NO}\n"
        "oncall:\n  channel: '#oncall'\n"
        "  rotation: {members: [U03MIASC01], shift: daily, handoff: 10:00, start: 2026-01-05}\n"
        "agents:\n  - {name: Mia, slack_id: U03MIASC01}\n"
        "coaching:\n  pace_checks: [10:00, '13:00']\n  digest: {daily_at: 21:30}\n"
    )

    unquoted = " in quotes (without them YAML reads 11:00 as a number)"
    assert problems_of(tmp_path, text) == [
        "departments.logistics.group: expected text, got a number: write it in quotes",
        "business_hours.holidays.country: expected text, got true/false: write it in quotes",
        'oncall.rotation.handoff: expected a hand-off like "monday 09:00" (or "09:00" for daily '
        f"shifts){unquoted}",
        f'coaching.pace_checks[0]: expected a local time like "11:00"{unquoted}',
        f'coaching.digest.daily_at: expected a local time like "11:00"{unquoted}',
    ]


def test_the_weekly_review_time_is_asked_as_a_day_and_a_time_not_as_a_hand_off(tmp_path):
    """`weekly_on` in the team's language ("freitag") was told to write "a hand-off like
    "monday 09:00" (or "09:00" for daily shifts)": no hand-off, and a time alone is refused."""
    text = "team:\n  lead_channel: '#leads'\ncoaching:\n  digest: {weekly_on: 'freitag 15:00'}\n"
    day_and_time = (
        'expected a day and a time like "friday 16:00" (the day in English, or its first '
        "three letters)"
    )
    assert problems_of(tmp_path, text) == [f"coaching.digest.weekly_on: {day_and_time}"]
    assert problems_of(tmp_path, text.replace("freitag 15:00", "15:00")) == [
        f"coaching.digest.weekly_on: {day_and_time}"
    ]
    assert problems_of(tmp_path, text.replace("'freitag 15:00'", "15:00")) == [
        f"coaching.digest.weekly_on: {day_and_time} in quotes (without them YAML reads 11:00 "
        "as a number)"
    ]
    assert problems_of(tmp_path, text.replace("freitag", "fri")) == []


def test_opening_hours_on_another_clock_than_the_teams_are_warned_of(runner, tmp_path):
    # The example names its timezone twice, 2,000 lines apart: a team that changed
    # team.timezone alone had its opening hours on London's clock (an hour off from Berlin's)
    # while its reviews and hand-offs moved, and check-config said ok.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["team"]["timezone"] = "Europe/Berlin"
    assert warnings_of(runner, tmp_path, rules) == [
        "warning: business_hours.timezone: Europe/London is not team.timezone (Europe/Berlin): "
        "opening hours, holidays and SLA clocks run on Europe/London's clock, the reviews, "
        "nudges and on-call hand-offs on Europe/Berlin's (leave it out to use the team's)"
    ]

    del rules["business_hours"]["timezone"]  # the team's, as the warning says
    assert warnings_of(runner, tmp_path, rules) == []
    rules["business_hours"]["timezone"] = "Europe/Berlin"
    assert warnings_of(runner, tmp_path, rules) == []


def test_an_agent_with_no_helpdesk_id_is_warned_of(runner, tmp_path):
    # A Salesforce team that took the example's Zendesk ids out, or a starter added by Slack
    # id alone: counted and judged in the review every day, never credited with a reply, and
    # check-config said ok. A lead is not coached: one in Slack alone is no mistake.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    for agent in rules["agents"]:
        if agent["name"] in ("Tom Okafor", "Sam Whitaker"):
            del agent["zendesk_id"]
    assert warnings_of(runner, tmp_path, rules) == [
        "warning: agents[1]: Tom Okafor has neither zendesk_id nor salesforce_id: no reply or "
        "call of theirs is credited to them (the review shows them at 0 responses) and alerts "
        "about their tickets go to the lead channel"
    ]
    rules["agents"][1]["salesforce_id"] = "0055j00000F3x9RAAR"
    assert warnings_of(runner, tmp_path, rules) == []


def test_department_members_that_are_no_helpdesk_user_id_are_warned_of(runner, tmp_path):
    # An email where the member's user id belongs: check-config said ok, and the member's
    # replies never stopped the hand-off clock, so the lead heard of every routed ticket.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["departments"]["quality"]["members"] = [
        "felix.roth@nordlicht.example",
        "9013300114002",
        "0055j00000G4y1Q",
        "0055j00000G4y1QAAR",
    ]
    assert warnings_of(runner, tmp_path, rules) == [
        "warning: departments.quality.members[0]: felix.roth@nordlicht.example is neither a "
        "Zendesk user id (digits) nor a Salesforce user id (15 or 18 letters and digits): a "
        "reply of theirs does not count as Quality/Production acting on a hand-off",
    ]


def test_an_unknown_name_in_a_mapping_is_one_problem_whatever_is_under_it(tmp_path):
    # A department's setting indented one level too little is a key of `departments`: it was
    # listed twice, as an unknown name and as "expected a mapping of settings, got a string".
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["departments"]["handoff_within"] = "6h"
    rules["business_hours"]["week"]["Sat"] = "10:00-14:00"

    assert problems_of(tmp_path, yaml.safe_dump(rules, allow_unicode=True)) == [
        "business_hours.week.Sat: unknown name: expected 'mon', 'tue', 'wed', 'thu', 'fri', "
        "'sat' or 'sun': write it in lowercase, sat",
        "departments.handoff_within: unknown name: expected 'logistics', 'quality' or 'post_sales'",
    ]


def test_a_name_that_is_none_of_its_choices_says_what_was_written_and_its_case(tmp_path):
    # pydantic's "Input should be 'low', 'normal', 'high' or 'urgent'" did not quote the
    # value, and a name in capitals, as the Salesforce picklists and Zendesk's labels write
    # them ("Urgent", "Weekly"), read as an unknown word.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["sla"]["policies"][1]["priority"] = "Urgent"
    rules["risk"]["raise_priority_to"] = "critical"
    rules["oncall"]["rotation"]["shift"] = "Weekly"
    rules["oncall"]["page_when"] = ["escalated", 3]
    rules["salesforce"]["write_priorities"] = {"Urgent": "High"}

    levels = "'low', 'normal', 'high' or 'urgent'"
    assert problems_of(tmp_path, yaml.safe_dump(rules, allow_unicode=True)) == [
        "oncall.page_when[1]: expected 'urgent_created', 'escalated' or 'sla_breach_urgent', "
        "got a number",
        "oncall.rotation.shift: expected 'weekly' or 'daily', got \"Weekly\": write it in "
        "lowercase, weekly",
        f'risk.raise_priority_to: expected {levels}, got "critical"',
        f"salesforce.write_priorities.Urgent: unknown name: expected {levels}: write it in "
        "lowercase, urgent",
        f'sla.policies[1].priority: expected {levels}, got "Urgent": write it in lowercase, urgent',
    ]


def test_an_sla_policy_that_never_applies_is_reported_with_the_other_problems(tmp_path):
    # The first matching policy wins: a catch-all "default" moved to the top (or an urgent
    # policy above an urgent VIP one) left the policies after it unused, and check-config
    # said ok.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    policies = rules["sla"]["policies"]
    policies.insert(0, policies.pop())  # default first
    assert problems_of(tmp_path, yaml.safe_dump(rules, allow_unicode=True)) == [
        'sla.policies: policy "vip" never applies: "default" before it matches every ticket it '
        "would (the first match wins: list the narrower one first)"
    ]

    # vip, urgent, high, social, default: an urgent key account's policy before "urgent"
    # applies (not every key account is a VIP); a Twitter key account's after "social" does not.
    policies.append(policies.pop(0))
    policies.insert(1, {"name": "urgent-key", "priority": "urgent", "tags": ["key_account"]})
    policies.insert(5, {"name": "social-key", "channel": "Twitter", "tags": ["key_account"]})
    policies[3]["first_reply"] = "soon"
    assert problems_of(tmp_path, yaml.safe_dump(rules, allow_unicode=True)) == [
        'sla.policies: policy "social-key" never applies: "social" before it matches every '
        "ticket it would (the first match wins: list the narrower one first)",
        f'sla.policies[3].first_reply: {DURATION} "soon"',
    ]


def test_tags_no_zendesk_ticket_carries_are_warned_of(runner, tmp_path):
    # Zendesk keeps tags in lowercase: a VIP policy or signal tagged "VIP" never matched (the
    # SLA and risk rules compare tags as written), and check-config said ok.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["sla"]["policies"][0]["tags"] = ["VIP", "vip"]
    rules["risk"]["signals"]["vip"]["tags"] = ["vip", "key account"]
    rules["three_responses"]["call_logged_tag"] = "Call_Logged"
    rules["routing"]["categories"]["delivery_delay"]["tags"].append("Late_Delivery")
    assert warnings_of(runner, tmp_path, rules) == [
        'warning: risk.signals.vip.tags[1]: "key account" never matches: Zendesk tags are '
        "lowercase, without spaces",
        'warning: sla.policies[0].tags[0]: "VIP" never matches: Zendesk tags are lowercase, '
        'without spaces ("vip")',
        'warning: three_responses.call_logged_tag: "Call_Logged" never matches: Zendesk tags '
        'are lowercase, without spaces ("call_logged")',
    ]


def test_overlapping_opening_hours_are_warned_of_at_their_path(runner, tmp_path):
    """Merged without a word (the calendar counts the time in both once): harmless, but two
    spans where one was meant (13:00 typed 19:00, a shift pasted twice) went unseen. Hours that
    only touch (13:00 to 13:00) do not overlap; an agent's own week is read the same way."""
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["business_hours"]["week"]["mon"] = ["12:00-18:00", "09:00-13:00"]
    rules["business_hours"]["week"]["tue"] = ["09:00-13:00", "13:00-18:00"]
    rules["business_hours"]["week"]["wed"] = ["09:00-18:00", "10:00-11:00", "17:00-24:00"]
    rules["business_hours"]["week"]["sat"] = ["10:00-14:00", "10:00-14:00"]
    rules["agents"][2]["works"] = {"mon": ["09:00-19:00", "18:00-20:00"], "tue": ["09:00-17:00"]}
    assert warnings_of(runner, tmp_path, rules) == [
        "warning: agents[2].works.mon[1]: 18:00-20:00 overlaps 09:00-19:00 (mon[0]): the time "
        "in both is counted once, as one span; write them as one",
        *(
            f"warning: business_hours.week.{day}[{later}]: {hours} overlaps {other} "
            f"({day}[{at}]): the time in both is counted once, as one span; write them as one"
            for day, later, hours, other, at in (
                # In the file's order (safe_dump writes the days sorted).
                ("mon", 1, "09:00-13:00", "12:00-18:00", 0),
                ("sat", 1, "10:00-14:00", "10:00-14:00", 0),
                ("wed", 1, "10:00-11:00", "09:00-18:00", 0),
                ("wed", 2, "17:00-24:00", "09:00-18:00", 0),
            )
        ),
    ]


def test_overlapping_opening_hours_are_warned_of_beside_the_file_s_mistakes(tmp_path):
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["business_hours"]["week"]["fri"] = ["09:00-18:00", "08:00-10:00"]
    rules["sla"]["enabled"] = "sometimes"
    with pytest.raises(ConfigError) as caught:
        load_rules(write(tmp_path, yaml.safe_dump(rules)))
    assert caught.value.warnings == [
        "business_hours.week.fri[1]: 08:00-10:00 overlaps 09:00-18:00 (fri[0]): the time in "
        "both is counted once, as one span; write them as one"
    ]


def test_two_coaching_targets_from_the_same_tenure_are_reported(tmp_path):
    # A tier added to change a target, the old one left in: the one listed last applied.
    text = (
        "team:\n  lead_channel: '#leads'\n"
        "coaching:\n  targets:\n"
        "    - {from_months: 0, responses: 20}\n"
        "    - {from_months: 3, responses: 28}\n"
        "    - {from_months: 6, responses: many}\n"
        "    - {from_months: 3, responses: 30}\n"
    )

    assert problems_of(tmp_path, text) == [
        "coaching.targets: two targets from 3 months (28 and 30 responses): keep one",
        "coaching.targets[2].responses: expected a whole number, got a string",
    ]


def test_warnings_are_listed_with_the_problems_in_one_run(runner, tmp_path):
    # A file with a mistake was said to have only its mistakes: the user fixed them, ran
    # check-config again, and only then heard of its warnings. They are the warnings of the
    # settings that validated, beside the entries with mistakes (agents[1] beside agents[0]).
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["sla"]["policies"][1]["first_reply"] = "soon"
    rules["three_responses"]["call_required_tag"] = "Call Required"
    del rules["agents"][0]["slack_id"]
    rules["agents"][1]["zendesk_id"] = "tom@acme.example"
    del rules["departments"]["logistics"]["slack_channel"]
    rules["departments"]["quality"]["group"] = "Quality"
    path = write(tmp_path, yaml.safe_dump(rules, allow_unicode=True))

    result = runner.invoke(main, ["check-config", str(path)])

    group_help = "digits: the number ending the group's address in Admin Center → People → Groups"
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"{path}: 3 problems",
        "  agents[0].slack_id: required setting is missing",
        "  departments.logistics.slack_channel: required setting is missing",
        f'  sla.policies[1].first_reply: {DURATION} "soon"',
        "warning: agents[1].zendesk_id: tom@acme.example is not a Zendesk user id (digits, as "
        "in the user's profile address): no reply or call of theirs is credited to them",
        f"warning: departments.quality.group: Quality is not a Zendesk group id ({group_help}): "
        "a Zendesk ticket routed to Quality/Production is not moved to the group (its assign "
        "action is dead-lettered)",
        'warning: three_responses.call_required_tag: "Call Required" never matches: Zendesk '
        "tags are lowercase, without spaces",
    ]


def test_no_warning_is_guessed_from_a_setting_with_a_mistake(tmp_path):
    # Policies and categories with a mistake are not "no policies" nor "no categories": the
    # warnings read only the settings that validated, as the checks across sections do.
    text = (
        "team:\n  lead_channel: '#leads'\n"
        "three_responses:\n  enabled: maybe\n  call_logged_tag: Call Logged\n"
        "sla:\n  policies:\n    - {name: all, first_reply: soon, tags: [VIP]}\n"
        "routing:\n  categories:\n"
        "    late: {department: logistics, label: late, phrases: [late], cues: 3}\n"
    )

    with pytest.raises(ConfigError) as info:
        load_rules(write(tmp_path, text))

    assert info.value.problems == [
        "three_responses.enabled: expected true or false, got a string",
        f'sla.policies[0].first_reply: {DURATION} "soon"',
        "routing.categories.late.cues: expected a list, got a number; for one item, write it in "
        'brackets: ["3"]',  # cues are phrases: [3] would be refused as "expected text"
    ]
    assert info.value.warnings == []


def test_a_slack_channel_written_with_a_space_is_a_problem_with_the_others(tmp_path):
    """Slack's channel names have no spaces: "#resolution leads" is never found, so every alert
    to it was dead-lettered (channel_not_found) after check-config had said ok. Each channel
    setting is checked, in the same run as the file's other mistakes; a name with or without
    "#", and a channel id, are taken."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["team"]["lead_channel"] = "#resolution leads"
    data["departments"]["quality"]["slack_channel"] = "dept quality"
    data["departments"]["logistics"]["slack_channel"] = "dept-logistics"  # no "#": taken
    data["risk"]["specialist_channel"] = "C0123ABCD"  # an id: taken
    data["oncall"]["channel"] = "#"
    data["three_responses"]["treshold"] = data["three_responses"].pop("threshold")
    path = tmp_path / "team.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    with pytest.raises(ConfigError) as raised:
        load_rules(path)

    expected = (
        'expected a Slack channel like "#resolution-leads" (its name has no spaces; Slack '
        'writes them as "-"), or its id, got "{}"'
    )
    assert raised.value.problems == [
        "team.lead_channel: " + expected.format("#resolution leads"),
        "three_responses.treshold: unknown setting (did you mean threshold?)",
        "departments.quality.slack_channel: " + expected.format("dept quality"),
        "oncall.channel: " + expected.format("#"),
    ]


def test_an_sla_warning_written_as_a_percentage_is_told_the_fraction(tmp_path):
    """The README says "warnings at 75%": written so, or as 75, the problem says to write 0.75."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["sla"]["warnings"] = [
        {"at": "75%", "notify": "assignee"},
        {"at": 90, "notify": "lead"},
        {"at": 0.5, "notify": "lead"},
        {"at": True, "notify": "lead"},
    ]
    assert problems_of(tmp_path, yaml.safe_dump(data)) == [
        "sla.warnings[0].at: expected the fraction of the target used, between 0 and 1 "
        "(0.75 for 75%), got '75%'",
        "sla.warnings[1].at: expected the fraction of the target used, between 0 and 1 "
        "(0.75 for 75%), got 90",
        "sla.warnings[3].at: expected the fraction of the target used, between 0 and 1 "
        "(0.75 for 75%), got true/false",
    ]


def test_a_key_set_twice_is_a_problem_at_its_path_with_both_lines(tmp_path):
    """YAML keeps the last of a key set twice without a word: a second `three_responses:`
    pasted at the end of the file dropped the first section, an agent's setting written twice
    its first value. Each is listed with the file's other problems, in the file's order."""
    text = EXAMPLE_CONFIG.read_text()
    lines = text.count("\n")
    text = text.replace(
        "  threshold: 3\n  call_required_tag", "  threshold: 3\n  threshold: 4\n  call_required_tag"
    )
    text = text.replace("lead_channel:", "lead_channel: 5\n  lead_channel:")
    oncall = text.splitlines().index("oncall:") + 1
    text += "three_responses:\n  enabled: false\noncall: {channel: '#a', channel: '#b'}\n"
    assert problems_of(tmp_path, text) == [
        "team.lead_channel: set twice, on lines 10 and 11: only the one on line 11 would be "
        "read; write it once",
        # A key set twice is placed at its first line, what is under it too.
        f"three_responses: set twice, on lines 16 and {lines + 3}: only the one on line "
        f"{lines + 3} would be read; write it once",
        "three_responses.threshold: set twice, on lines 18 and 19: only the one on line 19 "
        "would be read; write it once",
        f"oncall: set twice, on lines {oncall} and {lines + 5}: only the one on line "
        f"{lines + 5} would be read; write it once",
        "oncall.rotation: required setting is missing",
        f"oncall.channel: set twice, on lines {lines + 5} and {lines + 5}: only the one on line "
        f"{lines + 5} would be read; write it once",
    ]


def test_keys_yaml_reads_as_one_are_a_key_set_twice(tmp_path):
    """YAML 1.1 reads `1` and `0x1` as one number, `on`, `yes` and `true` as one true (and
    `off`, `no`, `false` as one false), so the loader kept the last of each without a word,
    as it does a key written twice the same way. A quoted "1" is another key: no problem."""
    text = EXAMPLE_CONFIG.read_text().replace(
        "  priorities: {Critical: urgent,", '  priorities: {1: urgent, 0x1: high, "1": low,'
    )
    text = text.replace(
        "  origins: {Email: email,", "  origins: {on: email, Yes: web, off: x, no: y,"
    )
    line = text.splitlines().index("salesforce:") + 8
    problems = problems_of(tmp_path, text)
    assert [p for p in problems if "set twice" in p] == [
        f"salesforce.{mapping}.{key}: set twice, on lines {at} and {at} (as "
        f'"{first}" and "{key}", one key to YAML): only the one on line {at} would be read; '
        "write it once"
        for mapping, at, first, key in (
            ("priorities", line, "1", "0x1"),
            ("origins", line + 2, "on", "Yes"),
            ("origins", line + 2, "off", "no"),
        )
    ]


def test_a_merge_key_overridden_is_no_key_set_twice(tmp_path):
    text = EXAMPLE_CONFIG.read_text().replace(
        "retention:\n", "defaults: &keep {events: 90d, audit: 365d}\nretention:\n  <<: *keep\n"
    )
    text = text.replace("defaults: &keep", "x-defaults: &keep")
    with pytest.raises(ConfigError) as caught:
        load_rules(write(tmp_path, text))
    assert caught.value.problems == ["x-defaults: unknown setting (check the spelling)"]


def test_one_value_where_a_list_is_expected_is_told_the_brackets(tmp_path):
    """`page_when: escalated`, `closures: 2026-12-24`: YAML reads one value, not a list of one,
    and pydantic's "Input should be a valid list" did not say how to write it."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["oncall"]["page_when"] = "escalated"
    data["business_hours"]["closures"] = "CLOSURES"
    data["sla"]["warnings"] = {"at": 0.75, "notify": "assignee"}
    data["salesforce"]["new_statuses"] = "x" * 61
    text = yaml.safe_dump(data).replace("CLOSURES", "2026-12-24")
    assert problems_of(tmp_path, text) == [
        "business_hours.closures: expected a list, got a date; for one item, write it in "
        "brackets: [2026-12-24]",
        "oncall.page_when: expected a list, got a string; for one item, write it in brackets: "
        '["escalated"]',
        "salesforce.new_statuses: expected a list, got a string",
        "sla.warnings: expected a list, got a mapping: write each item on a line of its own, "
        'starting "- "',
    ]


def test_one_number_where_a_list_is_expected_is_told_the_brackets_and_the_quotes(tmp_path):
    """`organizations: 360001234567` was told to write [360001234567], which the next run
    refused as "expected text, got a number"; `pace_checks: 11:00`, which YAML reads as 660
    (base 60), was told to write [660]. The hint's own value now passes."""
    vip = "    - name: vip\n      tags: [vip]\n"
    pace = 'pace_checks: ["11:00", "13:00", "15:30"]'
    text = EXAMPLE_CONFIG.read_text()
    assert vip in text and pace in text
    text = text.replace(vip, vip + "      organizations: 360001234567\n")
    assert problems_of(tmp_path, text.replace(pace, "pace_checks: 11:00")) == [
        "sla.policies[0].organizations: expected a list, got a number; for one item, write it "
        'in brackets: ["360001234567"]',
        'coaching.pace_checks: expected a list of local times like ["11:00", "15:30"] in quotes '
        "(without them YAML reads 11:00 as a number)",
    ]
    fixed = text.replace("organizations: 360001234567", 'organizations: ["360001234567"]')
    rules = load_rules(write(tmp_path, fixed.replace(pace, 'pace_checks: ["11:00"]')))
    assert rules.sla.policies[0].organizations == ["360001234567"]
    assert rules.coaching.pace_checks == [time(11, 0)]


def test_an_sla_warning_at_written_in_quotes_is_read_as_the_number(tmp_path):
    """`at: "0.75"` was read as 0.75, as a quoted number is in the other settings; the
    percentage's message refused it, saying it must be between 0 and 1."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["sla"]["warnings"] = [{"at": "0.75", "notify": "assignee"}]
    assert load_rules(write(tmp_path, yaml.safe_dump(data))).sla.warnings[0].at == 0.75
    data["sla"]["warnings"].append({"at": "75", "notify": "lead"})
    assert problems_of(tmp_path, yaml.safe_dump(data)) == [
        "sla.warnings[1].at: expected the fraction of the target used, between 0 and 1 "
        "(0.75 for 75%), got '75'",
    ]


def test_a_key_set_twice_under_an_anchor_is_named_where_it_is_written(tmp_path):
    """A mapping with an anchor, reached again by an alias later in the file: its key set
    twice is named at the anchor's path, where the two lines are, not at the alias's."""
    text = EXAMPLE_CONFIG.read_text().replace(
        "  logistics:\n    name: Logistics\n",
        "  logistics: &logistics\n    name: Logistics\n    name: Logistics\n",
    )
    start = text.index("  post_sales:\n")
    end = text.index("\n\n", start)
    text = text[:start] + "  post_sales: *logistics" + text[end:]
    line = text.splitlines().index("    name: Logistics") + 1
    assert problems_of(tmp_path, text)[0] == (
        f"departments.logistics.name: set twice, on lines {line} and {line + 1}: only the one "
        f"on line {line + 1} would be read; write it once"
    )


def test_the_fast_yaml_loader_reads_what_the_safe_loader_reads():
    """libyaml's loader with strings taken from their nodes (config/rules.py) gives the data
    PyYAML's safe loader gives, aliases included (the same object where the file repeats
    one), for the example and for a file with every kind of scalar, merge keys and aliases."""
    from deskbridge.config.rules import _FastRulesLoader, _load_yaml

    if _FastRulesLoader is None:
        pytest.skip("PyYAML without libyaml")
    text = """
base: &base
  name: "quoted"
  plain: plain words
  literal: |
    two
    lines
  number: 12
  float: 1.5
  yes_word: yes
  none: ~
  day: 2026-03-02
  explicit: !!str 12
tagged: &name shared text
copy: *name
merged:
  <<: *base
  plain: overridden
list: [a, *name, 'single', 1, true]
"""
    for source in (text, EXAMPLE_CONFIG.read_text()):
        fast, twice = _load_yaml(source)
        assert (fast, twice) == (yaml.safe_load(source), [])
    fast, _ = _load_yaml(text)
    assert fast["tagged"] is fast["copy"] is fast["list"][1]
    assert fast["merged"]["plain"] == "overridden" and fast["merged"]["name"] == "quoted"
    assert fast["base"]["explicit"] == "12" and fast["base"]["yes_word"] is True


def test_no_model_field_has_a_builtin_default_factory():
    """pydantic asks each default factory for its signature while building a model, and a
    builtin's (list, dict) is parsed from text: 700,000 instructions a field at every start.
    The models use workflows.model's new_list and new_dict, which make the same values."""
    import inspect

    from deskbridge.config import rules
    from deskbridge.workflows import model

    builtins = {list, dict, set, tuple, frozenset}
    checked = 0
    for module in (rules, model):
        for cls in vars(module).values():
            fields = getattr(cls, "__pydantic_fields__", None)
            if not inspect.isclass(cls) or cls.__module__ != module.__name__ or not fields:
                continue
            for name, field in fields.items():
                assert field.default_factory not in builtins, f"{cls.__name__}.{name}"
                checked += field.default_factory is not None
    assert checked >= 60
    assert model.new_list() == [] and model.new_list() is not model.new_list()
    assert model.new_dict() == {} and model.new_dict() is not model.new_dict()


def test_a_pace_check_outside_every_coached_agents_hours_is_warned_of(runner, tmp_path):
    # 23:00 written for 13:00: the check found no agent working, every day, and check-config
    # said ok. The example's hours are 09:00-18:00 on weekdays; a roster `works` counts too.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["coaching"]["pace_checks"] = ["11:00", "23:00", "18:00", "08:59"]
    never = (
        "is outside every coached agent's working hours on every day (business_hours.week, "
        "the roster's works): this check never nudges anyone"
    )
    assert warnings_of(runner, tmp_path, rules) == [
        f"warning: coaching.pace_checks[1]: 23:00 {never}",
        f"warning: coaching.pace_checks[2]: 18:00 {never}",
        f"warning: coaching.pace_checks[3]: 08:59 {never}",
    ]

    rules["agents"][0]["works"] = {"sat": ["20:00-24:00"]}  # a coached agent works at 23:00
    assert warnings_of(runner, tmp_path, rules) == [
        f"warning: coaching.pace_checks[2]: 18:00 {never}",
        f"warning: coaching.pace_checks[3]: 08:59 {never}",
    ]

    rules["coaching"]["nudges"]["pace"] = False  # no pace nudges: nothing to warn of
    assert warnings_of(runner, tmp_path, rules) == []


def drop_zendesk(rules: dict) -> None:
    """The example's rules as a team on Salesforce alone writes them: no Zendesk group or id."""
    for department in rules["departments"].values():
        department.pop("group", None)
    rules["risk"].pop("specialist_group", None)
    for n, agent in enumerate(rules["agents"]):
        agent.pop("zendesk_id", None)
        agent.setdefault("salesforce_id", f"0055j00000F3x{n % 10}QAAR")
    name_key_accounts(rules)


def drop_salesforce(rules: dict) -> None:
    """The example's rules as a team on Zendesk alone writes them: no Salesforce queue or id."""
    for department in rules["departments"].values():
        department.pop("salesforce_queue", None)
    rules["risk"].pop("specialist_queue", None)
    for agent in rules["agents"]:
        agent.pop("salesforce_id", None)


def warned_paths(stderr: str) -> list[str]:
    """The paths check-config's warnings name, in order."""
    return [line.partition(": ")[2].partition(":")[0] for line in stderr.splitlines()]


def test_a_salesforce_only_team_is_not_warned_of_zendesk_tags_and_ids(runner, tmp_path):
    # Tags and Zendesk ids are Zendesk's: a team whose rules name Salesforce alone was told
    # "VIP" never matches a Zendesk tag and a category field id is no Zendesk id.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["risk"]["signals"]["vip"]["tags"] = ["VIP"]
    rules["routing"]["category_field_id"] = "Problem_Category__c"
    zendesk_warnings = warnings_of(runner, tmp_path, rules)
    assert len(zendesk_warnings) == 2, zendesk_warnings
    assert zendesk_warnings[0].startswith('warning: risk.signals.vip.tags[0]: "VIP" never matches')
    assert zendesk_warnings[1].startswith("warning: routing.category_field_id: Problem_Category__c")

    drop_zendesk(rules)
    for n, department in enumerate(rules["departments"].values()):
        department["members"] = [f"0055j00000G4y{n}QAAR"]
    assert warnings_of(runner, tmp_path, rules) == []


def test_a_team_on_one_helpdesk_is_warned_of_members_given_as_the_other_ones_ids(runner, tmp_path):
    # The example's departments with their Zendesk groups swapped for Salesforce queues alone:
    # check-config said ok while the members kept the example's Zendesk ids, which no case's
    # reply carries, so every routed case's hand-off deadline told the lead.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    drop_zendesk(rules)
    rules["departments"]["quality"]["members"] = ["9013300114001", "0055j00000G4y1Q"]
    for key in ("logistics", "post_sales"):
        rules["departments"][key]["members"] = []
    assert warnings_of(runner, tmp_path, rules) == [
        "warning: departments.quality.members[0]: 9013300114001 is a Zendesk user id, and "
        'Salesforce alone is in use (check-config\'s "helpdesks in use" line): a reply of theirs '
        "does not count as Quality/Production acting on a hand-off on a case (a Salesforce user "
        "id is 15 or 18 letters and digits, starting 005: Setup → Users, in the user's address)"
    ]

    # And the other way round: a team on Zendesk alone with a Salesforce user id.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    drop_salesforce(rules)
    rules["departments"]["logistics"]["members"] = ["9013300113001", "0055j00000G4y1QAAR"]
    assert warnings_of(runner, tmp_path, rules) == [
        "warning: departments.logistics.members[1]: 0055j00000G4y1QAAR is a Salesforce user "
        'id, and Zendesk alone is in use (check-config\'s "helpdesks in use" line): a reply of '
        "theirs does not count as Logistics acting on a hand-off on a ticket (a Zendesk user id "
        "is digits, the number in the user's address in Zendesk)"
    ]


def test_a_zendesk_id_as_long_as_a_salesforce_one_is_still_a_zendesk_id(runner, tmp_path):
    # 15 or 18 digits also fit "15 or 18 letters and digits": a team on Salesforce alone was
    # not told of such a Zendesk member or roster id. No Salesforce id is all digits: its
    # 18-character form ends in letters, and a user's starts 005 followed by letters.
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    drop_zendesk(rules)
    rules["departments"]["quality"]["members"] = ["901330011400123", "901330011400123456"]
    for key in ("logistics", "post_sales"):
        rules["departments"][key]["members"] = ["0055j00000G4y1Q"]
    rules["agents"][1]["salesforce_id"] = "901330011201945"

    warned = warnings_of(runner, tmp_path, rules)
    assert warned_paths("\n".join(warned)) == [
        "agents[1].salesforce_id",
        "departments.quality.members[0]",
        "departments.quality.members[1]",
    ]
    assert warned[0] == (
        "warning: agents[1].salesforce_id: 901330011201945 is all digits, a Zendesk user id, "
        "not a Salesforce id (15 or 18 letters and digits, starting 005 for a user): no reply "
        "or call of theirs is credited to them"
    )


def test_a_member_of_the_other_helpdesk_is_no_mistake_when_the_environment_names_it(
    runner, tmp_path, monkeypatch
):
    # The member check judged "Salesforce alone" from the rules file while start-up and the
    # other checks judge by the rules and the environment: a team whose rules name Salesforce
    # alone but whose environment sets Zendesk's variables uses both, so a Zendesk agent in a
    # department is right, and check-config told it to replace them.
    for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    rules = salesforce_only_rules()
    rules["departments"]["quality"]["members"] = ["9013300114001"]
    path = write(tmp_path, yaml.safe_dump(rules, allow_unicode=True))

    def warned_with(env: dict[str, str]) -> list[str]:
        result = runner.invoke(main, ["check-config", str(path)], env=env)
        assert result.exit_code == 0, result.output
        return warned_paths(result.stderr)

    # On Salesforce alone, the VIP tag picks out no case either.
    assert warned_with({}) == ["departments.quality.members[0]", "risk.signals.vip.tags"]
    zendesk = {"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@acme.example"}
    assert warned_with({**zendesk, "ZENDESK_API_TOKEN": "token"}) == [
        "risk.signals.vip.tags[0]",
        "routing.category_field_id",
    ]


def salesforce_only_rules() -> dict:
    """The example with a "VIP" tag and a custom category field, its rules naming Salesforce
    alone (no Zendesk group, specialist group or roster id)."""
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["routing"]["category_field_id"] = "Problem_Category__c"
    drop_zendesk(rules)
    rules["risk"]["signals"]["vip"]["tags"] = ["VIP"]  # kept for the Zendesk tickets
    for n, department in enumerate(rules["departments"].values()):
        department["members"] = [f"0055j00000G4y{n}QAAR"]
    return rules


def test_check_config_judges_the_helpdesks_in_use_as_start_up_does_and_says_why(
    runner, tmp_path, monkeypatch
):
    # check-config judged "Salesforce alone" from the rules file, start-up from the rules and
    # the environment: a team whose environment sets Zendesk's variables had Zendesk's webhooks
    # and write-back warned of at start-up but its Zendesk tags never checked, and nothing
    # said which helpdesks either had judged in use.
    for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    path = write(tmp_path, yaml.safe_dump(salesforce_only_rules(), allow_unicode=True))

    alone = runner.invoke(main, ["check-config", str(path)])
    assert (alone.exit_code, warned_paths(alone.stderr)) == (0, ["risk.signals.vip.tags"])
    assert alone.stdout.splitlines()[1:] == [
        "helpdesks in use: salesforce (named by the rules file)",
        SALESFORCE_STATUSES,
    ]

    env = {
        "ZENDESK_SUBDOMAIN": "acme",
        "ZENDESK_EMAIL": "bot@acme.example",
        "ZENDESK_API_TOKEN": "token",
    }
    both = runner.invoke(main, ["check-config", str(path)], env=env)
    assert both.exit_code == 0, both.output
    assert both.stdout.splitlines()[1:] == [
        "helpdesks in use: zendesk, salesforce (zendesk named by the environment; salesforce "
        "named by the rules file)",
        SALESFORCE_STATUSES,
    ]
    assert warned_paths(both.stderr) == [
        "risk.signals.vip.tags[0]",
        "routing.category_field_id",
    ]


def test_check_config_on_a_zendesk_only_team_says_nothing_of_salesforce_statuses(runner, tmp_path):
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    drop_salesforce(rules)
    path = write(tmp_path, yaml.safe_dump(rules, allow_unicode=True))

    result = runner.invoke(main, ["check-config", str(path)], env={"SALESFORCE_ORG_ID": ""})

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == ["helpdesks in use: zendesk (named by the rules file)"]


def test_check_config_warnings_follow_the_files_order(runner, tmp_path):
    # They came grouped by kind (the agents' first, though the roster is near the end), so a
    # user working down the file met them out of turn.
    text = EXAMPLE_CONFIG.read_text()
    text = text.replace('category_field_id: "360012345678"', "category_field_id: Problem__c")
    text = text.replace('specialist_group: "360010000009"', "specialist_group: Specialists")
    text = text.replace('salesforce_id: "0055j00000F3x9QAAR"', "salesforce_id: priya@example.com")
    text = text.replace(
        "page_when: [urgent_created, escalated, sla_breach_urgent]", "page_when: []"
    )
    path = write(tmp_path, text)

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 0, result.output
    assert warned_paths(result.stderr) == [
        "routing.category_field_id",
        "risk.specialist_group",
        "agents[0].salesforce_id",
        "oncall.page_when",
    ]


def test_a_warning_is_placed_at_the_most_of_its_path_the_file_writes(tmp_path):
    # A default's warning (a section the file leaves out) follows those the file places.
    path = write(tmp_path, "sla:\n  enabled: true\nagents:\n  - {name: A}\n  - {name: B}\n")
    warnings = ["routing: default", "agents[1].works.mon[0]: b", "sla: s", "agents[0]: a"]

    assert sort_as_written(warnings, path) == [
        "sla: s",
        "agents[0]: a",
        "agents[1].works.mon[0]: b",
        "routing: default",
    ]
    assert sort_as_written(warnings, tmp_path / "gone.yaml") == warnings


def test_warnings_of_a_utf16_rules_file_follow_its_order_too(tmp_path):
    # check-config reads such a file (decode_file_text); placing its warnings read it as
    # UTF-8, failed, and left them grouped by kind.
    path = tmp_path / "rules.yaml"
    path.write_text("sla:\n  enabled: true\nagents:\n  - {name: A}\n", encoding="utf-16")
    warnings = ["agents[0]: a", "sla: s"]

    assert sort_as_written(warnings, path) == ["sla: s", "agents[0]: a"]


def test_check_config_lists_the_problems_in_the_files_order(runner, tmp_path):
    # They came by kind: a key set twice (line 6) first, then each setting of the wrong value
    # in the model's order (line 4, then line 14), then the checks across sections (line 10),
    # so a user working down the file met line 6's before line 4's.
    path = write(
        tmp_path,
        "team:\n  lead_channel: '#leads'\n"
        "three_responses:\n  threshold: 0\n"
        "departments:\n  logistics: {name: Logistics, group: '1', slack_channel: '#logistics',"
        " handoff_within: 4h, handoff_within: 5h}\n"
        "routing:\n  categories:\n"
        "    late: {department: logistics, label: late, phrases: [late]}\n"
        "    refund: {department: post_sales, label: refund, phrases: [refund]}\n"
        "sla:\n  enabled: false\n"
        "retention:\n  events: 0d\n",
    )

    result = runner.invoke(main, ["check-config", str(path)])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}: 4 problems",
        "  three_responses.threshold: Input should be greater than or equal to 1, got 0",
        "  departments.logistics.handoff_within: set twice, on lines 6 and 6: only the one on "
        "line 6 would be read; write it once",
        '  routing.categories.refund.department: "post_sales" is not defined under departments',
        '  retention.events: expected a duration of at least 7d, like "90d" (whole numbers of days '
        'd, hours h, minutes m, seconds s: "1d 12h"), got "0d"',
    ]


def test_a_limit_broken_is_said_with_the_value_that_broke_it(tmp_path):
    # pydantic's "Input should be greater than 0" did not say what the file had: with a
    # section's worth of numbers, the user looked for the one meant. Text is said by its
    # length, not repeated.
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["routing"]["ask_when_close"] = 1.5
    data["routing"]["model"] = ""
    data["risk"]["threshold"] = -2
    data["coaching"]["unnecessary_nudge_after"] = -1

    assert problems_of(tmp_path, yaml.safe_dump(data, sort_keys=False)) == [
        "routing.ask_when_close: Input should be less than or equal to 1, got 1.5",
        "routing.model: String should have at least 1 character, got 0 characters",
        "risk.threshold: Input should be greater than 0, got -2",
        "coaching.unnecessary_nudge_after: Input should be greater than or equal to 0, got -1",
    ]


def test_a_secrets_limit_would_not_repeat_its_value():
    from deskbridge.cli import _is_secret

    # The environment's tokens and passwords (by variable, as pydantic-settings names them,
    # or by field); a variable that is no setting is kept back too.
    assert [
        _is_secret((name,))
        for name in (
            "SLACK_BOT_TOKEN",
            "salesforce_password",
            "PAGERDUTY_ROUTING_KEY",
            "DESKBRIDGE_CONNECTION_LIMIT",
            "max_body_bytes",
            "NOT_A_SETTING",
        )
    ] == [True, True, True, False, False, True]


def test_a_policys_tags_written_empty_is_warned_of(runner, tmp_path):
    """`tags: []` left as a placeholder is no tag condition: the policy applies to every
    ticket its other conditions allow (organizations: [] is refused; tags stay a warning, as
    a file that loaded before must still start)."""
    rules = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    rules["sla"]["policies"].insert(0, {"name": "soon vip", "priority": "low", "tags": []})

    assert warnings_of(runner, tmp_path, rules) == [
        'warning: sla.policies[0].tags: an empty list is no tag condition: the "soon vip" '
        "policy applies to every ticket its other conditions allow; list a tag, or remove tags"
    ]
