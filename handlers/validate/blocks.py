"""The `/cert validate` modal, like LifeTime's upload wizard: the format, then its fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.common.blocks.base import Blocks, context, escape, form_modal, input_block, section
from handlers.common.blocks.verdicts import NAME_HINT, text_input
from handlers.common.ids import ValidateId

FILE_ACTION = "files"
CHOICE_ACTION = "choice"
MANUAL = "manual"


@dataclass(frozen=True)
class Slot:
    """One file_input of the form: its block id, label, and how many files it takes."""

    block_id: str
    label: str
    optional: bool = False
    max_files: int = 1
    hint: str | None = None


SLOTS: dict[str, tuple[Slot, ...]] = {
    "pem": (
        Slot("certificate", "Public certificate", hint="PEM, DER or P7B"),
        Slot("key", "Private key", hint="PEM (PKCS#1, PKCS#8, SEC1), encrypted or not"),
        Slot(
            "chain",
            "Chain (intermediate certificates)",
            optional=True,
            max_files=5,
            hint="Mandatory unless your CA is trusted by default",
        ),
    ),
    "pfx": (Slot("pfx", "PFX / PKCS#12 file", hint=".pfx or .p12"),),
    "zip": (Slot("zip", "ZIP archive", hint="Certificate, key and chain in one archive"),),
}
FORMAT_LABELS = {
    "pem": "PEM: certificate, private key and chain files",
    "pfx": "PFX / PKCS#12: one file with a password",
    "zip": "I don't know: send a ZIP with what I have",
}
FORMAT_TITLES = {"pem": "Validate: PEM", "pfx": "Validate: PFX", "zip": "Validate: ZIP"}


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def format_view(metadata: str) -> dict[str, Any]:
    return form_modal(
        ValidateId.FORMAT_MODAL,
        metadata,
        title="Validate a certificate",
        submit="Next",
        blocks=[
            input_block(
                "format",
                "What do you have?",
                {
                    "type": "radio_buttons",
                    "action_id": CHOICE_ACTION,
                    "initial_option": _option("pem", FORMAT_LABELS["pem"]),
                    "options": [_option(k, v) for k, v in FORMAT_LABELS.items()],
                },
            )
        ],
    )


def _file_input(slot: Slot) -> dict[str, Any]:
    element = {"type": "file_input", "action_id": FILE_ACTION, "max_files": slot.max_files}
    return input_block(slot.block_id, slot.label, element, optional=slot.optional, hint=slot.hint)


def fields_view(
    fmt: str, metadata: str, *, domain: str = "", name: str = "", renews: str = ""
) -> dict[str, Any]:
    blocks: Blocks = [section(f"Renewing *{escape(renews)}*.")] if renews else []
    blocks += [
        text_input(
            "domain",
            "Domain",
            initial=domain,
            hint="The host name it serves, a *.wildcard or a SAN",
        ),
        text_input("name", "Certificate name", initial=name, hint=NAME_HINT),
        *(_file_input(slot) for slot in SLOTS[fmt]),
    ]
    if fmt == "zip":
        blocks.append(text_input("zip_password", "ZIP password", optional=True))
        blocks.append(text_input("password", "Key password", optional=True))
        blocks.append(text_input("notes", "Notes for the reviewer", optional=True, multiline=True))
    else:
        label = "PFX password" if fmt == "pfx" else "Key password (if it is encrypted)"
        blocks.append(text_input("password", label, optional=True))
    blocks.append(
        input_block(
            MANUAL,
            "If it fails",
            {
                "type": "checkboxes",
                "action_id": CHOICE_ACTION,
                "options": [_option(MANUAL, "Submit it for manual validation by an admin anyway")],
            },
            optional=True,
        )
    )
    blocks.append(context("Passwords are used for this check only: never stored, never logged."))
    return form_modal(
        ValidateId.FIELDS_MODAL,
        metadata,
        title=FORMAT_TITLES[fmt],
        submit="Validate",
        blocks=blocks,
    )


def working_blocks() -> Blocks:
    return [section(":hourglass_flowing_sand: Validating… this view updates with the result.")]
