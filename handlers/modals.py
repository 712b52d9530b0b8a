"""Opening the validate and assign modals, for the `/cert` command and the Home buttons.

A slash command's `trigger_id` is valid for 3 seconds, so these are called right at the
ack, through `Deps.open_modal` (one try, a deadline: `handlers.modal_open`). Each returns
None once it has opened a modal, or the text to answer with instead (nothing to assign
yet, not an admin). `*_REST` is what to say when Slack did not open the form.
"""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from handlers import assign_modal, uploads, validate_modal
from handlers.deps import Deps

VALIDATE_REST = (
    "Try again in a moment, or send me the files in a direct message: I check them the same way."
)
ASSIGN_REST = (
    "Try again in a moment, or assign in one line: `/cert assign CERTIFICATE ENVIRONMENT HOSTNAME`."
)


def open_validate_modal(
    client: WebClient, trigger_id: str, user_id: str, deps: Deps, *, channel_id: str = ""
) -> str | None:
    return validate_modal.open_modal(client, trigger_id, user_id, deps, channel_id=channel_id)


def open_assign_modal(
    client: WebClient, trigger_id: str, user_id: str, deps: Deps, *, channel_id: str = ""
) -> str | None:
    return assign_modal.open_modal(client, trigger_id, user_id, deps, channel_id=channel_id)


def register_intake(app: App, deps: Deps) -> None:
    """Files in a DM and both modals. Call before handlers.events: for a request the first
    matching listener wins, and events has the catch-all `message` listener."""
    uploads.register(app, deps)
    validate_modal.register(app, deps)
    assign_modal.register(app, deps)
