"""Button clicks (block_actions): one listener per action id the blocks use.

A click from the Home tab has no response URL, so answers go to the person's DM with
the bot; a click in a message answers through its response URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.services.actors import Actor
from handlers import home, subcommands
from handlers.blocks.base import checked_message, section
from handlers.blocks.help import help_blocks
from handlers.blocks.home import (
    ACTION_ASSIGN,
    ACTION_EXPIRING,
    ACTION_HELP,
    ACTION_REFRESH,
    ACTION_VALIDATE,
)
from handlers.command_parser import Command
from handlers.deps import Deps
from handlers.modals import ASSIGN_REST, VALIDATE_REST, open_assign_modal, open_validate_modal

EXPIRING_DAYS = 30


def register(app: App, deps: Deps) -> None:
    def refresh(ack: Ack, client: WebClient, context: BoltContext) -> None:
        ack()
        home.show(client, context["actor"], deps)

    def show_help(ack: Ack, client: WebClient, context: BoltContext) -> None:
        ack()
        actor: Actor = context["actor"]
        send_dm(client, actor.user_id, help_blocks(actor.is_admin))

    def opens(opener: Callable[..., str | None], rest: str) -> Callable[..., None]:
        """A Home button that opens a form; what goes wrong is said in the DM."""

        def click(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
            ack()
            actor: Actor = context["actor"]
            trigger_id = str(body.get("trigger_id", ""))
            opening = deps.open_modal(
                client, lambda fast: opener(fast, trigger_id, actor.user_id, deps)
            )
            opening.tell_all(
                lambda text: send_dm(client, actor.user_id, checked_message([section(text)])),
                rest,
            )

        return click

    def expiring(ack: Ack, client: WebClient, context: BoltContext) -> None:
        ack()
        actor: Actor = context["actor"]
        reply = subcommands.expiring(Command("expiring", {"days": EXPIRING_DAYS}), actor, deps)
        send_dm(client, actor.user_id, checked_message(reply.blocks))

    app.action(ACTION_REFRESH)(refresh)
    app.action(ACTION_HELP)(show_help)
    app.action(ACTION_VALIDATE)(opens(open_validate_modal, VALIDATE_REST))
    app.action(ACTION_ASSIGN)(opens(open_assign_modal, ASSIGN_REST))
    app.action(ACTION_EXPIRING)(expiring)


def send_dm(client: WebClient, user_id: str, blocks: list[dict[str, Any]]) -> None:
    channel = client.conversations_open(users=user_id)["channel"]["id"]
    text = blocks[0].get("text", {}).get("text", "certops") if blocks else "certops"
    client.chat_postMessage(channel=channel, text=text, blocks=blocks)
