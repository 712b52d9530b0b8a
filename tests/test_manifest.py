"""manifest.yml: valid against Slack's schema, and consistent with what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from handlers.uploads.dm import SUBSCRIBED_EVENTS

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.json"

# Web API methods the code calls (as slack_sdk method names) -> the bot scope each needs.
SCOPE_FOR_METHOD: dict[str, str | None] = {
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "conversations_open": "im:write",
    "conversations_history": "channels:history",  # and groups:history (private channels)
    "views_publish": None,
    "views_open": None,
    "views_update": None,
    "views_push": None,
    "files_info": "files:read",
    "users_info": "users:read",
    "auth_test": None,
}
# Events -> the scope Slack requires to subscribe to them.
SCOPE_FOR_EVENT = {"app_home_opened": None, "message.im": "im:history", "file_shared": "files:read"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_manifest_matches_slacks_schema(manifest: dict[str, Any]) -> None:
    if not SCHEMA.is_file():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA}")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(manifest, schema)


def test_the_schema_check_can_fail(manifest: dict[str, Any]) -> None:
    if not SCHEMA.is_file():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA}")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = {
        **manifest,
        "features": {**manifest["features"], "slash_commands": [{"command": "cert"}]},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_the_app_can_be_messaged_and_has_a_home(manifest: dict[str, Any]) -> None:
    home = manifest["features"]["app_home"]
    assert home == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": False,
    }
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/cert" and command["usage_hint"]


def test_every_subscribed_event_has_a_listener(manifest: dict[str, Any]) -> None:
    """The events module names its listeners; the HTTP test sends each event for real."""
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == set(SUBSCRIBED_EVENTS)


def _called_methods() -> set[str]:
    """Slack's Web API is called from handlers/ only (the console serves it, never calls it)."""
    called: set[str] = set()
    for path in [*(ROOT / "handlers").rglob("*.py"), ROOT / "bot" / "app.py"]:
        text = path.read_text(encoding="utf-8")
        called |= set(re.findall(r"\bclient\.([a-z]+_[a-zA-Z_]+)\(", text))
        if re.search(r"\bsay\(", text):
            called.add("chat_postMessage")
    return called


def test_the_scopes_cover_what_the_code_calls(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    called = _called_methods()
    assert {"chat_postMessage", "views_publish", "conversations_open"} <= called
    unknown = called - SCOPE_FOR_METHOD.keys()
    assert not unknown, f"add the scope of {unknown} to SCOPE_FOR_METHOD and the manifest"
    needed = {SCOPE_FOR_METHOD[m] for m in called} | {"commands"}
    needed |= {
        SCOPE_FOR_EVENT[e] for e in manifest["settings"]["event_subscriptions"]["bot_events"]
    }
    needed.discard(None)
    assert needed <= scopes, f"missing scopes: {needed - scopes}"
