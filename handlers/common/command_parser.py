"""`/cert` text → a Command, as a pure function: no Slack, no database, easy to test.

Slack sends the text after `/cert` as one string. Channel mentions arrive escaped
(`<#C0123|ops>`) when the command is created with `should_escape: true`, or as `#ops`
otherwise; both are accepted. A wrong subcommand or argument raises `UsageError`,
whose message is the short answer the person sees.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

# (subcommand, argument synopsis, what it does) — the order is the help order.
SYNOPSES: tuple[tuple[str, str, str], ...] = (
    ("help", "", "this list"),
    ("validate", "", "check and save certificate files in a form (or drop them in a DM)"),
    ("assign", "[CERT ENV HOSTNAME]", "put a certificate on an environment (no arguments: a form)"),
    ("dns", "HOSTNAME [ENV]", "check the CNAME of a hostname"),
    ("list", "", "the certificates on record"),
    ("show", "NAME", "one certificate in detail"),
    ("env add", "NAME DEFAULT_HOST [lifetime] [#channel]", "record an environment"),
    ("env list", "", "the environments on record"),
    ("env sync", "[dry-run]", "create or update environments from LifeTime's API"),
    ("ticket open", "CERT HOSTNAME", "start a LifeTime support ticket"),
    ("ticket update", "ID STATE [CASE]", "move a ticket on (STATE: submitted, confirmed, ...)"),
    ("ticket list", "", "the support tickets"),
    ("renew", "NAME", "start the renewal of a certificate"),
    ("approve", "NAME", "approve a certificate that waits for manual validation"),
    ("reject", "NAME REASON", "reject a certificate that waits for manual validation"),
    ("expiring", "[DAYS]", "certificates that expire within DAYS (default 30)"),
)

# Subcommands that change what the whole team relies on; the services enforce the same
# rule, this list only lets the handler refuse politely before doing any work.
ADMIN_ONLY = frozenset(
    {"approve", "reject", "env add", "env sync", "assign", "renew", "ticket open", "ticket update"}
)

GROUPS = {"env": ("add", "list", "sync"), "ticket": ("open", "update", "list")}
DEFAULT_EXPIRING_DAYS = 30
MAX_EXPIRING_DAYS = 3650

_CHANNEL = re.compile(r"^<#(?P<id>[CG][A-Z0-9]+)(?:\|(?P<name>[^>]*))?>$|^#(?P<plain>[\w.-]+)$")
_LINK = re.compile(r"^<(?:https?://)?(?P<target>[^|>]+)(?:\|(?P<label>[^>]*))?>$")


def synopsis(name: str) -> str:
    """`/cert NAME ARGS` for one subcommand."""
    for sub, args, _ in SYNOPSES:
        if sub == name:
            return f"/cert {sub} {args}".rstrip()
    raise KeyError(name)


def usage_text() -> str:
    """Every subcommand, one per line, as the help answer shows them."""
    width = max(len(f"/cert {sub} {args}".rstrip()) for sub, args, _ in SYNOPSES)
    lines = [f"{synopsis(sub).ljust(width)}  {what}" for sub, _, what in SYNOPSES]
    return "\n".join(lines)


class UsageError(ValueError):
    """The text is not a valid `/cert` command; `str(error)` is the answer to show."""

    def __init__(self, message: str, subcommand: str | None = None) -> None:
        super().__init__(message)
        self.subcommand = subcommand

    @property
    def usage(self) -> str:
        if self.subcommand is not None:
            return f"Usage: `{synopsis(self.subcommand)}`"
        return "Try `/cert help` for the list of subcommands."


@dataclass(frozen=True)
class Command:
    name: str
    args: dict[str, str | int | bool | None] = field(default_factory=dict)

    @property
    def admin_only(self) -> bool:
        if self.name == "assign" and not self.args:
            return False  # opening the modal is harmless; submitting it is checked
        return self.name in ADMIN_ONLY

    def text(self, key: str) -> str:
        value = self.args.get(key)
        return "" if value is None else str(value)


def tokenize(text: str) -> list[str]:
    """Split like a shell, tolerating Slack's smart quotes and an unbalanced quote."""
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'")
    text = text.replace("\u2019", "'").replace("\u00a0", " ")
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def unlink(token: str) -> str:
    """`<http://a.example.com|a.example.com>` (Slack's auto-link of a host name) → the name."""
    match = _LINK.match(token)
    if match is None or token.startswith(("<#", "<@", "<!")):
        return token
    return match.group("label") or match.group("target")


