"""Block Kit of files dropped in a DM: the working note, the report with its buttons, the
password and save modals. Pure functions; every message and view goes through the gates."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from handlers.common.blocks.base import (
    Blocks,
    actions,
    button,
    checked_message,
    context,
    escape,
    form_modal,
    section,
)
from handlers.common.blocks.verdicts import NAME_HINT, text_input, verdict_blocks
from handlers.common.ids import AssignId, UploadId

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
    needs: Sequence[str] = (),
) -> Blocks:
    blocks = verdict_blocks(report)
    if needs_password:
        value = flow_value(file_ids, has_zip=has_zip, password=True, needs=list(needs))
        blocks.append(
            actions(
                button("Enter the password", UploadId.PASSWORD, value=value, style="primary"),
                block_id="upload_password",
            )
        )
    else:
        valid = report.get("verdict") == "valid"
        named = {"name": name, "domain": domain}
        save = flow_value(file_ids, has_zip=has_zip, password=password_used, **named)
        buttons = [button("Save", UploadId.SAVE, value=save, style="primary")] if valid else []
        if not valid and report.get("certificate"):
            manual = flow_value(
                file_ids, has_zip=has_zip, password=password_used, manual=True, **named
            )
            buttons.append(button("Submit for manual validation", UploadId.MANUAL, value=manual))
        buttons.append(button("Assign", AssignId.OPEN, value="{}"))
        blocks.append(actions(*buttons, block_id="upload_next"))
    if key_sent:
        blocks.append(context(KEY_REMINDER))
    return checked_message(blocks)


def password_fields(needs: Sequence[str], *, has_zip: bool) -> list[str]:
    """The password inputs a form shows, the one the report says is missing first (an
    empty submit is answered on it). A ZIP shows both: the key inside may be locked too."""
    fields = ["password", "zip_password"] if has_zip else ["password"]
    if has_zip and "zip" in needs and "key" not in needs:
        fields.reverse()
    return fields


def password_inputs(fields: Sequence[str]) -> Blocks:
    """The password inputs named (`password`: the key's or PFX's; `zip_password`), each
    optional: which one was wrong shows on submit."""
    labels = {"password": "Password of the key or PFX", "zip_password": "ZIP password"}
    return [
        text_input(
            field,
            labels[field],
            optional=True,
            hint="Used for this check only: never stored, never logged.",
        )
        for field in fields
    ]


def password_view(metadata: str, *, fields: Sequence[str]) -> dict[str, Any]:
    return form_modal(
        UploadId.PASSWORD_MODAL,
        metadata,
        title="Password",
        submit="Check again",
        blocks=[
            section(
                "I'll download your files again and open them with this password. "
                "It is used for this check only: never stored, never logged."
            ),
            *password_inputs(fields),
        ],
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
        text_input("name", "Certificate name", initial=name, hint=NAME_HINT),
        text_input("domain", "Domain", initial=domain, hint="A host name, *.wildcard or SAN"),
    ]
    if password:
        blocks.append(context("I keep no password between steps: give it again to save."))
        blocks += password_inputs(password_fields((), has_zip=has_zip))
    return form_modal(
        UploadId.SAVE_MODAL,
        metadata,
        title="Manual validation" if manual else "Save",
        submit="Submit" if manual else "Save",
        blocks=blocks,
    )
