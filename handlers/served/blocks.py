"""Block Kit of an adoption's answer, as pure functions of the service's `to_dict()`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from handlers.common.blocks.base import (
    Blocks,
    actions,
    button,
    checked_message,
    context,
    escape,
    fields,
    section,
)
from handlers.common.blocks.records import OBSERVED_NOTE, certificate_line, day, mention
from handlers.common.ids import ServedAction

# Refusals worth another click a little later (the endpoint or the DNS may be changing).
RETRYABLE = frozenset({"handshake_failed", "unresolvable", "assignment_in_progress"})


def adopt_value(hostname: str, environment: str | int) -> str:
    """The value of an Adopt button: what `payloads.served_target` reads back."""
    key = "environment_id" if isinstance(environment, int) else "environment"
    return json.dumps({"hostname": hostname, key: environment}, separators=(",", ":"))


def adopt_button(hostname: str, environment: str | int, text: str = "Adopt") -> dict[str, Any]:
    return button(text, ServedAction.ADOPT, value=adopt_value(hostname, environment))


def retry_blocks(refused: Blocks, code: str, hostname: str, environment: str | int) -> Blocks:
    """A refusal, with "Try again" when waiting may help (the endpoint is changing)."""
    if code not in RETRYABLE:
        return refused
    return checked_message([*refused, actions(adopt_button(hostname, environment, "Try again"))])


def adopted_blocks(result: Mapping[str, Any], actor: str) -> Blocks:
    """Who adopted what where, the certificate's facts and its next warning."""
    cert: Mapping[str, Any] = result["certificate"]
    host, env = escape(str(result["hostname"])), escape(str(result["environment"]))
    if not result.get("changed"):
        head = f":ballot_box_with_check: *{env}* already has {host}'s certificate on record."
    else:
        head = f":inbox_tray: {mention(actor)} adopted what {host} serves as *{env}*'s certificate."
    nxt = result.get("next_warning") or {}
    pairs = [
        ("Subject", escape(str(cert.get("subject") or "—"))),
        ("Names", escape(", ".join(cert.get("sans") or [])) or "—"),
        ("Expires", day(cert.get("not_after"))),
        ("Next warning", f"{day(nxt.get('at'))} ({escape(str(nxt.get('label', '—')))})"),
        ("SHA-256", f"`{escape(str(cert.get('fingerprint_sha256') or '—'))}`"),
    ]
    blocks: Blocks = [section(head), section(certificate_line(cert)), fields(pairs)]
    replaced = result.get("replaced")
    if replaced:
        blocks.append(context(f"Replaced *{escape(str(replaced['certificate']))}*."))
    if cert.get("status") == "observed":
        blocks.append(context(OBSERVED_NOTE))
    return checked_message(blocks)
