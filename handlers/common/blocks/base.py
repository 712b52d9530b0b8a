"""Small Block Kit builders and the one gate every message and view goes through.

Slack rejects a message with more than 50 blocks and a view with more than 100, and
`slack_sdk.models` checks the other limits (text lengths, element counts) only when
`.to_dict()` runs. `checked_message` and `checked_view` run that check here, at render
time, so a bad block fails in a unit test instead of as an `invalid_blocks` error in Slack.

Markup: builders `escape` every free value where they compose text (the bot's own
markup, mentions of user ids, stays). `safe_payload` is the backstop that
`handlers.common.markup_gate` applies to everything sent (Web API, response URL, ack): any
`<...>` that is not one of the bot's own forms is escaped there, so a message that
forgot `escape` still cannot ping `@channel`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.services.mrkdwn import escape

__all__ = ["escape"]  # the one escaping helper (bot.services.mrkdwn), for the builders

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


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, 150)}}


def section(text: str, *, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def text_blocks(lines: Sequence[str]) -> Blocks:
    """Lines of mrkdwn (already escaped) as few sections as fit Slack's text limit, each
    line whole; `checked_message` then keeps 50 blocks and says how many were left out."""
    blocks: Blocks = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = clip(line, SECTION_TEXT_LIMIT - 1)
        if current and size + len(line) + 1 > SECTION_TEXT_LIMIT:
            blocks.append(section("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        blocks.append(section("\n".join(current)))
    return blocks


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


def input_block(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool | None = None,
    hint: str | None = None,
    dispatch: bool = False,
) -> dict[str, Any]:
    """A form's input: its block id (what view state and field errors are keyed by)."""
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }
    if optional is not None:
        block["optional"] = optional
    if hint:
        block["hint"] = {"type": "plain_text", "text": clip(hint, 2000)}
    if dispatch:
        block["dispatch_action"] = True
    return block


def form_modal(
    callback_id: str, metadata: str, *, title: str, submit: str, blocks: Blocks
) -> dict[str, Any]:
    """A form: its callback id, the flow's state in `private_metadata`, submit and Cancel."""
    return checked_view(
        {
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": metadata,
            "title": {"type": "plain_text", "text": title},
            "submit": {"type": "plain_text", "text": submit},
            "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": blocks,
        }
    )


def fallback_text(blocks: Blocks) -> str:
    """The plain `text` sent beside blocks (notifications and screen readers use it)."""
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and text.get("text"):
            return clip(str(text["text"]), 300)
    return "certops"


# -- the markup gate ----------------------------------------------------------------------

# The only control sequences the bot writes itself: a user or a channel by id, and
# `<!here>` in an expired certificate's warning (allowed only inside `broadcast()`).
_OWN = re.compile(r"<(?:@[UW][A-Z0-9]+|#[CG][A-Z0-9]+(?:\|[^<>]*)?)>")
_HERE = "<!here>"
# What needs a decision: a `<...>` sequence, a lone `<` or `>`, an `&` that does not
# start one of the three entities (those are left alone without a look).
_TOKEN = re.compile(r"<[^<>]*>|[<>]|&(?!(?:amp|lt|gt);)")
# Keys whose strings are data, not text Slack shows: carried back to the bot or typed
# into a field (a modal's `initial_value` is shown as typed, never parsed).
DATA_KEYS = frozenset(
    {
        "value",
        "private_metadata",
        "initial_value",
        "metadata",
        "url",
        "image_url",
        "action_id",
        "block_id",
        "callback_id",
        "external_id",
    }
)
_broadcast: ContextVar[bool] = ContextVar("certops_broadcast", default=False)


@contextmanager
def broadcast() -> Iterator[None]:
    """Within this block, `<!here>` passes the gate (the expired warning needs it)."""
    token = _broadcast.set(True)
    try:
        yield
    finally:
        _broadcast.reset(token)


def neutralize(text: str) -> str:
    """Escape every `<`, `>` and `&` that is not the bot's own markup or an entity.

    Idempotent: text already escaped (entities, own mentions) comes back unchanged, so
    the gate can run on everything without escaping twice.
    """
    if "<" not in text and ">" not in text and "&" not in text:
        return text
    here = _broadcast.get()

    def keep_or_escape(match: re.Match[str]) -> str:
        token = match.group(0)
        if _OWN.fullmatch(token) or (here and token == _HERE):
            return token
        return escape(token)

    return _TOKEN.sub(keep_or_escape, text)


def safe_payload(payload: Any, changed: list[str] | None = None, path: str = "") -> Any:
    """A copy of a message, view or ack body with every shown string `neutralize`d.

    `changed` collects the paths of strings the gate had to fix (a builder that forgot
    `escape`): the gate logs them, and the tests require there are none.
    """
    if isinstance(payload, dict):
        return {
            key: value if key in DATA_KEYS else safe_payload(value, changed, f"{path}.{key}")
            for key, value in payload.items()
        }
    if isinstance(payload, (list, tuple)):
        return [safe_payload(v, changed, f"{path}[{i}]") for i, v in enumerate(payload)]
    if isinstance(payload, str):
        safe = neutralize(payload)
        if safe != payload and changed is not None:
            changed.append(path or "text")
        return safe
    return payload
