"""The `deskbridge` command (DESIGN §4)."""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import logging
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from deskbridge.config.logging import configure_logging, log_event
from deskbridge.config.rules import (
    ConfigError,
    RulesConfig,
    describe_helpdesks_in_use,
    describe_salesforce_statuses,
    find_rules_warnings,
    judge_helpdesks_in_use,
    load_rules,
    sort_as_written,
    summarize_rules,
)
from deskbridge.config.settings import (
    STORE_URL_EXAMPLES,
    WRITE_CREDENTIALS,
    RulesPathSetting,
    Settings,
    find_store_url_problem,
)
from deskbridge.connectors.parsing import EARLIEST, LATEST
from deskbridge.workflows.wording import (
    count_noun,
    decode_file_text,
    describe_not_utf8,
    describe_problems,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

log = logging.getLogger("deskbridge")


def _load_or_exit(path: Path) -> RulesConfig:
    rules, _warnings = _read_rules(path)
    if rules is None:
        sys.exit(1)
    return rules


def _read_rules(
    path: Path, env_helpdesks: frozenset[str] = frozenset()
) -> tuple[RulesConfig | None, list[str]]:
    """The rules file, or None once its problems are on stderr; and its warnings, for a file
    with problems those of its settings that validated (check-config lists both in one run),
    judged with the helpdesks the environment names (`env_helpdesks`), as start-up judges."""
    try:
        rules = load_rules(path, env_helpdesks)
    except ConfigError as exc:
        click.echo(str(exc), err=True)  # the path, how many problems, each on its own line
        return None, exc.warnings
    return rules, find_rules_warnings(rules, env_helpdesks)


def _read_settings_and_rules(
    path: Path | None = None, log_with_settings: bool = False
) -> tuple[Settings | None, RulesConfig | None, list[str], Path]:
    """The environment's settings and the rules file (`path`, or the one the environment
    names) with its warnings, each read whatever the other's mistakes and each listing its own
    on stderr, so one run shows every problem: `serve` and `worker` stopped at the
    environment's and said nothing of the file's, which the operator then met only after the
    next restart. None for either that has mistakes; `log_with_settings`: logging set to their
    level before the file is read (its routing model's warnings are log lines)."""
    settings = _read_settings()
    if settings is not None and log_with_settings:
        configure_logging(settings.log_level)
    path = path or (settings or RulesPathSetting()).config_path
    env_helpdesks = settings.find_helpdesks_named() if settings is not None else frozenset()
    rules, warnings = _read_rules(path, env_helpdesks)
    return settings, rules, warnings, path


def _settings() -> Settings:
    settings = _read_settings()
    if settings is None:
        sys.exit(1)
    return settings


def _read_settings() -> Settings | None:
    """The settings, or None once every mistake in them is listed on stderr."""
    from pydantic import ValidationError

    from deskbridge.config.rules import describe_limit, format_location

    try:
        return Settings()
    except ValidationError as exc:
        click.echo("environment: invalid settings", err=True)
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            # A checked default is reported by field name, a given value by its variable.
            fields = Settings.model_fields
            loc = tuple(fields[p].alias if p in fields else p for p in error["loc"])
            if error["type"] in _NOT_A_NUMBER and loc:
                message = _describe_not_a_number(str(loc[-1]), error["type"])
            elif not _is_secret(error["loc"]):
                # A limit with the number that broke it (DESKBRIDGE_CONNECTION_LIMIT=0).
                message = describe_limit(error) or message
            click.echo(f"  {format_location(loc)}: {message}", err=True)
        return None


def _is_secret(loc: tuple) -> bool:
    """Whether a settings error is about a secret (a token, a password), whose value is never
    repeated."""
    name = str(loc[0]) if loc else ""
    fields = Settings.model_fields
    field = fields.get(name) or next((f for f in fields.values() if f.alias == name), None)
    if field is None:
        return True
    from typing import get_args

    from pydantic import SecretStr

    return field.annotation is SecretStr or SecretStr in get_args(field.annotation)


# pydantic's "Input should be a valid integer, unable to parse string as an integer" for a
# setting written as the rules file writes durations (ZENDESK_SIGNATURE_TOLERANCE_SECONDS=5m)
# or sizes (DESKBRIDGE_MAX_BODY_BYTES=1MB): said with the setting's unit, the value never
# repeated (it may be a secret put in the wrong variable).
_NOT_A_NUMBER = {"int_parsing": "a whole number", "float_parsing": "a number"}
_UNITS = (
    (("_SECONDS", "_INTERVAL", "_TIMEOUT"), 'seconds, without a unit ("5m" is 300)'),
    (("_BYTES",), 'bytes, without a unit ("1MB" is 1048576)'),
)


def _describe_not_a_number(variable: str, kind: str) -> str:
    expected = _NOT_A_NUMBER[kind]
    for suffixes, unit in _UNITS:
        if variable.endswith(suffixes):
            return f"expected {expected} of {unit}"
    return f"expected {expected}"


class IsoTime(click.ParamType):
    """An ISO 8601 time as Python reads it (seconds and the offset optional, `Z` for UTC, a
    date alone for its midnight): the rules file and `/deskbridge oncall override` write
    "2026-03-07T18:00", which strptime formats with seconds refused."""

    name = "ISO"

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO 8601 time "
                "(like 2026-03-07T23:10:00Z, 2026-03-07T18:00 or 2026-03-07)",
                param,
                ctx,
            )
        try:
            utc = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
            utc = EARLIEST - timedelta(days=1)
        if not EARLIEST <= utc < LATEST:
            self.fail(f"{value!r} is {_OUT_OF_RANGE}", param, ctx)
        return at


# The times helpdesks can mean, as webhooks and replayed lines are read: year 1 or 9999 was an
# OverflowError traceback from the rotation's or the review's date arithmetic.
_OUT_OF_RANGE = f"out of range ({EARLIEST.year}-{LATEST.year - 1})"
ISO_TIME = IsoTime()


class LocalDate(click.ParamType):
    """A day as YYYY-MM-DD, within the times helpdesks can mean: click's DateTime said of
    2026-02-30 that it "does not match the format", and year 1 or 9999 was a traceback."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx) -> date:
        if isinstance(value, date):
            return value
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            self.fail(f"{value!r} is not a date like 2026-03-02 (YYYY-MM-DD)", param, ctx)
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            self.fail(f"{value!r} is not a date: {exc}", param, ctx)
        if not EARLIEST.date() <= day < LATEST.date():
            self.fail(f"{value!r} is {_OUT_OF_RANGE}", param, ctx)
        return day


@click.group()
def main() -> None:
    """deskbridge: helpdesk events in, escalation workflows, Slack out."""


@main.command("check-config")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def check_config(path: Path | None) -> None:
    """Validate the environment's settings and a rules file (default: DESKBRIDGE_CONFIG or the
    example), and list every problem and warning with its variable or path."""
    # Both are read whatever the other's mistakes: serve needs both right, and a mistake in
    # the environment stopped the check before the file was read. The warnings follow the
    # mistakes in the same run: they waited for a file without mistakes, so the user fixed
    # those, ran the check again and only then heard of them.
    settings, rules, warnings, path = _read_settings_and_rules(path)
    if rules is not None:
        click.echo(f"{path}: ok — {summarize_rules(rules)}")
        # Which helpdesks its warnings were judged for, and why: serve judges the same way.
        env_named = settings.find_helpdesks_named() if settings is not None else None
        rules_named = rules.find_helpdesks_named()
        click.echo(describe_helpdesks_in_use(rules_named, env_named))
        if "salesforce" in judge_helpdesks_in_use(rules_named, env_named or frozenset()):
            click.echo(describe_salesforce_statuses(rules.salesforce))
    # In the file's order, where each is (found by kind, they came grouped by kind).
    for warning in sort_as_written(warnings, path):
        click.echo(f"warning: {warning}", err=True)
    # A system given some of its credentials was meant to send: the rest were forgotten or
    # misspelt, and the service would only say so in its start-up log (dry_run.enabled). None
    # given is a choice (a trial), said by serve and worker.
    for system, variables in WRITE_CREDENTIALS.items():
        unset = settings.find_unset_credentials(system) if settings is not None else ()
        if 0 < len(unset) < len(variables):
            click.echo(f"warning: {system}: {describe_dry_run(settings, system)}", err=True)
    if settings is not None and (slack := settings.find_missing_slack_signing_secret()):
        click.echo(f"warning: slack: {slack}", err=True)
    if settings is None or rules is None:
        sys.exit(1)


@contextlib.contextmanager
def _opening_store(url: str) -> Iterator[None]:
    """A store that cannot be opened (a bad DATABASE_URL, a server that does not answer, a
    directory that does not exist, a file that is no database) is one line saying so, not a
    traceback."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

    # Settings() refuses such a DATABASE_URL first; `replay --store` builds its own URL.
    problem = find_store_url_problem(url)
    if problem is not None:
        raise click.ClickException(f"DATABASE_URL: {problem}")
    try:
        yield
    except ArgumentError:
        problem = f"DATABASE_URL: expected a database URL {STORE_URL_EXAMPLES}"
        raise click.ClickException(problem) from None
    except DatabaseError as exc:
        # Operational (no server, no directory) or the driver's plain DatabaseError (SQLite: a
        # file that is no database); a migration's own errors (ProgrammingError…) keep their
        # traceback.
        if not isinstance(exc, OperationalError) and type(exc) is not DatabaseError:
            raise
        where = make_url(url).render_as_string(hide_password=True)
        raise click.ClickException(f"cannot open the store at {where}: {_reason(exc)}") from None


