"""Logging: stable dotted event names with details as key=value fields.

Callers pass ids, counts and kinds only; never emails, phone numbers, message bodies or secrets.
"""

from __future__ import annotations

import logging
from typing import Any

_FIELDS = "deskbridge_fields"


def log_event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    logger.log(level, name, extra={_FIELDS: fields})


class FieldFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields = getattr(record, _FIELDS, None)
        if not fields:
            return base
        rendered = " ".join(f"{k}={_render(v)}" for k, v in fields.items())
        return f"{base} {rendered}"


def _render(value: Any) -> str:
    text = str(value)
    # One event, one line: no raw CR/LF from values.
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return f'"{text}"' if (" " in text or not text) else text


# Libraries speak only when something is wrong, unless DESKBRIDGE_LOG_LEVEL=DEBUG: APScheduler
# logs two INFO lines per sweep (every half second), bolt logs forged requests' bodies at INFO,
# alembic names each of its plugins at every start (its migrations still say what they apply).
LIBRARY_LOGGERS = (
    "apscheduler",
    "slack_bolt",
    "deskbridge.slack.bolt",
    "urllib3",
    "slack_sdk",
    "alembic.runtime.plugins",
)
# slack_sdk logs whole request and response bodies (message text) at DEBUG: never below INFO.
SLACK_SDK_LOGGER = "deskbridge.slack.sdk"


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(FieldFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    debug = root.level <= logging.DEBUG
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger(SLACK_SDK_LOGGER).setLevel(logging.INFO if debug else logging.WARNING)
