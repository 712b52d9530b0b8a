"""The last guard before anything reaches the database: no private key, no password.

The pipeline's report is built from public material only, but a report is free text
(messages quote file names, and a person chooses the file names). So before a report is
stored, every string in it is checked against what we know is secret in this very
upload: the passwords and the base64 lines of every private key block in the inputs. A
string that holds one is replaced, and the marker of a PEM key block never survives.
"""

from __future__ import annotations

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


# Fields whose values the pipeline chooses from a fixed vocabulary (or computes): never
# user text, so never redacted. Without this a password such as "error" or "valid" would
# blank the severities or the verdict of the very report it is meant to protect.
_STRUCTURAL = frozenset(
    {
        "verdict",
        "code",
        "severity",
        "kind",
        "source",
        "type",
        "bits",
        "days_left",
        "not_before",
        "not_after",
        "fingerprint_sha256",
        "serial",
        "signature_algorithm",
        "secret",  # "key" or "zip": which password a finding needs
    }
)
_PEM_KEY_TEXT = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
    re.DOTALL,
)


def _clean(text: str, secrets: list[str]) -> str:
    """`text` with each secret (and any PEM private key text) cut out, the rest kept."""
    text = _PEM_KEY_TEXT.sub(REDACTED, text)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def redact(value: Any, secrets: list[str]) -> Any:
    """A copy of a JSON-like value with every secret cut out of its free-text strings.

    Dictionary keys and structural fields are the pipeline's own words and stay as they
    are; everything else (messages, hints, file names, names) is cleaned.
    """
    if isinstance(value, str):
        return _clean(value, secrets)
    if isinstance(value, dict):
        return {
            key: item if key in _STRUCTURAL else redact(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, secrets) for item in value]
    return value


def contains_secret(text: str, secrets: list[str]) -> bool:
    return bool(_PEM_KEY_TEXT.search(text)) or any(secret in text for secret in secrets)