@contextlib.contextmanager
def _reading_store(url: str) -> Iterator[Connection]:
    """A connection that reads the store and changes nothing: it neither migrates the store
    nor, on SQLite, creates a file (a read run without the service's DATABASE_URL left an
    empty deskbridge.db behind, and `replay --store` refuses a file that exists). Its errors
    are worded like the other commands': one line naming the store."""
    from sqlalchemy.exc import SQLAlchemyError

    from deskbridge.store.db import (
        connect_for_reading,
        create_store_engine,
        has_schema,
        newer_revision,
        store_revision,
    )

    with _opening_store(url):
        engine = create_store_engine(url)
        where = engine.url.render_as_string(hide_password=True)
        _refuse_a_missing_file(engine)
        connection = connect_for_reading(engine)
    revision = None
    try:
        with connection:
            if not has_schema(connection):
                raise _never_migrated(where)
            revision = store_revision(connection)
            yield connection
    except SQLAlchemyError as exc:
        reason = _reason(exc)
        # The package upgraded, the store not yet migrated: a read of what a newer migration
        # added fails with only the missing column's name, not what to do.
        head = newer_revision(revision)
        if head is not None:
            reason += (
                f" (the store is at revision {revision}, this deskbridge needs {head}: run "
                "`deskbridge migrate`, or restart serve or worker, which migrate when they start)"
            )
        raise click.ClickException(f"cannot read the store at {where}: {reason}") from None
    finally:
        engine.dispose()


def _never_migrated(where: str) -> click.ClickException:
    return click.ClickException(
        f"the store at {where} has no deskbridge tables: run `deskbridge migrate` first"
    )


def _refuse_a_missing_file(engine, then: str | None = None) -> None:
    """A SQLite store's file must exist: SQLite would create it, empty, where a mistyped or
    unset DATABASE_URL points, and a command's "0 rows" would pass for the service's store. A
    relative path is named as the folder the command runs in makes it (the default
    sqlite:///deskbridge.db, read from another folder than the service's, was only "no such
    file"); `then` says what to do, where that is not to set DATABASE_URL."""
    file = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    # A `file:` URI (?uri=true) names its file inside the URI; SQLite reads it itself.
    uri = engine.url.query.get("uri") in ("true", "1")
    if file and file != ":memory:" and not uri and not Path(file).exists():
        where = engine.url.render_as_string(hide_password=True)
        message = f"cannot open the store at {where}: no such file"
        if not Path(file).is_absolute():
            message += f" {Path(file).resolve()} (a relative path is read from the current folder"
            message += ")" if then else ": run this where the service runs, or set DATABASE_URL)"
        raise click.ClickException(message + (f": {then}" if then else ""))


def _reason(exc: Exception) -> str:
    """A SQLAlchemy error's first line, from the driver's own error when there is one."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def _join_names(names: tuple[str, ...]) -> str:
    return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"


def describe_dry_run(settings: Settings, system: str) -> str:
    """Why a system runs in dry-run: which of its variables are missing, and when some are set,
    which are (a partial set, a mistyped name, was told "no credentials set"; and with none
    set, a first trial was not told which variables to set)."""
    unset = settings.find_unset_credentials(system)
    given = tuple(name for name in WRITE_CREDENTIALS[system] if name not in unset)
    effect = "actions are recorded and logged, not sent"
    if not unset:
        return f"no credentials set: {effect}"
    if not given:
        return f"{_join_names(unset)} {'is' if len(unset) == 1 else 'are'} not set: {effect}"
    return (
        f"{_join_names(unset)} {'is' if len(unset) == 1 else 'are'} not set, "
        f"{_join_names(given)} {'is' if len(given) == 1 else 'are'} "
        f"(sending needs all {len(WRITE_CREDENTIALS[system])}): {effect}"
    )


def _configure_classifying_logs() -> None:
    """Warnings with their fields (not Python's bare last-resort line), for a command that
    classifies tickets; and, now that they are written, whether the classifier's dictionaries
    could be cached (workflows/lexicon.py: the lexicon is made while the classifier is
    imported, before any handler)."""
    configure_logging("WARNING")
    from deskbridge.workflows.lexicon import log_cache_unavailable

    log_cache_unavailable()


def build_listen_url(host: str, port: int) -> str:
    """The URL serve listens on; an IPv6 address in brackets, as URLs write it."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _prepare_runtime(takes_webhooks: bool):
    settings, rules = _read_config()
    return _open_runtime(settings, rules, takes_webhooks)


def _read_config() -> tuple[Settings, RulesConfig]:
    """The settings and the rules file, or exit 1 once their mistakes are listed; their
    warnings logged by setting (no value)."""
    settings, rules, warnings, path = _read_settings_and_rules(log_with_settings=True)
    if settings is None or rules is None:
        sys.exit(1)
    # The warnings themselves are check-config's: they quote the values they are about (an
    # email pasted as an id), which the log must not hold. The log says how many, and the
    # settings they are about (each warning's path, before its ": "; no value).
    if warnings:
        log_event(
            log,
            logging.WARNING,
            "rules.warnings",
            path=str(path),
            count=len(warnings),
            settings=",".join(warning.partition(": ")[0] for warning in warnings),
            hint=f"deskbridge check-config {path} lists them",
        )
    return settings, rules


def _open_runtime(settings: Settings, rules: RulesConfig, takes_webhooks: bool):
    """The runtime on a store created or migrated to this version's revision."""
    from deskbridge.app import create_runtime, log_missing_webhook_secret
    from deskbridge.store.db import migrate_store

    with _opening_store(settings.database_url):
        runtime = create_runtime(settings, rules)
        before, after = migrate_store(runtime.engine)
    url = runtime.engine.url.render_as_string()
    if before == after:
        log_event(log, logging.INFO, "store.up_to_date", url=url, revision=after)
    else:
        log_event(
            log,
            logging.INFO,
            "store.migrated",
            url=url,
            from_revision=before or "none",
            to_revision=after,
        )
    # A worker takes no webhooks: the warning belongs in the log of the process that does.
    if takes_webhooks:
        log_missing_webhook_secret(settings, rules)
    # A helpdesk the team does not use is in dry-run by design, and left out: nothing to say.
    for system, dry in runtime.dry_run.items():
        if dry:
            log_event(
                log,
                logging.WARNING,
                "dry_run.enabled",
                system=system,
                hint=describe_dry_run(settings, system),
            )
    return runtime


MAX_THREADS = 256


class IntegerInRange(click.IntRange):
    """click's IntRange, named for what it reads: a word given for --port or --id was "not a
    valid integer range", as if a range (1-5) had been asked for."""

    name = "integer"


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="the address to listen on (0.0.0.0: every interface of this machine)",
)
# Checked here, before anything starts: waitress takes a port past 65535 modulo 65536 (70000
# listened on 4464) and 0 as "any free port", and with 0 threads listens but never answers.
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=IntegerInRange(1, 65535),
    help="the port to listen on",
)
# Waitress starts every thread at once; past a few dozen they only wait, for the one SQLite
# writer or PostgreSQL's connections, so a bound turns a typo (80000) into a clear error.
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=IntegerInRange(1, MAX_THREADS),
    help="requests answered at once (webhooks, Slack, health checks)",
)
# Their defaults are the settings' (DESKBRIDGE_CONNECTION_LIMIT, DESKBRIDGE_CHANNEL_TIMEOUT).
@click.option(
    "--connection-limit",
    type=IntegerInRange(min=1),
    show_default="DESKBRIDGE_CONNECTION_LIMIT, else 1000",
    help="open connections before new ones wait (waitress' default of 100 let ~110 "
    "half-sent requests from one client lock everyone out)",
)
@click.option(
    "--channel-timeout",
    type=IntegerInRange(min=1),
    show_default="DESKBRIDGE_CHANNEL_TIMEOUT, else 30",
    help="seconds a connection may sit idle (a half-sent request, a silent keep-alive) "
    "before the server closes it",
)
def serve(
    host: str, port: int, threads: int, connection_limit: int | None, channel_timeout: int | None
) -> None:
    """Web, decider, dispatcher and timers in one process (for production, see docs/deploy.md)."""
    from deskbridge.app import create_app
    from deskbridge.config.waitress_server import bind_server, close_server, set_app
    from deskbridge.connectors.registry import CONNECTORS

    settings, rules = _read_config()
    connection_limit = connection_limit or settings.connection_limit
    channel_timeout = channel_timeout or settings.channel_timeout
    webhooks = ", ".join(f"/webhooks/{source.value}" for source in CONNECTORS)
    # A body too large is counted in the runtime's metrics, made after the port is bound (and
    # before any request is taken).
    counters: list[Callable[[str, int, str], None]] = []

    def on_too_large(path: str, limit: int, field: str) -> None:
        for count in counters:
            count(path, limit, field)

    try:
        # Bound before the store is opened (created or migrated), the background threads
        # start and "listening" is said: a busy port is one plain error, with nothing created,
        # not a traceback after a claim that it listens.
        server = bind_server(
            max_body_bytes=settings.max_body_bytes,
            on_too_large=on_too_large,
            host=host,
            port=port,
            threads=threads,
            ident="deskbridge",
            connection_limit=connection_limit,
            channel_timeout=channel_timeout,
            # Idle connections are looked for every second, so one is closed within
            # channel_timeout + 1 s (waitress' default looks every 30 s).
            cleanup_interval=1,
            # select() cannot watch descriptors above 1024; a thousand connections need
            # poll().
            asyncore_use_poll=True,
        )
    except (OSError, ValueError) as error:
        # waitress raises ValueError for a host it cannot resolve (999.1.1.1, a mistyped name).
        if isinstance(error, ValueError) or error.errno == errno.EADDRNOTAVAIL:
            hint = (
                "not an address of this machine: --host takes one of its addresses or names, "
                "like 127.0.0.1, or 0.0.0.0 for every interface"
            )
            why = "no such address" if isinstance(error, ValueError) else error.strerror
        else:
            why = error.strerror or str(error)
            hint = "another process has it? choose a port with --port, or make run PORT=…"
        raise click.ClickException(f"cannot listen on {host}:{port}: {why} ({hint})") from None
    try:
        runtime = _open_runtime(settings, rules, takes_webhooks=True)
    except BaseException:  # a store that cannot be opened: the port is let go as the CLI exits
        close_server(server)
        raise
    counters.append(_count_too_large(runtime))
    set_app(server, create_app(runtime=runtime))
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C or SIGTERM: a clean stop
            # Before the loops start: a SIGTERM as they start (systemd stopping a service it
            # has just started) killed the process mid-dispatch, the signal's default.
            _stop_on_sigterm()
            runtime.start_background()
            click.echo(
                f"deskbridge listening on {build_listen_url(host, port)} "
                f"(webhooks: POST {webhooks}; health: GET /healthz)",
                err=True,
            )
            # No server.print_listen(): waitress' "Serving on" line would repeat the above.
            server.run()
    finally:
        runtime.stop_background()


