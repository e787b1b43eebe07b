"""create_app(settings) wires everything (DESIGN rule 7); also the WSGI entry for gunicorn:
`gunicorn 'deskbridge.app:create_app()'`. Nothing here runs at import."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from deskbridge.config.logging import (
    OutageLog,
    configure_logging,
    describe_exception,
    log_event,
)
from deskbridge.config.rules import RulesConfig, load_rules
from deskbridge.config.settings import Settings
from deskbridge.connectors.http import create_webhooks_blueprint
from deskbridge.connectors.registry import CONNECTORS, build_ticket_links, find_helpdesks_in_use
from deskbridge.connectors.writers import HelpdeskRouter, build_writers
from deskbridge.store.db import describe_store_error
from deskbridge.workflows.actions import HELPDESK_ACTIONS, ActionKind
from deskbridge.workflows.dispatcher import Dispatcher
from deskbridge.workflows.job_runner import JobRunner
from deskbridge.workflows.lexicon import (
    LANGUAGES,
    get_lexicon,
    load_in_background,
    log_cache_unavailable,
)
from deskbridge.workflows.metrics import Metrics
from deskbridge.workflows.ports import DryRunPerformer, Performer
from deskbridge.workflows.service import WorkflowService

log = logging.getLogger("deskbridge")


# How long stopping waits for the background loops, in all: well within the 30 s systemd gives
# the worker (deploy/deskbridge-worker.service, TimeoutStopSec) before it kills the process, so
# what they finish is recorded. The dispatcher's longest wait is the actions under way: their
# provider calls (each bounded by the clients' 10 s timeouts), then one write.
STOP_TIMEOUT = 20.0


def utc_now() -> datetime:
    return datetime.now(UTC)


# Seconds /readyz and /metrics wait for the store's figures: a store that stops answering
# (no error, no reply) is a 503 within this, not a probe that hangs until the kernel gives up.
READY_TIMEOUT_S = 3.0

# When /readyz says the service is behind (`behind`, the figures past theirs): the thresholds
# of docs/deploy.md §7's alerts, the decider for a minute, deliveries for ten. Still a 200: a
# decider behind has every webhook it was sent stored, and a 503 would take the web out of the
# load balancer and make senders retry what is already taken.
BEHIND_AFTER_S = {"decide_lag_seconds": 60.0, "outbox_oldest_seconds": 600.0}


def evaluate_behind(backlog: dict[str, float | int]) -> list[str]:
    """The backlog's figures past their BEHIND_AFTER_S, in that order (none: not behind)."""
    return [name for name, limit in BEHIND_AFTER_S.items() if backlog[name] > limit]


# The first retention purge, this long after serve or worker starts (then hourly).
RETENTION_FIRST_RUN = timedelta(minutes=1)


def describe_unread_store(exc: BaseException) -> dict[str, str]:
    """Why the store's figures could not be read: describe_store_error's fields (the error's
    type, an operational error's first line: no server, a refused password, no such table),
    and for a store that gave no answer at all, that it did not within READY_TIMEOUT_S."""
    if isinstance(exc, TimeoutError):
        return {"error": "TimeoutError", "reason": f"no answer within {READY_TIMEOUT_S:g} s"}
    return describe_store_error(exc)


# /readyz's 503 reason for a store that answered with an error. The driver's first line names
# the database's host, port, user and database ('connection to server at "10.0.0.5", port 5432
# failed'), which an endpoint asking for no credentials should not tell; the log line has it.
STORE_UNREADABLE = "the store could not be read; the log line readyz.store_unavailable says why"


def describe_unread_store_publicly(exc: BaseException) -> dict[str, str]:
    """describe_unread_store's fields as /readyz may answer them: the error's type, and the
    reason only for a store that gave no answer (its wait, nothing of the connection)."""
    if isinstance(exc, TimeoutError):
        return describe_unread_store(exc)
    return {"error": type(exc).__name__, "reason": STORE_UNREADABLE}


def _age(now: datetime, since: datetime | None) -> float:
    return round(max(0.0, (now - since).total_seconds()), 3) if since is not None else 0.0


