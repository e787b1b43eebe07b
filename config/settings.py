"""Process settings from the environment (names fixed by DESIGN §4). Secrets live only here."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EXAMPLE_CONFIG = Path(__file__).with_name("example.yaml")
# The level names `logging` accepts (WARN, FATAL and NOTSET too), lowest level first.
_LEVEL_NUMBERS = logging.getLevelNamesMapping()
LOG_LEVELS = tuple(sorted(_LEVEL_NUMBERS, key=lambda name: (_LEVEL_NUMBERS[name], name)))


_SLACK_TEAM_ID = re.compile(r"T[A-Z0-9]{2,}")
# A bot token, or one from token rotation (xoxe.xoxb-…).
_BOT_TOKEN_PREFIXES = ("xoxb-", "xoxe.xoxb-")
# An organization's id: key prefix 00D, 15 characters, or 18 with the case-checksum suffix.
_SALESFORCE_ORG_ID = re.compile(r"00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")
# A Zendesk subdomain is one DNS label: the API and ticket links are https://{it}.zendesk.com.
_ZENDESK_SUBDOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def salesforce_login_domain(instance_url: str) -> str | None:
    """`https://acme.my.salesforce.com` → `acme.my`, the login domain simple-salesforce takes;
    None for a URL outside salesforce.com (read by Settings and by the Salesforce writer)."""
    host = urlparse(instance_url.strip()).hostname or ""
    if not host.endswith(".salesforce.com") or host == "salesforce.com":
        return None
    return host.removesuffix(".salesforce.com")


def _describe_instance_url_mistake(value: str) -> str:
    """Why SALESFORCE_INSTANCE_URL is refused, with what to write instead where it can be told:
    the host as Setup → My Domain shows it (no https://), and the Lightning address a browser
    shows (`acme.lightning.force.com`, whose My Domain is `acme.my.salesforce.com`), were told
    only that a URL on salesforce.com was expected."""
    expected = (
        "expected your org's login URL on salesforce.com: a My Domain "
        "(https://acme.my.salesforce.com) or a sandbox (https://test.salesforce.com)"
    )
    if "://" not in value and salesforce_login_domain(f"https://{value}") is not None:
        return f"{expected}; with https:// before it: https://{value.rstrip('/')}"
    host = (urlparse(value if "://" in value else f"https://{value}").hostname or "").lower()
    # acme.lightning.force.com, acme--uat.sandbox.lightning.force.com: the same org's My
    # Domain is acme.my.salesforce.com, acme--uat.sandbox.my.salesforce.com.
    org, _, rest = host.partition(".")
    if org and rest in ("lightning.force.com", "sandbox.lightning.force.com"):
        my_domain = f"{org}.{rest.removesuffix('lightning.force.com')}my.salesforce.com"
        return (
            f"{expected}; {host} is where Lightning shows pages, not the login URL: "
            f"https://{my_domain}"
        )
    return expected


# What each system needs, every one of them, to act for real; without them it runs in dry-run.
WRITE_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "zendesk": ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"),
    "salesforce": ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"),
    "slack": ("SLACK_BOT_TOKEN",),
    "pager": ("PAGERDUTY_ROUTING_KEY",),
}


STORE_URL_EXAMPLES = "like sqlite:///deskbridge.db or postgresql+psycopg://user@host:5432/db"
# The databases deskbridge has drivers and SQL for (postgresql:// is read as +psycopg).
STORE_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")


def find_store_url_problem(url: str) -> str | None:
    """What makes DATABASE_URL unusable, worded without the URL (it may hold a password)."""
    # The driver name as SQLAlchemy's URL parser reads it (`name://…`). A SQLite URL is a
    # path after it, with nothing else to check: SQLAlchemy (0.1 s to import) is asked only
    # about a server's URL, whose commands import it anyway; `replay` and `check-config` on
    # SQLite never do.
    driver, separator, _ = url.partition("://")
    if not separator or _DRIVER_NAME.fullmatch(driver) is None:
        return f"expected a database URL {STORE_URL_EXAMPLES}"
    # SQLAlchemy knows more databases than deskbridge has drivers and SQL for: another one
    # (mysql://, Heroku's postgres://) was a traceback about a missing module or plugin.
    if driver not in STORE_DRIVERS:
        return _describe_other_driver(driver)
    if driver.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return f"expected a database URL {STORE_URL_EXAMPLES}"
    return None


_DRIVER_NAME = re.compile(r"[\w+]+")  # sqlalchemy.engine.url's pattern for it


def _describe_other_driver(driver: str) -> str:
    """Why a database URL's driver is refused, and what to write instead: PostgreSQL or
    SQLite named another way (Heroku's and many hosts' postgres://, a psycopg2 or asyncpg URL
    from another project) is one word away from a URL deskbridge reads."""
    database, _, named = driver.partition("+")
    if database in ("postgres", "postgresql"):
        way = (
            "PostgreSQL's short name, which SQLAlchemy does not read"
            if database == "postgres"
            else f"the {named or 'empty'} driver, which deskbridge does not install"
        )
        return (
            f"names {driver}://, {way}: write postgresql+psycopg:// (psycopg 3, the driver "
            "deskbridge uses; postgresql:// is read as that) with the rest of the URL as it is"
        )
    if database == "sqlite":
        return (
            f"names the {named or 'empty'} driver, which deskbridge does not use: write "
            "sqlite:/// and the file's path (Python's own sqlite3)"
        )
    return (
        f"names a database deskbridge cannot use ({driver}): "
        f"it stores in SQLite or PostgreSQL ({STORE_URL_EXAMPLES})"
    )


def _unset(name: str, info: ValidationInfo) -> bool:
    """Whether the setting `name`, validated before the one `info` is about, was not given:
    a value given but refused is missing from info.data (its own error names it)."""
    return name in info.data and info.data[name] is None


def _given(value: object) -> object:
    """A setting's value, a secret's read out, for telling whether it is set at all."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@lru_cache(maxsize=8)
def _split_secrets(raw: str) -> tuple[bytes, ...]:
    """A comma-separated secret list as bytes, split once per value (read by every webhook;
    keyed by the value, so settings changed or copied never see another's)."""
    return tuple(part.strip().encode() for part in raw.split(",") if part.strip())


# Settings in seconds: finite and at most a day. `inf` and 10**15 passed "greater than 0" and
# overflowed timedelta or the loops' waits (a traceback at start-up, or a 500 per webhook).
A_DAY = 86_400
_SECONDS = {"le": A_DAY, "allow_inf_nan": False}


class RulesPathSetting(BaseSettings):
    """DESKBRIDGE_CONFIG alone, read as Settings reads it: check-config reads the rules file
    even when another setting is wrong, and lists the mistakes of both."""

    # An error never quotes the value it refused: it may be a secret, or a URL with a password.
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", hide_input_in_errors=True
    )

    config_path: Path = Field(default=EXAMPLE_CONFIG, alias="DESKBRIDGE_CONFIG")