def _count_too_large(runtime):
    """What the app does with a body over the limit, for the bodies waitress refuses before
    the app sees them: counted in /metrics and logged, by source."""
    from deskbridge.connectors.http import record_too_large
    from deskbridge.connectors.registry import CONNECTORS

    sources = {f"/webhooks/{source.value}": source.value for source in CONNECTORS}
    sources["/slack/events"] = "slack"

    def on_too_large(path: str, limit: int, field: str) -> None:
        record_too_large(runtime.metrics, sources.get(path.rstrip("/"), "other"), limit, field)

    return on_too_large


@main.command()
def worker() -> None:
    """Decider, dispatcher and timers; run the web part with `deskbridge web` (docs/deploy.md)."""
    runtime = _prepare_runtime(takes_webhooks=False)
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C or SIGTERM: a clean stop
            _stop_on_sigterm()  # before the loops start, as serve's
            runtime.start_background()
            click.echo("deskbridge worker running (Ctrl-C to stop)", err=True)
            while not runtime.stop.wait(1):
                pass
    finally:
        runtime.stop_background()


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("gunicorn_options", nargs=-1, type=click.UNPROCESSED)
def web(gunicorn_options: tuple[str, ...]) -> None:
    """The web part under gunicorn with deskbridge's settings (config/gunicorn.py,
    docs/deploy.md); any options are passed to gunicorn. Run `deskbridge migrate` first."""
    # gunicorn reads WEB_CONCURRENCY with int() as it is imported, so an empty one (an env
    # file's `WEB_CONCURRENCY=`) or a word would stop it with a traceback before any config is
    # read: empty means unset here, and anything else wrong is one line naming it.
    if not os.environ.get("WEB_CONCURRENCY", "unset").strip():
        del os.environ["WEB_CONCURRENCY"]
    try:
        import deskbridge.config.gunicorn  # noqa: F401 (reads WEB_CONCURRENCY as gunicorn will)
    except SystemExit as problem:
        raise click.ClickException(str(problem)) from None
    from gunicorn.app.wsgiapp import WSGIApplication

    sys.argv = [
        "deskbridge web",
        "--config",
        "python:deskbridge.config.gunicorn",
        *gunicorn_options,
        "deskbridge.app:create_app()",
    ]
    # gunicorn reads its options (and GUNICORN_CMD_ARGS, and a config file's) as it is made,
    # and moves to --chdir; its -e/--env variables it sets as it starts, before any worker.
    # Both are applied before the checks, which then read the environment and the rules file
    # and store (relative paths too) as the workers will: they ran in the shell's directory
    # and environment, passing a store or file the workers did not use, or refusing one they
    # would have used.
    application = WSGIApplication("%(prog)s [GUNICORN OPTIONS]", prog="deskbridge web")
    try:
        os.environ.update(application.cfg.env)
    except RuntimeError as problem:  # -e without "=", which gunicorn would stop on too
        raise click.ClickException(f"{problem}: -e takes NAME=value") from None
    # The environment and the rules file, checked once here as serve and worker check them:
    # left to gunicorn's workers, each stopped on a mistake with a traceback in pydantic's
    # words (the list twice), and systemd restarted the unit in a loop. Logging is set up
    # first, as serve's: the web's own start-up lines are written with their fields, and the
    # workers, forked from here, write as it does.
    (folder, lock, removed), master = _metrics_folder(), os.getpid()
    try:
        settings, rules, _warnings, _path = _read_settings_and_rules(log_with_settings=True)
        if settings is None or rules is None:
            sys.exit(1)
        if removed:
            log_event(
                log,
                logging.INFO,
                "web.metrics_folders_removed",
                count=len(removed),
                folders=",".join(removed),
                reason="left by runs that ended without stopping (killed)",
            )
        _refuse_a_store_not_migrated(settings.database_url)
        _size_for_the_store(application, settings.database_url)
        application.run()
    finally:
        # Ours, made for this run: removed as gunicorn stops (or a check refuses), by the
        # master only: a worker is forked inside application.run() and leaves by SystemExit
        # through here too, which removed the folder under its siblings.
        if folder is not None and os.getpid() == master:
            shutil.rmtree(folder, ignore_errors=True)
            os.close(lock)
            for name in ("PROMETHEUS_MULTIPROC_DIR", PRIVATE_METRICS_FOLDER):
                os.environ.pop(name, None)  # a caller in-process (tests)


# The private metrics folders `deskbridge web` makes in $TMPDIR, one a run.
METRICS_FOLDER_PREFIX = "deskbridge-metrics-"
# In each: a file its run holds locked (flock) while any of its processes lives (the workers
# inherit the lock from the master that took it), so a run killed with SIGKILL, which never
# removed its folder, is known by its lock being free, whichever PID namespace it ran in.
METRICS_FOLDER_LOCK = "owner.lock"
# Which PROMETHEUS_MULTIPROC_DIR a run of ours set (its private folder), as its environment
# passes it on.
PRIVATE_METRICS_FOLDER = "DESKBRIDGE_PRIVATE_METRICS_FOLDER"


