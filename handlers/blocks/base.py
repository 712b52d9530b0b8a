"""Small Block Kit builders and the one gate every message and view goes through.

Slack rejects a message with more than 50 blocks and a view with more than 100, and
`slack_sdk.models` checks the other limits (text lengths, element counts) only when
`.to_dict()` runs. `checked_message` and `checked_view` run that check here, at render
time, so a bad block fails in a unit test instead of as an `invalid_blocks` error in Slack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

Blocks = list[dict[str, Any]]

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
SECTION_TEXT_LIMIT = 3000


class InvalidBlocks(ValueError):
    """A builder produced blocks that Slack would refuse."""


def clip(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """Shorten text to a Block Kit field limit, saying that it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, 150)}}


def section(text: str, *, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def fields(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A section of label/value fields (Slack allows 10, each up to 2000 characters)."""
    items = [
        {"type": "mrkdwn", "text": clip(f"*{label}*\n{value}", 2000)} for label, value in pairs[:10]
    ]
    return {"type": "section", "fields": items}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text)}]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(
    text: str, action_id: str, *, value: str | None = None, style: str | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, 75)},
        "action_id": action_id,
    }
    if value is not None:
        element["value"] = value[:2000]
    if style is not None:
        element["style"] = style
    return element


def actions(*elements: dict[str, Any], block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "actions", "elements": list(elements)[:25]}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def truncate(blocks: Blocks, limit: int = MESSAGE_BLOCK_LIMIT) -> Blocks:
    """Keep at most `limit` blocks; the last one says how many were left out."""
    if len(blocks) <= limit:
        return list(blocks)
    kept = blocks[: limit - 1]
    return [*kept, context(f"…and {len(blocks) - len(kept)} more not shown.")]


def _check(blocks: Blocks) -> Blocks:
    parsed = Block.parse_all(blocks)
    for index, block in enumerate(parsed):
        if block is None:
            raise InvalidBlocks(f"block {index} has an unknown type: {blocks[index]!r}")
        try:
            block.to_dict()
        except Exception as error:  # slack_sdk raises SlackObjectFormationError
            raise InvalidBlocks(f"block {index}: {error}") from error
    return blocks


def checked_message(blocks: Blocks) -> Blocks:
    """The blocks of one message, truncated to Slack's 50 and checked by slack_sdk."""
    return _check(truncate(blocks, MESSAGE_BLOCK_LIMIT))


def checked_view(view: dict[str, Any]) -> dict[str, Any]:
    """A modal or Home view, truncated to Slack's 100 blocks and checked by slack_sdk."""
    view = dict(view)
    view["blocks"] = _check(truncate(view.get("blocks", []), VIEW_BLOCK_LIMIT))
    try:
        View(**view).to_dict()
    except Exception as error:
        raise InvalidBlocks(f"view: {error}") from error
    return view


def fallback_text(blocks: Blocks) -> str:
    """The plain `text` sent beside blocks (notifications and screen readers use it)."""
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and text.get("text"):
            return clip(str(text["text"]), 300)
    return "certops"
