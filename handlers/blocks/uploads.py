"""Block Kit for files dropped in a DM: the working note, the verdict, the password and
save modals. Pure functions; every message and view goes through the checked gates."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from handlers.blocks.base import (
    Blocks,
    actions,
    button,
    checked_message,
    checked_view,
    clip,
    context,
    escape,
    fields,
    section,
)

ACTION_PASSWORD = "upload_password"
ACTION_SAVE = "upload_save"
ACTION_MANUAL = "upload_manual"
ACTION_ASSIGN = "upload_assign"
VIEW_PASSWORD = "upload_password_modal"
VIEW_SAVE = "upload_save_modal"

MAX_FINDINGS = 20
_ICON = {"error": ":x:", "warning": ":warning:", "info": ":information_source:"}
PASSWORD_HINT = "Use the *Enter the password* button below: never type a password in a message."
FORM_PASSWORD_HINT = "Give the password in its field of the form (never in a message)."
KEY_REMINDER = (
    ":wastebasket: Your message carried a private key. Delete that message now (hover it, "
    "*More actions* → *Delete message*): I kept nothing of it, but Slack keeps the file "
    "until you delete it."
)
PASSWORD_TYPED = (
    ":lock: That looks like a password. I did not read it into anything and I store no "
    "message text: please *delete that message*, and give passwords only through the "
    "*Enter the password* button, which opens a private form."
)


def working_blocks(names: Sequence[str]) -> Blocks:
    listed = ", ".join(f"`{escape(n)}`" for n in names[:10]) or "your files"
    return checked_message([section(f":hourglass_flowing_sand: Checking {listed}…")])


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


def flow_value(file_ids: Sequence[str], *, has_zip: bool, password: bool, **extra: Any) -> str:
    """What a button carries between steps: file ids and flags, never bytes or passwords."""
    return json.dumps({"files": list(file_ids), "zip": has_zip, "pw": password, **extra})


def report_blocks(
    report: Mapping[str, Any],
    file_ids: Sequence[str],
    *,
    needs_password: bool,
    password_used: bool,
    has_zip: bool,
    key_sent: bool,
    name: str = "",
    domain: str = "",
) -> Blocks:
    blocks = verdict_blocks(report)
    if needs_password:
        value = flow_value(file_ids, has_zip=has_zip, password=True)
        blocks.append(
            actions(
                button("Enter the password", ACTION_PASSWORD, value=value, style="primary"),
                block_id="upload_password",
            )
        )
    else:
        valid = report.get("verdict") == "valid"
        named = {"name": name, "domain": domain}
        save = flow_value(file_ids, has_zip=has_zip, password=password_used, **named)
        buttons = [button("Save", ACTION_SAVE, value=save, style="primary")] if valid else []
        if not valid and report.get("certificate"):
            manual = flow_value(
                file_ids, has_zip=has_zip, password=password_used, manual=True, **named
            )
            buttons.append(button("Submit for manual validation", ACTION_MANUAL, value=manual))
        buttons.append(button("Assign", ACTION_ASSIGN, value="{}"))
        blocks.append(actions(*buttons, block_id="upload_next"))
    if key_sent:
        blocks.append(context(KEY_REMINDER))
    return checked_message(blocks)


def saved_next_blocks(name: str, manual: bool) -> Blocks:
    """Under "Saved": the Assign button (not for one that waits for manual validation)."""
    if manual:
        return []
    value = json.dumps({"certificate": name})
    return [actions(button("Assign", ACTION_ASSIGN, value=value), block_id="saved_next")]


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
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": clip(hint, 2000)}
    return block


def password_inputs(*, has_zip: bool) -> Blocks:
    """Both optional: which one a ZIP needs (its own, or its key's) shows on submit."""
    blocks: Blocks = [
        text_input(
            "password",
            "Password of the key or PFX",
            optional=True,
            hint="Used for this check only: never stored, never logged.",
        )
    ]
    if has_zip:
        blocks.append(text_input("zip_password", "ZIP password", optional=True))
    return blocks


def password_view(metadata: str, *, has_zip: bool) -> dict[str, Any]:
    return checked_view(
        {
            "type": "modal",
            "callback_id": VIEW_PASSWORD,
            "private_metadata": metadata,
            "title": {"type": "plain_text", "text": "Password"},
            "submit": {"type": "plain_text", "text": "Check again"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                section(
                    "I'll download your files again and open them with this password. "
                    "It is used for this check only: never stored, never logged."
                ),
                *password_inputs(has_zip=has_zip),
            ],
        }
    )


def save_view(
    metadata: str, *, name: str, domain: str, manual: bool, password: bool, has_zip: bool
) -> dict[str, Any]:
    intro = (
        "It failed validation: an admin will review it before it can be assigned."
        if manual
        else "Save it under a unique name; then it can be assigned to an environment."
    )
    blocks: Blocks = [
        section(intro),
        text_input("name", "Certificate name", initial=name, hint="Unique: e.g. shop-2027"),
        text_input("domain", "Domain", initial=domain, hint="A host name, *.wildcard or SAN"),
    ]
    if password:
        blocks.append(context("I keep no password between steps: give it again to save."))
        blocks += password_inputs(has_zip=has_zip)
    return checked_view(
        {
            "type": "modal",
            "callback_id": VIEW_SAVE,
            "private_metadata": metadata,
            "title": {"type": "plain_text", "text": "Manual validation" if manual else "Save"},
            "submit": {"type": "plain_text", "text": "Submit" if manual else "Save"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": blocks,
        }
    )


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
