"""Block Kit of a check's verdict and of what follows it, shared by the DM upload and the
validate form: the findings, the failure note, the "Assign" offer after a save, the text
input and the message-only modal. Pure functions, every message and view checked."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from handlers.common.blocks.base import (
    Blocks,
    actions,
    button,
    checked_message,
    checked_view,
    clip,
    context,
    escape,
    fields,
    input_block,
    section,
)
from handlers.common.ids import AssignId

MAX_FINDINGS = 20
# Under every certificate-name field: the naming rule (bot/services/names.py), in short.
NAME_HINT = "Unique; letters, digits, . - _ only (up to 100), e.g. shop-2027"
_ICON = {"error": ":x:", "warning": ":warning:", "info": ":information_source:"}
PASSWORD_HINT = "Use the *Enter the password* button below: never type a password in a message."
FORM_PASSWORD_HINT = "Give the password in its field of the form (never in a message)."


def failure_blocks(message: str) -> Blocks:
    return checked_message(
        [section(f":no_entry: {escape(message)}"), context("Nothing was stored.")]
    )


def _certificate_fields(cert: Mapping[str, Any]) -> dict[str, Any]:
    sans = ", ".join(str(s) for s in cert.get("sans") or []) or "none"
    key = cert.get("key") or {}
    return fields(
        [
            ("Names", escape(sans)),
            (
                "Expires",
                f"{str(cert.get('not_after', ''))[:10]} ({cert.get('days_left', '?')} days left)",
            ),
            ("Issuer", escape(str(cert.get("issuer", "")))),
            ("Key", f"{key.get('type', '?')} {key.get('bits', '')}".strip()),
        ]
    )


# Hints that name a terminal option (the pipeline serves the CLI too) said the Slack way.
SLACK_HINTS = {
    "multiple_leaf_certificates": (
        "Send the private key too, or give the Domain when you save, so the right "
        "certificate can be chosen."
    ),
    "names_covered": "To check the host name you will use, give it as the Domain when you save.",
    "private_root": (
        "Browsers outside your organisation will not trust this root; use a public CA for "
        "public sites."
    ),
}


def finding_blocks(
    findings: Sequence[Mapping[str, Any]], password_hint: str = PASSWORD_HINT
) -> Blocks:
    """Each finding with its hint; a password's hint says where to give it in Slack."""
    blocks: Blocks = []
    for item in findings[:MAX_FINDINGS]:
        code = str(item.get("code", ""))
        hint = (
            password_hint
            if code in {"password_required", "wrong_password"}
            else SLACK_HINTS.get(code, item.get("hint"))
        )
        text = f"{_ICON.get(str(item.get('severity')), '•')} `{escape(code)}` {escape(str(item.get('message', '')))}"
        if hint:
            text += f"\n_{escape(str(hint))}_"
        blocks.append(section(text))
    if len(findings) > MAX_FINDINGS:
        blocks.append(context(f"…and {len(findings) - MAX_FINDINGS} more findings."))
    return blocks


def verdict_blocks(report: Mapping[str, Any], password_hint: str = PASSWORD_HINT) -> Blocks:
    """The verdict, the certificate's names and expiry, and the findings."""
    valid = report.get("verdict") == "valid"
    head = (
        ":white_check_mark: *Valid*: this certificate can be uploaded."
        if valid
        else ":x: *Invalid*: see what to fix below."
    )
    blocks: Blocks = [section(head)]
    cert = report.get("certificate")
    if isinstance(cert, Mapping):
        blocks.append(_certificate_fields(cert))
    blocks += finding_blocks(list(report.get("findings") or []), password_hint)
    return blocks


def saved_next_blocks(name: str, manual: bool) -> Blocks:
    """Under "Saved": the Assign button (not for one that waits for manual validation)."""
    if manual:
        return []
    value = json.dumps({"certificate": name})
    return [actions(button("Assign", AssignId.OPEN, value=value), block_id="saved_next")]


def text_input(
    block_id: str,
    label: str,
    *,
    initial: str = "",
    optional: bool = False,
    hint: str | None = None,
    multiline: bool = False,
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value"}
    if initial:
        element["initial_value"] = clip(initial, 3000)
    if multiline:
        element["multiline"] = True
    return input_block(block_id, label, element, optional=optional, hint=hint)


def message_view(title: str, blocks: Blocks) -> dict[str, Any]:
    """A modal that only shows something (a result, or that work is running)."""
    return checked_view(
        {
            "type": "modal",
            "title": {"type": "plain_text", "text": clip(title, 24)},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": blocks or [section("Done.")],
        }
    )
