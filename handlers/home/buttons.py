"""The Home tab's buttons: one module-level listener per id (`HomeId`).

A click from the Home tab has no response URL, so answers go to the person's DM with
the bot. The forms are opened through `Deps.forms` (set by validate/ and assign/).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.services.actors import Actor
from handlers.common.blocks.base import checked_message, section
from handlers.common.blocks.digest import expiring_blocks
from handlers.common.blocks.help import help_blocks
from handlers.common.command_parser import DEFAULT_EXPIRING_DAYS
from handlers.common.deps import Deps, deps_of
from handlers.common.forms import ASSIGN_REST, VALIDATE_REST, FormOpener, FormRequest
from handlers.common.payloads import dm_channel
from handlers.home.tab import show


def refresh(ack: Ack, client: WebClient, context: BoltContext) -> None:
    ack()
    show(client, context["actor"], deps_of(context))


def show_help(ack: Ack, client: WebClient, context: BoltContext) -> None:
    ack()
    actor: Actor = context["actor"]
    send_dm(client, actor.user_id, help_blocks(actor.is_admin))


def open_validate(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    deps = deps_of(context)
    _open(deps.forms.validate, VALIDATE_REST, body, client, context["actor"], deps)


def open_assign(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    deps = deps_of(context)
    _open(deps.forms.assign, ASSIGN_REST, body, client, context["actor"], deps)


def expiring(ack: Ack, client: WebClient, context: BoltContext) -> None:
    ack()
    actor: Actor = context["actor"]
    blocks = expiring_blocks(deps_of(context).services, DEFAULT_EXPIRING_DAYS)
    send_dm(client, actor.user_id, checked_message(blocks))


def _open(
    opener: FormOpener, rest: str, body: dict[str, Any], client: WebClient, actor: Actor, deps: Deps
) -> None:
    """A Home button that opens a form; what goes wrong is said in the DM."""
    request = FormRequest(str(body.get("trigger_id", "")), actor.user_id)
    opening = deps.open_modal(client, lambda fast: opener(fast, request, deps))
    opening.tell_all(
        lambda text: send_dm(client, actor.user_id, checked_message([section(text)])), rest
    )


def send_dm(client: WebClient, user_id: str, blocks: list[dict[str, Any]]) -> None:
    text = blocks[0].get("text", {}).get("text", "certops") if blocks else "certops"
    client.chat_postMessage(channel=dm_channel(client, user_id), text=text, blocks=blocks)
