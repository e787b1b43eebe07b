"""What deskbridge writes to its log: an idle worker is quiet, libraries speak only at WARNING
(unless DESKBRIDGE_LOG_LEVEL=DEBUG), Slack message bodies never reach the log at any level,
and the normal per-channel pacing is neither a warning nor a retry."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.error import URLError

import pytest
import yaml

from deskbridge.app import create_runtime, log_missing_webhook_secret
from deskbridge.bot.notifier import SEND_FAILED, build_web_client
from deskbridge.config.logging import (
    BODY_LOGGERS,
    LIBRARY_LOGGERS,
    SLACK_SDK_LOGGER,
    WAITRESS_QUEUE_LOGGER,
    FieldFormatter,
    RepeatingLog,
    configure_logging,
)
from deskbridge.config.rules import load_rules
from deskbridge.config.settings import EXAMPLE_CONFIG, Settings
from deskbridge.store.outbox import insert_actions, list_actions
from deskbridge.store.tickets import lock_ticket, save_ticket
from deskbridge.workflows.actions import ActionKind, build_action
from deskbridge.workflows.model import Source, Status, TicketState
from tests.acceptance.test_crash_restart import free_port
from tests.conftest import TEST_SECRET, name_key_accounts, process_env
from tests.fakeslack import FakeSlack
from tests.salesforce_corpus import ORG as SALESFORCE_ORG

# Personal data that a ticket may carry: it must never be written to the log.
PERSONAL = "Refund for Jane Roe, jane.roe@example.com, +44 7700 900123"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(FieldFormatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        return "\n".join(self.format(r) for r in self.records)


@pytest.fixture
def logs():
    """configure_logging(level) as the CLI does, then collect every record the root sees;
    the global logging state is restored afterwards."""
    root = logging.getLogger()
    names = [*LIBRARY_LOGGERS, *BODY_LOGGERS, WAITRESS_QUEUE_LOGGER]
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in names})
    collect = Collect()

    def configure(level: str) -> Collect:
        configure_logging(level)
        root.addHandler(collect)
        return collect

    yield configure
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def fake():
    server = FakeSlack().start()
    yield server
    server.stop()


def _runtime(engine, rules, monkeypatch, clock=None, **env):
    for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(ZENDESK_WEBHOOK_SECRET=TEST_SECRET, **env)
    if clock is None:
        return create_runtime(settings, rules, engine=engine)
    return create_runtime(settings, rules, clock=clock, engine=engine)


# A Wednesday 03:00 in London: no scheduled job (pace check, digest, hand-off) is due or within
# its catch-up window, whatever hour the suite happens to run at.
QUIET = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def _slack_runtime(engine, rules, monkeypatch, fake, interval: str):
    return _runtime(
        engine,
        rules,
        monkeypatch,
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_API_URL=fake.url,
        SLACK_TEAM_ID="T0TEAM0001",
        DESKBRIDGE_SLACK_MIN_INTERVAL=interval,
    )


def _ticket_with_actions(engine, number: int, channel: str, count: int = 1) -> list:
    key = f"zendesk:{number}"
    now = datetime.now(UTC)
    state = TicketState(
        key=key, source=Source.zendesk, ticket_id=str(number), subject=PERSONAL, status=Status.open
    )
    actions = [
        build_action(
            key,
            "test",
            ActionKind.notify,
            str(n),
            reason=f"note {n}",
            target="lead",
            channel=channel,
        )
        for n in range(count)
    ]
    with engine.begin() as connection:
        lock_ticket(connection, key, now)
        save_ticket(connection, state, now)
        insert_actions(connection, actions, now)
    return actions


def test_an_idle_worker_logs_nothing_after_starting(logs, sqlite_engine, rules, monkeypatch):
    runtime = _runtime(
        sqlite_engine,
        rules,
        monkeypatch,
        # Short: the timer loop looks for timers set by other processes every 0.2 s.
        DESKBRIDGE_TIMER_INTERVAL="0.2",
        DESKBRIDGE_DISPATCH_INTERVAL="0.1",
        clock=lambda: QUIET,
    )
    collect = logs("INFO")
    runtime.start_background()
    try:
        time.sleep(1.2)  # six timer sweeps and a dozen dispatcher polls with nothing to do
    finally:
        runtime.stop_background()

    assert sorted((r.levelname, r.name, r.getMessage()) for r in collect.records) == (
        STARTED_AND_STOPPED
    )


# What a worker says when it starts and stops, and nothing else when it has nothing to do.
STARTED_AND_STOPPED = [
    ("INFO", "deskbridge", "runtime.stopped"),
    ("INFO", "deskbridge", "timers.started"),
    ("INFO", "deskbridge.decider", "decider.started"),
    ("INFO", "deskbridge.dispatcher", "dispatcher.started"),
]


def _wait_for(condition, seconds: float = 10.0) -> None:
    until = time.monotonic() + seconds
    while not condition() and time.monotonic() < until:
        time.sleep(0.05)


def test_scheduled_runs_started_late_still_run_and_warn_nothing(
    logs, sqlite_engine, rules, monkeypatch
):
    """Under load APScheduler's thread and pool start a run late. At its default grace (1 s) a
    run later than that was skipped with the warning 'Run time of job … was missed by …': the
    second's tick is only late (the next one comes), but the hourly purge then waited another
    hour. Here every run starts 5 s late (the executor's clock is ahead): each still runs, and
    nothing is logged (scheduled jobs' occurrences say how late they ran, job.ran's late_s)."""
    import apscheduler.executors.base as executor

    import deskbridge.app as app

    class Late(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(seconds=5)

    monkeypatch.setattr(executor, "datetime", Late)
    monkeypatch.setattr(app, "RETENTION_FIRST_RUN", timedelta(seconds=0.5))
    runtime = _runtime(sqlite_engine, rules, monkeypatch, clock=lambda: QUIET)
    ran: list[str] = []
    for name in ("run_jobs", "purge_retention"):
        real = getattr(runtime, name)
        monkeypatch.setattr(runtime, name, lambda real=real, name=name: (ran.append(name), real()))
    collect = logs("INFO")
    runtime.start_background()
    try:
        _wait_for(lambda: "purge_retention" in ran and ran.count("run_jobs") >= 2)
    finally:
        runtime.stop_background()

    assert ran.count("purge_retention") == 1
    assert ran.count("run_jobs") >= 2
    assert sorted((r.levelname, r.name, r.getMessage()) for r in collect.records) == (
        STARTED_AND_STOPPED
    )


def test_a_tick_still_running_is_not_a_warning(logs, sqlite_engine, rules, monkeypatch):
    """The scheduled jobs' tick (every second) takes longer when a digest is built or the store
    is slow; the ticks meanwhile are skipped (one at a time: the running one finds what is due),
    which APScheduler warned of every second: 'Execution of job … skipped: maximum number of
    running instances reached (1)'. The occurrences run late say so in job.ran's late_s."""
    runtime = _runtime(sqlite_engine, rules, monkeypatch, clock=lambda: QUIET)
    real = runtime.job_runner.run_due
    ticks: list[datetime] = []

    def slow_first(now: datetime):
        ticks.append(now)
        if len(ticks) == 1:
            time.sleep(3.2)  # three ticks' time
        return real(now)

    monkeypatch.setattr(runtime.job_runner, "run_due", slow_first)
    collect = logs("INFO")
    runtime.start_background()
    try:
        _wait_for(lambda: len(ticks) >= 2)
    finally:
        runtime.stop_background()

    assert len(ticks) >= 2
    assert sorted((r.levelname, r.name, r.getMessage()) for r in collect.records) == (
        STARTED_AND_STOPPED
    )


def test_a_loop_that_does_not_end_in_time_is_named_when_stopping(
    logs, sqlite_engine, rules, monkeypatch
):
    # Stopping waits for the loops STOP_TIMEOUT in all (within systemd's TimeoutStopSec), then
    # says which did not end instead of claiming the runtime stopped.
    runtime = _runtime(sqlite_engine, rules, monkeypatch, clock=lambda: QUIET)
    collect = logs("INFO")
    release = threading.Event()
    stuck = threading.Thread(target=release.wait, name="deskbridge-stuck", daemon=True)
    stuck.start()
    runtime.threads.append(stuck)
    started = time.monotonic()
    try:
        runtime.stop_background(timeout=0.3)
        took = time.monotonic() - started
    finally:
        release.set()

    assert 0.3 <= took < 2.0
    assert [
        (r.levelname, r.getMessage(), r.deskbridge_fields)
        for r in collect.records
        if r.getMessage() == "runtime.stopped"
    ] == [("WARNING", "runtime.stopped", {"still_running": "deskbridge-stuck"})]


@pytest.mark.parametrize(
    ("level", "expected"), [("INFO", "WARNING"), ("DEBUG", "DEBUG"), ("NOTSET", "DEBUG")]
)
def test_library_loggers_are_at_warning_unless_debug(logs, level, expected):
    logs(level)

    effective = {
        name: logging.getLevelName(logging.getLogger(name).getEffectiveLevel())
        for name in (
            "apscheduler",
            "apscheduler.scheduler",
            "slack_bolt",
            "urllib3",
            "slack_sdk",
            "alembic.runtime.plugins",
            "alembic.runtime.migration",
        )
    }
    assert effective == dict.fromkeys(effective, expected)


@pytest.mark.parametrize(("level", "lines"), [("INFO", []), ("DEBUG", ["Task queue depth is 1"])])
def test_waitress_queue_depth_is_not_a_line_per_request_unless_debug(logs, level, lines):
    """waitress warns for every request that waits for a free thread (a line for every other
    request under load, benchmarks/README.md); serve shows it at DEBUG only."""
    from waitress.task import ThreadedTaskDispatcher

    collect = logs(level)
    ThreadedTaskDispatcher().add_task(object())  # no threads started: the request waits
    assert [r.getMessage() for r in collect.records if r.name == WAITRESS_QUEUE_LOGGER] == lines


def _start_and_stop(
    args: list[str],
    database: Path,
    secret: str | None = TEST_SECRET,
    config: Path | None = None,
    extra: dict[str, str] | None = None,
) -> list[str]:
    """`deskbridge ARGS` started on `database` with no credentials (but the webhook `secret` and
    the Salesforce org id, unless `secret` is None; and the variables `extra`) and the rules file
    `config` (the example's), stopped (SIGTERM) once it says it runs: what it wrote to stderr,
    the log lines without their timestamps."""
    env = {
        **process_env("DESKBRIDGE_", "SALESFORCE_", "PAGERDUTY_"),
        "DATABASE_URL": f"sqlite:///{database}",
    }
    if config is not None:
        env["DESKBRIDGE_CONFIG"] = str(config)
    if secret is not None:
        env["ZENDESK_WEBHOOK_SECRET"] = secret
        env["SALESFORCE_ORG_ID"] = SALESFORCE_ORG
    env.update(extra or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "deskbridge.cli", *args], env=env, stderr=subprocess.PIPE, text=True
    )
    lines = []
    try:
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if line.startswith(("deskbridge worker running", "deskbridge listening")):
                process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, lines
    finally:
        if process.poll() is None:
            process.kill()
    # "2026-11-30 19:12:02,469 INFO deskbridge …": the time goes, the rest is compared.
    timed = [line for line in lines if line[:2] == "20"]
    assert all(datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f") for line in timed)
    return [line[24:] if line in timed else line for line in lines]


def _command_args(command: str) -> list[str]:
    """`serve` on a free port (the tests run side by side), or `worker`."""
    if command != "serve":
        return [command]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return [command, "--port", str(probe.getsockname()[1])]


SECRET_MISSING = [
    'WARNING deskbridge webhook.secret_missing source=zendesk hint="set ZENDESK_WEBHOOK_SECRET; '
    'until then webhooks are refused with 401"',
    'WARNING deskbridge webhook.secret_missing source=salesforce hint="set SALESFORCE_ORG_ID, and '
    "SALESFORCE_WEBHOOK_TOKEN for Flow callouts; until then outbound messages are refused with "
    '403 and Flow callouts with 401"',
]
SECRET_MISSING_TOKEN_ONLY = (
    'WARNING deskbridge webhook.secret_missing source=salesforce hint="set SALESFORCE_ORG_ID; '
    "until then every request is refused with 403, Flow callouts too (their organization id "
    'is checked after the token)"'
)
HELPDESK_VARIABLES = [
    alias
    for name, field in Settings.model_fields.items()
    if name.startswith(("zendesk_", "salesforce_")) and (alias := field.alias)
]


@pytest.mark.parametrize(
    ("settings", "sources"),
    [
        ({}, ["zendesk", "salesforce"]),
        ({"ZENDESK_WEBHOOK_SECRET": TEST_SECRET}, ["salesforce"]),
        ({"SALESFORCE_ORG_ID": SALESFORCE_ORG}, ["zendesk"]),
        ({"SALESFORCE_WEBHOOK_TOKEN": "t"}, ["zendesk", "salesforce_token_only"]),
        ({"ZENDESK_WEBHOOK_SECRET": TEST_SECRET, "SALESFORCE_ORG_ID": SALESFORCE_ORG}, []),
        (
            {
                "ZENDESK_WEBHOOK_SECRET": TEST_SECRET,
                "SALESFORCE_ORG_ID": SALESFORCE_ORG,
                "SLACK_BOT_TOKEN": "xoxb-1234-bot",
                "SLACK_TEAM_ID": "T0123ABCD",
            },
            ["slack"],
        ),
    ],
)
def test_each_helpdesk_left_without_webhook_settings_is_warned_of(
    logs, monkeypatch, rules, settings, sources
):
    """Salesforce set up with neither its org id nor its token was not said at all; a token
    without the org id lets nothing in, as the org id is checked in Flow callouts too."""
    for name in (
        "ZENDESK_WEBHOOK_SECRET",
        "SALESFORCE_ORG_ID",
        "SALESFORCE_WEBHOOK_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_TEAM_ID",
        "SLACK_API_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    collect = logs("INFO")
    log_missing_webhook_secret(Settings(**settings), rules)
    formatter = FieldFormatter("%(levelname)s %(name)s %(message)s")
    warned = dict(zip(["zendesk", "salesforce"], SECRET_MISSING, strict=True))
    warned["salesforce_token_only"] = SECRET_MISSING_TOKEN_ONLY
    # A bot token without its signing secret: the alerts' buttons are posted, and refused.
    warned["slack"] = (
        'WARNING deskbridge webhook.secret_missing source=slack hint="SLACK_SIGNING_SECRET is '
        "not set, SLACK_BOT_TOKEN is: alerts are posted with their buttons, but every button, "
        "/deskbridge and /escalate is answered 503 (the Signing Secret is on the Slack app's "
        'Basic Information page)"'
    )
    assert [formatter.format(r) for r in collect.records] == [warned[s] for s in sources]


def one_helpdesk_rules(tmp_path: Path, helpdesk: str | None) -> Path:
    """The example rules file as a team on `helpdesk` alone writes it (None: on neither, no
    owner or roster id given): the other's groups or queues, and roster ids, left out."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    other = {
        "zendesk": ("salesforce_queue", "salesforce_id"),
        "salesforce": ("group", "zendesk_id"),
    }
    owner, roster_id = other.get(helpdesk, ("", ""))
    for number, department in enumerate(data["departments"].values()):
        department.pop(owner, None)
        if helpdesk == "salesforce":
            # Members' ids are the team's helpdesk's too (the example's are Zendesk's).
            department["members"] = [f"0055j00000G4y{number}QAAR"]
    data["risk"].pop(f"specialist_{owner.removeprefix('salesforce_')}", None)
    for number, agent in enumerate(data["agents"]):
        agent.pop(roster_id, None)
        if helpdesk == "salesforce":
            # Each agent is on the team's helpdesk: without an id there, check-config (and the
            # start-up's rules.warnings) says no reply of theirs is credited.
            agent.setdefault("salesforce_id", f"0055j00000F3y{number}QAAR")
    if helpdesk == "salesforce":
        name_key_accounts(data)
    if helpdesk is None:
        del data["departments"], data["risk"], data["agents"], data["oncall"]
        data["routing"]["enabled"] = False
        data["coaching"]["enabled"] = False
    path = tmp_path / f"{helpdesk}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("helpdesk", "settings", "sources"),
    [
        ("salesforce", {}, ["salesforce"]),
        ("salesforce", {"SALESFORCE_ORG_ID": SALESFORCE_ORG}, []),
        ("zendesk", {}, ["zendesk"]),
        ("zendesk", {"ZENDESK_WEBHOOK_SECRET": TEST_SECRET}, []),
        # The rules name neither: the environment says which (a trial, neither: both).
        (None, {}, ["zendesk", "salesforce"]),
        (None, {"SALESFORCE_WEBHOOK_TOKEN": "t"}, ["salesforce_token_only"]),
        (None, {"ZENDESK_SUBDOMAIN": "acme"}, ["zendesk"]),
        # Rules on one helpdesk, the environment setting up the other: both are used.
        ("salesforce", {"ZENDESK_EMAIL": "bot@example.com"}, ["zendesk", "salesforce"]),
    ],
)
def test_only_the_helpdesks_a_team_uses_are_warned_of(
    logs, monkeypatch, tmp_path, helpdesk, settings, sources
):
    """A team on Salesforce alone was told at every start that ZENDESK_WEBHOOK_SECRET was
    missing, as if its Zendesk webhooks were being refused."""
    for name in (*HELPDESK_VARIABLES, "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    rules = load_rules(one_helpdesk_rules(tmp_path, helpdesk))
    collect = logs("INFO")

    log_missing_webhook_secret(Settings(**settings), rules)

    formatter = FieldFormatter("%(levelname)s %(name)s %(message)s")
    warned = dict(zip(["zendesk", "salesforce"], SECRET_MISSING, strict=True))
    warned["salesforce_token_only"] = SECRET_MISSING_TOKEN_ONLY
    assert [formatter.format(r) for r in collect.records] == [warned[s] for s in sources]


# What each system's dry-run warning names when none of its credentials is set.
DRY_RUN_UNSET = {
    "zendesk": "ZENDESK_SUBDOMAIN, ZENDESK_EMAIL and ZENDESK_API_TOKEN are",
    "salesforce": "SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN are",
    "slack": "SLACK_BOT_TOKEN is",
    "pager": "PAGERDUTY_ROUTING_KEY is",
}


@pytest.mark.slow
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_team_on_salesforce_alone_hears_nothing_of_zendesk_at_start_up(command, tmp_path):
    """Neither the Zendesk secret nor Zendesk's dry-run: a team on Salesforce alone has no
    Zendesk to set up. Salesforce's write-back left unset is still said."""
    config = one_helpdesk_rules(tmp_path, "salesforce")
    args = _command_args(command)

    lines = _start_and_stop(
        args,
        tmp_path / "new.db",
        secret=None,
        config=config,
        extra={"SALESFORCE_ORG_ID": SALESFORCE_ORG},
    )

    assert [line for line in lines if "WARNING" in line] == [
        f'WARNING deskbridge dry_run.enabled system={system} hint="{unset} not set: actions '
        'are recorded and logged, not sent"'
        for system, unset in DRY_RUN_UNSET.items()
        if system != "zendesk"
    ], lines


@pytest.mark.slow
@pytest.mark.parametrize(("command", "warned"), [("serve", SECRET_MISSING), ("worker", [])])
def test_a_missing_webhook_secret_is_said_by_the_process_that_takes_webhooks(
    command, warned, tmp_path
):
    """The worker said it too, though it takes no webhook."""
    args = _command_args(command)

    lines = _start_and_stop(args, tmp_path / "new.db", secret=None)

    assert [line for line in lines if "webhook.secret_missing" in line] == warned, lines


@pytest.mark.slow
@pytest.mark.parametrize("command", ["worker", "serve"])
def test_start_up_logs_deskbridges_events_only_with_the_migration_as_one(command, tmp_path):
    """alembic's INFO lines ("Context impl SQLiteImpl.", "Will assume non-transactional DDL.",
    each "Running upgrade", its plugins) and waitress' "Serving on" are not in the log: the
    store's revision is one deskbridge event, from and to which revision when it migrated."""
    from tests.test_cli_migrate import head_revision

    head = head_revision()
    database = tmp_path / "new.db"
    args, banner = [command], "deskbridge worker running (Ctrl-C to stop)"
    if command == "serve":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        args += ["--port", str(port)]
        banner = (
            f"deskbridge listening on http://127.0.0.1:{port} (webhooks: POST /webhooks/zendesk, "
            "/webhooks/salesforce; health: GET /healthz)"
        )
    dry_run = [
        f'WARNING deskbridge dry_run.enabled system={system} hint="{unset} not set: actions '
        'are recorded and logged, not sent"'
        for system, unset in DRY_RUN_UNSET.items()
    ]
    started = [
        "INFO deskbridge timers.started interval_s=0.5",
        "INFO deskbridge.decider decider.started poll_s=0.5 batch=500",
        "INFO deskbridge.dispatcher dispatcher.started interval_s=0.5",
    ]

    for store in (
        f"INFO deskbridge store.migrated url=sqlite:///{database} from_revision=none "
        f"to_revision={head}",
        f"INFO deskbridge store.up_to_date url=sqlite:///{database} revision={head}",
    ):
        lines = _start_and_stop(args, database)

        # The background threads start in no fixed order, and the banner is said among them.
        assert lines[: 1 + len(dry_run)] == [store, *dry_run], lines
        rest = lines[1 + len(dry_run) :]
        assert sorted(line for line in rest if line in started) == started, lines
        assert [line for line in rest if line not in started] == [
            banner,
            "INFO deskbridge runtime.stopped",
        ], lines


@pytest.mark.slow
@pytest.mark.parametrize("command", ["worker", "serve"])
def test_start_up_says_the_rules_file_has_warnings_without_quoting_them(command, tmp_path):
    """A group's name where its id belongs, an email pasted as a Salesforce id: the process
    started and said nothing, so the operator learnt of it from dead-lettered actions. It now
    says how many, the settings they are about (overlapping opening hours were not reported
    at all) and where to read them; the warnings themselves quote the values."""
    example = (Path(__file__).parent.parent / "config" / "example.yaml").read_text()
    mistaken = example.replace('group: "360010000002"', "group: Quality", 1).replace(
        'salesforce_id: "0055j00000F3x9QAAR"', "salesforce_id: priya.raman@example.com", 1
    )
    mistaken = mistaken.replace(
        '    fri: ["09:00-18:00"]', '    fri: ["09:00-18:00", "08:00-10:00"]'
    )
    assert "group: Quality\n" in mistaken and "priya.raman@example.com" in mistaken
    assert "08:00-10:00" in mistaken
    config = tmp_path / "team.yaml"
    config.write_text(mistaken)
    args = _command_args(command)

    lines = _start_and_stop(args, tmp_path / "new.db", config=config)

    assert [line for line in lines if "rules." in line] == [
        f"WARNING deskbridge rules.warnings path={config} count=3 "
        "settings=agents[0].salesforce_id,departments.quality.group,business_hours.week.fri[1] "
        f'hint="deskbridge check-config {config} lists them"'
    ], lines
    assert not [line for line in lines if "priya.raman" in line or "Quality" in line], lines


def test_slack_message_bodies_never_reach_the_log_even_at_debug(
    logs, sqlite_engine, rules, monkeypatch, fake
):
    runtime = _slack_runtime(sqlite_engine, rules, monkeypatch, fake, interval="0")
    _ticket_with_actions(sqlite_engine, 48500, "#leads")
    collect = logs("DEBUG")

    runtime.dispatcher.dispatch_due()

    assert [c.method for c in fake.ok_calls("chat.postMessage")] == ["chat.postMessage"]
    assert PERSONAL in json.dumps(fake.calls[0].args["blocks"])  # it was sent …
    assert "jane.roe" not in collect.text  # … and not logged
    assert "Jane Roe" not in collect.text
    assert "outbox.done" in collect.text


def test_pacing_is_not_a_retry_nor_a_warning(logs, sqlite_engine, rules, monkeypatch, fake):
    runtime = _slack_runtime(sqlite_engine, rules, monkeypatch, fake, interval="60")
    _ticket_with_actions(sqlite_engine, 48501, "#leads", count=3)
    collect = logs("INFO")

    runtime.dispatcher.dispatch_due()  # the first goes out …
    runtime.dispatcher.dispatch_due()  # … the next one is told to wait its turn

    assert len(fake.ok_calls("chat.postMessage")) == 1
    with sqlite_engine.connect() as connection:
        rows = list_actions(connection)
    assert [(r["status"], r["attempts"]) for r in rows] == [
        ("done", 1),
        ("pending", 0),
        ("pending", 0),
    ]
    metrics = runtime.metrics.registry
    assert (
        metrics.get_sample_value(
            "deskbridge_actions_total", {"action": "notify", "outcome": "retry"}
        )
        is None
    )
    assert metrics.get_sample_value("deskbridge_actions_paced_total", {"action": "notify"}) == 1.0
    assert [r.levelname for r in collect.records if r.levelno >= logging.WARNING] == []


def test_a_paced_channel_holds_back_only_its_own_rows(
    logs, sqlite_engine, rules, monkeypatch, fake
):
    runtime = _slack_runtime(sqlite_engine, rules, monkeypatch, fake, interval="60")
    # Queued in this order: two tickets alerting #leads, then one alerting #billing.
    _ticket_with_actions(sqlite_engine, 48502, "#leads")
    _ticket_with_actions(sqlite_engine, 48503, "#leads")
    _ticket_with_actions(sqlite_engine, 48504, "#billing")
    logs("INFO")

    runtime.dispatcher.dispatch_due()  # one pass over all three

    # One of #leads' two messages waits for its slot; #billing's, queued after both, does not.
    # The pass performs the three at once, so which of #leads' two goes first is not fixed.
    assert sorted(c.args["channel"] for c in fake.ok_calls("chat.postMessage")) == [
        "#billing",
        "#leads",
    ]
    with sqlite_engine.connect() as connection:
        rows = {r["ticket"]: r for r in list_actions(connection)}
    leads = sorted(
        (rows[t]["status"], rows[t]["attempts"], rows[t]["last_error"])
        for t in ("zendesk:48502", "zendesk:48503")
    )
    assert leads == [("done", 1, None), ("pending", 0, "pacing #leads")]
    assert (rows["zendesk:48504"]["status"], rows["zendesk:48504"]["attempts"]) == ("done", 1)
    (waiting,) = [r for r in rows.values() if r["status"] == "pending"]
    assert waiting["next_attempt_at"] > rows["zendesk:48504"]["done_at"] + timedelta(seconds=55)


# What gunicorn does: import the app factory and call it, with no logging set up.
WSGI_ENTRY = """
import json
from datetime import UTC, datetime
from deskbridge.app import create_app
from tests.conftest import signed_headers
client = create_app().test_client()
body = json.dumps({"type": "zen:event-type:ticket.merged", "id": "e1"}).encode()
print(client.get("/readyz").status_code)
headers = signed_headers(body, datetime.now(UTC))
print(client.post("/webhooks/zendesk", data=body, headers=headers).status_code)
print(client.post("/webhooks/zendesk", data=body).status_code)
"""


def test_the_app_sets_up_logging_when_a_wsgi_server_is_the_entry_point(tmp_path):
    """Under gunicorn the CLI's logging set-up never runs: the app does it, so INFO lines are
    kept and every line has its time, level, logger and fields (a store never migrated makes
    /readyz warn)."""
    env = {
        **process_env("DESKBRIDGE_", "SALESFORCE_"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}",
        "ZENDESK_WEBHOOK_SECRET": TEST_SECRET,
        "SALESFORCE_ORG_ID": SALESFORCE_ORG,
    }
    result = subprocess.run(
        [sys.executable, "-c", WSGI_ENTRY],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.stdout == "503\n200\n401\n", result.stderr
    lines = result.stderr.splitlines()
    assert [line[24:] for line in lines] == [  # after "2026-11-30 19:12:02,469 "
        "WARNING deskbridge readyz.store_unavailable error=OperationalError "
        'reason="no such table: events"',
        "INFO deskbridge.webhooks webhook.ignored source=zendesk type=zen:event-type:ticket.merged",
        'WARNING deskbridge.webhooks webhook.unauthorized source=zendesk error="signature header'
        " is missing: Zendesk sends X-Zendesk-Webhook-Signature and"
        " X-Zendesk-Webhook-Signature-Timestamp with every webhook (check that a proxy on the way"
        ' passes both on); by hand, `deskbridge sign BODY` makes them" '
        "field=X-Zendesk-Webhook-Signature",
    ]
    assert all(datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f") for line in lines)


def test_under_a_wsgi_server_a_missing_webhook_secret_is_said_at_start_up(tmp_path):
    """serve said it, gunicorn's web processes did not: their log had only the 401s."""
    env = {
        **process_env("DESKBRIDGE_", "SALESFORCE_"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}",
    }
    script = "from deskbridge.app import create_app\ncreate_app()\n"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert [line[24:] for line in result.stderr.splitlines()] == SECRET_MISSING


def test_a_store_outage_is_logged_when_it_starts_once_a_minute_and_when_it_ends(logs):
    """A loop retrying every half second against a stopped database wrote three ERROR lines a
    second (decider, dispatcher, timers); an outage is now a few lines however long it lasts."""
    from deskbridge.config.logging import FieldFormatter, OutageLog

    collect = logs("INFO")
    now = [0.0]
    outage = OutageLog(
        logging.getLogger("deskbridge.dispatcher"),
        "dispatcher.store_unavailable",
        "dispatcher.store_recovered",
        clock=lambda: now[0],
    )
    outage.succeeded()  # all well: nothing to say
    for second in [0, 0.5, 1, 30, 59.9, 60, 60.5, 125]:
        now[0] = second
        outage.failed(error="OperationalError")
    now[0] = 130.25
    outage.succeeded()
    outage.succeeded()
    formatter = FieldFormatter("%(levelname)s %(name)s %(message)s")
    assert [formatter.format(r) for r in collect.records] == [
        "ERROR deskbridge.dispatcher dispatcher.store_unavailable error=OperationalError",
        "ERROR deskbridge.dispatcher dispatcher.store_unavailable error=OperationalError "
        "repeated=5",
        "ERROR deskbridge.dispatcher dispatcher.store_unavailable error=OperationalError "
        "repeated=2",
        "INFO deskbridge.dispatcher dispatcher.store_recovered failures=8 down_s=130.2",
    ]


def test_a_quote_inside_a_field_value_is_escaped_so_the_line_still_parses():
    """A field's text can hold quotes; unescaped, they ended the field early:
    error="expected an ISO-8601 time, got "yesterday"" field=…"""
    record = logging.LogRecord("deskbridge.webhooks", logging.WARNING, __file__, 1, "x", (), None)
    record.msg = "webhook.malformed"
    record.deskbridge_fields = {
        "source": "zendesk",
        "error": 'expected an ISO-8601 time, got "yesterday"',
        "field": "detail.created_at",
        "label": 'a"b',
        "empty": "",
    }
    formatter = FieldFormatter("%(levelname)s %(name)s %(message)s")
    assert formatter.format(record) == (
        "WARNING deskbridge.webhooks webhook.malformed source=zendesk "
        'error="expected an ISO-8601 time, got \\"yesterday\\"" field=detail.created_at '
        'label="a\\"b" empty=""'
    )


@pytest.mark.parametrize("level", ["loud", "10", ""])
def test_a_log_level_logging_does_not_know_is_a_settings_error(level, tmp_path):
    """Was logging's "ValueError: Unknown level: 'LOUD'" traceback from every command."""
    from click.testing import CliRunner

    from deskbridge.cli import main

    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db'}", "DESKBRIDGE_LOG_LEVEL": level}
    result = CliRunner().invoke(main, ["migrate"], env=env)

    assert (result.exit_code, result.stderr) == (
        1,
        "environment: invalid settings\n"
        "  DESKBRIDGE_LOG_LEVEL: expected a level name logging knows: "
        "NOTSET, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, FATAL\n",
    )
    assert not (tmp_path / "db").exists()


def test_a_log_level_is_read_whatever_its_case():
    assert [Settings(DESKBRIDGE_LOG_LEVEL=v).log_level for v in ("debug", "Warning ")] == [
        "DEBUG",
        "WARNING",
    ]


def test_every_level_name_logging_accepts_is_a_log_level():
    """WARN, FATAL and NOTSET were refused, though logging takes them: the aliases are read as
    the names logging prints."""
    levels = ("warn", "FATAL", "Notset", "critical", "error", "info")

    assert [Settings(DESKBRIDGE_LOG_LEVEL=v).log_level for v in levels] == [
        "WARNING",
        "CRITICAL",
        "NOTSET",
        "CRITICAL",
        "ERROR",
        "INFO",
    ]


def test_slack_unreachable_is_one_line_per_failed_post(logs, sqlite_engine, rules, monkeypatch):
    """Connection refused: slack_sdk tries three times and logged an ERROR line for each
    ("Failed to send a request to Slack API server"), beside the dispatcher's own line for the
    post it retries: one failure read as four incidents."""
    runtime = _runtime(
        sqlite_engine,
        rules,
        monkeypatch,
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/",  # nothing listens
        SLACK_TEAM_ID="T0TEAM0001",
        DESKBRIDGE_SLACK_MIN_INTERVAL="0",
    )
    [action] = _ticket_with_actions(sqlite_engine, 48502, "C0LEADS001")
    collect = logs("INFO")

    runtime.dispatcher.dispatch_due()

    lines = [collect.format(r) for r in collect.records if r.levelno >= logging.WARNING]
    [delay] = [r.deskbridge_fields["delay_s"] for r in collect.records if r.msg == "outbox.retry"]
    assert lines == [
        'WARNING deskbridge.dispatcher outbox.retry error="Slack unreachable: URLError" '
        f"delay_s={delay} ticket=zendesk:48502 action=notify key={action.key} attempt=1"
    ]


def test_slack_sdks_lines_for_each_try_are_debug_lines_under_debug(logs, monkeypatch):
    """Asked for (DESKBRIDGE_LOG_LEVEL=DEBUG), slack_sdk's line for each failed try is kept,
    as DEBUG."""
    client = build_web_client("xoxb-test", f"http://127.0.0.1:{free_port()}/api/")
    collect = logs("DEBUG")

    with pytest.raises(URLError):
        client.chat_postMessage(channel="C0LEADS001", text="alert")

    tries = [r for r in collect.records if r.getMessage().startswith(SEND_FAILED)]
    assert [(r.name, r.levelname) for r in tries] == [(SLACK_SDK_LOGGER, "DEBUG")] * 3
    assert [r for r in collect.records if r.levelno >= logging.WARNING] == []


def test_slack_sdks_warnings_that_deskbridge_does_not_report_are_kept(logs, fake):
    client = build_web_client("xoxb-test", fake.url)
    collect = logs("INFO")

    client.api_call("auth.test", auth=7)  # an auth slack_sdk cannot use: it warns, and sends

    assert [(r.name, r.levelname, r.getMessage()) for r in collect.records] == [
        (SLACK_SDK_LOGGER, "WARNING", "As the auth: 7: <class 'int'> is unsupported, skipped")
    ]


def test_a_repeating_warning_is_said_once_per_key_then_once_per_interval(caplog):
    # A trigger template's mistake comes with every delivery: one line for each trigger,
    # then one an hour with how many went unsaid, not a line per webhook.
    caplog.set_level(logging.INFO, logger="deskbridge")
    now = [0.0]
    said = RepeatingLog(
        logging.getLogger("deskbridge.test"), "webhook.x", every=60, keys=2, clock=lambda: now[0]
    )
    for _ in range(3):
        said.warn("a", n=1)
    said.warn("b", n=2)
    now[0] = 59.0
    said.warn("a", n=3)
    now[0] = 60.0
    said.warn("a", n=4)
    said.warn("a", n=5)
    said.warn("c", n=6)  # a third key: the two kept are forgotten, said again next time
    said.warn("b", n=7)
    assert [(r.levelno, r.getMessage(), r.deskbridge_fields) for r in caplog.records] == [
        (logging.WARNING, "webhook.x", {"n": 1}),
        (logging.WARNING, "webhook.x", {"n": 2}),
        (logging.WARNING, "webhook.x", {"n": 4, "repeated": 4}),
        (logging.WARNING, "webhook.x", {"n": 6}),
        (logging.WARNING, "webhook.x", {"n": 7}),
    ]


def test_a_tick_skipped_for_five_minutes_on_end_is_said_once(caplog):
    """With APScheduler's every-second warning dropped, a tick hung for good (a store lock, a
    call that never answers) stopped every digest and pace check without a word: a stall of
    TICK_STUCK_AFTER_S is said once, as job.tick_stuck; a new stall after a gap, once again."""
    from types import SimpleNamespace

    from deskbridge.app import _STILL_RUNNING, JOBS_TICK, TICK_STUCK_AFTER_S, _TickStillRunning

    now = [0.0]
    keep = _TickStillRunning(clock=lambda: now[0])

    def skipped(job: str) -> bool:
        record = logging.LogRecord(
            "apscheduler.scheduler", logging.WARNING, __file__, 1, _STILL_RUNNING,
            (SimpleNamespace(id=job), 1), None,
        )  # fmt: skip
        return keep.filter(record)

    kept, told = [], []
    with caplog.at_level(logging.INFO):
        for second in [*range(0, 400), *range(1000, 1310)]:  # two stalls, a gap between
            now[0] = float(second)
            kept.append(skipped(JOBS_TICK))
            told += [
                (second, r.levelname, r.deskbridge_fields["skipped_for_s"])
                for r in caplog.records
                if r.getMessage() == "job.tick_stuck"
            ]
            caplog.clear()
        kept.append(skipped("retention"))  # a purge still running is still warned of

    assert kept == [False] * 710 + [True]
    assert TICK_STUCK_AFTER_S == 300
    assert told == [(300, "WARNING", 300), (1300, "WARNING", 300)]
