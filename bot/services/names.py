"""The certificate naming rule, in one place: the CLI, the console and every Slack form
check a new name here, and every name the bot proposes is made to fit it here.

A name is typed on a command line (`certops cert show NAME`), quoted in Slack messages
and notifications, and chosen by anyone in the workspace. Letters, digits, `.`, `-` and
`_` (starting with a letter or a digit, so it never reads as an option) cannot carry
Slack markup such as `<!channel>` nor need quoting in a shell. Names stored before the
rule keep working: only a new certificate's name is checked, lookups take any stored
name, and everything shown is escaped anyway.
"""

from __future__ import annotations

import re

from bot.services.errors import ServiceError

MAX_NAME = 100
NAME_RULE = (
    f"letters, digits, '.', '-' and '_' only, starting with a letter or a digit, "
    f"at most {MAX_NAME} characters"
)
_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_NAME - 1}}}")
_OUTSIDE = re.compile(r"[^A-Za-z0-9._-]+")
_EDGE = "._-"
FALLBACK = "certificate"


def check_certificate_name(name: str) -> str:
    """The name, stripped, if it fits the rule; else a refusal that says what is allowed."""
    text = name.strip()
    if _NAME.fullmatch(text) is None:
        # Not echoed: the refusal goes to modals and messages as is, and says what is allowed.
        raise ServiceError("invalid_input", f"a certificate name may use {NAME_RULE}")
    return text


def fit_name(
    text: str, suffix: str = "", *, limit: int = MAX_NAME, fallback: str = FALLBACK
) -> str:
    """A name that fits the rule, made from `text` (a SAN, an old name) and `suffix`.

    `*.` becomes `wildcard.`; every run of other characters becomes one `-`; the suffix
    (such as `-2027`) is kept whole and the base is shortened to make room. `limit`: a
    shorter maximum (an environment's name, from LifeTime, is at most 64 characters).
    """
    tail = _OUTSIDE.sub("-", suffix)[: limit - 1]
    base = _OUTSIDE.sub("-", text.strip().replace("*.", "wildcard.")).strip(_EDGE)
    base = base[: limit - len(tail)].rstrip(_EDGE) or fallback
    return (base + tail)[:limit]
