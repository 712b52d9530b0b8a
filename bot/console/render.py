"""Block Kit as plain text for the terminal: what a person would read in Slack."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_USER = re.compile(r"<@([A-Z0-9]+)>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
_EMOJI = re.compile(r":[a-z][a-z_+-]*:\s?")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")


def mrkdwn(text: str) -> str:
    """Slack's mrkdwn as plain text: mentions readable, emoji codes dropped, entities undone."""
    text = _USER.sub(r"@\1", text)
    text = _SPECIAL.sub(r"@\1", text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _LINK.sub(r"\2 (\1)", text)
    text = _EMOJI.sub("", text)
    text = text.replace("```", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return mrkdwn(str(obj.get("text", "")))
    return ""


def block_lines(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return ["", f"== {_text_of(block.get('text'))} =="]
    if kind == "divider":
        return ["-" * 40]
    if kind == "context":
        return ["  " + " ".join(_text_of(e) for e in block.get("elements", []))]
    if kind == "actions":
        return ["  " + "  ".join(f"[{_text_of(e.get('text'))}]" for e in block.get("elements", []))]
    if kind == "input":
        return [f"{_text_of(block.get('label'))}: ____"]
    lines: list[str] = []
    if kind == "section":
        if block.get("text"):
            lines += _text_of(block["text"]).splitlines()
        for item in block.get("fields") or []:
            lines += ["  " + line for line in _text_of(item).splitlines()]
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            lines.append(f"  [{_text_of(accessory.get('text'))}]")
    return lines


def blocks_text(blocks: Iterable[dict[str, Any]]) -> str:
    lines: list[str] = []
    for block in blocks:
        lines += block_lines(block)
    return "\n".join(lines).strip("\n")


def message_text(text: str | None, blocks: list[dict[str, Any]] | None) -> str:
    """A message's blocks as text, or its plain `text` when it has no blocks."""
    if blocks:
        return blocks_text(blocks)
    return mrkdwn(text or "")