def _metrics_folder() -> tuple[str | None, int, list[str]]:
    """Where gunicorn's workers write their metrics, so /metrics, answered by any one of
    them, counts every worker's webhooks (deskbridge.workflows.metrics). Set before gunicorn
    starts its workers, and before anything here imports prometheus_client, which reads it as
    it is imported. The operator's PROMETHEUS_MULTIPROC_DIR if set (left as it is: empty it
    between runs), else a new private folder, returned with its lock (held: close it once the
    folder is removed, as gunicorn stops); and the folders of dead runs removed first. A
    folder a run of ours made is not the operator's: gunicorn's USR2 upgrade executes this
    command again with the old master's environment, and the old master removes its folder
    as it stops, under the new run's workers."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given and given == os.environ.get(PRIVATE_METRICS_FOLDER):
        given = None
    if given:
        if not os.path.isdir(given) or not os.access(given, os.W_OK | os.X_OK):
            raise click.ClickException(
                f"PROMETHEUS_MULTIPROC_DIR={given!r} is not a folder this user can write to: "
                "create it (empty), or unset it for a private one per run"
            )
        return None, -1, []
    import fcntl  # gunicorn's platforms only (serve runs where there is none)

    removed = remove_dead_runs_metrics_folders(tempfile.gettempdir())
    folder = tempfile.mkdtemp(prefix=METRICS_FOLDER_PREFIX)
    # Locked under another name, then named: a folder's lock file, once there, is held, so
    # another start never takes a run's folder for a dead one while it is being made.
    making = os.path.join(folder, METRICS_FOLDER_LOCK + ".new")
    lock = os.open(making, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    os.rename(making, os.path.join(folder, METRICS_FOLDER_LOCK))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ[PRIVATE_METRICS_FOLDER] = folder
    return folder, lock, removed


def remove_dead_runs_metrics_folders(parent: str) -> list[str]:
    """Remove from `parent` the private metrics folders of `deskbridge web` runs none of whose
    processes lives (killed, they never removed theirs: a folder and a file per worker each,
    left in $TMPDIR for good); their names. Only folders named as `deskbridge web` names
    them, owned by this user, whose lock file is free; one without a lock file (made by an
    older version) is left, as is anything else."""
    import fcntl

    removed = []
    with os.scandir(parent) as entries:
        for entry in entries:
            if not entry.name.startswith(METRICS_FOLDER_PREFIX):
                continue
            if not entry.is_dir(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            try:
                lock = os.open(
                    os.path.join(entry.path, METRICS_FOLDER_LOCK), os.O_RDONLY | os.O_NOFOLLOW
                )
            except OSError:
                continue
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held: a process of that run still lives
                os.close(lock)
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            os.close(lock)
            removed.append(entry.name)
    return removed


def _size_for_the_store(application, url: str) -> None:
    """The workers for the store, said in the log: unless WEB_CONCURRENCY or gunicorn's options
    (-w, GUNICORN_CMD_ARGS, a config file of one's own) give a number, one on SQLite, whose one
    writer more workers would only queue for (config/gunicorn.py, default_workers); more than
    one given on SQLite are run as given, with a warning saying what to do. Sized here, not
    only in the settings module: gunicorn's -e options are applied after it was read (an -e
    DATABASE_URL=… names the store the workers use)."""
    from deskbridge.config.gunicorn import is_sqlite, read_workers

    parser = application.cfg.parser()
    given = [
        parser.parse_args(sys.argv[1:]),
        parser.parse_args(application.cfg.get_cmd_args_from_env()),
    ]
    sqlite = is_sqlite(url)
    if not any(
        args.workers is not None or args.config not in (None, "python:deskbridge.config.gunicorn")
        for args in given
    ):
        try:
            application.cfg.set("workers", read_workers(os.environ.get("WEB_CONCURRENCY"), sqlite))
        except SystemExit as problem:  # an -e WEB_CONCURRENCY=… option's
            raise click.ClickException(str(problem)) from None
    workers = application.cfg.workers
    if sqlite and workers > 1:
        log_event(
            log,
            logging.WARNING,
            "web.sqlite_workers",
            workers=workers,
            hint="SQLite has one writer: the workers queue for it (a webhook may wait its "
            "commit out); run one (WEB_CONCURRENCY=1) or use PostgreSQL (docs/deploy.md)",
        )
    elif sqlite:
        log_event(
            log,
            logging.INFO,
            "web.sqlite_one_worker",
            hint="one worker on SQLite, which has one writer; for more, use PostgreSQL "
            "(docs/deploy.md)",
        )


def _refuse_a_store_not_migrated(url: str) -> None:
    """`deskbridge web` migrates nothing (`deskbridge migrate` does, as the web unit's
    ExecStartPre): a store that answers without deskbridge's tables, or at an older revision
    of this version's, is refused with what to run. Started on one, the web answered every
    webhook 503 "event store unavailable" and /readyz "store down" while the database was up,
    and logged only `error=ProgrammingError`. A store that does not answer is left to the
    running web, which answers 503 until it does (docs/deploy.md §2)."""
    from sqlalchemy.exc import SQLAlchemyError

    from deskbridge.store.db import (
        connect_for_reading,
        create_store_engine,
        has_schema,
        newer_revision,
        store_revision,
    )

    with _opening_store(url):
        engine = create_store_engine(url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        _refuse_a_missing_file(engine, "run `deskbridge migrate` first, which creates it")
        # A read: on SQLite not the writer's BEGIN IMMEDIATE, which waited up to 30 s for a
        # running worker's batch, then let an unread store through as one not answering.
        with connect_for_reading(engine) as connection:
            revision = store_revision(connection) if has_schema(connection) else None
            migrated = revision is not None
    except SQLAlchemyError:
        return
    finally:
        engine.dispose()
    if not migrated:
        raise _never_migrated(where)
    head = newer_revision(revision)
    if head is not None:
        raise click.ClickException(
            f"the store at {where} is at revision {revision}, this deskbridge needs {head}: run "
            "`deskbridge migrate` first"
        )


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd's stop, Docker, Kubernetes) stops like Ctrl-C: the background threads
    finish their batch and the process exits 0, instead of dying mid-transaction."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


@main.command()
def migrate() -> None:
    """Apply database migrations (serve and worker do this at start)."""
    from deskbridge.store.db import create_store_engine, migrate_store

    # Only what migrating needs: the store. Credentials, the webhook secret and the rules
    # file concern serve and worker, which check them (and migrate) when they start.
    settings = _settings()
    configure_logging(settings.log_level)
    with _opening_store(settings.database_url):
        engine = create_store_engine(settings.database_url)
        before, after = migrate_store(engine)
    where = engine.url.render_as_string()
    if before == after:
        click.echo(f"{where}: already up to date (revision {after})", err=True)
    else:
        click.echo(f"{where}: migrated from revision {before or 'none'} to {after}", err=True)


def _open_store():
    """The store redecide, outbox retry and purge change, migrated; one that does not exist,
    or was never migrated, is refused as the reading commands refuse it (only serve, worker
    and migrate make a store)."""
    from deskbridge.store.db import create_store_engine, has_schema, migrate_store

    url = _settings().database_url
    with _opening_store(url):
        engine = create_store_engine(url)
        _refuse_a_missing_file(engine)
        # A database never migrated is no deskbridge store (a DATABASE_URL naming another
        # one): these commands made all of deskbridge's tables in it. Refused as reads are.
        with engine.connect() as connection:
            migrated = has_schema(connection)
        if not migrated:
            where = engine.url.render_as_string(hide_password=True)
            engine.dispose()
            raise _never_migrated(where)
        migrate_store(engine)
    return engine


def _format_option(listing: str) -> Callable:
    """--format text|json of a command that counts, or lists with `listing` (--failed, --dead)."""
    return click.option(
        "--format",
        "output",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=f"text: the counts, or with {listing} a heading line and a row each, its id "
        f"first; json: one object of counts, or with {listing} one object a line",
    )


def _failed_and_format_options(failed_help: str) -> Callable:
    """`deskbridge events` and `timers`: --failed (`failed_help`) and --format text|json."""

    def decorate(command: Callable) -> Callable:
        command = _format_option("--failed")(command)
        return click.option("--failed", is_flag=True, help=failed_help)(command)

    return decorate


@main.command()
@_failed_and_format_options(
    "list the events the rules raised on, with the error (for `deskbridge redecide`)"
)
def events(failed: bool, output: str) -> None:
    """How many stored events are undecided, decided and failed; with --failed, the failed
    ones (the decider could not decide them: the rules raised), each with its error."""
    from deskbridge.store.events import (
        DECIDED,
        FAILED,
        UNDECIDED,
        count_events,
        list_failed_events,
    )

    def lines(rows: list[dict]) -> Iterator[str]:
        return _table(
            (("id", 8, ">"), ("ticket", 24, "<"), ("kind", 18, "<"), ("failed_at", 0, "<")),
            "error",
            [
                (
                    str(row["id"]),
                    row["ticket"],
                    row["kind"],
                    _iso_default(row["failed_at"]),
                    _one_line(row["error"]),
                )
                for row in rows
            ],
        )

    # `events` alone listed the failed ones too, so --failed changed nothing.
    _show_counts_or_failed(
        "event",
        lambda connection: {s: count_events(connection, s) for s in (UNDECIDED, DECIDED, FAILED)},
        list_failed_events if failed else None,
        lines,
        output,
        "after the fix, deskbridge redecide decides them again (--id N, the first column: only "
        "those given)",
    )


def _show_counts_or_failed(
    noun: str,
    count: Callable[[Connection], dict[str, int]],
    list_failed: Callable[[Connection], list[dict]] | None,
    lines: Callable[[list[dict]], Iterable[str]],
    output: str,
    hint: str | None = None,
) -> None:
    """`deskbridge events` and `deskbridge timers`: how many are in each state (text: a line
    naming the store; json: one object), or with `list_failed` (--failed) the failed ones (text:
    `lines`, then how many on stderr, and `hint` if any; json: one object a line, none when none
    failed). Read as digest reads: without the service's DATABASE_URL no empty store is made
    here, whose "0 failed" would pass for the service's."""
    with _reading_store(_settings().database_url) as connection:
        where = connection.engine.url.render_as_string(hide_password=True)
        found = count(connection) if list_failed is None else list_failed(connection)
    if list_failed is None:
        if output == "json":
            click.echo(json.dumps(found))
            return
        total = count_noun(sum(found.values()), noun)
        click.echo(f"{total} in {where}: " + ", ".join(f"{n} {s}" for s, n in found.items()))
        if found["failed"]:
            click.echo(f"deskbridge {noun}s --failed lists the failed ones", err=True)
        return
    if output == "json":
        for row in found:
            click.echo(json.dumps(row, default=_iso_default))
        return
    for line in lines(found):
        click.echo(line)
    click.echo(f"{count_noun(len(found), 'failed ' + noun)} in {where}", err=True)
    if found and hint:
        click.echo(hint, err=True)