class Settings(RulesPathSetting):
    database_url: str = Field(default="sqlite:///deskbridge.db", alias="DATABASE_URL")

    # Zendesk. The webhook secret may list several, comma-separated, for rotation.
    zendesk_webhook_secret: SecretStr | None = Field(default=None, alias="ZENDESK_WEBHOOK_SECRET")
    zendesk_subdomain: str | None = Field(default=None, alias="ZENDESK_SUBDOMAIN")
    zendesk_email: str | None = Field(default=None, alias="ZENDESK_EMAIL")
    zendesk_api_token: SecretStr | None = Field(default=None, alias="ZENDESK_API_TOKEN")
    # How far a signature timestamp may be from our clock, either way.
    zendesk_signature_tolerance: int = Field(
        default=300, alias="ZENDESK_SIGNATURE_TOLERANCE_SECONDS", ge=0, le=A_DAY
    )

    salesforce_org_id: str | None = Field(default=None, alias="SALESFORCE_ORG_ID")
    salesforce_webhook_token: SecretStr | None = Field(
        default=None, alias="SALESFORCE_WEBHOOK_TOKEN"
    )
    salesforce_instance_url: str | None = Field(default=None, alias="SALESFORCE_INSTANCE_URL")
    salesforce_username: str | None = Field(default=None, alias="SALESFORCE_USERNAME")
    salesforce_password: SecretStr | None = Field(default=None, alias="SALESFORCE_PASSWORD")
    salesforce_security_token: SecretStr | None = Field(
        default=None, alias="SALESFORCE_SECURITY_TOKEN"
    )

    # Before the token: a token for another Slack API (a fake one in tests) is not checked.
    slack_api_url: str | None = Field(default=None, alias="SLACK_API_URL")
    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    # The workspace the bot serves (T…); requests from any other get 403.
    slack_team_id: str | None = Field(default=None, alias="SLACK_TEAM_ID", validate_default=True)
    # Slack allows about one message per second per channel.
    slack_min_interval: float = Field(
        default=1.0, alias="DESKBRIDGE_SLACK_MIN_INTERVAL", ge=0, **_SECONDS
    )

    # Optional pager: with a routing key each on-call page is also a PagerDuty Events API v2
    # trigger (acknowledge / resolve follow the chain).
    pagerduty_routing_key: SecretStr | None = Field(default=None, alias="PAGERDUTY_ROUTING_KEY")
    pagerduty_api_url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue", alias="PAGERDUTY_API_URL"
    )

    max_body_bytes: int = Field(default=1024 * 1024, alias="DESKBRIDGE_MAX_BODY_BYTES", gt=0)
    # `serve`'s --connection-limit and --channel-timeout when not given: read here, not by
    # click, so check-config finds a mistake before serve refuses to start, and names it.
    connection_limit: int = Field(default=1000, alias="DESKBRIDGE_CONNECTION_LIMIT", ge=1)
    channel_timeout: int = Field(default=30, alias="DESKBRIDGE_CHANNEL_TIMEOUT", ge=1)
    # Dispatcher: how often it looks for due outbox rows, and how many attempts before dead letter.
    dispatch_interval: float = Field(
        default=0.5, alias="DESKBRIDGE_DISPATCH_INTERVAL", gt=0, **_SECONDS
    )
    max_attempts: int = Field(default=8, alias="DESKBRIDGE_MAX_ATTEMPTS", ge=1)
    # Actions of one claimed batch performed at once (threads; each in a lane of its own).
    dispatch_concurrency: int = Field(default=4, alias="DESKBRIDGE_DISPATCH_CONCURRENCY", ge=1)
    # The longest the timer loop sleeps before looking for deadlines (SLA warnings, hand-offs)
    # set by other processes; it wakes at the soonest due time and when its process sets one.
    timer_interval: float = Field(default=0.5, alias="DESKBRIDGE_TIMER_INTERVAL", gt=0, **_SECONDS)
    # A claimed action not finished within this many seconds (its process died) is retried.
    dispatch_lease: float = Field(
        default=120, alias="DESKBRIDGE_DISPATCH_LEASE_SECONDS", gt=0, **_SECONDS
    )
    log_level: str = Field(default="INFO", alias="DESKBRIDGE_LOG_LEVEL")

    @field_validator(
        "zendesk_webhook_secret",
        "zendesk_api_token",
        "slack_bot_token",
        "slack_signing_secret",
        "salesforce_webhook_token",
        "salesforce_password",
        "salesforce_security_token",
        "slack_team_id",
        "pagerduty_routing_key",
        "salesforce_org_id",
        "salesforce_instance_url",
        "zendesk_subdomain",
        "slack_api_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _a_store_deskbridge_can_use(cls, value: str) -> str:
        # Checked with the other settings, so check-config sees it and serve lists it with
        # the rest: it was found only when a command opened the store.
        problem = find_store_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("log_level")
    @classmethod
    def _a_level_logging_knows(cls, value: str) -> str:
        # Checked here, with the other settings: logging's own "Unknown level" is a traceback.
        # An alias (WARN, FATAL) is read as the name logging prints (WARNING, CRITICAL).
        level = _LEVEL_NUMBERS.get(value.strip().upper())
        if level is None:
            raise ValueError(f"expected a level name logging knows: {', '.join(LOG_LEVELS)}")
        return logging.getLevelName(level)

    @field_validator("salesforce_org_id")
    @classmethod
    def _an_org_id(cls, value: str | None) -> str | None:
        # Any other value refused every outbound message with 403 ("another org"), the only
        # sign of the mistake a webhook.forbidden line per delivery.
        if value is not None and not _SALESFORCE_ORG_ID.fullmatch(value.strip()):
            raise ValueError(
                "expected the org's id (Setup → Company Information): 15 or 18 letters and "
                "digits starting 00D, like 00D5j00000HqZtx"
            )
        return None if value is None else value.strip()

    @field_validator("zendesk_subdomain")
    @classmethod
    def _a_zendesk_subdomain(cls, value: str | None) -> str | None:
        # A whole host or URL was taken as given: every API call and ticket link went to
        # https://acme.zendesk.com.zendesk.com, failing only when an action was performed.
        if value is not None and not _ZENDESK_SUBDOMAIN.fullmatch(value.strip()):
            raise ValueError("expected the subdomain alone: acme for https://acme.zendesk.com")
        return None if value is None else value.strip()

    @field_validator("slack_api_url", "pagerduty_api_url")
    @classmethod
    def _an_http_url(cls, value: str | None) -> str | None:
        # Any text was taken: the mistake showed only as every message or page dead-lettered.
        if value is None:
            return None
        url = urlparse(value.strip())
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("expected an http:// or https:// URL with a host")
        return value.strip()

    @field_validator("salesforce_instance_url")
    @classmethod
    def _a_salesforce_login_url(cls, value: str | None) -> str | None:
        # Refused only when the Salesforce writer was built at start-up: check-config said ok
        # and serve and worker stopped with a ValueError traceback.
        if value is not None and salesforce_login_domain(value) is None:
            raise ValueError(_describe_instance_url_mistake(value.strip()))
        return None if value is None else value.strip()

    @field_validator("slack_bot_token")
    @classmethod
    def _a_bot_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Any text was taken: a user or app-level token, or the signing secret, pasted here
        # showed only as every Slack message dead-lettered (invalid_auth,
        # not_allowed_token_type). The value is not repeated: it is a secret. With
        # SLACK_API_URL set, the API is another (a fake Slack for tests) with tokens of its own.
        api = urlparse(info.data.get("slack_api_url") or "https://slack.com/api/").hostname or ""
        slack = api == "slack.com" or api.endswith(".slack.com")
        if (
            value is not None
            and slack
            and not value.get_secret_value().startswith(_BOT_TOKEN_PREFIXES)
        ):
            raise ValueError(
                "expected the bot's token from the Slack app's OAuth & Permissions page: "
                "xoxb-…; a user token (xoxp-…) or an app-level token (xapp-…) cannot post as "
                "the bot"
            )
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _slack_events_need_the_bot(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        # /slack/events is served by the bot: bolt will not start without its token, and
        # buttons and the App Home answer through the Web API with it. A token given but
        # refused above is missing from info.data, not None: its own error says enough.
        if value is not None and _unset("slack_bot_token", info):
            raise ValueError(
                "needs SLACK_BOT_TOKEN too: commands and buttons are answered by the bot "
                "(set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_TEAM_ID, or none of them)"
            )
        return value

    @field_validator("slack_team_id")
    @classmethod
    def _slack_needs_its_workspace(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Fields validate in order: the token and the signing secret are already in info.data.
        bot = not _unset("slack_bot_token", info) or not _unset("slack_signing_secret", info)
        if value is None and bot:
            raise ValueError(
                "required when SLACK_BOT_TOKEN or SLACK_SIGNING_SECRET is set: the workspace id "
                "(T…) from the Slack app's settings; requests from other workspaces get 403"
            )
        # Said in words: pydantic's "String should match pattern '^T[A-Z0-9]{2,}$'" was a regex.
        if value is not None and not _SLACK_TEAM_ID.fullmatch(value):
            # The value is not repeated: a token pasted into the wrong variable is a secret.
            raise ValueError(
                "expected the workspace id from the Slack app's settings: T and capital letters "
                "or digits, like T0123ABCD"
            )
        return value

    @property
    def zendesk_secrets(self) -> tuple[bytes, ...]:
        if self.zendesk_webhook_secret is None:
            return ()
        return _split_secrets(self.zendesk_webhook_secret.get_secret_value())

    def find_unset_credentials(self, system: str) -> tuple[str, ...]:
        """The variables of WRITE_CREDENTIALS[system] that are unset or empty, in its order."""
        fields = {field.alias: name for name, field in type(self).model_fields.items()}
        return tuple(
            variable
            for variable in WRITE_CREDENTIALS[system]
            if not getattr(self, fields[variable])
        )

    def find_helpdesks_named(self) -> frozenset[str]:
        """The helpdesks ("zendesk", "salesforce") any of whose variables is set (to other
        than its default, and not empty: `ZENDESK_EMAIL=` left in an env file, as
        find_unset_credentials reads it, names nothing): a team on one helpdesk sets only
        that one's."""
        return frozenset(
            name.partition("_")[0]
            for name, field in type(self).model_fields.items()
            if name.startswith(("zendesk_", "salesforce_"))
            and _given(getattr(self, name)) not in (None, "", field.default)
        )

    def find_missing_slack_signing_secret(self) -> str | None:
        """What a bot token without its signing secret leaves broken, or None: the alerts go
        out with their buttons, and every click and command is refused (503), which nothing
        said (the secret is checked only when a request comes)."""
        if self.slack_bot_token is None or self.slack_signing_secret is not None:
            return None
        return (
            "SLACK_SIGNING_SECRET is not set, SLACK_BOT_TOKEN is: alerts are posted with their "
            "buttons, but every button, /deskbridge and /escalate is answered 503 (the Signing "
            "Secret is on the Slack app's Basic Information page)"
        )

    @property
    def salesforce_write_enabled(self) -> bool:
        return bool(
            self.salesforce_username and self.salesforce_password and self.salesforce_security_token
        )

    @property
    def zendesk_write_enabled(self) -> bool:
        return bool(self.zendesk_subdomain and self.zendesk_email and self.zendesk_api_token)
