"""Expiry warnings in Slack, as the tests drive them: the scan's configuration and a click
on a button of a warning the bot posted, sent as Slack sends it.

Shared by tests/test_expiry_slack.py and tests/test_slack_markup.py.
"""

from __future__ import annotations

from typing import Any

from bot.services.expiry import ExpiryConfig
from bot.services.expiry_thresholds import from_settings
from tests.support.slack_harness import USER, SlackHarness

CONFIG = ExpiryConfig(from_settings((30, 14, 7, 3, 1, 0), ()), "C0DEFAULT", "test")


def interact(h: SlackHarness, payload: dict[str, Any]) -> Any:
    return h._exchange(lambda: h.sender.interaction(payload))


def click(h: SlackHarness, message: Any, action_id: str, user: str = USER) -> Any:
    """Click a button of a message the bot posted, as Slack sends it (container, channel)."""
    for block in message.blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                payload = {
                    "type": "block_actions",
                    "user": {"id": user},
                    "channel": {"id": message.params["channel"]},
                    "container": {
                        "type": "message",
                        "message_ts": message.params.get("ts") or "1.1",
                        "channel_id": message.params["channel"],
                    },
                    "response_url": h.api.response_url(),
                    "actions": [
                        {"type": "button", "action_id": action_id, "value": element["value"]}
                    ],
                }
                return interact(h, payload)
    raise AssertionError(f"no button {action_id}")