def _table(
    columns: tuple[tuple[str, int, str], ...], last: str, rows: list[tuple[str, ...]]
) -> Iterator[str]:
    """A text listing's lines: a heading line naming the columns (as --format json names the
    fields), then a row each. `columns` are (heading, least width, "<" or ">"); each is as wide
    as its longest value or heading, at least its least width, so a Salesforce case
    (`salesforce:` and 18 characters) or a target with its channel does not push the columns
    after it out of line. `last` (an error) is left as long as it is. No rows, no heading:
    stdout stays empty, and stderr says how many."""
    if not rows:
        return
    widths = [
        max(least, len(heading), *(len(row[n]) for row in rows))
        for n, (heading, least, _) in enumerate(columns)
    ]

    def line(cells: tuple[str, ...]) -> str:
        padded = (
            f"{cell:{align}{width}}"
            for cell, width, (_, _, align) in zip(cells, widths, columns, strict=False)
        )
        return "  ".join((*padded, cells[-1]))

    yield line((*(heading for heading, _, _ in columns), last))
    for row in rows:
        yield line(row)


def _iso_default(value):
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _one_line(error: str | None) -> str:
    """An error as a text table's last column shows it: one row a line (pydantic's messages,
    a helpdesk's answer run over lines); --format json keeps it as stored."""
    return " ⏎ ".join(line.strip() for line in str(error).splitlines() if line.strip())


_ERROR_NOT_KEPT = (
    "(not kept: it failed before deskbridge kept timers' errors; the log's timer.failed line "
    "names its type)"
)


@main.command()
@_failed_and_format_options(
    "list the timers whose rule raised, with the error (for `deskbridge redecide`)"
)
def timers(failed: bool, output: str) -> None:
    """How many deadlines (SLA stages, hand-offs, on-call steps and watches) are pending, fired,
    cancelled and failed; with --failed, the failed ones (their rule raised), each with its
    ticket, kind, due time and error. `deskbridge redecide` fires them after the fix."""
    from deskbridge.store.timers import (
        CANCELLED,
        FAILED,
        FIRED,
        PENDING,
        count_timers,
        list_failed_timers,
    )

    def lines(rows: list[dict]) -> Iterator[str]:
        # A timer that failed before migration 0014 has no error stored: "None" read as if
        # the error were the word None.
        return _table(
            (("id", 24, "<"), ("ticket", 24, "<"), ("kind", 18, "<"), ("due_at", 0, "<")),
            "error",
            [
                (
                    row["id"],
                    row["ticket"],
                    row["kind"],
                    _iso_default(row["due_at"]),
                    _one_line(row["error"] if row["error"] is not None else _ERROR_NOT_KEPT),
                )
                for row in rows
            ],
        )

    statuses = (PENDING, FIRED, CANCELLED, FAILED)
    _show_counts_or_failed(
        "timer",
        lambda connection: {s: count_timers(connection, s) for s in statuses},
        list_failed_timers if failed else None,
        lines,
        output,
        "after the fix, deskbridge redecide fires them (--timer ID: only those given)",
    )


@main.command()
# An event id is a 64-bit integer from 1: a larger one was SQLite's OverflowError traceback.
@click.option(
    "--id",
    "ids",
    type=IntegerInRange(1, 2**63 - 1),
    multiple=True,
    help="only these event ids (repeatable; deskbridge events --failed lists them)",
)
@click.option(
    "--timer",
    "timer_ids",
    multiple=True,
    help="only these timer ids (repeatable; deskbridge timers --failed lists them)",
)
def redecide(ids: tuple[int, ...], timer_ids: tuple[str, ...]) -> None:
    """Put failed events and timers back (after a fix) and decide them now: the events in the
    decider's queue, the timers pending at their own due times, so they fire at once (late, as
    their reasons say). With --id or --timer, only those."""
    from deskbridge.store.events import failed_event_keys, requeue_failed_events
    from deskbridge.store.timers import failed_timer_ids, requeue_failed_timers
    from deskbridge.workflows.decider import Decider

    _configure_classifying_logs()
    engine = _open_store()
    rules = _load_or_exit(_settings().config_path)
    picked = bool(ids or timer_ids)
    with engine.begin() as connection:
        put_back = failed_event_keys(connection, list(ids) if picked else None)
        timers_put_back = failed_timer_ids(connection, list(timer_ids) if picked else None)
        queued = requeue_failed_events(connection, list(ids) if picked else None)
        timers_queued = requeue_failed_timers(connection, list(timer_ids) if picked else None)
    decider = Decider(engine, rules, lambda: datetime.now(UTC))
    # The events' batches fire their tickets' timers due before them; the sweep after them
    # fires the timers still due (those put back among them), as the service's timer loop.
    outcomes: Counter[tuple[bool, bool]] = Counter()  # (a timer?, failed?)
    here: set[str] = set()
    for decide in (decider.decide_pending, decider.fire_due_timers):
        while batch := decide():
            outcomes.update((d.is_timer, d.error is not None) for d in batch)
            here.update(d.cause for d in batch)
    decided, failed = outcomes[False, False], outcomes[False, True]
    fired, timers_failed = outcomes[True, False], outcomes[True, True]
    click.echo(f"{count_noun(queued, 'event')} put back; {decided} decided, {failed} failed again")
    click.echo(
        f"{count_noun(timers_queued, 'timer')} put back; {fired} fired, "
        f"{timers_failed} failed again"
    )
    # An id mistyped, or of an event or timer that did not fail, would otherwise pass for
    # success.
    missed = len(set(ids)) - queued if ids else 0
    if missed:
        click.echo(
            f"{missed} of the {count_noun(len(set(ids)), 'id')} given "
            f"{'is not a failed event' if missed == 1 else 'are not failed events'} "
            "(see deskbridge events --failed)",
            err=True,
        )
    timers_missed = len(set(timer_ids)) - timers_queued if timer_ids else 0
    if timers_missed:
        click.echo(
            f"{timers_missed} of the {count_noun(len(set(timer_ids)), 'timer id')} given "
            f"{'is not a failed timer' if timers_missed == 1 else 'are not failed timers'} "
            "(see deskbridge timers --failed)",
            err=True,
        )
    failed_elsewhere = _report_decided_elsewhere(
        engine,
        [n for n, key in put_back.items() if key not in here],
        [n for n in timers_put_back if f"timer:{n}" not in here],
    )
    sys.exit(1 if failed or timers_failed or missed or timers_missed or failed_elsewhere else 0)


def _report_decided_elsewhere(engine, event_ids: list[int], timer_ids: list[str]) -> bool:
    """Say what became of the events and timers `redecide` put back that a running serve or
    worker took before its own decider (theirs poll every 0.5 s): "0 decided, 0 failed again"
    and exit 0 was said of an event that failed again there. True when any failed again."""
    from deskbridge.store.events import DECIDED, FAILED, UNDECIDED, event_statuses
    from deskbridge.store.timers import FIRED, PENDING, timer_statuses

    with engine.connect() as connection:
        events_now = Counter(event_statuses(connection, event_ids).values()) if event_ids else None
        timers_now = Counter(timer_statuses(connection, timer_ids).values()) if timer_ids else None
    for noun, now, done, waiting in (
        ("event", events_now, DECIDED, UNDECIDED),
        ("timer", timers_now, FIRED, PENDING),
    ):
        if now:
            click.echo(
                f"{count_noun(sum(now.values()), noun)} put back "
                f"{'was' if sum(now.values()) == 1 else 'were'} taken by a running serve or "
                f"worker, not here: {now[done]} {'decided' if noun == 'event' else 'fired'}, "
                f"{now[FAILED]} failed again, {now[waiting]} still to "
                f"{'decide' if noun == 'event' else 'fire'} (deskbridge {noun}s --failed lists "
                "those that failed)",
                err=True,
            )
    return bool((events_now and events_now[FAILED]) or (timers_now and timers_now[FAILED]))


