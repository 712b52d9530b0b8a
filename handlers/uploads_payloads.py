"""Reading Slack's interaction payloads: button values, view metadata, form inputs.

The upload flow carries its state in button values and `private_metadata` (file ids and
flags, never bytes or passwords); these read them back defensively, since a payload is
input like any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient

# Inputs kept as typed: a space can belong to a password.
PASSWORD_FIELDS = frozenset({"password", "zip_password"})


def button_value(body: Mapping[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(body["actions"][0].get("value") or "{}")
    except (KeyError, IndexError, TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def metadata_of(view: Mapping[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(str(view.get("private_metadata") or "{}"))
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def input_values(view: Mapping[str, Any]) -> dict[str, str]:
    """Text inputs of a submitted view by block id (the action id is always `value`).

    Trimmed, except passwords: a space can belong to one.
    """
    found: dict[str, str] = {}
    values = (view.get("state") or {}).get("values") or {}
    for block_id, elements in values.items():
        element = (elements or {}).get("value") or {}
        if isinstance(element.get("value"), str):
            text = element["value"]
            found[block_id] = text if block_id in PASSWORD_FIELDS else text.strip()
    return found


def dm_of(body: Mapping[str, Any], client: WebClient) -> str:
    """The DM channel of the click (or of the person, when clicked elsewhere)."""
    channel = body.get("channel") or {}
    if isinstance(channel, dict) and str(channel.get("id", "")).startswith("D"):
        return str(channel["id"])
    user = (body.get("user") or {}).get("id", "")
    return str(client.conversations_open(users=user)["channel"]["id"])
