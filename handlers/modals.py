"""Seams for the validate and assign modals (built in the uploads-and-modals issue).

A slash command's `trigger_id` is valid for 3 seconds, so these are called right at the
ack. Each returns None once it has opened a modal, or the text to answer with instead:
for now, where to send the files.
"""

from __future__ import annotations

from slack_sdk import WebClient

from handlers.deps import Deps

VALIDATE_HINT = (
    "Send me the certificate files in a DM (certificate, private key and chain, or a "
    "PFX, or a ZIP) and I'll check them and tell you what to fix. A form for this is coming."
)
ASSIGN_HINT = (
    "Give me all three: `/cert assign CERT ENV HOSTNAME` (for example "
    "`/cert assign shop-2026 prod shop.example.com`). A form for this is coming."
)


def open_validate_modal(client: WebClient, trigger_id: str, user_id: str, deps: Deps) -> str | None:
    """Open the validate modal; until it exists, answer with where to send the files."""
    return VALIDATE_HINT


def open_assign_modal(client: WebClient, trigger_id: str, user_id: str, deps: Deps) -> str | None:
    """Open the assign modal; until it exists, answer with the command's full form."""
    return ASSIGN_HINT
