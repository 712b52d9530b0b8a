"""The error handler: whatever breaks, the person hears about it, and the log has the details.

Without it, a command whose listener raises leaves Slack's "failed with the error
operation_timeout" and an event leaves nothing. The answer names the request id so an
admin can find the log line; the exception text itself is never shown (it can hold
paths, SQL or worse).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from handlers.common.blocks.base import checked_message, context, escape, section
from handlers.common.command_parser import unescape
from handlers.common.deps import Deps
from handlers.common.middleware import user_id_of
from handlers.common.payloads import dm_channel
from handlers.common.request_context import request_id_var

log = logging.getLogger("certops.slack")


# Said only where the code knows it (checking files stores nothing): a listener that
# failed may have failed after its change was committed.
UNCHANGED = " Nothing was changed."


def error_blocks(what: str, request_id: str, *, unchanged: bool = False) -> list[dict[str, Any]]:
    said = UNCHANGED if unchanged else ""
    return checked_message(
        [
            section(f":warning: Sorry, something went wrong while {what}.{said}"),
            context(f"Reference `{request_id}`: an admin can find the details in the bot's log."),
        ]
    )


def best_effort(what: str, work: Callable[[], object]) -> None:
    """Work after a change is committed (a DM, a reply in a thread, the Home): a failure is
    logged, and never turns a change that was made into an error for the person."""
    try:
        work()
    except Exception as error:
        log.warning(
            "%s failed after the change was made: %s", what, type(error).__name__, exc_info=error
        )


def describe_request(body: dict[str, Any]) -> str:
    """What the person was doing, in their words: `/cert list`, a button, an event."""
    if body.get("command"):
        typed = unescape(f"{body['command']} {body.get('text', '')}".strip())
        return f"handling `{escape(typed)}`"  # as typed; a mention in it is shown, not sent
    if body.get("type") in {"block_actions", "view_submission"}:
        return "handling your click"
    return "handling your message"


def register(app: App, deps: Deps) -> None:
    app.error(handle_error)


def handle_error(
    error: Exception,
    body: dict[str, Any],
    respond: Respond | None,
    client: WebClient,
    response: BoltResponse | None,
) -> BoltResponse | None:
    request_id = request_id_var.get()
    log.error("unhandled error: %s", type(error).__name__, exc_info=error)
    blocks = error_blocks(describe_request(body), request_id)
    text = blocks[0]["text"]["text"]
    try:
        if respond is not None and body.get("response_url"):
            respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        else:
            _tell_user(client, body, text, blocks)
    except Exception as answer_error:  # the answer itself failed: the log is all we have
        log.error("could not tell the user about the error: %s", answer_error)
    if response is not None and response.status >= 500:
        # Before the ack: answer Slack with the text instead of a 500 it would show as a
        # timeout; the person then sees the same message once.
        return BoltResponse(status=200, body="")
    return None


def _tell_user(client: WebClient, body: dict[str, Any], text: str, blocks: list[Any]) -> None:
    user = user_id_of(body)
    if not user:
        return
    event = body.get("event") or {}
    channel = event.get("channel") if isinstance(event, dict) else None
    if isinstance(channel, str) and channel.startswith("D"):
        client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        return
    client.chat_postMessage(channel=dm_channel(client, user), text=text, blocks=blocks)