@main.group(invoke_without_command=True)
@click.option(
    "--dead",
    is_flag=True,
    help="list the dead-lettered actions, with their last error (for `deskbridge outbox retry`)",
)
@_format_option("--dead")
@click.pass_context
def outbox(ctx: click.Context, dead: bool, output: str) -> None:
    """How many actions are pending, done, done in dry-run (logged, not sent) and
    dead-lettered; with --dead, the dead letters (given up after their last attempt or a
    permanent error: a revoked token, a channel the bot left), each with its error.
    `deskbridge outbox retry` sends them again."""
    from deskbridge.store.outbox import DEAD, DRY_RUN, count_by_state, list_dead_actions

    if ctx.invoked_subcommand is not None:
        return
    # Read as `events` reads: no empty store is made whose "0 dead" would pass for the service's.
    with _reading_store(_settings().database_url) as connection:
        where = connection.engine.url.render_as_string(hide_password=True)
        if not dead:
            counts = count_by_state(connection)
        else:
            rows = list_dead_actions(connection)
    if not dead:
        if output == "json":
            click.echo(json.dumps(counts))
            return
        total = count_noun(sum(counts.values()), "action")
        click.echo(f"{total} in {where}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        if counts[DRY_RUN]:
            click.echo(
                "the dry-run ones were logged, not sent: their system's credentials were "
                "unset (at start-up, serve and worker name them: dry_run.enabled)",
                err=True,
            )
        if counts[DEAD]:
            click.echo("deskbridge outbox --dead lists the dead ones", err=True)
        return
    # Where it had still to go when it died, the channel that refused it first; else (a row
    # that did not say) its role and channel setting: an escalation refused in the leads'
    # channel showed as going to the specialists', its `channel`.
    tos = [
        ",".join(row["unreached"] or ())
        or " ".join(str(v) for v in (row["target"], row["channel"]) if v)
        or "-"
        for row in rows
    ]
    if output == "json":
        for row in rows:
            click.echo(json.dumps(row, default=_iso_default))
    else:
        columns = (
            ("id", 8, ">"),
            ("ticket", 24, "<"),
            ("kind", 14, "<"),
            ("to", 24, "<"),
            ("attempts", 0, ">"),
            ("dead_at", 0, "<"),
        )
        for line in _table(
            columns,
            "last_error",
            [
                (
                    str(row["id"]),
                    row["ticket"],
                    row["kind"],
                    to,
                    str(row["attempts"]),
                    _iso_default(row["dead_at"]),
                    _one_line(row["last_error"]),
                )
                for row, to in zip(rows, tos, strict=True)
            ],
        ):
            click.echo(line)
    if output == "text":
        click.echo(f"{count_noun(len(rows), 'dead-lettered action')} in {where}", err=True)
        if rows:
            click.echo(
                "once the cause is fixed, deskbridge outbox retry --id N (or --all-dead) "
                "sends them again",
                err=True,
            )


@outbox.command("retry")
# An outbox id is a 64-bit integer from 1, as an event's (redecide).
@click.option(
    "--id",
    "ids",
    type=IntegerInRange(1, 2**63 - 1),
    multiple=True,
    help="these dead-lettered actions (repeatable; ids from `deskbridge outbox --dead`)",
)
@click.option("--all-dead", is_flag=True, help="every dead-lettered action")
@click.option(
    "--since",
    metavar="DURATION",
    help='only those that died within DURATION ("6h", "2d"): with --all-dead, the dead '
    "letters of one outage, not months of old ones",
)
@click.option(
    "--out-of-order",
    is_flag=True,
    help="also those a later message to a channel they have still to reach (or a later pager "
    "event of their incident) was performed after (left dead otherwise: sent now, they would "
    "arrive after it)",
)
def outbox_retry(
    ids: tuple[int, ...], all_dead: bool, since: str | None, out_of_order: bool
) -> None:
    """Put dead-lettered actions back in the queue, due now, their attempts started again
    (after the cause is fixed). Each keeps its idempotency key, and its performer first looks
    for what an earlier attempt delivered, so a retry cannot send it twice. One that a later
    Slack message about the same ticket was posted after, in a channel it has still to reach
    (a warning after its breach, in the leads' thread), or a later pager event of its incident
    performed after (a trigger after the resolve would open the incident again), is left dead
    unless --out-of-order. A later message in another channel leaves it in order."""
    from deskbridge.config.rules import parse_duration
    from deskbridge.store.outbox import requeue_dead_actions

    if not ids and not all_dead:
        raise click.UsageError("give the actions to retry: --id N (repeatable) or --all-dead")
    if ids and all_dead:
        raise click.UsageError("--id and --all-dead together: give one of them")
    now = datetime.now(UTC)
    died_after = None
    if since is not None:
        try:
            died_after = now - parse_duration(since)
        except ValueError as exc:
            raise click.BadParameter(f"{since!r}: {exc}", param_hint="'--since'") from None
    engine = _open_store()
    with engine.begin() as connection:
        done = requeue_dead_actions(
            connection, now, list(ids) or None, since=died_after, superseded_too=out_of_order
        )
    engine.dispose()
    click.echo(
        f"{count_noun(len(done.requeued), 'action')} put back in the queue; the dispatcher "
        f"(serve or worker) performs {'it' if len(done.requeued) == 1 else 'them'} now"
    )
    if done.superseded:
        one = len(done.superseded) == 1
        it, has, ids_given = ("it", "has", "id") if one else ("they", "have", "ids")
        click.echo(
            f"{count_noun(len(done.superseded), 'dead-lettered action')} left dead, a later "
            f"Slack message having been posted since to a channel {it} {has} still to reach "
            f"(or a later pager event of {'its' if one else 'their'} incident performed): sent "
            f"now, {it} would arrive after it ({ids_given} "
            f"{', '.join(map(str, done.superseded))}; --out-of-order sends "
            f"{'it' if one else 'them'} anyway)",
            err=True,
        )
    # An id mistyped, or of an action that is not dead, would otherwise pass for success.
    missed = len(set(ids)) - len(done.requeued) - len(done.superseded) if ids else 0
    if missed:
        click.echo(
            f"{missed} of the {count_noun(len(set(ids)), 'id')} given "
            f"{'is not a dead-lettered action' if missed == 1 else 'are not dead-lettered actions'}"
            f"{' that died within ' + since if since else ''} (see deskbridge outbox --dead)",
            err=True,
        )
    sys.exit(1 if missed or (ids and done.superseded) else 0)


@main.command()
@click.option("--dry-run", is_flag=True, help="only count what would be deleted")
def purge(dry_run: bool) -> None:
    """Delete rows past their retention (the rules file's `retention`), in small batches."""
    from deskbridge.store.retention import count_purgeable
    from deskbridge.store.retention import purge as purge_rows
    from deskbridge.workflows.retention import build_cutoffs

    rules = _load_or_exit(_settings().config_path)
    cutoffs = build_cutoffs(rules, datetime.now(UTC))
    if dry_run:
        # Read as digest reads: a dry run neither migrates the store nor creates a SQLite file.
        with _reading_store(_settings().database_url) as connection:
            counts = count_purgeable(connection, cutoffs)
    else:
        counts = purge_rows(_open_store(), cutoffs)
    verb = "would delete" if dry_run else "deleted"
    for name, count in counts.items():
        click.echo(
            f"{name}: {verb} {count_noun(count, 'row')} older than {cutoffs[name].isoformat()}"
        )


@main.command("sign")
@click.argument("body", type=click.File("rb"))
@click.option(
    "--slack",
    is_flag=True,
    help="sign as Slack would, with SLACK_SIGNING_SECRET (for POST /slack/events)",
)
def sign(body, slack: bool) -> None:
    """Print curl header options that sign BODY as Zendesk would, with ZENDESK_WEBHOOK_SECRET
    (for trying the webhook by hand: curl --data-binary @BODY $(deskbridge sign BODY) …);
    with --slack, as Slack signs a request to /slack/events, with SLACK_SIGNING_SECRET."""
    if slack:
        _sign_for_slack(body.read())
        return
    from deskbridge.connectors.zendesk.signature import (
        SIGNATURE_HEADER,
        TIMESTAMP_HEADER,
        build_signature,
    )

    secrets = _settings().zendesk_secrets
    if not secrets:
        # Worded like the other commands' errors (click's "Error:", exit 1), with what to do.
        raise click.ClickException(
            "ZENDESK_WEBHOOK_SECRET is not set: export it with the secret the service checks "
            "webhooks with (export ZENDESK_WEBHOOK_SECRET=dev-secret for the README's "
            "`ZENDESK_WEBHOOK_SECRET=dev-secret make run`)"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = build_signature(secrets[0], stamp, body.read())
    click.echo(f"-H {TIMESTAMP_HEADER}:{stamp} -H {SIGNATURE_HEADER}:{signature}")


def _sign_for_slack(body: bytes) -> None:
    """`sign --slack`: Slack's two headers over `body`, signed now (Slack's window is five
    minutes: sign just before sending)."""
    from deskbridge.bot.app import SIGNATURE_HEADER, TIMESTAMP_HEADER, build_slack_signature

    secret = _settings().slack_signing_secret
    if secret is None or not secret.get_secret_value():
        raise click.ClickException(
            "SLACK_SIGNING_SECRET is not set: export it with the secret the service checks "
            "Slack's requests with (export SLACK_SIGNING_SECRET=dev-slack-secret for the "
            "README's `SLACK_SIGNING_SECRET=dev-slack-secret … make run`)"
        )
    stamp = str(int(datetime.now(UTC).timestamp()))
    signature = build_slack_signature(secret.get_secret_value().encode(), stamp, body)
    click.echo(f"-H {TIMESTAMP_HEADER}:{stamp} -H {SIGNATURE_HEADER}:{signature}")


@main.command()
# Bytes: each line is decoded by itself, so one that is not UTF-8 is reported, not a traceback.
@click.argument("events", type=click.File("rb"))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="rules file (default: DESKBRIDGE_CONFIG or the example)",
)
@click.option(
    "--until",
    type=ISO_TIME,
    help="fire timers up to this time (ISO; UTC when no offset)",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="json: one action per line; text: a readable timeline",
)
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="keep the replayed store in this SQLite file (for `deskbridge digest`); must not exist",
)
@click.option(
    "--one-process",
    is_flag=True,
    help="read the file in this process too (by default a second one reads and parses it "
    "ahead where there are two CPUs; the output is the same)",
)
def replay(
    events,
    config_path: Path | None,
    until: datetime | None,
    output: str,
    store_path: Path | None,
    one_process: bool,
) -> None:
    """Feed recorded events (JSONL) through the real parsers and workflows, offline, on a
    simulated clock, and print every decided action."""
    # The collector is off from the command's start, not only while the events are decided:
    # its imports and the rules file make objects that all live to the end, and the
    # collector's passes over them were 3% of the start's instructions.
    with _without_collecting():
        _replay(events, config_path, until, output, store_path, not one_process)


