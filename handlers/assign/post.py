"""The result of an assignment as a real channel message, with the TLS check under it.

A `response_url` answer carries no message ts, so nothing can be threaded under it. The
result is posted with `chat.postMessage` in the channel where the person acted (or their
DM when the channel refuses, e.g. a private channel the bot is not in), and the
post-assignment check is told that message's channel and ts: about five minutes later
its outcome appears in that thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import tls_check
from handlers.common.blocks.base import Blocks, checked_message, fallback_text, section
from handlers.common.deps import Deps
from handlers.common.payloads import dm_channel

log = logging.getLogger("certops.slack")

DM_NOTE = "_I could not post this in the channel: here it is for you._"


@dataclass(frozen=True)
class Posted:
    """Where the result message went: its channel, its ts, and whether that is the DM."""

    channel: str
    ts: str
    in_dm: bool


def post_result(client: WebClient, channel: str | None, user_id: str, blocks: Blocks) -> Posted:
    """Post `blocks` in `channel` (the person's DM when there is none or it refuses)."""
    if channel:
        message = checked_message(blocks)
        try:
            answer = client.chat_postMessage(
                channel=channel, text=fallback_text(message), blocks=message
            )
            return Posted(str(answer.get("channel") or channel), str(answer["ts"]), False)
        except SlackApiError as error:
            log.info(
                "result to %s refused (%s): sent to the DM",
                channel,
                error.response.get("error"),
            )
        blocks = [*blocks, section(DM_NOTE)]
    message = checked_message(blocks)
    target = dm_channel(client, user_id)
    answer = client.chat_postMessage(channel=target, text=fallback_text(message), blocks=message)
    return Posted(str(answer.get("channel") or target), str(answer["ts"]), True)


def assignment_ids(results: Iterable[Mapping[str, Any]]) -> list[int]:
    """The assignments made, from AssignResult dicts (tickets and refusals have none)."""
    ids = []
    for result in results:
        assignment = result.get("assignment") if result.get("ok") else None
        if isinstance(assignment, Mapping) and assignment.get("id"):
            ids.append(int(assignment["id"]))
    return ids


def follow_in_thread(deps: Deps, ids: Iterable[int], posted: Posted) -> None:
    """The TLS check of each assignment answers in the thread of `posted`.

    A failure here only loses the thread (the scheduler then announces the check in the
    environment's channel), so it is logged, never shown to the person.
    """
    for assignment_id in ids:
        try:
            tls_check.attach_thread(deps.services, assignment_id, posted.channel, posted.ts)
        except Exception as error:
            log.warning(
                "TLS check of assignment %s not threaded: %s: %s",
                assignment_id,
                type(error).__name__,
                error,
            )
