"""Escaping free text for Slack's markup: the one helper every message uses.

Slack reads `<`, `>` and `&` as control characters in every text object and in a
message's top-level `text` (the one notifications and mobile show): `<!channel>` in a
certificate name, a reason or a SAN would ping everyone. Every value that is not the
bot's own markup goes through `escape`, in blocks as in `text`. It lives here, below the
handlers, because a few services write their messages themselves (the TLS check's
announcement and result); `handlers.common.blocks.base` re-exports it for Block Kit.
"""

from __future__ import annotations

import re

USER_ID = re.compile(r"[UW][A-Z0-9]+")


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user: str | None) -> str:
    """A Slack user id as a mention; anything else (terminal, system) escaped as itself."""
    if user and USER_ID.fullmatch(user):
        return f"<@{user}>"
    return escape(user or "—")