def _replay(
    events,
    config_path: Path | None,
    until: datetime | None,
    output: str,
    store_path: Path | None,
    read_ahead: bool = True,
) -> None:
    from zoneinfo import ZoneInfo

    from deskbridge.connectors.registry import CONNECTORS
    from deskbridge.workflows.replay import ReplayError, format_timeline, run_replay
    from deskbridge.workflows.replay_reader import ReaderFailed
    from deskbridge.workflows.schedule import subject

    _configure_classifying_logs()
    rules = _load_or_exit(config_path or _settings().config_path)
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    failures = 0
    decided: list[dict] = []
    # One encoder for every line (json.dumps builds one per call with these options), and
    # lines written in chunks: echoing each line wrote and flushed it on its own. A record
    # is a fresh dict of JSON values, never circular: the check for it (a dict of the ids of
    # the containers open, per line) was a quarter of encoding one, the same bytes out.
    encode = _record_encoder()
    pending: list[str] = []
    store_url = None  # in memory
    if store_path is not None:
        if store_path.exists():
            # Said with what to do: replaying the README's walkthrough again into its demo.db
            # is how most meet this.
            raise click.ClickException(
                f"{store_path} already exists, and replay writes a new store, never into one: "
                f"remove it (rm {shlex.quote(str(store_path))}) or give --store a new path"
            )
        store_url = f"sqlite:///{store_path}"
    # A --store that cannot be made (no such folder, no write access) is one line, as for
    # DATABASE_URL: it was sqlite3's traceback.
    opening = _opening_store(store_url) if store_url else contextlib.nullcontext()
    try:
        with opening:
            replayed = run_replay(
                events, rules, CONNECTORS, until=until, store=store_url, read_ahead=read_ahead
            )
            for item in replayed:
                if isinstance(item, ReplayError):
                    failures += 1
                    _write_lines(pending)  # what came before it, first
                    click.echo(f"line {item.line}: {item.message}", err=True)
                elif output == "json":
                    pending.append(encode(item))
                    if len(pending) >= REPLAY_LINES_PER_WRITE:
                        _write_lines(pending)
                else:
                    decided.append(item)
    except KeyboardInterrupt:
        _write_lines(pending)
        sys.exit(130)
    except ReaderFailed as exc:  # killed from outside, or out of memory: what came before
        _write_lines(pending)
        raise click.ClickException(str(exc)) from None
    _write_lines(pending)
    if output == "text":
        for line in format_timeline(decided, ZoneInfo(rules.team.timezone)):
            click.echo(line)
        # A scheduled job's actions are about the job (`job:pace_check`), not a ticket.
        about = {r["ticket"] for r in decided}
        jobs = len({a for a in about if a.startswith(subject(""))})
        click.echo(
            f"{count_noun(len(decided), 'action')} on {count_noun(len(about) - jobs, 'ticket')}"
            f" and {count_noun(jobs, 'scheduled job')}; times in {rules.team.timezone}"
        )
    sys.exit(1 if failures else 0)


# Replay's JSON lines are written this many at a time.
REPLAY_LINES_PER_WRITE = 1000


def _record_encoder() -> Callable[[dict], str]:
    """`json.JSONEncoder(ensure_ascii=False, check_circular=False).encode`, the same text:
    the encoder's `encode` makes its C encoder again for every record (`iterencode`), a fifth
    of encoding one of replay's lines; this one is made once. Where the standard library has
    no C encoder, its own `encode`."""
    encoder = json.JSONEncoder(ensure_ascii=False, check_circular=False)
    make = json.encoder.c_make_encoder
    if make is None:
        return encoder.encode
    chunks = make(
        None,  # no markers: not checked for cycles (check_circular=False)
        encoder.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        encoder.indent,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )
    join = "".join

    def encode(record: dict) -> str:
        return join(chunks(record, 0))

    return encode


def _write_lines(lines: list[str]) -> None:
    """Echo the lines to stdout at once and empty the list. A JSON line holds no escape
    character (json writes it as \\u001b), so no colour code for click to strip when stdout is
    not a terminal: `color=True` spares that scan of every chunk (a regex over the output)."""
    if lines:
        click.echo("\n".join(lines), color=True)
        lines.clear()


@contextlib.contextmanager
def _without_collecting() -> Iterator[None]:
    """Replay is a batch run that keeps everything it decided in memory, and what it
    allocates forms next to no cycles (on the generated week its peak RSS is the same with
    the cyclic garbage collector off). The collector's young passes still went over every
    object replay keeps, once each: 0.8 s of CPU on the week even with the threshold raised
    to 100,000 (its callbacks timed it). So it is off while replay runs; reference counting
    frees everything else as before. At the end what was kept is frozen (never collected):
    the process exits next, and a last collection over it cost as much as a second."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


@main.command()
@click.option(
    "--at",
    type=ISO_TIME,
    help="the time to ask about (ISO; the team's timezone when no offset; default now)",
)
@click.option(
    "--shifts", type=IntegerInRange(0, 520), help="how many shifts ahead [3; 12 for --ical]"
)
@click.option("--ical", is_flag=True, help="write the schedule as an iCalendar feed to stdout")
def oncall(at: datetime | None, shifts: int | None, ical: bool) -> None:
    """Who is on call (at --at) and the next shifts, overrides made in Slack included."""
    from zoneinfo import ZoneInfo

    from deskbridge.store.oncall import list_overrides
    from deskbridge.workflows.rotation import build_rotation, describe_schedule, localize

    settings = _settings()
    rules = _load_or_exit(settings.config_path)
    if rules.oncall is None:
        click.echo(f"{settings.config_path}: no oncall section, so no rotation", err=True)
        sys.exit(1)
    # A time without an offset is the team's, as the schedule prints times and as `/deskbridge
    # oncall override` reads them: "who is on call Saturday 23:10" means 23:10 at the office.
    at = localize(at, ZoneInfo(rules.team.timezone)) if at else datetime.now(UTC)
    # The rotation is in the rules file: without the store it is still printed, with the
    # store's problem worded as the other commands word it.
    unshown = "overrides made in Slack are not shown"
    stored = []
    try:
        with _reading_store(settings.database_url) as connection:
            stored = list_overrides(connection)
    except click.ClickException as exc:
        click.echo(f"{exc.format_message()}; {unshown}", err=True)
    rotation = build_rotation(rules, stored)
    names = {a.slack_id: a.name for a in rules.agents}
    if ical:
        from deskbridge.workflows.oncall_ical import build_ical

        count = 12 if shifts is None else shifts
        click.echo(build_ical(rotation, at, count, names, rules.team.name), nl=False)
        return
    for line in describe_schedule(rotation, at, 3 if shifts is None else shifts, names):
        click.echo(line)


@main.command()
@click.option(
    "--date",
    "day",
    type=LocalDate(),
    help="the local day (default: today in the team's timezone)",
)
@click.option("--week", is_flag=True, help="the Monday-to-Sunday week holding the date")
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: the tables the leads see; json: one object (its keys are in the README)",
)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write the chart of responses against target, a PNG, here",
)
def digest(day: date | None, week: bool, output: str, chart: Path | None) -> None:
    """The leads' review of a day or a week, from the store at DATABASE_URL."""
    from zoneinfo import ZoneInfo

    from deskbridge.bot.digest import render_table
    from deskbridge.store.activity import read_period
    from deskbridge.workflows.digest import build_digest, build_period, count_csat, repeat_window

    configure_logging("WARNING")
    if chart is not None and not chart.parent.is_dir():
        # Said before the review is printed: a review without the chart asked for is no
        # result to keep (and the run is repeated with the folder fixed).
        raise click.ClickException(f"cannot write the chart to {chart}: No such file or directory")
    settings = _settings()
    rules = _load_or_exit(settings.config_path)
    now = datetime.now(UTC)
    local = day or now.astimezone(ZoneInfo(rules.team.timezone)).date()
    period = build_period(rules, local, week=week, now=now)
    with _reading_store(settings.database_url) as connection:
        data = read_period(connection, period, repeat_window(rules))
    result = build_digest(rules, period, data)
    if output == "json":
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(render_table(result, rules.team.name, count_csat(data)), nl=False)
    if chart is not None:
        from deskbridge.bot.chart import build_chart

        what = "week of " if week else ""
        png = build_chart(result, f"Responses against target, {what}{result['date']}")
        try:
            chart.write_bytes(png)
        except OSError as exc:  # a folder that does not exist, or one we may not write in
            raise click.ClickException(
                f"cannot write the chart to {chart}: {exc.strerror}"
            ) from None
        click.echo(f"chart written to {chart}", err=True)


@main.group()
def routing() -> None:
    """Tune the routing rules: see why a ticket goes where it goes, and measure the rules on
    your own labelled tickets."""
    _configure_classifying_logs()


_CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="rules file (default: DESKBRIDGE_CONFIG or the example)",
)


