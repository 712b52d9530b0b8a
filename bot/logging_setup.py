"""Logging for the bot: one line per event, with the Slack request id, text or JSON.

- One line per record: in text, line breaks inside a message or a traceback are written
  as `\\n`; in JSON (CERTOPS_LOG_FORMAT=json) every record is one JSON object.
- Every line carries `request_id`: Slack's event id or trigger id while a Slack request is
  handled (set when the request is dispatched, copied into the listener threads), `-`
  outside one.
- Never a secret: handlers log ids and names, not payloads. `RedactionFilter` is the second
  line of defence for what a library logs at DEBUG (request bodies, API answers): PEM
  blocks, long base64 runs, Slack tokens, bearer headers, password-like fields and the
  configured secrets themselves are replaced before a record is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import TextIO

from bot.settings import Settings
from handlers.common.request_context import RequestIdFilter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
REDACTED = "[redacted]"

_PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----.*?(?:-----END \1-----|$)", re.DOTALL | re.IGNORECASE
)
_PEM_ESCAPED = re.compile(  # a PEM block inside a repr or JSON string: \n written as \\n
    r"-----BEGIN ([A-Z0-9 ]+)-----(?:\\\\?n|[A-Za-z0-9+/=:,\- \\])*?(?:-----END \1-----|$)"
)
_SLACK_TOKEN = re.compile(r"\bx(?:ox[abposre]|app)-[A-Za-z0-9-]+|\bxoxe\.xox[a-z]-[A-Za-z0-9-]+")
_BEARER = re.compile(r"(Bearer\s+)[^\s'\",}]+", re.IGNORECASE)
_SECRET_FIELD = re.compile(
    r"""(?P<key>[\w.-]*(?:password|passwd|passphrase|secret|token|private_key)[\w.-]*)"""
    r"""(?P<sep>['"]?\s*[:=]\s*(?:\{[^{}]*?['"]value['"]\s*:\s*)?)"""
    # A quoted value is taken whole, up to its closing quote (or the end of a cut line):
    # passphrases have spaces and commas in them.
    r"""(?P<value>"(?:[^"\\]|\\.)*(?:"|$)|'(?:[^'\\]|\\.)*(?:'|$)|[^'"\s,;&}]+)""",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{60,}={0,2}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_NOT_SECRET_VALUES = {"none", "null", "true", "false", "***", REDACTED}
# Names that hold no secret though they say "password" or "token": finding codes, flags.
_NOT_SECRET_KEYS = re.compile(r"(_required|_enabled|_verification|_type)$|^wrong_password$", re.I)


def _base64(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if _HEX.fullmatch(text.rstrip("=")) else "[redacted base64]"


def _field(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in {"'", '"'} else ""
    bare = value[1:].removesuffix(quote) if quote else value
    if _NOT_SECRET_KEYS.search(match.group("key")):
        return match.group(0)
    if bare.lower() in _NOT_SECRET_VALUES or bare.startswith("[redacted"):
        return match.group(0)
    return f"{match.group('key')}{match.group('sep')}{quote}***{quote}"


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with everything that looks like a key, password or token replaced."""
    for secret in secrets:
        if secret and len(secret) >= 6 and secret in text:
            text = text.replace(secret, REDACTED)
    if "-----BEGIN" in text.upper():
        text = _PEM_BLOCK.sub(lambda m: f"[redacted {m.group(1).lower()}]", text)
        text = _PEM_ESCAPED.sub(lambda m: f"[redacted {m.group(1).lower()}]", text)
    text = _SLACK_TOKEN.sub(REDACTED, text)
    text = _BEARER.sub(r"\1" + REDACTED, text)
    text = _URL_PASSWORD.sub(r"\1***@", text)
    text = _SECRET_FIELD.sub(_field, text)
    return _BASE64_RUN.sub(_base64, text)


class RedactionFilter(logging.Filter):
    """Rewrites a record's message (and traceback) without secrets, before any handler
    formats it. `secrets` are exact values never to print (tokens, signing secret)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what can be kept
            message = str(record.msg)
        cleaned = redact_text(message, self.secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, self.secrets)
        return True


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


class TextFormatter(logging.Formatter):
    """The plain format, one physical line per record (tracebacks included)."""

    def format(self, record: logging.LogRecord) -> str:
        return _one_line(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data)


def level_of(settings: Settings, default: int = logging.INFO) -> int:
    """The level named by CERTOPS_LOG_LEVEL, else `default`."""
    name = getattr(settings, "log_level", None)
    if not name:
        return default
    value = logging.getLevelName(str(name).upper())
    return value if isinstance(value, int) else default


def configure(
    settings: Settings, *, stream: TextIO | None = None, level: int | None = None
) -> logging.Handler:
    """Send log records to `stream` (stderr by default) in the configured format.

    `level` wins over CERTOPS_LOG_LEVEL (console mode keeps the terminal quiet).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(
        RedactionFilter(
            (settings.slack_bot_token, settings.slack_app_token, settings.slack_signing_secret)
        )
    )
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(TEXT_FORMAT))
    chosen = level if level is not None else level_of(settings)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(chosen)
    # Migration chatter at every start says nothing an operator needs.
    logging.getLogger("alembic").setLevel(max(chosen, logging.WARNING))
    return handler
