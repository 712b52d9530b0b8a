"""Logging for the bot: one line per record, with the Slack request id, text or JSON.

Never given a private key or a password: handlers log ids and names, not payloads.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TextIO

from bot.settings import Settings
from handlers.request_context import RequestIdFilter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data)


def configure(
    settings: Settings, *, stream: TextIO | None = None, level: int = logging.INFO
) -> None:
    """Send log records to `stream` (stderr by default) in the configured format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Migration chatter at every start says nothing an operator needs.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