@routing.command("explain")
@click.argument("subject")
@click.argument("description", required=False, default="")
@click.option("--tag", "tags", multiple=True, help="a ticket tag (repeatable)")
@_CONFIG_OPTION
def routing_explain(
    subject: str, description: str, tags: tuple[str, ...], config_path: Path | None
) -> None:
    """Classify one ticket and show every phrase that matched with its weight, the phrases
    that did not count (negated, conditional), typos read as phrase words, and the runner-up."""
    from deskbridge.workflows.classify import classify_ticket

    rules = _load_or_exit(config_path or _settings().config_path)
    names = {key: d.name for key, d in rules.departments.items()}
    result = classify_ticket(
        rules.routing,
        subject=subject,
        description=description,
        tags=tags,
        department_names=names,
        model=rules.routing_model,
    )
    for line in format_explanation(result, rules, names):
        click.echo(line)


def format_explanation(result, rules: RulesConfig, names: dict[str, str]) -> Iterator[str]:
    categories = rules.routing.categories

    def label(category: str) -> str:
        return categories[category].label if category in categories else "not an order problem"

    def said_of(hit) -> str:
        """Why a phrase is about something else: a `not_after` word before it, or the cue of
        another category's cued phrase on the same words ("chipped on arrival")."""
        from deskbridge.workflows.classify import CONTRASTS
        from deskbridge.workflows.text import compile_phrase

        if hit.category not in categories and hit.about in CONTRASTS:
            return f'said before "{hit.about}" and a problem or a request'
        if hit.category not in categories:  # not-a-problem thanks for the conversation
            return f'thanks for "{hit.about}" before a problem (routing.courtesy_words)'
        if hit.about in rules.routing.dismissals:
            return f'let go: "{hit.about}" (routing.dismissals)'
        if hit.about in rules.routing.declines:
            return f'declined: "{hit.about}" (routing.declines)'
        verb, _, particle = (hit.about or "").partition(" ")
        if particle in rules.routing.particles.get(verb, ()):
            return f'a phrasal verb: "{hit.about}" (routing.particles)'
        category = categories.get(hit.category)
        words = {w for p in (category.not_after if category else ()) for w in compile_phrase(p)}
        if hit.about in words:
            return f'said of "{hit.about}" (one of its not_after words)'
        return f'told with "{hit.about}": the same words count for another category (its cue)'

    if result.source == "model":
        answer, probability = result.model_answer
        over = (
            f", at least routing.model_overrides_from"
            f" {rules.routing.model_overrides_from:.0%}: over the phrases' "
            + names.get(result.disputed, "not an order problem")
            if result.disputed is not None
            else ""
        )
        yield f"department: {names[answer]}  (the learned model, {probability:.0%} sure{over})"
    elif result.department is not None:
        yield (
            f"department: {names[result.department]}  ({label(result.category)},"
            f" {result.source}, score {result.score:g})"
        )
    elif result.disputed is not None:
        yield (
            f"department: none — the phrases chose {names[result.disputed]}, the learned model"
            " disagrees: the assignee is asked to pick"
        )
    elif result.source == "ambiguous":
        yield "department: none — too close to call, the assignee is asked to pick"
    elif result.source == "none":
        yield "department: none — nothing names a problem, the assignee is asked to pick"
    else:
        yield "department: none — not an order problem"
    yield f"reason: {result.reason}"
    if result.problem:
        yield f"problem behind the request: {label(result.problem)}"
    counted = [h for h in result.hits if h.counts]
    if counted:
        weight = rules.routing.subject_weight
        yield f"matched (points = words x {weight:g} in the subject x category weight):"
        for hit in counted:
            yield f'  {hit.points:>5g}  {label(hit.category)}: "{hit.phrase}" in {hit.where}'
    skipped = [h for h in result.hits if not h.counts]
    if skipped:
        yield "not counted:"
        for hit in skipped:
            why = (
                f'negated by "{hit.negated_by}"'
                if hit.negated_by
                else "none of its category's needs phrases named"
                if hit.unmet
                else said_of(hit)
                if hit.about
                else f'given: "{hit.resolved}" (routing.thanked_words)'
                if hit.resolved in rules.routing.thanked_words
                else f'over: "{hit.resolved}" (routing.resolved_words)'
                if hit.resolved
                else "mentioned or asked about, not asked for"
                if hit.unasked
                else "conditional (if …)"
            )
            yield f'         {label(hit.category)}: "{hit.phrase}" in {hit.where} — {why}'
    typos = sorted({t for h in result.hits for t in h.corrected})
    if typos:
        yield "typos read as: " + ", ".join(typos)
    if result.scores:
        ranked = sorted(result.scores.items(), key=lambda item: -item[1])
        yield "scores: " + ", ".join(f"{label(n)} {s:g}" for n, s in ranked)
    if result.model_answer is not None and result.source != "model":
        answer, probability = result.model_answer
        said = (
            f"{names[answer]} ({probability:.0%} sure)"
            if answer in names
            else f"none, not an order problem ({probability:.0%} sure)"
        )
        doubt = rules.routing.ask_when_model_disagrees
        agrees = (answer if answer in names else None) == result.department
        if result.disputed is not None:
            yield f"learned model: {said}, at least routing.ask_when_model_disagrees {doubt:.0%}"
        elif agrees and not result.asks:
            yield f"learned model: agrees, {said}"
        elif result.department is not None:
            yield (
                f"learned model: {said}, below routing.ask_when_model_disagrees {doubt:.0%}"
                if doubt is not None
                else f"learned model: {said} (routing.ask_when_model_disagrees is off)"
            )
        elif not result.asks:
            overrule = rules.routing.model_overrides_from
            yield (
                f"learned model: {said}, below routing.model_overrides_from {overrule:.0%};"
                " not an order problem, as the phrases say, stands"
                if answer in names and overrule is not None
                else f"learned model: {said}; not an order problem, as the phrases say, stands"
            )
        else:
            yield (
                f"learned model: {said}, below routing.model_min_confidence"
                f" {rules.routing.model_min_confidence:.0%}"
                if answer in names
                else f"learned model: {said}"
            )
    if result.runner_up:
        other = categories[result.runner_up]
        yield (
            f"runner-up: {names[other.department]} — {other.label}"
            f" ({result.scores[result.runner_up]:g})"
        )


@routing.command("evaluate")
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_CONFIG_OPTION
@click.option(
    "--misses/--no-misses", default=True, show_default=True, help="list every ticket routed wrongly"
)
def routing_evaluate(labelled: Path, config_path: Path | None, misses: bool) -> None:
    """Accuracy, misroutes, unclassified tickets and the confusion table on a labelled set
    (YAML list or .jsonl; format in the README)."""
    from deskbridge.workflows.accuracy import evaluate_accuracy

    rules = _load_or_exit(config_path or _settings().config_path)
    tickets = _labelled_or_exit(labelled, rules)
    names = {key: d.name for key, d in rules.departments.items()}
    report = evaluate_accuracy(
        rules.routing, tickets, rules.departments, names, model=rules.routing_model
    )
    click.echo(report.summary())
    click.echo(report.confusion_table())
    if misses:
        for line in report.misses():
            click.echo(line)


def _labelled_or_exit(labelled: Path, rules: RulesConfig) -> list:
    """A labelled file's tickets, or every problem in it and exit 1."""
    from deskbridge.workflows.accuracy import LabelledSetError, parse_labelled

    try:
        return parse_labelled(
            decode_file_text(labelled.read_bytes()),
            jsonl=labelled.suffix.lower() in (".jsonl", ".ndjson"),
            departments=rules.departments,
        )
    except LabelledSetError as exc:
        problems = exc.problems
    except UnicodeDecodeError as exc:  # worded as check-config words a rules file that is not text
        problems = [f"(file): {describe_not_utf8(exc)}"]
    click.echo(describe_problems(str(labelled), problems), err=True)
    sys.exit(1)


@routing.command("train")
@click.argument(
    "labelled",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="model file"
)
@_CONFIG_OPTION
def routing_train(labelled: tuple[Path, ...], out: Path, config_path: Path | None) -> None:
    """Learn a routing model from labelled tickets (the format `routing evaluate` reads) and
    write it to --out; name it as routing.model in the rules file. Needs the [model] extra."""
    rules = _load_or_exit(config_path or _settings().config_path)
    tickets = [ticket for path in labelled for ticket in _labelled_or_exit(path, rules)]
    from deskbridge.config.routing_model import (
        MODEL_EXTRA,
        ModelFileError,
        save_routing_model,
        train_routing_model,
    )

    try:
        model = train_routing_model(tickets)
    except ImportError:
        click.echo(f"routing train needs scikit-learn and skops: {MODEL_EXTRA}", err=True)
        sys.exit(1)
    except ModelFileError as exc:
        click.echo(f"cannot train: {exc}", err=True)
        sys.exit(1)
    try:
        save_routing_model(model, out)
    except OSError as exc:  # a folder that does not exist, or one we may not write in
        click.echo(f"cannot write the model to {out}: {exc.strerror}", err=True)
        sys.exit(1)
    click.echo(f"trained on {len(tickets)} tickets ({', '.join(model.labels)}); written to {out}")


# Last: under `python -m deskbridge.cli` main() runs here, so every command must be defined
# above (it stood before `routing`, which was then "No such command").
if __name__ == "__main__":
    main()
