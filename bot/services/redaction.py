"""The last guard before anything reaches the database: no private key, no password.

The pipeline's report is built from public material only, but a report is free text
(messages quote file names, and a person chooses the file names). So before a report is
stored, every string in it is checked against what we know is secret in this very
upload: the passwords and the base64 lines of every private key block in the inputs. A
string that holds one is replaced, and the marker of a PEM key block never survives.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any

from bot.pipeline.material import InputFile, Passwords

REDACTED = "[redacted]"
_KEY_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----(.*?)-----END \1-----", re.DOTALL)
_MIN_SECRET = 4  # shorter strings would match by accident (and are no secret worth the name)


def secrets_of(files: Iterable[InputFile], passwords: Passwords) -> list[str]:
    """The strings that must never be stored: passwords and private key body lines."""
    found: list[str] = []
    for password in (passwords.key, passwords.zip):
        if password and len(password) >= _MIN_SECRET:
            found.append(password.decode("utf-8", "replace"))
    for file in files:
        for match in _KEY_BLOCK.finditer(file.data):
            for line in match.group(2).splitlines():
                text = line.strip().decode("ascii", "replace")
                if len(text) >= 16 and ":" not in text:  # skip Proc-Type/DEK-Info headers
                    found.append(text)
    return found


def key_der_base64(der: bytes) -> str:
    """The base64 of a key's DER bytes, as a secret string for `redact` (PFX keys)."""
    return base64.b64encode(der).decode("ascii")


def _clean(text: str, secrets: list[str]) -> str:
    if "PRIVATE KEY" in text or any(secret in text for secret in secrets):
        return REDACTED
    return text


def redact(value: Any, secrets: list[str]) -> Any:
    """A copy of a JSON-like value with every string holding a secret replaced."""
    if isinstance(value, str):
        return _clean(value, secrets)
    if isinstance(value, dict):
        return {_clean(str(k), secrets): redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item, secrets) for item in value]
    return value


def contains_secret(text: str, secrets: list[str]) -> bool:
    return "PRIVATE KEY" in text or any(secret in text for secret in secrets)