def unescape(token: str) -> str:
    """Slack sends a typed `&`, `<` and `>` as `&amp;`, `&lt;` and `&gt;`: the typed text back.

    Slack's own markup (`<#C1|ops>`, `<@U1>`) keeps real angle brackets and is left as is.
    """
    if token.startswith("<"):
        return token
    return token.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def channel_id(token: str) -> str | None:
    """The channel a token names (`<#C1|name>` → `C1`, `#name` → `#name`), or None."""
    match = _CHANNEL.match(token)
    if match is None:
        return None
    if match.group("id"):
        return match.group("id")
    return "#" + match.group("plain")


def _expect(name: str, tokens: list[str], minimum: int, maximum: int) -> list[str]:
    if not minimum <= len(tokens) <= maximum:
        if len(tokens) < minimum:
            raise UsageError(f"`/cert {name}` is missing an argument.", name)
        raise UsageError(f"`/cert {name}` got more arguments than it takes.", name)
    return tokens


def _parse_env_add(tokens: list[str]) -> Command:
    if len(tokens) < 2:
        raise UsageError("`/cert env add` needs a NAME and a DEFAULT_HOST.", "env add")
    name, host, *rest = tokens
    lifetime = False
    channel: str | None = None
    for token in rest:
        if token.lower() == "lifetime":
            lifetime = True
        elif (found := channel_id(token)) is not None and channel is None:
            channel = found
        else:
            raise UsageError(f"`/cert env add`: I don't know what {token!r} means.", "env add")
    return Command(
        "env add", {"name": name, "default_host": host, "lifetime": lifetime, "channel": channel}
    )


def _parse_group(group: str, tokens: list[str]) -> Command:
    if not tokens or tokens[0].lower() not in GROUPS[group]:
        choices = " | ".join(f"`/cert {group} {sub}`" for sub in GROUPS[group])
        raise UsageError(f"`/cert {group}` needs a subcommand: {choices}.")
    name = f"{group} {tokens[0].lower()}"
    rest = tokens[1:]
    if name == "env add":
        return _parse_env_add(rest)
    if name == "env sync":
        options = [token.lower() for token in _expect(name, rest, 0, 1)]
        if options and options[0] not in {"dry-run", "--dry-run", "dryrun"}:
            raise UsageError(f"`/cert env sync`: I don't know what {rest[0]!r} means.", name)
        return Command(name, {"dry_run": bool(options)})
    if name == "ticket open":
        cert, host = _expect(name, rest, 2, 2)
        return Command(name, {"certificate": cert, "hostname": host})
    if name == "ticket update":
        ticket, state, *case = _expect(name, rest, 2, 3)
        return Command(
            name, {"id": ticket, "state": state.lower(), "case": case[0] if case else None}
        )
    _expect(name, rest, 0, 0)
    return Command(name)


def _parse_expiring(tokens: list[str]) -> Command:
    (days_text,) = _expect("expiring", tokens, 0, 1) or [str(DEFAULT_EXPIRING_DAYS)]
    if not days_text.isdigit() or not 0 <= int(days_text) <= MAX_EXPIRING_DAYS:
        raise UsageError(
            f"`/cert expiring` takes a number of days from 0 to {MAX_EXPIRING_DAYS}.", "expiring"
        )
    return Command("expiring", {"days": int(days_text)})


def parse(text: str) -> Command:
    """The command in `text` (what follows `/cert`); raises UsageError when it is wrong."""
    tokens = [unescape(unlink(token)) for token in tokenize(text.strip())]
    if not tokens:
        return Command("help")
    sub, rest = tokens[0].lower(), tokens[1:]
    if sub in GROUPS:
        return _parse_group(sub, rest)
    if sub in {"help", "list", "validate"}:
        _expect(sub, rest, 0, 0)
        if sub == "validate" and rest:
            raise UsageError("`/cert validate` takes no arguments.", "validate")
        return Command(sub)
    if sub in {"show", "renew", "approve"}:
        (name,) = _expect(sub, rest, 1, 1)
        return Command(sub, {"name": name})
    if sub == "reject":
        if len(rest) < 2:
            raise UsageError("`/cert reject` needs a NAME and a REASON.", "reject")
        return Command("reject", {"name": rest[0], "reason": " ".join(rest[1:])})
    if sub == "dns":
        host, *env = _expect(sub, rest, 1, 2)
        return Command("dns", {"hostname": host, "environment": env[0] if env else None})
    if sub == "assign":
        if not rest:
            return Command("assign")
        if len(rest) != 3:
            raise UsageError(
                "`/cert assign` takes no arguments (opens a form) or all three.", "assign"
            )
        cert, env_name, host = rest
        return Command("assign", {"certificate": cert, "environment": env_name, "hostname": host})
    if sub == "expiring":
        return _parse_expiring(rest)
    raise UsageError(f"I don't know `/cert {tokens[0]}`.")
