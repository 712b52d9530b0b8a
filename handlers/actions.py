"""Button clicks (block_actions): one listener per action id the blocks use.

A click from the Home tab has no response URL, so answers go to the person's DM with
the bot; a click in a message answers through its response URL.
"""

from __future__ import annotations

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
from handlers.modals import open_assign_modal, open_validate_modal

EXPIRING_DAYS = 30


def register(app: App, deps: Deps) -> None:
    def refresh(ack: Ack, client: WebClient, context: BoltContext) -> None:
        ack()
        home.show(client, context["actor"], deps)

    def show_help(ack: Ack, client: WebClient, context: BoltContext) -> None:
        ack()
        actor: Actor = context["actor"]
        send_dm(client, actor.user_id, help_blocks(actor.is_admin))

    def validate(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        actor: Actor = context["actor"]
        hint = open_validate_modal(client, str(body.get("trigger_id", "")), actor.user_id, deps)
        if hint:
            send_dm(client, actor.user_id, checked_message([section(hint)]))

    def assign(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        actor: Actor = context["actor"]
        hint = open_assign_modal(client, str(body.get("trigger_id", "")), actor.user_id, deps)
        if hint:
            send_dm(client, actor.user_id, checked_message([section(hint)]))

    def expiring(ack: Ack, client: WebClient, context: BoltContext) -> None:
        ack()
        actor: Actor = context["actor"]
        reply = subcommands.expiring(Command("expiring", {"days": EXPIRING_DAYS}), actor, deps)
        send_dm(client, actor.user_id, checked_message(reply.blocks))

    app.action(ACTION_REFRESH)(refresh)
    app.action(ACTION_HELP)(show_help)
    app.action(ACTION_VALIDATE)(validate)
    app.action(ACTION_ASSIGN)(assign)
    app.action(ACTION_EXPIRING)(expiring)


def send_dm(client: WebClient, user_id: str, blocks: list[dict[str, Any]]) -> None:
    channel = client.conversations_open(users=user_id)["channel"]["id"]
    text = blocks[0].get("text", {}).get("text", "certops") if blocks else "certops"
    client.chat_postMessage(channel=channel, text=text, blocks=blocks)