@dataclass
class Runtime:
    """Everything a request or a background loop needs, built once per app."""

    settings: Settings
    rules: RulesConfig
    engine: Engine
    service: WorkflowService
    dispatcher: Dispatcher
    metrics: Metrics
    clock: Callable[[], datetime]
    job_runner: JobRunner
    dry_run: dict[str, bool] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    scheduler: Any = None
    # A store outage is logged when it starts, once a minute while it lasts, and when it ends.
    timers_outage: OutageLog = field(
        default_factory=lambda: OutageLog(log, "timers.store_unavailable", "timers.store_recovered")
    )
    jobs_outage: OutageLog = field(
        default_factory=lambda: OutageLog(log, "jobs.store_unavailable", "jobs.store_recovered")
    )
    # The store read /readyz and /metrics wait for (read_backlog_within).
    _backlog_read: Future | None = None
    _backlog_lock: threading.Lock = field(default_factory=threading.Lock)

    def sweep_timers(self, limit: int = 500) -> int:
        """Fire every due timer, a batch per transaction; a full batch means more are due:
        go on at once. Returns how many were fired."""
        fired = 0
        now = self.clock()
        decider = self.service.decider
        try:
            with decider.firing():  # the dispatcher waits from batch to batch too
                while True:
                    count = len(decider.fire_due_timers(now, limit))
                    fired += count
                    if count < limit:
                        break
                    now = self.clock()
        except SQLAlchemyError as exc:
            self.timers_outage.failed(**describe_store_error(exc))
        else:
            self.timers_outage.succeeded()
        return fired

    def run_timers(self, interval: float, limit: int = 500) -> None:
        """The timer loop (one thread, so a sweep never overlaps itself): sweep, then sleep
        until the soonest pending due time, at most `interval` (timers set by another
        process), waking early when this process's decider sets a timer. A burst due at one
        instant is started within milliseconds, not up to an interval late."""
        decider = self.service.decider
        log_event(log, logging.INFO, "timers.started", interval_s=interval)
        while not self.stop.is_set():
            decider.timers_set.clear()  # before the sweep: a timer set during it wakes us
            started = self.clock()
            wait, fired = interval, 0
            try:
                fired = self.sweep_timers(limit)
                due = decider.next_due_at()
            except SQLAlchemyError:
                due = None  # the sweep logged it; try again after the interval
            except Exception as exc:  # a bug must not stop the deadlines for good; they wait
                log_event(
                    log, logging.ERROR, "timers.error", exc_info=True, **describe_exception(exc)
                )
                due = None
            # Due already when a sweep that fired nothing began: another process holds those
            # timers; do not spin on them. Otherwise sleep until the soonest one.
            if due is not None and (fired or due > started):
                wait = min(interval, max((due - self.clock()).total_seconds(), 0.0))
            if wait > 0:
                decider.timers_set.wait(wait)

    def run_jobs(self) -> None:
        """Run the scheduled jobs' due occurrences on the same clock as the timers. Its own
        scheduler entry (a thread of the same scheduler), so a digest that takes seconds to
        build never holds back a deadline."""
        try:
            self.job_runner.run_due(self.clock())
        except SQLAlchemyError as exc:
            self.jobs_outage.failed(**describe_store_error(exc))
        else:
            self.jobs_outage.succeeded()

    def purge_retention(self) -> dict[str, int]:
        """Delete rows past the rules' retention, in small batches (hourly in serve/worker;
        `deskbridge purge` by hand). Deleting is idempotent: two processes only share it."""
        from deskbridge.store.retention import purge
        from deskbridge.workflows.retention import build_cutoffs

        try:
            deleted = purge(
                self.engine,
                build_cutoffs(self.rules, self.clock()),
                writer=self.service.decider.writer,
            )
        except SQLAlchemyError as exc:
            log_event(
                log, logging.ERROR, "retention.store_unavailable", **describe_store_error(exc)
            )
            return {}
        if any(deleted.values()):
            log_event(log, logging.INFO, "retention.purged", **deleted)
        return deleted

    def read_backlog(self) -> dict[str, float | int]:
        """The figures an operator alerts on, read from the store (also set as gauges)."""
        from deskbridge.store.db import connect_for_reading, limit_statement_time
        from deskbridge.store.events import FAILED, count_events, oldest_undecided_at
        from deskbridge.store.outbox import DEAD, count_actions, outbox_backlog
        from deskbridge.store.timers import FAILED as TIMER_FAILED
        from deskbridge.store.timers import count_timers

        now = self.clock()
        # Reads only, from a WAL snapshot on SQLite: never behind the one writer, which a long
        # but healthy write (a purge batch, a big decider batch, a command in another
        # process) may hold past READY_TIMEOUT_S, and the service is not down for that.
        with connect_for_reading(self.engine) as connection:
            # A store that holds a lock the counts wait on is a 503 too, and the server
            # stops the read rather than keep it running after the answer was given.
            limit_statement_time(connection, READY_TIMEOUT_S)
            undecided_since = oldest_undecided_at(connection)
            pending, oldest = outbox_backlog(connection)
            # Read here, not counted by the dispatcher: under gunicorn the web processes that
            # answer /metrics and /readyz are not the worker that dead-letters.
            dead = count_actions(connection, DEAD)
            failed = count_events(connection, FAILED)
            timers_failed = count_timers(connection, TIMER_FAILED)
        figures = {
            "decide_lag_seconds": _age(now, undecided_since),
            "outbox_pending": pending,
            "outbox_oldest_seconds": _age(now, oldest),
            "outbox_dead": dead,
            "events_failed": failed,
            "timers_failed": timers_failed,
        }
        self.metrics.decide_lag.set(figures["decide_lag_seconds"])
        self.metrics.outbox_pending.set(pending)
        self.metrics.outbox_oldest.set(figures["outbox_oldest_seconds"])
        self.metrics.outbox_dead.set(dead)
        self.metrics.events_failed_stored.set(failed)
        self.metrics.timers_failed_stored.set(timers_failed)
        self.metrics.store_up.set(1)
        return figures

    def read_backlog_within(self, timeout: float = READY_TIMEOUT_S) -> dict[str, float | int]:
        """read_backlog, given up after `timeout` seconds (TimeoutError): a store that stops
        answering gives no error, and the read would wait for the kernel (minutes). The read
        runs in a thread of its own, one at a time: callers while it runs wait for the same
        read, so a silent store holds one connection and one thread, not one per probe."""
        with self._backlog_lock:
            read = self._backlog_read
            if read is None or read.done():
                read = self._backlog_read = Future()
                threading.Thread(
                    target=self._read_backlog_into,
                    args=(read,),
                    name="deskbridge-backlog",
                    daemon=True,
                ).start()
        try:
            return read.result(timeout)
        except BaseException:
            self.metrics.store_figures_unknown()
            raise

    def _read_backlog_into(self, read: Future) -> None:
        try:
            read.set_result(self.read_backlog())
        except BaseException as exc:  # handed to the callers, who answer 503
            read.set_exception(exc)

    def start_background(self) -> None:
        """Start the dispatcher thread and the timer sweep (serve and worker). Idempotent."""
        if self.threads:
            return
        from apscheduler.schedulers.background import BackgroundScheduler

        # APScheduler drives the scheduled jobs and the purge; deadlines live as rows in our
        # store (DESIGN §7) and have a loop of their own (run_timers), which sleeps until the
        # soonest of them.
        # Both jobs run however late they start (misfire_grace_time=None): at APScheduler's
        # default grace of 1 s a run started later than that under load was skipped with a
        # warning, and the hourly purge waited another hour. Runs missed meanwhile are one
        # (coalesce), never two at once (max_instances=1). How late an occurrence of a
        # scheduled job ran is job.ran's late_s; the tick itself being late is not news.
        self.scheduler = BackgroundScheduler(timezone="UTC")
        logging.getLogger("apscheduler.scheduler").addFilter(TICK_STILL_RUNNING)
        self.scheduler.add_job(
            self.run_jobs,
            "interval",
            seconds=max(self.settings.timer_interval, 1.0),  # occurrences are minute-precise
            id=JOBS_TICK,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self.scheduler.add_job(
            self.purge_retention,
            "interval",
            hours=1,
            id="retention",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            # On the wall clock APScheduler fires on, not on self.clock (a test's quiet
            # night would be a run hours late).
            next_run_time=datetime.now(UTC) + RETENTION_FIRST_RUN,
        )
        self.scheduler.start()
        loops = {
            "deskbridge-decider": (self.service.decider.run, (self.stop,)),
            "deskbridge-dispatcher": (
                self.dispatcher.run,
                (self.stop, self.settings.dispatch_interval),
            ),
            "deskbridge-timers": (self.run_timers, (self.settings.timer_interval,)),
        }
        if self.engine.dialect.name == "postgresql":
            from deskbridge.store.events import listen_for_events

            # Events stored by other processes (gunicorn web workers) wake this decider.
            loops["deskbridge-listener"] = (
                listen_for_events,
                (self.engine, self.service.decider.wake, self.stop),
            )
        for name, (target, args) in loops.items():
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)
        lexicon = get_lexicon()
        log_cache_unavailable(lexicon)
        # The classifier's dictionaries, read now rather than by the first ticket with a typo.
        load_in_background(lexicon, LANGUAGES)

    def stop_background(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the loops and wait for them, `timeout` seconds in all: the dispatcher finishes
        and records the actions under way (each bounded by its client's timeout) and gives
        back the rest of its batch. `runtime.stopped` is said once they have ended, or names
        those that have not (the process exits all the same: they are daemon threads)."""
        deadline = time.monotonic() + timeout
        self.stop.set()
        self.service.decider.wake()
        self.service.decider.timers_set.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        running = [thread.name for thread in self.threads if thread.is_alive()]
        self.threads.clear()
        if running:
            log_event(log, logging.WARNING, "runtime.stopped", still_running=",".join(running))
        else:
            log_event(log, logging.INFO, "runtime.stopped")


# The scheduled jobs' tick (Runtime.run_jobs) as APScheduler knows it.
JOBS_TICK = "jobs"
# APScheduler 3's warning that a run was skipped as the job's previous run had not ended.
_STILL_RUNNING = 'Execution of job "%s" skipped: maximum number of running instances reached (%d)'


# A tick skipped for this long, one skip after another, is stuck (a store lock, a call with no
# time-out): digests and pace checks have stopped, and that is said once.
TICK_STUCK_AFTER_S = 300.0
# Skips further apart than this are not one stall (the tick runs every second).
_STALL_GAP_S = 10.0


class _TickStillRunning(logging.Filter):
    """Drops APScheduler's warning that the jobs' tick was skipped: a tick takes longer than
    the second while a digest is built or the store is slow, and the next tick after it finds
    what fell due meanwhile (a warning every second said nothing an operator acts on). A tick
    skipped for TICK_STUCK_AFTER_S on end is said once, as `job.tick_stuck`: with the warning
    gone, a tick hung for good stopped every digest without a word. A purge still running an
    hour later is still warned of."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self._clock = clock
        self._since: float | None = None  # the stall's first skip
        self._last = 0.0
        self._told = False

    def filter(self, record: logging.LogRecord) -> bool:
        if not (
            record.msg == _STILL_RUNNING
            and isinstance(record.args, tuple)
            and getattr(record.args[0], "id", None) == JOBS_TICK
        ):
            return True
        now = self._clock()
        if self._since is None or now - self._last > _STALL_GAP_S:
            self._since, self._told = now, False
        self._last = now
        if not self._told and now - self._since >= TICK_STUCK_AFTER_S:
            self._told = True
            log_event(
                log,
                logging.WARNING,
                "job.tick_stuck",
                skipped_for_s=round(now - self._since),
                hint="the scheduled jobs' tick has not ended: digests and pace checks wait "
                "until it does (a store lock, a call that never answers); restart if it stays",
            )
        return False


TICK_STILL_RUNNING = _TickStillRunning()


def build_performers(
    settings: Settings,
    engine: Engine,
    rules: RulesConfig,
    clock: Callable[[], datetime],
    writer: AbstractContextManager | None = None,
) -> tuple[dict[ActionKind, Performer], dict[str, bool]]:
    """Real performers where credentials are set, dry-run performers elsewhere; and which
    systems are in dry-run, of Slack, the pager and the helpdesks in use (a team on Salesforce
    alone saw `zendesk: true` in /readyz, which a monitor reads as a write-back not sending).
    `writer`: the process's SQLite writer lock, which the Slack performer's writes take in
    turn."""
    from deskbridge.bot.notifier import SlackNotifier, build_web_client

    writers = build_writers(settings, rules)
    helpdesk = HelpdeskRouter({source.value: writer for source, writer in writers.items()}, engine)
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    people = SlackNotifier(
        engine,
        rules,
        clock,
        build_web_client(token, settings.slack_api_url) if token else None,
        min_interval=settings.slack_min_interval,
        ticket_link=build_ticket_links(settings),
        writer=writer,
    )
    performers = {kind: (helpdesk if kind in HELPDESK_ACTIONS else people) for kind in ActionKind}
    pager: Performer = DryRunPerformer("pager")
    if settings.pagerduty_routing_key is not None:
        from deskbridge.connectors.pagerduty import PagerDutyPager

        pager = PagerDutyPager(
            settings.pagerduty_routing_key.get_secret_value(),
            settings.pagerduty_api_url,
            ticket_link=build_ticket_links(settings),
        )
    performers[ActionKind.pager] = pager
    in_use = find_helpdesks_in_use(settings, rules)
    dry_run = {
        source.value: isinstance(w, DryRunPerformer)
        for source, w in writers.items()
        if source in in_use
    }
    dry_run["slack"] = token is None
    dry_run["pager"] = settings.pagerduty_routing_key is None
    return performers, dry_run


def create_runtime(
    settings: Settings,
    rules: RulesConfig | None = None,
    clock: Callable[[], datetime] = utc_now,
    engine: Engine | None = None,
    performers: dict[ActionKind, Performer] | None = None,
) -> Runtime:
    from deskbridge.store.db import create_store_engine
    from deskbridge.workflows.rules import JOBS

    rules = rules or load_rules(settings.config_path)
    engine = engine or create_store_engine(settings.database_url)
    metrics = Metrics()
    service = WorkflowService(engine, rules, clock, metrics)
    dry_run: dict[str, bool] = {}
    if performers is None:
        performers, dry_run = build_performers(
            settings, engine, rules, clock, service.decider.writer
        )
    return Runtime(
        settings=settings,
        rules=rules,
        engine=engine,
        service=service,
        dispatcher=Dispatcher(
            engine,
            performers,
            metrics,
            clock,
            max_attempts=settings.max_attempts,
            lease=timedelta(seconds=settings.dispatch_lease),
            concurrency=settings.dispatch_concurrency,
            writer=service.decider.writer,
            # Deadlines first: a burst of due timers fires before its actions are performed.
            step_aside=lambda: service.decider.step_aside(for_timers=True),
        ),
        metrics=metrics,
        clock=clock,
        job_runner=JobRunner(engine, rules, JOBS),
        dry_run=dry_run,
    )


def log_missing_webhook_secret(settings: Settings, rules: RulesConfig) -> None:
    """Said at start-up by each process that takes webhooks (`serve`, gunicorn's workers), for
    each helpdesk in use whose settings leave every webhook of it refused, and for Slack's
    requests refused the same way."""
    for source in find_helpdesks_in_use(settings, rules):
        if hint := CONNECTORS[source].find_missing_webhook_settings(settings):
            log_event(
                log, logging.WARNING, "webhook.secret_missing", source=source.value, hint=hint
            )
    if hint := settings.find_missing_slack_signing_secret():
        log_event(log, logging.WARNING, "webhook.secret_missing", source="slack", hint=hint)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    runtime = runtime or create_runtime(settings or Settings())
    if not logging.getLogger().handlers:
        # Nobody set up logging: the app is the entry point (gunicorn), not the CLI. Without
        # this, INFO lines were dropped and warnings printed bare, without their fields.
        configure_logging(runtime.settings.log_level)
        # serve says it itself; under gunicorn only the web log can say why every webhook is 401.
        log_missing_webhook_secret(runtime.settings, runtime.rules)
    # prometheus_client adds a `*_created` sample (the series' start time) to each counter and
    # histogram: noise an operator read as figures, and nothing Prometheus needs. Off for the
    # process (the library's switch is global), set here as every command that serves
    # /metrics (serve, web's workers, gunicorn alone) makes its app.
    disable_created_metrics()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.max_body_bytes
    app.extensions["deskbridge"] = runtime
    app.register_blueprint(create_webhooks_blueprint(runtime))
    _mount_slack(app, runtime)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        try:
            backlog = runtime.read_backlog_within()
        except Exception as exc:  # TimeoutError: the store did not answer in READY_TIMEOUT_S
            log_event(
                log, logging.WARNING, "readyz.store_unavailable", **describe_unread_store(exc)
            )
            # Which check failed and the error's type, so a load balancer's or a monitor's
            # record of the 503 says what to look at; the connection's details stay in the log.
            problem = describe_unread_store_publicly(exc)
            return jsonify(status="unavailable", store="down", failed="store", **problem), 503
        return jsonify(
            status="ready",
            store="up",
            dry_run=runtime.dry_run,
            **backlog,
            behind=evaluate_behind(backlog),
            behind_after_seconds=BEHIND_AFTER_S,
        )

    @app.get("/metrics")
    def metrics():
        try:
            runtime.read_backlog_within()
        except (SQLAlchemyError, TimeoutError) as exc:  # the counters are still worth serving
            log_event(
                log, logging.WARNING, "metrics.store_unavailable", **describe_unread_store(exc)
            )
        return (
            generate_latest(runtime.metrics.scrape_registry),
            200,
            {"Content-Type": CONTENT_TYPE_LATEST},
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(error=exc.description or exc.name), exc.code

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        log_event(
            log, logging.ERROR, "http.unexpected_error", exc_info=True, **describe_exception(exc)
        )
        return jsonify(error="internal error"), 500

    return app


SLACK_NOT_CONFIGURED = (
    "Slack is not configured: set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_TEAM_ID "
    "(README, Connecting Slack)"
)


def _mount_slack(app: Flask, runtime: Runtime) -> None:
    """POST /slack/events: our signature check (5-minute window), then bolt parses, checks
    the workspace and dispatches. Malformed or unsigned input is a 4xx, never a 500."""
    bolt = None
    secret = runtime.settings.slack_signing_secret
    limit = runtime.settings.max_body_bytes
    if secret is not None:
        from deskbridge.bot.app import create_bolt_app

        bolt = create_bolt_app(runtime)

    @app.post("/slack/events")
    def slack_events():
        if bolt is None:
            # The signing secret alone is a settings error: name the three it takes.
            return jsonify(error=SLACK_NOT_CONFIGURED), 503
        import time

        from flask import request
        from slack_bolt import BoltRequest
        from slack_bolt.adapter.flask.handler import to_flask_response
        from werkzeug.exceptions import RequestEntityTooLarge

        from deskbridge.bot.app import slack_signature_problem
        from deskbridge.connectors.http import answer_too_large, read_body

        try:
            # As the webhooks read it: request.get_data() cut a chunked body at the limit
            # without a word, so an oversized one failed its signature (401, not 413).
            raw = read_body(request, limit)
        except RequestEntityTooLarge:
            return answer_too_large(request, runtime.metrics, "slack", limit)
        metrics = runtime.metrics.webhooks
        problem = slack_signature_problem(
            secret.get_secret_value().encode(),
            raw,
            request.headers.get("X-Slack-Request-Timestamp"),
            request.headers.get("X-Slack-Signature"),
            time.time(),
        )
        if problem is not None:  # the body of a refused request is never logged
            error, field = problem
            metrics.labels("slack", "unauthorized").inc()
            log_event(
                log,
                logging.WARNING,
                "webhook.unauthorized",
                source="slack",
                error=error,
                field=field,
            )
            return jsonify(error="invalid or expired Slack signature"), 401
        try:
            # Listener errors are answered by bolt's error handler (bot.app); what escapes
            # here is bolt's own parsing or matching of a signed body that is not a Slack
            # payload (truncated JSON, a list, a block_actions without actions).
            bolt_request = BoltRequest(
                body=raw.decode("utf-8", "replace"),
                query=request.query_string.decode("utf-8"),
                headers=request.headers,
            )
            return to_flask_response(bolt.dispatch(bolt_request))
        except Exception as exc:
            metrics.labels("slack", "malformed").inc()
            log_event(
                log, logging.WARNING, "webhook.malformed", source="slack", error=type(exc).__name__
            )
            return jsonify(error="not a Slack request body (form or JSON payload)"), 400
