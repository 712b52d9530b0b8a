"""Event listeners: one for every event type the manifest subscribes to.

In Socket Mode an event with no listener is answered 404 and redelivered, so each
subscribed type has a listener here even when there is nothing to do (see
SUBSCRIBED_EVENTS, which the manifest test compares with manifest.yml).
`app_home_opened` lives in home/; files shared in a DM (`message` with subtype
`file_share`) in intake.py, registered before this catch-all (uploads/__init__.py).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Say

log = logging.getLogger("certops.slack")

SUBSCRIBED_EVENTS = frozenset({"app_home_opened", "message.im"})

DM_HINT = (
    "Hi! Send me certificate files here (certificate, key and chain, a PFX or a ZIP) and "
    "I'll check them. Type `/cert help` anywhere for everything else I can do."
)
# Message subtypes that are edits, deletions and joins: nothing to answer.
QUIET_SUBTYPES = frozenset(
    {"message_changed", "message_deleted", "channel_join", "bot_message", "message_replied"}
)


def on_message(event: dict[str, Any], say: Say) -> None:
    """A DM to the bot: point at what it can do. Other messages: acknowledge, nothing else."""
    if event.get("channel_type") != "im" or event.get("subtype") in QUIET_SUBTYPES:
        return
    if event.get("bot_id"):
        return
    say(text=DM_HINT)
