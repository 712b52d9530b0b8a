"""Help, usage and refusal answers."""

from __future__ import annotations

from typing import Any

from handlers.common.blocks.base import checked_message, context, escape, section
from handlers.common.command_parser import ADMIN_ONLY, SYNOPSES, UsageError, synopsis

Blocks = list[dict[str, Any]]


def help_blocks(is_admin: bool) -> Blocks:
    lines = []
    for sub, _, what in SYNOPSES:
        mark = " _(admins)_" if sub in ADMIN_ONLY else ""
        lines.append(f"`{synopsis(sub)}`  {what}{mark}")
    footer = "You are an admin." if is_admin else "Commands marked _(admins)_ need an admin."
    return checked_message(
        [
            section("*certops* puts your own TLS certificate and hostname on OutSystems Cloud."),
            section("\n".join(lines)),
            context(f"{footer} You can also drop certificate files into a DM with me."),
        ]
    )


def usage_blocks(error: UsageError) -> Blocks:
    # The message may quote what was typed (a token such as `<!channel>`): escaped.
    return checked_message([section(f"{escape(str(error))} {error.usage}")])


def not_admin_blocks(subcommand: str, admins: str, *, action: str | None = None) -> Blocks:
    """`action` names what was refused when it is not a `/cert` subcommand (a button)."""
    what = action or f"`/cert {subcommand}`"
    return checked_message(
        [section(f"Sorry, {what} is for admins only. Please ask one of them: {admins}.")]
    )


def problem_blocks(message: str) -> Blocks:
    """A refusal from a service (a rule said no): what it said, and nothing more."""
    first = message.split(" ", 1)[0]
    if "." not in first.rstrip(".:,"):  # a sentence, not one starting with a host name
        message = message[:1].upper() + message[1:]
    text = escape(message)  # it may quote a name or a value
    if not text.endswith((".", "!", "?")):
        text += "."
    return checked_message([section(f":no_entry: {text}")])
