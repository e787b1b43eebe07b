"""The `oncall` section of the rules file: check-config reports every problem with its path."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.rules import ConfigError, load_rules

# What a Slack user id that is a name or a handle is told: where the id is found.
MEMBER_ID = " (a member ID: in Slack, the person's profile → ⋮ → Copy member ID)"

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"


def with_oncall(tmp_path: Path, oncall: dict) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["oncall"] = oncall
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_example_oncall_section_reads_as_written():
    oncall = load_rules(EXAMPLE).oncall
    assert oncall.channel == "#resolution-oncall"
    assert oncall.rotation.members == ["U02PRIYA01", "U02LENAF01", "U02TOMOK01"]
    assert oncall.rotation.shift == "weekly"
    assert oncall.rotation.handoff == (0, time(9, 0))
    assert [(s.after, s.notify) for s in oncall.escalation] == [
        (timedelta(0), "oncall"),
        (timedelta(minutes=10), "oncall"),
        (timedelta(minutes=20), "next"),
        (timedelta(minutes=30), "lead"),
    ]
    assert oncall.page_when == ["urgent_created", "escalated", "sla_breach_urgent"]
    (override,) = oncall.overrides
    assert (override.person, override.starts.isoformat(), override.ends.isoformat()) == (
        "U02TOMOK01",
        "2026-03-07T18:00:00",
        "2026-03-09T09:00:00",
    )


def test_every_oncall_problem_is_reported_with_its_path(tmp_path):
    path = with_oncall(
        tmp_path,
        {
            "channel": "#oncall",
            "rotation": {
                "members": ["U02PRIYA01", "nobody", "U09UNKNOWN"],
                "shift": "fortnightly",
                "handoff": "someday 25:00",
                "start": "2026-02-30",
            },
            "overrides": [
                {"person": "U02TOMOK01", "from": "2026-03-09T09:00", "to": "2026-03-07T18:00"},
                {"person": "U02TOMOK01", "from": "2026-03-07T18:00+01:00", "to": "2026-03-08"},
            ],
            "escalation": [
                {"after": "10m", "notify": "oncall"},
                {"after": "5m", "notify": "boss"},
                {"after": "ten", "notify": "lead"},
            ],
            "page_when": ["urgent_created", "full_moon"],
        },
    )
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    problems = info.value.problems
    assert set(problems) == {
        'oncall.rotation.members[1]: expected a Slack user id like "U012AB3CD", got "nobody"'
        f"{MEMBER_ID}",
        "oncall.rotation.shift: expected 'weekly' or 'daily', got \"fortnightly\"",
        'oncall.rotation.handoff: expected a hand-off like "monday 09:00" (or "09:00" for '
        "daily shifts)",
        'oncall.rotation.start: expected a date like "2026-03-02" (year-month-day): day value '
        "is outside expected range",
        'oncall.overrides[0].to: must be after "from"',
        "oncall.overrides[1].from: write a local time without an offset (the team's timezone)",
        "oncall.escalation[1].notify: expected 'oncall', 'next' or 'lead', got \"boss\"",
        'oncall.escalation[2].after: expected a duration like "4h" (whole numbers of days d, '
        'hours h, minutes m, seconds s: "1d 12h"), got "ten"',
        "oncall.page_when[1]: expected 'urgent_created', 'escalated' or 'sla_breach_urgent', "
        'got "full_moon"',
    }


def _steps(*steps: tuple[str, str]) -> list[dict[str, str]]:
    return [{"after": after, "notify": notify} for after, notify in steps]


@pytest.mark.parametrize(
    ("members", "shift", "override", "steps", "problems"),
    [
        # The shift against the hand-off, "to" against "from", a step against the one before
        # are listed with the entry's bad field (or the list's bad entry), not after its fix.
        (
            ["nobody"],
            "daily",
            {"person": "alice", "from": "2026-03-09T09:00", "to": "2026-03-07T18:00"},
            _steps(("0m", "oncall"), ("20m", "boss"), ("30m", "next"), ("10m", "lead")),
            # In the file's order (safe_dump writes the keys sorted).
            [
                "oncall.escalation: step 3 waits less than step 2: list the steps in order",
                "oncall.escalation[1].notify: expected 'oncall', 'next' or 'lead', got \"boss\"",
                'oncall.overrides[0].person: expected a Slack user id like "U012AB3CD", got '
                f'"alice"{MEMBER_ID}',
                'oncall.overrides[0].to: must be after "from"',
                'oncall.rotation.handoff: a daily shift hands off at a time only, like "09:00"',
                'oncall.rotation.members[0]: expected a Slack user id like "U012AB3CD", got '
                f'"nobody"{MEMBER_ID}',
            ],
        ),
        # With the shift or "from" wrong there is nothing to compare the hand-off or "to"
        # with; with a step's wait wrong, its neighbours are compared with each other.
        (
            ["U02PRIYA01"],
            "fortnightly",
            {"person": "U02TOMOK01", "from": "soon", "to": "2026-03-07T18:00"},
            _steps(("20m", "oncall"), ("ten", "next"), ("10m", "lead")),
            [
                "oncall.escalation: step 2 waits less than step 0: list the steps in order",
                'oncall.escalation[1].after: expected a duration like "4h" (whole numbers of '
                'days d, hours h, minutes m, seconds s: "1d 12h"), got "ten"',
                'oncall.overrides[0].from: expected a local date and time like "2026-03-07T18:00"',
                "oncall.rotation.shift: expected 'weekly' or 'daily', got \"fortnightly\"",
            ],
        ),
    ],
)
def test_checks_within_an_entry_run_on_its_valid_fields(
    tmp_path, members, shift, override, steps, problems
):
    rotation = {
        "members": members,
        "shift": shift,
        "handoff": "monday 09:00",
        "start": "2026-01-05",
    }
    oncall = {"channel": "#oncall", "rotation": rotation, "overrides": [override]}
    with pytest.raises(ConfigError) as info:
        load_rules(with_oncall(tmp_path, {**oncall, "escalation": steps}))
    assert info.value.problems == problems


def test_people_must_be_on_the_roster_and_steps_in_order(tmp_path):
    path = with_oncall(
        tmp_path,
        {
            "channel": "#oncall",
            "rotation": {
                "members": ["U02PRIYA01", "U09UNKNOWN", "U02PRIYA01"],
                "handoff": "mon 09:00",
                "start": "2026-01-05",
            },
            "overrides": [
                {"person": "U09NOBODY1", "from": "2026-03-07T18:00", "to": "2026-03-08T09:00"}
            ],
            "escalation": [
                {"after": "0m", "notify": "oncall"},
                {"after": "20m", "notify": "next"},
                {"after": "10m", "notify": "lead"},
            ],
        },
    )
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    # The steps' order is no reason to wait with the people: one run lists all.
    assert info.value.problems == [
        "oncall.escalation: step 2 waits less than step 1: list the steps in order",
        "oncall.overrides[0].person: U09NOBODY1 is not in agents",
        "oncall.rotation.members: a member is listed twice",
        "oncall.rotation.members[1]: U09UNKNOWN is not in agents",
    ]


def test_weekly_needs_a_day_and_daily_a_time_only(tmp_path):
    base = {"channel": "#oncall", "rotation": {"members": ["U02PRIYA01"], "start": "2026-01-05"}}
    base["rotation"].update(shift="daily", handoff="monday 09:00")
    with pytest.raises(ConfigError) as info:
        load_rules(with_oncall(tmp_path, base))
    assert info.value.problems == [
        'oncall.rotation.handoff: a daily shift hands off at a time only, like "09:00"'
    ]
    base["rotation"].update(shift="weekly", handoff="09:00")
    with pytest.raises(ConfigError) as info:
        load_rules(with_oncall(tmp_path, base))
    assert info.value.problems == [
        'oncall.rotation.handoff: a weekly shift needs a hand-off day, like "monday 09:00"'
    ]
    base["rotation"].update(shift="daily", handoff="18:30")
    rules = load_rules(with_oncall(tmp_path, base))
    assert rules.oncall.rotation.handoff == (None, time(18, 30))


def test_check_config_prints_oncall_problems(tmp_path, monkeypatch):
    monkeypatch.delenv("DESKBRIDGE_CONFIG", raising=False)
    path = with_oncall(
        tmp_path,
        {
            "channel": "#oncall",
            "rotation": {"members": [], "handoff": "monday 09:00", "start": "2026-01-05"},
        },
    )
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 1
    assert (
        "  oncall.rotation.members: List should have at least 1 item after validation, not 0"
        in (result.stderr.splitlines())
    )


def test_an_empty_page_when_is_a_warning_and_a_broken_one_a_problem_alone(tmp_path):
    # `page_when: []` (left from an edit, or every trigger deleted) paged nobody whatever
    # came in at night, and check-config said ok, as for a section with nothing in it.
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    oncall = {**data["oncall"], "page_when": []}
    path = with_oncall(tmp_path, oncall)

    result = CliRunner().invoke(main, ["check-config", str(path)])

    assert (result.exit_code, result.stderr.splitlines()) == (
        0,
        [
            "warning: oncall.page_when: empty: nobody is ever paged (the hand-offs are still "
            "posted; the default is [urgent_created, escalated, sla_breach_urgent])"
        ],
    )

    path = with_oncall(tmp_path, {**oncall, "page_when": ["full_moon"]})
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert (result.exit_code, result.stderr.splitlines()[1:]) == (
        1,
        [
            "  oncall.page_when[0]: expected 'urgent_created', 'escalated' or "
            "'sla_breach_urgent', got \"full_moon\""
        ],
    )
    path = with_oncall(tmp_path, {key: v for key, v in oncall.items() if key != "page_when"})
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert (result.exit_code, result.stderr) == (0, "")
