"""Reading Slack's interaction payloads, in one place: button values, `private_metadata`,
view state, where a click came from, and the person's DM channel.

The flows carry their state in button values and `private_metadata` (file ids, flags and
names, never bytes or passwords); these read it back defensively, since a payload is
input like any other: a malformed value reads as empty, never as an exception. A
service's refusal is put on a form's fields by `field_errors`, the one table lookup the
save, validate and assign forms share.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient

from bot.services.errors import ServiceError

# Inputs kept as typed: a space can belong to a password.
PASSWORD_FIELDS = frozenset({"password", "zip_password"})
# Text inputs carry this action id (handlers/common/blocks/verdicts.text_input).
TEXT_ACTION = "value"
PASSWORD_CODES = frozenset({"password_required", "wrong_password"})
# Findings that only say a locked file could not be read: the password says it all.
LOCKED_CONSEQUENCES = frozenset({"no_certificate", "no_leaf_certificate", "no_private_key"})
# In a `field_errors` table: the password field, the key's or the ZIP's as the finding says.
PASSWORD = "password"
MAX_FIELD_ERROR = 2000  # Slack's limit for an error under a field


def json_object(text: object) -> dict[str, Any]:
    """The JSON object in `text` ({} when it is empty, malformed or not an object)."""
    try:
        value = json.loads(str(text or "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def button_value(body: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object a clicked button carries ({} when there is none or it is not one)."""
    try:
        return json_object(body["actions"][0].get("value"))
    except (KeyError, IndexError, TypeError, AttributeError):
        return {}


MAX_TARGET_TEXT = 253  # a host name's longest; an environment name is shorter still
MAX_BUTTON_VALUE = 2000  # Slack's limit for a button's value


def served_target(body: Mapping[str, Any]) -> tuple[str, str | int] | None:
    """(hostname, environment id or name) of a probe post's button, or None when the value
    is missing, malformed or oversized: read before any work, never trusted further (the
    service checks the hostname and looks the environment up)."""
    try:
        raw = body["actions"][0].get("value") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    if not isinstance(raw, str) or len(raw) > MAX_BUTTON_VALUE:
        return None
    value = json_object(raw)
    hostname = value.get("hostname")
    if not isinstance(hostname, str) or not 0 < len(hostname) <= MAX_TARGET_TEXT:
        return None
    env_id = value.get("environment_id")
    if isinstance(env_id, str) and env_id.isdigit() and len(env_id) <= 18:
        env_id = int(env_id)  # an id written as text
    if isinstance(env_id, int) and not isinstance(env_id, bool) and env_id > 0:
        return hostname, env_id
    name = value.get("environment")
    if isinstance(name, str) and 0 < len(name) <= MAX_TARGET_TEXT:
        return hostname, name
    return None


def metadata_of(view: Mapping[str, Any]) -> dict[str, Any]:
    """A view's `private_metadata`, as the JSON object the bot put there."""
    return json_object(view.get("private_metadata"))


def _state(view: Mapping[str, Any]) -> dict[str, Any]:
    values = (view.get("state") or {}).get("values") or {}
    return values if isinstance(values, dict) else {}


def _element(view: Mapping[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    element = (_state(view).get(block_id) or {}).get(action_id) or {}
    return element if isinstance(element, dict) else {}


def input_values(view: Mapping[str, Any]) -> dict[str, str]:
    """Text inputs of a submitted view by block id. Trimmed, except passwords."""
    found: dict[str, str] = {}
    for block_id, elements in _state(view).items():
        element = (elements or {}).get(TEXT_ACTION) or {}
        if isinstance(element.get("value"), str):
            text = element["value"]
            found[block_id] = text if block_id in PASSWORD_FIELDS else text.strip()
    return found


def selected_value(view: Mapping[str, Any], block_id: str, action_id: str) -> str | None:
    """The value of the option chosen in a select or radio buttons, if any."""
    option = _element(view, block_id, action_id).get("selected_option") or {}
    value = option.get("value") if isinstance(option, dict) else None
    return str(value) if value else None


def ticked(view: Mapping[str, Any], block_id: str, action_id: str, value: str) -> bool:
    """Whether the checkbox `value` is ticked."""
    options = _element(view, block_id, action_id).get("selected_options") or []
    return any(isinstance(o, dict) and o.get("value") == value for o in options)


def file_values(view: Mapping[str, Any], action_id: str) -> dict[str, list[dict[str, Any]]]:
    """The file objects of every `file_input`, by block id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for block_id in _state(view):
        files = _element(view, block_id, action_id).get("files")
        if isinstance(files, list):
            found[block_id] = [f for f in files if isinstance(f, dict)]
    return found


def clicked_in(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(channel, message ts) of the message a button is in (None, None on the Home tab)."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return (str(channel) if channel else None), (str(ts) if ts else None)


def dm_channel(client: WebClient, user_id: str) -> str:
    """The person's DM channel with the bot (opened if it is not yet)."""
    return str(client.conversations_open(users=user_id)["channel"]["id"])


def dm_of(body: Mapping[str, Any], client: WebClient) -> str:
    """The DM channel of the click (or of the person, when clicked elsewhere)."""
    channel = body.get("channel") or {}
    if isinstance(channel, dict) and str(channel.get("id", "")).startswith("D"):
        return str(channel["id"])
    return dm_channel(client, str((body.get("user") or {}).get("id", "")))


def password_field(finding: Mapping[str, Any], *, has_zip: bool) -> str:
    """The form field a password finding belongs to: the ZIP's own, or the key's / PFX's,
    as the finding's `secret` says (never guessed from its text)."""
    if has_zip and finding.get("secret") == "zip":
        return "zip_password"
    return "password"


def field_errors(
    error: ServiceError,
    table: Mapping[str, str],
    *,
    has_zip: bool = False,
    every: bool = True,
    say: Mapping[str, str] | None = None,
) -> dict[str, str] | None:
    """A service's refusal on the form's fields; None when it belongs in the modal instead.

    `table` maps a code (the refusal's, or a finding's of an invalid certificate's report)
    to the block id of its field; `PASSWORD` stands for the password field the finding
    names. With `every`, one finding without a field sends the whole answer to the modal;
    otherwise the findings with a field are shown and the others left to the late view.
    `say` gives a field a fixed text instead of the refusal's or the finding's message.
    """
    report = error.details.get("report")
    if error.code != "certificate_invalid" or not isinstance(report, dict):
        field = table.get(error.code)
        return {field: _said(field, error.message, say)} if field else None
    errors: dict[str, str] = {}
    findings = [f for f in report.get("findings", []) if f.get("severity") == "error"]
    locked = any(f.get("code") in PASSWORD_CODES for f in findings)
    for finding in findings:
        code = str(finding.get("code"))
        if locked and code in LOCKED_CONSEQUENCES:
            continue  # what a locked file could not give: the password says it all
        field = table.get(code, "")
        if field == PASSWORD:
            field = password_field(finding, has_zip=has_zip)
        if not field and every:
            return None
        if field:
            errors.setdefault(field, _said(field, str(finding.get("message", code)), say))
    return errors or None


def _said(field: str, message: str, say: Mapping[str, str] | None) -> str:
    return ((say or {}).get(field) or message)[:MAX_FIELD_ERROR]
