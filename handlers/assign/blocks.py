"""The `/cert assign` modal: certificate, environment, hostname, the CNAME checkbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.common.blocks.base import Blocks, clip, context, escape, form_modal, input_block
from handlers.common.blocks.verdicts import text_input
from handlers.common.ids import AssignId

CHOICE_ACTION = "choice"
CNAME = "cname"
CNAME_TEXT = "I have created a CNAME record on my chosen hostname"
MAX_OPTIONS = 100  # Slack's limit for a static_select


@dataclass(frozen=True)
class Choice:
    """What the form shows chosen: kept when the view is rebuilt (a pick, a DNS problem)."""

    certificate: str | None = None
    environment: str | None = None
    hostname: str = ""
    cname: bool = False


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": clip(text, 75)}, "value": value[:150]}


def _select(
    block_id: str,
    label: str,
    action_id: str,
    options: Sequence[dict[str, Any]],
    chosen: str | None,
    *,
    dispatch: bool = False,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": {"type": "plain_text", "text": "Choose"},
        "options": list(options)[:MAX_OPTIONS],
    }
    for option in options:
        if option["value"] == chosen:
            element["initial_option"] = option
    return input_block(block_id, label, element, dispatch=dispatch)


def certificate_option(cert: Mapping[str, Any]) -> dict[str, Any]:
    days = cert.get("days_left")
    left = f", {days} days left" if days is not None else ""
    return _option(str(cert["name"]), f"{escape(str(cert['name']))} ({cert['status']}{left})")


def environment_option(env: Mapping[str, Any]) -> dict[str, Any]:
    kind = " (LifeTime: by support ticket)" if env.get("is_lifetime") else ""
    return _option(str(env["name"]), f"{escape(str(env['name']))}{kind}")


def suggested_hostname(sans: Sequence[str], taken: Sequence[str] = ()) -> str:
    """The first name the certificate covers that is a plain host (not yet in use, if any)."""
    plain = [s for s in sans if not s.startswith("*.")]
    free = [s for s in plain if s not in set(taken)]
    return (free or plain or [""])[0]


def assign_view(
    metadata: str,
    certificates: Sequence[Mapping[str, Any]],
    environments: Sequence[Mapping[str, Any]],
    choice: Choice,
    *,
    covers: Sequence[str] = (),
    notice: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    hint = (
        "It covers: " + escape(", ".join(covers))
        if covers
        else "A name the certificate covers (pick the certificate to see them)"
    )
    blocks: Blocks = [
        *notice,
        _select(
            "certificate",
            "Certificate (validated or approved)",
            AssignId.PICK,
            [certificate_option(c) for c in certificates],
            choice.certificate,
            dispatch=True,
        ),
        _select(
            "environment",
            "Environment",
            CHOICE_ACTION,
            [environment_option(e) for e in environments],
            choice.environment,
        ),
        text_input("hostname", "Hostname", initial=choice.hostname, hint=clip(hint, 2000)),
        input_block(
            CNAME,
            "DNS",
            {
                "type": "checkboxes",
                "action_id": CHOICE_ACTION,
                "options": [_option(CNAME, CNAME_TEXT)],
                **({"initial_options": [_option(CNAME, CNAME_TEXT)]} if choice.cname else {}),
            },
            optional=True,
        ),
        context(
            "The CNAME points the hostname at the environment's default host (not an A "
            "record, not the load balancer). On LifeTime this opens the support ticket "
            "instead: the CNAME comes after support confirms."
        ),
    ]
    return form_modal(
        AssignId.MODAL,
        metadata,
        title="Assign a certificate",
        submit="Assign",
        blocks=blocks,
    )
